"""INFO errorstats, total_error_replies, commandstats rejected_calls/failed_calls and SLOWLOG,
against redis-server: the same commands on both, the same counts and entries.
Both servers are dedicated (fresh_servers): the counts start from a known zero."""
import time

import pytest

from resp import Err, RespConn


def info(conn, section):
    text = conn.call("INFO", section).value.decode()
    out = {}
    for line in text.split("\r\n"):
        if line and not line.startswith("#") and ":" in line:
            k, v = line.split(":", 1)
            out[k] = v
    return out


def commandstat(conn, name):
    """cmdstat_<name>'s calls, rejected_calls, failed_calls (usec differs between servers)."""
    line = info(conn, "commandstats").get(f"cmdstat_{name}")
    if line is None:
        return None
    fields = dict(p.split("=") for p in line.split(","))
    return {k: fields[k] for k in ("calls", "rejected_calls", "failed_calls")}


ERRORING = [
    ("NOSUCHCOMMAND", "x"),          # rejected before any command: ERR
    ("GET",),                        # arity: rejected
    ("SET", "s", "text"),
    ("HGET", "s", "f"),              # ran, failed: WRONGTYPE
    ("INCR", "s"),                   # ran, failed: ERR
    ("EXPIRE", "s", "notanumber"),   # ran, failed: ERR
    ("EXEC",),                       # EXEC without MULTI: failed
    ("GET", "s"),
    ("CONFIG", "SET", "nosuchparam", "1"),
]


@pytest.fixture
def both(fresh_servers):
    return [fresh_servers("redis"), fresh_servers("larder")]


def test_errorstats_and_rejected_failed_calls_as_redis(both):
    results = []
    for server in both:
        with RespConn(server.port) as c:
            replies = [c.call(*cmd).value for cmd in ERRORING]
            # A transaction discarded by a rejected command: EXECABORT.
            c.call("MULTI")
            c.call("INCR")
            replies.append(c.call("EXEC").value)
            errors = {k: v for k, v in info(c, "errorstats").items()}
            total = info(c, "stats")["total_error_replies"]
            stats = {n: commandstat(c, n) for n in ("get", "set", "hget", "incr", "expire", "exec")}
            c.call("CONFIG", "RESETSTAT")
            after = (info(c, "errorstats"), info(c, "stats")["total_error_replies"], commandstat(c, "incr"))
            results.append((replies, errors, total, stats, after))
    ref, lar = results
    assert [type(r) for r in lar[0]] == [type(r) for r in ref[0]]
    assert lar[1] == ref[1], "INFO errorstats"
    assert lar[2] == ref[2], "total_error_replies"
    assert lar[3] == ref[3], "commandstats calls / rejected_calls / failed_calls"
    assert lar[4] == ref[4] == ({}, "0", None), "after CONFIG RESETSTAT"


def slowlog_args(conn, count="-1"):
    """SLOWLOG GET's entries without id, time and duration (they differ by nature)."""
    entries = conn.call("SLOWLOG", "GET", count).value
    for e in entries:
        assert len(e) == 6 and all(isinstance(x, int) for x in e[:3]), e
        assert e[4].startswith(b"127.0.0.1:"), e
    return [(e[3], e[5]) for e in entries]


def test_slowlog_entries_as_redis(both):
    results = []
    for server in both:
        with RespConn(server.port) as c:
            pairs = c.call("CONFIG", "GET", "slowlog-*").value  # a map in any order
            r = {"config": sorted(zip(pairs[::2], pairs[1::2])),
                 "help": c.call("SLOWLOG", "HELP").value,
                 "bad": c.call("SLOWLOG", "GET", "-2").value,
                 "badnum": c.call("SLOWLOG", "GET", "x").value,
                 "len0": c.call("SLOWLOG", "LEN").value}
            c.call("CONFIG", "SET", "slowlog-log-slower-than", "0")
            c.call("CLIENT", "SETNAME", "operator")
            c.call("SET", "k", "x" * 300)
            c.call("HSET", "h", *[f"f{i}" for i in range(50)])
            c.call("GET", "k")
            c.call("AUTH", "secret")
            r["entries"] = slowlog_args(c)
            r["len"] = c.call("SLOWLOG", "LEN").value
            r["two"] = slowlog_args(c, "2")
            r["reset"] = c.call("SLOWLOG", "RESET").value
            r["after_reset"] = slowlog_args(c)
            c.call("CONFIG", "SET", "slowlog-max-len", "2")
            for i in range(5):
                c.call("GET", f"k{i}")
            r["trimmed"] = slowlog_args(c)
            c.call("CONFIG", "SET", "slowlog-log-slower-than", "-1")
            c.call("SLOWLOG", "RESET")
            c.call("GET", "k")
            r["off"] = c.call("SLOWLOG", "LEN").value
            r["range"] = c.call("CONFIG", "SET", "slowlog-log-slower-than", "-2").value
            results.append(r)
    ref, lar = results
    differing = {k: (ref[k], lar[k]) for k in ref if lar[k] != ref[k]}
    assert not differing, differing


