"""Side-by-side serving bench (the issue's shape), one run:

  shapes: 1 entity x 10 features, 1 x 50, 100 entities x 50 features, of a generated Feast repo
  (project driver_e2e, view driver_hourly_stats with 50 features of Feast's real types: the
  layout larder-bench writes, see Sources/larder-bench/Feast.swift), preloaded with the same
  hashes into Larder and into redis-server (`larder-bench --preload-only --workload feast-write`);
  paths: Larder FEATURES.GET, raw pipelined HMGET of the same fields from Larder (one HMGET per
  entity, all of a request's in flight at once), Larder HTTP /get-online-features, and
  `feast serve` (Feast 0.67, on redis-server) with the same HTTP request;
  loads: closed loop (RESP: larder-bench, CONNS connections; HTTP: wrk, one thread with CONNS
  keep-alive connections, when it is installed (`apt-get install wrk`), else CONNS Python threads) and open loop at a fixed rate (RESP: larder-bench --rate, latency from
  the intended send time, HdrHistogram; HTTP: a Python sender per connection that sleeps until
  each request's due time and measures from it, so a slow reply delays no measurement);
  figures: req/s, p50/p99/p99.9, and the server's CPU per request (utime+stime of the server's
  process tree from /proc/PID/stat over the measured interval; for feast serve its gunicorn
  workers, not redis-server).

Open-loop runs are --open-seconds long (default 20: the 3 s runs were noisy) and repeated
--rounds times (default 3); the table gives the median round and the spread (min-max over the
rounds) of p99 and of the CPU per request, so a figure is read with its noise.

Usage: ~/.cache/larder/venv-r7/bin/python bench/serving/side_by_side.py [--seconds S] [--open-seconds S] [--rounds N] [--rate R] [--keyspace K]
Needs the release build of larder and larder-bench (LARDER_NO_INSTALL=1 ./scripts/build.sh).
"""
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
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LARDER = ROOT / ".build" / "release" / "larder"
BENCH = ROOT / ".build" / "release" / "larder-bench"
FEAST = Path(sys.executable).parent / "feast"
TICK = os.sysconf("SC_CLK_TCK")
VIEW, PROJECT, FIELDS = "driver_hourly_stats", "driver_e2e", 50
# Sources/larder-bench/Feast.swift: the real features first, then feature_9... cycling 4 types.
KNOWN = [("conv_rate", "Float32"), ("acc_rate", "Float64"), ("avg_daily_trips", "Int64"), ("rating", "Int32"),
         ("city", "String"), ("is_active", "Bool"), ("recent_trips", "Array(Int64)"), ("tags", "Array(String)")]
CYCLE = ["Float32", "Float64", "Int64", "String"]
FEATURES = [KNOWN[f] if f < len(KNOWN) else (f"feature_{f + 1}", CYCLE[f % 4]) for f in range(FIELDS)]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, timeout=120):
    t0 = time.time()
    while time.time() - t0 < timeout:
        try:
            socket.create_connection(("127.0.0.1", port), 0.5).close()
            return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"nothing on port {port}")


def tree_cpu(pid):
    total, todo = 0.0, [pid]
    while todo:
        p = todo.pop()
        try:
            f = open(f"/proc/{p}/stat").read().rsplit(")", 1)[1].split()
            total += (int(f[11]) + int(f[12])) / TICK
            for t in os.listdir(f"/proc/{p}/task"):
                todo += [int(k) for k in open(f"/proc/{p}/task/{t}/children").read().split()]
        except OSError:
            pass
    return total


