"""HTTP/1.1 framing of the feature port (Larder's own parser, HTTPWire.swift): keep-alive,
pipelining, chunked request bodies, Expect: 100-continue, HTTP/1.0, Connection: close, and the
limits (431 for the head, 413 for the body, --http-max-body) and malformed requests (400 with a
`{"detail": ...}` body, then the connection closes). After every refused request the server
answers others."""
import json
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
sys.path.insert(0, str(HERE.parent / "lib"))
import servers  # noqa: E402

pytestmark = [pytest.mark.larder_only,
              pytest.mark.skipif(servers.larder_is_standin(), reason="the HTTP feature server is Larder's")]

MAX_BODY = 4096
READ = {"features": ["driver_hourly_stats:conv_rate", "driver_hourly_stats:city"], "entities": {"driver_id": [1001, 1002]}}


@pytest.fixture(scope="module")
def port(tmp_path_factory):
    repo = tmp_path_factory.mktemp("wire") / "repo"
    shutil.copytree(ROOT / "feature_repo", repo, ignore=shutil.ignore_patterns("registry.db", "*.db", "online*"))
    http_port = servers.free_port()
    larder = servers.start_larder(["--repo", str(repo), "--materialize", "--http-port", str(http_port),
                                   "--http-max-body", str(MAX_BODY), "--no-ttl-enforcement", "--threads", "2", "--no-pin"])
    try:
        for _ in range(300):
            try:
                with Conn(http_port) as c:
                    c.send(request("GET", "/ready"))
                    if c.response()[0] == 200:
                        break
            except OSError:
                pass
            import time
            time.sleep(0.2)
        yield http_port
    finally:
        larder.stop()


class Conn:
    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.buf = b""

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.s.close()

    def send(self, data):
        self.s.sendall(data)

    def _fill(self):
        chunk = self.s.recv(65536)
        if not chunk:
            raise EOFError("connection closed")
        self.buf += chunk

    def response(self):
        """(status, {lower-case header: value}, body, status line) of the next response."""
        while b"\r\n\r\n" not in self.buf:
            self._fill()
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.decode().split("\r\n")
        headers = {k.strip().lower(): v.strip() for k, v in (line.split(":", 1) for line in lines[1:])}
        n = int(headers.get("content-length", "0"))
        while len(self.buf) < n:
            self._fill()
        body, self.buf = self.buf[:n], self.buf[n:]
        return int(lines[0].split()[1]), headers, body, lines[0]

    def closed(self):
        """True once the server has closed the connection (EOF or reset) with nothing more sent."""
        try:
            return self.buf == b"" and self.s.recv(1) == b""
        except ConnectionResetError:
            return True


def request(method, path, body=None, headers=(), version="1.1"):
    h = [f"{method} {path} HTTP/{version}", "Host: localhost"] + list(headers)
    if body is not None:
        h += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
    return ("\r\n".join(h) + "\r\n\r\n").encode() + (body or b"")


def body_of(obj):
    return json.dumps(obj).encode()


def reference(port):
    with Conn(port) as c:
        c.send(request("POST", "/get-online-features", body_of(READ)))
        status, _, body, _ = c.response()
    assert status == 200 and json.loads(body)["metadata"]["feature_names"] == ["driver_id", "conv_rate", "city"]
    return body


def still_serving(port, expected):
    with Conn(port) as c:
        c.send(request("POST", "/get-online-features", body_of(READ)))
        assert c.response()[2] == expected
        c.send(request("GET", "/health"))
        assert c.response()[0] == 200


def test_keep_alive_answers_many_requests_on_one_connection(port):
    expected = reference(port)
    with Conn(port) as c:
        for _ in range(5):
            c.send(request("POST", "/get-online-features", body_of(READ)))
            status, headers, body, line = c.response()
            assert (status, body, line) == (200, expected, "HTTP/1.1 200 OK")
            assert headers == {"content-type": "application/json", "content-length": str(len(expected))}
        c.send(request("GET", "/health"))
        status, headers, body, _ = c.response()
        assert (status, body, headers["content-type"]) == (200, b"", "text/plain")


def test_pipelined_requests_in_one_write_are_answered_in_order(port):
    expected = reference(port)
    other = body_of({"features": ["driver_hourly_stats:avg_daily_trips"], "entities": {"driver_id": [1003]}})
    with Conn(port) as c:
        c.send(request("POST", "/get-online-features", body_of(READ)) + request("GET", "/health")
               + request("POST", "/get-online-features", other) + request("GET", "/nothing-here")
               + request("POST", "/get-online-features", body_of(READ)))
        first, health, second, missing, third = (c.response() for _ in range(5))
    assert first[2] == expected and third[2] == expected
    assert health[0] == 200 and missing[0] == 404
    assert second[0] == 200 and json.loads(second[2])["metadata"]["feature_names"] == ["driver_id", "avg_daily_trips"]


