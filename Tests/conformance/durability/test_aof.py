"""The append-only file: Redis 7's multi-part layout (manifest, RDB base, incr files), replayed at
start-up. kill -9 with `appendfsync always` loses nothing acknowledged; `everysec` at most about
a second; a torn tail is cut off (or refused with aof-load-truncated no); garbage in the middle
refuses to start with the offset; redis-server 7.0 and redis-check-aof read larder's directory
and larder reads redis-server's; BGREWRITEAOF under a write load loses nothing."""
import os
import shutil
import signal
import subprocess
import sys
import threading
import time

import pytest
import redis

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
sys.path.insert(0, os.path.dirname(__file__))
import servers  # noqa: E402
from test_rdb_interop import dump, fill  # noqa: E402

pytestmark = pytest.mark.skipif(servers.larder_is_standin(), reason="larder's own append-only file")

MANIFEST = "appendonly.aof.manifest"


def start(kind, d, *extra):
    args = ["--dir", str(d), "--appendonly", "yes", *extra]
    if kind == "larder":
        return servers.start_larder(["--threads", "2", "--no-pin", *args])
    return servers.start_redis(args)


def writers(server, n_clients=4, stop=None):
    """Clients writing across both shards (SET, HSET, SET EX, INCR) until the server goes away or
    `stop` is set; returns, per client, the (key, expected value) pairs acknowledged."""
    acked = [[] for _ in range(n_clients)]

    def run(i):
        c = server.client(socket_timeout=10)
        j = 0
        try:
            while stop is None or not stop.is_set():
                key = f"c{i}:{j}"
                kind = j % 4
                if kind == 0:
                    c.set(key, j)
                elif kind == 1:
                    c.hset(key, mapping={"f": j, "g": "x" * (j % 40)})
                elif kind == 2:
                    c.set(key, j, ex=100_000)
                else:
                    c.incrby(f"counter{i}", 1)
                    key = f"counter{i}"
                acked[i].append((key, j))
                j += 1
        except (redis.ConnectionError, redis.TimeoutError, OSError):
            return
    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(n_clients)]
    for t in threads:
        t.start()
    return acked, threads


def wait_for(acked, n, timeout=60):
    deadline = time.monotonic() + timeout
    while sum(map(len, acked)) < n and time.monotonic() < deadline:
        time.sleep(0.02)
    assert sum(map(len, acked)) >= n


def missing_writes(c, acked):
    """The acknowledged writes the restarted server does not have (a counter must be at least
    the number of its acknowledged INCRs)."""
    missing = []
    for i, per_client in enumerate(acked):
        incrs = 0
        for key, j in per_client:
            if key.startswith("counter"):
                incrs += 1
                continue
            if j % 4 == 1:
                ok = c.hget(key, "f") == str(j).encode()
            else:
                ok = c.get(key) == str(j).encode()
            if not ok:
                missing.append(key)
        if incrs and int(c.get(f"counter{i}") or 0) < incrs:
            missing.append(f"counter{i} ({incrs} INCRs acknowledged)")
    return missing


@pytest.mark.parametrize("kind", ["larder", "redis"])
def test_always_kill9_loses_no_acknowledged_write(kind, tmp_path):
    server = start(kind, tmp_path, "--appendfsync", "always")
    try:
        acked, threads = writers(server)
        wait_for(acked, 10_000)
        server.proc.send_signal(signal.SIGKILL)
        server.proc.wait(timeout=10)
        for t in threads:
            t.join(timeout=10)
    finally:
        server.stop()
    total = sum(map(len, acked))
    restarted = start(kind, tmp_path, "--appendfsync", "always")
    try:
        c = restarted.client()
        missing = missing_writes(c, acked)
        assert not missing, f"{len(missing)} of {total} acknowledged writes lost, e.g. {missing[:5]}"
        ttl = c.ttl(next(k for k, j in acked[0] if j % 4 == 2))
        assert 99_000 < ttl <= 100_000, ttl
    finally:
        restarted.stop()
    print(f"{kind}: {total} acknowledged writes, all kept after kill -9 (appendfsync always)")


