"""Runs the Feast SDK as ACL users (inside a Feast venv) and prints what happened as JSON.

usage: feast_acl_probe.py REPO_DIR PORT [REPO_DIR PORT ...]

Each REPO_DIR holds the conformance repo's features.py and data/; for its server the probe
applies the definitions and materializes as `materializer`, reads as `serving`, tries to
materialize as `serving` (expected: refused), and reads with a wrong password (expected:
refused). One process for every server: Feast's import is the slow part.
"""
import importlib.util
import json
import sys
from datetime import datetime, timezone
from pathlib import Path

from feast import Entity, FeatureService, FeatureStore, FeatureView, FileSource, PushSource

START, END = datetime(2025, 1, 1, tzinfo=timezone.utc), datetime(2025, 1, 3, tzinfo=timezone.utc)
LATER = datetime(2025, 1, 5, tzinfo=timezone.utc)
FEATURES = ["customer_profile:age", "customer_profile:segment"]
ROWS = [{"customer_id": c} for c in ["c1", "c2", "nobody"]]


def store_as(repo: Path, port: str, user: str, password: str) -> FeatureStore:
    (repo / "feature_store.yaml").write_text(
        "project: acl_demo\nprovider: local\nregistry: data/registry.db\n"
        "offline_store:\n  type: file\nonline_store:\n  type: redis\n"
        f'  connection_string: "127.0.0.1:{port},username={user},password={password}"\n'
        "entity_key_serialization_version: 3\n")
    return FeatureStore(repo_path=str(repo))


def attempt(fn):
    try:
        fn()
        return "no error"
    except Exception as e:  # the error Feast passes up from redis-py
        return f"{type(e).__name__}: {e}"


def scenario(repo: Path, port: str) -> dict:
    spec = importlib.util.spec_from_file_location("features", repo / "features.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    objects = [v for v in vars(module).values()
               if isinstance(v, (Entity, FeatureView, FeatureService, FileSource, PushSource))]
    mat = store_as(repo, port, "materializer", "mat-pw-1")
    mat.apply(objects)
    mat.materialize(START, END)
    serving = store_as(repo, port, "serving", "serve-pw-2")
    values = serving.get_online_features(features=FEATURES, entity_rows=ROWS).to_dict()
    # A later window: newer rows, which Feast writes (it skips rows not newer than stored ones).
    denied = attempt(lambda: serving.materialize(END, LATER))
    wrong = store_as(repo, port, "serving", "wrong")
    refused = attempt(lambda: wrong.get_online_features(features=FEATURES, entity_rows=ROWS))
    return {"values": values, "serving_materialize": denied, "wrong_password": refused}


if __name__ == "__main__":
    args = sys.argv[1:]
    out = {port: scenario(Path(repo), port) for repo, port in zip(args[0::2], args[1::2])}
    print(json.dumps(out, sort_keys=True, default=str))
