"""`larder materialize` into a Redis Cluster (redis_type: redis_cluster, redis-cluster://) and
split among workers (--workers N --worker I): byte-identical to `feast materialize` with
redis_type: redis_cluster into another real 3-node redis-server cluster, a stale slot map
(MOVED) and a migrating slot (ASK) followed, a node down named with the view; N=2 and N=3
workers' writes union to the single run; the view's window is recorded once all workers end."""
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis
from redis.crc import key_slot

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "feast_golden"))
from cluster_support import RedisCluster, StaleMapNode, raw_call  # noqa: E402
from golden_support import Workspace, describe_difference, keyspace, larder_bin  # noqa: E402

WINDOW_1 = ("2025-01-01T00:00:00", "2025-01-05T00:00:00")


def set_online_store(repo: Path, connection: str, redis_type: str):
    yaml = repo / "feature_store.yaml"
    text = yaml.read_text()
    text = text.replace('connection_string: "127.0.0.1:${GOLDEN_REDIS_PORT}"', f'connection_string: "{connection}"')
    text = text.replace("redis_type: redis\n", f"redis_type: {redis_type}\n")
    yaml.write_text(text)


def run_larder(ws, *args, env=None, check=True):
    proc = subprocess.run([larder_bin(), *args], cwd=ws.larder_repo, env=env or ws.env(0),
                          capture_output=True, text=True, timeout=300)
    if check:
        assert proc.returncode == 0, f"larder {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
    return proc


@pytest.fixture(scope="module")
def clusters(tmp_path_factory):
    """Feast's cluster, Larder's cluster and the golden workspace (key TTL set, so EXPIRE is
    routed too); Feast's side is materialized once (Feast takes most of this module's time)."""
    feast_cluster, larder_cluster = RedisCluster(), RedisCluster()
    ws = Workspace(tmp_path_factory.mktemp("cluster"), key_version=3, key_ttl="3600")
    set_online_store(ws.feast_repo, feast_cluster.connection_string(), "redis_cluster")
    set_online_store(ws.larder_repo, larder_cluster.connection_string(), "redis_cluster")
    ws.feast("apply")
    ws.feast("materialize", *WINDOW_1)
    window_1 = feast_cluster.keyspace()
    yield ws, larder_cluster, window_1, None
    ws.stop()
    feast_cluster.stop()
    larder_cluster.stop()


def test_redis_cluster_config_is_byte_identical_to_feast(clusters):
    ws, larder_cluster, window_1, window_2 = clusters
    larder_cluster.flush()
    proc = run_larder(ws, "materialize", ".", *WINDOW_1, "--no-progress")
    assert "redis-cluster://" in proc.stdout
    actual = larder_cluster.keyspace()
    assert len(window_1) > 50
    assert window_1 == actual, describe_difference(window_1, actual)
    # Every node got a share: the keys really were routed, not all sent to the first node.
    assert all(redis.Redis(port=p).dbsize() > 0 for p in larder_cluster.ports)
    # Again: the routed HMGETs of _ts find every entity, nothing is written.
    proc = run_larder(ws, "materialize", ".", *WINDOW_1, "--no-progress")
    assert " 0 entities written" in proc.stdout, proc.stdout
    assert larder_cluster.keyspace() == actual


def test_redis_cluster_url_target(clusters):
    ws, larder_cluster, window_1, _ = clusters
    larder_cluster.flush()
    # One seed is enough: the rest of the map comes from CLUSTER SLOTS.
    run_larder(ws, "materialize", ".", *WINDOW_1, "--no-progress",
               "--target", f"redis-cluster://127.0.0.1:{larder_cluster.ports[1]}")
    actual = larder_cluster.keyspace()
    assert window_1 == actual, describe_difference(window_1, actual)


def test_stale_slot_map_is_refreshed_on_moved(clusters):
    ws, larder_cluster, window_1, _ = clusters
    larder_cluster.flush()
    stale = StaleMapNode(larder_cluster)
    try:
        run_larder(ws, "materialize", ".", *WINDOW_1, "--no-progress", "--target", f"redis-cluster://127.0.0.1:{stale.port}")
    finally:
        stale.stop()
    # The first batch (the 40 drivers of the first view) all went to the stale node and came back MOVED.
    assert stale.moved >= 40 and stale.slot_asks >= 2
    actual = larder_cluster.keyspace()
    assert window_1 == actual, describe_difference(window_1, actual)


