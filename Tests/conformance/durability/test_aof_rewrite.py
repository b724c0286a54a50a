"""Fork-less BGREWRITEAOF (issue 12): the new base is written by the point-in-time walk while
every shard keeps serving; writes from the instant it starts go to a new incr file; the manifest
switches when the base is durable. kill -9 at random moments during and after a rewrite, under
a write load from several clients on 2 shards, loses no acknowledged write and adds none;
redis-check-aof accepts the directory and redis-server 7.0 loads it to the same keyspace."""
import os
import random
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
from test_aof import MANIFEST, start, writers, wait_for  # noqa: E402
from test_rdb_interop import dump  # noqa: E402

pytestmark = pytest.mark.skipif(servers.larder_is_standin(), reason="larder's own append-only file")

PRELOAD = 200_000  # enough that the base takes a while to write (~0.3-1 s on 2 shared cores)
SMALL = 40_000  # where the test compares every key on two servers


def preload(c, n=PRELOAD):
    p = c.pipeline(transaction=False)
    for i in range(n):
        if i % 2:
            p.hset(f"pre:{i}", mapping={"a": i, "b": "v" * 40})
        else:
            p.set(f"pre:{i}", "x" * 60 + str(i))
        if i % 5000 == 4999:
            p.execute()
    p.execute()


