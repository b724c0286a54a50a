"""Larder nodes as a Redis Cluster (docs/cluster.md): three local nodes on loopback, one
topology; real cluster clients (redis-py RedisCluster RESP2/RESP3, redis-cli -c) route by
slot and follow MOVED; replies compared with a real redis-server cluster."""
import json
import re
import subprocess
import time

import pytest
import redis
from redis.cluster import RedisCluster as PyRedisCluster

from cluster_nodes import LarderCluster
from resp import Err, RespConn

pytestmark = pytest.mark.larder_only


def keyslot(key):
    from redis.crc import key_slot
    return key_slot(key.encode() if isinstance(key, str) else key)


def owner(cluster, slot):
    for shard, node in zip(cluster.topology, cluster.nodes):
        if any(r["start"] <= slot <= r["end"] for r in shard["slot_ranges"]):
            return node
    raise AssertionError(f"slot {slot} unowned")


def call(port, *args):
    with RespConn(port) as c:
        return c.call(*args).value


@pytest.mark.parametrize("protocol", [2, 3])
def test_redispy_cluster_many_keys(larder_cluster, protocol):
    rc = PyRedisCluster(startup_nodes=larder_cluster.startup_nodes(), protocol=protocol, socket_timeout=10)
    try:
        keys = [f"k{protocol}:{i}" for i in range(600)]
        for k in keys:
            assert rc.set(k, k + "-v")
        assert [rc.get(k) for k in keys] == [(k + "-v").encode() for k in keys]
        rc.hset(f"h{protocol}", mapping={"a": "1", "b": "2"})
        assert rc.hgetall(f"h{protocol}") == {b"a": b"1", b"b": b"2"}
        # Hash tags keep a multi-key command on one slot.
        rc.mset({f"{{user{protocol}}}:a": "1", f"{{user{protocol}}}:b": "2"})
        assert rc.mget(f"{{user{protocol}}}:a", f"{{user{protocol}}}:b") == [b"1", b"2"]
    finally:
        rc.close()
    # Each key lives only on the node owning its slot; the nodes' keyspaces partition the set.
    seen = set()
    for node in larder_cluster.nodes:
        node_keys = [k.decode() for k in node.client().keys(f"k{protocol}:*")]
        for k in node_keys:
            assert owner(larder_cluster, keyslot(k)) is node
        seen.update(node_keys)
    assert seen == set(keys)
    assert all(n.client().dbsize() > 0 for n in larder_cluster.nodes)


def test_moved_and_crossslot_raw(larder_cluster):
    a = larder_cluster.nodes[0]
    key = next(f"m{i}" for i in range(1000) if owner(larder_cluster, keyslot(f"m{i}")) is not a)
    b = owner(larder_cluster, keyslot(key))
    assert call(a.port, "SET", key, "v") == Err(f"MOVED {keyslot(key)} 127.0.0.1:{b.port}".encode())
    assert call(b.port, "SET", key, "v") == b"OK"
    # Keys without a slot of their own are served anywhere: PING, DBSIZE, CLUSTER KEYSLOT.
    assert call(a.port, "CLUSTER", "KEYSLOT", key) == keyslot(key)
    mine = [f"x{i}" for i in range(2000) if owner(larder_cluster, keyslot(f"x{i}")) is a]
    two = next((p, q) for p in mine for q in mine if keyslot(p) != keyslot(q))
    assert call(a.port, "MSET", two[0], "1", two[1], "2") == Err(b"CROSSSLOT Keys in request don't hash to the same slot")


def test_multi_exec_redirection_matches_redis(larder_cluster, redis_cluster):
    """MULTI/EXEC across slots and nodes: the same replies as a real Redis Cluster."""
    def run(port, owned, foreign, other_slot_same_node):
        with RespConn(port) as c:
            out = []
            # A command for another node's slot fails at queue time; EXEC then aborts.
            out.append(c.call("MULTI").value)
            out.append(c.call("SET", owned, "1").value)
            r = c.call("SET", foreign, "1").value
            out.append(r.message.split(b" ")[0] if isinstance(r, Err) else r)
            out.append(c.call("EXEC").value)
            # One command across two slots: CROSSSLOT at queue time.
            out.append(c.call("MULTI").value)
            out.append(c.call("MSET", owned, "1", other_slot_same_node, "2").value)
            out.append(c.call("EXEC").value)
            # Two commands each on its own slot of this node: EXEC answers CROSSSLOT.
            out.append(c.call("MULTI").value)
            out.append(c.call("SET", owned, "1").value)
            out.append(c.call("SET", other_slot_same_node, "1").value)
            out.append(c.call("EXEC").value)
            out.append(c.call("GET", owned).value)
            # One slot: runs.
            out.append(c.call("MULTI").value)
            out.append(c.call("SET", owned, "2").value)
            out.append(c.call("GET", owned).value)
            out.append(c.call("EXEC").value)
            return out

    def pick(slot_owner_port, port):
        mine = [f"t{i}" for i in range(3000) if slot_owner_port(keyslot(f"t{i}")) == port]
        foreign = next(f"t{i}" for i in range(3000) if slot_owner_port(keyslot(f"t{i}")) != port)
        other = next(k for k in mine if keyslot(k) != keyslot(mine[0]))
        return mine[0], foreign, other

    def larder_owner(slot):
        return owner(larder_cluster, slot).port

    redis_slots = redis.Redis(port=redis_cluster.ports[0]).cluster("slots")

    def redis_owner(slot):
        for s, e, master, *_ in (tuple(x) for x in redis_slots):
            if s <= slot <= e:
                return int(master[1])

    p = larder_cluster.nodes[0].port
    q = redis_cluster.ports[0]
    got = run(p, *pick(larder_owner, p))
    want = run(q, *pick(redis_owner, q))
    assert got == want