def write_repos(work, redis_port):
    store = f"""project: {PROJECT}
provider: local
registry: data/registry.db
offline_store: {{type: file}}
online_store: {{type: redis, connection_string: "127.0.0.1:{redis_port}"}}
entity_key_serialization_version: 3
"""
    for d in ("larder", "feast"):
        (work / d / "data").mkdir(parents=True)
        (work / d / "feature_store.yaml").write_text(store)
    schema = "\n".join(f"      - {{name: {n}, dtype: {t}}}" for n, t in FEATURES)
    (work / "larder" / "definitions.yaml").write_text(f"""entities:
  - {{name: driver, join_keys: [driver_id], value_type: INT64}}
file_sources:
  - {{name: stats_source, path: data/stats.parquet, timestamp_field: event_timestamp}}
feature_views:
  - name: {VIEW}
    entities: [driver]
    ttl: 0s
    schema:
      - {{name: driver_id, dtype: Int64}}
{schema}
    source: stats_source
""")
    py_types = {"Float32": "Float32", "Float64": "Float64", "Int64": "Int64", "Int32": "Int32", "String": "String",
                "Bool": "Bool", "Array(Int64)": "Array(Int64)", "Array(String)": "Array(String)"}
    fields = ",\n        ".join(f'Field(name="{n}", dtype={py_types[t]})' for n, t in FEATURES)
    (work / "feast" / "features.py").write_text(f"""from datetime import timedelta
from feast import Entity, FeatureView, Field, FileSource, ValueType
from feast.types import Array, Bool, Float32, Float64, Int32, Int64, String

driver = Entity(name="driver", join_keys=["driver_id"], value_type=ValueType.INT64)
source = FileSource(name="stats_source", path="data/stats.parquet", timestamp_field="event_timestamp")
{VIEW} = FeatureView(
    name="{VIEW}", entities=[driver], ttl=timedelta(0), online=True, source=source,
    schema=[Field(name="driver_id", dtype=Int64),
        {fields}],
)
""")


def bench(args, report=True):
    out = subprocess.run([str(BENCH), *args] + (["--json"] if report else []), capture_output=True, text=True, timeout=900)
    if out.returncode != 0:
        raise SystemExit(f"larder-bench {' '.join(args)} failed: {out.stderr} {out.stdout}")
    return json.loads(out.stdout.strip().splitlines()[-1]) if report else None


def percentile(sorted_us, q):
    if not sorted_us:
        return float("nan")
    return sorted_us[min(len(sorted_us) - 1, int(len(sorted_us) * q / 100))]


def http_load(port, body, conns, seconds, rate=None):
    """Closed loop (rate None) or open loop at `rate` req/s over `conns` threads; latencies in us,
    measured from the intended send time in open loop."""
    lat, lock, stop = [], threading.Lock(), time.perf_counter() + seconds
    count = [0]

    def worker(k):
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        mine = []
        interval = conns / rate if rate else 0
        due = time.perf_counter() + (k * interval / conns if rate else 0)
        while True:
            now = time.perf_counter()
            if now >= stop:
                break
            if rate:
                if due > now:
                    time.sleep(due - now)
                start = due
                due += interval
            else:
                start = now
            c.request("POST", "/get-online-features", body, {"content-type": "application/json"})
            r = c.getresponse()
            data = r.read()
            if r.status != 200:
                raise SystemExit(f"HTTP {r.status}: {data[:300]!r}")
            mine.append((time.perf_counter() - start) * 1e6)
        with lock:
            lat.extend(mine)
            count[0] += len(mine)

    ts = [threading.Thread(target=worker, args=(k,)) for k in range(conns)]
    t0 = time.perf_counter()
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    wall = time.perf_counter() - t0
    lat.sort()
    return {"requests": count[0], "rps": count[0] / wall, "p50_us": percentile(lat, 50), "p99_us": percentile(lat, 99),
            "p999_us": percentile(lat, 99.9)}


WRK_SCRIPT = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = io.open(os.getenv("SBS_BODY"), "rb"):read("*a")
function done(summary, latency, requests)
  local bad = summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout
  io.write(string.format('WRK {"requests": %d, "seconds": %f, "errors": %d, "p50_us": %d, "p99_us": %d, "p999_us": %d}\\n',
    summary.requests, summary.duration / 1e6, bad, latency:percentile(50), latency:percentile(99), latency:percentile(99.9)))
