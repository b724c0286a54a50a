"""Instructions and allocations per serving request, under callgrind (deterministic: the noise of
a shared machine does not move it, unlike CPU time).

Starts `larder serve --threads 1` under `valgrind --tool=callgrind`, on the issue's repo (the default,
`--shapes issue`: side_by_side.py's generated driver_hourly_stats with 50 features of Feast's types,
preloaded by `larder-bench --preload-only --workload feast-write`; shapes 1 x 10, 1 x 50, 100 x 50)
or on the example repo (`--shapes example`: feature_repo/, 6 features, materialized at start-up;
shapes 1 x 6, 50 x 6), then per workload:
`callgrind_control -z`, N requests, `callgrind_control -d`, and reports from the dump the
instructions (Ir) per request and the calls of malloc and free per request. Kernel work is not
counted. Workloads: FEATURES.GET for 1 and 50 entities (RESP3, IGNORETTL as feast serve),
the raw pipelined HMGET of the same fields, HTTP /get-online-features.

`--keep DIR` keeps each workload's dump (DIR/<shape>-<path>.out) for `callgrind_annotate`.

Usage: ~/.cache/larder/venv-r7/bin/python bench/serving/instr_per_request.py [--larder BIN] [--bench BIN]
       [--requests N] [--shapes issue|example] [--keep DIR] [--paths all|resp] [--io uring|epoll]
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


def key(driver, project=b"larder_demo"):
    return (b"\x01\x00\x00\x00\x02\x00\x00\x00\x09\x00\x00\x00driver_id\x04\x00\x00\x00\x08\x00\x00\x00"
            + driver.to_bytes(8, "little") + project)


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
    ap.add_argument("--bench", default=str(ROOT / ".build" / "release" / "larder-bench"))
    ap.add_argument("--requests", type=int, default=2000, help="per 1-entity workload (a tenth for the multi-entity ones)")
    ap.add_argument("--shapes", choices=("issue", "example"), default="issue")
    ap.add_argument("--keyspace", type=int, default=200, help="issue shapes: preloaded entities")
    ap.add_argument("--keep", help="directory for each workload's callgrind dump")
    ap.add_argument("--io", choices=("uring", "epoll"), help="larder serve's I/O engine (default: the binary's own, uring)")
    ap.add_argument("--paths", choices=("all", "resp"), default="all",
                    help="resp: FEATURES.GET and the raw HMGET only (no HTTP)")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="serving-instr-"))
    nodebug = work / "larder-nodebug"
    # valgrind 3.19 cannot read Swift 6's DWARF5 (see bench/instr_per_op.sh)
    subprocess.run(["objcopy", "--strip-debug", args.larder, str(nodebug)], check=True)
    lp, hp = free_port(), free_port()
    out = work / "cg.out"
    if args.shapes == "issue":
        sys.path.insert(0, str(Path(__file__).parent))
        import side_by_side as sbs
        sbs.write_repos(work, free_port())
        repo, extra = work / "larder", []
        view, project = sbs.VIEW, sbs.PROJECT.encode()
        names = [n for n, _ in sbs.FEATURES]
        shapes = ((1, 10), (1, 50), (100, 50))
    else:
        repo, extra = ROOT / "feature_repo", ["--materialize"]
        view, project, names = VIEW, b"larder_demo", FEATURES
        shapes = ((1, 6), (50, 6))
    # valgrind 3.19 holds its lock through io_uring_enter: the uring loop waits in poll(2) instead
    # (same user-space path; bench/instr_per_op.sh does the same).
    env = dict(os.environ, LARDER_URING_WAIT_POLL="1")
    proc = subprocess.Popen(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", str(nodebug), "serve",
                             "--port", str(lp), "--http-port", str(hp), "--threads", "1", "--repo", str(repo),
                             *extra, "--no-ttl-enforcement", *(["--io", args.io] if args.io else [])], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    try:
        r = redis.Redis(port=lp, protocol=3)
        t0 = time.time()
        preloaded = False
        while True:
            try:
                if args.shapes == "issue" and not preloaded:
                    r.ping()
                    subprocess.run([args.bench, "--port", str(lp), "--workload", "feast-write", "--fields", str(len(names)),
                                    "--keyspace", str(args.keyspace), "--preload-only", "--connections", "1"],
                                   check=True, capture_output=True, timeout=600)
                    preloaded = True
                if r.dbsize() > 0:
                    break
            except (redis.exceptions.ConnectionError, redis.exceptions.BusyLoadingError):
                pass
            if time.time() - t0 > 300:
                raise SystemExit("larder did not start under valgrind")
            time.sleep(1)
        time.sleep(3)
        conn = http.client.HTTPConnection("127.0.0.1", hp, timeout=60)
        rows = []
        for entities, nfeatures in shapes:
            refs = [f"{view}:{f}" for f in names[:nfeatures]]
            fields = [mmh3.hash(ref, signed=False).to_bytes(4, "little") for ref in refs] + [f"_ts:{view}".encode()]
            if args.shapes == "issue":
                drivers = [1001 + (i * 37) % args.keyspace for i in range(entities)]
            else:
                drivers = list(range(1001, 1001 + entities))
            body = json.dumps({"features": refs, "entities": {"driver_id": drivers}})
            n = args.requests if entities == 1 else max(1, args.requests // 10)

            def get():
                r.execute_command("FEATURES.GET", "REFS", len(refs), *refs, "IGNORETTL", "ENTITIES", 1, "driver_id", *drivers)

            def hmget():
                p = r.pipeline(transaction=False)
                for d in drivers:
                    p.hmget(key(d, project), fields)
                p.execute()

            def http_get():
                conn.request("POST", "/get-online-features", body, {"content-type": "application/json"})
                res = conn.getresponse()
                assert res.status == 200
                res.read()

            paths = [("FEATURES.GET (RESP3)", get), ("raw pipelined HMGET", hmget), ("HTTP /get-online-features", http_get)]
            for name, call in paths[:2] if args.paths == "resp" else paths:
                for _ in range(20):
                    call()
                subprocess.run(["callgrind_control", "-z", str(proc.pid)], check=True, capture_output=True)
                for _ in range(n):
                    call()
                subprocess.run(["callgrind_control", "-d", str(proc.pid)], check=True, capture_output=True)
                time.sleep(1)
                newest = max(glob.glob(f"{out}*"), key=os.path.getmtime)
                ir, calls = dump_totals(newest)
                if args.keep:
                    os.makedirs(args.keep, exist_ok=True)
                    tag = name.split()[0].lower().replace(".", "")
                    shutil.copy(newest, Path(args.keep) / f"{entities}x{nfeatures}-{tag}.out")
                rows.append((f"{entities} x {nfeatures}", name, ir / n, calls["malloc"] / n, calls["free"] / n))
        io = f" --io {args.io}" if args.io else ""
        print(f"callgrind, {args.larder}, larder serve --threads 1{io}, {args.shapes} shapes; per request:")
        print("| entities x features | path | Ir/request | malloc/request | free/request |")
        print("|---|---|---|---|---|")
        for shape, name, ir, m, f in rows:
            print(f"| {shape} | {name} | {ir:,.0f} | {m:.1f} | {f:.1f} |")
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=60)
        except Exception:
            proc.kill()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
