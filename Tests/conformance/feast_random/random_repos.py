"""Seeded random differential test of Larder against Feast (issue 11, section 2).

One seed gives one Feast repo: entities (INT64, INT32, STRING keys with glob metacharacters
and non-ASCII text), file sources (one Parquet file, a directory of several Parquet files,
or CSV), feature views over every Feast scalar and Array type (single- and multi-key, with
and without ttl, created timestamps, field mappings), a feature service with projections,
and data full of edges: nulls, NaN, infinities, -0.0, NaT, empty strings/bytes/arrays, int
extremes, pre-1970 and sub-second timestamps, rows exactly on the window edges (and one
microsecond outside), ties on event and created time, duplicate rows.

`run_case` writes `features.py` from it, runs `feast apply` + `feast materialize` into one
redis-server and `larder materialize` into another and compares the keyspaces byte for byte;
then `get_historical_features` against `larder historical --feast-compatible` cell by cell,
and checks the default's documented difference (every entity row, in the entity file's
order).

CSV: Feast's FileSource reads Parquet (and Delta) only, so a CSV source is given to Feast as
Parquet and to Larder as the same rows in CSV (a second repo whose features.py names the
.csv files, applied with source validation off): Larder reading CSV must write what Feast
writes from Parquet."""
import math
import os
import random
import shutil
import struct
import subprocess
import sys
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "feast_golden"))
from golden_support import keyspace, larder_bin, servers  # noqa: E402

UTC = timezone.utc
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
SCALARS = ["Int32", "Int64", "Float32", "Float64", "String", "Bytes", "Bool", "UnixTimestamp"]
ARROW = {"Int32": pa.int32(), "Int64": pa.int64(), "Float32": pa.float32(), "Float64": pa.float64(),
         "String": pa.string(), "Bytes": pa.binary(), "Bool": pa.bool_(), "UnixTimestamp": pa.timestamp("us", tz="UTC")}
KEY_VALUE_TYPES = {"INT64": pa.int64(), "INT32": pa.int32(), "STRING": pa.string()}
STRING_KEYS = ["a*b", "[x]", "q?", "ü", "日本", "k{1,2}", "x y", "\\", "-", "z" * 40]
TEXTS = ["", "a", "ü-ß", "日本語", "*?[]", "line\nbreak", "tab\tx", "\"q\"", "x" * 300, "🙂"]


@dataclass
class View:
    name: str
    entities: list          # entity names
    features: list          # (name, type) with type "Int64" or "Array(Int64)"
    ttl: int                # seconds, 0 = none
    source: str
    online: bool = True


@dataclass
class Source:
    name: str
    kind: str               # "file" | "dir" | "csv"
    timestamp: str
    created: str | None
    mapping: dict           # source column -> feature name
    files: list = field(default_factory=list)  # (relative path, rows)
    schema: list = field(default_factory=list)  # (column, arrow type)


@dataclass
class Case:
    seed: int
    project: str
    entities: dict          # name -> (join key, value type)
    sources: dict
    views: list
    service: tuple          # (name, [(view, [features] or None)])
    window: tuple           # (start, end) datetimes
    entity_rows: list       # dicts
    entity_schema: list
    refs: str = ""

    def view(self, name):
        return next(v for v in self.views if v.name == name)


def micros(dt):
    return (dt - EPOCH) // timedelta(microseconds=1)


