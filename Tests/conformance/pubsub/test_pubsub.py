"""Pub/sub and keyspace notifications against redis-server 7.0: the exact frames clients receive
(raw sockets, RESP2 and RESP3), redis-py's pubsub() in both protocols, PUBLISH's receiver count
with subscribers on both threads of a `--threads 2` larder, introspection (PUBSUB, INFO, CLIENT
LIST), RESET/close, the RESP2 subscribed-mode rules, ACL channel permissions, the pub/sub output
limit, and the keyspace events of every family larder has."""
import socket
import time

import pytest

from resp import RespConn, Err, encode
import servers

pytestmark = pytest.mark.skipif(servers.larder_is_standin(), reason="larder with --threads 2")


@pytest.fixture(scope="module")
def larder2():
    server = servers.start_larder(["--threads", "2", "--no-pin"])
    yield server
    server.stop()


@pytest.fixture
def both(redis_ref, larder2):
    """(redis, larder): emptied, notifications off."""
    for s in (redis_ref, larder2):
        with RespConn(s.port) as c:
            c.call("FLUSHALL")
            c.call("CONFIG", "SET", "notify-keyspace-events", "")
    return redis_ref, larder2


def raw(conn, *args):
    """Sends one command, returns the raw bytes of the next frame."""
    conn.send_raw(encode(*args))
    return conn.read_reply().raw


def frames(conn, n):
    return [conn.read_reply().raw for _ in range(n)]


def wait_until(predicate, timeout=5.0):
    end = time.time() + timeout
    while time.time() < end:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


def numsub(port, channel):
    with RespConn(port) as c:
        return c.call("PUBSUB", "NUMSUB", channel).value[1]


# --- exact frames -----------------------------------------------------------------------------

@pytest.mark.parametrize("proto", [2, 3])
def test_frames_match_redis(both, proto):
    seen = []
    for s in both:
        with RespConn(s.port) as sub, RespConn(s.port) as pub:
            got = []
            if proto == 3:
                sub.call("HELLO", "3")
            got.append(raw(sub, "SUBSCRIBE", "news", "sport"))
            got.append(sub.read_reply().raw)
            got.append(raw(sub, "PSUBSCRIBE", "n*"))
            got.append(raw(sub, "SSUBSCRIBE", "shard1"))
            assert wait_until(lambda: numsub(s.port, "news") == 1)
            got.append(pub.call("PUBLISH", "news", "hello").raw)
            got += frames(sub, 2)  # message + pmessage
            got.append(pub.call("SPUBLISH", "shard1", "sm").raw)
            got += frames(sub, 1)
            got.append(pub.call("PUBLISH", "nobody", "x").raw)
            got += frames(sub, 1)  # pmessage for n*
            got.append(raw(sub, "PING"))
            got.append(raw(sub, "PING", "hi"))
            # without arguments Redis goes in its dict's order: one channel at a time here
            got.append(raw(sub, "UNSUBSCRIBE", "sport"))
            got.append(raw(sub, "UNSUBSCRIBE"))
            got.append(raw(sub, "PUNSUBSCRIBE", "n*", "never"))
            got.append(sub.read_reply().raw)
            got.append(raw(sub, "SUNSUBSCRIBE"))
            got.append(raw(sub, "UNSUBSCRIBE"))  # nothing left: one frame with a null channel
            got.append(raw(sub, "SUNSUBSCRIBE"))
            seen.append(got)
    assert seen[1] == seen[0]


def test_resp2_subscribed_mode_rules(both):
    seen = []
    for s in both:
        with RespConn(s.port) as c:
            c.call("SUBSCRIBE", "a")
            seen.append([raw(c, "GET", "x"), raw(c, "CONFIG", "GET", "maxclients"), raw(c, "PSUBSCRIBE", "z*"),
                         raw(c, "RESET"), raw(c, "GET", "x")])
    assert seen[1] == seen[0]
    assert b"only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed" in seen[0][0]


def test_resp3_commands_and_pushes_interleave(both):
    seen = []
    for s in both:
        with RespConn(s.port) as c, RespConn(s.port) as pub:
            c.call("HELLO", "3")
            c.call("SUBSCRIBE", "chan")
            assert wait_until(lambda: numsub(s.port, "chan") == 1)
            got = [raw(c, "SET", "k", "v"), raw(c, "GET", "k")]
            pub.call("PUBLISH", "chan", "m1")
            got.append(c.read_reply().raw)
            # publish to itself: the push comes before PUBLISH's reply, as in Redis 7.0
            got += [raw(c, "PUBLISH", "chan", "self"), c.read_reply().raw]
            got.append(raw(c, "PING"))
            seen.append(got)
    assert seen[1] == seen[0]


