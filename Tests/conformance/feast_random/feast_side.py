"""The Feast side of random cases, in one Python process (importing Feast and dask costs
seconds per process): for each task, `feast apply` of its repo (apply_total, what the CLI
runs), then optionally `materialize` and `get_historical_features`.

python feast_side.py TASKS.json    a list of {"repo": ..., "skip_validation": bool,
                                   "materialize": [START, END] | null,
                                   "historical": [ENTITIES.parquet, SERVICE, OUT.parquet] | null}
START/END are ISO UTC times. A task that fails writes its error to REPO/feast_error.txt and
the next task runs."""
import json
import os
import sys
import traceback
import warnings
from datetime import datetime, timezone
from pathlib import Path

warnings.filterwarnings("ignore")


def run_task(task):
    from feast import FeatureStore
    from feast.repo_config import load_repo_config
    from feast.repo_operations import apply_total

    repo = Path(task["repo"]).resolve()
    # Every repo has a features.py: forget the previous one so this repo's is imported.
    sys.modules.pop("features", None)
    sys.path.insert(0, str(repo))
    try:
        apply_total(load_repo_config(repo, repo / "feature_store.yaml"), repo,
                    skip_source_validation=task.get("skip_validation", False))
        store = FeatureStore(repo_path=str(repo))
        if task.get("materialize"):
            start, end = (datetime.fromisoformat(t).replace(tzinfo=timezone.utc) for t in task["materialize"])
            store.materialize(start, end)
        if task.get("historical"):
            import pandas as pd
            entities, service, out = task["historical"]
            entity_df = pd.read_parquet(entities)
            try:
                df = store.get_historical_features(entity_df=entity_df, features=store.get_feature_service(service),
                                                   full_feature_names=True).to_df()
            except Exception:
                # Kept apart from apply/materialize failures: the caller decides which are Feast's own.
                Path(out).with_suffix(".error.txt").write_text(traceback.format_exc())
                return
            df.to_parquet(out)
    finally:
        sys.path.remove(str(repo))


def main():
    tasks = json.loads(Path(sys.argv[1]).read_text())
    cwd = os.getcwd()
    for task in tasks:
        try:
            run_task(task)
        except Exception:
            Path(task["repo"], "feast_error.txt").write_text(traceback.format_exc())
        finally:
            os.chdir(cwd)
        print(task["repo"], flush=True)


if __name__ == "__main__":
    main()
