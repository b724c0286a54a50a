"""Snapshots at shutdown, as Redis: with save points set, SIGTERM (a Kubernetes pod stop) and
SHUTDOWN write a snapshot, and every write the server acknowledged before it stopped is in it;
without save points nothing is written. Each behaviour is checked on redis-server too."""
import os
import signal
import subprocess
import sys
import threading
import time

import pytest
import redis

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import servers  # noqa: E402

pytestmark = pytest.mark.skipif(servers.larder_is_standin(), reason="larder's own snapshots")


def start(kind, extra):
    if kind == "larder":
        return servers.start_larder(["--threads", "2", "--no-pin", *extra])
    return servers.start_redis(extra)


def writers_until_stopped(server, n_clients=4):
    """Clients writing strings and hashes (keys on every shard) until the server goes away;
    returns the keys whose write was acknowledged."""
    acked = [[] for _ in range(n_clients)]

    def run(i):
        c = server.client(socket_timeout=5)
        j = 0
        try:
            while True:
                key = f"c{i}:{j}"
                if j % 2:
                    c.hset(key, mapping={"f": j, "g": "x" * (j % 50)})
                else:
                    c.set(key, j)
                acked[i].append(key)
                j += 1
        except (redis.ConnectionError, redis.TimeoutError, OSError):
            return
    threads = [threading.Thread(target=run, args=(i,)) for i in range(n_clients)]
    for t in threads:
        t.start()
    return acked, threads


@pytest.mark.parametrize("kind", ["larder", "redis"])
def test_sigterm_snapshot_keeps_every_acknowledged_write(kind, tmp_path):
    server = start(kind, ["--dir", str(tmp_path), "--save", "3600 1"])
    try:
        acked, threads = writers_until_stopped(server)
        deadline = time.monotonic() + 30
        while sum(map(len, acked)) < 10_000 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert sum(map(len, acked)) >= 10_000
        t0 = time.monotonic()
        server.proc.send_signal(signal.SIGTERM)
        assert server.proc.wait(timeout=30) == 0, server.log_tail()
        stop_seconds = time.monotonic() - t0
        for t in threads:
            t.join(timeout=30)
        keys = [k for per_client in acked for k in per_client]
        assert (tmp_path / "dump.rdb").exists()
        restarted = start(kind, ["--dir", str(tmp_path), "--save", ""])
        try:
            c = restarted.client()
            missing = [k for k in keys if not c.exists(k)]
            assert not missing, f"{len(missing)} of {len(keys)} acknowledged writes lost, e.g. {missing[:5]}"
            assert c.hget(keys[1], "f") == b"1"
        finally:
            restarted.stop()
        print(f"{kind}: {len(keys)} acknowledged writes kept; stop took {stop_seconds:.2f} s")
    finally:
        server.stop()


@pytest.mark.parametrize("kind", ["larder", "redis"])
def test_without_save_points_a_stop_writes_no_snapshot(kind, tmp_path):
    server = start(kind, ["--dir", str(tmp_path), "--save", ""])
    try:
        server.client().set("k", "v")
        server.proc.send_signal(signal.SIGTERM)
        assert server.proc.wait(timeout=30) == 0
        assert not (tmp_path / "dump.rdb").exists()
    finally:
        server.stop()


@pytest.mark.parametrize("kind", ["larder", "redis"])
def test_shutdown_command_snapshots_and_nosave_does_not(kind, tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir(); b.mkdir()
    for d, words, written in ((a, ["SHUTDOWN"], True), (b, ["SHUTDOWN", "NOSAVE"], False)):
        server = start(kind, ["--dir", str(d), "--save", "3600 1"])
        try:
            c = server.client()
            c.mset({f"k{i}": i for i in range(1000)})
            with pytest.raises(redis.ConnectionError):
                c.execute_command(*words)
            assert server.proc.wait(timeout=30) == 0
            assert (d / "dump.rdb").exists() == written, (kind, words)
        finally:
            server.stop()


def test_config_save_reads_and_refuses_as_redis():
    larder, ref = start("larder", []), start("redis", [])
    try:
        for s in (larder, ref):
            c = s.client()
            c.config_set("save", "100 10 20 5")
        assert larder.client().config_get("save") == ref.client().config_get("save") == {"save": "100 10 20 5"}
        errors = []
        for s in (larder, ref):
            with pytest.raises(redis.ResponseError) as e:
                s.client().config_set("save", "100")
            errors.append(str(e.value))
        assert errors[0] == errors[1], errors
    finally:
        larder.stop(); ref.stop()


def test_a_bad_save_option_stops_the_start_naming_it(tmp_path):
    binary = servers.REPO_ROOT / ".build/release/larder"
    done = subprocess.run([str(binary), "serve", "--port", str(servers.free_port()), "--save", "3600"],
                          capture_output=True, text=True, timeout=30)
    assert done.returncode != 0 and "--save" in done.stderr and "'3600'" in done.stderr, done.stderr


def test_save_lines_of_a_config_file_add_up_and_an_empty_one_clears(tmp_path):
    conf = tmp_path / "larder.conf"
    conf.write_text("save 3600 1\nsave 300 100 60 10000\n")
    server = servers.start_larder([str(conf), "--dir", str(tmp_path)])
    try:
        assert server.client().config_get("save") == {"save": "3600 1 300 100 60 10000"}
    finally:
        server.stop()
    conf.write_text('save 3600 1\nsave ""\n')
    server = servers.start_larder([str(conf), "--dir", str(tmp_path)])
    try:
        assert server.client().config_get("save") == {"save": ""}
    finally:
        server.stop()