# --- redis-py ----------------------------------------------------------------------------------

@pytest.mark.parametrize("protocol", [2, 3])
def test_redis_py_pubsub(both, protocol):
    seen = []
    for s in both:
        r = s.client(protocol=protocol)
        p = r.pubsub()
        p.subscribe("orders")
        p.psubscribe("ord*")
        got = [p.get_message(timeout=2), p.get_message(timeout=2)]
        assert wait_until(lambda: r.pubsub_numsub("orders") == [(b"orders", 1)])
        got.append(r.publish("orders", "o1"))
        got += [p.get_message(timeout=2), p.get_message(timeout=2)]
        got.append(sorted(r.pubsub_channels()))
        got.append(r.pubsub_numpat())
        p.unsubscribe()
        p.punsubscribe()
        got += [p.get_message(timeout=2), p.get_message(timeout=2)]
        got.append(r.publish("orders", "o2"))
        p.close()
        r.close()
        seen.append(got)
    assert seen[1] == seen[0]


# --- across threads ----------------------------------------------------------------------------

def test_publish_count_across_threads(larder2):
    """40 subscribers (connections alternate between the two loops), 10 of them also on a
    pattern: every PUBLISH, from a connection on either loop, reaches all and counts each."""
    subs = [RespConn(larder2.port) for _ in range(40)]
    try:
        for i, c in enumerate(subs):
            if i % 4 == 0:
                c.call("HELLO", "3")  # a mix of RESP2 and RESP3 subscribers
            c.call("SUBSCRIBE", "fan")
            if i % 4 == 1:
                c.call("PSUBSCRIBE", "f*")
        assert numsub(larder2.port, "fan") == 40
        publishers = [RespConn(larder2.port) for _ in range(2)]
        for round_ in range(5):
            for j, p in enumerate(publishers):
                # pipelined: several publishes in one read share one fan-out per loop
                replies = p.pipeline([("PUBLISH", "fan", f"m{round_}.{j}.{k}") for k in range(3)])
                assert [r.value for r in replies] == [50, 50, 50]
        for i, c in enumerate(subs):
            want = 30 if i % 4 != 1 else 60
            got = [c.read_reply().value for _ in range(want)]
            msgs = [m[-1] for m in got]
            assert len(msgs) == want
            channel_msgs = [m[-1] for m in got if m[0] == b"message"]
            # per publisher, in publish order
            for j in range(2):
                mine = [m for m in channel_msgs if m.startswith(b"m") and m.split(b".")[1] == str(j).encode()]
                assert mine == [f"m{r}.{j}.{k}".encode() for r in range(5) for k in range(3)]
        for p in publishers:
            p.close()
    finally:
        for c in subs:
            c.close()
    assert wait_until(lambda: numsub(larder2.port, "fan") == 0)


def test_publish_inside_multi_counts_every_loop(larder2):
    subs = [RespConn(larder2.port) for _ in range(6)]
    try:
        for c in subs:
            c.call("SUBSCRIBE", "tx")
        with RespConn(larder2.port) as p:
            p.call("MULTI")
            p.call("PUBLISH", "tx", "a")
            p.call("PUBLISH", "tx", "b")
            assert p.call("EXEC").value == [6, 6]
        for c in subs:
            assert [c.read_reply().value[-1] for _ in range(2)] == [b"a", b"b"]
    finally:
        for c in subs:
            c.close()


# --- introspection, RESET, close ---------------------------------------------------------------

