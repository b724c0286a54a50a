"""Deterministic data of the example feature repo (committed; re-run only to change it).

    python generate_data.py        # writes data/driver_stats.parquet, data/customer_profile.parquet,
                                   #        data/customer_profile.csv, entities.csv

Needs pyarrow only (no Larder, no Feast). Same seed, same bytes.
"""
import csv
import random
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

HERE = Path(__file__).resolve().parent
BASE = datetime(2025, 1, 1, tzinfo=timezone.utc)
CITIES = ["Paris", "Lisbon", "Oslo", "Rome", "Madrid"]


def driver_stats(rng):
    rows = []
    for driver in range(1001, 1051):
        for hour in range(0, 7 * 24):
            ts = BASE + timedelta(hours=hour)
            rows.append({
                "driver_id": driver,
                "event_timestamp": ts,
                "created": ts + timedelta(minutes=rng.randrange(1, 30)),
                "conv_rate": round(rng.random(), 3),
                "acc_rate": round(rng.random(), 3),
                "avg_daily_trips": rng.randrange(5, 60),
                "city": rng.choice(CITIES),
                "is_active": rng.random() < 0.8,
                "recent_trips": [rng.randrange(100) for _ in range(3)],
            })
    return pa.Table.from_pylist(rows, schema=pa.schema([
        ("driver_id", pa.int64()), ("event_timestamp", pa.timestamp("us", tz="UTC")),
        ("created", pa.timestamp("us", tz="UTC")), ("conv_rate", pa.float32()), ("acc_rate", pa.float64()),
        ("avg_daily_trips", pa.int64()), ("city", pa.string()), ("is_active", pa.bool_()),
        ("recent_trips", pa.list_(pa.int64())),
    ]))


def customer_profile(rng):
    rows = []
    for c in range(1, 201):
        for day in range(0, 7, 2):
            rows.append({
                "customer_id": f"C{c:04d}",
                "event_timestamp": BASE + timedelta(days=day, hours=rng.randrange(24)),
                "age": rng.randrange(18, 80),
                "segment": rng.choice(["gold", "silver", "bronze"]),
                "lifetime_value": round(rng.random() * 1000, 2),
            })
    return pa.Table.from_pylist(rows, schema=pa.schema([
        ("customer_id", pa.string()), ("event_timestamp", pa.timestamp("us", tz="UTC")), ("age", pa.int64()),
        ("segment", pa.string()), ("lifetime_value", pa.float64()),
    ]))


def main():
    rng = random.Random(42)
    data = HERE / "data"
    data.mkdir(exist_ok=True)
    pq.write_table(driver_stats(rng), data / "driver_stats.parquet", row_group_size=1000, compression="zstd")
    customers = customer_profile(rng)
    pq.write_table(customers, data / "customer_profile.parquet", compression="zstd")
    with open(data / "customer_profile.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(customers.column_names)
        for r in customers.to_pylist():
            r["event_timestamp"] = r["event_timestamp"].strftime("%Y-%m-%dT%H:%M:%SZ")
            w.writerow(r.values())
    # Training examples: a driver, a customer and the time of the event to predict.
    with open(HERE / "entities.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["driver_id", "customer_id", "event_timestamp", "label"])
        for _ in range(1000):
            ts = BASE + timedelta(seconds=rng.randrange(8 * 86400))
            w.writerow([rng.randrange(1001, 1056), f"C{rng.randrange(1, 201):04d}", ts.strftime("%Y-%m-%dT%H:%M:%SZ"),
                        rng.randrange(2)])


if __name__ == "__main__":
    main()