def normalize_nodes(text, ids, ports):
    """CLUSTER NODES with ids and ports replaced by their order of appearance; lines sorted."""
    lines = []
    for line in text.strip().split("\n"):
        f = line.split(" ")
        f[0] = "ID"
        f[1] = "ADDR"
        f[3] = "-" if f[3] == "-" else "ID"
        f[5] = "PONG"  # Redis: the last pong's time; no bus here
        f[6] = "EPOCH"
        lines.append(" ".join(f))
    return sorted(lines)


def test_cluster_replies_match_redis_formats(larder_cluster, redis_cluster):
    lr = larder_cluster.nodes[0].client()
    rr = redis.Redis(port=redis_cluster.ports[0])
    # CLUSTER SLOTS: same ranges (both split evenly), same shape per node entry.
    ls, rs = lr.execute_command("CLUSTER SLOTS"), rr.execute_command("CLUSTER SLOTS")
    assert sorted((r[0], r[1]) for r in ls) == sorted((r[0], r[1]) for r in rs)
    for x, y in zip(sorted(ls), sorted(rs)):
        assert [len(n) for n in x[2:]] == [len(n) for n in y[2:]]
        assert [type(v) for v in x[2]] == [type(v) for v in y[2]]
    # CLUSTER NODES: same fields per line once ids, ports and times are masked.
    lport, rport = larder_cluster.nodes[0].port, redis_cluster.ports[0]
    ln = call(lport, "CLUSTER", "NODES").decode()
    rn = call(rport, "CLUSTER", "NODES").decode()
    assert normalize_nodes(ln, None, None) == normalize_nodes(rn, None, None)
    # CLUSTER INFO: the same fields, the same values apart from epochs and message counters.
    def info(port):
        raw = call(port, "CLUSTER", "INFO").decode()
        return dict(line.split(":", 1) for line in raw.strip().split("\r\n"))
    li, ri = info(lport), info(rport)
    # Redis adds one counter per bus message type it has sent or received
    # (cluster_stats_messages_ping_sent, ...); with no bus there are none to print.
    per_type = re.compile(r"cluster_stats_messages_[a-z]+_(sent|received)$")
    assert list(li) == [k for k in ri if not per_type.match(k)]
    for k in ("cluster_state", "cluster_slots_assigned", "cluster_slots_ok", "cluster_known_nodes", "cluster_size"):
        assert li[k] == ri[k], k
    # CLUSTER SHARDS: same keys, same slot ranges, same node fields (raw RESP3 compared by shape).
    with RespConn(larder_cluster.nodes[0].port) as a, RespConn(redis_cluster.ports[0]) as b:
        for c in (a, b):
            c.call("HELLO", "3")
        x, y = a.call("CLUSTER", "SHARDS").value, b.call("CLUSTER", "SHARDS").value

    def shape(shards):
        out = []
        for sh in shards:
            d = dict(sh[1])
            nodes = [[k for k, _ in n[1]] for n in d[b"nodes"]]
            out.append((d[b"slots"], nodes, [dict(n[1])[b"role"] for n in d[b"nodes"]]))
        return sorted(out)
    assert shape(x) == shape(y)
    assert lr.execute_command("CLUSTER MYID") == larder_cluster.ids[0].encode()
    assert lr.execute_command("CLUSTER KEYSLOT", "{user1000}.following") == rr.execute_command("CLUSTER KEYSLOT", "{user1000}.following")


def test_countkeysinslot_and_getkeysinslot(larder_cluster):
    c = PyRedisCluster(startup_nodes=larder_cluster.startup_nodes())
    try:
        for i in range(5):
            c.set(f"{{tag}}:{i}", i)
    finally:
        c.close()
    slot = keyslot("tag")
    node = owner(larder_cluster, slot).client()
    assert node.execute_command("CLUSTER COUNTKEYSINSLOT", slot) == 5
    got = [k if isinstance(k, bytes) else k.encode() for k in node.execute_command("CLUSTER GETKEYSINSLOT", slot, 10)]
    assert sorted(got) == sorted(f"{{tag}}:{i}".encode() for i in range(5))


