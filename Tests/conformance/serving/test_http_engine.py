"""The HTTP feature port on the I/O engine (`larder serve --io epoll|uring`): its connections live
on the engine's shard loops, as the RESP port's do (no NIO thread in the process, and the start-up
log says which loops serve the port), and the paths that differ from NIO's channel behave the
same: an answer larger than the socket takes at once reaches a client that reads slowly, byte for
byte (backpressure), pipelined requests are answered in order, a client that half-closes after
its requests still gets every answer, /metrics answers, and a stop closes open connections."""
import json
import os
import shutil
import signal
import socket
import sys
import time
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
sys.path.insert(0, str(HERE.parent / "lib"))
import servers  # noqa: E402

pytestmark = [pytest.mark.larder_only,
              pytest.mark.skipif(servers.larder_is_standin(), reason="the HTTP feature server is Larder's")]

ENGINES = ["uring", "epoll"]
# Many entity rows: an answer of ~1 MB, far more than a socket buffer takes while nobody reads.
BIG = {"features": ["driver_hourly_stats:conv_rate", "driver_hourly_stats:acc_rate", "driver_hourly_stats:city",
                    "driver_hourly_stats:avg_daily_trips"],
       "entities": {"driver_id": list(range(1001, 1006)) * 1200}}


def start(engine, tmp_path):
    repo = tmp_path / "repo"
    shutil.copytree(ROOT / "feature_repo", repo, ignore=shutil.ignore_patterns("registry.db", "*.db", "online*"))
    http_port = servers.free_port()
    template = servers.larder_cmd_template()
    larder = servers.Server("larder", template, ["--io", engine, "--repo", str(repo), "--materialize",
                                                 "--http-port", str(http_port), "--no-ttl-enforcement",
                                                 "--threads", "2", "--no-pin"]).start()
    deadline = time.monotonic() + 60
    while True:
        try:
            with socket.create_connection(("127.0.0.1", http_port), timeout=5) as s:
                s.sendall(b"GET /ready HTTP/1.1\r\nHost: x\r\n\r\n")
                if s.recv(64).startswith(b"HTTP/1.1 200"):
                    break
        except OSError:
            pass
        assert time.monotonic() < deadline, larder.log_tail()
        time.sleep(0.2)
    return larder, http_port


def request(method, path, body=None):
    data = b"" if body is None else json.dumps(body).encode()
    head = f"{method} {path} HTTP/1.1\r\nHost: x\r\nContent-Length: {len(data)}\r\n"
    if body is not None:
        head += "Content-Type: application/json\r\n"
    return head.encode() + b"\r\n" + data


def read_responses(sock, count):
    """The next `count` responses as (status, body), reading until each is whole."""
    buf, out = b"", []
    while len(out) < count:
        while b"\r\n\r\n" not in buf:
            chunk = sock.recv(65536)
            assert chunk, f"connection closed after {len(out)} of {count} answers"
            buf += chunk
        head, buf = buf.split(b"\r\n\r\n", 1)
        lines = head.decode().split("\r\n")
        headers = {k.strip().lower(): v.strip() for k, v in (line.split(":", 1) for line in lines[1:])}
        n = int(headers["content-length"])
        while len(buf) < n:
            chunk = sock.recv(65536)
            assert chunk, "connection closed inside a body"
            buf += chunk
        out.append((int(lines[0].split()[1]), buf[:n]))
        buf = buf[n:]
    return out, buf


def thread_names(pid):
    names = []
    for t in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{t}/comm") as f:
                names.append(f.read().strip())
        except OSError:
            pass
    return names


@pytest.mark.parametrize("engine", ENGINES)
def test_http_port_runs_on_the_engine_loops_and_a_slow_reader_gets_every_byte(engine, tmp_path):
    larder, port = start(engine, tmp_path)
    try:
        with open(larder.log_path, encoding="utf-8") as f:
            log = f.read()
        used = engine
        if engine == "uring" and "I/O engine: epoll" in log:
            used = "epoll"  # a kernel without io_uring: the engine fell back, and says so
        assert f"HTTP port {port} on the {used} engine's 2 shard loop(s)" in log, log
        # The connections below are served without any NIO thread in the process.
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            s.sendall(request("GET", "/health"))
            assert read_responses(s, 1)[0][0][0] == 200
        names = thread_names(larder.pid)
        assert not [n for n in names if n.startswith("NIO-ELT")], names

        with socket.socket() as s:
            # A small receive buffer, set before connecting (the window is agreed then): the
            # kernel holds little of the answers, the server's queue holds the rest.
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 32 * 1024)
            s.settimeout(30)
            s.connect(("127.0.0.1", port))
            s.sendall(request("POST", "/get-online-features", BIG))
            [(status, body)], rest = read_responses(s, 1)
            assert status == 200 and rest == b""
            expected = body
            assert len(expected) > 500_000
            # Six big answers (~7 MB, more than the socket buffers hold) asked at once, none read
            # for a while: the server queues what the socket does not take, and the connection
            # still answers in order, every byte.
            s.sendall(request("POST", "/get-online-features", BIG) * 6 + request("GET", "/health"))
            time.sleep(1.0)
            answers, rest = read_responses(s, 7)
            assert [a[0] for a in answers] == [200] * 7 and rest == b""
            assert all(a[1] == expected for a in answers[:6])
            doc = json.loads(expected)
            assert len(doc["results"][0]["values"]) == 6000
            # /metrics on the same connection.
            s.sendall(request("GET", "/metrics"))
            [(status, metrics)], _ = read_responses(s, 1)
            assert status == 200 and b"# TYPE" in metrics

        # Half-close: the requests, then FIN; every answer comes back, then the server closes.
        with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
            small = {"features": ["driver_hourly_stats:conv_rate"], "entities": {"driver_id": [1001, 1002]}}
            s.sendall(request("POST", "/get-online-features", small) * 2 + request("POST", "/get-online-features", BIG))
            s.shutdown(socket.SHUT_WR)
            answers, rest = read_responses(s, 3)
            assert [a[0] for a in answers] == [200, 200, 200] and rest == b""
            assert answers[2][1] == expected
            s.settimeout(10)
            assert s.recv(1) == b""  # closed after the last answer
        assert larder.proc.poll() is None

        # Shutdown (SIGTERM) closes an open keep-alive connection, and the process exits.
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            s.sendall(request("GET", "/health"))
            assert read_responses(s, 1)[0][0][0] == 200
            larder.proc.send_signal(signal.SIGTERM)
            assert s.recv(1) == b""
        assert larder.proc.wait(timeout=10) == 0
    finally:
        larder.stop()
