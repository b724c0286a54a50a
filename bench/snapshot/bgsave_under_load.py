#!/usr/bin/env python3
"""BGSAVE during a load: larder vs redis-server in the same run.

Each server gets FEAST_KEYS Feast entities (larder-bench feast-read --preload-only), then an
open-loop load of RATE requests/s for DURATION seconds over 20 connections, once with
feast-read (HMGET of the entities) and once with feast-write (HSET over the same entities, so
every write lands on a key the snapshot may still owe); BGSAVE is sent 2 s into it. Reported:
the load's p50/p99/p99.9/max latency (open loop: a stall shows as latency, not as fewer
requests), how long BGSAVE ran, and the memory the snapshot cost: for redis-server its fork's
copy-on-write (INFO rdb_last_cow_size, Redis' own figure) and the peak resident size of the
parent plus the child over the parent's size before BGSAVE; for larder the peak resident size
over its size before BGSAVE. Sampled every 10 ms from /proc.

Environment: FEAST_KEYS (1000000), RATE (20000), DURATION (8), LOADS (feast-read,feast-write),
LARDER_BIN, LARDER_BENCH_BIN, OUT; LARDER_BEFORE_BIN (optional): another larder binary measured in
the same run (row "larder-before"), to compare a change under the same machine load.
"""
import json
import re
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time

from common import BENCH, LARDER, cli, free_port, report
KEYS = int(os.environ.get("FEAST_KEYS", "1000000"))
RATE = int(os.environ.get("RATE", "20000"))
DURATION = int(os.environ.get("DURATION", "8"))
LOADS = os.environ.get("LOADS", "feast-read,feast-write").split(",")




def rss_kb(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def children(pid):
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(p) for p in f.read().split()]
    except OSError:
        return []


def run(kind, workload):
    directory = tempfile.mkdtemp(prefix=f"bgsave-{kind}-")
    port = free_port()
    binary = os.environ["LARDER_BEFORE_BIN"] if kind == "larder-before" else LARDER
    argv = ([binary, "serve", "--port", str(port), "--threads", "2", "--no-pin", "--dir", directory] if kind.startswith("larder")
            else ["redis-server", "--port", str(port), "--save", "", "--appendonly", "no", "--dir", directory])
    log_path = os.path.join(directory, "server.log")
    log = open(log_path, "w")
    proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
    try:
        for _ in range(300):
            if cli(port, "PING") == "PONG":
                break
            time.sleep(0.05)
        subprocess.run([BENCH, "--port", str(port), "--workload", "feast-read", "--keyspace", str(KEYS), "--preload-only"],
                       check=True, capture_output=True)
        time.sleep(1)
        base = rss_kb(proc.pid)
        peak = [base]
        stop = threading.Event()

        def sample():
            while not stop.is_set():
                peak[0] = max(peak[0], rss_kb(proc.pid) + sum(rss_kb(c) for c in children(proc.pid)))
                time.sleep(0.01)
        sampler = threading.Thread(target=sample)
        sampler.start()
        load = subprocess.Popen([BENCH, "--port", str(port), "--workload", workload, "--keyspace", str(KEYS),
                                 "--rate", str(RATE), "--duration", str(DURATION), "--connections", "20", "--json"],
                                stdout=subprocess.PIPE, text=True)
        time.sleep(2)
        t0 = time.monotonic()
        before_save = rss_kb(proc.pid)
        peak[0] = before_save
        reply = cli(port, "BGSAVE")
        while "rdb_bgsave_in_progress:1" in cli(port, "INFO", "persistence"):
            time.sleep(0.01)
        save_s = time.monotonic() - t0
        save_peak = peak[0]
        out, _ = load.communicate(timeout=DURATION + 120)
        stop.set(); sampler.join()
        result = json.loads(out.strip().splitlines()[-1])
        cow = next((int(l.split(":")[1]) for l in cli(port, "INFO", "persistence").splitlines() if l.startswith("rdb_last_cow_size:")), None)
        # larder logs the largest backlog of chunks waiting for its writer thread.
        log.flush()
        backlog = re.findall(r"peak_backlog_bytes=(\d+)", open(log_path).read())
        return {"reply": reply, "save_s": save_s, "p50": result["p50_us"], "p99": result["p99_us"], "p999": result["p999_us"],
                "max": result["max_us"], "rps": result["rps"], "base_mb": before_save / 1024,
                "peak_extra_mb": (save_peak - before_save) / 1024,
                "cow_mb": None if cow is None else cow / 1e6, "backlog_mb": int(backlog[-1]) / 1e6 if backlog else None}
    finally:
        proc.kill(); proc.wait(); log.close()
        shutil.rmtree(directory, ignore_errors=True)


def main():
    lines = [f"# BGSAVE during an open-loop load: {KEYS} Feast entities, {RATE} req/s, 20 connections", "",
             f"`FEAST_KEYS={KEYS} RATE={RATE} DURATION={DURATION} bench/snapshot/bgsave_under_load.py`, "
             f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {os.cpu_count()} cores; larder `--threads 2`.", "",
             "| load | server | BGSAVE done after s | load p50 us | p99 us | p99.9 us | max us | resident before BGSAVE MB | peak extra resident during BGSAVE MB (parent+child) | copy-on-write MB (redis INFO) | peak chunks waiting for the disk MB (larder log) |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for workload in LOADS:
        for k in ("redis", "larder") + (("larder-before",) if os.environ.get("LARDER_BEFORE_BIN") else ()):
            r = run(k, workload)
            cow = "-" if r["cow_mb"] is None else f"{r['cow_mb']:.1f}"
            lines.append(f"| {workload} | {k} | {r['save_s']:.2f} | {r['p50']:.0f} | {r['p99']:.0f} | {r['p999']:.0f} | {r['max']:.0f} | "
                         f"{r['base_mb']:.0f} | {r['peak_extra_mb']:.0f} | {cow} | "
                         f"{'-' if r['backlog_mb'] is None else format(r['backlog_mb'], '.1f')} |")
    lines += ["", "redis-server forks: the parent keeps serving and the child's pages are shared until written "
              "(the child's RSS counts the shared pages too, so parent+child overstates the real cost; copy-on-write "
              "is Redis' own figure of the pages copied). Larder has no fork: each shard writes its own keys on its "
              "own thread in slices of about 0.5 ms between client work, and a write to a key not yet written writes "
              "that key first; its extra memory is one bit per table slot, a 1 MiB chunk per shard and the chunks "
              "waiting for the writer thread (slices pause above 8 MiB)."]
    report(lines)


if __name__ == "__main__":
    main()