def test_latency_monitor_as_redis(both):
    results = []
    for server in both:
        with RespConn(server.port) as c:
            r = {"threshold": c.call("CONFIG", "GET", "latency-monitor-threshold").value,
                 "latest_empty": c.call("LATENCY", "LATEST").value,
                 "history_none": c.call("LATENCY", "HISTORY", "command").value,
                 "reset_none": c.call("LATENCY", "RESET").value}
            # 200,000 keys: KEYS * takes several milliseconds on either server.
            for i in range(200):
                c.send_raw(b"".join(encode_mset(i)))
            for _ in range(200):
                c.read_reply()
            c.call("CONFIG", "SET", "latency-monitor-threshold", "1")
            c.call("KEYS", "*")
            latest = c.call("LATENCY", "LATEST").value
            assert len(latest) == 1, f"{server.name}: {latest}"
            event, at, ms, top = latest[0]
            assert abs(at - time.time()) < 5 and 1 <= ms <= top, f"{server.name}: {latest[0]}"
            r["event"] = event
            history = c.call("LATENCY", "HISTORY", "command").value
            assert len(history) == 1 and history[0][0] == at and history[0][1] == ms, f"{server.name}: {history}"
            r["reset_unknown"] = c.call("LATENCY", "RESET", "nosuchevent").value
            r["reset_one"] = c.call("LATENCY", "RESET", "command").value
            r["latest_after"] = c.call("LATENCY", "LATEST").value
            r["range"] = c.call("CONFIG", "SET", "latency-monitor-threshold", "-1").value
            results.append(r)
    ref, lar = results
    differing = {k: (ref[k], lar[k]) for k in ref if lar[k] != ref[k]}
    assert not differing, differing


def encode_mset(i):
    from resp import encode
    args = ["MSET"]
    for j in range(1000):
        args += [f"key:{i}:{j}", "v"]
    return [encode(*args)]


def test_keyspace_hits_and_misses_of_reads_as_redis(both):
    """Read commands count one hit or miss per key looked up; write commands none, except those
    that read the value for the client (GETSET, SET GET, GETDEL, GETEX, COPY's source)."""
    results = []
    for server in both:
        with RespConn(server.port) as c:
            for cmd in [("SET", "s", "v"), ("HSET", "h", "f", "v"), ("HSET", "h", "g", "w"),
                        ("GET", "s"), ("GET", "nope"), ("HGET", "h", "f"), ("HGET", "nope", "f"),
                        ("HMGET", "h", "f", "x"), ("HGETALL", "h"), ("MGET", "s", "nope", "h"),
                        ("EXISTS", "s", "nope"), ("TYPE", "h"), ("TTL", "nope"), ("STRLEN", "s"),
                        ("HLEN", "h"), ("HEXISTS", "h", "f"),
                        # Writes: no hit or miss, except where they read the value for the client.
                        ("INCR", "n"), ("INCR", "n"), ("APPEND", "s", "x"), ("SETNX", "s", "y"),
                        ("SET", "s", "z", "NX"), ("SET", "s", "w", "XX"), ("EXPIRE", "s", "100"),
                        ("PERSIST", "s"), ("HINCRBY", "h", "c", "1"), ("HDEL", "h", "c"),
                        ("HSETNX", "h", "f", "x"), ("MSETNX", "a", "1", "b", "2"), ("DEL", "a", "nope"),
                        ("RENAME", "b", "b2"), ("COPY", "s", "s2"), ("COPY", "nope", "s3"),
                        ("GETSET", "s", "v2"), ("SET", "s", "v3", "GET"), ("GETDEL", "s2"), ("GETDEL", "nope"),
                        ("GETEX", "s", "EX", "100"), ("GETEX", "nope")]:
                c.call(*cmd)
            stats = info(c, "stats")
            results.append((stats["keyspace_hits"], stats["keyspace_misses"]))
    assert results[1] == results[0], f"(hits, misses): redis {results[0]}, larder {results[1]}"


def test_avg_ttl_as_redis(both):
    """avg_ttl is estimated by the active expiry sweep: ~100000 ms for keys with 100 s left."""
    for server in both:
        with RespConn(server.port) as c:
            for i in range(300):
                c.call("SET", f"k{i}", "v", "EX", "100")
            c.call("SET", "persistent", "v")
            avg = 0
            deadline = time.time() + 5
            while time.time() < deadline:
                line = info(c, "keyspace")["db0"]
                fields = dict(p.split("=") for p in line.split(","))
                assert (fields["keys"], fields["expires"]) == ("301", "300"), f"{server.name}: {line}"
                avg = int(fields["avg_ttl"])
                if avg:
                    break
                time.sleep(0.05)
            assert 90_000 < avg <= 100_000, f"{server.name}: avg_ttl {avg}"
