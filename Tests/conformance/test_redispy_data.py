"""redis-py (RESP2 and RESP3) against redis-server and larder: strings, hashes, keys, transactions.
Each call runs on both servers; client-visible results must be equal (normalizers in differ.py)."""
import pytest
import redis

from differ import Differ, sorted_items, supports, ttl_class

pytestmark = pytest.mark.redis_py8


@pytest.fixture(params=[2, 3], ids=["resp2", "resp3"])
def differ(request, pair):
    ref, lar = pair
    p = request.param
    clients = [s.client(protocol=p, single_connection_client=True) for s in (ref, ref, lar, lar)]
    yield Differ(clients[0], clients[2], clients[1], clients[3])
    for c in clients:
        c.close()


def test_strings(differ):
    d = differ
    d.check("set", lambda r, _: r.set("s", "v1"))
    d.check("get", lambda r, _: r.get("s"))
    d.check("set binary", lambda r, _: r.set(b"bin\x00key", b"\x00\xff\r\n"))
    d.check("get binary", lambda r, _: r.get(b"bin\x00key"))
    d.check("set nx", lambda r, _: r.set("s", "x", nx=True))
    d.check("set xx get", lambda r, _: r.set("s", "v2", xx=True, get=True))
    d.check("set ex", lambda r, _: r.set("e", "1", ex=1000))
    d.check("ttl", lambda r, _: r.ttl("e"), ttl_class)
    d.check("set keepttl", lambda r, _: r.set("e", "2", keepttl=True))
    d.check("pttl after keepttl", lambda r, _: r.pttl("e"), ttl_class)
    d.check("mset", lambda r, _: r.mset({"m1": "a", "m2": "b", "m3": "c"}))
    d.check("mget", lambda r, _: r.mget(["m1", "nope", "m3", "s"]))
    d.check("msetnx", lambda r, _: r.msetnx({"m1": "z", "m9": "y"}))
    d.check("incr", lambda r, _: r.incr("n"))
    d.check("incrby", lambda r, _: r.incrby("n", 41))
    d.check("decrby", lambda r, _: r.decrby("n", 2))
    d.check("incrbyfloat", lambda r, _: r.incrbyfloat("n", 0.5))
    d.check("incr not int", lambda r, _: r.incr("s"))
    d.check("append", lambda r, _: r.append("s", "-tail"))
    d.check("strlen", lambda r, _: r.strlen("s"))
    d.check("getrange", lambda r, _: r.getrange("s", 1, -2))
    d.check("setrange", lambda r, _: r.setrange("s", 3, "XYZ"))
    d.check("getdel", lambda r, _: r.getdel("m2"))
    d.check("getex persist", lambda r, _: r.getex("e", persist=True))
    d.check("ttl after persist", lambda r, _: r.ttl("e"))
    d.check("large value", lambda r, _: r.set("big", b"x" * 300_000) and len(r.get("big")))
    d.assert_all_same()


def test_hashes(differ):
    d = differ
    many = {f"field{i}": f"value-{i}" * (i % 7 + 1) for i in range(300)}
    d.check("hset many pairs", lambda r, _: r.hset("h", mapping=many))
    d.check("hset items", lambda r, _: r.hset("h2", items=["a", "1", "b", "2", "a", "3"]))
    d.check("hset existing", lambda r, _: r.hset("h", "field1", "new"))
    d.check("hget", lambda r, _: r.hget("h", "field1"))
    d.check("hmget", lambda r, _: r.hmget("h", ["field0", "nope", "field299", "field1"]))
    d.check("hmget missing key", lambda r, _: r.hmget("nohash", ["a", "b"]))
    d.check("hgetall", lambda r, _: r.hgetall("h"))
    d.check("hgetall small", lambda r, _: r.hgetall("h2"))
    d.check("hgetall missing", lambda r, _: r.hgetall("nohash"))
    d.check("hlen", lambda r, _: r.hlen("h"))
    d.check("hkeys", lambda r, _: r.hkeys("h"), sorted_items)
    d.check("hvals", lambda r, _: r.hvals("h2"), sorted_items)
    d.check("hexists", lambda r, _: (r.hexists("h", "field5"), r.hexists("h", "zz")))
    d.check("hstrlen", lambda r, _: r.hstrlen("h", "field6"))
    d.check("hincrby", lambda r, _: r.hincrby("h2", "n", 5))
    d.check("hincrbyfloat", lambda r, _: r.hincrbyfloat("h2", "n", 1.25))
    d.check("hsetnx", lambda r, _: (r.hsetnx("h2", "a", "x"), r.hsetnx("h2", "new", "x")))
    d.check("hdel", lambda r, _: r.hdel("h2", "a", "zz"))
    d.check("hscan_iter all", lambda r, _: sorted(r.hscan_iter("h")))
    d.check("hscan_iter match", lambda r, _: sorted(r.hscan_iter("h", match="field1*", count=20)))
    d.check("hscan single call small hash", lambda r, _: r.hscan("h2"))
    d.check("hrandfield one", lambda r, _: r.hrandfield("h2") in r.hkeys("h2"))
    d.check("hrandfield count", lambda r, _: _randfield_shape(r, "h", 5))
    d.check("hrandfield negative count", lambda r, _: _randfield_shape(r, "h2", -7))
    d.check("hrandfield count > size", lambda r, _: _randfield_shape(r, "h2", 50))
    d.check("hrandfield withvalues", lambda r, _: _randfield_withvalues_ok(r, "h", 4))
    d.check("hrandfield missing", lambda r, _: r.hrandfield("nohash", 3))
    d.check("hget wrongtype", lambda r, _: r.set("str", "x") and r.hget("str", "f"))
    d.assert_all_same()