def test_migrating_slot_is_followed_with_asking(clusters):
    ws, larder_cluster, window_1, _ = clusters
    larder_cluster.flush()
    # The slot of the most keys Feast wrote: set it MIGRATING on its owner, IMPORTING on another node.
    slots = [key_slot(k) for k in window_1]
    slot = max(set(slots), key=slots.count)
    source = larder_cluster.owner(slot)
    destination = next(p for p in larder_cluster.ports if p != source)
    ids = {p: raw_call(p, "CLUSTER", "MYID") for p in larder_cluster.ports}
    assert raw_call(destination, "CLUSTER", "SETSLOT", slot, "IMPORTING", ids[source]) == b"OK"
    assert raw_call(source, "CLUSTER", "SETSLOT", slot, "MIGRATING", ids[destination]) == b"OK"
    try:
        run_larder(ws, "materialize", ".", *WINDOW_1, "--no-progress")
        # The keys of the migrating slot were absent on the source: they were written on the destination.
        assert raw_call(destination, "CLUSTER", "COUNTKEYSINSLOT", slot) == slots.count(slot) >= 1
        assert raw_call(source, "CLUSTER", "COUNTKEYSINSLOT", slot) == 0
    finally:
        # End the migration (the slot is the destination's) so that plain clients read it again.
        for p in larder_cluster.ports:
            raw_call(p, "CLUSTER", "SETSLOT", slot, "NODE", ids[destination])
    actual = larder_cluster.keyspace()
    assert window_1 == actual, describe_difference(window_1, actual)


@pytest.mark.parametrize("workers", [2, 3])
def test_workers_union_is_the_single_run(clusters, workers, tmp_path):
    """Each worker writes into its own redis-server: the shares are disjoint and their union
    is the single run's keyspace (the same as Feast's)."""
    ws, _, window_1, _ = clusters
    single = ws.larder_redis
    redis.Redis(port=single.port).flushall()
    run_larder(ws, "materialize", ".", *WINDOW_1, "--no-progress", "--target", f"redis://127.0.0.1:{single.port}")
    expected = keyspace(single.port)
    from golden_support import servers
    union = {}
    env = dict(ws.env(0), LARDER_STATE=str(tmp_path / "state.db"))
    targets = [servers.start_redis() for _ in range(workers)]
    try:
        for index, target in enumerate(targets):
            # Worker 0 from JOB_COMPLETION_INDEX (a Kubernetes Indexed Job), the others from --worker.
            args = ["--worker", str(index)] if index else []
            run_larder(ws, "materialize", ".", *WINDOW_1, "--no-progress", "--target", f"redis://127.0.0.1:{target.port}",
                       "--workers", str(workers), *args, env=dict(env, JOB_COMPLETION_INDEX="0"))
            part = keyspace(target.port)
            assert part, f"worker {index} of {workers} wrote nothing"
            assert not set(part) & set(union)
            union.update(part)
    finally:
        for target in targets:
            target.stop()
    assert union == expected, describe_difference(expected, union)
    # Feast's keys with the TTL it set: only the TTL flag differs (the single run has key_ttl too).
    assert set(union) == set(window_1)


