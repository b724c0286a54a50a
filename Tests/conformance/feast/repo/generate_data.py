"""Writes the deterministic Parquet sources of the Feast conformance repo into DATA_DIR
(default: ./data next to this file).

usage: python generate_data.py [DATA_DIR]

driver_stats.parquet     driver_id (int64 entity) x 40 rows every 3 h from 2025-01-01: every
                         scalar type Feast maps (int32, int64, float32, float64, bool, string,
                         bytes, unix timestamp) and a list of each, plus conv_rate/city for the
                         push view. Special rows at the last materialized time (2025-01-04 21:xx):
                         driver 1003 all nulls, 1004 NaN floats, 1005 "zero" values and empty
                         lists (proto3 defaults that Feast still writes). Driver 1008 only has
                         rows after 2025-01-05T00:00, so materializing up to then leaves it offline only.
                         Drivers 1001 and 1008 (id % 7 == 0) have rows exactly at window ends.
customer_profile.parquet customer_id (string entity, one non-ASCII) daily rows; nulls for c3.
driver_customer.parquet  (driver_id, customer_id): a feature view with two join keys.
"""
import os
import sys
from datetime import datetime, timedelta, timezone

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

HERE = os.path.dirname(os.path.abspath(__file__))
OUT_DIR = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "data")
START = datetime(2025, 1, 1, tzinfo=timezone.utc)
MAT_END = datetime(2025, 1, 5, tzinfo=timezone.utc)
DRIVERS = [1001, 1002, 1003, 1004, 1005, 1006, 1007, 1008]
CUSTOMERS = ["c1", "c2", "c3", "c4", "cliënt-5"]
TS = pa.timestamp("us", tz="UTC")
CITIES = ["Paris", "Berlin", "Oslo", "Rome", "Zürich"]


def driver_rows(rng):
    rows = []
    for d in DRIVERS:
        for i in range(40):
            ts = START + timedelta(hours=3 * i, minutes=d % 7)
            if d == 1008 and ts <= MAT_END:
                continue
            # Feast's materialization window includes its end: the last row at or before it.
            last_materialized = ts <= MAT_END < ts + timedelta(hours=3)
            n = int(rng.integers(0, 4))
            row = {
                "driver_id": d, "event_timestamp": ts, "created": ts + timedelta(minutes=5),
                "conv_rate": float(np.float32(rng.random())), "city": CITIES[int(rng.integers(0, 5))],
                "f_int32": int(rng.integers(-2**31, 2**31)), "f_int64": int(rng.integers(-2**52, 2**52)),  # pandas turns a nullable int64 column into float64: keep it exact
                "f_float32": float(np.float32(rng.normal() * 1000)), "f_float64": float(rng.normal() * 1e6),
                "f_bool": bool(rng.random() > 0.5), "f_string": f"s{d}-{i}-ü",
                "f_bytes": bytes(rng.integers(0, 256, size=5).tolist()) + b"\x00",
                "f_unix_ts": START + timedelta(seconds=int(rng.integers(0, 10**7))),
                "l_int32": [int(x) for x in rng.integers(-1000, 1000, size=n)],
                "l_int64": [int(x) for x in rng.integers(-2**40, 2**40, size=n)],
                "l_float32": [float(np.float32(x)) for x in rng.normal(size=n)],
                "l_float64": [float(x) for x in rng.normal(size=n)],
                "l_bool": [bool(x > 0.5) for x in rng.random(size=n)],
                "l_string": [f"t{x}" for x in rng.integers(0, 99, size=n)],
                "l_bytes": [bytes([int(x), 0, 255]) for x in rng.integers(0, 256, size=n)],
                "l_unix_ts": [START + timedelta(days=int(x)) for x in rng.integers(0, 400, size=n)],
            }
            if last_materialized and d == 1003:
                for k in list(row):
                    if k not in ("driver_id", "event_timestamp", "created"):
                        row[k] = None
            if last_materialized and d == 1004:
                row.update(conv_rate=float("nan"), f_float32=float("nan"), f_float64=float("nan"))
            if last_materialized and d == 1005:
                row.update(f_int32=0, f_int64=0, f_float32=0.0, f_float64=0.0, f_bool=False,
                           f_string="", f_bytes=b"", city="",
                           **{k: [] for k in row if k.startswith("l_")})
            rows.append(row)
    return rows


DRIVER_SCHEMA = pa.schema([
    ("driver_id", pa.int64()), ("event_timestamp", TS), ("created", TS),
    ("conv_rate", pa.float32()), ("city", pa.string()),
    ("f_int32", pa.int32()), ("f_int64", pa.int64()), ("f_float32", pa.float32()),
    ("f_float64", pa.float64()), ("f_bool", pa.bool_()), ("f_string", pa.string()),
    ("f_bytes", pa.binary()), ("f_unix_ts", TS),
    ("l_int32", pa.list_(pa.int32())), ("l_int64", pa.list_(pa.int64())),
    ("l_float32", pa.list_(pa.float32())), ("l_float64", pa.list_(pa.float64())),
    ("l_bool", pa.list_(pa.bool_())), ("l_string", pa.list_(pa.string())),
    ("l_bytes", pa.list_(pa.binary())), ("l_unix_ts", pa.list_(TS)),
])


def customer_rows(rng):
    rows = []
    for c in CUSTOMERS:
        for day in range(6):
            ts = START + timedelta(days=day, hours=len(c))
            nulls = c == "c3" and day == 3
            rows.append({
                "customer_id": c, "event_timestamp": ts, "created": ts,
                "age": None if nulls else int(rng.integers(18, 90)),
                "segment": None if nulls else ["gold", "silver", "bronze"][int(rng.integers(0, 3))],
                "score": None if nulls else float(rng.random()),
            })
    return rows


CUSTOMER_SCHEMA = pa.schema([
    ("customer_id", pa.string()), ("event_timestamp", TS), ("created", TS),
    ("age", pa.int64()), ("segment", pa.string()), ("score", pa.float64()),
])


def driver_customer_rows(rng):
    rows = []
    for d in DRIVERS[:4]:
        for c in CUSTOMERS[:3]:
            for day in range(5):
                ts = START + timedelta(days=day, hours=d % 5)
                rows.append({"driver_id": d, "customer_id": c, "event_timestamp": ts, "created": ts,
                             "trips": int(rng.integers(0, 50)),
                             "last_rating": float(np.float32(rng.random() * 5))})
    return rows


DRIVER_CUSTOMER_SCHEMA = pa.schema([
    ("driver_id", pa.int64()), ("customer_id", pa.string()), ("event_timestamp", TS),
    ("created", TS), ("trips", pa.int32()), ("last_rating", pa.float32()),
])


def write(name, rows, schema):
    table = pa.Table.from_pylist(rows, schema=schema)
    pq.write_table(table, os.path.join(OUT_DIR, name))
    print(f"wrote {table.num_rows} rows to {name}")


if __name__ == "__main__":
    os.makedirs(OUT_DIR, exist_ok=True)
    rng = np.random.default_rng(20250101)
    write("driver_stats.parquet", driver_rows(rng), DRIVER_SCHEMA)
    write("customer_profile.parquet", customer_rows(rng), CUSTOMER_SCHEMA)
    write("driver_customer.parquet", driver_customer_rows(rng), DRIVER_CUSTOMER_SCHEMA)
