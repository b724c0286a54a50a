"""Resharding (docs/cluster.md "Resharding"): CLUSTER LARDER.MIGRATE moves slot ranges from one
Larder node to another while both serve. Under a mixed load from several redis-py
RedisCluster clients, every acknowledged write ends up exactly once on the node owning its slot,
no client sees an error it cannot follow, and the keyspace equals a redis-server fed the same
acknowledged writes. Bad requests are refused with the reason; a target that dies mid-stream
fails the migration and the source keeps serving the slots."""
import json
import os
import random
import shutil
import subprocess
import threading
import time
import urllib.request

import pytest
import redis
from redis.cluster import RedisCluster as PyRedisCluster

import servers
from cluster_nodes import LarderCluster
from resp import Err, RespConn

pytestmark = pytest.mark.larder_only

PASSWORD = "reshard-secret"


def keyslot(key):
    from redis.crc import key_slot
    return key_slot(key.encode() if isinstance(key, str) else key)


def larder_binary():
    return servers.Server("larder", servers.larder_cmd_template()).argv[0]


def status(port, password=None):
    with RespConn(port) as c:
        if password:
            c.call("AUTH", password)
        text = c.call("CLUSTER", "LARDER.MIGRATION").value
    text = text.decode() if isinstance(text, bytes) else str(text)
    return dict(line.split(":", 1) for line in text.strip().split("\r\n") if ":" in line)


def preload(node, count, prefix, low, high, password=None, value_size=8, db=0):
    """`count` string keys whose slots are in low..high, written straight to `node` (their owner)."""
    r = redis.Redis(port=node.port, password=password, db=db)
    keys = []
    i = 0
    while len(keys) < count:
        k = f"{prefix}{i}"
        if low <= keyslot(k) <= high:
            keys.append(k)
        i += 1
    pipe = r.pipeline(transaction=False)
    for n, k in enumerate(keys):
        pipe.set(k, f"{k}:" + "x" * value_size)
        if n % 5000 == 4999:
            pipe.execute()
    pipe.execute()
    return keys


def keyspace(port, password=None):
    """{key: (type, value)} of one node (pipelined: the nodes hold tens of thousands of keys)."""
    r = redis.Redis(port=port, password=password)
    keys = list(r.scan_iter(count=5000))
    pipe = r.pipeline(transaction=False)
    for k in keys:
        pipe.type(k)
    types = pipe.execute()
    for k, t in zip(keys, types):
        if t == b"string":
            pipe.get(k)
        elif t == b"hash":
            pipe.hgetall(k)
        else:
            pipe.type(k)
    values = pipe.execute()
    return {k: (t, tuple(sorted(v.items())) if t == b"hash" else v) for k, t, v in zip(keys, types, values)}


