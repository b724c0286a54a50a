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


def test_incremental_end_before_last_run_is_an_error(tmp_path):
    import os

    from golden_support import servers
    from test_edge_parity import DEFINITIONS_YAML, STORE_YAML, write_data

    write_data(tmp_path / "data")
    (tmp_path / "definitions.yaml").write_text(DEFINITIONS_YAML)
    (tmp_path / "feature_store.yaml").write_text(STORE_YAML)
    target = servers.start_redis()
    try:
        env = dict(os.environ, GOLDEN_REDIS_PORT=str(target.port))

        def incremental(end):
            return subprocess.run([larder_bin(), "materialize-incremental", ".", end, "--no-progress"], cwd=tmp_path,
                                  env=env, capture_output=True, text=True, timeout=120)
        import time
        first = incremental(time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()))
        assert first.returncode == 0, first.stderr
        back = incremental("2025-01-01T00:00:00")
        assert back.returncode != 0, back.stdout + back.stderr
        assert "END 2025-01-01T00:00:00Z is before " in back.stderr and ", the end of the last run of view" in back.stderr, back.stderr
    finally:
        target.stop()


def test_materialize_fails_within_timeout_on_a_silent_target(tmp_path):
    """A listener that accepts and never answers: `larder materialize` fails within the
    target timeout with an error naming the target, instead of hanging forever."""
    import os
    import socket
    import time

    from test_edge_parity import DEFINITIONS_YAML, STORE_YAML, write_data

    write_data(tmp_path / "data")
    (tmp_path / "definitions.yaml").write_text(DEFINITIONS_YAML)
    (tmp_path / "feature_store.yaml").write_text(STORE_YAML)
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)  # the kernel completes the handshake; nobody ever reads or writes
    port = silent.getsockname()[1]
    try:
        env = dict(os.environ, GOLDEN_REDIS_PORT=str(port), LARDER_TARGET_TIMEOUT_SECONDS="2")
        began = time.monotonic()
        proc = subprocess.run([larder_bin(), "materialize", ".", "2024-12-31T00:00:00", "2025-01-02T00:00:00",
                               "--no-progress"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
        took = time.monotonic() - began
    finally:
        silent.close()
    assert proc.returncode != 0
    assert f"127.0.0.1:{port}" in proc.stderr and "no reply within 2.0 s" in proc.stderr, proc.stderr
    assert took < 20
