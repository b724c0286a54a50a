"""redis-py (RESP2 and RESP3) against redis-server and larder: connection and server commands,
AUTH with requirepass, INFO fields. Normalizers: differ.py (ids, TIME, sizes) and the INFO field
list below (checked to exist on both servers; values of the keyspace line compared)."""
import pytest
import redis

from differ import Differ, is_int, supports, time_shape
import servers

pytestmark = pytest.mark.redis_py8


@pytest.fixture(params=[2, 3], ids=["resp2", "resp3"])
def protocol(request):
    return request.param


@pytest.fixture
def differ(pair, protocol):
    ref, lar = pair
    clients = [s.client(protocol=protocol, single_connection_client=True) for s in (ref, ref, lar, lar)]
    yield Differ(clients[0], clients[2], clients[1], clients[3])
    for c in clients:
        c.close()


CLIENT_STABLE_FIELDS = ("name", "db", "flags", "multi", "sub", "psub", "cmd", "user", "resp")


def stable_client_fields(v):
    """CLIENT INFO/LIST as parsed by redis-py: keep only fields that do not differ per server."""
    if isinstance(v, dict):
        return {k: v.get(k, "<missing>") for k in CLIENT_STABLE_FIELDS}
    if isinstance(v, list):
        return sorted(tuple(sorted(stable_client_fields(c).items())) for c in v)
    return v


def hello_stable(v):
    """HELLO: same keys; server, version and id values differ by design."""
    if isinstance(v, dict):
        return {k: ("<volatile>" if k in (b"server", b"version", b"id", "server", "version", "id") else val)
                for k, val in v.items()}
    if isinstance(v, list):
        return hello_stable(dict(zip(v[0::2], v[1::2])))
    return v


def test_connection(differ):
    d = differ
    d.check("ping", lambda r, _: r.ping())
    d.check("echo", lambda r, _: r.echo(b"a\x00b"))
    d.check("client id", lambda r, _: r.client_id(), is_int)
    d.check("client getname unset", lambda r, _: r.client_getname())
    d.check("client setname", lambda r, _: r.client_setname("feast-reader"))
    d.check("client getname", lambda r, _: r.client_getname())
    d.check("client setname invalid", lambda r, _: r.client_setname("bad name"))
    d.check("client info", lambda r, _: r.client_info(), stable_client_fields)
    d.check("client list (own id)", lambda r, _: r.client_list(client_id=[r.client_id()]), stable_client_fields)
    d.check("client list (two)", lambda r, o: (o.client_setname("second"),
                                                r.client_list(client_id=[r.client_id(), o.client_id()]))[1],
            stable_client_fields)
    d.check("select all 16 dbs", lambda r, _: [(r.select(i), r.set(f"db{i}", i), r.dbsize()) for i in range(16)])
    d.check("select 16", lambda r, _: r.select(16))
    d.check("back to db 0", lambda r, _: (r.select(0), sorted(r.keys("*"))))
    d.check("time", lambda r, _: r.time(), time_shape)
    # RESET drops the connection back to RESP2; HELLO restores the client's protocol before reading more.
    d.check("reset", lambda r, _: (r.execute_command("RESET"),
                                   hello_stable(r.execute_command("HELLO", r.get_connection_kwargs()["protocol"])),
                                   r.client_getname(), r.get("db3")))
    # HELLO with the client's own protocol only: switching protocol under redis-py confuses its
    # parser (protocol switches are covered by test_sessions_raw.py).
    d.check("hello (same protocol)", lambda r, _: r.execute_command("HELLO", r.get_connection_kwargs()["protocol"]),
            hello_stable)
    d.check("hello 9", lambda r, _: r.execute_command("HELLO", 9))
    d.check("auth without password configured", lambda r, _: r.auth("nope"))
    d.assert_all_same()


@pytest.mark.needs_newer_redis
def test_client_setinfo(differ, pair):
    if not supports(pair[0], "CLIENT", "SETINFO"):
        pytest.skip("reference redis-server lacks CLIENT SETINFO (needs 7.2+); set REDIS_REF_CMD to a newer server")
    d = differ
    d.check("setinfo lib-name", lambda r, _: r.client_setinfo("LIB-NAME", "larder-test"))
    d.check("setinfo lib-ver", lambda r, _: r.client_setinfo("LIB-VER", "1.2.3"))
    d.check("setinfo bad attr", lambda r, _: r.client_setinfo("FOO", "x"))
    d.check("client info shows lib", lambda r, _: {k: r.client_info().get(k) for k in ("lib-name", "lib-ver")})
    d.assert_all_same()