def test_introspection(both):
    seen = []
    for s in both:
        a, b = RespConn(s.port), RespConn(s.port)
        a.call("SUBSCRIBE", "c1", "c2")
        a.read_reply()
        a.call("PSUBSCRIBE", "p*")
        b.call("SUBSCRIBE", "c1")
        b.call("SSUBSCRIBE", "s1")
        with RespConn(s.port) as q:
            info = q.call("INFO", "stats").value.decode()
            fields = {k: v for k, v in (l.split(":", 1) for l in info.split("\r\n") if l.startswith("pubsub"))}
            clients = q.call("CLIENT", "LIST").value.decode().splitlines()
            subs = sorted(" ".join(f for f in line.split() if f.split("=")[0] in ("sub", "psub", "ssub", "flags"))
                          for line in clients)
            got = [sorted(q.call("PUBSUB", "CHANNELS").value), q.call("PUBSUB", "CHANNELS", "c[1]").value,
                   q.call("PUBSUB", "NUMSUB", "c1", "c2", "zz").value, q.call("PUBSUB", "NUMPAT").value,
                   q.call("PUBSUB", "SHARDCHANNELS").value, q.call("PUBSUB", "SHARDNUMSUB", "s1").value,
                   fields, subs, len(q.call("CLIENT", "LIST", "TYPE", "PUBSUB").value.decode().splitlines())]
            a.call("RESET")
            b.close()
            assert wait_until(lambda: q.call("PUBSUB", "NUMSUB", "c1").value[1] == 0)
            got += [q.call("PUBSUB", "CHANNELS").value, q.call("PUBSUB", "NUMPAT").value,
                    q.call("PUBSUB", "SHARDCHANNELS").value, q.call("PUBLISH", "c1", "x").value]
        a.close()
        seen.append(got)
    assert seen[1] == seen[0]


# --- ACL channel permissions --------------------------------------------------------------------

def test_acl_channels(both):
    seen = []
    for s in both:
        with RespConn(s.port) as admin:
            admin.call("ACL", "SETUSER", "pub", "on", ">pw", "+@all", "~*", "resetchannels", "&feast:*")
            admin.call("ACL", "SETUSER", "fresh", "on", ">pw", "+@all", "~*")  # acl-pubsub-default
            admin.call("ACL", "LOG", "RESET")
            with RespConn(s.port) as u, RespConn(s.port) as f:
                u.call("AUTH", "pub", "pw")
                f.call("AUTH", "fresh", "pw")
                got = [u.call("PUBLISH", "feast:v1", "x").raw, u.call("PUBLISH", "other", "x").raw,
                       f.call("PUBLISH", "any", "x").raw, raw(u, "PSUBSCRIBE", "feast:*"),
                       raw(u, "PSUBSCRIBE", "feast:v*"), raw(u, "SUBSCRIBE", "feast:v2", "nope"),
                       raw(u, "UNSUBSCRIBE", "nope")]
            log = admin.call("ACL", "LOG").value
            got.append([(dict(zip(e[0::2], e[1::2]))[b"reason"], dict(zip(e[0::2], e[1::2]))[b"object"]) for e in log])
            got.append(admin.call("ACL", "GETUSER", "fresh").value[9])  # channels
            admin.call("ACL", "DELUSER", "pub", "fresh")
        seen.append(got)
    assert seen[1] == seen[0]
    assert b"NOPERM" in seen[0][1]


# --- output limit --------------------------------------------------------------------------------

def test_subscriber_that_does_not_read_is_closed(both):
    """Redis' default client-output-buffer-limit pubsub hard limit is 32 MB: a subscriber that
    never reads is disconnected instead of buffering without bound."""
    for s in both:
        sub = socket.create_connection(("127.0.0.1", s.port))
        sub.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sub.sendall(encode("SUBSCRIBE", "big"))
        with RespConn(s.port) as p:
            assert wait_until(lambda: p.call("PUBSUB", "NUMSUB", "big").value[1] == 1)
            payload = b"x" * (1 << 20)
            for _ in range(48):
                p.call("PUBLISH", "big", payload)
            assert wait_until(lambda: p.call("PUBSUB", "NUMSUB", "big").value[1] == 0, timeout=10), s.name
        sub.close()


# --- keyspace notifications ----------------------------------------------------------------------

def test_config_notify_keyspace_events(both):
    seen = []
    for s in both:
        with RespConn(s.port) as c:
            got = []
            for v in ["KEA", "gKE", "$lshzxeKE", "KEAmn", "ntdx$gKlE", "n", "Ex", "", "Q", "KEq"]:
                got.append(c.call("CONFIG", "SET", "notify-keyspace-events", v).raw)
                got.append(c.call("CONFIG", "GET", "notify-keyspace-events").raw)
        seen.append(got)
    assert seen[1] == seen[0]


