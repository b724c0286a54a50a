# Feast definitions of the example repo: the same objects as definitions.yaml.
from datetime import timedelta

from feast import Entity, FeatureService, FeatureView, Field, FileSource, ValueType
from feast.types import Array, Bool, Float32, Float64, Int64, String

driver = Entity(name="driver", join_keys=["driver_id"], value_type=ValueType.INT64, description="driver id")
customer = Entity(name="customer", join_keys=["customer_id"], value_type=ValueType.STRING, description="customer id")

driver_stats_source = FileSource(name="driver_stats_source", path="data/driver_stats.parquet",
                                 timestamp_field="event_timestamp", created_timestamp_column="created")
customer_profile_source = FileSource(name="customer_profile_source", path="data/customer_profile.parquet",
                                     timestamp_field="event_timestamp")

driver_hourly_stats = FeatureView(
    name="driver_hourly_stats", entities=[driver], ttl=timedelta(hours=2),
    schema=[Field(name="driver_id", dtype=Int64), Field(name="conv_rate", dtype=Float32),
            Field(name="acc_rate", dtype=Float64), Field(name="avg_daily_trips", dtype=Int64),
            Field(name="city", dtype=String), Field(name="is_active", dtype=Bool),
            Field(name="recent_trips", dtype=Array(Int64))],
    source=driver_stats_source)

customer_profile = FeatureView(
    name="customer_profile", entities=[customer], ttl=timedelta(days=3),
    schema=[Field(name="customer_id", dtype=String), Field(name="age", dtype=Int64),
            Field(name="segment", dtype=String), Field(name="lifetime_value", dtype=Float64)],
    source=customer_profile_source)

ride_ranking = FeatureService(
    name="ride_ranking",
    features=[driver_hourly_stats[["conv_rate", "acc_rate", "avg_daily_trips", "city"]], customer_profile])
