"""The I/O engines (`larder serve --io nio|epoll`, docs/ARCHITECTURE.md "I/O engine"): each one
says in the log that it runs and why, and serves the same replies through the paths that
differ between them: pipelined reads spread over two shard threads (hops), a multi-shard
command (borrows), a reply larger than the socket takes at once (backpressure), a client killed
from another connection, and a partial command completed by a later read. The rest of the
conformance suite runs on either engine with LARDER_IO=epoll|nio."""
import os
import socket
import subprocess
import time

import pytest

import servers
from resp import RespConn, encode

pytestmark = pytest.mark.skipif(servers.larder_is_standin(), reason="larder's own engines")

ENGINES = ["nio", "epoll"]


def start(engine, extra=()):
    template = servers.larder_cmd_template()
    return servers.Server("larder", template, ["--threads", "2", "--io", engine, *extra]).start()


def log_text(server):
    with open(server.log_path, encoding="utf-8") as f:
        return f.read()


@pytest.mark.parametrize("engine", ENGINES)
def test_engine_logs_itself_and_serves_hops_borrows_and_backpressure(engine):
    server = start(engine)
    try:
        assert f"I/O engine: {engine} (" in log_text(server)
        with RespConn(server.port) as c:
            # 400 commands in one write: the keys fall on both shard threads.
            cmds = [encode("SET", f"k{i}", f"v{i}") for i in range(200)] + [encode("GET", f"k{i}") for i in range(200)]
            c.send_raw(b"".join(cmds))
            replies = [c.read_reply().value for _ in cmds]
            assert replies[:200] == [b"OK"] * 200
            assert replies[200:] == [f"v{i}".encode() for i in range(200)]
            # MSET / MGET over both shards: a borrow of each.
            assert c.call("MSET", "a1", "x", "b2", "y", "c3", "z").value == b"OK"
            assert c.call("MGET", "a1", "b2", "c3", "nope").value == [b"x", b"y", b"z", None]
            # A command split over two writes is parsed once it is whole.
            raw = encode("SET", "split", "w" * 5000)
            c.send_raw(raw[:2500])
            time.sleep(0.1)
            c.send_raw(raw[2500:])
            assert c.read_reply().value == b"OK"
            assert c.call("STRLEN", "split").value == 5000
        with RespConn(server.port) as c:
            # 8 MB in one reply: more than the socket takes at once, so most of it is queued
            # and written as the client reads (EPOLLOUT on the epoll engine).
            big = b"b" * (8 << 20)
            assert c.call("SET", "big", big).value == b"OK"
            c.send_raw(encode("GET", "big") * 3)
            time.sleep(0.3)  # the replies wait in the server's queue while the client does not read
            for _ in range(3):
                assert c.read_reply().value == big
        # CLIENT KILL from another connection closes the victim.
        with RespConn(server.port) as victim, RespConn(server.port) as killer:
            victim.call("CLIENT", "SETNAME", "victim")
            vid = victim.call("CLIENT", "ID").value
            listing = killer.call("CLIENT", "LIST").value.decode()
            assert f"id={vid} " in listing and "name=victim" in listing
            assert killer.call("CLIENT", "KILL", "ID", str(vid)).value == 1
            assert victim.is_closed_by_server(timeout=5)
        # A protocol error gets its reply before the close.
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as s:
            s.sendall(b"*1\r\n$abc\r\n")
            data = b""
            while True:
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
            assert data.startswith(b"-ERR Protocol error")
    finally:
        server.stop()


def test_unknown_engine_is_refused_naming_it():
    template = servers.larder_cmd_template()
    argv = [str(servers.REPO_ROOT / template.split()[0])] + template.split()[1:]
    argv = [a.replace("{port}", str(servers.free_port())) for a in argv] + ["--io", "kqueue"]
    p = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    assert p.returncode != 0
    assert "kqueue" in p.stderr and "--io" in p.stderr


def test_environment_picks_the_engine_and_the_log_says_so():
    template = servers.larder_cmd_template()
    old = os.environ.get("LARDER_IO")
    os.environ["LARDER_IO"] = "epoll"
    try:
        server = servers.Server("larder", template, ["--threads", "1"]).start()
    finally:
        if old is None:
            del os.environ["LARDER_IO"]
        else:
            os.environ["LARDER_IO"] = old
    try:
        assert "I/O engine: epoll (LARDER_IO=epoll" in log_text(server)
        with RespConn(server.port) as c:
            assert c.call("PING").value == b"PONG"
    finally:
        server.stop()