def test_migration_under_mixed_load_loses_no_write():
    c = LarderCluster(3, extra_args=["--requirepass", PASSWORD, "--cluster-migration-password", PASSWORD,
                                     "--threads", "2", "--no-pin"])
    # The source also serves HTTP (a feature repo), for its /metrics.
    repo = os.path.join(c.dir, "repo")
    shutil.copytree(servers.REPO_ROOT / "feature_repo", repo, ignore=shutil.ignore_patterns("registry.db", "*.db", "online*"))
    http_port = servers.free_port()
    c.nodes[0].argv += ["--repo", repo, "--http-port", str(http_port)]
    c.start()
    reference = servers.start_redis()
    try:
        source, target = c.nodes[0], c.nodes[1]
        src_range = c.topology[0]["slot_ranges"][0]
        half_end = (src_range["start"] + src_range["end"]) // 2
        preloaded = preload(source, 60000, "pre:", src_range["start"], half_end, PASSWORD)
        # Every type, a TTL, a hash past its packed form, and a key in database 1, in a moving slot.
        tag = next(f"t{i}" for i in range(10000) if src_range["start"] <= keyslot(f"t{i}") <= half_end)
        typed = [("RPUSH", f"{{{tag}}}:list", "a", "b", "c"), ("SADD", f"{{{tag}}}:set", "x", "y"),
                 ("ZADD", f"{{{tag}}}:zset", "1.5", "m1", "2", "m2"),
                 ("HSET", f"{{{tag}}}:bighash", *[x for i in range(300) for x in (f"f{i}", f"v{i}")]),
                 ("SET", f"{{{tag}}}:ttl", "v"), ("PEXPIRE", f"{{{tag}}}:ttl", "100000")]
        direct = redis.Redis(port=source.port, password=PASSWORD)
        for cmd in typed:
            direct.execute_command(*cmd)
        db1 = redis.Redis(port=source.port, password=PASSWORD, db=1)
        db1.set(f"{{{tag}}}:db1", "one")

        stop = threading.Event()
        results = []

        def client(ci):
            rc = PyRedisCluster(startup_nodes=c.startup_nodes(), password=PASSWORD, socket_timeout=10)
            rng = random.Random(ci)
            acked, errors, last, reads = [], [], {}, 0
            n = 0
            try:
                while not stop.is_set() or n < 1500:
                    n += 1
                    op = rng.random()
                    try:
                        if op < 0.3:
                            k = f"c{ci}:s{rng.randrange(300)}"
                            v = f"{ci}-{n}"
                            assert rc.set(k, v)
                            acked.append(("set", k, v)); last[k] = v.encode()
                        elif op < 0.55:
                            k = f"ctr:{rng.randrange(60)}"
                            rc.incr(k)
                            acked.append(("incr", k))
                        elif op < 0.75:
                            k = f"c{ci}:h{rng.randrange(80)}"
                            f, v = f"f{rng.randrange(5)}", f"{n}"
                            rc.hset(k, f, v)
                            acked.append(("hset", k, f, v))
                        else:
                            # Read-your-writes across the move: what this client last acknowledged.
                            k = f"c{ci}:s{rng.randrange(300)}"
                            got = rc.get(k)
                            reads += 1
                            if got != last.get(k):
                                errors.append(f"GET {k}: {got!r}, last acknowledged {last.get(k)!r}")
                    except Exception as e:  # any error a cluster client could not follow
                        errors.append(f"op {n}: {type(e).__name__}: {e}")
            finally:
                rc.close()
            results.append((ci, acked, errors, reads))

        threads = [threading.Thread(target=client, args=(i,)) for i in range(4)]
        for t in threads:
            t.start()
        time.sleep(0.3)
        # Half of the source's slots to the second node, driven end to end by the CLI.
        migrate = subprocess.run([larder_binary(), "cluster", "migrate", "--from", f"127.0.0.1:{source.port}",
                                  "--to", c.ids[1], "--slots", f"{src_range['start']}-{half_end}",
                                  "--password", PASSWORD, "--timeout", "60"],
                                 capture_output=True, text=True, timeout=90)
        time.sleep(0.3)
        stop.set()
        for t in threads:
            t.join(timeout=60)
        assert migrate.returncode == 0, migrate.stdout + migrate.stderr

        # No client saw an error it could not follow, and each read saw its own last write.
        assert len(results) == 4
        for ci, acked, errors, reads in results:
            assert errors == [], f"client {ci}: {errors[:5]}"
            assert len(acked) > 500 and reads > 100

        st = status(source.port, PASSWORD)
        assert st["migration_state"] == "done", st
        assert int(st["migration_keys_sent"]) >= len(preloaded)
        assert int(st["migration_writes_forwarded"]) > 0, st
        assert int(st["migration_keys_deleted"]) >= len(preloaded)
        assert st["migration_error"] == ""
        assert 0 < float(st["migration_handover_ms"]) < 400, st  # redis-py retries -TRYAGAIN for about 0.4 s
        info = redis.Redis(port=source.port, password=PASSWORD).info("cluster")
        assert info["cluster_migration_state"] == "done"
        metrics = urllib.request.urlopen(f"http://127.0.0.1:{http_port}/metrics", timeout=10).read().decode()
        gauges = dict(line.rsplit(" ", 1) for line in metrics.splitlines() if line.startswith("larder_cluster_migration_"))
        assert gauges["larder_cluster_migration_running"] == "0" and gauges["larder_cluster_migration_failed"] == "0"
        assert int(gauges["larder_cluster_migration_keys_sent"]) == int(st["migration_keys_sent"])
                # Clients were redirected after the handover (redis-py followed the -MOVED).
        errorstats = redis.Redis(port=source.port, password=PASSWORD).info("errorstats")
        assert errorstats.get("errorstat_MOVED", {}).get("count", 0) > 0
        print(f"migration: {st}; source errorstats: {errorstats}; ops: {sum(len(a) for _, a, _, _ in results)}")

        # Every node holds the new topology: the moved half is the target's.
        for n in c.nodes:
            with RespConn(n.port) as conn:
                conn.call("AUTH", PASSWORD)
                slots = conn.call("CLUSTER", "SLOTS").value
            owners = {(s[0], s[1]): s[2][1] for s in slots}
            assert owners[(src_range["start"], half_end)] == target.port
            assert owners[(half_end + 1, src_range["end"])] == source.port

        # Each key exactly once, on the node owning its slot.
        spaces = [keyspace(n.port, PASSWORD) for n in c.nodes]
        union = {}
        for n, space in zip(c.nodes, spaces):
            for k, v in space.items():
                assert k not in union, f"{k!r} is on two nodes"
                slot = keyslot(k)
                expected = target if src_range["start"] <= slot <= half_end else \
                    next(m for m, sh in zip(c.nodes, c.topology) if sh["slot_ranges"][0]["start"] <= slot <= sh["slot_ranges"][0]["end"])
                assert n is expected, f"{k!r} (slot {slot}) on port {n.port}, owner {expected.port}"
                union[k] = v
        moved_keys = sum(1 for k in spaces[1] if src_range["start"] <= keyslot(k) <= half_end)
        assert moved_keys >= len(preloaded)

        # The typed keys arrived whole, with their expiry and database.
        t = redis.Redis(port=target.port, password=PASSWORD)
        assert t.lrange(f"{{{tag}}}:list", 0, -1) == [b"a", b"b", b"c"]
        assert t.smembers(f"{{{tag}}}:set") == {b"x", b"y"}
        assert t.zrange(f"{{{tag}}}:zset", 0, -1, withscores=True) == [(b"m1", 1.5), (b"m2", 2.0)]
        assert t.hlen(f"{{{tag}}}:bighash") == 300 and t.hget(f"{{{tag}}}:bighash", "f299") == b"v299"
        assert 0 < t.pttl(f"{{{tag}}}:ttl") <= 100000
        assert redis.Redis(port=target.port, password=PASSWORD, db=1).get(f"{{{tag}}}:db1") == b"one"
        assert db1.dbsize() == 0  # deleted on the source (database 0: the exactly-once check below)

        # The union equals a single redis-server fed the same acknowledged writes.
        ref = redis.Redis(port=reference.port)
        for cmd in typed:
            ref.execute_command(*cmd)
        pipe = ref.pipeline(transaction=False)
        for k in preloaded:
            pipe.set(k, f"{k}:" + "x" * 8)
        for ci, acked, _, _ in sorted(results):
            for op in acked:
                if op[0] == "set":
                    pipe.set(op[1], op[2])
                elif op[0] == "incr":
                    pipe.incr(op[1])
                else:
                    pipe.hset(op[1], op[2], op[3])
        pipe.execute()
        assert union == keyspace(reference.port)
    finally:
        c.stop()
        reference.stop()