def test_server_commands(differ):
    d = differ
    d.check("setup", lambda r, _: (r.set("a", "1"), r.hset("h", mapping={"f": "v", "g": "w"})))
    d.check("dbsize", lambda r, _: r.dbsize())
    d.check("memory usage string", lambda r, _: r.memory_usage("a"), is_int)
    d.check("memory usage hash", lambda r, _: r.memory_usage("h"), is_int)
    d.check("memory usage missing", lambda r, _: r.memory_usage("zz"))
    for name in ("proto-max-bulk-len", "maxclients", "client-query-buffer-limit"):
        d.check(f"config get {name}", lambda r, _, n=name: r.config_get(n))
    d.check("config get pattern", lambda r, _: r.config_get("proto-max-*"))
    d.check("config set proto-max-bulk-len", lambda r, _: (r.config_set("proto-max-bulk-len", "2mb"),
                                                           r.config_get("proto-max-bulk-len")))
    # The server replies with a protocol error and closes; whether the client then sees EPIPE or
    # ECONNRESET is a race, so only the exception class is compared (bytes: test_bad_input.py).
    d.check("bulk above proto-max-bulk-len", lambda r, _: r.set("big", b"x" * (3 << 20)),
            lambda v: v[:2] if isinstance(v, tuple) else v)
    d.check("config set back", lambda r, _: r.config_set("proto-max-bulk-len", 536870912))
    d.check("config set maxclients", lambda r, _: (r.config_set("maxclients", 1000), r.config_get("maxclients"),
                                                   r.config_set("maxclients", 10000)))
    d.check("config set client-query-buffer-limit",
            lambda r, _: (r.config_set("client-query-buffer-limit", "64mb"), r.config_get("client-query-buffer-limit"),
                          r.config_set("client-query-buffer-limit", "1gb")))
    d.check("config set invalid", lambda r, _: r.config_set("maxclients", "many"))
    d.check("flushdb", lambda r, _: (r.flushdb(), r.dbsize()))
    d.check("flushall in other db", lambda r, _: (r.select(5), r.set("x", 1), r.flushall(), r.dbsize(), r.select(0)))
    d.assert_all_same()


# Fields every client library or dashboard reads; the test first checks that the reference has
# each one, so the list cannot drift from what redis-server really prints.
INFO_FIELDS = {
    "server": ["redis_version", "redis_mode", "os", "arch_bits", "process_id", "run_id", "tcp_port",
               "uptime_in_seconds"],
    "clients": ["connected_clients", "blocked_clients"],
    "memory": ["used_memory", "used_memory_human", "used_memory_rss", "maxmemory", "maxmemory_policy"],
    "persistence": ["loading"],
    "stats": ["total_connections_received", "total_commands_processed", "instantaneous_ops_per_sec",
              "keyspace_hits", "keyspace_misses", "expired_keys", "evicted_keys"],
    "replication": ["role"],
    "cpu": ["used_cpu_sys", "used_cpu_user"],
}


def test_info_sections(pair, protocol):
    ref, lar = pair
    for server in (ref, lar):
        c = server.client(protocol=protocol)
        c.set("k", "v")
        c.set("e", "v", ex=1000)
        for section, fields in INFO_FIELDS.items():
            info = c.info(section)
            missing = [f for f in fields if f not in info]
            assert not missing, f"{server.name}: INFO {section} lacks {missing}"
        everything = c.info("everything")
        assert all(f in everything for fs in INFO_FIELDS.values() for f in fs), f"{server.name}: INFO everything"
        server_info = c.info("server")
        assert len(str(server_info["run_id"])) == 40, f"{server.name}: run_id {server_info['run_id']!r}"
        assert server_info["tcp_port"] == server.port
        assert c.info("replication")["role"] == "master"
        keyspace = c.info("keyspace")
        assert {k: (v["keys"], v["expires"]) for k, v in keyspace.items()} == {"db0": (2, 1)}, \
            f"{server.name}: INFO keyspace {keyspace}"
        c.close()


def test_auth_requirepass(fresh_servers, protocol):
    ref = fresh_servers("redis", ["--requirepass", "pw1"])
    lar = fresh_servers("larder", ["--requirepass", "pw1"])
    results = []
    for server in (ref, lar):
        out = []
        anon = server.client(protocol=2, single_connection_client=True)
        for fn in (lambda: anon.ping(), lambda: anon.get("k"), lambda: anon.auth("wrong"),
                   lambda: anon.auth("pw1"), lambda: anon.set("k", "v"), lambda: anon.get("k")):
            try:
                out.append(fn())
            except redis.exceptions.RedisError as e:
                out.append((type(e).__name__, str(e)))
        anon.close()
        # A client configured with the password authenticates on connect (HELLO AUTH for RESP3).
        good = server.client(protocol=protocol, password="pw1")
        out.append(good.get("k"))
        good.close()
        try:
            server.client(protocol=protocol, password="bad").ping()
            out.append("connected with a bad password")
        except redis.exceptions.RedisError as e:
            out.append((type(e).__name__, str(e)))
        results.append(out)
    assert results[1] == results[0]


@pytest.mark.larder_only
def test_larder_hash_field_expiry_properties(larder):
    """HEXPIRE/HTTL/HPERSIST semantics, checked as properties (the reference redis-server 7.0
    lacks them, so this runs only against larder itself)."""
    if servers.larder_is_standin():
        pytest.skip("larder-only: LARDER_SERVER_CMD is a redis stand-in")
    r = larder.client()
    r.delete("fx")
    r.hset("fx", mapping={"a": "1", "b": "2", "c": "3"})
    assert r.hexpire("fx", 100, "a", "zz") == [1, -2]
    ttl_a, ttl_b = r.httl("fx", "a", "b")
    assert 0 < ttl_a <= 100 and ttl_b == -1
    assert r.hpersist("fx", "a", "b") == [1, -1]
    assert r.httl("fx", "a") == [-1]
    assert r.hpexpire("fx", 50, "c") == [1]
    import time
    time.sleep(0.3)
    assert r.hgetall("fx") == {b"a": b"1", b"b": b"2"}
    r.close()
