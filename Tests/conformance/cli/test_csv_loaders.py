"""CSV sources and entity files as a careless user writes them (issue 11, section 3):
zero-padded ids stay strings, a source declares column types (`column_types`), and a value
that does not parse is named with file, line, column and value."""
import os
import subprocess
import sys
from pathlib import Path

import pytest
import redis

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "lib"))
sys.path.insert(0, str(HERE))
import servers  # noqa: E402
from test_operator_cli import larder_bin  # noqa: E402

DEFINITIONS = """
entities:
  - {name: customer, join_keys: [customer_id], value_type: STRING}
file_sources:
  - name: stats
    path: data/stats.csv
    timestamp_field: ts
COLUMN_TYPES
feature_views:
  - name: customer_stats
    entities: [customer]
    schema:
      - {name: code, dtype: String}
      - {name: trips, dtype: Int64}
    source: stats
"""


def repo(tmp: Path, csv: str, column_types="", port=1) -> Path:
    r = tmp / "repo"
    (r / "data").mkdir(parents=True, exist_ok=True)
    (r / "feature_store.yaml").write_text(f'project: csvtypes\nregistry: data/registry.db\nprovider: local\n'
                                          f'online_store: {{type: redis, connection_string: "127.0.0.1:{port}"}}\n')
    (r / "definitions.yaml").write_text(DEFINITIONS.replace("COLUMN_TYPES\n", column_types))
    (r / "data" / "stats.csv").write_text(csv)
    return r


def larder(*args, cwd=None):
    return subprocess.run([larder_bin(), *map(str, args)], capture_output=True, text=True, cwd=cwd, timeout=120)


PADDED = "customer_id,ts,code,trips\n00123,2025-01-01T00:00:00Z,007,1\n00456,2025-01-01T00:00:00Z,010,2\n"


@pytest.fixture
def target():
    server = servers.Server("redis", servers.redis_cmd_template())
    server.start()
    yield server
    server.stop()


def test_zero_padded_ids_and_declared_column_types(tmp_path, target):
    """Without a declaration the String feature `code` (007) is inferred int64 and refused,
    naming the fix; with `column_types: {code: String}` the run writes keys and values with
    their zeros (the STRING join key needs no declaration)."""
    r = repo(tmp_path, PADDED, port=target.port)
    plan = larder("plan", r)
    assert plan.returncode == 1
    assert 'feature "code" is declared String but column "code" is int64' in plan.stderr, plan.stderr
    assert "join key" not in plan.stderr, "the STRING key is read as text: " + plan.stderr

    r = repo(tmp_path, PADDED, column_types="    column_types: {code: String}\n", port=target.port)
    assert larder("plan", r).returncode == 0
    run = larder("materialize", r, "2024-12-31T00:00:00", "2025-01-02T00:00:00", "--no-progress")
    assert run.returncode == 0, run.stderr
    keys = redis.Redis(port=target.port).keys("*")
    assert len(keys) == 2
    # Feast's v3 key: the STRING value 00123 appears as its text, zeros included.
    assert any(b"00123" in k for k in keys) and any(b"00456" in k for k in keys), keys


def test_unknown_column_type_is_a_definition_error(tmp_path):
    r = repo(tmp_path, PADDED, column_types="    column_types: {code: Strng}\n")
    p = larder("plan", r)
    assert p.returncode == 1
    assert "definitions.yaml:8:26: file_source 'stats': key 'column_types': unknown type 'Strng' for column 'code'" in p.stderr, p.stderr
    assert "        column_types: {code: Strng}\n" + " " * 29 + "^\n" in p.stderr, p.stderr


def test_bad_values_name_file_line_column_and_value(tmp_path, target):
    bad_time = "customer_id,ts,code,trips\nA,2025-01-01T00:00:00Z,x,1\nB,yesterday,y,2\n"
    r = repo(tmp_path, bad_time, port=target.port)
    p = larder("plan", r)
    assert p.returncode == 1
    assert f'{r}/data/stats.csv:3: column "ts": "yesterday" is not a timestamp' in p.stderr, p.stderr
    assert "is string, not a timestamp" not in p.stderr

    rows = ["customer_id,ts,code,trips"] + [f"c{i},2025-01-01T00:00:00Z,x,{i}" for i in range(10_050)]
    rows[10_040] = "c10039,2025-01-01T00:00:00Z,x,lots"  # past the rows the types are inferred from
    r = repo(tmp_path, "\n".join(rows) + "\n", port=target.port)
    m = larder("materialize", r, "2024-12-31T00:00:00", "2025-01-02T00:00:00", "--no-progress")
    assert m.returncode == 1
    assert f'{r}/data/stats.csv:10041: column "trips": "lots" is not an int64' in m.stderr, m.stderr


def test_historical_entity_file(tmp_path):
    r = repo(tmp_path, PADDED, column_types="    column_types: {code: String}\n")
    entities = tmp_path / "entities.csv"
    entities.write_text("customer_id,event_timestamp,label\n00123,2025-01-02T00:00:00Z,001\n00999,2025-01-02T00:00:00Z,002\n")
    out = tmp_path / "out.csv"
    p = larder("historical", r, "--entities", entities, "--features", "customer_stats:code", "--out", out,
               "--entity-types", "label:string")
    assert p.returncode == 0, p.stderr
    assert out.read_text().splitlines() == ["customer_id,event_timestamp,label,code",
                                            "00123,2025-01-02T00:00:00Z,001,007",
                                            "00999,2025-01-02T00:00:00Z,002,"]
    entities.write_text("customer_id,event_timestamp\n00123,2025-01-02T00:00:00Z\n00999,soon\n")
    bad = larder("historical", r, "--entities", entities, "--features", "customer_stats:code", "--out", out)
    assert bad.returncode == 1
    assert f'{entities}:3: column "event_timestamp": "soon" is not a timestamp' in bad.stderr, bad.stderr
