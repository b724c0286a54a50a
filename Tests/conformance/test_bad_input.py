"""Bad input and lifecycle: malformed RESP, huge announced lengths, leaked connections, shutdown.
The protocol-error replies are compared with redis-server's live; resource limits are absolute."""
import signal
import socket
import time

import pytest

from resp import RespConn, encode

MALFORMED = [
    b"*1\r\n$abc\r\n",        # bulk length not a number
    b"*-5x\r\n",              # multibulk count not a number
    b"*1\r\n$\r\n",           # `$` with no length
    b"*2\r\n:1\r\n",          # array element that is not a bulk string
    b"*3000000000\r\n",       # multibulk count above the limit
    b"*1\r\n$-7\r\n",         # negative bulk length
]


def protocol_error_reply(server, payload):
    """Sends payload on a fresh connection; returns (first reply bytes, closed by server?)."""
    with RespConn(server.port) as c:
        c.send_raw(payload)
        try:
            first = c.read_reply().raw
        except Exception as e:  # noqa: BLE001 - any failure to read is reported as such
            first = f"no reply: {type(e).__name__}".encode()
        return first, c.is_closed_by_server()


@pytest.mark.parametrize("payload", MALFORMED, ids=[repr(p)[2:-1] for p in MALFORMED])
def test_malformed_resp_is_rejected_and_closed(pair, payload):
    ref, lar = pair
    with RespConn(lar.port) as bystander:
        assert bystander.call("SET", "intact", "yes").value == b"OK"
        got = protocol_error_reply(lar, payload)
        expected = protocol_error_reply(ref, payload)
        assert expected[0].startswith(b"-ERR Protocol error"), f"reference changed: {expected}"
        assert got == expected
        # The other, already open client keeps working, and the data is intact.
        assert bystander.call("GET", "intact").value == b"yes"
        assert bystander.call("PING").value == b"PONG"


def test_bulk_payload_without_crlf(pair):
    """redis-server does not check the two bytes after a bulk payload: it skips them, so
    `$3 GETxx` runs GET with no argument (arity error) and `\r\n` is an empty inline command.
    Larder may do the same, or reject the frame as a protocol error and close; nothing else."""
    ref, lar = pair
    payload = b"*1\r\n$3\r\nGETxx\r\n"
    expected = protocol_error_reply(ref, payload)
    assert expected == (b"-ERR wrong number of arguments for 'get' command\r\n", False), \
        f"reference behaviour changed: {expected}"
    got = protocol_error_reply(lar, payload)
    assert got == expected or (got[0].startswith(b"-ERR Protocol error") and got[1]), got


def test_inline_commands_match(pair):
    """Inline (telnet-style) commands, as redis-cli and nc users send them."""
    ref, lar = pair
    payload = b"PING\r\nSET inl 'a b'\r\nGET inl\r\nECHO \"x\\ty\"\r\n"
    replies = []
    for server in pair:
        with RespConn(server.port) as c:
            c.send_raw(payload)
            replies.append([c.read_reply().raw for _ in range(4)])
    assert replies[1] == replies[0]


@pytest.mark.parametrize("header", [b"*1\r\n$4294967296\r\nabc", b"*1000000000\r\n$3\r\nGET\r\n",
                                    b"*2\r\n$3\r\nSET\r\n$536870000\r\n" + b"x" * 1000])
def test_huge_announced_lengths_do_not_allocate(larder, header):
    """A client announcing a giant bulk or array and sending a few bytes must not make the server
    reserve that much memory up front."""
    baseline = larder.rss_kb()
    conns = []
    for _ in range(20):
        s = socket.create_connection(("127.0.0.1", larder.port))
        s.sendall(header)
        conns.append(s)
    time.sleep(0.5)
    grown_kb = larder.rss_kb() - baseline
    for s in conns:
        s.close()
    assert grown_kb < 8 * 1024, f"RSS grew by {grown_kb} kB after 20 clients announced {header[:30]!r}"
    with RespConn(larder.port) as c:
        assert c.call("PING").value == b"PONG"


def client_count(observer):
    """Clients listed by CLIENT LIST, asked over one persistent connection (itself counted), so the
    measurement does not open and close connections of its own."""
    return len(observer.call("CLIENT", "LIST").value.decode().strip().splitlines())


def wait_for_count(observer, expected, timeout=5.0):
    deadline = time.monotonic() + timeout
    while client_count(observer) != expected and time.monotonic() < deadline:
        time.sleep(0.05)
    return client_count(observer)


def test_closed_idle_connections_do_not_leak(larder):
    with RespConn(larder.port) as observer:
        baseline = wait_for_count(observer, 1, timeout=2.0)  # earlier tests' connections may still be closing
        conns = [socket.create_connection(("127.0.0.1", larder.port)) for _ in range(200)]
        for s in conns[:50]:
            s.sendall(encode("PING"))
            s.recv(16)
        assert wait_for_count(observer, baseline + 200) == baseline + 200
        for s in conns:
            s.close()
        assert wait_for_count(observer, baseline) == baseline, "closed connections still listed by CLIENT LIST"


def resident_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS"))


def test_closed_connections_free_their_memory(larder):
    """Every closed connection must give back its buffers: a retain cycle between the session
    and its channel once kept ~150 KB per connection that had sent a large pipeline."""
    batch = b"".join(encode("SET", "leak:%d" % i, "x" * 100) for i in range(1000))

    def churn(n):
        for _ in range(n):
            with socket.create_connection(("127.0.0.1", larder.port)) as s:
                s.sendall(batch)
                got = 0
                while got < 5000:  # 1000 x "+OK\r\n"
                    d = s.recv(65536)
                    assert d, "server closed the connection"
                    got += len(d)

    churn(100)  # warm up: buffers, the keys, allocator pools
    time.sleep(0.3)
    before = resident_kb(larder.proc.pid)
    churn(400)
    time.sleep(0.3)
    grown_kb = resident_kb(larder.proc.pid) - before
    assert grown_kb < 16 * 1024, f"400 closed connections grew the server by {grown_kb} KB"


def wait_exit(server, timeout):
    try:
        return server.proc.wait(timeout=timeout)
    except Exception:  # noqa: BLE001
        return None


def test_sigterm_exits_zero_within_2s(fresh_servers):
    server = fresh_servers("larder")
    with RespConn(server.port) as c:
        c.call("SET", "k", "v")
        server.proc.send_signal(signal.SIGTERM)
        t0 = time.monotonic()
        rc = wait_exit(server, 2.0)
        assert rc == 0, f"exit status {rc} after SIGTERM (None = still running after 2 s)"
        assert time.monotonic() - t0 < 2.0


def test_shutdown_nosave_exits_zero_within_2s(fresh_servers):
    server = fresh_servers("larder")
    with RespConn(server.port) as c:
        c.send_raw(encode("SHUTDOWN", "NOSAVE"))
        t0 = time.monotonic()
        rc = wait_exit(server, 2.0)
        assert rc == 0, f"exit status {rc} after SHUTDOWN NOSAVE (None = still running after 2 s)"
        assert time.monotonic() - t0 < 2.0
        assert c.is_closed_by_server(timeout=1.0)
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", server.port), timeout=1).close()