def test_redis_cli_follows_moved(larder_cluster):
    first = larder_cluster.nodes[0].port
    for i in range(20):
        key = f"cli:{i}"
        subprocess.run(["redis-cli", "-c", "-p", str(first), "SET", key, f"v{i}"], check=True, capture_output=True, timeout=10)
    for node in larder_cluster.nodes:
        for i in range(20):
            out = subprocess.run(["redis-cli", "-c", "-p", str(node.port), "GET", f"cli:{i}"],
                                 check=True, capture_output=True, timeout=10).stdout
            assert out.strip() == f"v{i}".encode()
    # Without -c, the redirection is shown, not followed.
    key = next(f"cli:{i}" for i in range(20) if owner(larder_cluster, keyslot(f"cli:{i}")).port != first)
    out = subprocess.run(["redis-cli", "-p", str(first), "GET", key], capture_output=True, timeout=10).stdout
    assert out.startswith(f"MOVED {keyslot(key)} 127.0.0.1:".encode())  # not a tty: no "(error) " prefix


def test_bad_topologies_are_refused_and_the_old_one_kept(larder_cluster):
    node = larder_cluster.nodes[0]
    good = larder_cluster.topology
    before = node.client().execute_command("CLUSTER SLOTS")

    def variant(change):
        t = json.loads(json.dumps(good))
        change(t)
        return json.dumps(t)

    def overlap(t):
        t[1]["slot_ranges"][0]["start"] -= 10

    def missing(t):
        t[2]["slot_ranges"][0]["end"] -= 1

    def not_me(t):
        t[0]["master"]["id"] = "f" * 40

    def duplicate_id(t):
        t[1]["master"]["id"] = t[2]["master"]["id"]

    def bad_port(t):
        t[1]["master"]["port"] = 70000

    def bad_ip(t):
        t[1]["master"]["ip"] = "10.0.0.300"

    cases = {overlap: b"overlaps shard", missing: b"slots not served by any shard: 16383",
             not_me: b"is not in the topology", duplicate_id: b"is also shard",
             bad_port: b"is not within 1-65535", bad_ip: b"is not an IPv4/IPv6 address"}
    for change, words in cases.items():
        r = call(node.port, "CLUSTER", "LARDER.SETTOPOLOGY", variant(change))
        assert isinstance(r, Err) and r.message.startswith(b"ERR invalid cluster topology, the current one is kept: "), (change, r)
        assert words in r.message, (change.__name__, r.message)
    r = call(node.port, "CLUSTER", "LARDER.SETTOPOLOGY", "{not json")
    assert isinstance(r, Err) and b"not valid JSON" in r.message
    assert node.client().execute_command("CLUSTER SLOTS") == before
    # The old topology still routes.
    rc = PyRedisCluster(startup_nodes=larder_cluster.startup_nodes())
    try:
        rc.set("after-bad-push", "1")
        assert rc.get("after-bad-push") == b"1"
    finally:
        rc.close()


def test_unconfigured_node_then_push(fresh_servers):
    node = fresh_servers("larder", ["--cluster-enabled", "yes", "--cluster-node-id", "b" * 40])
    r = call(node.port, "GET", "k")
    assert isinstance(r, Err) and r.message.startswith(b"CLUSTERDOWN Cluster is not yet configured")
    assert call(node.port, "PING") == b"PONG"
    assert b"cluster_state:fail\r\n" in call(node.port, "CLUSTER", "INFO")
    assert node.client().execute_command("CLUSTER SLOTS") == []
    topology = [{"slot_ranges": [{"start": 0, "end": 16383}],
                 "master": {"id": "b" * 40, "ip": "127.0.0.1", "port": node.port}, "replicas": []}]
    assert call(node.port, "CLUSTER", "LARDER.SETTOPOLOGY", json.dumps(topology)) == b"OK"
    assert call(node.port, "SET", "k", "v") == b"OK"
    assert json.loads(call(node.port, "CLUSTER", "LARDER.TOPOLOGY")) == topology
    # Pushed topologies are admin-only (@admin @dangerous).
    assert call(node.port, "ACL", "SETUSER", "app", "on", "nopass", "~*", "+@all", "-@dangerous") == b"OK"
    with RespConn(node.port) as c:
        assert c.call("AUTH", "app", "x").value == b"OK"
        r = c.call("CLUSTER", "LARDER.SETTOPOLOGY", json.dumps(topology)).value
        assert isinstance(r, Err) and r.message.startswith(b"NOPERM")


