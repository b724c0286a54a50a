"""Prints get_online_features for a fixed set of entities as JSON (run inside the Feast repo)."""
import json
import sys

from feast import FeatureStore

store = FeatureStore(repo_path=".")
rows = [{"driver_id": d, "customer_id": f"c{d % 12}"} for d in list(range(1000, 1042)) + [1099]]
features = ["driver_hourly_stats:conv_rate", "driver_hourly_stats:acc_rate", "driver_hourly_stats:avg_daily_trips",
            "driver_hourly_stats:rating", "driver_hourly_stats:city", "driver_hourly_stats:is_active",
            "driver_hourly_stats:recent_trips", "driver_hourly_stats:tags", "driver_daily:city",
            "trip_stats:distance", "trip_stats:passengers", "trip_stats:scores",
            "customer_profile:age", "customer_profile:segment", "customer_profile:lifetime_value"]
result = store.get_online_features(features=features, entity_rows=rows, full_feature_names=True).to_dict()
print(json.dumps(result, sort_keys=True, default=str))
