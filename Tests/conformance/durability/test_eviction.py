"""maxmemory eviction policies against redis-server 7.0: the configuration and its error
texts, OBJECT FREQ / IDLETIME, which keys the volatile policies may evict (and -OOM once none
is left), volatile-ttl taking the soonest to expire first, and allkeys-lru keeping recently
read keys far more often than never-read ones (a bound random eviction fails)."""
import sys
import time
from pathlib import Path

import pytest
import redis

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "lib"))
import servers  # noqa: E402

pytestmark = pytest.mark.skipif(servers.larder_is_standin(), reason="larder's eviction")

POLICIES = ["volatile-lru", "volatile-lfu", "volatile-random", "volatile-ttl",
            "allkeys-lru", "allkeys-lfu", "allkeys-random", "noeviction"]
VALUE = b"x" * 1000


@pytest.fixture(scope="module")
def pair():
    larder, ref = servers.start_larder(), servers.start_redis()
    yield larder, ref
    larder.stop(); ref.stop()


def reply(c, *args):
    try:
        return c.execute_command(*args)
    except redis.ResponseError as e:
        return "error: " + str(e)


def test_config_values_and_refusals_as_redis(pair):
    cases = [("maxmemory-policy", p) for p in POLICIES] + [
        ("maxmemory-policy", "lru"), ("maxmemory-policy", ""),
        ("maxmemory-samples", "0"), ("maxmemory-samples", "65"), ("maxmemory-samples", "x"), ("maxmemory-samples", "7"),
        ("maxmemory-eviction-tenacity", "101"), ("maxmemory-eviction-tenacity", "-1"), ("maxmemory-eviction-tenacity", "20"),
        ("lfu-log-factor", "-1"), ("lfu-log-factor", "3"), ("lfu-decay-time", "-1"), ("lfu-decay-time", "0"),
    ]
    got = {}
    for server in pair:
        c = server.client()
        out = []
        for name in ["maxmemory-policy", "maxmemory-samples", "maxmemory-eviction-tenacity", "lfu-log-factor", "lfu-decay-time"]:
            out.append(c.config_get(name))
        for name, value in cases:
            out.append((name, value, reply(c, "CONFIG", "SET", name, value), c.config_get(name)))
        for name, value in [("maxmemory-policy", "noeviction"), ("maxmemory-samples", "5"),
                            ("maxmemory-eviction-tenacity", "10"), ("lfu-log-factor", "10"), ("lfu-decay-time", "1")]:
            c.config_set(name, value)
        got[server.name] = out
    assert got["larder"] == got["redis"]


def test_object_freq_and_idletime_as_redis(pair):
    got = {}
    for server in pair:
        c = server.client()
        c.flushall()
        c.set("k", "v")
        out = [reply(c, "OBJECT", "FREQ", "k"), reply(c, "OBJECT", "IDLETIME", "k"), reply(c, "OBJECT", "FREQ", "missing")]
        c.config_set("maxmemory-policy", "allkeys-lfu")
        c.set("n", "v")
        out += [reply(c, "OBJECT", "FREQ", "n")]
        c.get("n")  # from 5, the first hit always counts
        out += [reply(c, "OBJECT", "FREQ", "n"), reply(c, "OBJECT", "IDLETIME", "n"), reply(c, "OBJECT", "IDLETIME", "missing")]
        # TYPE, EXISTS, TTL and OBJECT do not count as accesses.
        for _ in range(50):
            c.type("n"); c.exists("n"); c.ttl("n")
        out += [reply(c, "OBJECT", "FREQ", "n")]
        c.config_set("maxmemory-policy", "noeviction")
        got[server.name] = out
    assert got["larder"] == got["redis"], got


def test_touch_and_reads_reset_idle_time_type_does_not():
    larder = servers.start_larder()
    try:
        c = larder.client()
        c.set("read", "v"); c.set("touched", "v"); c.set("inspected", "v")
        time.sleep(2.1)
        c.get("read"); c.touch("touched"); c.type("inspected"); c.exists("inspected")
        idle = {k: c.object("idletime", k) for k in ["read", "touched", "inspected"]}
        assert idle["read"] == 0 and idle["touched"] == 0 and idle["inspected"] >= 2, idle
    finally:
        larder.stop()