@pytest.fixture
def cluster3():
    c = LarderCluster(3).start()
    yield c
    c.stop()


def test_bad_migrations_are_refused_with_the_reason(cluster3):
    c = cluster3
    src = c.nodes[0].port
    other = c.topology[1]["slot_ranges"][0]
    assert status(src) == {"migration_state": "none"}
    cases = [
        (["nosuchnode", "0", "10"], "ERR unknown target node id 'nosuchnode': not a master of this node's topology"),
        ([c.ids[0], "0", "10"], f"ERR target node {c.ids[0]} is this node"),
        ([c.ids[1], "10", "5"], "ERR slot range 10-5 is not within 0-16383 with start <= end"),
        ([c.ids[1], "0", "16384"], "ERR slot range 0-16384 is not within 0-16383 with start <= end"),
        ([c.ids[1], "0", "x"], "ERR slot range 0 x: not integers"),
        ([c.ids[1], "0", "10", "12"], "ERR slot ranges must be given as <start> <end> pairs"),
        ([c.ids[1], "0", "10", "5", "20"], "ERR slot 5 is given twice"),
        ([c.ids[1], str(other["start"]), str(other["start"] + 1)],
         f"ERR slot range {other['start']}-{other['start'] + 1}: slot {other['start']} is not served by this node (its master is {c.ids[1]})"),
    ]
    with RespConn(src) as conn:
        for args, want in cases:
            assert conn.call("CLUSTER", "LARDER.MIGRATE", *args).value == Err(want.encode()), args
    # The CLI says the same and exits 1.
    cli = subprocess.run([larder_binary(), "cluster", "migrate", "--from", f"127.0.0.1:{src}", "--to", "nosuchnode",
                          "--slots", "0-10"], capture_output=True, text=True, timeout=30)
    assert cli.returncode == 1 and "unknown target node id 'nosuchnode'" in cli.stderr + cli.stdout, cli
    cli = subprocess.run([larder_binary(), "cluster", "migrate", "--from", f"127.0.0.1:{src}", "--to", c.ids[1],
                          "--slots", "0-x"], capture_output=True, text=True, timeout=30)
    assert cli.returncode != 0 and "'0-x' is not a slot or a start-end range" in cli.stderr, cli
    # Nothing started; the node still serves everything it did.
    assert status(src) == {"migration_state": "none"}
    assert redis.Redis(port=src).info("cluster")["cluster_migration_state"] == "none"
    # Outside cluster mode the subcommands say so.
    plain = servers.start_larder()
    try:
        with RespConn(plain.port) as conn:
            got = conn.call("CLUSTER", "LARDER.MIGRATE", "x", "0", "1").value
        assert isinstance(got, Err) and b"cluster support disabled" in got.message
    finally:
        plain.stop()


