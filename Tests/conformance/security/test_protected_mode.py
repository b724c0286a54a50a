"""Protected mode and the cross-protocol (HTTP) guard, as redis-server 7.0 does them.

Protected mode: with no password for the default user, a client from an address other than
loopback gets Redis' DENIED text and is closed. The remote client runs in a network namespace the
test makes (a veth pair with private addresses), so its address really is not loopback.
HTTP guard: a command named POST or Host: (an HTTP request sent to the RESP port, by a browser or
an SSRF) closes the connection with no reply and logs "Possible SECURITY ATTACK detected"."""
import os
import shutil
import socket
import subprocess
import sys
import time

import pytest

import servers

pytestmark = pytest.mark.skipif(servers.larder_is_standin(), reason="compares larder with redis-server")

HOST_ADDR, NS_ADDR = "10.213.77.1", "10.213.77.2"

# Runs inside the namespace: connect, send, read until the server closes (or 3 s pass).
REMOTE_CLIENT = r"""
import socket, sys
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=5)
data = b""
def read(seconds):
    # Reads until the server closes (True) or `seconds` pass with nothing more (False).
    global data
    s.settimeout(seconds)
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                return True
            data += chunk
    except socket.timeout:
        return False
    except ConnectionResetError:
        return True
# A refusal comes at once, before the client says anything; then the payload.
closed = read(0.5)
if not closed:
    s.sendall(bytes.fromhex(sys.argv[3]))
    closed = read(3)
sys.stdout.buffer.write(data + (b"<closed>" if closed else b""))
"""


@pytest.fixture(scope="module")
def netns():
    """A namespace `ns` whose one interface reaches this host at HOST_ADDR from NS_ADDR."""
    if os.geteuid() != 0 or shutil.which("ip") is None:
        pytest.skip("needs root and iproute2 to make a network namespace")
    name = f"lpm{os.getpid() % 100000}"
    host_if, ns_if = f"{name}h", f"{name}n"
    steps = [["ip", "netns", "add", name],
             ["ip", "link", "add", host_if, "type", "veth", "peer", "name", ns_if],
             ["ip", "link", "set", ns_if, "netns", name],
             ["ip", "addr", "add", f"{HOST_ADDR}/30", "dev", host_if],
             ["ip", "link", "set", host_if, "up"],
             ["ip", "-n", name, "addr", "add", f"{NS_ADDR}/30", "dev", ns_if],
             ["ip", "-n", name, "link", "set", ns_if, "up"],
             ["ip", "-n", name, "link", "set", "lo", "up"]]
    try:
        for step in steps:
            done = subprocess.run(step, capture_output=True, text=True)
            if done.returncode != 0:
                pytest.skip(f"the sandbox refuses `{' '.join(step)}`: {done.stderr.strip()}")
        yield name
    finally:
        subprocess.run(["ip", "link", "del", host_if], capture_output=True)
        subprocess.run(["ip", "netns", "del", name], capture_output=True)


def remote(netns, port, payload="*1\r\n$4\r\nPING\r\n"):
    """What a client at NS_ADDR receives for `payload` (b'<closed>' marks the server closing)."""
    done = subprocess.run(["ip", "netns", "exec", netns, sys.executable, "-c", REMOTE_CLIENT, HOST_ADDR, str(port),
                           payload.encode().hex()],
                          capture_output=True, timeout=30)
    assert done.returncode == 0, done.stderr.decode()
    return done.stdout


def both(fresh_servers, args):
    return [fresh_servers(kind, ["--bind", "0.0.0.0"] + args) for kind in ("redis", "larder")]


def test_remote_client_without_a_password_gets_redis_denied_text_and_is_closed(fresh_servers, netns):
    ref, larder = both(fresh_servers, [])
    got_ref, got = remote(netns, ref.port), remote(netns, larder.port)
    assert got_ref.startswith(b"-DENIED Redis is running in protected mode") and got_ref.endswith(b"\r\n<closed>")
    assert got == got_ref
    # The FLUSHALL of the report is refused too, and loopback clients are still served.
    for server in (ref, larder):
        server.client().set("kept", "1")
        assert remote(netns, server.port, "*1\r\n$8\r\nFLUSHALL\r\n") == got_ref
        assert server.client().get("kept") == b"1"


def test_protected_mode_no_and_a_password_let_remote_clients_in(fresh_servers, netns):
    for server in both(fresh_servers, ["--protected-mode", "no"]):
        assert remote(netns, server.port) == b"+PONG\r\n", server.name
    for server in both(fresh_servers, ["--requirepass", "pm-secret"]):
        assert remote(netns, server.port).startswith(b"-NOAUTH Authentication required."), server.name
        assert remote(netns, server.port, "*2\r\n$4\r\nAUTH\r\n$9\r\npm-secret\r\n*1\r\n$4\r\nPING\r\n") == b"+OK\r\n+PONG\r\n"


def test_config_set_protected_mode_applies_to_the_next_connection(fresh_servers, netns):
    for server in both(fresh_servers, []):
        c = server.client()
        assert c.config_get("protected-mode") == {"protected-mode": "yes"}
        assert remote(netns, server.port).startswith(b"-DENIED")
        assert c.config_set("protected-mode", "no")
        assert c.config_get("protected-mode") == {"protected-mode": "no"}
        assert remote(netns, server.port) == b"+PONG\r\n", server.name
        with pytest.raises(Exception) as refused:
            c.config_set("protected-mode", "maybe")
        assert "argument must be 'yes' or 'no'" in str(refused.value)


def loopback(port, payload: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(payload)
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                return data
            data += chunk


@pytest.mark.parametrize("request_bytes", [
    b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 14\r\n\r\nSET pwned yes\r\n",
    b"Host: 127.0.0.1\r\nSET pwned yes\r\n",
    b"*1\r\n$4\r\nPING\r\n*2\r\n$4\r\npost\r\n$1\r\n/\r\n*3\r\n$3\r\nSET\r\n$5\r\npwned\r\n$3\r\nyes\r\n",
])
def test_http_request_is_dropped_without_reply_and_logged(fresh_servers, request_bytes):
    for server in [fresh_servers("redis"), fresh_servers("larder")]:
        got = loopback(server.port, request_bytes)
        # Redis drops the client at once: not even the PING before it is answered.
        assert got == b"", server.name
        c = server.client()
        assert c.exists("pwned") == 0 and c.ping()
        deadline = time.monotonic() + 5
        while "Possible SECURITY ATTACK detected" not in server.log_tail(200) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert "Possible SECURITY ATTACK detected. It looks like somebody is sending POST or Host: commands" in server.log_tail(200)
