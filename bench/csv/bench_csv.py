"""Times Larder's CSV reader against pyarrow.csv (single-threaded) on one generated file.

Usage: bench_csv.py LARDER_BINARY ROWS WORKDIR
The file looks like Feast driver stats: ISO 8601 UTC timestamps, int64 ids, float64 rates,
an int64 count, a naive timestamp and a short string (some quoted, some empty = null).
Both readers infer the column types and convert every column. Larder runs as
`larder cat FILE --format none` (reads everything, prints only the row count), so its time
includes process start-up; pyarrow is timed in-process. Best of REPEATS runs each.
"""
import os
import random
import subprocess
import sys
import time

import pyarrow.csv as pacsv

REPEATS = int(os.environ.get("REPEATS", "3"))


def generate(path, rows):
    rng = random.Random(42)
    base = 1_709_251_200  # 2024-03-01T00:00:00Z
    cities = ["Paris", "Berlin", "New York, NY", "São Paulo", "say \"hi\"", ""]
    with open(path, "w", encoding="utf-8", newline="") as out:
        out.write("event_timestamp,driver_id,conv_rate,acc_rate,avg_daily_trips,created,city\n")
        lines = []
        for i in range(rows):
            ts = base + i * 7
            stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))
            created = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(ts + 60))
            city = cities[i % len(cities)]
            if "," in city or '"' in city:
                city = '"' + city.replace('"', '""') + '"'
            lines.append(f"{stamp},{1000 + rng.randrange(100000)},{rng.random():.6f},{rng.random():.9f},"
                         f"{rng.randrange(1000)},{created},{city}\n")
            if len(lines) == 100_000:
                out.writelines(lines)
                lines = []
        out.writelines(lines)


def best(run):
    times = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


def main():
    larder, rows, workdir = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    os.makedirs(workdir, exist_ok=True)
    path = os.path.join(workdir, f"drivers_{rows}.csv")
    if not os.path.exists(path):
        generate(path, rows)
    size_mb = os.path.getsize(path) / 1e6

    def run_larder():
        result = subprocess.run([larder, "cat", path, "--format", "none"], capture_output=True, text=True)
        if result.returncode != 0:
            sys.exit(f"larder failed: {result.stderr.strip()}")
        counted = int(result.stdout.split()[0])
        if counted != rows:
            sys.exit(f"larder read {counted} rows, expected {rows}")

    def run_pyarrow():
        table = pacsv.read_csv(path, read_options=pacsv.ReadOptions(use_threads=False))
        if table.num_rows != rows:
            sys.exit(f"pyarrow read {table.num_rows} rows, expected {rows}")

    larder_s = best(run_larder)
    pyarrow_s = best(run_pyarrow)
    print(f"file: {path} ({rows} rows, {size_mb:.1f} MB)")
    print(f"larder cat --format none: {larder_s:.3f} s  {rows / larder_s:,.0f} rows/s  {size_mb / larder_s:.1f} MB/s")
    print(f"pyarrow.csv (1 thread):   {pyarrow_s:.3f} s  {rows / pyarrow_s:,.0f} rows/s  {size_mb / pyarrow_s:.1f} MB/s")
    print(f"ratio larder/pyarrow rows/s: {pyarrow_s / larder_s:.2f}")


if __name__ == "__main__":
    main()
