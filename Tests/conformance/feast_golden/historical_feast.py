"""Runs Feast's get_historical_features in the Feast repo: python historical_feast.py ENTITIES.parquet FEATURES OUT.parquet"""
import sys

import pandas as pd
from feast import FeatureStore

store = FeatureStore(repo_path=".")
entity_df = pd.read_parquet(sys.argv[1])
features = sys.argv[2].split(",")
df = store.get_historical_features(entity_df=entity_df, features=features, full_feature_names=True).to_df()
df.to_parquet(sys.argv[3])
