"""maxmemory with noeviction, as Redis (the eviction policies: test_eviction.py): over the limit, writes that add data get the same -OOM
error as redis-server's, reads and DEL keep working; a materialization into a full server
stops with a clear message naming the error, not a hang."""
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "lib"))
sys.path.insert(0, str(HERE.parent / "cli"))
import servers  # noqa: E402
from test_materialize_client import make_repo  # noqa: E402

pytestmark = pytest.mark.skipif(servers.larder_is_standin(), reason="larder's maxmemory")


def oom_reply(server):
    c = server.client()
    c.set("k", "v")
    c.config_set("maxmemory", "1")  # below what either server uses
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            c.set("k2", "v")
        except redis.ResponseError as e:
            return str(e), c.get("k"), c.delete("k")
        time.sleep(0.02)
    return None, None, None


def test_writes_over_maxmemory_get_redis_oom_error():
    larder, ref = servers.start_larder(), servers.start_redis()
    try:
        got, want = oom_reply(larder), oom_reply(ref)
        assert want[0] and got == want, (got, want)
    finally:
        larder.stop(); ref.stop()


def materialize_into(port, tmp_path):
    repo = make_repo(tmp_path, f"{{type: redis, connection_string: '127.0.0.1:{port}'}}")
    return subprocess.run([str(servers.REPO_ROOT / ".build/release/larder"), "materialize", str(repo),
                           "2024-12-31T00:00:00", "2025-01-02T00:00:00", "--no-progress", "--batch-size", "5"],
                          capture_output=True, text=True, timeout=60)


def assert_stopped_at_first_batch(done):
    """Exit 1, the view, the batch and its rows, how many were refused, the target's error."""
    assert done.returncode != 0, done.stdout
    assert 'view "driver_stats", batch 1 (rows 1-5): 5 of 5 rows refused by redis://127.0.0.1:' in done.stderr, done.stderr
    assert "OOM command not allowed when used memory > 'maxmemory'." in done.stderr, done.stderr
    assert "stopping: the target is out of memory" in done.stderr, done.stderr
    assert "batch 2" not in done.stderr, done.stderr


def fill_until_oom(server):
    """Fills the server until a small write is refused, so it is over its limit at rest (a
    large value is refused while it sits in the query buffer alone); returns DBSIZE."""
    c = server.client()
    for size, pause, tries in [(20_000, 0.12, 1000), (100, 0, 200_000)]:
        for i in range(tries):
            try:
                c.set(f"filler{size}:{i}", b"x" * size)
            except redis.exceptions.OutOfMemoryError:
                break
            time.sleep(pause)  # larder measures used memory every 100 ms
        else:
            raise AssertionError("never full")
    # Still full a few measurements later (memory freed after the burst, such as a grown
    # query buffer, can bring a server that was just over the limit back under it).
    for i in range(200):
        time.sleep(0.25)
        try:
            c.set(f"filler-settle:{i}", b"x" * 2000)
        except redis.exceptions.OutOfMemoryError:
            return c.dbsize()
    raise AssertionError("did not stay full")


def test_materialize_into_a_full_server_stops_with_the_error(tmp_path):
    server = servers.start_larder(["--maxmemory", "4mb"])
    try:
        filled = fill_until_oom(server)
        done = materialize_into(server.port, tmp_path)
        assert_stopped_at_first_batch(done)
        assert server.client().dbsize() == filled
    finally:
        server.stop()


def test_materialize_into_a_full_redis_server_stops_the_same_way(tmp_path):
    """redis-server with maxmemory 2mb and noeviction, filled past it."""
    server = servers.start_redis(["--maxmemory", "2mb", "--maxmemory-policy", "noeviction"])
    try:
        filled = fill_until_oom(server)
        done = materialize_into(server.port, tmp_path)
        assert_stopped_at_first_batch(done)
        assert server.client().dbsize() == filled
    finally:
        server.stop()
