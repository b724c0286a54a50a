"""Side-by-side serving bench (short, ~1 min): the same feature reads of the example repo
(feature_repo/, driver_hourly_stats: 6 features, 1 and 50 entities per request) through
  1. Larder's FEATURES.GET (RESP, redis-py)
  2. a raw HMGET of the same Feast fields from Larder (redis-py pipeline, one per entity)
  3. Larder's HTTP POST /get-online-features (keep-alive http.client)
  4. `feast serve` on redis-server after `feast materialize` (same HTTP request)
Closed loop, one Python client, so throughput and latency are bounded by the client; the
comparable figure is the *server's* CPU per request (utime+stime of the server process tree
from /proc, before and after). Usage: ~/.cache/larder/venv-r7/bin/python bench/serving/run.py [--requests N]"""
import argparse
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import mmh3
import redis

ROOT = Path(__file__).resolve().parents[2]
FEAST = Path(sys.executable).parent / "feast"
LARDER = ROOT / ".build" / "release" / "larder"
VIEW = "driver_hourly_stats"
FEATURES = ["conv_rate", "acc_rate", "avg_daily_trips", "city", "is_active", "recent_trips"]
TICK = os.sysconf("SC_CLK_TCK")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tree_cpu(pid):
    """CPU seconds of pid and its descendants."""
    total, todo = 0.0, [pid]
    while todo:
        p = todo.pop()
        try:
            f = open(f"/proc/{p}/stat").read().rsplit(")", 1)[1].split()
            total += (int(f[11]) + int(f[12])) / TICK
            for t in os.listdir(f"/proc/{p}/task"):
                kids = open(f"/proc/{p}/task/{t}/children").read().split()
                todo += [int(k) for k in kids]
        except OSError:
            pass
    return total


def wait_port(port, timeout=90):
    t0 = time.time()
    while time.time() - t0 < timeout:
        try:
            socket.create_connection(("127.0.0.1", port), 0.5).close()
            return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"nothing on port {port}")


def key(driver):
    return (b"\x01\x00\x00\x00\x02\x00\x00\x00\x09\x00\x00\x00driver_id\x04\x00\x00\x00\x08\x00\x00\x00"
            + driver.to_bytes(8, "little") + b"larder_demo")


def measure(name, pid, n, call):
    for _ in range(50):
        call()
    cpu0, t0 = tree_cpu(pid), time.perf_counter()
    lat = []
    for _ in range(n):
        s = time.perf_counter()
        call()
        lat.append(time.perf_counter() - s)
    wall, cpu = time.perf_counter() - t0, tree_cpu(pid) - cpu0
    lat.sort()
    return (name, n / wall, lat[len(lat) // 2] * 1e3, lat[int(len(lat) * 0.99)] * 1e3, cpu / n * 1e6)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=2000)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="serving-bench-"))
    procs = []
    try:
        lp, hp, rp, fp = free_port(), free_port(), free_port(), free_port()
        shutil.copytree(ROOT / "feature_repo", work / "repo", ignore=shutil.ignore_patterns("*.db"))
        cfg = (work / "repo" / "feature_store.yaml").read_text().replace("127.0.0.1:6379", f"127.0.0.1:{rp}")
        (work / "repo" / "feature_store.yaml").write_text(cfg)
        larder = subprocess.Popen([LARDER, "serve", "--port", str(lp), "--http-port", str(hp), "--threads", "1",
                                   "--repo", ROOT / "feature_repo", "--materialize", "--no-ttl-enforcement"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        procs.append(larder)
        red = subprocess.Popen(["redis-server", "--port", str(rp), "--save", "", "--appendonly", "no"], stdout=subprocess.DEVNULL)
        procs.append(red)
        wait_port(rp)
        subprocess.run([FEAST, "apply"], cwd=work / "repo", check=True, capture_output=True)
        subprocess.run([FEAST, "materialize", "2025-01-01T00:00:00", "2025-01-08T00:00:00"], cwd=work / "repo",
                       check=True, capture_output=True)
        feast = subprocess.Popen([FEAST, "serve", "-h", "127.0.0.1", "-p", str(fp), "--no-access-log"], cwd=work / "repo",
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        procs.append(feast)
        wait_port(hp); wait_port(fp)
        time.sleep(2)
        r = redis.Redis(port=lp, protocol=3)
        fields = [mmh3.hash(f"{VIEW}:{f}", signed=False).to_bytes(4, "little") for f in FEATURES] + [f"_ts:{VIEW}".encode()]
        refs = [f"{VIEW}:{f}" for f in FEATURES]
        rows = []
        for entities in (1, 50):
            drivers = list(range(1001, 1001 + entities))
            body = json.dumps({"features": refs, "entities": {"driver_id": drivers}})

            def resp():
                r.execute_command("FEATURES.GET", "REFS", len(refs), *refs, "IGNORETTL", "ENTITIES", 1, "driver_id", *drivers)

            def hmget():
                p = r.pipeline(transaction=False)
                for d in drivers:
                    p.hmget(key(d), fields)
                p.execute()

            def http_to(port):
                conn = http.client.HTTPConnection("127.0.0.1", port)

                def call():
                    conn.request("POST", "/get-online-features", body, {"content-type": "application/json"})
                    res = conn.getresponse()
                    assert res.status == 200, res.read()
                    res.read()
                return call
            n = args.requests if entities == 1 else args.requests // 4
            rows.append((entities, measure("larder FEATURES.GET (RESP3)", larder.pid, n, resp)))
            rows.append((entities, measure("larder raw pipelined HMGET", larder.pid, n, hmget)))
            rows.append((entities, measure("larder HTTP /get-online-features", larder.pid, n, http_to(hp))))
            rows.append((entities, measure("feast serve on redis-server", feast.pid, max(100, n // 10), http_to(fp))))
        print(f"| entities x features | path | req/s (1 Python client) | p50 ms | p99 ms | server CPU us/req |")
        print("|---|---|---|---|---|---|")
        for entities, (name, rps, p50, p99, cpu) in rows:
            print(f"| {entities} x {len(FEATURES)} | {name} | {rps:.0f} | {p50:.2f} | {p99:.2f} | {cpu:.0f} |")
        print("\n(feast serve's CPU covers its gunicorn/uvicorn workers, not redis-server; Larder's HMGET and FEATURES.GET CPU is the whole server.)")
    finally:
        for p in procs:
            try:
                if p is procs[-1] and len(procs) == 3:
                    os.killpg(p.pid, signal.SIGTERM)
                else:
                    p.terminate()
                p.wait(timeout=20)
            except Exception:
                p.kill()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
