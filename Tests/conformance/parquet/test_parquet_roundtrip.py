"""Files written by LarderParquet's ParquetWriter must read back exactly in pyarrow,
polars and DuckDB (and sensibly in pandas).

The Swift side writes the files: XCTest `WriterTests.testWriteConformanceFiles` writes one
file per writer variant plus `expected.json` (the values it wrote, in the fixture JSON
conventions: timestamps as int64 ns, dates as int32 days, binary as base64, NaN/Infinity
as strings) into $LARDER_PARQUET_CONFORMANCE_DIR. If that variable is not set, this test
runs `swift test` itself to produce them in a temporary directory.

Run (from the repository root):
    /root/.cache/larder/venv-r7/bin/python -m pytest -q Tests/conformance/parquet/test_parquet_roundtrip.py
"""
import base64
import json
import math
import os
import pathlib
import subprocess

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[3]
VARIANTS = ["snappy_dict", "snappy_plain", "none_small_pages", "zstd", "gzip_plain"]


@pytest.fixture(scope="session")
def files(tmp_path_factory):
    out = os.environ.get("LARDER_PARQUET_CONFORMANCE_DIR")
    if not out or not (pathlib.Path(out) / "expected.json").exists():
        # scripts/test.sh sets the variable before `swift test`, which writes the files;
        # run on its own (or after SKIP_SWIFT=1), this test produces them itself.
        out = out or str(tmp_path_factory.mktemp("larder-parquet"))
        env = dict(os.environ, LARDER_PARQUET_CONFORMANCE_DIR=out)
        subprocess.run(["swift", "test", "--filter", "LarderParquetTests.WriterTests/testWriteConformanceFiles"],
                       cwd=ROOT, env=env, check=True, capture_output=True)
    d = pathlib.Path(out)
    expected = json.loads((d / "expected.json").read_text())
    return d, expected


def to_plain(col: pa.ChunkedArray, ts_divisor: int = 1):
    """Arrow column -> Python values in the expected.json conventions."""
    t = col.type
    if pa.types.is_timestamp(t):
        col = col.cast(pa.timestamp("ns", tz=t.tz)).cast(pa.int64())
        return [None if v is None else v // ts_divisor for v in col.to_pylist()]
    if pa.types.is_date32(t):
        return col.cast(pa.int32()).to_pylist()
    return [convert(v) for v in col.to_pylist()]


def convert(v):
    if isinstance(v, (bytes, bytearray)):
        return base64.b64encode(v).decode()
    if isinstance(v, float):
        if math.isnan(v):
            return "NaN"
        if math.isinf(v):
            return "Infinity" if v > 0 else "-Infinity"
        return v
    if isinstance(v, list):
        return [convert(x) for x in v]
    return v


def same(expected, got, type_name: str, ts_divisor: int = 1) -> bool:
    if expected is None or got is None:
        return expected is None and got is None
    if type_name.startswith("list<"):
        inner = type_name[5:-1]
        return isinstance(got, list) and len(got) == len(expected) and all(
            same(e, g, inner, ts_divisor) for e, g in zip(expected, got))
    if type_name == "float" and not isinstance(expected, str):
        return not isinstance(got, str) and np.float32(expected) == np.float32(got) and \
            math.copysign(1, expected) == math.copysign(1, got)
    if type_name == "double" and not isinstance(expected, str):
        return not isinstance(got, str) and expected == got and math.copysign(1, expected) == math.copysign(1, got)
    if type_name.startswith("timestamp"):
        return expected // ts_divisor == got
    return expected == got


def check_table(table: pa.Table, expected: dict, reader: str, ts_divisor: int = 1):
    assert table.num_rows == expected["num_rows"], reader
    for name, spec in expected["columns"].items():
        got = to_plain(table.column(name), ts_divisor)
        bad = [i for i, (e, g) in enumerate(zip(spec["values"], got)) if not same(e, g, spec["type"], ts_divisor)]
        assert not bad, f"{reader}: column {name} differs at rows {bad[:5]}: " \
                        f"expected {[spec['values'][i] for i in bad[:3]]}, got {[got[i] for i in bad[:3]]}"


@pytest.mark.parametrize("variant", VARIANTS)
def test_pyarrow_reads_every_value(files, variant):
    d, expected = files
    table = pq.read_table(d / f"{variant}.parquet")
    check_table(table, expected, "pyarrow")
    assert str(table.schema.field("event_timestamp").type) == "timestamp[ns, tz=UTC]"
    assert str(table.schema.field("ts_naive").type) == "timestamp[ns]"
    assert str(table.schema.field("day").type) == "date32[day]"
    assert str(table.schema.field("tags").type) == "list<element: string>"
    assert not table.schema.field("id").nullable


@pytest.mark.parametrize("variant", VARIANTS)
def test_pyarrow_statistics(files, variant):
    d, expected = files
    meta = pq.ParquetFile(d / f"{variant}.parquet").metadata
    rows = 0
    ids = expected["columns"]["id"]["values"]
    for g in range(meta.num_row_groups):
        rg = meta.row_group(g)
        col = rg.column(0)
        assert col.path_in_schema == "id"
        assert col.statistics.has_min_max
        assert col.statistics.min == min(ids[rows:rows + rg.num_rows])
        assert col.statistics.max == max(ids[rows:rows + rg.num_rows])
        assert col.statistics.null_count == 0
        rows += rg.num_rows
    assert rows == expected["num_rows"]


@pytest.mark.parametrize("variant", VARIANTS)
def test_polars_reads_every_value(files, variant):
    pl = pytest.importorskip("polars")
    d, expected = files
    df = pl.read_parquet(d / f"{variant}.parquet")
    check_table(df.to_arrow(), expected, "polars")


@pytest.mark.parametrize("variant", VARIANTS)
def test_duckdb_reads_every_value(files, variant):
    duckdb = pytest.importorskip("duckdb")
    d, expected = files
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    rel = con.sql(f"SELECT * FROM read_parquet('{d / (variant + '.parquet')}')")
    table = rel.to_arrow_table() if hasattr(rel, "to_arrow_table") else rel.arrow()
    if hasattr(table, "read_all"):
        table = table.read_all()
    # DuckDB keeps time zone-aware timestamps at microsecond precision.
    tz_divisor = 1000 if table.schema.field("event_timestamp").type.unit == "us" else 1
    check_table(table.drop_columns(["event_timestamp"]), {"num_rows": expected["num_rows"], "columns": {
        k: v for k, v in expected["columns"].items() if k != "event_timestamp"}}, "duckdb")
    check_table(table.select(["event_timestamp"]), {"num_rows": expected["num_rows"], "columns": {
        "event_timestamp": expected["columns"]["event_timestamp"]}}, "duckdb", tz_divisor)


@pytest.mark.parametrize("variant", VARIANTS)
def test_pandas_reads_the_file(files, variant):
    pd = pytest.importorskip("pandas")
    d, expected = files
    df = pd.read_parquet(d / f"{variant}.parquet")
    assert len(df) == expected["num_rows"]
    assert list(df["id"]) == expected["columns"]["id"]["values"]
    assert str(df["event_timestamp"].dtype) == "datetime64[ns, UTC]"
    ts = expected["columns"]["event_timestamp"]["values"]
    got = df["event_timestamp"]
    for i in range(len(ts)):
        if ts[i] is None:
            assert pd.isna(got.iloc[i])
        else:
            assert got.iloc[i].value == ts[i]
    names = expected["columns"]["name"]["values"]
    assert [None if pd.isna(v) else v for v in df["name"]] == names
