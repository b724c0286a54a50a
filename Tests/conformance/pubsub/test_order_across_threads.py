"""Pub/sub order across senders on a `--threads 3` larder (docs/ARCHITECTURE.md "Pub/sub"):
if one event happens before another, a subscriber receives the first one's message first, even
when the two come from two other threads, as on Redis' one thread (and NIO's one queue per loop).

The shape that broke it on the epoll engine, whose hop rings are FIFO per pair of threads only:
the subscriber's thread S is kept busy (a pipeline of slow LPOS scans on a list of its own
shard), and meanwhile one client on thread A sets a key of shard B (B != A, S) then, after its
reply, a key of its own shard A. Both notifications wait for S; if S took its rings in thread
order (A < B), it delivered the second before the first. Same for a PUBLISH inside EXEC (its
reply does not wait for the other loops) followed by a PUBLISH from another client.

Which loop a connection is on: the listener hands accepted connections to the loops in turn and
CLIENT ID counts them, so loop = (id - 1) mod threads (as bench/hop_cost.sh); keys go to shards
by Larder's byte hash (LarderStore/ByteHash.swift, copied below)."""
import time

import pytest

from resp import RespConn, encode
import servers

pytestmark = pytest.mark.skipif(servers.larder_is_standin(), reason="larder with --threads 3")

THREADS = 3
M = (1 << 64) - 1


def _mix(a, b):
    r = a * b
    return ((r >> 64) ^ r) & M


def _load64(b, i):
    return int.from_bytes(b[i:i + 8], "little")


def byte_hash(b: bytes) -> int:  # LarderStore/ByteHash.swift
    n = len(b)
    s0, s1 = 0xa0761d6478bd642f, 0xe7037ed1a0b428db
    if n == 0:
        return _mix(s0, s1)
    h = s0 ^ n
    i = 0
    while i + 16 <= n:
        h = _mix(_load64(b, i) ^ s1, _load64(b, i + 8) ^ h)
        i += 16
    a = bb = 0
    rest = n - i
    if rest >= 8:
        a, bb = _load64(b, i), _load64(b, n - 8)
    elif rest > 0:
        a = int.from_bytes(b[i:n], "little")
    return _mix(s1 ^ n, _mix(a ^ s1, bb ^ h))


def keys_on(shard, prefix, count):
    out, i = [], 0
    while len(out) < count:
        k = f"{prefix}:{i}"
        if (byte_hash(k.encode()) >> 32) % THREADS == shard:
            out.append(k)
        i += 1
    return out


@pytest.fixture(scope="module")
def larder3():
    server = servers.start_larder(["--threads", str(THREADS), "--no-pin"])
    yield server
    server.stop()


def connections_by_loop(port, per_loop):
    """Opens connections until each loop has `per_loop` of them: {loop: [conn, ...]}."""
    by_loop = {t: [] for t in range(THREADS)}
    extra = []
    while any(len(v) < per_loop for v in by_loop.values()):
        c = RespConn(port)
        loop = (c.call("CLIENT", "ID").value - 1) % THREADS
        (by_loop[loop] if len(by_loop[loop]) < per_loop else extra).append(c)
    for c in extra:
        c.close()
    return by_loop


def busy(conn, key, seconds):
    """Keeps conn's loop busy for about `seconds` with one pipelined read of LPOS scans (no
    matches) of `key`, a long list of that loop's shard; returns a function that waits for them."""
    t0 = time.monotonic()
    conn.call("LPOS", key, "absent")
    one = max(time.monotonic() - t0, 1e-4)
    n = max(4, min(400, int(seconds / one)))
    conn.send_raw(b"".join(encode("LPOS", key, "absent") for _ in range(n)))

    def wait():
        for _ in range(n):
            assert conn.read_reply().value is None
    return wait


@pytest.fixture(scope="module")
def setup3(larder3):
    conns = connections_by_loop(larder3.port, 2)
    lists = {}
    with RespConn(larder3.port) as c:
        for s in range(THREADS):
            key = keys_on(s, "busylist", 1)[0]
            for j in range(0, 200_000, 5000):
                c.call("RPUSH", key, *[str(j + x) for x in range(5000)])
            lists[s] = key
    yield conns, lists
    for v in conns.values():
        for c in v:
            c.close()


def rounds():
    # Every choice of the subscriber's loop; the writer on the lower of the other two loops, so
    # that taking the rings in thread order would deliver its local event before the remote one.
    for s in range(THREADS):
        a, b = sorted(t for t in range(THREADS) if t != s)
        yield s, a, b


def test_keyspace_events_of_causally_ordered_writes_on_two_other_threads(larder3, setup3):
    conns, lists = setup3
    with RespConn(larder3.port) as admin:
        admin.call("CONFIG", "SET", "notify-keyspace-events", "E$")
    try:
        for s, a, b in rounds():
            sub, burner = conns[s]
            writer = conns[a][0]
            sub.call("SUBSCRIBE", "__keyevent@0__:set")
            remote, local = keys_on(b, f"r{s}", 5), keys_on(a, f"l{s}", 5)
            done = busy(burner, lists[s], 0.3)
            time.sleep(0.03)  # the burner's read is running on loop s
            expected = []
            for r, l in zip(remote, local):
                writer.call("SET", r, "1")  # on loop b; its reply comes back before the next SET
                writer.call("SET", l, "1")  # on loop a, the writer's own
                expected += [r, l]
            done()
            got = [sub.read_reply().value[2].decode() for _ in expected]
            sub.call("UNSUBSCRIBE")
            assert got == expected, f"subscriber on loop {s}, writes on loops {b} then {a}"
    finally:
        with RespConn(larder3.port) as admin:
            admin.call("CONFIG", "SET", "notify-keyspace-events", "")


def test_publish_after_an_exec_publish_from_another_thread_arrives_second(larder3, setup3):
    conns, lists = setup3
    for s, a, b in rounds():
        sub, burner = conns[s]
        first, second = conns[b][0], conns[a][0]
        sub.call("SUBSCRIBE", "ordered")
        done = busy(burner, lists[s], 0.3)
        time.sleep(0.03)
        expected = []
        for i in range(5):
            # EXEC's reply does not wait for the other loops (its count comes from the directory),
            # so the second PUBLISH is sent while the first message still waits for loop s.
            first.call("MULTI")
            first.call("PUBLISH", "ordered", f"exec-{i}")
            assert first.call("EXEC").value == [1]
            second.send_raw(encode("PUBLISH", "ordered", f"plain-{i}"))
            expected += [f"exec-{i}", f"plain-{i}"]
        done()
        got = [sub.read_reply().value[2].decode() for _ in expected]
        for _ in range(5):
            assert second.read_reply().value == 1
        sub.call("UNSUBSCRIBE")
        # Happens-before: exec-i -> plain-i (sent after EXEC's reply), and each publisher's own
        # messages in order. plain-i and exec-(i+1) are concurrent (plain-i's reply is not awaited).
        assert sorted(got) == sorted(expected)
        where = {m: got.index(m) for m in got}
        late = [i for i in range(5) if where[f"exec-{i}"] > where[f"plain-{i}"]]
        assert not late, f"subscriber on loop {s}, publishers on loops {b} then {a}: {got}"
        assert [m for m in got if m.startswith("exec")] == [f"exec-{i}" for i in range(5)]
        assert [m for m in got if m.startswith("plain")] == [f"plain-{i}" for i in range(5)]