FAMILY_SCRIPTS = {
    "strings": [("SET", "s", "1"), ("SET", "s", "2", "EX", "100"), ("SETEX", "s2", "10", "v"), ("APPEND", "s", "x"),
                ("SETRANGE", "s", "0", "ab"), ("INCR", "n"), ("INCRBY", "n", "5"), ("DECR", "n"),
                ("INCRBYFLOAT", "n", "1.5"), ("MSET", "m1", "a", "m2", "b"), ("SETNX", "m1", "z"), ("SETNX", "m3", "z"),
                ("GETSET", "m1", "c"), ("GETDEL", "m2"), ("GETEX", "m1", "EX", "50"), ("GETEX", "m1", "PERSIST"),
                ("SETBIT", "b", "3", "1"), ("BITOP", "OR", "b2", "b"), ("BITFIELD", "b", "SET", "u8", "0", "7")],
    "keys": [("SET", "k", "v"), ("EXPIRE", "k", "100"), ("PEXPIRE", "k", "100000"), ("PERSIST", "k"),
             ("RENAME", "k", "k2"), ("COPY", "k2", "k3"), ("MOVE", "k3", "5"), ("DEL", "k2", "nothere"),
             ("SET", "k4", "v"), ("EXPIRE", "k4", "-1"), ("UNLINK", "k5")],
    "hashes": [("HSET", "h", "f", "1", "g", "2"), ("HSETNX", "h", "x", "1"), ("HSETNX", "h", "x", "2"),
               ("HINCRBY", "h", "f", "2"), ("HINCRBYFLOAT", "h", "g", "0.5"), ("HMSET", "h", "z", "9"),
               ("HDEL", "h", "f", "nope"), ("HDEL", "h", "g", "x", "z")],
    "lists": [("LPUSH", "l", "a", "b"), ("RPUSH", "l", "c"), ("LPUSHX", "nol", "a"), ("RPUSHX", "l", "d"),
              ("LSET", "l", "0", "B"), ("LINSERT", "l", "BEFORE", "c", "x"), ("LREM", "l", "0", "x"),
              ("LPOP", "l"), ("RPOP", "l", "1"), ("LMOVE", "l", "l2", "LEFT", "RIGHT"), ("RPOPLPUSH", "l2", "l2"),
              ("RPUSH", "l", "p", "q", "r"), ("LTRIM", "l", "0", "1"), ("LMPOP", "1", "l", "LEFT", "COUNT", "5"),
              ("BLPOP", "l2", "0.1")],
    "sets": [("SADD", "s", "a", "b", "c"), ("SADD", "s", "a"), ("SREM", "s", "a", "zz"), ("SMOVE", "s", "t", "b"),
             ("SPOP", "s"), ("SADD", "u", "1", "2"), ("SINTERSTORE", "d", "u", "t"), ("SUNIONSTORE", "d", "u", "t"),
             ("SDIFFSTORE", "d", "u", "u"), ("SPOP", "u", "5")],
    "zsets": [("ZADD", "z", "1", "a", "2", "b", "3", "c"), ("ZADD", "z", "NX", "1", "a"), ("ZINCRBY", "z", "5", "a"),
              ("ZREM", "z", "b", "nope"), ("ZADD", "z2", "1", "x", "2", "y"), ("ZUNIONSTORE", "d", "2", "z", "z2"),
              ("ZINTERSTORE", "d", "2", "z", "z2"), ("ZDIFFSTORE", "d2", "1", "z"), ("ZRANGESTORE", "d3", "z", "0", "0"),
              ("ZREMRANGEBYRANK", "d2", "0", "0"), ("ZREMRANGEBYSCORE", "d2", "-inf", "+inf"),
              ("ZADD", "l", "0", "a", "0", "b"), ("ZREMRANGEBYLEX", "l", "[a", "[a"), ("ZPOPMIN", "z"),
              ("ZPOPMAX", "z", "5"), ("BZPOPMIN", "z2", "0.1"), ("ZMPOP", "1", "z2", "MAX", "COUNT", "5")],
}


def collect_events(server, script, flags, db=0):
    """Runs `script` with notify-keyspace-events `flags`; returns every event a psubscriber to
    __key*__:* received, in order."""
    with RespConn(server.port) as sub, RespConn(server.port) as c:
        c.call("CONFIG", "SET", "notify-keyspace-events", flags)
        sub.call("PSUBSCRIBE", "__key*__:*")
        if db:
            c.call("SELECT", str(db))
        for cmd in script:
            c.call(*cmd)
        # A marker: a command's events are handed to the subscriber's loop before its reply
        # leaves, so every event of the script arrives before the marker's.
        c.call("SELECT", "0")
        c.call("CONFIG", "SET", "notify-keyspace-events", "KA")
        c.call("SET", "zz-end", "1")
        events = []
        while True:
            m = sub.read_reply().value
            if m[2] == b"__keyspace@0__:zz-end":
                break
            events.append((m[2], m[3]))
        c.call("CONFIG", "SET", "notify-keyspace-events", "")
        return events


