"""Deterministic offline data for the Feast golden tests: every case the materialization
and point-in-time join must agree with Feast on.

python gen_data.py OUT_DIR  writes
  driver_stats.parquet    driver_id; hourly rows over 4 days in small row groups, with late
                          (out-of-order) rows, duplicates resolved by `created`, nulls, NaN,
                          empty and non-empty lists, rows exactly on the window bounds and after.
  trips.parquet           multi-key entity (driver_id, customer_id), Array(Float32) feature.
  customer_profile.parquet / customer_profile.csv   the same rows; Feast reads the Parquet
                          file, the Larder repo the CSV twin.
"""
import csv
import random
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

BASE = datetime(2025, 1, 1, tzinfo=timezone.utc)
CITIES = ["Paris", "Lisbon", "Oslo", "Rome", None]


def driver_rows(rng):
    rows = []
    for driver in range(1001, 1041):
        for hour in range(0, 96, rng.choice([1, 2, 3, 5])):
            ts = BASE + timedelta(hours=hour, minutes=rng.randrange(60), seconds=rng.randrange(60),
                                  microseconds=rng.choice([0, 0, 123456]))
            rows.append(driver_row(rng, driver, ts, ts + timedelta(minutes=5)))
    # Duplicates on (driver, event time): the greater `created` must win, wherever it sits.
    for driver in range(1001, 1041, 3):
        ts = BASE + timedelta(days=3, hours=23, minutes=59)
        rows.append(driver_row(rng, driver, ts, ts + timedelta(minutes=1)))
        rows.append(driver_row(rng, driver, ts, ts + timedelta(minutes=9)))
        rows.append(driver_row(rng, driver, ts, ts + timedelta(minutes=3)))
    # Exactly on the materialization window end (2025-01-05T00:00:00) and after it.
    for driver in (1002, 1005, 1011):
        rows.append(driver_row(rng, driver, BASE + timedelta(days=4), BASE + timedelta(days=4)))
        rows.append(driver_row(rng, driver, BASE + timedelta(days=4, seconds=1), BASE + timedelta(days=4, seconds=1)))
    # A driver seen only before the window start.
    rows.append(driver_row(rng, 1099, BASE - timedelta(days=3), BASE - timedelta(days=3)))
    rng.shuffle(rows)  # late rows: the file is not in time order
    return rows


def driver_row(rng, driver, ts, created):
    null = rng.random() < 0.1
    return {
        "driver_id": driver,
        "event_timestamp": ts,
        "created": created,
        "conv_rate": None if null else round(rng.random(), 4),
        "acc_rate": float("nan") if rng.random() < 0.05 else (None if null else rng.random()),
        "avg_daily_trips": rng.randrange(1000),
        "rating": rng.randrange(1, 6),
        "city": rng.choice(CITIES),
        "is_active": rng.random() < 0.5,
        "recent_trips": None if null else [rng.randrange(30000) for _ in range(rng.randrange(0, 4))],
        "tags": [rng.choice("abc") for _ in range(rng.randrange(0, 3))],
    }


DRIVER_SCHEMA = pa.schema([
    ("driver_id", pa.int64()),
    ("event_timestamp", pa.timestamp("us", tz="UTC")),
    ("created", pa.timestamp("us", tz="UTC")),
    ("conv_rate", pa.float32()),
    ("acc_rate", pa.float64()),
    ("avg_daily_trips", pa.int64()),
    ("rating", pa.int32()),
    ("city", pa.string()),
    ("is_active", pa.bool_()),
    ("recent_trips", pa.list_(pa.int64())),
    ("tags", pa.list_(pa.string())),
])


def trip_rows(rng):
    rows = []
    for i in range(300):
        ts = BASE + timedelta(minutes=rng.randrange(4 * 24 * 60))
        rows.append({
            "driver_id": rng.randrange(1001, 1011),
            "customer_id": f"c{rng.randrange(12)}",
            "ts": ts,
            "distance": round(rng.random() * 30, 3),
            "passengers": rng.randrange(1, 5),
            "scores": [round(rng.random(), 2) for _ in range(rng.randrange(0, 3))],
        })
    return rows


TRIP_SCHEMA = pa.schema([
    ("driver_id", pa.int64()),
    ("customer_id", pa.string()),
    ("ts", pa.timestamp("us", tz="UTC")),
    ("distance", pa.float64()),
    ("passengers", pa.int32()),
    ("scores", pa.list_(pa.float32())),
])


def customer_rows(rng):
    rows = []
    for c in range(12):
        for day in range(0, 4):
            if rng.random() < 0.3:
                continue
            ts = BASE + timedelta(days=day, hours=rng.randrange(24))
            rows.append({
                "customer_id": f"c{c}",
                "event_timestamp": ts,
                "age": rng.randrange(18, 80),
                "segment": rng.choice(["gold", "silver", "bronze", None]),
                "lifetime_value": round(rng.random() * 1000, 2),
            })
    return rows


CUSTOMER_SCHEMA = pa.schema([
    ("customer_id", pa.string()),
    ("event_timestamp", pa.timestamp("us", tz="UTC")),
    ("age", pa.int64()),
    ("segment", pa.string()),
    ("lifetime_value", pa.float64()),
])


def write_csv(rows, schema, path):
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(schema.names)
        for r in rows:
            out = []
            for name in schema.names:
                v = r[name]
                if v is None:
                    out.append("")
                elif isinstance(v, datetime):
                    out.append(v.strftime("%Y-%m-%dT%H:%M:%S.%fZ"))
                else:
                    out.append(v)
            w.writerow(out)


def main(out):
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rng = random.Random(20250101)
    pq.write_table(pa.Table.from_pylist(driver_rows(rng), schema=DRIVER_SCHEMA), out / "driver_stats.parquet",
                   row_group_size=200)
    pq.write_table(pa.Table.from_pylist(trip_rows(rng), schema=TRIP_SCHEMA), out / "trips.parquet")
    customers = customer_rows(rng)
    pq.write_table(pa.Table.from_pylist(customers, schema=CUSTOMER_SCHEMA), out / "customer_profile.parquet")
    write_csv(customers, CUSTOMER_SCHEMA, out / "customer_profile.csv")


if __name__ == "__main__":
    main(sys.argv[1])