def test_chunked_request_body_equals_the_content_length_one(port):
    expected = reference(port)
    body = body_of(READ)
    chunks = b"".join(b"%x;ext=1\r\n%s\r\n" % (len(p), p) for p in (body[:7], body[7:40], body[40:])) + b"0\r\nX-Trailer: y\r\n\r\n"
    head = b"POST /get-online-features HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
    with Conn(port) as c:
        # In pieces, the chunk-size lines split across writes, then a second request behind it.
        c.send(head + chunks[:5])
        c.send(chunks[5:30])
        c.send(chunks[30:] + request("GET", "/health"))
        assert c.response()[2] == expected
        assert c.response()[0] == 200
        # Over the limit when chunked: 413, then closed.
        big = b"%x\r\n%s\r\n" % (MAX_BODY + 1, b"1" * (MAX_BODY + 1))
        c.send(head + big + b"0\r\n\r\n")
        status, headers, body, _ = c.response()
        assert status == 413 and str(MAX_BODY) in json.loads(body)["detail"] and headers["connection"] == "close"
        assert c.closed()
    with Conn(port) as c:
        c.send(head + b"zz\r\n")
        status, _, body, _ = c.response()
        assert status == 400 and "chunk" in json.loads(body)["detail"]
        assert c.closed()
    still_serving(port, expected)


def test_expect_100_continue_with_curl_and_a_raw_socket(port):
    expected = reference(port)
    big = {"features": READ["features"], "entities": {"driver_id": [1001] * 400}}
    data = body_of(big)
    assert 1024 < len(data) < MAX_BODY
    p = subprocess.run(["curl", "-sS", "-v", "-H", "Expect: 100-continue", "-H", "Content-Type: application/json",
                        "--data-binary", "@-", f"http://127.0.0.1:{port}/get-online-features"],
                       input=data, capture_output=True, timeout=30)
    assert p.returncode == 0, p.stderr
    assert b"HTTP/1.1 100 Continue" in p.stderr
    answer = json.loads(p.stdout)
    assert answer["results"][1]["values"] == [json.loads(expected)["results"][1]["values"][0]] * 400
    with Conn(port) as c:
        c.send(request("POST", "/get-online-features", headers=["Expect: 100-continue"]).replace(
            b"\r\n\r\n", f"\r\nContent-Length: {len(data)}\r\n\r\n".encode()))
        assert c.s.recv(100) == b"HTTP/1.1 100 Continue\r\n\r\n"
        c.send(data)
        assert c.response()[0] == 200
        # Over the limit: 413 at once, no 100 Continue, and the body is not awaited.
        c.send(b"POST /get-online-features HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: %d\r\n\r\n" % (MAX_BODY + 1))
        status, _, body, line = c.response()
        assert status == 413 and line.startswith("HTTP/1.1 413")
        assert c.closed()
    still_serving(port, expected)


def test_http_1_0_closes_unless_keep_alive_and_connection_close_is_honoured(port):
    expected = reference(port)
    with Conn(port) as c:
        c.send(request("POST", "/get-online-features", body_of(READ), version="1.0"))
        status, headers, body, line = c.response()
        assert (line, body, headers.get("connection")) == ("HTTP/1.0 200 OK", expected, "close")
        assert c.closed()
    with Conn(port) as c:
        for _ in range(2):
            c.send(request("GET", "/health", version="1.0", headers=["Connection: keep-alive"]))
            status, headers, _, line = c.response()
            assert (line, headers.get("connection")) == ("HTTP/1.0 200 OK", "keep-alive")
    with Conn(port) as c:
        c.send(request("POST", "/get-online-features", body_of(READ), headers=["Connection: close"])
               + request("GET", "/health"))
        status, headers, body, _ = c.response()
        assert (body, headers.get("connection")) == (expected, "close")
        assert c.closed(), "the request after Connection: close is not answered"
    still_serving(port, expected)


def test_oversized_head_is_431_and_oversized_body_413(port):
    expected = reference(port)
    with Conn(port) as c:
        c.send(b"GET /health HTTP/1.1\r\n" + b"X-Big: " + b"a" * 40_000 + b"\r\n\r\n")
        status, headers, body, _ = c.response()
        assert status == 431 and "limit" in json.loads(body)["detail"] and headers["connection"] == "close"
        assert c.closed()
    with Conn(port) as c:
        # The body is read (and dropped) before the answer, so the client is not reset mid-send.
        c.send(request("POST", "/get-online-features", b"[" + b"1," * MAX_BODY + b"1]"))
        status, headers, body, _ = c.response()
        assert status == 413 and json.loads(body) == {
            "detail": f"request body larger than the limit of {MAX_BODY} bytes (--http-max-body)"}
        assert c.closed()
    still_serving(port, expected)


@pytest.mark.parametrize("garbage", [b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n",   # a TLS hello
                                     b"GET\r\n\r\n", b"GET / HTTP/9\r\n\r\n", b"G(T / HTTP/1.1\r\n\r\n",
                                     b"GET / HTTP/1.1\r\nno colon here\r\n\r\n", b"GET / HTTP/1.1\r\nName : v\r\n\r\n",
                                     b"POST / HTTP/1.1\r\nContent-Length: 1x\r\n\r\n",
                                     b"POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n"])
def test_malformed_requests_get_400_with_a_detail_then_close(port, garbage):
    expected = reference(port)
    with Conn(port) as c:
        c.send(garbage)
        status, headers, body, _ = c.response()
        assert status == 400 and headers["content-type"] == "application/json" and json.loads(body)["detail"]
        assert c.closed()
    still_serving(port, expected)


def test_unsupported_version_and_transfer_coding(port):
    expected = reference(port)
    for raw, status in ((b"GET /health HTTP/2.0\r\n\r\n", 505),
                        (b"POST /push HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", 501)):
        with Conn(port) as c:
            c.send(raw)
            assert c.response()[0] == status
            assert c.closed()
    still_serving(port, expected)