def test_workers_into_cluster(clusters):
    ws, larder_cluster, window_1, _ = clusters
    larder_cluster.flush()
    env = dict(ws.env(0), LARDER_STATE=str(ws.tmp / "workers-cluster.db"))
    procs = [subprocess.Popen([larder_bin(), "materialize", ".", *WINDOW_1, "--no-progress", "--workers", "2", "--worker", str(i)],
                              cwd=ws.larder_repo, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for i in range(2)]
    for p in procs:
        out, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
    actual = larder_cluster.keyspace()
    assert window_1 == actual, describe_difference(window_1, actual)


def recorded(state: Path):
    with sqlite3.connect(state) as db:
        return sorted({row[0] for row in db.execute("SELECT feature_view FROM materializations WHERE feature_view LIKE 'driver_hourly_stats%'")})


def test_view_window_advances_when_all_workers_finished(clusters, tmp_path):
    ws = clusters[0]
    state = tmp_path / "state.db"
    env = dict(ws.env(0), LARDER_STATE=str(state))
    target = ["--target", f"redis://127.0.0.1:{ws.larder_redis.port}", "--no-progress", "--views", "driver_hourly_stats"]

    def worker(index, *args):
        return run_larder(ws, *args, *target, "--workers", "2", "--worker", str(index), env=env).stderr

    assert "1 of 2 workers have finished" in worker(1, "materialize", ".", *WINDOW_1)
    assert recorded(state) == ["driver_hourly_stats#worker 1/2"]
    assert "2 of 2 workers have finished this window (the view's window is recorded)" in worker(0, "materialize", ".", *WINDOW_1)
    assert recorded(state) == ["driver_hourly_stats", "driver_hourly_stats#worker 0/2", "driver_hourly_stats#worker 1/2"]
    # Worker 1 runs ahead: its windows start at the view's recorded end, which stays put
    # until worker 0 has done the same window.
    assert "driver_hourly_stats: from 2025-01-05T00:00:00Z" in worker(1, "materialize-incremental", ".", "2025-01-06T00:00:00")
    out = worker(1, "materialize-incremental", ".", "2025-01-07T00:00:00")
    assert "driver_hourly_stats: from 2025-01-05T00:00:00Z" in out and "1 of 2 workers" in out
    out = worker(0, "materialize-incremental", ".", "2025-01-07T00:00:00")
    assert "driver_hourly_stats: from 2025-01-05T00:00:00Z" in out and "2 of 2 workers" in out
    assert "driver_hourly_stats: from 2025-01-07T00:00:00Z" in worker(1, "materialize-incremental", ".", "2025-01-08T00:00:00")


def test_bad_worker_options(clusters):
    ws = clusters[0]
    for args, message in [(["--workers", "3"], "--workers 3 needs --worker I"),
                          (["--workers", "3", "--worker", "3"], "worker index 3 is outside 0..2"),
                          (["--worker", "1"], "--worker needs --workers N"),
                          (["--workers", "0", "--worker", "0"], "--workers must be 1 or more")]:
        env = {k: v for k, v in ws.env(0).items() if k != "JOB_COMPLETION_INDEX"}
        proc = run_larder(ws, "materialize", ".", *WINDOW_1, "--no-progress", *args, env=env, check=False)
        assert proc.returncode != 0 and message in proc.stderr, proc.stderr


def test_node_down_names_the_node_and_the_view(clusters):
    """Last: it kills a node of Larder's cluster."""
    ws, larder_cluster, _, _ = clusters
    dead = larder_cluster.nodes[2]
    dead.proc.send_signal(signal.SIGKILL)
    dead.proc.wait()
    started = time.monotonic()
    proc = run_larder(ws, "materialize", ".", *WINDOW_1, "--no-progress", "--retries", "1",
                      "--target", f"redis-cluster://127.0.0.1:{larder_cluster.ports[0]}", check=False)
    assert proc.returncode == 1, proc.stderr
    assert f"127.0.0.1:{dead.port}" in proc.stderr and "of view driver_hourly_stats" in proc.stderr, proc.stderr
    assert time.monotonic() - started < 30


def test_sigterm_stops_a_worker_between_views_keeping_its_finished_views(clusters, tmp_path):
    """As a whole run (deploy/test_materialize_plan.py): a worker stops within seconds, exit 143,
    its finished views recorded as its own share (the views' windows wait for the other worker)."""
    ws = clusters[0]
    repo = tmp_path / "repo"
    subprocess.run([sys.executable, str(HERE.parents[2] / "bench/sizing/make_repo.py"), str(repo), "50000", "300000", "30000"],
                   check=True, timeout=120)
    import yaml
    defs = yaml.safe_load((repo / "definitions.yaml").read_text())
    base = defs["feature_views"][0]
    defs["feature_views"] = [dict(base, name=f"stats{i}") for i in range(8)]
    (repo / "definitions.yaml").write_text(yaml.safe_dump(defs))
    argv = [larder_bin(), "materialize", str(repo), "2025-01-01", "2025-06-01", "--no-progress", "--stop-grace", "3",
            "--target", f"redis://127.0.0.1:{ws.larder_redis.port}", "--workers", "2", "--worker", "1"]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    state = repo / "data/larder_state.db"
    deadline = time.monotonic() + 60
    done = []
    while time.monotonic() < deadline and proc.poll() is None and not done:
        try:
            with sqlite3.connect(state) as db:
                done = [r[0] for r in db.execute("SELECT feature_view FROM materializations")]
        except sqlite3.OperationalError:
            pass
        time.sleep(0.01)
    signalled = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=30)
    assert time.monotonic() - signalled < 5, "stops within seconds"
    assert proc.returncode == 143, (proc.returncode, err)
    with sqlite3.connect(state) as db:
        done = {r[0] for r in db.execute("SELECT feature_view FROM materializations")}
    assert done and all(name.endswith("#worker 1/2") for name in done), done
    assert len(done) < 8 and "stopped by a signal after" in err
