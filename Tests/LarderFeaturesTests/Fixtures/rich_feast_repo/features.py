# A Feast repo exercising more of the registry than the driver e2e repo: two join keys,
# every supported type, explicit Parquet format, field mapping, descriptions/owners/tags,
# a service with a feature subset, and objects Larder skips (on-demand view, Map column).
# make_registry.sh runs `feast apply` on it to produce ../rich_registry.db.
from datetime import timedelta

import pandas as pd
from feast import Entity, FeatureService, FeatureView, Field, FileSource, ValueType
from feast.data_format import ParquetFormat
from feast.on_demand_feature_view import on_demand_feature_view
from feast.types import (Array, Bool, Bytes, Float32, Float64, Int32, Int64, Map, String,
                         UnixTimestamp)

driver = Entity(name="driver", join_keys=["driver_id"], value_type=ValueType.INT64)
customer = Entity(name="customer", join_keys=["customer_id"], value_type=ValueType.STRING,
                  description="customer", tags={"pii": "no"}, owner="crm@example.com")

trips = FileSource(
    name="trips",
    path="data/trips.parquet",
    file_format=ParquetFormat(),
    timestamp_field="ts",
    field_mapping={"drv": "driver_id"},
    description="trip facts",
    tags={"origin": "lake"},
    owner="data@example.com",
)

trip_stats = FeatureView(
    name="trip_stats",
    entities=[driver, customer],
    ttl=timedelta(hours=1, minutes=30),
    schema=[
        Field(name="customer_id", dtype=String),
        Field(name="distance", dtype=Float64, description="km"),
        Field(name="payload", dtype=Bytes),
        Field(name="pickup", dtype=UnixTimestamp),
        Field(name="legs", dtype=Array(Float64)),
        Field(name="scores", dtype=Array(Float32)),
        Field(name="flags", dtype=Array(Bool)),
        Field(name="counts", dtype=Array(Int32)),
        Field(name="blobs", dtype=Array(Bytes)),
        Field(name="stamps", dtype=Array(UnixTimestamp)),
        Field(name="passengers", dtype=Int32, tags={"unit": "people"}),
    ],
    online=False,
    offline=True,
    source=trips,
    description="per trip",
    owner="ml@example.com",
)

no_ttl = FeatureView(
    name="no_ttl",
    entities=[driver],
    schema=[Field(name="rides", dtype=Int64), Field(name="ok", dtype=Bool)],
    source=trips,
)

with_map = FeatureView(
    name="with_map",
    entities=[driver],
    schema=[Field(name="attrs", dtype=Map)],
    source=trips,
)


@on_demand_feature_view(sources=[no_ttl], schema=[Field(name="double_rides", dtype=Int64)])
def doubled(inputs: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({"double_rides": inputs["rides"] * 2})


trip_service = FeatureService(
    name="trip_service",
    features=[trip_stats[["distance", "legs"]], no_ttl],
    description="for ranking",
    tags={"tier": "gold"},
    owner="ml@example.com",
)
