"""redis-cli against larder and redis-server: a scripted session in --no-raw, --raw and RESP3 (-3)
formatting, --pipe bulk loading, MONITOR output format, and the COMMAND replies redis-cli uses."""
import re
import subprocess
import threading
import time

import pytest

from resp import RespConn, encode

# One command per line, as typed at the redis-cli prompt. No command here has a reply that depends
# on ids, clocks or hash order (HGETALL only on one-field hashes).
SESSION = r"""
PING
SET greeting "hello world"
GET greeting
SET bin "a\x00b\xff\r\n"
GET bin
STRLEN bin
APPEND greeting "!"
MSET k1 v1 k2 v2
MGET k1 nokey k2
INCR counter
INCRBY counter 41
INCRBYFLOAT counter 0.5
HSET h f1 v1 f2 "two words" f3 ""
HMGET h f1 f2 f3 f4
HGET h f2
HLEN h
HSET one f v
HGETALL one
HGETALL nohash
EXISTS k1 k2 nokey
TYPE h
TYPE greeting
TYPE nokey
EXPIRE k1 1000
PERSIST k1
TTL k1
TTL nokey
KEYS gree*
GET h
GET
FOOBAR x
SELECT 1
DBSIZE
SELECT 0
DEL k1 k2 nokey
ECHO "tab\there"
DBSIZE
"""


def cli(server, *args, stdin=None, timeout=60):
    p = subprocess.run(["redis-cli", "-p", str(server.port), *args], input=stdin, capture_output=True,
                       timeout=timeout)
    return p.returncode, p.stdout, p.stderr


@pytest.mark.parametrize("mode", [["--no-raw"], ["--raw"], ["-3", "--no-raw"], ["-3", "--raw"]],
                         ids=["no-raw", "raw", "resp3-no-raw", "resp3-raw"])
def test_scripted_session_output_matches(pair, mode):
    outputs = []
    for server in pair:
        rc, out, err = cli(server, *mode, stdin=SESSION.strip().encode() + b"\n")
        outputs.append((rc, out.decode(errors="replace"), err.decode(errors="replace")))
    assert outputs[0][1].count("\n") >= 30, f"reference output too short: {outputs[0]}"
    assert outputs[1] == outputs[0]


def test_single_command_formatting(pair):
    for args in (["HMGET", "h", "a"], ["GET", "missing"], ["INCR", "x"], ["HSET", "h", "a", "1"], ["HMGET", "h", "a", "b"],
                 ["EXISTS", "h"], ["SET", "x", "1", "EX", "bad"]):
        outs = [cli(s, "--no-raw", *args) for s in pair]
        assert outs[1] == outs[0], f"redis-cli {' '.join(args)}"


def test_pipe_bulk_load(pair):
    n = 100_000
    payload = b"".join(encode("SET", f"key:{i:06d}", f"value-{i}") for i in range(n - 1000))
    payload += b"".join(encode("HSET", f"hash:{i}", "f1", "v1", "f2", "v2") for i in range(1000))
    outputs = []
    for server in pair:
        rc, out, err = cli(server, "--pipe", stdin=payload, timeout=120)
        text = out.decode()
        assert rc == 0, f"{server.name}: redis-cli --pipe exited {rc}: {text} {err!r}"
        assert f"errors: 0, replies: {n}" in text, f"{server.name}: {text}"
        with RespConn(server.port) as c:
            assert c.call("DBSIZE").value == n
            assert c.call("GET", "key:012345").value == b"value-12345"
            assert c.call("HGET", "hash:999", "f2").value == b"v2"
        outputs.append(text)
    assert outputs[1] == outputs[0]


def test_pipe_counts_errors(pair):
    payload = encode("SET", "a", "1") + encode("INCR", "a") + encode("HSET", "a", "f", "v") + encode("GET")
    outputs = [cli(s, "--pipe", stdin=payload)[1].decode() for s in pair]
    assert "errors: 2, replies: 4" in outputs[0], outputs[0]
    assert outputs[1] == outputs[0]


MONITOR_LINE = re.compile(r"^(\d+\.\d{6}) \[(\d+) ([^\]]+)\] (.*)$")


def monitor_lines(server, commands):
    """Runs `redis-cli monitor`, sends `commands` from another connection, returns the monitor
    lines as (db, client-address-kind, command text); timestamps and ports are checked for shape."""
    proc = subprocess.Popen(["redis-cli", "-p", str(server.port), "monitor"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    lines = []
    reader = threading.Thread(target=lambda: lines.extend(iter(proc.stdout.readline, b"")), daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + 5
        while not lines and time.monotonic() < deadline:
            time.sleep(0.02)
        assert lines and lines[0].strip() == b"OK", f"{server.name}: monitor did not start: {lines}"
        with RespConn(server.port) as c:
            for cmd in commands:
                c.call(*cmd)
        deadline = time.monotonic() + 5
        while len(lines) < 1 + len(commands) and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        proc.terminate()
        proc.wait(timeout=5)
    parsed = []
    for raw in lines[1:]:
        m = MONITOR_LINE.match(raw.decode(errors="replace").rstrip("\n"))
        assert m, f"{server.name}: bad MONITOR line {raw!r}"
        ts, db, addr, text = m.groups()
        assert abs(float(ts) - time.time()) < 60, f"{server.name}: timestamp {ts}"
        assert re.match(r"^127\.0\.0\.1:\d+$", addr), f"{server.name}: client address {addr}"
        parsed.append((db, text))
    return parsed


def test_monitor_output_format(pair):
    commands = [["SET", "plain", "value"], ["SET", "a b", 'quote"and\\slash'], ["SET", "bin", "\x00\x01\xff\r\n\t"],
                ["HSET", "h", "f", "v"], ["SELECT", "3"], ["GET", "x"], ["PING"]]
    ref_lines, lar_lines = (monitor_lines(s, commands) for s in pair)
    assert len(ref_lines) == len(commands), ref_lines
    assert lar_lines == ref_lines


def test_command_introspection_used_by_redis_cli(pair):
    """redis-cli fetches COMMAND DOCS for its hints; clients read COMMAND INFO arities."""
    names = ["get", "set", "hset", "hmget", "hgetall", "expire", "scan", "ping"]
    results = []
    for server in pair:
        with RespConn(server.port) as c:
            count = c.call("COMMAND", "COUNT").value
            assert isinstance(count, int) and count >= len(names), f"{server.name}: COMMAND COUNT {count}"
            info = c.call("COMMAND", "INFO", *names).value
            # name, arity, first key, last key, step: what clients use for routing and checks.
            core = [(e[0], e[1], e[3], e[4], e[5]) for e in info]
            docs = c.call("COMMAND", "DOCS", *names).value
            docs = dict(zip(docs[0::2], docs[1::2])) if isinstance(docs, list) else dict(docs[1])
            summary = {}
            for name in names:
                doc = docs.get(name.encode())
                assert doc is not None, f"{server.name}: COMMAND DOCS lacks {name}"
                fields = dict(zip(doc[0::2], doc[1::2])) if isinstance(doc, list) else dict(doc[1])
                assert fields.get(b"summary"), f"{server.name}: no summary for {name}"
                args = fields.get(b"arguments") or []
                arg_names = []
                for a in args:
                    a = dict(zip(a[0::2], a[1::2])) if isinstance(a, list) else dict(a[1])
                    arg_names.append(a.get(b"name"))
                summary[name] = (fields.get(b"group"), arg_names)
            results.append((core, summary))
    assert results[1] == results[0]
    rc, out, _ = cli(pair[1], "--raw", "COMMAND", "DOCS", "get")
    assert rc == 0 and b"summary" in out