def test_everysec_kill9_loses_at_most_about_a_second(tmp_path):
    server = start("larder", tmp_path, "--appendfsync", "everysec")
    try:
        acked, threads = writers(server)
        wait_for(acked, 10_000)
        t0, n0 = time.monotonic(), sum(map(len, acked))
        time.sleep(0.5)
        rate = (sum(map(len, acked)) - n0) / (time.monotonic() - t0)
        server.proc.send_signal(signal.SIGKILL)
        server.proc.wait(timeout=10)
        for t in threads:
            t.join(timeout=10)
    finally:
        server.stop()
    restarted = start("larder", tmp_path)
    try:
        missing = missing_writes(restarted.client(), acked)
    finally:
        restarted.stop()
    # everysec promises at most ~1 s of writes lost on a crash (kill -9 loses none of what was
    # written, since a write reaches the file before its reply; a power loss loses the unsynced).
    bound = rate * 1.5
    assert len(missing) <= bound, f"{len(missing)} lost, bound {bound:.0f} (rate {rate:.0f}/s)"
    print(f"everysec: {sum(map(len, acked))} acknowledged, {len(missing)} lost (bound {bound:.0f} = 1.5 s at {rate:.0f}/s)")


def wait_rewrite_done(c, timeout=60):
    """BGREWRITEAOF replies at once and writes its base in the background, as in Redis."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        info = c.info("persistence")
        if not info["aof_rewrite_in_progress"] and not info["aof_rewrite_scheduled"]:
            return info
        time.sleep(0.02)
    raise AssertionError("the rewrite did not end")


def incr_file(d):
    lines = (d / "appendonlydir" / MANIFEST).read_text().splitlines()
    name = [line.split()[1] for line in lines if line.endswith("type i")][-1]
    return d / "appendonlydir" / name


def write_and_kill(d, n):
    server = start("larder", d)
    try:
        c = server.client()
        for i in range(n):
            c.set(f"k{i}", i)
    finally:
        server.stop()


def test_a_truncated_incr_file_starts_with_its_prefix_or_refuses(tmp_path):
    write_and_kill(tmp_path, 100)
    path = incr_file(tmp_path)
    data = path.read_bytes()
    cut = len(data) - 7  # inside the last SET
    path.write_bytes(data[:cut])
    binary = str(servers.REPO_ROOT / ".build/release/larder")
    refused = subprocess.run([binary, "serve", "--port", str(servers.free_port()), "--dir", str(tmp_path),
                              "--appendonly", "yes", "--aof-load-truncated", "no"],
                             capture_output=True, text=True, timeout=60)
    assert refused.returncode != 0
    text = refused.stdout + refused.stderr
    assert path.name in text and "offset" in text and "aof-load-truncated" in text, text
    server = start("larder", tmp_path)
    try:
        c = server.client()
        assert c.dbsize() == 99 and c.get("k98") == b"98" and c.get("k99") is None
        assert "truncated" in server.log_tail(200)
        assert len(path.read_bytes()) < cut, "the torn tail is cut off the file"
        c.set("after", "1")
    finally:
        server.stop()
    again = start("larder", tmp_path)
    try:
        assert again.client().dbsize() == 100
    finally:
        again.stop()


def test_garbage_in_the_middle_refuses_to_start_with_the_offset(tmp_path):
    write_and_kill(tmp_path, 100)
    path = incr_file(tmp_path)
    data = path.read_bytes()
    at = data.index(b"*3\r\n$3\r\nSET\r\n$3\r\nk50\r\n")
    path.write_bytes(data[:at] + b"garbage!" + data[at:])
    binary = str(servers.REPO_ROOT / ".build/release/larder")
    refused = subprocess.run([binary, "serve", "--port", str(servers.free_port()), "--dir", str(tmp_path),
                              "--appendonly", "yes"], capture_output=True, text=True, timeout=60)
    assert refused.returncode != 0
    text = refused.stdout + refused.stderr
    assert f"{path.name}, offset {at}" in text and "expected '*'" in text, text


def mixed_writes(c):
    """Every kind of write larder logs in a rewritten form, across databases and shards."""
    fill(c, 3)
    c.set("ex", "v", ex=5000)
    c.set("px", "v", px=5_000_000)
    c.setex("setex", 7000, "v")
    c.set("pers", "v", ex=100)
    c.persist("pers")
    c.set("gone", "v")
    c.expire("gone", -1)
    c.set("getex", "v")
    c.getex("getex", ex=9000)
    c.set("getdel", "v")
    c.getdel("getdel")
    c.incrbyfloat("float", "1.5")
    c.incrbyfloat("float", "2.25")
    c.hincrbyfloat("hf", "x", "2.5")
    c.getset("gs", "new")
    c.mset({"m1": "a", "m2": "b", "m3": "c"})
    c.append("m1", "ppend")
    c.rename("m2", "m2renamed")
    c.delete("m3", "nothing")
    p = c.pipeline(transaction=True)
    p.set("tx1", "1").set("tx2", "2").hset("tx3", "f", "v").incr("txn")
    p.execute()
    c.execute_command("SELECT", 4)
    c.set("db4", "x", px=8_000_000)
    c.execute_command("SELECT", 0)


def test_redis_server_and_redis_check_aof_read_larders_directory(tmp_path):
    server = start("larder", tmp_path)
    try:
        c = server.client()
        mixed_writes(c)
        c.bgrewriteaof()
        wait_rewrite_done(c)
        c.set("after-rewrite", "1")
        c.hset("after-rewrite-h", mapping={"a": "1"})
        expected = dump(c)
    finally:
        server.stop()
    names = sorted(os.listdir(tmp_path / "appendonlydir"))
    assert names == ["appendonly.aof.2.base.rdb", "appendonly.aof.2.incr.aof", MANIFEST], names
    check = subprocess.run(["redis-check-aof", str(tmp_path / "appendonlydir" / MANIFEST)],
                           capture_output=True, text=True, timeout=60)
    assert check.returncode == 0 and "is valid" in check.stdout, check.stdout + check.stderr
    copy = tmp_path / "copy"
    shutil.copytree(tmp_path / "appendonlydir", copy / "appendonlydir")
    ref = start("redis", copy)
    try:
        got = dump(ref.client())
    finally:
        ref.stop()
    assert len(got) == len(expected) > 800
    assert got == expected
    again = start("larder", tmp_path)
    try:
        assert dump(again.client()) == expected
    finally:
        again.stop()


def test_larder_loads_a_directory_redis_server_wrote(tmp_path):
    ref = start("redis", tmp_path)
    try:
        c = ref.client()
        mixed_writes(c)
        c.bgrewriteaof()
        deadline = time.monotonic() + 30
        while c.info("persistence")["aof_rewrite_in_progress"] and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.2)
        c.set("after-rewrite", "1")
        c.set("ttl-after", "1", ex=4000)
        expected = dump(c)
        time.sleep(1.2)  # everysec: the tail is fsynced (redis-server is killed, as a crash)
    finally:
        ref.stop()
    server = start("larder", tmp_path)
    try:
        got = dump(server.client())
        assert len(got) == len(expected) > 800
        assert got == expected
        assert 3900 < server.client().ttl("ttl-after") <= 4000
    finally:
        server.stop()


def test_bgrewriteaof_under_a_write_load_loses_nothing(tmp_path):
    server = start("larder", tmp_path, "--appendfsync", "always")
    try:
        acked, threads = writers(server)
        c = server.client()
        wait_for(acked, 2000)
        for _ in range(3):
            c.bgrewriteaof()
            wait_rewrite_done(c)
            time.sleep(0.2)
        info = c.info("persistence")
        # 4: the first base, written at start-up, is a rewrite too.
        assert info["aof_rewrites"] == 4 and info["aof_last_bgrewrite_status"] == "ok", info
        wait_for(acked, sum(map(len, acked)) + 2000)
        server.proc.send_signal(signal.SIGKILL)
        server.proc.wait(timeout=10)
        for t in threads:
            t.join(timeout=10)
    finally:
        server.stop()
    names = sorted(os.listdir(tmp_path / "appendonlydir"))
    assert names == ["appendonly.aof.4.base.rdb", "appendonly.aof.4.incr.aof", MANIFEST], names
    restarted = start("larder", tmp_path)
    try:
        missing = missing_writes(restarted.client(), acked)
        assert not missing, f"{len(missing)} acknowledged writes lost across rewrites, e.g. {missing[:5]}"
    finally:
        restarted.stop()


def test_config_set_appendonly_yes_writes_a_base_then_logs(tmp_path):
    server = servers.start_larder(["--threads", "2", "--no-pin", "--dir", str(tmp_path)])
    try:
        c = server.client()
        c.mset({f"before{i}": i for i in range(500)})
        assert c.config_get("appendonly") == {"appendonly": "no"}
        assert c.config_set("appendonly", "yes")
        deadline = time.monotonic() + 10
        while c.info("persistence").get("aof_current_size") is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert c.info("persistence")["aof_enabled"] == 1
        c.set("after", "1")
        c.expire("before1", 3000)
        # And off again: writes from then on are not logged.
        assert c.config_set("appendonly", "no")
        deadline = time.monotonic() + 10
        while c.info("persistence").get("aof_current_size") is not None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert c.info("persistence")["aof_enabled"] == 0
        c.set("unlogged", "1")
    finally:
        server.stop()
    restarted = start("larder", tmp_path)
    try:
        c = restarted.client()
        assert c.dbsize() == 501 and c.get("before499") == b"499" and c.get("after") == b"1"
        assert c.get("unlogged") is None
        assert 2900 < c.ttl("before1") <= 3000
    finally:
        restarted.stop()


def test_appendonly_options_as_redis(tmp_path):
    server = start("larder", tmp_path, "--appendfsync", "no", "--appenddirname", "aofs", "--appendfilename", "x.aof")
    try:
        c = server.client()
        assert c.config_get("append*") == {"appendonly": "yes", "appendfsync": "no",
                                           "appenddirname": "aofs", "appendfilename": "x.aof"}
        with pytest.raises(redis.ResponseError):
            c.config_set("appendfsync", "sometimes")
        assert c.config_set("appendfsync", "always")
        c.set("k", "v")
    finally:
        server.stop()
    assert sorted(os.listdir(tmp_path / "aofs")) == ["x.aof.1.base.rdb", "x.aof.1.incr.aof", "x.aof.manifest"]


def test_the_embedded_materialization_and_features_push_are_logged(tmp_path):
    """`serve --materialize` (the embedded bulk load) and FEATURES.PUSH write hashes outside the
    command path: their AOF records (HSET + PEXPIREAT) must restore the same hashes without the
    repo."""
    repo = tmp_path / "repo"
    shutil.copytree(servers.REPO_ROOT / "feature_repo", repo, ignore=shutil.ignore_patterns("registry.db", "*.db", "online*"))
    data = tmp_path / "data"
    data.mkdir()
    server = start("larder", data, "--repo", str(repo), "--materialize", "--no-http")
    try:
        c = server.client()
        now = int(time.time())
        assert c.execute_command("FEATURES.PUSH", "driver_hourly_stats", "COLUMNS", 3, "driver_id", "event_timestamp",
                                 "conv_rate", "VALUES", 1020, now, "0.75", 1021, now, "0.5") == 2
        expected = dump(c)
    finally:
        server.stop()
    assert len(expected) > 5
    restarted = start("larder", data)
    try:
        assert dump(restarted.client()) == expected
    finally:
        restarted.stop()


@pytest.mark.parametrize("kind", ["larder", "redis"])
def test_blocking_pops_replay_as_the_pops_they_made(kind, tmp_path):
    """A BLPOP served later by a push, a BLMPOP and a BLPOP served at once, a BLMOVE across keys:
    after kill -9 the replay gives the same lists, on larder (which logs each as the
    non-blocking pop it made, as Redis propagates them) and on redis-server alike."""
    server = start(kind, tmp_path, "--appendfsync", "always")
    try:
        waiter = server.client(socket_timeout=10)
        got = []
        t = threading.Thread(target=lambda: got.append(waiter.blpop(["q1"], timeout=5)), daemon=True)
        t.start()
        c = server.client()
        deadline = time.time() + 5
        while int(c.info("clients")["blocked_clients"]) < 1 and time.time() < deadline:
            time.sleep(0.01)
        c.rpush("q1", "a", "b", "c")
        t.join(timeout=10)
        assert got and got[0] == (b"q1", b"a"), got
        c.rpush("q2", "x", "y", "z")
        assert c.execute_command("BLMPOP", 1, 1, "q2", "RIGHT", "COUNT", 2) == [b"q2", [b"z", b"y"]]
        assert c.blpop(["q1"], timeout=1) == (b"q1", b"b")
        assert c.blmove("q2", "q3", 1, "LEFT", "RIGHT") == b"x"
        before = {k: c.lrange(k, 0, -1) for k in ("q1", "q2", "q3")}
        server.proc.send_signal(signal.SIGKILL)
        server.proc.wait(timeout=10)
    finally:
        server.stop()
    assert before == {"q1": [b"c"], "q2": [], "q3": [b"x"]}
    restarted = start(kind, tmp_path, "--appendfsync", "always")
    try:
        c = restarted.client()
        assert {k: c.lrange(k, 0, -1) for k in ("q1", "q2", "q3")} == before
    finally:
        restarted.stop()


@pytest.mark.parametrize("kind", ["larder", "redis"])
def test_sorted_set_writes_and_blocking_pops_replay(kind, tmp_path):
    """ZADD (flags, INCR), ZINCRBY, ZREM, ZUNIONSTORE, a BZPOPMIN served later by a ZADD, a
    BZMPOP and a BZPOPMAX served at once: after kill -9 the replay gives the same sorted sets
    with the same scores, on larder and on redis-server alike."""
    server = start(kind, tmp_path, "--appendfsync", "always")
    try:
        waiter = server.client(socket_timeout=10)
        got = []
        t = threading.Thread(target=lambda: got.append(waiter.bzpopmin(["z1"], timeout=5)), daemon=True)
        t.start()
        c = server.client()
        deadline = time.time() + 5
        while int(c.info("clients")["blocked_clients"]) < 1 and time.time() < deadline:
            time.sleep(0.01)
        c.zadd("z1", {"a": 1, "b": 2.5, "c": 3})
        t.join(timeout=10)
        assert got and got[0] == (b"z1", b"a", 1.0), got
        c.zadd("z2", {"x": 0.1, "y": 1e300, "w": float("-inf")})
        c.execute_command("ZADD", "z2", "GT", "CH", "5", "x", "-1", "y")
        assert c.zadd("z2", {"x": 0.25}, incr=True) == 5.25
        c.zincrby("z2", 2, "new")
        c.zrem("z2", "w")
        c.execute_command("ZUNIONSTORE", "z3", "2", "z1", "z2", "WEIGHTS", "2", "1")
        assert c.execute_command("BZMPOP", 1, 1, "z2", "MAX", "COUNT", 2)[0] == b"z2"
        assert c.bzpopmax(["z1"], timeout=1) == (b"z1", b"c", 3.0)
        before = {k: c.zrange(k, 0, -1, withscores=True) for k in ("z1", "z2", "z3")}
        server.proc.send_signal(signal.SIGKILL)
        server.proc.wait(timeout=10)
    finally:
        server.stop()
    assert before["z1"] == [(b"b", 2.5)] and len(before["z3"]) == 5
    restarted = start(kind, tmp_path, "--appendfsync", "always")
    try:
        c = restarted.client()
        assert {k: c.zrange(k, 0, -1, withscores=True) for k in ("z1", "z2", "z3")} == before
    finally:
        restarted.stop()
