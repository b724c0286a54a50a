"""maxmemory with noeviction, as Redis (the eviction policies: test_eviction.py): over the limit, writes that add data get the same -OOM
error as redis-server's, reads and DEL keep working; a materialization into a full server
stops with a clear message naming the error, not a hang."""
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "lib"))
sys.path.insert(0, str(HERE.parent / "cli"))
import servers  # noqa: E402
from test_materialize_client import make_repo  # noqa: E402

pytestmark = pytest.mark.skipif(servers.larder_is_standin(), reason="larder's maxmemory")


def oom_reply(server):
    c = server.client()
    c.set("k", "v")
    c.config_set("maxmemory", "1")  # below what either server uses
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            c.set("k2", "v")
        except redis.ResponseError as e:
            return str(e), c.get("k"), c.delete("k")
        time.sleep(0.02)
    return None, None, None


def test_writes_over_maxmemory_get_redis_oom_error():
    larder, ref = servers.start_larder(), servers.start_redis()
    try:
        got, want = oom_reply(larder), oom_reply(ref)
        assert want[0] and got == want, (got, want)
    finally:
        larder.stop(); ref.stop()


def materialize_into(port, tmp_path):
    repo = make_repo(tmp_path, f"{{type: redis, connection_string: '127.0.0.1:{port}'}}")
    return subprocess.run([str(servers.REPO_ROOT / ".build/release/larder"), "materialize", str(repo),
                           "2024-12-31T00:00:00", "2025-01-02T00:00:00", "--no-progress", "--batch-size", "5"],
                          capture_output=True, text=True, timeout=60)


def assert_stopped_at_first_batch(done):
    """Exit 1, the view, the batch and its rows, how many were refused, the target's error."""
    assert done.returncode != 0, done.stdout
    assert 'view "driver_stats", batch 1 (rows 1-5): 5 of 5 rows refused by redis://127.0.0.1:' in done.stderr, done.stderr
    assert "OOM command not allowed when used memory > 'maxmemory'." in done.stderr, done.stderr
    assert "stopping: the target is out of memory" in done.stderr, done.stderr
    assert "batch 2" not in done.stderr, done.stderr


def fill_until_oom(server):
    """Fills the server with ~3 MB, then sets maxmemory 1 MB under what it uses, so it is over
    its limit at rest by a margin that transient buffers (a grown query buffer, an I/O
    engine's read buffer given back after a burst) cannot make up; waits until a small write
    is refused and checks it stays refused; returns DBSIZE. (Filling up to a limit left the
    server a few KB over it, and the buffers freed after the burst could bring it back under.)"""
    c = server.client()
    for i in range(150):
        c.set(f"filler:{i}", b"x" * 20_000)
    time.sleep(0.3)  # larder measures used memory every 100 ms
    used = int(c.info("memory")["used_memory"])
    c.config_set("maxmemory", str(used - 1_000_000))
    for i in range(200):
        time.sleep(0.05)
        try:
            c.set(f"filler-settle:{i}", b"x" * 100)
        except redis.exceptions.OutOfMemoryError:
            break
    else:
        raise AssertionError("never refused a write over maxmemory")
    for i in range(5):
        time.sleep(0.25)
        with pytest.raises(redis.exceptions.OutOfMemoryError):
            c.set(f"filler-late:{i}", b"x" * 100)
    return c.dbsize()


def test_materialize_into_a_full_server_stops_with_the_error(tmp_path):
    server = servers.start_larder(["--maxmemory-policy", "noeviction"])
    try:
        filled = fill_until_oom(server)
        done = materialize_into(server.port, tmp_path)
        assert_stopped_at_first_batch(done)
        assert server.client().dbsize() == filled
    finally:
        server.stop()


def test_materialize_into_a_full_redis_server_stops_the_same_way(tmp_path):
    """redis-server with noeviction, over its maxmemory."""
    server = servers.start_redis(["--maxmemory-policy", "noeviction"])
    try:
        filled = fill_until_oom(server)
        done = materialize_into(server.port, tmp_path)
        assert_stopped_at_first_batch(done)
        assert server.client().dbsize() == filled
    finally:
        server.stop()