def per_key(events):
    """Events grouped by key, each key's in order (larder publishes each key's events from its
    shard, so order holds per key, not across shards)."""
    groups = {}
    for channel, message in events:
        if channel.startswith(b"__keyspace@"):
            key = channel.split(b"__:", 1)[1]
            groups.setdefault((b"space", key), []).append(message)
        else:
            groups.setdefault((b"event", message), []).append(channel.split(b"__:", 1)[1])
    return groups


@pytest.mark.parametrize("family", sorted(FAMILY_SCRIPTS))
def test_keyspace_events_per_family(both, family):
    redis_ref, larder = both
    want = collect_events(redis_ref, FAMILY_SCRIPTS[family], "KEA")
    got = collect_events(larder, FAMILY_SCRIPTS[family], "KEA")
    assert per_key(got) == per_key(want)
    assert len(got) == len(want)


def test_keyspace_events_masks_new_and_db(both):
    redis_ref, larder = both
    script = [("SET", "a", "1"), ("LPUSH", "l", "x"), ("HSET", "h", "f", "v"), ("SET", "a", "2"), ("DEL", "a")]
    for flags in ["Kl", "El", "Kh$", "En", "KEg", "KEn$"]:
        assert per_key(collect_events(larder, script, flags)) == per_key(collect_events(redis_ref, script, flags)), flags
    assert per_key(collect_events(larder, script, "KEA", db=3)) == per_key(collect_events(redis_ref, script, "KEA", db=3))


def test_expired_events(both):
    for s in both:
        with RespConn(s.port) as sub, RespConn(s.port) as c:
            c.call("CONFIG", "SET", "notify-keyspace-events", "Ex")
            sub.call("SUBSCRIBE", "__keyevent@0__:expired")
            c.call("SET", "lazy", "1", "PX", "20")
            c.call("SET", "active", "1", "PX", "20")
            time.sleep(0.1)
            c.call("GET", "lazy")  # expired on access, or already by the active sweep
            got = sorted(sub.read_reply().value[2] for _ in range(2))
            assert got == [b"active", b"lazy"], s.name
            c.call("CONFIG", "SET", "notify-keyspace-events", "")


def test_events_reach_subscribers_on_both_threads(larder2):
    """Keys on both shards, subscribers on both loops: each subscriber gets each key's event."""
    subs = [RespConn(larder2.port) for _ in range(6)]
    try:
        for c in subs:
            c.call("SUBSCRIBE", "__keyevent@0__:hset")
        with RespConn(larder2.port) as c:
            c.call("CONFIG", "SET", "notify-keyspace-events", "Eh")
            keys = [f"entity:{i}" for i in range(20)]
            c.pipeline([("HSET", k, "f", "1") for k in keys])
            c.call("CONFIG", "SET", "notify-keyspace-events", "")
        for c in subs:
            assert sorted(c.read_reply().value[2] for _ in keys) == sorted(k.encode() for k in keys)
    finally:
        for c in subs:
            c.close()


def test_client_reply_modes(both):
    """CLIENT REPLY OFF/SKIP drop replies but not pub/sub confirmations and messages (pushes)."""
    seen = []
    for s in both:
        with RespConn(s.port) as c, RespConn(s.port) as pub:
            c.send_raw(encode("CLIENT", "REPLY", "SKIP") + encode("SET", "a", "1") + encode("GET", "a"))
            got = [c.read_reply().raw]
            c.send_raw(encode("CLIENT", "REPLY", "OFF") + encode("SET", "b", "2") + encode("SUBSCRIBE", "r"))
            got.append(c.read_reply().raw)
            assert wait_until(lambda: numsub(s.port, "r") == 1)
            pub.call("PUBLISH", "r", "m")
            got.append(c.read_reply().raw)
            c.send_raw(encode("UNSUBSCRIBE") + encode("CLIENT", "REPLY", "ON") + encode("GET", "b"))
            got += [c.read_reply().raw, c.read_reply().raw, c.read_reply().raw]
            got.append(raw(c, "CLIENT", "REPLY", "MAYBE"))
            seen.append(got)
    assert seen[1] == seen[0]