def test_target_dying_mid_migration_fails_cleanly(cluster3):
    c = cluster3
    source, target = c.nodes[0], c.nodes[1]
    r = c.topology[0]["slot_ranges"][0]
    keys = preload(source, 150000, "big:", r["start"], r["end"], value_size=64)
    with RespConn(source.port) as conn:
        assert conn.call("CLUSTER", "LARDER.MIGRATE", c.ids[1], str(r["start"]), str(r["end"])).value == b"OK"
        # Another one while this runs is refused.
        busy = conn.call("CLUSTER", "LARDER.MIGRATE", c.ids[2], str(r["start"]), str(r["end"])).value
        assert busy == Err(b"ERR a slot migration is already running (CLUSTER LARDER.MIGRATION)")
    deadline = time.monotonic() + 20
    while True:
        st = status(source.port)
        if st["migration_state"] == "streaming" and int(st["migration_keys_sent"]) > 0:
            break
        assert st["migration_state"] in ("connecting", "streaming"), st
        assert time.monotonic() < deadline, st
        time.sleep(0.005)
    target.proc.kill()
    target.proc.wait()
    deadline = time.monotonic() + 30
    while status(source.port)["migration_state"] != "failed":
        assert time.monotonic() < deadline, status(source.port)
        time.sleep(0.05)
    st = status(source.port)
    assert "target" in st["migration_error"] and str(target.port) in st["migration_error"], st
    # The source still owns and serves the slots, with every key.
    src = redis.Redis(port=source.port)
    assert src.dbsize() == len(keys)
    assert src.get(keys[0]) == f"{keys[0]}:".encode() + b"x" * 64
    assert src.set(keys[1], "after") and src.get(keys[1]) == b"after"
    assert src.incr(f"{{{keys[2]}}}:n") == 1
    with RespConn(source.port) as conn:
        slots = conn.call("CLUSTER", "SLOTS").value
    assert any(s[0] == r["start"] and s[1] == r["end"] and s[2][1] == source.port for s in slots)
    # The topology can be pushed again once the migration ended.
    with RespConn(source.port) as conn:
        topo = conn.call("CLUSTER", "LARDER.TOPOLOGY").value
        assert conn.call("CLUSTER", "LARDER.SETTOPOLOGY", topo).value == b"OK"


