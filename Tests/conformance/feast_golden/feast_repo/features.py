# Feast definitions of the golden repo; ../larder_repo/definitions.yaml is the same in YAML.
from datetime import timedelta

from feast import Entity, FeatureService, FeatureView, Field, FileSource, ValueType
from feast.types import Array, Bool, Float32, Float64, Int32, Int64, String

driver = Entity(name="driver", join_keys=["driver_id"], value_type=ValueType.INT64)
customer = Entity(name="customer", join_keys=["customer_id"], value_type=ValueType.STRING)

driver_stats_source = FileSource(name="driver_stats_source", path="data/driver_stats.parquet",
                                 timestamp_field="event_timestamp", created_timestamp_column="created")
trips_source = FileSource(name="trips_source", path="data/trips.parquet", timestamp_field="ts")
customer_source = FileSource(name="customer_source", path="data/customer_profile.parquet",
                             timestamp_field="event_timestamp")

driver_hourly_stats = FeatureView(
    name="driver_hourly_stats", entities=[driver], ttl=timedelta(hours=6),
    schema=[
        Field(name="driver_id", dtype=Int64),
        Field(name="conv_rate", dtype=Float32),
        Field(name="acc_rate", dtype=Float64),
        Field(name="avg_daily_trips", dtype=Int64),
        Field(name="rating", dtype=Int32),
        Field(name="city", dtype=String),
        Field(name="is_active", dtype=Bool),
        Field(name="recent_trips", dtype=Array(Int64)),
        Field(name="tags", dtype=Array(String)),
    ],
    online=True, source=driver_stats_source)

driver_daily = FeatureView(
    name="driver_daily", entities=[driver], ttl=timedelta(days=1),
    schema=[Field(name="driver_id", dtype=Int64), Field(name="avg_daily_trips", dtype=Int64),
            Field(name="city", dtype=String)],
    online=True, source=driver_stats_source)

trip_stats = FeatureView(
    name="trip_stats", entities=[driver, customer], ttl=timedelta(hours=12),
    schema=[Field(name="driver_id", dtype=Int64), Field(name="customer_id", dtype=String),
            Field(name="distance", dtype=Float64), Field(name="passengers", dtype=Int32),
            Field(name="scores", dtype=Array(Float32))],
    online=True, source=trips_source)

customer_profile = FeatureView(
    name="customer_profile", entities=[customer], ttl=timedelta(days=2),
    schema=[Field(name="customer_id", dtype=String), Field(name="age", dtype=Int64),
            Field(name="segment", dtype=String), Field(name="lifetime_value", dtype=Float64)],
    online=True, source=customer_source)

driver_service = FeatureService(name="driver_service", features=[driver_hourly_stats, driver_daily[["city"]]])
