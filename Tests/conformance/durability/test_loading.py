"""The start-up load with the port open, as Redis: while the snapshot loads, clients get
`-LOADING Redis is loading the dataset in memory` (PING too), INFO answers with loading:1 and its
progress; afterwards every key is there. Checked on redis-server with the same file."""
import os
import socket
import subprocess
import sys
import time

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import servers  # noqa: E402

pytestmark = pytest.mark.skipif(servers.larder_is_standin(), reason="larder's own start-up load")

KEYS = 400_000


def make_snapshot(directory):
    """A snapshot of KEYS strings of 150 bytes, written by larder."""
    s = servers.start_larder(["--threads", "2", "--no-pin", "--dir", str(directory)])
    try:
        c = s.client()
        pipe = c.pipeline(transaction=False)
        for i in range(0, KEYS, 1000):
            pipe.mset({f"key:{j}": b"%09d" % j + b"v" * 141 for j in range(i, i + 1000)})
        pipe.execute()
        assert c.dbsize() == KEYS
        assert c.save()
    finally:
        s.stop()


def raw(port, *words):
    """One command on a fresh connection; the first line of the reply (or None if refused)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            sock.sendall(b"".join([b"*%d\r\n" % len(words)] + [b"$%d\r\n%s\r\n" % (len(w), w) for w in words]))
            data = b""
            while not data.endswith(b"\r\n"):
                chunk = sock.recv(65536)
                if not chunk:
                    break
                data += chunk
            if data.startswith(b"$"):  # INFO: a bulk string
                n = int(data[1:data.index(b"\r\n")])
                while len(data) < data.index(b"\r\n") + 2 + n:
                    data += sock.recv(65536)
            return data
    except OSError:
        return None


def watch_start(kind, directory):
    """Starts a server on the snapshot in `directory` and polls it from the first moment its port
    opens: the replies seen while it loads, and the INFO text of one of them."""
    port = servers.free_port()
    if kind == "larder":
        argv = [str(servers.REPO_ROOT / ".build/release/larder"), "serve", "--port", str(port),
                "--threads", "2", "--no-pin", "--dir", str(directory)]
    else:
        argv = ["redis-server", "--port", str(port), "--save", "", "--appendonly", "no", "--dir", str(directory)]
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, preexec_fn=servers._die_with_parent)
    seen, info_while_loading = set(), None
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline:
            reply = raw(port, b"GET", b"key:7")
            if reply is None:
                time.sleep(0.002)
                continue
            seen.add(reply.split(b"\r\n")[0])
            if reply.startswith(b"-LOADING"):
                if info_while_loading is None:
                    info_while_loading = raw(port, b"INFO", b"persistence")
                seen.add(b"PING " + raw(port, b"PING").split(b"\r\n")[0])
                continue
            break
        dbsize = raw(port, b"DBSIZE")
        return seen, info_while_loading, dbsize
    finally:
        proc.kill()
        proc.wait()


@pytest.mark.parametrize("kind", ["larder", "redis"])
def test_clients_get_loading_while_the_snapshot_loads(kind, tmp_path):
    make_snapshot(tmp_path)
    seen, info, dbsize = watch_start(kind, tmp_path)
    assert b"-LOADING Redis is loading the dataset in memory" in seen, (kind, seen)
    assert b"PING -LOADING Redis is loading the dataset in memory" in seen, (kind, seen)
    fields = dict(line.split(":", 1) for line in info.decode().split("\r\n") if ":" in line)
    assert fields["loading"] == "1"
    assert 0 < int(fields["loading_total_bytes"]) == os.path.getsize(tmp_path / "dump.rdb")
    assert 0.0 <= float(fields["loading_loaded_perc"]) <= 100.0
    assert dbsize == b":%d\r\n" % KEYS
