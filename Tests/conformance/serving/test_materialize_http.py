"""POST /materialize and /materialize-incremental (issue 13): the same requests to `feast serve`
(on a redis-server) and to `larder serve --repo` give the same responses and leave the same
keyspace; Larder's incremental run continues from where `larder materialize` left off (the
repo's state database is shared by the CLI and the server)."""
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "lib"))
import servers  # noqa: E402
from test_feature_serving import FEAST_BIN, LARDER_BIN, ROOT, http, run, wait_http  # noqa: E402

pytestmark = [pytest.mark.larder_only,
              pytest.mark.skipif(servers.larder_is_standin(), reason="the HTTP feature server is Larder's")]

START, MID, END = "2025-01-01T00:00:00", "2025-01-04T00:00:00", "2025-01-08T00:00:00"


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    """Empty stores: Feast's repo on a redis-server behind `feast serve`, Larder's served by itself."""
    base = tmp_path_factory.mktemp("materialize_http")
    redis = servers.start_redis()
    larder_http = servers.free_port()
    feast_repo, larder_repo = base / "feast_repo", base / "larder_repo"
    for repo in (feast_repo, larder_repo):
        shutil.copytree(ROOT / "feature_repo", repo, ignore=shutil.ignore_patterns("registry.db", "*.db", "online*"))
    larder = servers.start_larder(["--repo", str(larder_repo), "--http-port", str(larder_http),
                                   "--no-ttl-enforcement", "--threads", "2", "--no-pin"])
    for repo, port in ((feast_repo, redis.port), (larder_repo, larder.port)):
        cfg = (repo / "feature_store.yaml").read_text().replace("127.0.0.1:6379", f"127.0.0.1:{port}")
        (repo / "feature_store.yaml").write_text(cfg)
    run([FEAST_BIN, "apply"], feast_repo)
    feast_http = servers.free_port()
    log = open(base / "feast_serve.log", "wb")
    feast = subprocess.Popen([FEAST_BIN, "serve", "-h", "127.0.0.1", "-p", str(feast_http), "--no-access-log"],
                             cwd=feast_repo, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                             start_new_session=True)
    try:
        wait_http(feast_http, feast)
        wait_http(larder_http, None)
        yield {"redis": redis, "larder": larder, "feast_http": feast_http, "larder_http": larder_http,
               "larder_repo": larder_repo}
    finally:
        os.killpg(feast.pid, signal.SIGTERM)
        try:
            feast.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(feast.pid, signal.SIGKILL)
            feast.wait()
        larder.stop()
        redis.stop()


def keyspace(client):
    return {k: client.hgetall(k) for k in client.scan_iter(count=1000)}


def both(pair, path, body):
    feast = http(pair["feast_http"], path, body)
    larder = http(pair["larder_http"], path, body)
    return feast, larder


def test_materialize_then_incremental_give_feasts_answers_and_keyspace(pair):
    r_larder, r_redis = pair["larder"].client(), pair["redis"].client()
    # A window of one view: Feast's 200 null on both, and the same hashes.
    feast, larder = both(pair, "/materialize", {"start_ts": START, "end_ts": MID, "feature_views": ["driver_hourly_stats"]})
    assert feast == (200, None)
    assert larder == feast
    first = keyspace(r_larder)
    assert first and first == keyspace(r_redis)
    # The other view: Feast through its server, Larder through the CLI into the running server.
    assert http(pair["feast_http"], "/materialize", {"start_ts": START, "end_ts": MID, "feature_views": ["customer_profile"]}) == (200, None)
    run([LARDER_BIN, "materialize", pair["larder_repo"], START, MID, "--views", "customer_profile",
         "--target", f"redis://127.0.0.1:{pair['larder'].port}"], ROOT)
    assert keyspace(r_larder) == keyspace(r_redis)
    # Incremental: every view from MID (both record MID: Feast in its registry, Larder in its
    # state database, written by the HTTP run for one view and by the CLI for the other).
    feast, larder = both(pair, "/materialize-incremental", {"end_ts": END})
    assert feast == (200, None)
    assert larder == feast
    after = keyspace(r_larder)
    assert after == keyspace(r_redis)
    assert after != first, "rows after MID were written"
    # Again up to END: nothing newer, nothing changes.
    assert both(pair, "/materialize-incremental", {"end_ts": END}) == ((200, None), (200, None))
    assert keyspace(r_larder) == after
    # /metrics counts the runs per view (the CLI run is not the server's).
    _, text = http(pair["larder_http"], "/metrics")
    assert 'larder_materializations_total{feature_view="driver_hourly_stats",kind="materialize",result="ok"} 1' in text
    assert 'larder_materializations_total{feature_view="customer_profile",kind="materialize-incremental",result="ok"} 2' in text
    assert "larder_materialization_last_success_timestamp_seconds{" in text


def test_unknown_view_is_feasts_404_and_bad_times_are_4xx(pair):
    feast, larder = both(pair, "/materialize", {"start_ts": START, "end_ts": MID, "feature_views": ["nope"]})
    assert feast[0] == 404
    assert larder == feast
    feast, larder = both(pair, "/materialize-incremental", {"end_ts": END, "feature_views": ["nope"]})
    assert larder == feast
    # Missing end_ts: FastAPI's 422 on both.
    feast, larder = both(pair, "/materialize-incremental", {})
    assert feast[0] == larder[0] == 422
    # Feast answers these ValueErrors with 500; Larder with 400 and the same message.
    feast, larder = both(pair, "/materialize", {"end_ts": END})
    assert feast[0] == 500 and larder[0] == 400
    assert "start_ts and end_ts are required" in feast[1] and "start_ts and end_ts are required" in larder[1]
    status, body = http(pair["larder_http"], "/materialize", {"start_ts": END, "end_ts": START})
    assert status == 400 and "must be before" in body
    status, body = http(pair["larder_http"], "/materialize", {"start_ts": "yesterday", "end_ts": END})
    assert status == 400 and "yesterday" in body
    assert http(pair["larder_http"], "/materialize", raw=b'{"start_ts": ')[0] == 422
    assert http(pair["larder_http"], "/health")[0] == 200