def test_writes_after_their_keys_were_sent_are_forwarded(cluster3):
    """Databases are streamed in order: with a big database 15, writes in databases 0-2 made while
    it streams reach the target only as forwarded records (MOVE and COPY ... DB included)."""
    c = cluster3
    source, target = c.nodes[0], c.nodes[1]
    r = c.topology[0]["slot_ranges"][0]
    tag = next(f"w{i}" for i in range(10000) if r["start"] <= keyslot(f"w{i}") <= r["end"])
    k = lambda name: f"{{{tag}}}:{name}"  # noqa: E731
    src = redis.Redis(port=source.port)
    src.set(k("a"), "1")
    src.set(k("b"), "old")
    src.set(k("gone"), "x")
    preload(source, 150000, "db15:", r["start"], r["end"], value_size=32, db=15)
    with RespConn(source.port) as conn:
        assert conn.call("CLUSTER", "LARDER.MIGRATE", c.ids[1], str(r["start"]), str(r["end"])).value == b"OK"
    deadline = time.monotonic() + 20
    while int(status(source.port).get("migration_keys_sent", 0)) < 1000:
        assert time.monotonic() < deadline, status(source.port)
        time.sleep(0.002)
    assert src.move(k("a"), 1)
    assert src.copy(k("b"), k("b2"), destination_db=2)
    assert src.set(k("b"), "new") and src.delete(k("gone")) == 1 and src.set(k("late"), "v")
    assert status(source.port)["migration_state"] == "streaming", "the writes must land while database 15 streams"
    deadline = time.monotonic() + 30
    while status(source.port)["migration_state"] != "done":
        assert status(source.port)["migration_state"] != "failed", status(source.port)
        assert time.monotonic() < deadline, status(source.port)
        time.sleep(0.05)
    assert int(status(source.port)["migration_writes_forwarded"]) >= 6
    t = [redis.Redis(port=target.port, db=d) for d in range(3)]
    assert t[0].get(k("b")) == b"new" and t[0].get(k("late")) == b"v"
    assert t[0].exists(k("gone")) == 0 and t[0].exists(k("a")) == 0
    assert t[1].get(k("a")) == b"1"
    assert t[2].get(k("b2")) == b"old"
    assert redis.Redis(port=target.port, db=15).dbsize() == 150000


def test_reshard_adds_a_node_and_moves_slots_to_it():
    """`larder cluster reshard FILE`: from two masters to three (the third started unconfigured),
    under a client writing and reading; afterwards every node holds the file's topology and
    every key is on its owner, with its last acknowledged value."""
    from cluster_nodes import even_topology
    c = LarderCluster(3)
    two = even_topology(list(zip(c.ids[:2], [s.port for s in c.nodes[:2]])))
    c.topology = two
    for path in c.config_paths:
        with open(path, "w") as f:
            json.dump(two, f)
    os.remove(c.config_paths[2])  # the new node starts with no topology
    c.start()
    try:
        rc = PyRedisCluster(startup_nodes=c.startup_nodes()[:2], socket_timeout=10)
        for i in range(3000):
            rc.set(f"r{i}", f"v{i}")
        stop = threading.Event()
        seen = {"ops": 0, "errors": []}
        last = {}

        def load():
            client = PyRedisCluster(startup_nodes=c.startup_nodes()[:2], socket_timeout=10)
            rng = random.Random(7)
            try:
                while not stop.is_set() or seen["ops"] < 500:
                    k = f"r{rng.randrange(3000)}"
                    try:
                        if rng.random() < 0.5:
                            v = f"w{seen['ops']}"
                            client.set(k, v)
                            last[k] = v
                        else:
                            got = client.get(k)
                            if got != last.get(k, f"v{k[1:]}").encode():
                                seen["errors"].append(f"GET {k}: {got!r}")
                    except Exception as e:
                        seen["errors"].append(f"{type(e).__name__}: {e}")
                    seen["ops"] += 1
            finally:
                client.close()

        t = threading.Thread(target=load)
        t.start()
        wanted = even_topology(list(zip(c.ids, [s.port for s in c.nodes])))
        path = os.path.join(c.dir, "three.json")
        with open(path, "w") as f:
            json.dump(wanted, f)
        out = subprocess.run([larder_binary(), "cluster", "reshard", path], capture_output=True, text=True, timeout=120)
        stop.set()
        t.join(timeout=60)
        assert out.returncode == 0, out.stdout + out.stderr
        assert "resharded: " in out.stdout and seen["errors"] == [], (out.stdout, seen["errors"][:5])
        print(out.stdout, seen["ops"])
        for n in c.nodes:
            with RespConn(n.port) as conn:
                assert json.loads(conn.call("CLUSTER", "LARDER.TOPOLOGY").value) == wanted
        rc.close()
        rc = PyRedisCluster(startup_nodes=c.startup_nodes(), socket_timeout=10)
        for i in range(3000):
            k = f"r{i}"
            assert rc.get(k) == last.get(k, f"v{i}").encode()
        total = 0
        for n, shard in zip(c.nodes, wanted):
            r = shard["slot_ranges"][0]
            keys = redis.Redis(port=n.port).keys("r*")
            assert all(r["start"] <= keyslot(k) <= r["end"] for k in keys)
            total += len(keys)
        assert total == 3000
        assert redis.Redis(port=c.nodes[2].port).dbsize() > 500
        rc.close()
    finally:
        c.stop()
