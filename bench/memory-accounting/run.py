#!/usr/bin/env python3
"""Used memory as each server reports it vs the process's resident size, and how far a
pipelined write load overshoots maxmemory under an eviction policy: Larder vs redis-server.

Accounting: for each dataset (1M keys by default) a fresh server is loaded through pipelines,
then INFO used_memory, MEMORY STATS total.allocated and VmRSS (/proc/PID/status) are read.
Overshoot: a fresh server with `maxmemory` MAXMEMORY and allkeys-lru takes WRITES pipelined
SETs of 100-byte values (pipelines of 1000) while another connection reads INFO used_memory
every 5 ms; reported: the highest used_memory seen over the limit, and evicted_keys.

Run (needs the release build and redis-server 7):
  ~/.cache/larder/venv-r7/bin/python bench/memory-accounting/run.py [--keys 1000000] [--out FILE]
"""
import argparse
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time

import redis

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LARDER = os.path.join(ROOT, ".build/release/larder")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(kind, extra=()):
    port = free_port()
    work = tempfile.mkdtemp(prefix=f"memacct-{kind}-")
    if kind == "larder":
        argv = [LARDER, "serve", "--port", str(port), "--threads", "2", "--log-level", "warning"]
    else:
        argv = ["redis-server", "--port", str(port), "--save", "", "--appendonly", "no"]
    proc = subprocess.Popen(argv + list(extra), cwd=work, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    c = redis.Redis(port=port)
    for _ in range(200):
        try:
            c.ping()
            return proc, c
        except redis.ConnectionError:
            time.sleep(0.05)
    raise RuntimeError(f"{kind} did not start")


def rss(pid, field="VmRSS:"):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field):
                return int(line.split()[1]) * 1024
    return 0


def load(c, dataset, keys):
    p = c.pipeline(transaction=False)
    fields = {f"f{j}": f"value-{j:02d}-xxxx" for j in range(1, 11)}
    feast = {b"_ts:driver_hourly_stats": b"\x08\xe0\xd4\x9f\xb8\x06"}
    feast.update({bytes([0x1a + j]) * 4: b"\x20" + bytes([j]) * 8 for j in range(9)})
    for i in range(keys):
        if dataset == "strings":
            p.set(f"k:{i:012d}", b"v" * 16)
        elif dataset == "hashes":
            p.hset(f"h:{i:012d}", mapping=fields)
        else:  # Feast entity keys: serialized EntityKey + project, 10 fields of Value protobufs
            p.hset(b"\x02\x00\x00\x00driver_id\x04\x00\x00\x00\x08\x00\x00\x00" + i.to_bytes(8, "little") + b"feature_repo", mapping=feast)
        if i % 2000 == 1999:
            p.execute()
    p.execute()


def memory_stats(c):
    raw = c.execute_command("MEMORY", "STATS")
    if isinstance(raw, dict):
        return {k.decode() if isinstance(k, bytes) else k: v for k, v in raw.items()}
    return {raw[i].decode(): raw[i + 1] for i in range(0, len(raw), 2)}


def accounting(keys, datasets):
    rows = []
    for dataset in datasets:
        for kind in ["redis", "larder"]:
            proc, c = start(kind)
            try:
                load(c, dataset, keys)
                time.sleep(1)
                used = int(c.info("memory")["used_memory"])
                allocated = int(memory_stats(c).get("total.allocated", 0))
                resident = rss(proc.pid)
                rows.append((dataset, kind, c.dbsize(), used, allocated, resident))
            finally:
                proc.kill(); proc.wait()
    return rows


def overshoot(writes, maxmemory):
    rows = []
    for kind in ["redis", "larder"]:
        proc, c = start(kind, ["--maxmemory", str(maxmemory), "--maxmemory-policy", "allkeys-lru"])
        try:
            peak = [0]
            done = threading.Event()

            def watch():
                w = redis.Redis(port=c.connection_pool.connection_kwargs["port"])
                while not done.is_set():
                    peak[0] = max(peak[0], int(w.info("memory")["used_memory"]))
                    time.sleep(0.005)

            t = threading.Thread(target=watch)
            t.start()
            started = time.monotonic()
            p = c.pipeline(transaction=False)
            errors = 0
            for i in range(writes):
                p.set(f"key:{i:010d}", b"x" * 100)
                if i % 1000 == 999:
                    errors += sum(isinstance(r, Exception) for r in p.execute(raise_on_error=False))
            p.execute(raise_on_error=False)
            seconds = time.monotonic() - started
            time.sleep(0.3)
            done.set(); t.join()
            info = c.info()
            rows.append((kind, maxmemory, peak[0], peak[0] - maxmemory, int(info["used_memory"]),
                         int(info["evicted_keys"]), c.dbsize(), errors, writes / seconds))
        finally:
            proc.kill(); proc.wait()
    return rows


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--keys", type=int, default=1_000_000)
    ap.add_argument("--datasets", default="strings,hashes,feast")
    ap.add_argument("--writes", type=int, default=1_000_000)
    ap.add_argument("--maxmemory", type=int, default=64 * 1024 * 1024)
    ap.add_argument("--out")
    a = ap.parse_args()
    mb = lambda n: f"{n / 1048576:.1f}"
    lines = [f"# Memory accounting: used_memory vs RSS, and maxmemory overshoot", "",
             f"`{' '.join(sys.argv)}` (Larder `--threads 2`, redis-server 7.0.15 defaults)", "",
             f"## {a.keys} keys per dataset", "",
             "| dataset | server | keys | INFO used_memory MB | MEMORY STATS total.allocated MB | RSS MB | RSS - used MB | used / RSS |",
             "|---|---|---|---|---|---|---|---|"]
    for d, k, n, used, alloc, res in accounting(a.keys, a.datasets.split(",")):
        lines.append(f"| {d} | {k} | {n} | {mb(used)} | {mb(alloc)} | {mb(res)} | {mb(res - used)} | {used / res:.3f} |")
    lines += ["", f"## Overshoot: {a.writes} pipelined SETs of 100 B under maxmemory {mb(a.maxmemory)} MB, allkeys-lru", "",
              "| server | maxmemory MB | peak used_memory MB (sampled every 5 ms) | overshoot MB | used after MB | evicted_keys | keys left | errors | writes/s |",
              "|---|---|---|---|---|---|---|---|---|"]
    for k, m, peak, over, after, ev, left, err, rate in overshoot(a.writes, a.maxmemory):
        lines.append(f"| {k} | {mb(m)} | {mb(peak)} | {mb(over)} | {mb(after)} | {ev} | {left} | {err} | {rate:.0f} |")
    text = "\n".join(lines) + "\n"
    print(text)
    if a.out:
        with open(a.out, "w") as f:
            f.write(text)


if __name__ == "__main__":
    main()
