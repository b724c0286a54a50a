"""Deterministic Parquet sources for bench/materialize (the recipe of Feast 0.67 perf anchors
in /work/shared/feast-perf/gen_data.py, copied so the bench is self-contained).

usage: python gen_data.py OUT_DIR
writes (snappy, pyarrow):
  driver_stats_1m.parquet    1,000,000 rows = 100,000 drivers x 10 rows
  driver_stats_100k.parquet    100,000 rows =  10,000 drivers x 10 rows
  entity_df_100k.parquet     100,000 entity rows (random driver_id in the 1M set, random ts in range)
  entity_df_10k.parquet       10,000 entity rows (same recipe, different seed)

Layout of a source: driver k (driver_id = 1_000_000 + k) has one row per day d = 0..9,
event_timestamp = 2025-01-01T00:00Z + d days + uniform random second within that day,
created = event_timestamp + 60 s.  Rows are written sorted by event_timestamp
(append-log order).  Features (10): 4 float64, 2 float32, 2 int64, 1 string, 1 bool.
"""
import os
import sys

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

START = pd.Timestamp("2025-01-01T00:00:00Z")
DAYS = 10
ID_BASE = 1_000_000
CITIES = np.array(
    ["Paris", "Berlin", "Oslo", "Rome", "Madrid", "Lisbon", "Vienna", "Prague",
     "Warsaw", "Dublin", "Athens", "Helsinki", "Stockholm", "Copenhagen",
     "Amsterdam", "Brussels"], dtype=object)


def make_source(n_drivers: int, seed: int) -> pa.Table:
    rng = np.random.default_rng(seed)
    n = n_drivers * DAYS
    driver_id = np.repeat(np.arange(n_drivers, dtype=np.int64) + ID_BASE, DAYS)
    day = np.tile(np.arange(DAYS, dtype=np.int64), n_drivers)
    sec = rng.integers(0, 86400, size=n, dtype=np.int64)
    ts_ns = START.value + (day * 86400 + sec) * 1_000_000_000
    order = np.argsort(ts_ns, kind="stable")
    cols = {
        "driver_id": driver_id,
        "event_timestamp": ts_ns,
        "created": ts_ns + 60 * 1_000_000_000,
        "conv_rate": rng.random(n),                                   # float64
        "acc_rate": rng.random(n),                                    # float64
        "avg_speed": rng.normal(45.0, 10.0, n),                       # float64
        "revenue": np.round(rng.gamma(2.0, 50.0, n), 2),              # float64
        "rating": rng.uniform(1.0, 5.0, n).astype(np.float32),        # float32
        "lat": rng.uniform(35.0, 60.0, n).astype(np.float32),         # float32
        "trips_today": rng.integers(0, 50, n, dtype=np.int64),        # int64
        "total_km": rng.integers(0, 1_000_000, n, dtype=np.int64),    # int64
        "city": CITIES[rng.integers(0, len(CITIES), n)],              # string
        "is_active": rng.random(n) > 0.3,                             # bool
    }
    cols = {k: v[order] for k, v in cols.items()}
    ts_type = pa.timestamp("ns", tz="UTC")
    arrays = []
    names = []
    for k, v in cols.items():
        if k in ("event_timestamp", "created"):
            arrays.append(pa.array(v, type=pa.int64()).cast(ts_type))
        elif k == "city":
            arrays.append(pa.array(list(v), type=pa.string()))
        else:
            arrays.append(pa.array(v))
        names.append(k)
    return pa.Table.from_arrays(arrays, names=names)


def make_entity_df(n_rows: int, n_drivers: int, seed: int) -> pa.Table:
    rng = np.random.default_rng(seed)
    driver_id = rng.integers(0, n_drivers, n_rows, dtype=np.int64) + ID_BASE
    ts_ns = START.value + rng.integers(0, DAYS * 86400, n_rows, dtype=np.int64) * 1_000_000_000
    return pa.table({
        "driver_id": pa.array(driver_id),
        "event_timestamp": pa.array(ts_ns, type=pa.int64()).cast(pa.timestamp("ns", tz="UTC")),
    })


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.expanduser("~/.cache/feast-perf/data")
    os.makedirs(out, exist_ok=True)
    jobs = [
        ("driver_stats_1m.parquet", lambda: make_source(100_000, 42)),
        ("driver_stats_100k.parquet", lambda: make_source(10_000, 43)),
        ("entity_df_100k.parquet", lambda: make_entity_df(100_000, 100_000, 44)),
        ("entity_df_10k.parquet", lambda: make_entity_df(10_000, 100_000, 45)),
    ]
    for name, fn in jobs:
        t = fn()
        path = os.path.join(out, name)
        pq.write_table(t, path, compression="snappy")
        print(f"{path}: {t.num_rows} rows, {os.path.getsize(path)/1e6:.1f} MB")
    print(pq.read_schema(os.path.join(out, "driver_stats_1m.parquet")))


if __name__ == "__main__":
    main()
