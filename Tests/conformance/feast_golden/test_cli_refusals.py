"""Careless-user refusals of the offline commands (issue 11, section 3): an output format
Larder does not write is an error before any work, never silently Parquet."""
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from golden_support import larder_bin  # noqa: E402


def test_historical_refuses_json_output(tmp_path):
    out = tmp_path / "x.json"
    proc = subprocess.run([larder_bin(), "historical", str(tmp_path), "--entities", str(tmp_path / "e.parquet"),
                           "--features", "v:f", "--out", str(out)], capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0
    assert "unsupported output format '.json'" in proc.stderr + proc.stdout
    assert not out.exists()
