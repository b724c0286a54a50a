"""RDB both ways with Debian's redis-server 7.0: a dataset SAVEd by one server is loaded at start-up
by the other with an identical keyspace (compared by SCAN/TYPE/TTL/HGETALL/GET in every database),
`redis-check-rdb` accepts Larder's file, and a restarted larder keeps what SAVE wrote."""
import os
import random
import shutil
import subprocess
import sys
import tempfile

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import servers  # noqa: E402

pytestmark = pytest.mark.skipif(servers.larder_is_standin(), reason="larder's own start-up load")


def fill(r, seed):
    """Strings (raw, integer, long and compressible for LZF), hashes small (listpack) and large
    (hashtable, > 128 fields or a value > 64 bytes), lists (one node and many), sets (intsets of
    each width, hashtables), sorted sets (listpack, and skiplist past 128 members or a member
    over 64 bytes; integer, fractional and infinite scores), TTLs, binary keys, databases 0, 1 and 9."""
    rnd = random.Random(seed)
    for db in (0, 1, 9):
        r.execute_command("SELECT", db)
        for i in range(300):
            key = b"k:%d:" % i + bytes(rnd.randrange(256) for _ in range(rnd.randrange(4)))
            kind = rnd.randrange(12)
            if kind == 0:
                r.set(key, str(rnd.randrange(-10**12, 10**12)))
            elif kind == 1:
                r.set(key, b"x" * rnd.randrange(100, 3000))  # compressible: LZF in Redis' file
            elif kind == 2:
                r.set(key, bytes(rnd.randrange(256) for _ in range(rnd.randrange(0, 80))))
            elif kind == 3:
                r.hset(key, mapping={b"f%d" % j: b"v%d" % rnd.randrange(10**6) for j in range(rnd.randrange(1, 12))})
            elif kind == 4:
                r.hset(key, mapping={b"f%d" % j: str(j) for j in range(rnd.randrange(129, 300))})
            elif kind == 5:
                r.hset(key, mapping={b"big": b"y" * 200, b"n": b"12345"})
            elif kind == 6:
                # Lists: small, integer elements, and long ones spanning several 8 KB quicklist nodes.
                r.rpush(key, *[str(rnd.randrange(-10**9, 10**9)) for _ in range(rnd.randrange(1, 20))])
                r.lpush(key, b"", b"z" * rnd.randrange(1, 200))
            elif kind == 7:
                r.rpush(key, *[b"e%d:" % j + b"x" * rnd.randrange(0, 60) for j in range(rnd.randrange(100, 900))])
            elif kind == 8:
                # Sets of integers: intset (2-, 4- or 8-byte wide), or past 512 members a hashtable.
                width = rnd.choice([100, 100000, 10**12])
                r.sadd(key, *[str(rnd.randrange(-width, width)) for _ in range(rnd.choice([3, 40, 600]))])
            elif kind == 9:
                r.sadd(key, *[b"m%d" % rnd.randrange(10**6) for _ in range(rnd.randrange(1, 50))])
            else:
                scores = lambda: rnd.choice([str(rnd.randrange(-10**6, 10**6)), repr(rnd.uniform(-1e9, 1e9)),
                                             "inf", "-inf", "0", "1e300", "3.14159"])
                n = rnd.choice([1, 10, 128]) if kind == 10 else rnd.choice([129, 700])
                pairs = []
                for j in range(n):
                    pairs += [scores(), b"z%d:" % j + bytes(rnd.randrange(256) for _ in range(rnd.randrange(6)))]
                if kind == 11 and rnd.random() < 0.3:
                    pairs = pairs[:4] + ["2.5", b"long" * 20]  # a member over 64 bytes: skiplist
                r.execute_command("ZADD", key, *pairs)
            if rnd.random() < 0.3:
                r.expire(key, rnd.randrange(1000, 100000))
    r.execute_command("SELECT", 0)


def dump(r):
    out = {}
    for db in range(16):
        r.execute_command("SELECT", db)
        cursor = 0
        while True:
            cursor, keys = r.execute_command("SCAN", cursor, "COUNT", 500)
            for k in keys:
                t = r.type(k)
                ttl = r.ttl(k)
                if t == b"string":
                    value = r.get(k)
                elif t == b"list":
                    value = r.lrange(k, 0, -1)
                elif t == b"set":
                    value = (sorted(r.smembers(k)), r.object("encoding", k))
                elif t == b"zset":
                    value = (r.zrange(k, 0, -1, withscores=True), r.object("encoding", k))
                else:
                    value = sorted(r.hgetall(k).items())
                out[(db, k)] = (t, value, ttl > 0)
            if int(cursor) == 0:
                break
    r.execute_command("SELECT", 0)
    return out


def test_redis_snapshot_loads_into_larder():
    redis = servers.start_redis()
    try:
        r = redis.client()
        fill(r, 1)
        expected = dump(r)
        assert r.save()
        d = tempfile.mkdtemp(prefix="larder-rdb-")
        shutil.copy(os.path.join(redis.workdir, "dump.rdb"), d)
    finally:
        redis.stop()
    larder = servers.start_larder(["--dir", d])
    try:
        got = dump(larder.client())
        assert len(got) == len(expected) > 800
        assert got == expected
    finally:
        larder.stop()
        shutil.rmtree(d, ignore_errors=True)


def test_larder_snapshot_loads_into_redis_and_passes_redis_check_rdb():
    d = tempfile.mkdtemp(prefix="larder-rdb-")
    larder = servers.start_larder(["--dir", d])
    try:
        r = larder.client()
        fill(r, 2)
        expected = dump(r)
        assert r.save()
    finally:
        larder.stop()
    check = subprocess.run(["redis-check-rdb", os.path.join(d, "dump.rdb")], capture_output=True, text=True)
    assert check.returncode == 0 and "RDB looks OK" in check.stdout, check.stdout + check.stderr
    redis = servers.start_redis(["--dir", d, "--dbfilename", "dump.rdb"])
    try:
        got = dump(redis.client())
        assert len(got) == len(expected) > 800
        assert got == expected
    finally:
        redis.stop()
        shutil.rmtree(d, ignore_errors=True)


def test_truncated_snapshot_refuses_to_start_and_names_the_file():
    d = tempfile.mkdtemp(prefix="larder-rdb-")
    larder = servers.start_larder(["--dir", d])
    try:
        fill(larder.client(), 3)
        assert larder.client().save()
    finally:
        larder.stop()
    path = os.path.join(d, "dump.rdb")
    with open(path, "r+b") as f:
        f.truncate(os.path.getsize(path) // 2)
    with pytest.raises(RuntimeError) as refused:
        servers.Server("larder-truncated", servers.larder_cmd_template(), ["--dir", d]).start()
    text = str(refused.value)
    assert "exited with 1" in text and "dump.rdb" in text and "truncated" in text, text
    shutil.rmtree(d, ignore_errors=True)