def fill_then_squeeze(c, setup, squeeze_bytes, writes):
    """Runs `setup`, lowers maxmemory to `squeeze_bytes` under what is used, then makes
    `writes` 1 KB writes of new keys without TTL; returns the errors met."""
    setup(c)
    used = int(c.info("memory")["used_memory"])
    c.config_set("maxmemory", used - squeeze_bytes)
    time.sleep(0.3)  # larder measures used memory every 100 ms
    errors = []
    for i in range(writes):
        try:
            c.set(f"w:{i}", VALUE)
        except redis.ResponseError as e:
            errors.append(str(e))
    c.config_set("maxmemory", 0)
    return errors


@pytest.mark.parametrize("policy", ["volatile-lru", "volatile-lfu", "volatile-random", "volatile-ttl"])
def test_volatile_policies_evict_only_keys_with_a_ttl_then_refuse(pair, policy):
    got = {}
    for server in pair:
        c = server.client()
        c.flushall()
        c.config_set("maxmemory-policy", policy)

        def setup(c):
            p = c.pipeline(transaction=False)
            for i in range(200):
                p.set(f"p:{i}", VALUE)
                p.set(f"v:{i}", VALUE, ex=10_000 + i)
            p.execute()

        errors = fill_then_squeeze(c, setup, 100_000, 1500)
        persistent = sum(c.exists(f"p:{i}") for i in range(200))
        volatile = sum(c.exists(f"v:{i}") for i in range(200))
        got[server.name] = (persistent, volatile, bool(errors), set(errors),
                            int(c.info("stats")["evicted_keys"]) >= 200)
        c.config_set("maxmemory-policy", "noeviction")
        c.config_resetstat()
    # (redis-py drops the "OOM " code from OutOfMemoryError's text)
    assert got["redis"] == (200, 0, True, {"command not allowed when used memory > 'maxmemory'."}, True), got
    assert got["larder"] == got["redis"], got


def test_volatile_ttl_evicts_the_soonest_to_expire_first(pair):
    got = {}
    for server in pair:
        c = server.client()
        c.flushall()
        c.config_set("maxmemory-policy", "volatile-ttl")

        def setup(c):
            p = c.pipeline(transaction=False)
            for i in range(400):
                p.set(f"v:{i}", VALUE, ex=10_000 + 100 * i)
            p.execute()

        fill_then_squeeze(c, setup, 100_000, 100)
        survivors = [i for i in range(400) if c.exists(f"v:{i}")]
        evicted = sorted(set(range(400)) - set(survivors))
        c.config_set("maxmemory-policy", "noeviction")
        got[server.name] = (len(evicted), sum(evicted) / max(1, len(evicted)))
    for name, (count, mean) in got.items():
        # A random choice would give a mean index near 200: the pool of the best of 5 samples
        # per eviction keeps it well below.
        assert count >= 100 and mean < 140, (name, got)


@pytest.mark.parametrize("policy", ["allkeys-lru", "allkeys-random"])
def test_allkeys_lru_keeps_recently_read_keys(pair, policy):
    """Under allkeys-lru, keys read after the others were written (their idle time is 0 s,
    the cold ones' 2 s) survive a squeeze that evicts a third of the keys; random does not
    tell them apart. The bounds: approximated LRU keeps >= 70% of the hot keys and at least 40
    points more hot than cold ones (redis-server measured: 81% vs 17%, larder 86% vs 13%; once
    the cold keys are rare, samples hold none and hot ones go too); random eviction's two rates
    differ by noise (measured within 5 points)."""
    rates = {}
    for server in pair:
        c = server.client()
        c.flushall()
        c.config_set("maxmemory-policy", policy)

        def setup(c):
            p = c.pipeline(transaction=False)
            for i in range(1000):
                p.set(f"k:{i}", VALUE)
            p.execute()
            time.sleep(2.1)  # the LRU clock counts seconds
            p = c.pipeline(transaction=False)
            for i in range(0, 1000, 2):
                p.get(f"k:{i}")
            p.execute()

        fill_then_squeeze(c, setup, 200_000, 300)
        hot = sum(c.exists(f"k:{i}") for i in range(0, 1000, 2)) / 500
        cold = sum(c.exists(f"k:{i}") for i in range(1, 1000, 2)) / 500
        c.config_set("maxmemory-policy", "noeviction")
        rates[server.name] = (hot, cold)
    for name, (hot, cold) in rates.items():
        assert cold < 0.9, (name, rates)  # the squeeze did evict
        if policy == "allkeys-lru":
            assert hot >= 0.7 and hot - cold >= 0.4, (name, rates)
        else:
            assert abs(hot - cold) < 0.2, (name, rates)
