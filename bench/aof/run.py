#!/usr/bin/env python3
"""Write throughput and server CPU with the append-only file, larder against redis-server 7.0 in
the same run: appendonly no, appendfsync everysec, appendfsync always.

Each server is pinned to core 0 (larder --threads 1 --no-pin; taskset), redis-benchmark to core
1; each configuration starts a fresh server in a fresh directory. Reported: requests/s, and the
server's CPU time per request (utime+stime from /proc/<pid>/stat over the run, in us).

  python3 bench/aof/run.py                 # N=200000 per run, ROUNDS=3 (median), P=1 and 16
  N=100000 ROUNDS=1 OUT=bench/results/aof.md python3 bench/aof/run.py
"""
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "snapshot"))
from common import LARDER, cli, free_port, report  # noqa: E402

N = int(os.environ.get("N", "200000"))
ROUNDS = int(os.environ.get("ROUNDS", "3"))
PIPES = [int(p) for p in os.environ.get("PIPES", "1 16").split()]
CLIENTS = int(os.environ.get("CLIENTS", "50"))
TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def start(kind, d, mode):
    port = free_port()
    aof = ["--appendonly", "no"] if mode == "off" else ["--appendonly", "yes", "--appendfsync", mode]
    if kind == "larder":
        argv = ["taskset", "-c", "0", LARDER, "serve", "--port", str(port), "--threads", "1", "--no-pin",
                "--dir", d, "--log-level", "warning", *aof]
    else:
        argv = ["taskset", "-c", "0", "redis-server", "--port", str(port), "--save", "", "--dir", d, *aof]
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(200):
        if cli(port, "PING") == "PONG":
            return proc, port
        time.sleep(0.05)
    raise RuntimeError(f"{kind} did not start")


def bench(port, test, pipe):
    out = subprocess.run(["taskset", "-c", "1", "redis-benchmark", "-p", str(port), "-t", test, "-n", str(N),
                          "-c", str(CLIENTS), "-P", str(pipe), "-r", "1000000", "-q"],
                         capture_output=True, text=True, timeout=900).stdout
    m = re.search(r"([\d.]+) requests per second", out.replace("\r", "\n").split("\n")[-2] if out else "")
    m = m or re.search(r"([\d.]+) requests per second", out)
    return float(m.group(1))


def run_one(kind, mode, test, pipe):
    d = tempfile.mkdtemp(prefix=f"aofbench-{kind}-")
    proc, port = start(kind, d, mode)
    try:
        c0 = cpu_seconds(proc.pid)
        rps = bench(port, test, pipe)
        cpu = cpu_seconds(proc.pid) - c0
        size = sum(os.path.getsize(os.path.join(r, f)) for r, _, fs in os.walk(d) for f in fs)
        return rps, cpu / N * 1e6, size
    finally:
        proc.kill()
        proc.wait()
        shutil.rmtree(d, ignore_errors=True)


def main():
    lines = ["# Write throughput with the append-only file: larder vs redis-server 7.0.15", "",
             f"`N={N} ROUNDS={ROUNDS} PIPES=\"{' '.join(map(str, PIPES))}\" CLIENTS={CLIENTS} python3 bench/aof/run.py`, "
             f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; servers on core 0 (larder --threads 1), "
             "redis-benchmark on core 1; medians of the rounds. CPU = server utime+stime per request.", "",
             "| test | P | appendfsync | larder rps | redis rps | larder/redis rps | larder CPU us/req | redis CPU us/req | larder/redis CPU |",
             "|---|---|---|---|---|---|---|---|---|"]
    for test in ("set", "hset"):
        for pipe in PIPES:
            for mode in ("off", "everysec", "always"):
                got = {}
                for kind in ("larder", "redis"):
                    runs = [run_one(kind, mode, test, pipe) for _ in range(ROUNDS)]
                    got[kind] = (statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs))
                (lr, lc), (rr, rc) = got["larder"], got["redis"]
                lines.append(f"| {test} | {pipe} | {mode} | {lr:,.0f} | {rr:,.0f} | {lr / rr:.2f} | {lc:.2f} | {rc:.2f} | {lc / rc:.2f} |")
                print(lines[-1], flush=True)
    lines += ["", f"Load average at the end: {os.getloadavg()[0]:.1f} (the box is shared: absolute numbers move, "
              "the same-run ratios are what to read)."]
    report(lines)


if __name__ == "__main__":
    main()
