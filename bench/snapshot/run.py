#!/usr/bin/env python3
"""SAVE and start-up load of Feast entities: larder vs redis-server in the same run.

For each round and each server (larder --threads 2, redis-server), on a fresh directory:
preload FEAST_KEYS Feast entities with larder-bench (--workload feast-read --preload-only, the
same keys and values for both), time SAVE (wall clock, redis-cli), then kill the server and time a
restart on that file until PING answers PONG (the load; larder answers -LOADING meanwhile, as
redis-server does). Ratios are redis/larder: above 1.00 larder is faster. Order alternates per round.

Environment: FEAST_KEYS (1000000), ROUNDS (3), LARDER_BIN, LARDER_BENCH_BIN, OUT (markdown file).
"""
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

from common import BENCH, LARDER, cli, free_port, report
KEYS = int(os.environ.get("FEAST_KEYS", "1000000"))
ROUNDS = int(os.environ.get("ROUNDS", "3"))



def argv(kind, port, directory):
    if kind == "larder":
        return [LARDER, "serve", "--port", str(port), "--threads", "2", "--no-pin", "--dir", directory]
    return ["redis-server", "--port", str(port), "--save", "", "--appendonly", "no", "--dir", directory]



def start_and_wait(kind, port, directory):
    t0 = time.monotonic()
    proc = subprocess.Popen(argv(kind, port, directory), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while True:
        if proc.poll() is not None:
            sys.exit(f"{kind} exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=600) as s:
                s.sendall(b"PING\r\n")
                if s.recv(64).startswith(b"+PONG"):
                    return proc, time.monotonic() - t0
        except OSError:
            pass
        time.sleep(0.005)


def one(kind):
    directory = tempfile.mkdtemp(prefix=f"snapbench-{kind}-")
    try:
        port = free_port()
        proc, _ = start_and_wait(kind, port, directory)
        subprocess.run([BENCH, "--port", str(port), "--workload", "feast-read", "--keyspace", str(KEYS), "--preload-only"],
                       check=True, capture_output=True)
        keys = int(cli(port, "DBSIZE"))
        t0 = time.monotonic()
        assert cli(port, "SAVE") == "OK"
        save_s = time.monotonic() - t0
        size = os.path.getsize(os.path.join(directory, "dump.rdb"))
        proc.kill(); proc.wait()
        port = free_port()
        proc, load_s = start_and_wait(kind, port, directory)
        loaded = int(cli(port, "DBSIZE"))
        proc.kill(); proc.wait()
        assert loaded == keys, (kind, loaded, keys)
        return {"keys": keys, "bytes": size, "save": save_s, "load": load_s}
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def main():
    rows = []
    for r in range(ROUNDS):
        order = ["larder", "redis"] if r % 2 == 0 else ["redis", "larder"]
        got = {k: one(k) for k in order}
        rows.append(got)
        print(f"round {r + 1}: " + ", ".join(f"{k} save {v['save']:.2f} s load {v['load']:.2f} s ({v['bytes'] / 1e6:.0f} MB)"
                                             for k, v in got.items()), file=sys.stderr)
    lines = [f"# Snapshot SAVE and start-up load: larder vs redis-server, {KEYS} Feast entities, {ROUNDS} round(s)", "",
             f"`FEAST_KEYS={KEYS} ROUNDS={ROUNDS} bench/snapshot/run.py` on {os.cpu_count()} cores, "
             f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; larder `--threads 2`, redis-server `--save ''`.", "",
             "| round | larder save s | redis save s | save ratio redis/larder | larder load s | redis load s | load ratio redis/larder | larder file MB | redis file MB |",
             "|---|---|---|---|---|---|---|---|---|"]
    for i, g in enumerate(rows):
        L, R = g["larder"], g["redis"]
        lines.append(f"| {i + 1} | {L['save']:.2f} | {R['save']:.2f} | {R['save'] / L['save']:.2f} | {L['load']:.2f} | {R['load']:.2f} | "
                     f"{R['load'] / L['load']:.2f} | {L['bytes'] / 1e6:.0f} | {R['bytes'] / 1e6:.0f} |")
    save = statistics.median(g["redis"]["save"] / g["larder"]["save"] for g in rows)
    load = statistics.median(g["redis"]["load"] / g["larder"]["load"] for g in rows)
    lines += ["", f"Median ratios (redis/larder): save {save:.2f}, load {load:.2f}."]
    report(lines)


if __name__ == "__main__":
    main()