def _randfield_shape(r, key, count):
    """Random picks differ; what must agree is how many come back and that they are fields."""
    got = r.hrandfield(key, count)
    fields = set(r.hkeys(key))
    return len(got), all(f in fields for f in got), len(set(got)) == len(got)


def _randfield_withvalues_ok(r, key, count):
    got = r.hrandfield(key, count, withvalues=True)
    full = r.hgetall(key)
    # RESP2 gives a flat [f, v, f, v ...] list, RESP3 a list of [f, v] pairs.
    pairs = [tuple(p) for p in got] if got and isinstance(got[0], list) else list(zip(got[0::2], got[1::2]))
    return len(pairs), all(full.get(f) == v for f, v in pairs)


def test_keys(differ):
    d = differ
    d.check("setup", lambda r, _: r.mset({"k1": "a", "k2": "b", "kk": "c", b"bin\x00a": "1", b"bin\x00b": "2",
                                           b"bin\x01c": "3", "other": "x"}))
    d.check("expire", lambda r, _: r.expire("k1", 1000))
    d.check("expire nx (has ttl)", lambda r, _: r.expire("k1", 2000, nx=True))
    d.check("expire xx", lambda r, _: r.expire("k1", 3000, xx=True))
    d.check("expire gt (smaller)", lambda r, _: r.expire("k1", 500, gt=True))
    d.check("expire gt (larger)", lambda r, _: r.expire("k1", 5000, gt=True))
    d.check("expire lt (larger)", lambda r, _: r.expire("k1", 9000, lt=True))
    d.check("expire lt (smaller)", lambda r, _: r.expire("k1", 4000, lt=True))
    d.check("expire xx no ttl", lambda r, _: r.expire("k2", 100, xx=True))
    d.check("expire nx no ttl", lambda r, _: r.expire("k2", 100, nx=True))
    d.check("pexpire", lambda r, _: r.pexpire("kk", 900_000))
    d.check("ttl", lambda r, _: [ttl_class(r.ttl(k)) for k in ("k1", "k2", "kk", "other", "missing")])
    d.check("pttl", lambda r, _: [ttl_class(r.pttl(k)) for k in ("k1", "other", "missing")])
    d.check("expiretime", lambda r, _: [ttl_class(r.expiretime(k)) for k in ("k1", "other", "missing")])
    d.check("expireat exact", lambda r, _: r.expireat("other", 4_000_000_000) and r.expiretime("other"))
    d.check("persist", lambda r, _: (r.persist("k1"), r.persist("k1"), r.ttl("k1")))
    d.check("rename", lambda r, _: r.rename("kk", "kk2"))
    d.check("rename keeps ttl", lambda r, _: ttl_class(r.ttl("kk2")))
    d.check("rename missing", lambda r, _: r.rename("missing", "x"))
    d.check("renamenx exists", lambda r, _: r.renamenx("k1", "k2"))
    d.check("renamenx", lambda r, _: r.renamenx("k1", "k3"))
    d.check("type", lambda r, _: [r.type(k) for k in ("k2", "missing")] + [r.hset("hh", "f", "v"), r.type("hh")])
    d.check("exists count", lambda r, _: r.exists("k2", "k2", "missing", "hh"))
    d.check("scan_iter all", lambda r, _: sorted(r.scan_iter()))
    d.check("scan_iter match binary", lambda r, _: sorted(r.scan_iter(match=b"bin\x00*")))
    d.check("scan_iter match ?", lambda r, _: sorted(r.scan_iter(match="k?", count=2)))
    d.check("scan_iter type", lambda r, _: sorted(r.scan_iter(_type="hash")))
    d.check("keys", lambda r, _: sorted(r.keys("k*")))
    d.check("keys binary", lambda r, _: sorted(r.keys(b"bin\x00*")))
    d.check("randomkey is a key", lambda r, _: r.randomkey() in set(r.keys("*")))
    d.check("dbsize", lambda r, _: r.dbsize())
    d.check("delete", lambda r, _: r.delete("k2", "k3", "missing"))
    d.check("unlink", lambda r, _: r.unlink("hh"))
    d.check("randomkey empty db", lambda r, _: (r.flushdb(), r.randomkey()))
    d.assert_all_same()


