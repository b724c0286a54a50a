#!/usr/bin/env python3
"""BGSAVE during a read load: larder vs redis-server in the same run.

Each server gets FEAST_KEYS Feast entities (larder-bench feast-read --preload-only), then an
open-loop read load of RATE feast-read requests/s for DURATION seconds over 20 connections;
BGSAVE is sent 2 s into it. Reported: the load's p50/p99/p99.9/max latency (open loop: a stall
shows as latency, not as fewer requests), and the memory the snapshot cost: for redis-server its
fork's copy-on-write (INFO rdb_last_cow_size, Redis' own figure) and the peak resident size of
the parent plus the child; for larder the peak resident size over its size before BGSAVE.
Sampled every 10 ms from /proc. Larder's BGSAVE runs in the foreground (every shard held while
it is written), so its stall is the point of this benchmark, not a secret.

Environment: FEAST_KEYS (1000000), RATE (20000), DURATION (8), LARDER_BIN, LARDER_BENCH_BIN, OUT.
"""
import json
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


def run(kind):
    directory = tempfile.mkdtemp(prefix=f"bgsave-{kind}-")
    port = free_port()
    argv = ([LARDER, "serve", "--port", str(port), "--threads", "2", "--no-pin", "--dir", directory] if kind == "larder"
            else ["redis-server", "--port", str(port), "--save", "", "--appendonly", "no", "--dir", directory])
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
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
        load = subprocess.Popen([BENCH, "--port", str(port), "--workload", "feast-read", "--keyspace", str(KEYS),
                                 "--rate", str(RATE), "--duration", str(DURATION), "--connections", "20", "--json"],
                                stdout=subprocess.PIPE, text=True)
        time.sleep(2)
        t0 = time.monotonic()
        reply = cli(port, "BGSAVE")
        while "rdb_bgsave_in_progress:1" in cli(port, "INFO", "persistence"):
            time.sleep(0.01)
        save_s = time.monotonic() - t0
        out, _ = load.communicate(timeout=DURATION + 120)
        stop.set(); sampler.join()
        result = json.loads(out.strip().splitlines()[-1])
        cow = next((int(l.split(":")[1]) for l in cli(port, "INFO", "persistence").splitlines() if l.startswith("rdb_last_cow_size:")), None)
        return {"reply": reply, "save_s": save_s, "p50": result["p50_us"], "p99": result["p99_us"], "p999": result["p999_us"],
                "max": result["max_us"], "rps": result["rps"], "base_mb": base / 1024, "peak_extra_mb": (peak[0] - base) / 1024,
                "cow_mb": None if cow is None else cow / 1e6}
    finally:
        proc.kill(); proc.wait()
        shutil.rmtree(directory, ignore_errors=True)


def main():
    rows = {k: run(k) for k in ("redis", "larder")}
    lines = [f"# BGSAVE during an open-loop read load: {KEYS} Feast entities, {RATE} feast-read req/s, 20 connections", "",
             f"`FEAST_KEYS={KEYS} RATE={RATE} DURATION={DURATION} bench/snapshot/bgsave_under_load.py`, "
             f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {os.cpu_count()} cores; larder `--threads 2`.", "",
             "| server | BGSAVE done after s | load p50 us | p99 us | p99.9 us | max us | resident before MB | extra memory during save MB (peak RSS, parent+child) | copy-on-write MB (redis INFO) |",
             "|---|---|---|---|---|---|---|---|---|"]
    for k, r in rows.items():
        cow = "-" if r["cow_mb"] is None else f"{r['cow_mb']:.1f}"
        lines.append(f"| {k} | {r['save_s']:.2f} | {r['p50']:.0f} | {r['p99']:.0f} | {r['p999']:.0f} | {r['max']:.0f} | "
                     f"{r['base_mb']:.0f} | {r['peak_extra_mb']:.0f} | {cow} |")
    lines += ["", "redis-server forks: the parent keeps serving and the child's pages are shared until written "
              "(its RSS counts the shared pages too, so parent+child overstates the real cost; copy-on-write is Redis' "
              "own figure). Larder has no background snapshot yet: BGSAVE holds every shard until the file is written, "
              "so the read load stalls for the save's duration (the max latency); its extra memory is the "
              "encoder's 1 MiB buffer plus, not yet analysed, what piles up during the stall (requests, replies)."]
    report(lines)


if __name__ == "__main__":
    main()
