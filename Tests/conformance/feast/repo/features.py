"""Feature definitions of the Feast conformance repo (Feast 0.67).

Entities: driver (int64 key), customer (string key). `driver_customer_stats` uses both, which
gives Redis keys with two join keys (Feast 0.67 entities have one join key each; a view over
two entities is how a key gets two). `driver_hourly_stats` and `driver_push_stats` share the
driver entity, so they live in the same Redis hash.

FEAST_CONF_DROP=1 leaves out driver_push_stats (its fields share hashes with
driver_hourly_stats: Feast removes them with HDEL) and driver_customer_stats (alone in its
hashes: Feast removes them with DEL). `feast apply` then deletes their online data.
"""
import os
from datetime import timedelta

from feast import Entity, FeatureService, FeatureView, Field, FileSource, PushSource, ValueType
from feast.types import (Array, Bool, Bytes, Float32, Float64, Int32, Int64, String,
                         UnixTimestamp)

DROP = os.environ.get("FEAST_CONF_DROP") == "1"

driver = Entity(name="driver", join_keys=["driver_id"], value_type=ValueType.INT64)
customer = Entity(name="customer", join_keys=["customer_id"], value_type=ValueType.STRING)

driver_stats_source = FileSource(
    name="driver_stats_source", path="data/driver_stats.parquet",
    timestamp_field="event_timestamp", created_timestamp_column="created")
customer_source = FileSource(
    name="customer_source", path="data/customer_profile.parquet",
    timestamp_field="event_timestamp", created_timestamp_column="created")
driver_customer_source = FileSource(
    name="driver_customer_source", path="data/driver_customer.parquet",
    timestamp_field="event_timestamp", created_timestamp_column="created")

SCALARS = {"int32": Int32, "int64": Int64, "float32": Float32, "float64": Float64,
           "bool": Bool, "string": String, "bytes": Bytes, "unix_ts": UnixTimestamp}

driver_hourly_stats = FeatureView(
    name="driver_hourly_stats",
    entities=[driver],
    ttl=timedelta(days=2),
    schema=[Field(name="driver_id", dtype=Int64)]
    + [Field(name=f"f_{n}", dtype=t) for n, t in SCALARS.items()]
    + [Field(name=f"l_{n}", dtype=Array(t)) for n, t in SCALARS.items()],
    online=True,
    source=driver_stats_source,
)

customer_profile = FeatureView(
    name="customer_profile",
    entities=[customer],
    ttl=timedelta(days=3),
    schema=[Field(name="customer_id", dtype=String), Field(name="age", dtype=Int64),
            Field(name="segment", dtype=String), Field(name="score", dtype=Float64)],
    online=True,
    source=customer_source,
)

driver_activity = FeatureService(
    name="driver_activity",
    features=[driver_hourly_stats[["f_int64", "f_float32", "f_string", "l_string", "f_unix_ts"]],
              customer_profile],
)

if not DROP:
    driver_stats_push_source = PushSource(name="driver_stats_push_source",
                                          batch_source=driver_stats_source)
    driver_push_stats = FeatureView(
        name="driver_push_stats",
        entities=[driver],
        ttl=timedelta(days=2),
        schema=[Field(name="conv_rate", dtype=Float32), Field(name="city", dtype=String)],
        online=True,
        source=driver_stats_push_source,
    )
    driver_customer_stats = FeatureView(
        name="driver_customer_stats",
        entities=[driver, customer],
        ttl=timedelta(days=2),
        schema=[Field(name="trips", dtype=Int32), Field(name="last_rating", dtype=Float32)],
        online=True,
        source=driver_customer_source,
    )
