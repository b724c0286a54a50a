"""Instructions and allocations per serving request, under callgrind (deterministic: the noise of
a shared machine does not move it, unlike CPU time).

Starts `larder serve --threads 1` on the example repo (feature_repo/, driver_hourly_stats,
6 features, materialized at start-up) under `valgrind --tool=callgrind`, then per workload:
`callgrind_control -z`, N requests, `callgrind_control -d`, and reports from the dump the
instructions (Ir) per request and the calls of malloc and free per request. Kernel work is not
counted. Workloads: FEATURES.GET for 1 and 50 entities (RESP3, IGNORETTL as feast serve),
the raw pipelined HMGET of the same fields, HTTP /get-online-features.

Usage: ~/.cache/larder/venv-r7/bin/python bench/serving/instr_per_request.py [--larder BIN] [--requests N]
"""
import argparse
import glob
import http.client
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import mmh3
import redis

ROOT = Path(__file__).resolve().parents[2]
VIEW = "driver_hourly_stats"
FEATURES = ["conv_rate", "acc_rate", "avg_daily_trips", "city", "is_active", "recent_trips"]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def key(driver):
    return (b"\x01\x00\x00\x00\x02\x00\x00\x00\x09\x00\x00\x00driver_id\x04\x00\x00\x00\x08\x00\x00\x00"
            + driver.to_bytes(8, "little") + b"larder_demo")


def dump_totals(path):
    """Ir total and calls to malloc/free (any of their names) from one callgrind dump."""
    names, ir, calls = {}, 0, {"malloc": 0, "free": 0}
    cfn = None
    alloc = re.compile(r"^(malloc|free|swift_slowAlloc|swift_slowDealloc)$")
    for line in open(path, errors="replace"):
        if line.startswith("summary:") or line.startswith("totals:"):
            ir = int(line.split()[1])
        elif line.startswith("cfn="):
            m = re.match(r"cfn=\((\d+)\)(?: (.*))?", line.strip())
            if m:
                if m.group(2):
                    names[m.group(1)] = m.group(2)
                cfn = names.get(m.group(1))
        elif line.startswith("fn="):
            m = re.match(r"fn=\((\d+)\)(?: (.*))?", line.strip())
            if m and m.group(2):
                names[m.group(1)] = m.group(2)
        elif line.startswith("calls=") and cfn is not None:
            name = cfn.split("'")[0]
            if name == "malloc":
                calls["malloc"] += int(line.split("=")[1].split()[0])
            elif name == "free":
                calls["free"] += int(line.split("=")[1].split()[0])
            cfn = None
    return ir, calls


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--larder", default=str(ROOT / ".build" / "release" / "larder"))
    ap.add_argument("--requests", type=int, default=2000)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="serving-instr-"))
    nodebug = work / "larder"
    # valgrind 3.19 cannot read Swift 6's DWARF5 (see bench/instr_per_op.sh)
    subprocess.run(["objcopy", "--strip-debug", args.larder, str(nodebug)], check=True)
    lp, hp = free_port(), free_port()
    out = work / "cg.out"
    proc = subprocess.Popen(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", str(nodebug), "serve",
                             "--port", str(lp), "--http-port", str(hp), "--threads", "1", "--repo", str(ROOT / "feature_repo"),
                             "--materialize", "--no-ttl-enforcement"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        r = redis.Redis(port=lp, protocol=3)
        t0 = time.time()
        while True:
            try:
                if r.dbsize() > 0:
                    break
            except Exception:
                pass
            if time.time() - t0 > 300:
                raise SystemExit("larder did not start under valgrind")
            time.sleep(1)
        time.sleep(3)
        refs = [f"{VIEW}:{f}" for f in FEATURES]
        fields = [mmh3.hash(f"{VIEW}:{f}", signed=False).to_bytes(4, "little") for f in FEATURES] + [f"_ts:{VIEW}".encode()]
        conn = http.client.HTTPConnection("127.0.0.1", hp, timeout=60)
        rows = []
        for entities in (1, 50):
            drivers = list(range(1001, 1001 + entities))
            body = json.dumps({"features": refs, "entities": {"driver_id": drivers}})
            n = args.requests if entities == 1 else max(1, args.requests // 10)

            def get():
                r.execute_command("FEATURES.GET", "REFS", len(refs), *refs, "IGNORETTL", "ENTITIES", 1, "driver_id", *drivers)

            def hmget():
                p = r.pipeline(transaction=False)
                for d in drivers:
                    p.hmget(key(d), fields)
                p.execute()

            def http_get():
                conn.request("POST", "/get-online-features", body, {"content-type": "application/json"})
                res = conn.getresponse()
                assert res.status == 200
                res.read()

            for name, call in (("FEATURES.GET (RESP3)", get), ("raw pipelined HMGET", hmget), ("HTTP /get-online-features", http_get)):
                for _ in range(20):
                    call()
                subprocess.run(["callgrind_control", "-z", str(proc.pid)], check=True, capture_output=True)
                for _ in range(n):
                    call()
                before = set(glob.glob(f"{out}*"))
                subprocess.run(["callgrind_control", "-d", str(proc.pid)], check=True, capture_output=True)
                time.sleep(1)
                newest = max(glob.glob(f"{out}*"), key=os.path.getmtime)
                ir, calls = dump_totals(newest)
                rows.append((entities, name, ir / n, calls["malloc"] / n, calls["free"] / n))
        print(f"callgrind, {args.larder}, larder serve --threads 1; per request:")
        print("| entities x features | path | Ir/request | malloc/request | free/request |")
        print("|---|---|---|---|---|")
        for entities, name, ir, m, f in rows:
            print(f"| {entities} x {len(FEATURES)} | {name} | {ir:,.0f} | {m:.1f} | {f:.1f} |")
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=60)
        except Exception:
            proc.kill()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
