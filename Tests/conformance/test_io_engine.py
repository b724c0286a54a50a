"""The I/O engines (`larder serve --io uring|epoll`, docs/ARCHITECTURE.md "I/O engine"): each
one says in the log that it runs and why, and serves the same replies through the paths that
differ between them: pipelined reads spread over two shard threads (hops), a multi-shard
command (borrows), a reply larger than the socket takes at once (backpressure), a client killed
from another connection, and a partial command completed by a later read. io_uring runs where
the kernel allows it and falls back to epoll, saying why, where it does not; it is the default.
NIO is not selectable on Linux. The rest of the conformance suite runs on either engine with
LARDER_IO=uring|epoll."""
import os
import socket
import subprocess
import threading
import time

import pytest

import servers
from resp import RespConn, encode

pytestmark = pytest.mark.skipif(servers.larder_is_standin(), reason="larder's own engines")

ENGINES = ["uring", "epoll"]
# The start-up line of `--io uring` on a kernel (or a container's seccomp profile) that refuses
# io_uring: epoll runs, and the line says why.
URING_FALLBACK = "I/O engine: epoll (--io uring, but io_uring is unavailable: "


def start(engine, extra=()):
    template = servers.larder_cmd_template()
    return servers.Server("larder", template, ["--threads", "2", "--io", engine, *extra]).start()


def with_env(name, value, fn):
    """Runs fn with $name set, or unset if value is None (servers started inside inherit it),
    then restores it."""
    old = os.environ.get(name)
    if value is None:
        os.environ.pop(name, None)
    else:
        os.environ[name] = value
    try:
        return fn()
    finally:
        if old is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = old


def log_text(server):
    """The server's log once it has said which engine runs: the line comes after the port
    opens (and the snapshot loads), so a server that answers PING may not have written it yet."""
    deadline = time.monotonic() + 10
    while True:
        with open(server.log_path, encoding="utf-8") as f:
            text = f.read()
        if "I/O engine: " in text or time.monotonic() > deadline:
            return text
        time.sleep(0.05)


@pytest.mark.parametrize("engine", ENGINES)
def test_engine_logs_itself_and_serves_hops_borrows_and_backpressure(engine):
    server = start(engine)
    try:
        text = log_text(server)
        assert f"I/O engine: {engine} (" in text or (engine == "uring" and URING_FALLBACK in text)
        running = "epoll" if URING_FALLBACK in text or engine == "epoll" else "io_uring"
        with RespConn(server.port) as c:
            # INFO names the engine that runs, where Redis names its event library.
            assert f"multiplexing_api:{running}\r\n" in c.call("INFO", "server").value.decode()
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


def larder_argv(*extra):
    template = servers.larder_cmd_template()
    argv = [str(servers.REPO_ROOT / template.split()[0])] + template.split()[1:]
    return [a.replace("{port}", str(servers.free_port())) for a in argv] + list(extra)


def test_nio_is_not_selectable_on_linux():
    """NIO left the RESP path on Linux: `--io nio` and LARDER_IO=nio are refused with the
    engines that are (and the suite runs on each of those)."""
    p = subprocess.run(larder_argv("--io", "nio"), capture_output=True, text=True, timeout=30)
    assert p.returncode != 0
    assert "nio" in p.stderr and "--io" in p.stderr and "uring" in p.stderr and "epoll" in p.stderr
    env = dict(os.environ, LARDER_IO="nio")
    p = subprocess.run(larder_argv(), capture_output=True, text=True, timeout=30, env=env)
    assert p.returncode != 0
    assert "LARDER_IO=nio is not an I/O engine here (uring, epoll): nio left the RESP path on Linux" in p.stderr


@pytest.mark.parametrize("env_io,said", [(None, "the default: uring"), ("uring", "LARDER_IO=uring")])
def test_uring_runs_by_default_and_by_environment(env_io, said):
    """With neither --io nor LARDER_IO, io_uring runs (epoll where the kernel refuses it), and
    LARDER_IO=uring picks it too; the log line says which and who chose it."""
    server = with_env("LARDER_IO", env_io, lambda: servers.Server("larder", servers.larder_cmd_template(), ["--threads", "1"]).start())
    try:
        text = log_text(server)
        assert f"I/O engine: uring ({said}: " in text or f"I/O engine: epoll ({said}, but io_uring is unavailable: " in text
        with RespConn(server.port) as c:
            assert c.call("PING").value == b"PONG"
    finally:
        server.stop()


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


def test_uring_serves_many_clients_sending_at_once():
    """Forty clients each send 256 KB of pipelined SETs at the same moment: more than the
    loop's provided buffer ring holds (64 x 16 KB), so a multishot recv runs out of buffers
    and is re-armed once they are back; every reply still arrives, in order."""
    server = start("uring")
    try:
        value = "v" * 1000
        errors = []

        def client(n):
            try:
                with RespConn(server.port) as c:
                    cmds = [encode("SET", f"c{n}:{i}", f"{value}{i}") for i in range(256)]
                    c.send_raw(b"".join(cmds))
                    replies = [c.read_reply().value for _ in cmds]
                    if replies != [b"OK"] * 256:
                        errors.append(f"client {n}: {replies[:3]}")
                    if c.call("GET", f"c{n}:255").value != f"{value}255".encode():
                        errors.append(f"client {n}: GET")
            except Exception as e:  # noqa: BLE001 -- reported below with the client's number
                errors.append(f"client {n}: {e!r}")

        threads = [threading.Thread(target=client, args=(n,)) for n in range(40)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert errors == []
        with RespConn(server.port) as c:
            assert c.call("DBSIZE").value == 40 * 256
    finally:
        server.stop()


def test_uring_falls_back_to_epoll_saying_why():
    """LARDER_IO_URING_PROBE_FAIL (tests only) makes the io_uring probe fail: the server runs
    on epoll, and the start-up line names the engine asked for, the reason and the one running."""
    server = with_env("LARDER_IO_URING_PROBE_FAIL", "1", lambda: start("uring"))
    try:
        assert URING_FALLBACK + "probe failure forced by LARDER_IO_URING_PROBE_FAIL=1; epoll instead: " in log_text(server)
        with RespConn(server.port) as c:
            assert "multiplexing_api:epoll\r\n" in c.call("INFO", "server").value.decode()
            assert c.call("SET", "k", "v").value == b"OK"
            assert c.call("GET", "k").value == b"v"
    finally:
        server.stop()
