"""Definition errors as `larder plan` prints them (issue 11, section 3): one error per line,
the source line under it with a caret under the right column, every error of the repo in one
run (config and definitions), and the message about the real problem."""
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from test_operator_cli import larder_bin  # noqa: E402

STORE = """project: e
registry: data/registry.db
provider: local
online_store:
    type: redsi
    connection_string: "127.0.0.1:6379"
"""

DEFS = """entities:
  - {name: driver, join_keys: [driver_id], value_type: INT64}
file_sources:
  - {name: stats, path: data/stats.parquet, timestamp_field: ts, time_zone: utc}
feature_views:
  - name: hourly
    entities: [drivr]
    source: stats
    online: maybe
    schema:
      - {name: conv_rate, dtype: Float}
      - {name: city, dtype: String}
"""


def test_every_error_one_per_line_with_a_caret(tmp_path):
    (tmp_path / "feature_store.yaml").write_text(STORE)
    (tmp_path / "defs.yaml").write_text(DEFS)
    p = subprocess.run([larder_bin(), "plan", str(tmp_path)], capture_output=True, text=True, timeout=60)
    assert p.returncode == 1
    lines = p.stderr.splitlines()
    assert lines[0] == "larder plan: feature repo has 5 errors:", p.stderr
    expected = [
        ("feature_store.yaml:5:11: key 'online_store.type': unknown online store type 'redsi' (Larder writes to 'redis';",
         "        type: redsi", "              ^"),
        ("defs.yaml:4:66: file_source 'stats': key 'time_zone': unknown key (allowed: ",
         "      - {name: stats, path: data/stats.parquet, timestamp_field: ts, time_zone: utc}", " " * 69 + "^"),
        ("defs.yaml:7:16: feature_view 'hourly': key 'entities': unknown entity 'drivr' (defined: driver)",
         "        entities: [drivr]", " " * 19 + "^"),
        ("defs.yaml:9:13: feature_view 'hourly': key 'online': expected true or false, found the string 'maybe'",
         "        online: maybe", " " * 16 + "^"),
        ("defs.yaml:11:34: feature_view 'hourly': key 'schema[0].dtype': unknown type 'Float' (expected one of ",
         "          - {name: conv_rate, dtype: Float}", " " * 37 + "^"),
    ]
    assert len(lines) == 1 + 3 * len(expected), p.stderr
    for i, (message, source, caret) in enumerate(expected):
        assert lines[1 + 3 * i].startswith(message), f"{lines[1 + 3 * i]!r}\n{p.stderr}"
        assert lines[2 + 3 * i] == source
        assert lines[3 + 3 * i] == caret, f"{lines[3 + 3 * i]!r} under {source!r}"