def test_transactions(differ):
    d = differ

    def multi_exec(r, _):
        p = r.pipeline(transaction=True)
        p.set("t", 1).incr("t").hset("th", "f", "v").get("t").hgetall("th")
        return p.execute()

    def plain_pipeline(r, _):
        p = r.pipeline(transaction=False)
        for i in range(200):
            p.set(f"p{i}", i)
            p.get(f"p{i}")
        p.incr("t")
        return p.execute()

    def pipeline_runtime_error(r, _):
        p = r.pipeline(transaction=True)
        p.set("x", "str").hget("x", "f").set("y", 1)
        return p.execute(raise_on_error=False)

    def pipeline_exec_abort(r, _):
        p = r.pipeline(transaction=True)
        p.set("z", 1).execute_command("SET", "z")  # wrong arity: EXECABORT
        try:
            return p.execute()
        finally:
            p.reset()

    def watch_conflict(r, other):
        with r.pipeline() as p:
            p.watch("w")
            other.set("w", "changed")
            p.multi()
            p.set("w", "mine")
            try:
                return p.execute()
            except redis.WatchError as e:
                return ("WatchError", str(e), r.get("w"))

    def watch_ok(r, _):
        with r.pipeline() as p:
            p.watch("w")
            value = p.get("w")
            p.multi()
            p.set("w", value + b"!")
            return p.execute(), r.get("w")

    d.check("multi/exec", multi_exec)
    d.check("pipeline without transaction", plain_pipeline)
    d.check("transaction with runtime error", pipeline_runtime_error, _errors_as_text)
    d.check("transaction with queueing error", pipeline_exec_abort)
    d.check("watch conflict", watch_conflict)
    d.check("watch no conflict", watch_ok)
    d.check("after", lambda r, _: (r.get("z"), r.get("y"), r.get("t")))
    d.assert_all_same()


def _errors_as_text(v):
    return [("error", type(x).__name__, str(x)) if isinstance(x, Exception) else x for x in v] \
        if isinstance(v, list) else v


@pytest.mark.needs_newer_redis
def test_hash_field_expiry(differ, pair):
    ref, _ = pair
    if not supports(ref, "HEXPIRE"):
        pytest.skip("reference redis-server lacks HEXPIRE (needs 7.4+); set REDIS_REF_CMD to a newer server")
    d = differ
    d.check("setup", lambda r, _: r.hset("fe", mapping={"a": "1", "b": "2", "c": "3"}))
    d.check("hexpire", lambda r, _: r.hexpire("fe", 1000, "a", "b", "zz"))
    d.check("hexpire nx", lambda r, _: r.hexpire("fe", 2000, "a", "c", nx=True))
    d.check("httl", lambda r, _: [ttl_class(t) for t in r.httl("fe", "a", "b", "c", "zz")])
    d.check("hpersist", lambda r, _: r.hpersist("fe", "a", "c", "zz"))
    d.check("httl after", lambda r, _: [ttl_class(t) for t in r.httl("fe", "a", "b", "c")])
    d.check("hexpire missing key", lambda r, _: r.hexpire("nokey", 10, "a"))
    d.check("hexpire 0 deletes", lambda r, _: (r.hexpire("fe", 0, "b"), r.hgetall("fe")))
    d.assert_all_same()
