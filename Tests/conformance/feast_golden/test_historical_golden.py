"""`larder historical` gives Feast's get_historical_features values row for row: point in time,
ttl edges (exactly ttl old is in, one microsecond more is out), created-timestamp ties,
multi-key entity, CSV source, unknown entities, rows before any data. Larder returns every
entity row (nulls where nothing matched); Feast's file store drops an entity row whose key
has source rows but none inside the ttl window: those rows must be exactly the extra ones,
with the view's features all null."""
import math
import random
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from golden_support import Workspace, run  # noqa: E402

VIEWS = {
    "driver_hourly_stats": ["conv_rate", "acc_rate", "avg_daily_trips", "rating", "city", "is_active",
                            "recent_trips", "tags"],
    "driver_daily": ["avg_daily_trips", "city"],
    "trip_stats": ["distance", "passengers", "scores"],
    "customer_profile": ["age", "segment", "lifetime_value"],
}
FEATURES = ",".join(f"{v}:{f}" for v, fs in VIEWS.items() for f in fs)


def entity_rows(data_dir: Path):
    """Random rows plus rows on the ttl edges of real source rows."""
    rng = random.Random(7)
    base = datetime(2024, 12, 30, tzinfo=timezone.utc)
    rows = set()
    for _ in range(400):
        ts = base + timedelta(seconds=rng.randrange(8 * 86400))
        rows.add((rng.choice(list(range(1000, 1042)) + [1099]), f"c{rng.randrange(14)}", ts))
    drivers = pq.read_table(data_dir / "driver_stats.parquet").to_pylist()
    for r in rng.sample(drivers, 40):
        t = r["event_timestamp"]
        for delta in (timedelta(0), timedelta(hours=6), timedelta(hours=6, microseconds=1), -timedelta(microseconds=1)):
            rows.add((r["driver_id"], "c1", t + delta))
    trips = pq.read_table(data_dir / "trips.parquet").to_pylist()
    for r in rng.sample(trips, 20):
        for delta in (timedelta(0), timedelta(hours=12), timedelta(hours=12, seconds=1)):
            rows.add((r["driver_id"], r["customer_id"], r["ts"] + delta))
    rows = sorted(rows)
    return pa.table({"driver_id": pa.array([r[0] for r in rows], pa.int64()),
                     "customer_id": pa.array([r[1] for r in rows], pa.string()),
                     "event_timestamp": pa.array([r[2] for r in rows], pa.timestamp("us", tz="UTC"))})


def normalize(value):
    if value is None:
        return None
    if hasattr(value, "tolist"):
        value = value.tolist()
    if isinstance(value, float):
        return None if math.isnan(value) else round(value, 6)
    if isinstance(value, list):
        return [normalize(v) for v in value]
    return value


def by_entity_row(df: pd.DataFrame) -> dict:
    out = {}
    for record in df.to_dict("records"):
        ts = pd.Timestamp(record["event_timestamp"]).tz_convert("UTC")
        key = (int(record["driver_id"]), record["customer_id"], ts)
        assert key not in out, f"duplicate entity row {key}"
        out[key] = {f"{v}__{f}": normalize(record.get(f"{v}__{f}")) for v, fs in VIEWS.items() for f in fs}
    return out


class TieOracle:
    """Source rows of driver_stats sharing their driver's latest in-window event time."""

    def __init__(self, path):
        self.df = pq.read_table(path).to_pandas()

    def tie_winner(self, driver, ts, ttl):
        d = self.df[(self.df.driver_id == driver) & (self.df.event_timestamp <= ts)
                    & (self.df.event_timestamp >= ts - ttl)]
        if d.empty:
            return None
        latest = d[d.event_timestamp == d.event_timestamp.max()]
        if len(latest) < 2:
            return None
        return latest.sort_values("created").iloc[-1].to_dict()


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    ws = Workspace(tmp_path_factory.mktemp("golden_hist"))
    ws.feast("apply")
    yield ws
    ws.stop()


@pytest.mark.parametrize("out_name", ["larder.parquet", "larder.csv"])
def test_historical_matches_feast(workspace, out_name):
    entities = workspace.tmp / "entities.parquet"
    pq.write_table(entity_rows(workspace.feast_repo / "data"), entities)
    feast_out = workspace.tmp / "feast.parquet"
    if not feast_out.exists():
        run([sys.executable, str(HERE / "historical_feast.py"), str(entities), FEATURES, str(feast_out)],
            cwd=workspace.feast_repo, env=workspace.env(workspace.feast_redis.port))
    larder_out = workspace.tmp / out_name
    workspace.larder("historical", ".", "--entities", str(entities), "--features", FEATURES,
                     "--out", str(larder_out), "--full-feature-names")
    feast_rows = by_entity_row(pd.read_parquet(feast_out))
    if out_name.endswith(".csv"):
        larder_df = pd.read_csv(larder_out, parse_dates=["event_timestamp"])
        larder_rows = by_entity_row(larder_df)
        scalar = [f"{v}__{f}" for v, fs in VIEWS.items() for f in fs
                  if f not in ("recent_trips", "tags", "scores")]
        parquet_out = workspace.tmp / "larder.parquet"
        if not parquet_out.exists():
            workspace.larder("historical", ".", "--entities", str(entities), "--features", FEATURES,
                             "--out", str(parquet_out), "--full-feature-names")
        parquet_rows = by_entity_row(pd.read_parquet(parquet_out))
        for key, expected in parquet_rows.items():
            assert key in larder_rows, f"entity row {key} missing"
            for name in scalar:
                e, a = expected[name], larder_rows[key][name]
                if isinstance(e, bool) or isinstance(a, bool):
                    assert str(e) == str(a), (key, name)
                else:
                    assert e == a or (e is not None and a is not None and float(e) == pytest.approx(float(a))), (key, name, e, a)
        return
    larder_rows = by_entity_row(pd.read_parquet(larder_out))
    total = len(entity_rows(workspace.feast_repo / "data"))
    assert len(larder_rows) == total, "larder returns every entity row"
    assert 0 < len(feast_rows) <= total
    oracle = TieOracle(workspace.feast_repo / "data" / "driver_stats.parquet")
    ties = 0
    for key, expected in feast_rows.items():
        actual = larder_rows.get(key)
        for view, ttl in (("driver_hourly_stats", timedelta(hours=6)), ("driver_daily", timedelta(days=1))):
            winner = oracle.tie_winner(key[0], key[2], ttl)
            if winner is not None:
                # Feast's file store re-sorts by event time with an unstable sort after sorting by
                # created, so on an event-time tie its pick is arbitrary; Larder must pick the
                # greatest created timestamp, as Feast's materialization does.
                ties += 1
                for f in VIEWS[view]:
                    name = f"{view}__{f}"
                    assert actual[name] == normalize(winner[f]), (key, name, actual[name], winner[f])
                    expected = dict(expected, **{name: actual[name]})
        assert actual == expected, f"entity row {key}:\n feast  {expected}\n larder {actual}"
    assert ties > 0, "the data has event-time ties inside the ttl window"
    dropped = set(larder_rows) - set(feast_rows)
    for key in dropped:
        features = larder_rows[key]
        assert any(all(features[f"{v}__{f}"] is None for f in fs) for v, fs in VIEWS.items()), \
            f"Feast dropped {key} but Larder found every view: {features}"
