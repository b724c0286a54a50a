"""larder-bench (Sources/larder-bench), the load generator, against larder and redis-server: short
closed-loop runs per workload family, Feast preload identical on both servers, the open loop's
achieved rate, and the failures it must report (error replies, refused connection, server hang-up).

The binary is .build/release/larder-bench, which `swift build -c release` (scripts/test.sh) builds;
LARDER_BENCH_BIN overrides the path. A missing binary fails the tests: it is a product of the
package, not an optional extra."""
import json
import os
import socket
import struct
import subprocess
import threading

import pytest

import servers

BENCH = os.environ.get("LARDER_BENCH_BIN") or str(servers.REPO_ROOT / ".build/release/larder-bench")
SHORT = ["--requests", "3000", "--pipeline", "4", "--connections", "4", "--keyspace", "1000"]


def bench(port, *args, expect_rc=0, timeout=60):
    assert os.path.exists(BENCH), f"{BENCH} does not exist: `swift build -c release` builds it"
    p = subprocess.run([BENCH, "--port", str(port), *args], capture_output=True, text=True, timeout=timeout)
    assert p.returncode == expect_rc, (f"larder-bench {' '.join(args)} exited {p.returncode} (expected {expect_rc})\n"
                                       f"stdout: {p.stdout}\nstderr: {p.stderr}")
    return p


def run_json(port, *args):
    p = bench(port, *args, "--json")
    lines = p.stdout.strip().splitlines()
    result = json.loads(lines[-1])
    assert lines[0].startswith(result["workload"] + ": "), lines[0]
    return result


def feast_key(driver_id, project=b"driver_e2e"):
    """Feast's entity key serialization v3 for driver_id (int64), plus the project name."""
    return struct.pack("<III", 1, 2, 9) + b"driver_id" + struct.pack("<IIq", 4, 8, driver_id) + project


def check_clean(r, requests):
    assert r["requests"] == requests, r
    assert r["errors"] == 0 and r["first_error"] is None, r
    assert r["rps"] > 0 and r["seconds"] > 0, r
    assert 0 < r["p50_us"] <= r["p99_us"] <= r["p999_us"] <= r["max_us"], r


@pytest.fixture(params=["redis", "larder"])
def server(request, pair):
    redis_ref, larder = pair
    return redis_ref if request.param == "redis" else larder


def test_get_with_preload(server):
    r = run_json(server.port, "--workload", "get", "--preload", *SHORT)
    check_clean(r, 3000)
    assert r["nils"] == 0, "every key was preloaded, so no GET may miss"
    with server.client() as c:
        assert c.dbsize() == 1000
        assert c.get("k:000000000042") == b"v000000000000042"  # compare_redis_benchmark.sh's preload


def test_hmget10_with_preload(server):
    r = run_json(server.port, "--workload", "hmget10", "--preload", *SHORT, "--dist", "zipf")
    check_clean(r, 3000)
    with server.client() as c:
        # compare_redis_benchmark.sh's preload: field f of hash j is "v<j>.<f>." padded to 8 + (7j + 13f) % 25
        assert c.hget("h:000000000007", "f3") == b"v7.3.".ljust(8 + (7 * 7 + 13 * 3) % 25, b"x")


def test_feast_write_then_read(server):
    check_clean(run_json(server.port, "--workload", "feast-write", *SHORT), 3000)
    with server.client() as c:
        written = c.dbsize()
    assert 0 < written <= 1000
    check_clean(run_json(server.port, "--workload", "feast-read", *SHORT, "--warmup-requests", "100"), 3000)
    check_clean(run_json(server.port, "--workload", "feast-mix", *SHORT, "--read-ratio", "0.5"), 3000)


