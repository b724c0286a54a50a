"""The server's log (docs/deployment.md, "Logs"): with --log-format json every line on standard
error is one JSON object a log collector can parse; the configuration, client limit hits,
protocol errors and the lifecycle (start, listening, signal, shutdown, stopped) are logged; no
password appears anywhere in the output."""
import json
import re
import signal
import socket
import subprocess
import time

import pytest

import servers

pytestmark = pytest.mark.skipif(servers.larder_is_standin(), reason="larder's own log")

SECRET = "Zq9-not-in-any-log-7Kx"
STDOUT_LINES = re.compile(r"^larder: (serving RESP on .*|stopped)$")


def run_and_stop(server, body):
    """Runs body(server), then SIGTERM; returns every line the server wrote (stdout + stderr)."""
    try:
        body(server)
        server.proc.send_signal(signal.SIGTERM)
        assert server.proc.wait(timeout=10) == 0
        with open(server.log_path, encoding="utf-8") as f:
            return f.read().splitlines()
    finally:
        server.stop()


def json_events(lines):
    events = []
    for line in lines:
        if STDOUT_LINES.match(line):
            continue
        event = json.loads(line)  # every other line is one JSON object
        assert isinstance(event, dict), line
        for field in ("time", "level", "logger", "message", "pid"):
            assert field in event, f"{field} missing in {line}"
        events.append(event)
    return events


def provoke_limits(server):
    client = server.client(password=SECRET)
    assert client.ping()
    # maxclients 2: the test's client plus one more; the third connection is refused.
    keep = socket.create_connection(("127.0.0.1", server.port))
    time.sleep(0.2)
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as s:
        assert s.recv(100).startswith(b"-ERR max number of clients reached")
    keep.close()
    client.close()
    time.sleep(0.2)
    # A protocol error, then a query buffer over client-query-buffer-limit (1 MiB).
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as s:
        s.sendall(b"*1\r\n$abc\r\n")
        assert s.recv(200).startswith(b"-ERR Protocol error")
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as s:
        # Authenticated first: an unauthenticated client may not send large bulks at all.
        s.sendall(f"*2\r\n$4\r\nAUTH\r\n${len(SECRET)}\r\n{SECRET}\r\n".encode())
        assert s.recv(100) == b"+OK\r\n"
        s.sendall(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$3000000\r\n")
        try:
            for _ in range(12):
                s.sendall(b"x" * 100_000)
            s.settimeout(5)
            assert s.recv(100) == b""  # closed without a reply, as Redis does
        except (BrokenPipeError, ConnectionResetError):
            pass


def test_json_log_lines_cover_configuration_limits_errors_and_lifecycle(fresh_servers):
    server = fresh_servers("larder", ["--threads", "1", "--log-format", "json", "--requirepass", SECRET,
                                      "--maxclients", "2", "--client-query-buffer-limit", str(1024 * 1024)])
    lines = run_and_stop(server, provoke_limits)
    assert not any(SECRET in line for line in lines), "the password appeared in the log"
    events = json_events(lines)
    by_event = {}
    for e in events:
        by_event.setdefault(e.get("event"), []).append(e)

    config = by_event["configuration"][0]
    assert config["auth"] == "password" and config["maxclients"] == 2 and config["threads"] == 1
    assert by_event["starting"][0]["version"] and by_event["starting"][0]["commit"]
    assert by_event["listening"][0]["port"] == server.port
    limits = {e["limit_name"]: e for e in by_event["client_limit"]}
    assert limits["maxclients"]["level"] == "warning"
    assert limits["client-query-buffer-limit"]["qbuf"] > 1024 * 1024
    assert by_event["protocol_error"][0]["error"].startswith("Protocol error")
    assert by_event["signal"][0]["message"].startswith("received SIGTERM")
    order = [e["event"] for e in events if e.get("event") in ("starting", "listening", "signal", "shutdown", "stopped")]
    assert order == ["starting", "listening", "signal", "shutdown", "stopped"]


def test_text_log_is_one_event_per_line_and_level_filters(fresh_servers):
    server = fresh_servers("larder", ["--threads", "1", "--log-level", "warning", "--requirepass", SECRET,
                                      "--maxclients", "1"])

    def body(s):
        with socket.create_connection(("127.0.0.1", s.port)):
            time.sleep(0.2)
            with socket.create_connection(("127.0.0.1", s.port), timeout=5) as refused:
                assert refused.recv(100).startswith(b"-ERR max number")

    lines = [l for l in run_and_stop(server, body) if not STDOUT_LINES.match(l)]
    assert not any(SECRET in line for line in lines)
    text = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (warning|error|critical) larder\.server: \S.*$")
    assert lines and all(text.match(l) for l in lines), lines
    assert any("max number of clients reached" in l and "limit_name=maxclients" in l for l in lines)


@pytest.mark.parametrize("args, message", [
    (["--log-format", "xml"], '--log-format "xml": expected text or json'),
    (["--log-level", "loud"], '--log-level "loud": expected one of'),
])
def test_bad_log_settings_refuse_to_start(args, message):
    argv = [str(servers.REPO_ROOT / ".build/release/larder"), "serve", "--port", str(servers.free_port())] + args
    done = subprocess.run(argv, capture_output=True, text=True, timeout=20)
    assert done.returncode != 0
    assert message in done.stderr
