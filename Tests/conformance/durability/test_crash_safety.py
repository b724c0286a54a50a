"""Crash safety of snapshots: kill -9 while a snapshot is being written leaves the previous one
intact (the new one goes to a temporary file that is renamed only once complete and synced),
and the restarted server loads the previous one."""
import os
import signal
import sys
import threading
import time

import pytest
import redis

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import servers  # noqa: E402

pytestmark = pytest.mark.skipif(servers.larder_is_standin(), reason="larder's own snapshots")


def test_kill_during_bgsave_keeps_the_previous_snapshot(tmp_path):
    server = servers.start_larder(["--threads", "2", "--no-pin", "--dir", str(tmp_path)])
    try:
        c = server.client()
        c.mset({f"first:{i}": i for i in range(1000)})
        assert c.save()
        before = (tmp_path / "dump.rdb").read_bytes()
        pipe = c.pipeline(transaction=False)
        for i in range(0, 600_000, 1000):
            pipe.mset({f"second:{j}": b"x" * 100 for j in range(i, i + 1000)})
        pipe.execute()
        threading.Thread(target=lambda: _ignore(lambda: server.client().bgsave()), daemon=True).start()
        # Kill once the temporary file exists, while it is being written.
        deadline = time.monotonic() + 20
        while not any(p.name.startswith("temp-") for p in tmp_path.iterdir()) and time.monotonic() < deadline:
            time.sleep(0.001)
        server.proc.send_signal(signal.SIGKILL)
        server.proc.wait(timeout=10)
        assert (tmp_path / "dump.rdb").read_bytes() == before, "the previous snapshot is untouched"
    finally:
        server.stop()
    restarted = servers.start_larder(["--threads", "2", "--no-pin", "--dir", str(tmp_path)])
    try:
        c = restarted.client()
        assert c.dbsize() == 1000 and c.get("first:999") == b"999"
    finally:
        restarted.stop()


def _ignore(f):
    try:
        f()
    except (redis.ConnectionError, OSError):
        pass