end
"""


def wrk_load(port, body, conns, seconds, work):
    """Closed loop with wrk (one native client thread, `conns` keep-alive connections), so the
    client is not the limit (the Python threads topped out near 4,500 req/s at 1 x 10)."""
    script, body_file = work / "post.lua", work / "body.json"
    script.write_text(WRK_SCRIPT)
    body_file.write_text(body)
    out = subprocess.run(["wrk", "-t1", f"-c{conns}", "--timeout", "60s", f"-d{max(1, round(seconds))}s", "-s", str(script), f"http://127.0.0.1:{port}/get-online-features"],
                         capture_output=True, text=True, timeout=seconds + 60, env={**os.environ, "SBS_BODY": str(body_file)})
    line = [x for x in out.stdout.splitlines() if x.startswith("WRK ")]
    if out.returncode != 0 or not line:
        raise SystemExit(f"wrk failed: {out.stdout} {out.stderr}")
    r = json.loads(line[0][4:])
    if r["errors"]:
        raise SystemExit(f"wrk: {r['errors']} failed or non-2xx requests: {out.stdout}")
    r["rps"] = r["requests"] / r["seconds"]
    return r


def measure(a, kind, loop, pid, common, entities, body, lp, hp, fp):
    """One measured run of one path: req/s, latencies (us) and the server's CPU per request (us)."""
    seconds = a.open_seconds if loop == "open" else a.seconds
    common = common + ["--duration", str(seconds)]
    cpu0 = tree_cpu(pid)
    if kind == "resp-get":
        extra = ["--rate", str(a.rate)] if loop == "open" else ["--pipeline", "1"]
        r = bench(common + ["--workload", "features-get", "--entities", str(entities), "--connections", str(a.conns)] + extra)
        n = r["requests"]
    elif kind == "resp-hmget":
        # one request = `entities` HMGETs in flight on one connection
        extra = ["--rate", str(a.rate * entities)] if loop == "open" else ["--pipeline", str(entities)]
        r = bench(common + ["--workload", "feast-read", "--connections", str(a.conns)] + extra)
        n = r["requests"] / entities
        r["rps"] /= entities
    else:
        port = hp if kind == "http-larder" else fp
        rate = (a.rate if kind == "http-larder" else a.feast_rate) if loop == "open" else None
        if rate is None and a.http_client == "wrk":
            r = wrk_load(port, body, a.conns, seconds, a.work)
        else:
            r = http_load(port, body, a.conns, seconds, rate)
        n = r["requests"]
    r["cpu_us"] = (tree_cpu(pid) - cpu0) / max(n, 1) * 1e6
    return r


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=5, help="per measured closed-loop run")
    ap.add_argument("--open-seconds", type=float, default=20, help="per measured open-loop round")
    ap.add_argument("--rounds", type=int, default=3, help="open-loop rounds per path and shape")
    ap.add_argument("--rate", type=float, default=200, help="open loop: requests/s (Larder's paths)")
    ap.add_argument("--feast-rate", type=float, default=10,
                    help="open loop: requests/s for feast serve (it served 16-600 req/s closed loop; above its capacity open loop measures its queue)")
    ap.add_argument("--keyspace", type=int, default=10000)
    ap.add_argument("--conns", type=int, default=4)
    ap.add_argument("--no-feast", action="store_true")
    ap.add_argument("--larder", default=str(LARDER), help="larder binary (e.g. a base build for a before/after)")
    ap.add_argument("--io", choices=("nio", "epoll", "uring"), help="larder serve's I/O engine (default: the binary's own)")
    ap.add_argument("--http-client", choices=("wrk", "python"), default="wrk" if shutil.which("wrk") else "python",
                    help="closed-loop HTTP client for Larder and feast serve alike (open loop is always the Python sender)")
    a = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="serving-sbs-"))
    a.work = work
    procs = []
    try:
        lp, hp, rp, fp = free_port(), free_port(), free_port(), free_port()
        write_repos(work, rp)
        red = subprocess.Popen(["redis-server", "--port", str(rp), "--save", "", "--appendonly", "no"], stdout=subprocess.DEVNULL)
        procs.append(red)
        larder = subprocess.Popen([a.larder, "serve", "--port", str(lp), "--http-port", str(hp), "--threads", "1",
                                   "--repo", str(work / "larder"), "--no-ttl-enforcement", *(["--io", a.io] if a.io else [])],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        procs.append(larder)
        wait_port(rp); wait_port(lp); wait_port(hp)
        for port in (lp, rp):
            bench(["--port", str(port), "--workload", "feast-write", "--fields", str(FIELDS), "--keyspace", str(a.keyspace),
                   "--preload-only", "--connections", "1"], report=False)
        feast = None
        if not a.no_feast:
            subprocess.run([FEAST, "apply"], cwd=work / "feast", check=True, capture_output=True)
            feast = subprocess.Popen([FEAST, "serve", "-h", "127.0.0.1", "-p", str(fp), "--no-access-log"], cwd=work / "feast",
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
            procs.append(feast)
            wait_port(fp)
            time.sleep(3)
        rows = []
        for entities, fields in ((1, 10), (1, 50), (100, 50)):
            refs = [f"{VIEW}:{n}" for n, _ in FEATURES[:fields]]
            ids = [1001 + (i * 37) % a.keyspace for i in range(entities)]
            body = json.dumps({"features": refs, "entities": {"driver_id": ids}})
            common = ["--port", str(lp), "--fields", str(fields), "--keyspace", str(a.keyspace)]
            for loop in ("closed", "open"):
                paths = [("larder FEATURES.GET", larder.pid, "resp-get"), ("larder raw pipelined HMGET", larder.pid, "resp-hmget"),
                         ("larder HTTP", larder.pid, "http-larder")]
                if feast:
                    paths.append(("feast serve (redis-server)", feast.pid, "http-feast"))
                for name, pid, kind in paths:
                    rounds = []
                    for _ in range(a.rounds if loop == "open" else 1):
                        rounds.append(measure(a, kind, loop, pid, common, entities, body, lp, hp, fp))
                        print((f"{entities} x {fields}", loop, name, rounds[-1]), file=sys.stderr, flush=True)
                    rounds.sort(key=lambda r: r["p99_us"])
                    mid = rounds[len(rounds) // 2]
                    spread = (f"p99 {rounds[0]['p99_us'] / 1000:.2f}-{rounds[-1]['p99_us'] / 1000:.2f} ms, CPU "
                              f"{min(r['cpu_us'] for r in rounds):.0f}-{max(r['cpu_us'] for r in rounds):.0f} us"
                              if len(rounds) > 1 else "-")
                    rows.append((f"{entities} x {fields}", loop, name, mid["rps"], mid["p50_us"], mid["p99_us"], mid["p999_us"],
                                 mid["cpu_us"], spread))
        print(f"side_by_side.py --seconds {a.seconds} --open-seconds {a.open_seconds} --rounds {a.rounds} --rate {a.rate} --feast-rate {a.feast_rate} "
              f"--conns {a.conns} --keyspace {a.keyspace} --http-client {a.http_client}; "
              f"{a.larder} serve --threads 1{' --io ' + a.io if a.io else ''}; {os.cpu_count()} cores, load {open('/proc/loadavg').read().split()[0]}")
        print()
        print("| shape | loop | path | req/s | p50 ms | p99 ms | p99.9 ms | server CPU us/req | spread over rounds |")
        print("|---|---|---|---|---|---|---|---|---|")
        for shape, loop, name, rps, p50, p99, p999, cpu, spread in rows:
            print(f"| {shape} | {loop} | {name} | {rps:.0f} | {p50 / 1000:.2f} | {p99 / 1000:.2f} | {p999 / 1000:.2f} | {cpu:.0f} | {spread} |")
    finally:
        for p in reversed(procs):
            try:
                if p is not red and p is not larder:
                    os.killpg(p.pid, signal.SIGTERM)
                else:
                    p.terminate()
                p.wait(timeout=20)
            except Exception:
                p.kill()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
