"""A Feast repo used as it is (feature_store.yaml + features.py, no Larder YAML): after
`feast apply`, `larder materialize REPO ...` reads the definitions from Feast's registry.db and
writes the same keyspace as `feast materialize` (byte for byte, each into its own redis-server).

The repo is the Feast conformance repo (../feast/repo/features.py): every scalar and array type,
a push source, a view over two entities (two join keys), a feature service with a projection.
Also: `larder plan` says the registry was used; `materialize-incremental` with no Larder state
starts where Feast's recorded interval ended; Larder never writes Feast's registry.
`larder historical --features SERVICE` on the repo gives the values of Feast's get_historical_features
for every row Feast returns (Larder keeps the rows Feast drops: docs/historical.md).

Environment: LARDER_BIN (default .build/release/larder, else .build/debug/larder); the Feast venv
~/.cache/larder/venv-r7 (LARDER_CACHE).
"""
import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "feast"))
sys.path.insert(0, str(HERE.parent / "lib"))

import feast_harness as fh  # noqa: E402
import servers  # noqa: E402

VENV = "r7"
W1 = ("2025-01-01T00:00:00", "2025-01-03T00:00:00")
W2_END = "2025-01-05T00:00:00"


def larder_bin():
    explicit = os.environ.get("LARDER_BIN")
    if explicit:
        return explicit
    for build in ("release", "debug"):
        candidate = servers.REPO_ROOT / ".build" / build / "larder"
        if candidate.exists():
            return str(candidate)
    pytest.skip("no larder binary: build it (or set LARDER_BIN)")


def run(argv, cwd, env=None):
    p = subprocess.run([str(a) for a in argv], cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=600)
    out, err = p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")
    assert p.returncode == 0, f"$ {' '.join(map(str, argv))}\nexit {p.returncode}\n{out}\n{err}"
    return out, err


def dump(port, path):
    run([fh.VENVS[VENV] / "bin" / "python", fh.TOOLS / "keyspace_dump.py", port, path, "--dbs", "0"], cwd=HERE)
    return json.loads(Path(path).read_text())


def assert_same_keyspace(larder_keys, feast_keys):
    assert set(larder_keys["0"]) == set(feast_keys["0"])
    differing = []
    for key, feast_entry in feast_keys["0"].items():
        larder_entry = larder_keys["0"][key]
        assert {k: v for k, v in larder_entry.items() if k != "fields"} == \
            {k: v for k, v in feast_entry.items() if k != "fields"}, key
        lf, ff = larder_entry.get("fields", {}), feast_entry.get("fields", {})
        assert set(lf) == set(ff), key
        for field, value in ff.items():
            if lf[field] == value:
                continue
            differing.append((key, field, value, lf[field]))
    assert differing == []