def test_csv_output(larder):
    p = bench(larder.port, "--workload", "hgetall10", *SHORT, "--csv-header")
    human, header, line = p.stdout.strip().splitlines()
    assert header == "workload,pipeline,connections,rate,requests,seconds,rps,p50_us,p99_us,p999_us,max_us,errors"
    row = dict(zip(header.split(","), line.split(",")))
    assert row["workload"] == "hgetall10" and row["pipeline"] == "4" and row["connections"] == "4"
    assert row["requests"] == "3000" and row["errors"] == "0" and float(row["rps"]) > 0
    assert human.startswith("hgetall10: 3000 requests in ")


def test_feast_preload_identical_on_both_servers(pair):
    redis_ref, larder = pair
    for s in pair:
        p = bench(s.port, "--workload", "feast-write", "--preload-only", "--keyspace", "1000")
        assert p.stdout.startswith("preloaded 1000 feast keys"), p.stdout
    with redis_ref.client() as ref, larder.client() as lar:
        assert ref.dbsize() == 1000 and lar.dbsize() == 1000
        for driver_id in (1001, 1500, 2000):  # key index 0 is driver 1001
            key = feast_key(driver_id)
            assert len(key) == 47
            h = ref.hgetall(key)
            assert h and h == lar.hgetall(key), driver_id
        h = ref.hgetall(feast_key(1001))
        # 9 features + _ts; field names are murmur3("view:feature") LE, the spec's test vectors.
        assert len(h) == 10
        assert bytes.fromhex("6160e3da") in h and bytes.fromhex("18a5e5a3") in h and bytes.fromhex("f7a68595") in h
        assert h[b"_ts:driver_hourly_stats"] == bytes.fromhex("08d0c2e6bb06")  # 2025-01-04T21:00:00Z
        assert h[bytes.fromhex("6160e3da")][0] == 0x35  # conv_rate: Value.float_val
        assert ref.exists(feast_key(1000)) == 0 and ref.exists(feast_key(2001)) == 0


def test_open_loop_rate(larder):
    r = run_json(larder.port, "--rate", "2000", "--duration", "1", "--connections", "4", "--keyspace", "1000")
    check_clean(r, 2000)
    assert r["mode"] == "open"
    assert 1600 <= r["rps"] <= 2400, f"open loop at 2000/s achieved {r['rps']}/s"


def test_error_replies_fail_the_run(server):
    with server.client() as c:
        for i in range(10):
            c.hset("k:%012d" % i, "f", "v")  # GET on a hash: WRONGTYPE
    args = ["--workload", "get", "--keyspace", "10", "--requests", "200", "--connections", "2", "--pipeline", "4"]
    p = bench(server.port, *args, "--csv", expect_rc=1)
    assert "200 error replies (first: WRONGTYPE" in p.stderr, p.stderr
    assert p.stdout.strip().splitlines()[-1].endswith(",200"), p.stdout
    bench(server.port, *args, "--allow-errors")


def test_cannot_connect():
    port = servers.free_port()
    p = bench(port, "--requests", "10", expect_rc=1)
    assert f"cannot connect to 127.0.0.1:{port}" in p.stderr, p.stderr


def test_unknown_workload():
    p = bench(1, "--workload", "nosuch", expect_rc=64)
    assert "nosuch" in p.stderr and "feast-read" in p.stderr, p.stderr


def test_server_closing_mid_run_is_reported():
    """A fake server that answers the first read with two replies, then hangs up (FIN)."""
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    listener.settimeout(10)
    port = listener.getsockname()[1]

    def serve():
        try:
            conn, _ = listener.accept()
            with conn:
                conn.settimeout(10)
                conn.recv(65536)
                conn.sendall(b"$-1\r\n$-1\r\n")
                conn.shutdown(socket.SHUT_WR)
                while conn.recv(65536):  # until larder-bench closes its end
                    pass
        except OSError:
            pass

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    try:
        p = bench(port, "--connections", "1", "--pipeline", "8", "--requests", "100", expect_rc=1)
    finally:
        t.join(10)
        listener.close()
    assert "connection 0 closed by the server with 6 replies outstanding" in p.stderr, p.stderr
