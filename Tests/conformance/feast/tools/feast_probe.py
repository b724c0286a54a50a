"""Reads a materialized Feast repo through the Feast SDK (run inside a Feast venv) and writes
what came back, next to what the Parquet sources say should come back, as JSON.

usage: feast_probe.py REPO_DIR OUT_JSON [VARIANTS_JSON]

Reads (each both sync `get_online_features` and async `get_online_features_async`):
  driver_refs    every driver_hourly_stats feature + driver_push_stats, int64 entity key,
                 drivers that exist, one with all-null values, one with NaN, one with proto3
                 "zero" values, one only offline, one unknown
  customer_refs  customer_profile, string entity key (one non-ASCII, one unknown)
  pair_refs      driver_customer_stats: two join keys
  service        feature service driver_activity (two entities), full feature names
VARIANTS_JSON: a list of {name, online_store: {...yaml keys...}, raw: {port, db, password},
  first_driver, expire_after}: for each, the probe writes a feature_store yaml with that
  online_store, writes rows through `write_to_online_store`, reads them back sync and async,
  checks the raw key (db, TTL) with redis-py and, with expire_after, waits for the key TTL to
  pass and reads again.
Values are made JSON-comparable by `canon`: bytes -> {"b": hex}, datetimes -> {"t": iso},
NaN -> "NaN".
"""
import asyncio
import json
import math
import os
import struct
import sys
import time
from datetime import datetime, timezone

import mmh3
import pyarrow.parquet as pq
import yaml
from feast import FeatureStore
from feast.protos.feast.serving.ServingService_pb2 import FieldStatus

REPO = sys.argv[1]
MAT_START = datetime(2025, 1, 1, tzinfo=timezone.utc)
MAT_END = datetime(2025, 1, 5, tzinfo=timezone.utc)
DRIVERS = [1001, 1002, 1003, 1004, 1005, 1006, 1007, 1008, 9999]
CUSTOMERS = ["c1", "c2", "c3", "c4", "cliënt-5", "nobody"]
PAIRS = [(1001, "c1"), (1002, "c3"), (1004, "c2"), (1005, "c1"), (9999, "c1")]


def canon(v):
    if isinstance(v, float):
        return "NaN" if math.isnan(v) else v
    if isinstance(v, bytes):
        return {"b": v.hex()}
    if isinstance(v, datetime):
        return {"t": v.astimezone(timezone.utc).replace(microsecond=0).isoformat()}
    if isinstance(v, (list, tuple)):
        return [canon(x) for x in v]
    if hasattr(v, "tolist"):
        return canon(v.tolist())
    return v


def response_json(resp):
    """Names, values, statuses and event timestamps of a Feast OnlineResponse."""
    values = resp.to_dict()
    out = {}
    for name, vector in zip(resp.proto.metadata.feature_names.val, resp.proto.results):
        out[name] = {
            "values": [canon(v) for v in values[name]],
            "statuses": [FieldStatus.Name(s) for s in vector.statuses],
            "event_ts": [[t.seconds, t.nanos] for t in vector.event_timestamps],
        }
    return out


def latest_rows(path, keys, end=MAT_END, start=MAT_START):
    """The row Feast materializes per entity key: latest (event_timestamp, created) in [start, end]."""
    best = {}
    for row in pq.read_table(os.path.join(REPO, "data", path)).to_pylist():
        if not (start <= row["event_timestamp"] <= end):
            continue
        k = tuple(row[c] for c in keys)
        if k not in best or (row["event_timestamp"], row["created"]) > (best[k]["event_timestamp"], best[k]["created"]):
            best[k] = row
    return best


def expected(rows_by_key, keys, entity_rows, fv, features, prefix=""):
    """What an online read should give for one feature view: values (NaN reads back as null;
    a missing entity reads as nulls with event time 0) and event timestamps."""
    out = {}
    for f in features:
        vals, ts = [], []
        for er in entity_rows:
            row = rows_by_key.get(tuple(er[k] for k in keys))
            v = None if row is None else row[f]
            if isinstance(v, float) and math.isnan(v):
                v = None
            vals.append(canon(v))
            ts.append([int(row["event_timestamp"].timestamp()), 0] if row else [0, 0])
        out[f"{prefix}{f}"] = {"values": vals, "event_ts": ts}
    return out