def test_emulated_single_node_unchanged(larder):
    """Without cluster mode, one node answers for every slot (Feast redis_cluster against one Larder)."""
    r = larder.client()
    assert r.execute_command("CLUSTER SLOTS")[0][:2] == [0, 16383]
    r.set("a", 1)
    r.set("b", 2)
    assert r.mget("a", "b") == [b"1", b"2"]  # no CROSSSLOT without cluster mode
    r = call(larder.port, "CLUSTER", "LARDER.SETTOPOLOGY", "[]")
    assert isinstance(r, Err) and b"cluster support disabled" in r.message


def test_node_down_fails_fast_and_restart_keeps_slots():
    c = LarderCluster(3, extra_args=["--save", "1 1"]).start()
    try:
        rc = PyRedisCluster(startup_nodes=c.startup_nodes(), socket_timeout=2, socket_connect_timeout=1)
        keys = [f"r:{i}" for i in range(300)]
        for k in keys:
            rc.set(k, k)
        victim = c.nodes[2]
        assert victim.client().save()
        victim_keys = sorted(victim.client().keys("r:*"))
        assert victim_keys
        victim.proc.kill()
        victim.proc.wait()
        started = time.monotonic()
        with pytest.raises((redis.exceptions.ConnectionError, redis.exceptions.ClusterError,
                            redis.exceptions.TimeoutError)):
            rc.get(victim_keys[0].decode())
        assert time.monotonic() - started < 15
        # The other nodes keep serving their own slots.
        alive = [k for k in keys if owner(c, keyslot(k)) is not victim]
        rc2 = PyRedisCluster(startup_nodes=c.startup_nodes()[:2], socket_timeout=2)
        assert rc2.get(alive[0]) == alive[0].encode()
        rc2.close()
        rc.close()
        # Restarted from its snapshot, with its topology file: same slots, same keys.
        victim.start()
        assert sorted(victim.client().keys("r:*")) == victim_keys
        assert victim.client().execute_command("CLUSTER MYID") == c.ids[2].encode()
        rc = PyRedisCluster(startup_nodes=c.startup_nodes())
        assert [rc.get(k) for k in keys] == [k.encode() for k in keys]
        rc.close()
    finally:
        c.stop()


def test_larder_cluster_cli_make_check_push_status(tmp_path):
    """`larder cluster make` a topology for three unconfigured nodes, `check` it, `push` it
    (each node's MYID checked first), `status`; the pushed topology is saved to each node's
    --cluster-config file, and a file naming a wrong id is refused before any node changes."""
    import servers
    binary = servers.REPO_ROOT / ".build/release/larder"
    nodes = [servers.Server("larder", servers.larder_cmd_template()) for _ in range(3)]
    try:
        for i, s in enumerate(nodes):
            node_id = subprocess.run([binary, "cluster", "id", f"127.0.0.1:{s.port}"], capture_output=True,
                                     check=True).stdout.decode().strip()
            s.argv += ["--threads", "1", "--cluster-enabled", "yes", "--cluster-node-id", node_id,
                       "--cluster-config", str(tmp_path / f"node{i}.json")]
            s.start()
        topo = tmp_path / "t.json"
        made = subprocess.run([binary, "cluster", "make"] + [f"127.0.0.1:{s.port}" for s in nodes],
                              capture_output=True, check=True).stdout
        topo.write_bytes(made)
        assert b"ok, 3 shard(s)" in subprocess.run([binary, "cluster", "check", topo], capture_output=True, check=True).stdout
        before = subprocess.run([binary, "cluster", "status", topo], capture_output=True)
        assert before.returncode == 1 and before.stdout.count(b"cluster_state:fail") == 3
        wrong = json.loads(made)
        wrong[2]["master"]["id"] = "c" * 40
        (tmp_path / "wrong.json").write_text(json.dumps(wrong))
        refused = subprocess.run([binary, "cluster", "push", tmp_path / "wrong.json"], capture_output=True)
        assert refused.returncode != 0 and b"has node id" in refused.stderr
        assert call(nodes[0].port, "CLUSTER", "LARDER.TOPOLOGY") is None
        subprocess.run([binary, "cluster", "push", topo], capture_output=True, check=True)
        after = subprocess.run([binary, "cluster", "status", topo], capture_output=True, check=True)
        assert after.stdout.count(b"cluster_state:ok") == 3 and after.stdout.count(b"topology:current") == 3
        for i in range(3):
            assert json.loads((tmp_path / f"node{i}.json").read_text()) == json.loads(made)
        from redis.cluster import ClusterNode
        rc = PyRedisCluster(startup_nodes=[ClusterNode("127.0.0.1", nodes[0].port)])
        for k in range(50):
            rc.set(f"cli-push:{k}", k)
        assert all(n.client().dbsize() > 0 for n in nodes)
        rc.close()
    finally:
        for s in nodes:
            s.stop()