def sha(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    problem = fh.venv_problem(VENV)
    if problem:
        pytest.skip(problem)
    binary = larder_bin()
    work = tmp_path_factory.mktemp("feast-repo-as-is")
    data = fh.generate_data(work, VENV)
    feast_redis, larder_redis = servers.start_redis(), servers.start_redis()
    try:
        repo = work / "repo"
        (repo / "data").mkdir(parents=True)
        shutil.copy(fh.REPO_TEMPLATE / "features.py", repo / "features.py")
        for f in data.glob("*.parquet"):
            shutil.copy(f, repo / "data" / f.name)
        (repo / "feature_store.yaml").write_text(
            f"project: {fh.PROJECT}\nprovider: local\nregistry:\n  path: data/registry.db\n  registry_type: file\n"
            "offline_store:\n  type: file\nonline_store:\n  type: redis\n"
            f'  connection_string: "127.0.0.1:{feast_redis.port}"\nentity_key_serialization_version: 3\n')
        env = dict(os.environ, FEAST_USAGE="False", PATH=f"{fh.VENVS[VENV] / 'bin'}:{os.environ.get('PATH', '')}")
        feast = fh.VENVS[VENV] / "bin" / "feast"
        run([feast, "apply"], repo, env)
        run([feast, "materialize", *W1], repo, env)
        yield {"repo": repo, "work": work, "bin": binary, "env": env, "feast": feast,
               "feast_port": feast_redis.port, "larder_port": larder_redis.port}
    finally:
        feast_redis.stop()
        larder_redis.stop()


def larder(setup, *args, state):
    env = dict(setup["env"], LARDER_STATE=str(setup["work"] / state))
    return run([setup["bin"], *args], setup["repo"], env)


def test_feast_repo_end_to_end(setup):
    repo, target = setup["repo"], f"redis://127.0.0.1:{setup['larder_port']}/0"
    registry = repo / "data" / "registry.db"
    before = sha(registry)

    out, _ = larder(setup, "plan", repo, state="plan.db")
    assert f"definitions from the Feast registry {registry}" in out, out
    assert "4 feature views, 1 feature services" in out, out
    assert "definitions match their sources" in out, out

    larder(setup, "materialize", repo, *W1, "--target", target, state="s1.db")
    feast_keys = dump(setup["feast_port"], setup["work"] / "feast1.json")
    larder_keys = dump(setup["larder_port"], setup["work"] / "larder1.json")
    assert len(feast_keys["0"]) > 0
    assert_same_keyspace(larder_keys, feast_keys)

    # No Larder state: the start comes from the interval `feast materialize` recorded.
    _, err = larder(setup, "materialize-incremental", repo, W2_END, "--target", target, state="s2.db")
    assert "driver_hourly_stats: from 2025-01-03T00:00:00Z" in err, err
    run([setup["feast"], "materialize-incremental", W2_END], repo, setup["env"])
    feast_keys = dump(setup["feast_port"], setup["work"] / "feast2.json")
    larder_keys = dump(setup["larder_port"], setup["work"] / "larder2.json")
    assert_same_keyspace(larder_keys, feast_keys)
    assert sha(registry) != before  # Feast's own materialize-incremental wrote it ...
    after_feast = sha(registry)
    larder(setup, "plan", repo, state="plan.db")
    assert sha(registry) == after_feast  # ... Larder never does


def test_no_registry_is_an_error_naming_where_larder_looked(setup, tmp_path):
    (tmp_path / "feature_store.yaml").write_text("project: p\nregistry: data/registry.db\n")
    (tmp_path / "features.py").write_text("# not applied\n")
    p = subprocess.run([setup["bin"], "plan", str(tmp_path)], capture_output=True, text=True,
                       env=dict(setup["env"], LARDER_STATE=str(tmp_path / "s.db")))
    assert p.returncode != 0
    assert "no definitions found" in p.stderr and str(tmp_path / "data" / "registry.db") in p.stderr, p.stderr
    assert "feast apply" in p.stderr


HISTORICAL_FEAST = """
import sys
import pandas as pd
from feast import FeatureStore
store = FeatureStore(repo_path=".")
df = store.get_historical_features(entity_df=pd.read_parquet(sys.argv[1]),
                                   features=store.get_feature_service(sys.argv[2]),
                                   full_feature_names=True).to_df()
df.to_parquet(sys.argv[3])
"""

HISTORICAL_ENTITIES = """
import sys
import pandas as pd
d = pd.read_parquet(sys.argv[1] + "/driver_stats.parquet").head(40)
c = pd.read_parquet(sys.argv[1] + "/customer_profile.parquet")["customer_id"].tolist()
df = pd.DataFrame({"driver_id": d["driver_id"].astype("int64"),
                   "customer_id": [c[i % len(c)] for i in range(len(d))],
                   "event_timestamp": pd.to_datetime(d["event_timestamp"], utc=True) + pd.Timedelta(hours=1)})
df.drop_duplicates().to_parquet(sys.argv[2])
"""

COMPARE = """
import sys, math
import pandas as pd
def norm(v):
    if v is None: return None
    if isinstance(v, float): return None if math.isnan(v) else round(v, 6)
    return v
def rows(path):
    df = pd.read_parquet(path)
    out = {}
    for r in df.to_dict("records"):
        key = (int(r["driver_id"]), r["customer_id"], pd.Timestamp(r["event_timestamp"]).tz_convert("UTC"))
        out[key] = {c: norm(r.get(c)) for c in sys.argv[3].split(",")}
    return out
f, l = rows(sys.argv[1]), rows(sys.argv[2])
assert f, "feast returned no rows"
bad = [(k, f[k], l.get(k)) for k in f if l.get(k) != f[k]]
assert not bad, bad[:5]
print(len(f), "rows equal")
"""


def test_historical_with_a_feature_service_matches_feast(setup):
    py = fh.VENVS[VENV] / "bin" / "python"
    work, repo = setup["work"], setup["repo"]
    for name, text in (("hist_feast.py", HISTORICAL_FEAST), ("hist_entities.py", HISTORICAL_ENTITIES), ("cmp.py", COMPARE)):
        (work / name).write_text(text)
    entities = work / "entities.parquet"
    run([py, work / "hist_entities.py", repo / "data", entities], repo, setup["env"])
    run([py, work / "hist_feast.py", entities, "driver_activity", work / "feast_hist.parquet"], repo, setup["env"])
    larder(setup, "historical", repo, "--entities", entities, "--features", "driver_activity",
           "--out", work / "larder_hist.parquet", "--full-feature-names", state="h.db")
    columns = ["driver_hourly_stats__f_int64", "driver_hourly_stats__f_float32", "driver_hourly_stats__f_string",
               "customer_profile__age", "customer_profile__segment", "customer_profile__score"]
    out, _ = run([py, work / "cmp.py", work / "feast_hist.parquet", work / "larder_hist.parquet", ",".join(columns)],
                 repo, setup["env"])
    assert "rows equal" in out


def test_example_driver_repo_without_its_yaml(setup, tmp_path):
    """feature_repo/ (the example) with only features.py: the same keyspace as feast materialize."""
    source = servers.REPO_ROOT / "feature_repo"
    feast_redis, larder_redis = servers.start_redis(), servers.start_redis()
    try:
        repo = tmp_path / "driver_repo"
        (repo / "data").mkdir(parents=True)
        shutil.copy(source / "features.py", repo / "features.py")
        for f in (source / "data").glob("*.parquet"):
            shutil.copy(f, repo / "data" / f.name)
        (repo / "feature_store.yaml").write_text(
            (source / "feature_store.yaml").read_text().replace("127.0.0.1:6379", f"127.0.0.1:{feast_redis.port}"))
        window = ("2000-01-01T00:00:00", "2030-01-01T00:00:00")
        run([setup["feast"], "apply"], repo, setup["env"])
        run([setup["feast"], "materialize", *window], repo, setup["env"])
        env = dict(setup["env"], LARDER_STATE=str(tmp_path / "state.db"))
        out, _ = run([setup["bin"], "plan", repo], repo, env)
        assert "definitions from the Feast registry" in out, out
        run([setup["bin"], "materialize", repo, *window, "--target", f"redis://127.0.0.1:{larder_redis.port}/0"], repo, env)
        feast_keys = dump(feast_redis.port, tmp_path / "feast.json")
        larder_keys = dump(larder_redis.port, tmp_path / "larder.json")
        assert len(feast_keys["0"]) > 0
        assert_same_keyspace(larder_keys, feast_keys)
    finally:
        feast_redis.stop()
        larder_redis.stop()