def reads(store):
    fv = store.get_feature_view("driver_hourly_stats")
    drv_feats = [f.name for f in fv.features]
    drivers = [{"driver_id": d} for d in DRIVERS]
    customers = [{"customer_id": c} for c in CUSTOMERS]
    pairs = [{"driver_id": d, "customer_id": c} for d, c in PAIRS]
    service_rows = [{"driver_id": 1001, "customer_id": "c1"}, {"driver_id": 1003, "customer_id": "c3"},
                    {"driver_id": 9999, "customer_id": "cliënt-5"}]
    cust_feats = ["age", "segment", "score"]
    service_drv = ["f_int64", "f_float32", "f_string", "l_string", "f_unix_ts"]
    requests = {
        "driver_refs": ([f"driver_hourly_stats:{f}" for f in drv_feats]
                        + ["driver_push_stats:conv_rate", "driver_push_stats:city"], drivers, False),
        "customer_refs": ([f"customer_profile:{f}" for f in cust_feats], customers, False),
        "pair_refs": (["driver_customer_stats:trips", "driver_customer_stats:last_rating"], pairs, False),
        "service": (store.get_feature_service("driver_activity"), service_rows, True),
    }
    drv = latest_rows("driver_stats.parquet", ["driver_id"])
    cus = latest_rows("customer_profile.parquet", ["customer_id"])
    dc = latest_rows("driver_customer.parquet", ["driver_id", "customer_id"])
    want = {
        "driver_refs": {**expected(drv, ["driver_id"], drivers, "driver_hourly_stats", drv_feats),
                        **expected(drv, ["driver_id"], drivers, "driver_push_stats", ["conv_rate", "city"])},
        "customer_refs": expected(cus, ["customer_id"], customers, "customer_profile", cust_feats),
        "pair_refs": expected(dc, ["driver_id", "customer_id"], pairs, "driver_customer_stats",
                              ["trips", "last_rating"]),
        "service": {**expected(drv, ["driver_id"], service_rows, "driver_hourly_stats", service_drv,
                               "driver_hourly_stats__"),
                    **expected(cus, ["customer_id"], service_rows, "customer_profile", cust_feats,
                               "customer_profile__")},
    }
    got = {}
    for name, (features, rows, full) in requests.items():
        got[f"sync:{name}"] = response_json(store.get_online_features(
            features=features, entity_rows=rows, full_feature_names=full))

    # One event loop for every async read: Feast keeps its redis.asyncio client per store,
    # bound to the loop it was made on.
    async def read_all_async():
        for name, (features, rows, full) in requests.items():
            got[f"async:{name}"] = response_json(await store.get_online_features_async(
                features=features, entity_rows=rows, full_feature_names=full))
    asyncio.run(read_all_async())
    return got, want


def field_names(store):
    """The Redis hash field of every feature (murmur3 of "<view>:<feature>", 4 bytes LE)."""
    out = {}
    for fv in store.list_feature_views():
        out[fv.name] = {"_ts": f"_ts:{fv.name}".encode().hex(),
                        **{f.name: struct.pack("<I", mmh3.hash(f"{fv.name}:{f.name}", signed=False)).hex()
                           for f in fv.features}}
    return out


def variant(spec, base_config):
    """Write through a differently configured connection, read back, check the raw key."""
    import pandas as pd
    import redis

    cfg = dict(base_config)
    cfg["online_store"] = spec["online_store"]
    path = os.path.join(REPO, f"feature_store.{spec['name']}.yaml")
    with open(path, "w") as fh:
        yaml.safe_dump(cfg, fh)
    store = FeatureStore(repo_path=REPO, fs_yaml_file=path)
    source = latest_rows("driver_stats.parquet", ["driver_id"])
    ids = [spec["first_driver"], spec["first_driver"] + 1]
    rows = []
    for new_id, old in zip(ids, (1001, 1005)):
        r = dict(source[(old,)])
        r["driver_id"] = new_id
        rows.append(r)
    fv = store.get_feature_view("driver_hourly_stats")
    feats = [f.name for f in fv.features]
    df = pd.DataFrame(rows)[["driver_id", "event_timestamp", "created"] + feats]
    store.write_to_online_store("driver_hourly_stats", df)
    by_key = {(r["driver_id"],): r for r in rows}
    entity_rows = [{"driver_id": i} for i in ids] + [{"driver_id": 9998}]
    refs = [f"driver_hourly_stats:{f}" for f in feats]
    result = {
        "want": expected(by_key, ["driver_id"], entity_rows, "driver_hourly_stats", feats),
        "sync": response_json(store.get_online_features(features=refs, entity_rows=entity_rows)),
        "async": response_json(asyncio.run(store.get_online_features_async(features=refs, entity_rows=entity_rows))),
    }
    raw = spec["raw"]
    r = redis.Redis(host="127.0.0.1", port=raw["port"], db=raw.get("db", 0), password=raw.get("password"),
                    protocol=2)
    project = base_config["project"].encode()
    key = (struct.pack("<III", 1, 2, 9) + b"driver_id" + struct.pack("<II", 4, 8)
           + struct.pack("<q", ids[0]) + project)
    result["raw_ttl"] = r.ttl(key)
    result["raw_fields"] = len(r.hkeys(key))
    if spec.get("expire_after"):
        time.sleep(spec["expire_after"])
        result["expired_exists"] = r.exists(key)
        result["expired_sync"] = response_json(store.get_online_features(features=refs[:3], entity_rows=entity_rows))
    return result


def main():
    store = FeatureStore(repo_path=REPO)
    got, want = reads(store)
    out = {"reads": got, "expected": want, "field_names": field_names(store), "variants": {}}
    if len(sys.argv) > 3:
        with open(os.path.join(REPO, "feature_store.yaml")) as fh:
            base = yaml.safe_load(fh)
        for spec in json.loads(sys.argv[3]):
            try:
                out["variants"][spec["name"]] = variant(spec, base)
            except Exception as e:  # recorded and reported by the test that looks at this variant
                out["variants"][spec["name"]] = {"error": f"{type(e).__name__}: {e}"}
    with open(sys.argv[2], "w") as fh:
        json.dump(out, fh, indent=1, sort_keys=True, ensure_ascii=False)


if __name__ == "__main__":
    main()