def wait_rewrite_done(c, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        info = c.info("persistence")
        if not info["aof_rewrite_in_progress"] and not info["aof_rewrite_scheduled"]:
            return info
        time.sleep(0.02)
    raise AssertionError("the rewrite did not end")


def raw_replies(c):
    """BGREWRITEAOF's and BGSAVE's reply texts, not redis-py's True."""
    c.response_callbacks.pop("BGREWRITEAOF", None)
    c.response_callbacks.pop("BGSAVE", None)
    return c


def check_exact(c, acked):
    """Every acknowledged write is there with its value, and nothing else: the preload, the
    acknowledged keys, and at most the one write per client in flight at the kill."""
    problems = []
    expected_keys = PRELOAD
    for i, per_client in enumerate(acked):
        incrs = 0
        for key, j in per_client:
            if key.startswith("counter"):
                incrs += 1
                continue
            got = c.hget(key, "f") if j % 4 == 1 else c.get(key)
            if got != str(j).encode():
                problems.append(f"{key}={got!r}")
            expected_keys += 1
        counter = int(c.get(f"counter{i}") or 0)
        # The INCR in flight at the kill may or may not have reached the file.
        if not incrs <= counter <= incrs + 1:
            problems.append(f"counter{i}={counter} ({incrs} INCRs acknowledged)")
        expected_keys += 1 if counter else 0
    extra = c.dbsize() - expected_keys
    if not 0 <= extra <= len(acked):
        problems.append(f"dbsize {c.dbsize()} vs {expected_keys} written (+ at most {len(acked)} in flight)")
    assert c.get("pre:0") == b"x" * 60 + b"0" and c.hget(f"pre:{PRELOAD - 1}", "a") == str(PRELOAD - 1).encode()
    return problems


def test_kill9_during_and_after_a_rewrite_under_load_loses_nothing(tmp_path):
    rng = random.Random(int(os.environ.get("LARDER_TEST_SEED", "12")))
    server = start("larder", tmp_path, "--appendfsync", "always")
    preload(server.client())
    server.stop()  # kill -9 right after the preload: it must come back from the incr file
    served_during = []
    temps_left_by_kills = []
    rewrite_seconds = None  # measured by the first round, which lets its rewrite end
    # Kill moments: after the rewrite ended, or at a random moment within its measured duration.
    for round_no, during in enumerate([False, True, True, True, False, True]):
        server = start("larder", tmp_path, "--appendfsync", "always")
        c = raw_replies(server.client(socket_timeout=30))
        assert c.dbsize() >= PRELOAD, round_no
        acked, threads = writers(server)
        wait_for(acked, 500)
        before = sum(map(len, acked))
        assert c.execute_command("BGREWRITEAOF") == b"Background append only file rewriting started"
        t0 = time.monotonic()
        if during:
            time.sleep(rng.uniform(0.0, 0.7 * rewrite_seconds))
            info = c.info("persistence")
            if info["aof_rewrite_in_progress"]:
                served_during.append(sum(map(len, acked)) - before)
        else:
            info = wait_rewrite_done(c)
            rewrite_seconds = rewrite_seconds or time.monotonic() - t0
            assert info["aof_last_bgrewrite_status"] == "ok", info
            wait_for(acked, sum(map(len, acked)) + 500)
        server.proc.send_signal(signal.SIGKILL)
        server.proc.wait(timeout=10)
        for t in threads:
            t.join(timeout=10)
        server.stop()
        # A kill during the rewrite leaves its unfinished base (temp-*) in appendonlydir; the
        # restart removes it and says so in its log.
        aof_dir = os.path.join(str(tmp_path), "appendonlydir")
        leftovers = sorted(n for n in os.listdir(aof_dir) if n.startswith("temp-"))
        temps_left_by_kills.extend(leftovers)
        restarted = start("larder", tmp_path, "--appendfsync", "always")
        try:
            remaining = sorted(n for n in os.listdir(aof_dir) if n.startswith("temp-"))
            assert not remaining, f"round {round_no}: temporary files still in {aof_dir} after the restart: {remaining}"
            log = restarted.log_tail(400)
            for name in leftovers:
                assert f"removed the temporary file {os.path.join(aof_dir, name)}" in log, (name, log)
            problems = check_exact(restarted.client(socket_timeout=30), acked)
            assert not problems, f"round {round_no} (kill {'during' if during else 'after'} the rewrite): {problems[:8]}"
            # The next round's writers start from c{i}:0 again: clear theirs so keys stay unique.
            rc = restarted.client()
            for k in rc.scan_iter(match="c*", count=10_000):
                rc.delete(k)
        finally:
            restarted.stop()
    # Fork-less: while the base was being written the shards kept acknowledging writes.
    assert served_during and max(served_during) > 0, (served_during, rewrite_seconds)
    # Some kill did land while a base was being written (else the clean-up was never exercised).
    assert temps_left_by_kills, "no kill left a temporary base behind"
    print(f"rewrite took {rewrite_seconds:.2f} s; writes acknowledged while one ran, per kill during it: {served_during}")


def test_a_rewrite_under_load_is_read_by_redis_check_aof_and_redis_server(tmp_path):
    server = start("larder", tmp_path, "--appendfsync", "everysec")
    try:
        c = raw_replies(server.client(socket_timeout=30))
        preload(c, SMALL)  # the whole keyspace is compared below, key by key, on both servers
        stop = threading.Event()
        acked, threads = writers(server, stop=stop)
        wait_for(acked, 500)
        before = sum(map(len, acked))
        # Pipelined, so the replies come while the base (40k keys) is surely still being written.
        p = c.pipeline(transaction=False)
        p.execute_command("BGREWRITEAOF").execute_command("BGREWRITEAOF").execute_command("BGSAVE")
        p.execute_command("BGSAVE", "SCHEDULE").info("persistence")
        started, again, bgsave, scheduled, info = p.execute(raise_on_error=False)
        assert started == b"Background append only file rewriting started"
        assert isinstance(again, redis.ResponseError) and str(again) == "Background append only file rewriting already in progress"
        assert isinstance(bgsave, redis.ResponseError) and "Another child process is active (AOF?): can't BGSAVE right now" in str(bgsave)
        assert scheduled == b"Background saving scheduled", scheduled
        assert info["aof_rewrite_in_progress"] == 1 and info["aof_current_rewrite_time_sec"] >= 0, info
        assert info["rdb_bgsave_in_progress"] == 0, info
        info = wait_rewrite_done(c)
        assert info["aof_last_bgrewrite_status"] == "ok" and info["aof_current_rewrite_time_sec"] == -1, info
        during = sum(map(len, acked)) - before
        wait_for(acked, sum(map(len, acked)) + 500)
        stop.set()
        for t in threads:
            t.join(timeout=10)
        expected = dump(c)
    finally:
        server.stop(signal.SIGTERM)
    names = sorted(n for n in os.listdir(tmp_path / "appendonlydir"))
    assert names == ["appendonly.aof.2.base.rdb", "appendonly.aof.2.incr.aof", MANIFEST], names
    assert (tmp_path / "appendonlydir" / MANIFEST).read_text() == (
        "file appendonly.aof.2.base.rdb seq 2 type b\nfile appendonly.aof.2.incr.aof seq 2 type i\n")
    check = subprocess.run(["redis-check-aof", str(tmp_path / "appendonlydir" / MANIFEST)],
                           capture_output=True, text=True, timeout=120)
    assert check.returncode == 0 and "is valid" in check.stdout, check.stdout + check.stderr
    copy = tmp_path / "copy"
    shutil.copytree(tmp_path / "appendonlydir", copy / "appendonlydir")
    ref = start("redis", copy)
    try:
        got = dump(ref.client(socket_timeout=60))
    finally:
        ref.stop()
    assert len(got) == len(expected) > SMALL
    assert got == expected
    print(f"{during} writes acknowledged while the rewrite ran; redis-server loaded {len(got)} keys")


def test_bgrewriteaof_while_bgsave_runs_is_scheduled(tmp_path):
    server = start("larder", tmp_path)
    try:
        c = raw_replies(server.client(socket_timeout=30))
        preload(c)
        p = c.pipeline(transaction=False)  # back to back: the BGSAVE of 200k keys still runs
        p.execute_command("BGSAVE").execute_command("BGREWRITEAOF").info("persistence")
        bgsave, rewrite, info = p.execute()
        assert bgsave == b"Background saving started"
        assert rewrite == b"Background append only file rewriting scheduled"
        assert info["aof_rewrite_scheduled"] == 1 and info["aof_rewrite_in_progress"] == 0 and info["rdb_bgsave_in_progress"] == 1, info
        info = wait_rewrite_done(c)
        assert info["aof_rewrites"] == 2 and info["aof_last_bgrewrite_status"] == "ok", info
        # Inside MULTI/EXEC it is scheduled, then runs (Redis' multi.tcl "MULTI with BGREWRITEAOF").
        p = c.pipeline(transaction=True)
        p.set("foo", "bar").execute_command("BGREWRITEAOF")
        res = p.execute()
        assert res[1] == b"Background append only file rewriting scheduled", res
        deadline = time.monotonic() + 10
        while c.info("persistence")["aof_rewrites"] < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert wait_rewrite_done(c)["aof_rewrites"] == 3
    finally:
        server.stop()


def test_aof_use_rdb_preamble_no_writes_a_command_base_redis_reads(tmp_path):
    """aof-use-rdb-preamble no: the base is commands (.base.aof, as Redis writes it), written by
    the same background walk; redis-check-aof and redis-server read it, and larder reads it back.
    Field TTLs are left out of the dataset: redis-server 7.0 has none (HPEXPIREAT is 7.4)."""
    from test_aof import mixed_writes
    server = start("larder", tmp_path, "--aof-use-rdb-preamble", "no")
    try:
        c = raw_replies(server.client(socket_timeout=30))
        assert c.config_get("aof-use-rdb-preamble") == {"aof-use-rdb-preamble": "no"}
        mixed_writes(c)
        assert c.execute_command("BGREWRITEAOF") == b"Background append only file rewriting started"
        c.set("after-rewrite", "1")
        wait_rewrite_done(c)
        c.rpush("after-list", *range(200))
        expected = dump(c)
    finally:
        server.stop(signal.SIGTERM)
    d = tmp_path / "appendonlydir"
    names = sorted(os.listdir(d))
    assert names == ["appendonly.aof.2.base.aof", "appendonly.aof.2.incr.aof", MANIFEST], names
    assert (d / "appendonly.aof.2.base.aof").read_bytes().startswith(b"*2\r\n$6\r\nSELECT\r\n")
    check = subprocess.run(["redis-check-aof", str(d / MANIFEST)], capture_output=True, text=True, timeout=60)
    assert check.returncode == 0 and "is valid" in check.stdout, check.stdout + check.stderr
    copy = tmp_path / "copy"
    shutil.copytree(d, copy / "appendonlydir")
    ref = start("redis", copy)
    try:
        assert dump(ref.client()) == expected
    finally:
        ref.stop()
    again = start("larder", tmp_path)  # preamble yes again: it reads the command base all the same
    try:
        assert dump(again.client()) == expected and len(expected) > 800
    finally:
        again.stop()


def test_larder_loads_a_command_base_redis_server_wrote(tmp_path):
    from test_aof import mixed_writes
    ref = start("redis", tmp_path, "--aof-use-rdb-preamble", "no")
    try:
        c = ref.client()
        mixed_writes(c)
        c.bgrewriteaof()
        wait_rewrite_done(c)
        time.sleep(0.2)
        c.set("after-rewrite", "1")
        expected = dump(c)
        time.sleep(1.2)  # everysec: the tail is fsynced (redis-server is killed, as a crash)
    finally:
        ref.stop()
    assert any(n.endswith(".base.aof") for n in os.listdir(tmp_path / "appendonlydir"))
    server = start("larder", tmp_path)
    try:
        got = dump(server.client())
        assert len(got) == len(expected) > 800 and got == expected
    finally:
        server.stop()
