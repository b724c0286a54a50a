#!/usr/bin/env python3
"""Parquet decode throughput: LarderParquet (Swift) vs pyarrow on the same 10M-row file.

    /root/.cache/larder/venv-r7/bin/python bench/parquet/bench.py [--repeat 5] [--codec snappy]

The file is the anchor file of the Parquet spec (10,000,000 rows x 10 columns, pyarrow
defaults: dictionary on, v1 pages, 1Mi-row row groups, snappy), generated once and cached
under ~/.cache/larder/bench/. Each reader runs in its own process (so peak RSS is its own),
page cache warm, best of --repeat. pyarrow: `pq.read_table(use_threads=False)` and with 2
threads. Larder: `.build/release/larder-parquet-bench` (build with
`swift build -c release --product larder-parquet-bench`), 1 thread and 2 threads.
"""
import argparse
import json
import os
import resource
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
CACHE = os.path.expanduser("~/.cache/larder/bench")
N = 10_000_000


def make_file(path: str, codec: str):
    """Same generator as the spec's bench_anchor.py (seed 2024)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq
    rng = np.random.default_rng(2024)
    ts = 1_704_067_200_000_000 + np.cumsum(rng.integers(0, 600_000, N, dtype=np.int64))
    t = pa.table({
        "entity_id": pa.array(rng.integers(0, 100_000, N, dtype=np.int64)),
        "event_timestamp": pa.array(ts, pa.timestamp("us", tz="UTC")),
        "conv_rate": pa.array(rng.random(N, dtype=np.float32)),
        "acc_rate": pa.array(np.round(rng.random(N), 3).astype(np.float32)),
        "avg_daily_trips": pa.array(rng.integers(0, 1000, N, dtype=np.int32)),
        "lifetime_trips": pa.array(rng.integers(0, 50_000, N, dtype=np.int64)),
        "rating": pa.array(np.round(rng.random(N) * 5, 2)),
        "earnings": pa.array(np.round(rng.random(N) * 1000.0, 2)),
        "cancel_count": pa.array(rng.integers(0, 50, N, dtype=np.int64)),
        "zone": pa.array(rng.integers(0, 300, N, dtype=np.int32)),
    })
    tmp = path + ".tmp"
    pq.write_table(t, tmp, compression=codec)
    os.replace(tmp, path)


def pyarrow_worker(path: str, threads: int, repeat: int):
    import pyarrow as pa
    import pyarrow.parquet as pq
    pa.set_cpu_count(max(1, threads))
    pa.set_io_thread_count(max(1, threads))
    best = float("inf")
    rows = 0
    for _ in range(repeat):
        t0 = time.perf_counter()
        table = pq.read_table(path, use_threads=threads > 1)
        best = min(best, time.perf_counter() - t0)
        rows = table.num_rows
        del table
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps({"reader": "pyarrow", "threads": threads, "rows": rows, "seconds": best,
                      "rows_per_sec": rows / best, "peak_rss_bytes": peak, "version": pa.__version__}))


def check_values(path: str, larder_bin: str):
    """The Swift reader's per-column sums must equal pyarrow's (timestamps in ns)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq
    got = run_json([larder_bin, path, "--sums"])["sums"]
    table = pq.read_table(path)
    for name in table.column_names:
        col = table.column(name)
        if pa.types.is_floating(col.type):
            want = float(np.sum(col.to_numpy().astype(np.float64)))
            assert abs(got[name] - want) <= 1e-9 * max(1.0, abs(want)), (name, got[name], want)
        else:
            vals = col.cast(pa.int64()).to_numpy().astype(np.uint64)
            if pa.types.is_timestamp(col.type):
                vals = vals * np.uint64({"s": 10**9, "ms": 10**6, "us": 1000, "ns": 1}[col.type.unit])
            want = int(np.sum(vals, dtype=np.uint64).astype(np.int64))
            assert got[name] == want, (name, got[name], want)
    return len(table.column_names)


def run_json(cmd):
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--codec", default="snappy")
    ap.add_argument("--pyarrow-worker", nargs=3, metavar=("PATH", "THREADS", "REPEAT"))
    ap.add_argument("--check-values", metavar="PATH")
    ap.add_argument("--larder-bin", default=os.path.join(ROOT, ".build", "release", "larder-parquet-bench"))
    a = ap.parse_args()
    if a.check_values:
        print(json.dumps({"checked_columns": check_values(a.check_values, a.larder_bin)}))
        return
    if a.pyarrow_worker:
        pyarrow_worker(a.pyarrow_worker[0], int(a.pyarrow_worker[1]), int(a.pyarrow_worker[2]))
        return
    os.makedirs(CACHE, exist_ok=True)
    path = os.path.join(CACHE, f"anchor_10m_{a.codec}.parquet")
    if not os.path.exists(path):
        print(f"generating {path} ...", file=sys.stderr)
        make_file(path, a.codec)
    if not os.path.exists(a.larder_bin):
        sys.exit(f"{a.larder_bin} missing: run `swift build -c release --product larder-parquet-bench`")
    size = os.path.getsize(path)
    # In a child process: a large parent would pass its peak RSS on to the measured children.
    checked = run_json([sys.executable, __file__, "--check-values", path, "--larder-bin", a.larder_bin])["checked_columns"]
    print(f"values check: {checked} columns decoded by larder match pyarrow (per-column sums)")
    results = []
    for threads in (1, 2):
        results.append(run_json([sys.executable, __file__, "--pyarrow-worker", path, str(threads), str(a.repeat)]))
    for threads, mode in ((1, "columns"), (2, "columns"), (2, "rowgroups")):
        results.append(run_json([a.larder_bin, path, "--threads", str(threads), "--repeat", str(a.repeat),
                                 "--parallel", mode]))
    # The same without ParquetMemory.keepFreedMemoryForReuse() (glibc defaults).
    r = run_json([a.larder_bin, path, "--threads", "1", "--repeat", str(a.repeat), "--no-mallopt"])
    r["parallel"] = "glibc-dflt"
    results.append(r)
    base = results[0]["rows_per_sec"]
    print(f"file: {path} ({size / 1e6:.1f} MB, {a.codec}), best of {a.repeat}, page cache warm")
    print(f"{'reader':<10}{'threads':>8}{'mode':>11}{'seconds':>9}{'M rows/s':>10}{'file MB/s':>10}{'vs pyarrow-1':>13}{'peak RSS MB':>12}")
    for r in results:
        print(f"{r['reader']:<10}{r['threads']:>8}{r.get('parallel', '-'):>11}{r['seconds']:>9.3f}"
              f"{r['rows_per_sec'] / 1e6:>10.2f}{size / r['seconds'] / 1e6:>10.0f}{r['rows_per_sec'] / base:>12.2f}x"
              f"{r['peak_rss_bytes'] / 2**20:>12.0f}")
    print(json.dumps({"file_bytes": size, "results": results}))


if __name__ == "__main__":
    main()