class Generator:
    def __init__(self, seed: int):
        self.seed = seed
        self.rng = random.Random(seed)
        self.in_csv = False

    def value(self, t: str, nullable=True):
        r = self.rng
        if t.startswith("Array("):
            inner = t[6:-1]
            roll = r.random()
            if roll < 0.1:
                return None
            if roll < 0.2:
                return []
            # A null inside an integer or bool list is an error in Feast (and Larder).
            elements_nullable = inner not in ("Int32", "Int64", "Bool")
            return [None if elements_nullable and r.random() < 0.15 else self.scalar(inner) for _ in range(r.randrange(1, 5))]
        if not nullable:
            return self.scalar(t)
        if t == "Int64":
            # Feast reads an integer column with nulls as float64: beyond 2**53 its values are
            # rounded, and 2**63-1 fails its materialization (a deliberate difference,
            # docs/materialize.md). So a nullable Int64 column stays within 2**53.
            return None if r.random() < 0.15 else r.choice([0, -1, -(2**53), 2**53, r.randrange(-10**12, 10**12)])
        if r.random() < 0.15:
            return None
        return self.scalar(t)

    def scalar(self, t: str):
        r = self.rng
        if t == "Int32":
            return r.choice([0, -1, 1, 2**31 - 1, -2**31, r.randrange(-1000, 1000)])
        if t == "Int64":
            return r.choice([0, -1, 2**63 - 1, -2**63, 2**31, r.randrange(-10**12, 10**12)])
        if t in ("Float32", "Float64"):
            return r.choice([0.0, -0.0, math.nan, math.inf, -math.inf, 1e-300 if t == "Float64" else 1e-30,
                             1.5, r.uniform(-1e6, 1e6), 3.4e38 if t == "Float32" else 1.7e308])
        if t == "String":
            # CSV cannot tell "" from null (an empty cell is null for Larder's reader).
            return r.choice([x for x in TEXTS if x or not self.in_csv] + [f"s{r.randrange(100)}"])
        if t == "Bytes":
            return r.choice([b"", b"\x00", b"\xff\xfe", "ü".encode(), bytes(r.randrange(256) for _ in range(5))])
        if t == "Bool":
            return r.random() < 0.5
        if t == "UnixTimestamp":
            return self.timestamp_value()
        raise ValueError(t)

    def timestamp_value(self):
        r = self.rng
        return r.choice([
            EPOCH + timedelta(seconds=-1, microseconds=500000),            # pre-1970, sub-second
            EPOCH + timedelta(microseconds=r.randrange(-10**6, 10**6)),
            datetime(1900, 1, 1, tzinfo=UTC) + timedelta(microseconds=1),
            datetime(2200, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
            datetime(2025, 1, 1, tzinfo=UTC) + timedelta(microseconds=r.randrange(10**12)),
        ])

    def key(self, value_type: str):
        r = self.rng
        if value_type == "INT64":
            return r.choice([0, -1, 1, 2, 3, 7, 2**63 - 1, -2**63, 10**15])
        if value_type == "INT32":
            return r.choice([0, -1, 1, 2, 3, 7, 2**31 - 1, -2**31])
        return r.choice(STRING_KEYS)

    def case(self) -> Case:
        r = self.rng
        pre_1970 = r.random() < 0.2
        start = (datetime(1969, 12, 31, 12, tzinfo=UTC) if pre_1970 else datetime(2025, 1, 1, tzinfo=UTC))
        end = start + timedelta(days=1)
        entities = {"user": ("uid", r.choice(["INT64", "INT32", "STRING"])),
                    "item": ("iid", r.choice(["INT64", "STRING"]))}
        sources, views = {}, []
        used = set()
        for v in range(r.randrange(1, 4)):
            ents = r.choice([["user"], ["item"], ["user", "item"]])
            kind = r.choice(["file", "file", "dir", "csv"])
            types = [t for t in SCALARS if not (kind == "csv" and t == "Bytes")]
            if kind != "csv":
                types += [f"Array({t})" for t in SCALARS]
            feats = [(f"f{v}_{i}", t) for i, t in enumerate(r.sample(types, r.randrange(2, min(7, len(types)))))]
            src = Source(name=f"src{v}", kind=kind, timestamp=r.choice(["ts", "event_ts"]),
                         created=r.choice([None, "created"]), mapping={})
            if kind != "csv" and r.random() < 0.3:
                src.mapping = {f"raw_{feats[0][0]}": feats[0][0]}
            view = View(name=f"view{v}", entities=ents, features=feats, ttl=r.choice([0, 90, 3600, 86400]),
                        source=src.name)
            self.data(view, src, entities, start, end)
            sources[src.name] = src
            views.append(view)
            used.update(ents)
        entities = {k: v for k, v in entities.items() if k in used}
        projections = []
        for view in r.sample(views, r.randrange(1, len(views) + 1)):
            names = [f for f, _ in view.features]
            projections.append((view.name, None if r.random() < 0.4 else r.sample(names, r.randrange(1, len(names) + 1))))
        case = Case(seed=self.seed, project=f"rnd{self.seed}", entities=entities, sources=sources, views=views,
                    service=("svc", projections), window=(start, end), entity_rows=[], entity_schema=[])
        self.entity_rows(case)
        return case

    def event_time(self, start, end):
        """Mostly distinct times inside the window; one in five on an edge of it (exactly on
        START or END, or one microsecond outside) or hours before it."""
        r = self.rng
        span = (end - start) // timedelta(microseconds=1)
        if r.random() < 0.2:
            return r.choice([start, end, start - timedelta(microseconds=1), end + timedelta(microseconds=1),
                             start - timedelta(hours=r.randrange(1, 48))])
        if r.random() < 0.3:
            return start + timedelta(seconds=r.randrange(span // 10**6))  # whole seconds
        return start + timedelta(microseconds=r.randrange(span))           # sub-second

    def data(self, view: View, src: Source, entities, start, end):
        r = self.rng
        keys = [entities[e] for e in view.entities]
        pools = [[self.key(vt) for _ in range(4)] for _, vt in keys]
        self.in_csv = src.kind == "csv"
        rows = []
        nullable = {name: r.random() < 0.7 for name, _ in view.features}
        for _ in range(r.randrange(8, 60)):
            row = {jk: r.choice(pool) for (jk, _), pool in zip(keys, pools)}
            row[src.timestamp] = self.event_time(start, end)
            if src.created:
                # Feast cannot read a directory source whose created column has nulls (dask:
                # "Divisions calculation failed for non-numeric column 'created'").
                nulls = [None] if src.kind != "dir" else []
                row[src.created] = r.choice(nulls + [start, start + timedelta(microseconds=1), end])
            for name, t in view.features:
                row[name] = self.value(t, nullable[name])
            rows.append(row)
            roll = r.random()
            if roll < 0.15:      # full duplicate
                rows.append(dict(row))
            elif roll < 0.3:     # tie on event (and maybe created) time with other values
                tie = dict(row)
                for name, t in view.features:
                    tie[name] = self.value(t, nullable[name])
                if src.created and r.random() < 0.5:
                    tie[src.created] = r.choice(([None] if src.kind != "dir" else []) + [start, end])
                rows.append(tie)
        reverse = {feature: column for column, feature in src.mapping.items()}
        src.schema = [(jk, KEY_VALUE_TYPES[vt]) for jk, vt in keys] + [(src.timestamp, ARROW["UnixTimestamp"])]
        if src.created:
            src.schema.append((src.created, ARROW["UnixTimestamp"]))
        for name, t in view.features:
            arrow = pa.list_(ARROW[t[6:-1]]) if t.startswith("Array(") else ARROW[t]
            src.schema.append((reverse.get(name, name), arrow))
        rows = [{reverse.get(k, k): v for k, v in row.items()} for row in rows]
        if src.kind == "dir":
            # Several files; names whose sorted order differs from their natural order.
            cuts = sorted(r.sample(range(1, len(rows)), min(2, len(rows) - 1)))
            parts = [rows[a:b] for a, b in zip([0] + cuts, cuts + [len(rows)])]
            src.files = [(f"data/{src.name}/part-{n}.parquet", part) for n, part in zip([2, 10, 1], parts)]
        elif src.kind == "csv":
            src.files = [(f"data/{src.name}.csv", rows)]
        else:
            src.files = [(f"data/{src.name}.parquet", rows)]

    def entity_rows(self, case: Case):
        """Entity rows for historical retrieval: known and unknown keys, times on the ttl edges of
        source rows (exactly ttl old, one microsecond more, the source time itself and one
        microsecond before), random times, and full duplicates. Distinct rows get distinct
        times, so Feast's collapsing of rows equal on (join keys so far, time) never picks
        between rows that differ (its pick is arbitrary)."""
        r = self.rng
        refs = [(view, feats) for view, feats in case.service[1]]
        needed = []
        for view_name, _ in refs:
            for e in case.view(view_name).entities:
                if case.entities[e] not in needed:
                    needed.append(case.entities[e])
        rows, times = [], set()
        start, end = case.window
        for _ in range(r.randrange(10, 50)):
            view = case.view(r.choice(refs)[0])
            src = case.sources[view.source]
            source_rows = [row for _, part in src.files for row in part]
            base = r.choice(source_rows)
            t = base[src.timestamp]
            ttl = timedelta(seconds=view.ttl)
            ts = r.choice([t, t + ttl, t + ttl + timedelta(microseconds=1), t - timedelta(microseconds=1),
                           self.event_time(start, end) + timedelta(microseconds=r.randrange(1000))])
            if ts in times:
                continue
            times.add(ts)
            row = {}
            for jk, vt in needed:
                row[jk] = base[jk] if jk in base and r.random() < 0.85 else self.key(vt)
            row["event_timestamp"] = ts
            row["label"] = len(rows)
            rows.append(row)
            if r.random() < 0.1:
                rows.append(dict(row))
        case.entity_rows = rows
        case.entity_schema = [(jk, KEY_VALUE_TYPES[vt]) for jk, vt in needed] + [
            ("event_timestamp", pa.timestamp("us", tz="UTC")), ("label", pa.int64())]


def features_py(case: Case, csv_paths: bool) -> str:
    lines = ["from datetime import timedelta",
             "from feast import Entity, FeatureService, FeatureView, Field, FileSource, ValueType",
             "from feast.types import Array, Bool, Bytes, Float32, Float64, Int32, Int64, String, UnixTimestamp", ""]
    for name, (jk, vt) in case.entities.items():
        lines.append(f"{name} = Entity(name={name!r}, join_keys=[{jk!r}], value_type=ValueType.{vt})")
    for src in case.sources.values():
        path = src.files[0][0] if src.kind != "dir" else f"data/{src.name}"
        if src.kind == "csv" and not csv_paths:
            path = path[:-4] + ".parquet"
        extra = f", created_timestamp_column={src.created!r}" if src.created else ""
        if src.mapping:
            extra += f", field_mapping={src.mapping!r}"
        lines.append(f"{src.name} = FileSource(name={src.name!r}, path={path!r}, timestamp_field={src.timestamp!r}{extra})")
    dtype = {"INT64": "Int64", "INT32": "Int32", "STRING": "String"}
    for view in case.views:
        fields = [f"Field(name={case.entities[e][0]!r}, dtype={dtype[case.entities[e][1]]})" for e in view.entities]
        fields += [f"Field(name={n!r}, dtype={t})" for n, t in view.features]
        lines.append(f"{view.name} = FeatureView(name={view.name!r}, entities=[{', '.join(view.entities)}], "
                     f"ttl=timedelta(seconds={view.ttl}), online={view.online}, source={view.source}, "
                     f"schema=[{', '.join(fields)}], tags={{'seed': '{case.seed}'}})")
    projections = [v if feats is None else f"{v}[{feats!r}]" for v, feats in case.service[1]]
    lines.append(f"svc = FeatureService(name='svc', features=[{', '.join(projections)}])")
    return "\n".join(lines) + "\n"


STORE_YAML = """project: {project}
provider: local
registry: data/registry.db
offline_store: {{type: file}}
online_store: {{type: redis, connection_string: "127.0.0.1:{port}"}}
entity_key_serialization_version: 3
"""


def csv_cell(value, arrow_type):
    if value is None:
        return ""
    if pa.types.is_timestamp(arrow_type):
        return value.isoformat()
    if pa.types.is_float32(arrow_type):
        import numpy as np
        return str(np.float32(value)) if math.isfinite(value) else {math.inf: "inf", -math.inf: "-inf"}.get(value, "nan")
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def write_csv(path: Path, rows, schema):
    import csv
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow([c for c, _ in schema])
        for row in rows:
            w.writerow([csv_cell(row.get(c), t) for c, t in schema])


def write_repo(case: Case, repo: Path, port: int, csv_paths: bool):
    (repo / "data").mkdir(parents=True)
    for src in case.sources.values():
        schema = pa.schema(src.schema)
        for path, rows in src.files:
            target = repo / path
            target.parent.mkdir(parents=True, exist_ok=True)
            if src.kind == "csv" and csv_paths:
                write_csv(target, rows, src.schema)
            else:
                if src.kind == "csv":
                    target = target.with_suffix(".parquet")
                table = pa.Table.from_pylist(rows, schema=schema)
                pq.write_table(table, target, row_group_size=max(1, len(rows) // 3))
    (repo / "features.py").write_text(features_py(case, csv_paths))
    (repo / "feature_store.yaml").write_text(STORE_YAML.format(project=case.project, port=port))


@dataclass
class Outcome:
    seed: int
    divergences: list = field(default_factory=list)
    notes: list = field(default_factory=list)
    stats: dict = field(default_factory=dict)


def run(argv, cwd, timeout=600):
    env = dict(os.environ, PYTHONWARNINGS="ignore")
    p = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, argv))} failed ({p.returncode}):\n{p.stdout[-3000:]}\n{p.stderr[-3000:]}")
    return p.stdout


def run_cases(seeds, root: Path, historical=True) -> list:
    """Runs the seeds as one batch: one Feast process for all of them (see feast_side.py),
    then Larder on each, comparing as it goes."""
    import json
    prepared, outcomes = [], []
    try:
        for seed in seeds:
            case = Generator(seed).case()
            out = Outcome(seed)
            outcomes.append(out)
            where = root / f"seed{seed}"
            if where.exists():
                shutil.rmtree(where)
            where.mkdir(parents=True)
            feast_redis, larder_redis = servers.start_redis(), servers.start_redis()
            prepared.append((case, out, where, feast_redis, larder_redis))
            write_repo(case, where / "feast_repo", feast_redis.port, csv_paths=False)
            write_repo(case, where / "larder_repo", larder_redis.port, csv_paths=True)
            pq.write_table(pa.Table.from_pylist(case.entity_rows, schema=pa.schema(case.entity_schema)),
                           where / "entities.parquet")
        tasks = []
        for case, _, where, _, _ in prepared:
            window = [t.strftime("%Y-%m-%dT%H:%M:%S") for t in case.window]
            tasks.append({"repo": str(where / "feast_repo"), "materialize": window,
                          "historical": [str(where / "entities.parquet"), "svc", str(where / "feast_hist.parquet")]
                          if historical else None})
            if any(s.kind == "csv" for s in case.sources.values()):
                tasks.append({"repo": str(where / "larder_repo"), "skip_validation": True})
        root.mkdir(parents=True, exist_ok=True)
        task_file = root / f"tasks-{seeds[0]}.json"
        task_file.write_text(json.dumps(tasks))
        run([sys.executable, str(HERE / "feast_side.py"), str(task_file)], cwd=root, timeout=3600)
        for case, out, where, feast_redis, larder_redis in prepared:
            try:
                larder_side(case, out, where, feast_redis, larder_redis, historical)
            except Exception as e:  # a failure to run either side is a divergence too
                out.divergences.append(f"error: {e}")
    finally:
        for _, _, _, feast_redis, larder_redis in prepared:
            feast_redis.stop()
            larder_redis.stop()
    return outcomes


def larder_side(case, out, where, feast_redis, larder_redis, historical):
    feast_repo, larder_repo = where / "feast_repo", where / "larder_repo"
    for repo in (feast_repo, larder_repo):
        if (repo / "feast_error.txt").exists():
            raise RuntimeError(f"feast failed in {repo}:\n{(repo / 'feast_error.txt').read_text()[-3000:]}")
    has_csv = any(s.kind == "csv" for s in case.sources.values())
    if not has_csv:
        shutil.copy(feast_repo / "data" / "registry.db", larder_repo / "data" / "registry.db")
    start, end = (t.strftime("%Y-%m-%dT%H:%M:%S") for t in case.window)
    run([larder_bin(), "materialize", ".", start, end, "--no-progress"], cwd=larder_repo)
    expected, actual = keyspace(feast_redis.port), keyspace(larder_redis.port)
    out.stats.update(keys=len(expected), source_rows=sum(len(p) for s in case.sources.values() for _, p in s.files),
                     views=len(case.views), csv=has_csv)
    compare_keyspaces(case, expected, actual, out)
    if historical:
        compare_historical(case, where, larder_repo, where / "entities.parquet", where / "feast_hist.parquet", out)


def field_hash(view: str, feature: str) -> bytes:
    """Feast's hash field name of a feature (feast.infra.online_stores.helpers._mmh3)."""
    import mmh3
    return struct.pack("<Q", mmh3.hash(f"{view}:{feature}", signed=False))[:4]


def decode_entity_key(key: bytes, project: str) -> dict:
    """Join key name -> value of a v3 serialized entity key followed by the project."""
    assert key.endswith(project.encode()), key
    data, at = key[:-len(project)], 0

    def u32():
        nonlocal at
        at += 4
        return struct.unpack("<I", data[at - 4:at])[0]

    n = u32()
    names = []
    for _ in range(n):
        u32()
        length = u32()
        names.append(data[at:at + length].decode())
        at += length
    values = []
    for _ in range(n):
        kind, length = u32(), u32()
        raw = data[at:at + length]
        at += length
        values.append({2: lambda b: b.decode(), 3: lambda b: struct.unpack("<i", b)[0],
                       4: lambda b: struct.unpack("<q", b)[0]}[kind](raw))
    return dict(zip(names, values))


def materialize_ties(case: Case, view: View, key: dict) -> int:
    """How many different sets of values Feast may write for this entity: those of the
    in-window rows at its greatest event time and, among them, greatest created time (null
    lowest). Feast's offline read sorts the source by created, then event time, with pandas'
    default (unstable) sort before its dedup, so among rows tied on both any may be written
    (docs/materialize.md); Larder writes the first one read."""
    src = case.sources[view.source]
    start, end = case.window
    rows = [r for _, part in src.files for r in part
            if all(r[case.entities[e][0]] == key[case.entities[e][0]] for e in view.entities)
            and start <= r[src.timestamp] <= end]
    if not rows:
        return 0
    best = max(r[src.timestamp] for r in rows)
    rows = [r for r in rows if r[src.timestamp] == best]
    if src.created:
        created = [r[src.created] for r in rows if r[src.created] is not None]
        top = max(created) if created else None
        rows = [r for r in rows if r[src.created] == top]
    reverse = {f: c for c, f in src.mapping.items()}
    return len({repr([oracle_value(r[reverse.get(f, f)], t) for f, t in view.features]) for r in rows})


def compare_keyspaces(case: Case, expected: dict, actual: dict, out: Outcome):
    """Byte for byte, view by view within each key; the fields of a view whose winner Feast
    picks arbitrarily (see materialize_ties) must agree on `_ts:<view>` only (counted)."""
    ambiguous = 0
    for key in sorted(set(expected) | set(actual)):
        e, a = expected.get(key), actual.get(key)
        if e == a:
            continue
        if e is None or a is None or e[1] != a[1] or set(e[0]) != set(a[0]):
            out.divergences.append(f"materialize key {key!r}:\n  feast  {e}\n  larder {a}")
            continue
        names = decode_entity_key(key, case.project)
        for view in case.views:
            fields = [f"_ts:{view.name}".encode()] + [field_hash(view.name, f) for f, _ in view.features]
            if fields[0] not in e[0]:
                continue
            # Feast writes b"" as null when no value of that Bytes column in its write batch is
            # non-empty (its type sampling skips empty values); Larder writes bytes_val b"".
            # A deliberate difference (docs/materialize.md), counted.
            for (f, t), h in zip(view.features, fields[1:]):
                if t == "Bytes" and e[0].get(h) == b"" and a[0].get(h) == b"\n\x00":
                    a = ({**a[0], h: b""}, a[1])
                    out.stats["empty_bytes_as_null"] = out.stats.get("empty_bytes_as_null", 0) + 1
            if all(e[0].get(f) == a[0].get(f) for f in fields):
                continue
            if e[0][fields[0]] == a[0][fields[0]] and materialize_ties(case, view, names) > 1:
                ambiguous += 1
                continue
            out.divergences.append(f"materialize key {key!r} view {view.name}:\n  feast  "
                                   f"{ {f: e[0].get(f) for f in fields} }\n  larder { {f: a[0].get(f) for f in fields} }")
    out.stats["tied_entities"] = ambiguous


def normalize(value):
    import numpy as np
    import pandas as pd
    if value is None or value is pd.NaT:
        return None
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if isinstance(value, pd.Timestamp):
        return value.value
    if isinstance(value, datetime):
        return micros(value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)) * 1000
    if isinstance(value, (np.floating, float)):
        value = float(value)
        if math.isnan(value):
            return None  # Feast's type mapper and Larder both return NaN as null
        if value.is_integer() and abs(value) <= 2**53:
            return int(value)  # an int column with nulls is float64 in Feast's DataFrame
        return value
    if isinstance(value, (np.integer, int)) and not isinstance(value, bool):
        return int(value)
    if isinstance(value, (np.bool_, bool)):
        return bool(value)
    if isinstance(value, list):
        return [normalize(v) for v in value]
    return value


def table_rows(path: Path):
    """Columns and normalized rows, read with pyarrow (pandas would turn Larder's int64
    columns with nulls into float64 as Feast's DataFrame does)."""
    table = pq.read_table(path)
    columns = [table.column(i).to_pylist() for i in range(table.num_columns)]
    return table.column_names, [tuple(normalize(c[i]) for c in columns) for i in range(table.num_rows)]


def same_cell(feast, larder, in_list=False) -> bool:
    if feast == larder and type(feast) is type(larder):
        return True
    if isinstance(feast, list) and isinstance(larder, list):
        return len(feast) == len(larder) and all(same_cell(f, l, True) for f, l in zip(feast, larder))
    # A null element of a String/Bytes list comes back as ""/b"" (documented in historical.md).
    if in_list and feast is None and larder in ("", b""):
        return True
    # Feast's DataFrame turns an integer column with a missing value into float64 (documented).
    if isinstance(feast, float) and isinstance(larder, int) and not isinstance(larder, bool):
        return float(larder) == feast
    return False


def oracle_value(value, t: str):
    """A source value as it comes out of either side's Parquet, normalized."""
    import numpy as np
    if value is None:
        return None
    if t.startswith("Array("):
        return [oracle_value(v, t[6:-1]) for v in value]
    if t == "Float32":
        return normalize(np.float32(value))
    return normalize(value)


class Oracle:
    """The source rows each entity row may take its values from, per view: those of its key
    inside [ts - ttl, ts] at the greatest event time. Feast's pick among several is arbitrary
    (it re-sorts by event time with an unstable sort), so any of them is accepted there;
    Larder's rule (greatest created, then first read) is tested in feast_golden."""

    def __init__(self, case: Case):
        self.case = case

    def has_rows(self, view: View, entity_row: dict) -> bool:
        src = self.case.sources[view.source]
        keys = [self.case.entities[e][0] for e in view.entities]
        return any(all(r[k] == entity_row[k] for k in keys) for _, part in src.files for r in part)

    def candidates(self, view: View, entity_row: dict):
        src = self.case.sources[view.source]
        keys = [self.case.entities[e][0] for e in view.entities]
        ts, ttl = entity_row["event_timestamp"], timedelta(seconds=view.ttl)
        rows = [r for _, part in src.files for r in part
                if all(r[k] == entity_row[k] for k in keys) and r[src.timestamp] <= ts
                and (not view.ttl or r[src.timestamp] >= ts - ttl)]
        if not rows:
            return None, []
        best = max(r[src.timestamp] for r in rows)
        reverse = {f: c for c, f in src.mapping.items()}
        return best, [{f: oracle_value(r[reverse.get(f, f)], t) for f, t in view.features} for r in rows
                      if r[src.timestamp] == best]


def compare_rows(case, oracle, cols, feast_row, larder_row, entity_row):
    """Cells that differ, allowing Feast's arbitrary pick among event-time ties."""
    bad = []
    by_col = dict(zip(cols, range(len(cols))))
    for view_name, feats in case.service[1]:
        view = case.view(view_name)
        names = feats or [f for f, _ in view.features]
        idx = [by_col[f"{view_name}__{f}"] for f in names]
        got_f = [feast_row[i] for i in idx]
        got_l = [larder_row[i] for i in idx]
        if all(same_cell(a, b) for a, b in zip(got_f, got_l)):
            continue
        _, options = oracle.candidates(view, entity_row)
        allowed = [[o[f] for f in names] for o in options]
        ok_f = any(all(same_cell(b, a) for a, b in zip(opt, got_f)) for opt in allowed)
        ok_l = any(all(same_cell(a, b) for a, b in zip(opt, got_l)) for opt in allowed)
        if not (len(allowed) > 1 and ok_f and ok_l):
            bad.append(f"{view_name} {names}: feast {got_f} larder {got_l} (candidates {len(allowed)})")
    return bad


def compare_historical(case: Case, root: Path, larder_repo: Path, entities: Path, feast_hist: Path, out: Outcome):
    error = feast_hist.with_suffix(".error.txt")
    if error.exists():
        text = error.read_text()
        # Feast's dask store cannot sort a multi-file (directory) source once the join has
        # put nulls in its time columns: get_historical_features fails, nothing to compare.
        if "Divisions calculation failed" in text and any(s.kind == "dir" for s in case.sources.values()):
            out.stats["feast_historical_failed"] = True
            return
        raise RuntimeError(f"feast get_historical_features failed:\n{text[-3000:]}")
    exact, default = root / "larder_exact.parquet", root / "larder_default.parquet"
    for path, flags in ((exact, ["--feast-compatible"]), (default, [])):
        run([larder_bin(), "historical", ".", "--entities", str(entities), "--features", "svc", "--out", str(path),
             "--full-feature-names", *flags], cwd=larder_repo)
    feast_cols, feast_rows = table_rows(feast_hist)
    exact_cols, exact_rows = table_rows(exact)
    default_cols, default_rows = table_rows(default)
    out.stats.update(entity_rows=len(case.entity_rows), feast_rows=len(feast_rows))
    if feast_cols != exact_cols:
        out.divergences.append(f"historical columns:\n  feast  {feast_cols}\n  larder {exact_cols}")
        return
    oracle = Oracle(case)
    label = feast_cols.index("label")
    entity_by_label = {row["label"]: row for row in case.entity_rows}
    key_cols = [i for i, c in enumerate(feast_cols) if "__" not in c]
    # Same rows (by label; full duplicates collapse on both sides), same entity columns, same features.
    if sorted(r[label] for r in feast_rows) != sorted(r[label] for r in exact_rows):
        fl, ll = [r[label] for r in feast_rows], [r[label] for r in exact_rows]
        out.divergences.append(f"historical --feast-compatible rows: feast {len(fl)} labels, larder {len(ll)}; "
                               f"only feast {sorted(set(fl) - set(ll))[:10]}, only larder {sorted(set(ll) - set(fl))[:10]}")
        return
    exact_by_label = {r[label]: r for r in exact_rows}
    for row in feast_rows:
        mine = exact_by_label[row[label]]
        if [row[i] for i in key_cols] != [mine[i] for i in key_cols]:
            out.divergences.append(f"historical entity columns differ: feast {row} larder {mine}")
            break
        bad = compare_rows(case, oracle, feast_cols, row, mine, entity_by_label[row[label]])
        if bad:
            out.divergences.append(f"historical --feast-compatible label {row[label]}: " + "; ".join(bad))
            break
    # Order: Feast sorts by the last view's matched event time, rows without a match first,
    # but its sorts and drop_duplicates run in dask and do not always leave that order
    # (docs/historical.md); --feast-compatible must follow the rule. How often Feast does is counted.
    last = case.view(case.service[1][-1][0])
    for side, rows in (("feast", feast_rows), ("larder", exact_rows)):
        keys = [oracle.candidates(last, entity_by_label[r[label]])[0] for r in rows]
        ranks = [(0, EPOCH) if k is None else (1, k) for k in keys]
        out.stats[f"{side}_sorted"] = ranks == sorted(ranks)
    if not out.stats["larder_sorted"]:
        out.divergences.append("historical --feast-compatible rows are not ordered by the last view's matched event time")
    out.stats["same_order"] = [r[label] for r in feast_rows] == [r[label] for r in exact_rows]
    # The default: every entity row in the entity file's order, Feast's rows among them with the same values.
    dl = default_cols.index("label")
    if [row[dl] for row in default_rows] != [row["label"] for row in case.entity_rows]:
        out.divergences.append("historical default: not every entity row in the entity file's order")
        return
    default_by_label = {r[dl]: r for r in default_rows}
    for row in feast_rows:
        mine = default_by_label[row[label]]
        mine = tuple(mine[default_cols.index(c)] for c in feast_cols)
        bad = compare_rows(case, oracle, feast_cols, row, mine, entity_by_label[row[label]])
        if bad:
            out.divergences.append(f"historical default label {row[label]}: " + "; ".join(bad))
            break
    # The rows only the default returns are exactly the documented ones: a view's key has source
    # rows, but none inside the row's window (Feast drops the row).
    kept = {r[label] for r in feast_rows}
    for row in case.entity_rows:
        if row["label"] in kept:
            continue
        dropped_by = [v for v, _ in case.service[1] if oracle.candidates(case.view(v), row)[0] is None
                      and oracle.has_rows(case.view(v), row)]
        if not dropped_by:
            out.divergences.append(f"historical: Feast dropped entity row {row} for no documented reason")
            break
    out.stats["default_extra_rows"] = len(default_rows) - len(feast_rows)
