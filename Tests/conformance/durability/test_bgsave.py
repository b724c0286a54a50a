"""BGSAVE without a fork: it replies at once, the shards write the snapshot while they keep
serving, and the file is the keyspace as it was when BGSAVE ran, whatever the clients change
meanwhile (writes, deletes, TTLs, renames, hash fields, across both shards). The file passes
redis-check-rdb and a restarted larder loads exactly that image."""
import os
import random
import subprocess
import sys
import threading
import time

import pytest
import redis

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import servers  # noqa: E402

pytestmark = pytest.mark.skipif(servers.larder_is_standin(), reason="larder's own snapshots")

STRINGS = 160_000
HASHES = 60_000


def _info(c):
    return c.info("persistence")


def _wait_bgsave_done(c, timeout=60):
    deadline = time.monotonic() + timeout
    while _info(c)["rdb_bgsave_in_progress"] != 0:
        assert time.monotonic() < deadline, "BGSAVE still running"
        time.sleep(0.005)


def _populate(c):
    rng = random.Random(12)
    model_s, model_h, ttl = {}, {}, set()
    pipe = c.pipeline(transaction=False)
    for i in range(STRINGS):
        v = f"v0:{i}:" + "x" * rng.randrange(0, 90)
        model_s[f"s:{i}"] = v.encode()
        if i % 5 == 0:
            pipe.set(f"s:{i}", v, ex=1000)
            ttl.add(f"s:{i}")
        else:
            pipe.set(f"s:{i}", v)
        if i % 2000 == 1999:
            pipe.execute()
    for i in range(HASHES):
        fields = {b"a": f"a{i}".encode(), b"b": str(i).encode(), b"c": b"y" * (i % 40)}
        model_h[f"h:{i}"] = fields
        pipe.hset(f"h:{i}", mapping=fields)
        if i % 7 == 0:
            pipe.expire(f"h:{i}", 1000)
            ttl.add(f"h:{i}")
        if i % 2000 == 1999:
            pipe.execute()
    pipe.execute()
    return model_s, model_h, ttl


def _writer(server, seed, stop, counts):
    c = server.client()
    rng = random.Random(seed)
    done = 0
    while not stop.is_set():
        pipe = c.pipeline(transaction=False)
        for _ in range(100):
            s, h = f"s:{rng.randrange(STRINGS)}", f"h:{rng.randrange(HASHES)}"
            op = rng.randrange(10)
            if op == 0: pipe.set(s, "changed")
            elif op == 1: pipe.delete(s)
            elif op == 2: pipe.expire(s, 1)
            elif op == 3: pipe.persist(s)
            elif op == 4: pipe.rename(s, f"moved:{seed}:{rng.randrange(1 << 30)}")
            elif op == 5: pipe.hset(h, "a", "changed")
            elif op == 6: pipe.hdel(h, "b")
            elif op == 7: pipe.hincrby(h, "n", 1)
            elif op == 8: pipe.delete(h)
            else: pipe.set(f"new:{seed}:{rng.randrange(1 << 30)}", "born after the cut")
        pipe.execute(raise_on_error=False)
        done += 100
    counts.append(done)


def test_bgsave_is_the_image_at_its_start_while_clients_write(tmp_path):
    args = ["--threads", "2", "--no-pin", "--dir", str(tmp_path)]
    server = servers.start_larder(args)
    try:
        c = server.client()
        c.set_response_callback("BGSAVE", lambda r, **kw: r)
        model_s, model_h, ttl = _populate(c)
        assert c.dbsize() == STRINGS + HASHES

        started = time.monotonic()
        assert c.execute_command("BGSAVE") == b"Background saving started"
        replied = time.monotonic() - started
        stop, counts = threading.Event(), []
        writers = [threading.Thread(target=_writer, args=(server, seed, stop, counts)) for seed in range(4)]
        for w in writers:
            w.start()
        assert _info(c)["rdb_bgsave_in_progress"] == 1
        with pytest.raises(redis.ResponseError, match="^Background save already in progress$"):
            c.execute_command("BGSAVE")
        with pytest.raises(redis.ResponseError, match="^Background save already in progress$"):
            c.save()
        _wait_bgsave_done(c)
        stop.set()
        for w in writers:
            w.join()
        print(f"BGSAVE replied in {replied * 1000:.1f} ms; {sum(counts)} writes sent while it ran")
        assert sum(counts) >= 1000, "the clients wrote while the snapshot was being written"
        info = _info(c)
        assert info["rdb_last_bgsave_status"] == "ok" and info["rdb_saves"] == 1
        assert c.dbsize() != STRINGS + HASHES, "the live keyspace did change"
    finally:
        server.stop()

    check = subprocess.run(["redis-check-rdb", str(tmp_path / "dump.rdb")], capture_output=True, text=True)
    assert check.returncode == 0 and "RDB looks OK" in check.stdout, check.stdout + check.stderr

    restarted = servers.start_larder(args)
    try:
        c = restarted.client()
        assert c.dbsize() == STRINGS + HASHES
        names = list(model_s)
        for at in range(0, len(names), 5000):
            part = names[at:at + 5000]
            assert c.mget(part) == [model_s[k] for k in part]
        pipe = c.pipeline(transaction=False)
        hnames = list(model_h)
        for k in hnames:
            pipe.hgetall(k)
        assert pipe.execute() == [model_h[k] for k in hnames]
        for k in names[:20000] + hnames[:20000]:
            pipe.ttl(k)
        got = pipe.execute()
        for k, t in zip(names[:20000] + hnames[:20000], got):
            assert (900 < t <= 1000) if k in ttl else t == -1, (k, t)
        assert c.scan(0, match="moved:*", count=1000)[1] == [] and c.keys("new:*") == []

        # BGSAVE SCHEDULE while one runs: another starts when it ends.
        c.set_response_callback("BGSAVE", lambda r, **kw: r)
        assert c.execute_command("BGSAVE") == b"Background saving started"
        assert c.execute_command("BGSAVE", "SCHEDULE") == b"Background saving scheduled"
        deadline = time.monotonic() + 60
        while _info(c)["rdb_saves"] < 2:
            assert time.monotonic() < deadline
            time.sleep(0.01)
        _wait_bgsave_done(c)
        assert _info(c)["rdb_last_bgsave_status"] == "ok"
    finally:
        restarted.stop()
