"""`larder materialize` writes exactly what `feast materialize` writes: byte-identical
keyspaces of two redis-servers, over several views (multi-key entity, CSV twin source,
late and duplicate rows, created-timestamp tie breaks, nulls, NaN, lists), a second
overlapping window (only strictly newer rows are written), and Feast reading Larder's data."""
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from golden_support import Workspace, describe_difference, keyspace  # noqa: E402

WINDOW_1 = ("2025-01-01T00:00:00", "2025-01-05T00:00:00")
WINDOW_2 = ("2025-01-03T12:00:00", "2025-01-06T00:00:00")


@pytest.fixture(scope="module", params=[(3, ""), (2, "3600")], ids=["v3", "v2-key-ttl"])
def workspace(request, tmp_path_factory):
    version, ttl = request.param
    ws = Workspace(tmp_path_factory.mktemp(f"golden_v{version}"), key_version=version, key_ttl=ttl)
    ws.feast("apply")
    yield ws
    ws.stop()


def test_first_window_is_byte_identical(workspace):
    workspace.feast("materialize", *WINDOW_1)
    out = workspace.larder("materialize", ".", *WINDOW_1, "--no-progress")
    assert "4 view(s)" in out
    expected, actual = keyspace(workspace.feast_redis.port), keyspace(workspace.larder_redis.port)
    assert len(expected) > 50
    assert expected == actual, describe_difference(expected, actual)


def test_rerun_writes_nothing(workspace):
    before = keyspace(workspace.larder_redis.port)
    out = workspace.larder("materialize", ".", *WINDOW_1, "--no-progress")
    assert " 0 entities written" in out, out
    assert keyspace(workspace.larder_redis.port) == before


def test_overlapping_window_writes_only_newer_rows(workspace):
    workspace.feast("materialize", *WINDOW_2)
    workspace.larder("materialize", ".", *WINDOW_2, "--no-progress")
    expected, actual = keyspace(workspace.feast_redis.port), keyspace(workspace.larder_redis.port)
    assert expected == actual, describe_difference(expected, actual)


def test_feast_reads_what_larder_wrote(workspace):
    """The Feast SDK, pointed at Larder's redis-server, returns the same online features."""
    script = Path(__file__).resolve().parent / "online_read.py"
    feast_side = workspace.feast_online(script, workspace.feast_redis.port)
    larder_side = workspace.feast_online(script, workspace.larder_redis.port)
    assert "driver_hourly_stats__conv_rate" in feast_side
    assert feast_side == larder_side


def test_embedded_store_matches_feast(workspace):
    """`larder serve --repo R --materialize` (epoch to now, into its own shards) holds what
    `feast materialize` over the same range writes into redis-server."""
    import subprocess
    import time

    import redis
    from golden_support import larder_bin, servers

    redis.Redis(port=workspace.feast_redis.port).flushall()
    now = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime())
    workspace.feast("materialize", "1970-01-01T00:00:00", now)
    expected = keyspace(workspace.feast_redis.port)
    port = servers.free_port()
    proc = subprocess.Popen([larder_bin(), "serve", "--port", str(port), "--threads", "2", "--no-pin",
                             "--repo", ".", "--materialize", "--no-http"], cwd=workspace.larder_repo,
                            env=workspace.env(workspace.larder_redis.port),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        banner = ""
        while "serving RESP" not in banner:
            line = proc.stdout.readline()
            assert line, f"larder serve exited: {banner}"
            banner += line
        actual = keyspace(port)
        assert expected == actual, describe_difference(expected, actual)
    finally:
        proc.kill()
        proc.wait()
