"""GET /ready is 503 while `larder serve --repo R --materialize` loads (RESP says -LOADING
meanwhile) and 200 only once every entity is in the store; GET /health is 200 throughout."""
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "lib"))
import servers  # noqa: E402

pytestmark = [pytest.mark.larder_only,
              pytest.mark.skipif(servers.larder_is_standin(), reason="the HTTP feature server is Larder's")]

LARDER_BIN = HERE.parents[2] / ".build" / "release" / "larder"
ENTITIES = 300_000
ROWS_PER_ENTITY = 4   # 1.2 M source rows: a load long enough to be seen


def make_repo(path: Path):
    import pyarrow as pa
    import pyarrow.parquet as pq
    (path / "data").mkdir(parents=True)
    n = ENTITIES * ROWS_PER_ENTITY
    ids = pa.array([i % ENTITIES for i in range(n)], pa.int64())
    ts = pa.array([1_735_689_600_000_000 + (i // ENTITIES) * 3_600_000_000 for i in range(n)], pa.timestamp("us", tz="UTC"))
    rate = pa.array([float(i % 1000) / 1000 for i in range(n)], pa.float64())
    pq.write_table(pa.table({"user_id": ids, "event_timestamp": ts, "rate": rate}), path / "data" / "users.parquet")
    (path / "feature_store.yaml").write_text(
        "project: ready_demo\nprovider: local\nregistry: data/registry.db\noffline_store:\n  type: file\n"
        "online_store:\n  type: redis\n  connection_string: \"127.0.0.1:6379\"\nentity_key_serialization_version: 3\n")
    (path / "definitions.yaml").write_text(
        "entities:\n  - {name: user, join_keys: [user_id], value_type: INT64}\n"
        "file_sources:\n  - {name: users_source, path: data/users.parquet, timestamp_field: event_timestamp}\n"
        "feature_views:\n  - name: users\n    entities: [user]\n    schema:\n"
        "      - {name: user_id, dtype: Int64}\n      - {name: rate, dtype: Float64}\n    source: users_source\n")


def get(port, path):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code
    except OSError:
        return None


def resp(port, *args):
    """One command's raw reply (first bytes), or None when the port is closed."""
    cmd = b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in args)
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
            s.sendall(cmd)
            return s.recv(256)
    except OSError:
        return None


def test_ready_waits_for_the_startup_materialization(tmp_path):
    repo = tmp_path / "repo"
    make_repo(repo)
    port, http_port = servers.free_port(), servers.free_port()
    log = open(tmp_path / "larder.log", "wb")
    proc = subprocess.Popen([str(LARDER_BIN), "serve", "--port", str(port), "--repo", str(repo), "--materialize",
                             "--http-port", str(http_port), "--threads", "2", "--no-pin"],
                            cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        seen_loading = False
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            assert proc.poll() is None, (tmp_path / "larder.log").read_text()
            ready = get(http_port, "/ready")
            if ready == 503:
                seen_loading = True
                assert get(http_port, "/health") == 200, "live while loading"
                assert (resp(port, b"PING") or b"").startswith((b"-LOADING", b"+PONG"))
            elif ready == 200:
                # Ready means loaded: every entity is there and RESP answers.
                assert resp(port, b"PING").startswith(b"+PONG")
                assert resp(port, b"DBSIZE") == b":%d\r\n" % ENTITIES
                break
            time.sleep(0.02)
        else:
            pytest.fail("/ready never became 200")
        assert seen_loading, "/ready answered 503 while the store loaded"
    finally:
        proc.terminate()
        proc.wait(timeout=20)
