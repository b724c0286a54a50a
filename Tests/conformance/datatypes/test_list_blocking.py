"""Blocking list commands on a larder with two shard threads (the conformance default: one per
core, here forced to 2): clients blocked on keys owned by either shard are woken by pushes from
connections on either thread, in the order they blocked; timeouts, disconnects and CLIENT KILL
clean up; MULTI never blocks. Each test compares with redis-server where the outcome is
deterministic."""
import threading
import time

import pytest

from resp import RespConn
import servers

pytestmark = pytest.mark.skipif(servers.larder_is_standin(), reason="larder with --threads 2")

KEYS = [f"queue:{i}" for i in range(16)]  # spread over both shards


@pytest.fixture(scope="module")
def larder2():
    server = servers.start_larder(["--threads", "2", "--no-pin"])
    yield server
    server.stop()


@pytest.fixture
def lar(larder2):
    with RespConn(larder2.port) as c:
        c.call("FLUSHALL")
    return larder2


def blocked_count(port):
    with RespConn(port) as c:
        info = c.call("INFO", "clients").value.decode()
    return int(info.split("blocked_clients:")[1].split("\r\n")[0])


def wait_blocked(port, n, timeout=5.0):
    end = time.time() + timeout
    while time.time() < end:
        if blocked_count(port) == n:
            return
        time.sleep(0.01)
    raise AssertionError(f"expected {n} blocked clients, INFO says {blocked_count(port)}")


def test_each_key_on_each_shard_is_woken_by_a_push_from_other_connections(lar):
    # 16 waiters (connections spread over both threads), one per key; 16 pushers on new
    # connections (also spread): every pairing of waiter thread, key shard and pusher thread occurs.
    waiters = [RespConn(lar.port) for _ in KEYS]
    for w, k in zip(waiters, KEYS):
        w.send_raw(b"*3\r\n$5\r\nBLPOP\r\n$%d\r\n%s\r\n$1\r\n0\r\n" % (len(k), k.encode()))
    wait_blocked(lar.port, len(KEYS))
    for k in KEYS:
        with RespConn(lar.port) as p:
            assert p.call("RPUSH", k, f"job-{k}").value == 1
    for w, k in zip(waiters, KEYS):
        assert w.read_reply().value == [k.encode(), f"job-{k}".encode()]
        w.close()
    wait_blocked(lar.port, 0)
    with RespConn(lar.port) as c:
        assert c.call("DBSIZE").value == 0, "every pushed element was consumed by its waiter"


def test_clients_blocked_on_one_key_are_served_in_the_order_they_blocked(lar):
    waiters = []
    for _ in range(6):
        w = RespConn(lar.port)
        w.send_raw(b"*3\r\n$5\r\nBRPOP\r\n$4\r\nfifo\r\n$1\r\n0\r\n")
        wait_blocked(lar.port, len(waiters) + 1)
        waiters.append(w)
    with RespConn(lar.port) as p:
        # One push of 4 elements serves the first 4 waiters (BRPOP takes from the tail).
        assert p.call("LPUSH", "fifo", "a", "b", "c", "d").value == 4
        assert [w.read_reply().value[1] for w in waiters[:4]] == [b"a", b"b", b"c", b"d"]
        assert p.call("EXISTS", "fifo").value == 0
        p.call("RPUSH", "fifo", "e")
        assert waiters[4].read_reply().value == [b"fifo", b"e"]
    waiters[5].close()
    wait_blocked(lar.port, 0)
    for w in waiters[:5]:
        w.close()


def test_timeouts_reply_nil_and_multi_never_blocks(lar):
    with RespConn(lar.port) as c:
        start = time.time()
        assert c.call("BLPOP", "nothing", "other", "0.2").raw == b"*-1\r\n"
        assert c.call("BLMOVE", "nothing", "dst", "LEFT", "RIGHT", "0.1").raw == b"*-1\r\n"
        assert c.call("BLMPOP", "0.1", "2", "nothing", "other", "LEFT").raw == b"*-1\r\n"
        assert 0.35 < time.time() - start < 3
        c.call("HELLO", "3")
        assert c.call("BRPOP", "nothing", "0.05").raw == b"_\r\n"
        assert c.call("MULTI").value == b"OK"
        assert c.call("BLPOP", "nothing", "0").value == b"QUEUED"
        assert c.call("EXEC").raw == b"*1\r\n_\r\n"
        assert c.call("BLPOP", "x", "-1").raw == b"-ERR timeout is negative\r\n"
        assert c.call("BLPOP", "x", "abc").raw == b"-ERR timeout is not a float or out of range\r\n"


def test_disconnected_and_killed_waiters_take_nothing(lar):
    gone = RespConn(lar.port)
    gone.send_raw(b"*3\r\n$5\r\nBLPOP\r\n$4\r\nkeep\r\n$1\r\n0\r\n")
    killed = RespConn(lar.port)
    killed.call("CLIENT", "SETNAME", "victim")
    killed.send_raw(b"*3\r\n$5\r\nBLPOP\r\n$4\r\nkeep\r\n$1\r\n0\r\n")
    wait_blocked(lar.port, 2)
    gone.close()
    with RespConn(lar.port) as c:
        line = [l for l in c.call("CLIENT", "LIST").value.decode().splitlines() if "name=victim" in l][0]
        assert " flags=b " in line
        client_id = line.split("id=")[1].split(" ")[0]
        assert c.call("CLIENT", "KILL", "ID", client_id).value == 1
        wait_blocked(lar.port, 0)
        assert c.call("RPUSH", "keep", "v").value == 1
        assert c.call("LRANGE", "keep", "0", "-1").value == [b"v"]
    killed.close()


def test_blmove_between_keys_of_both_shards_moves_each_element_once(lar):
    # Sources and destinations on all shard combinations; several waiters per source, so a
    # waiter whose destination lives on the other shard (retried through its connection)
    # competes with others.
    # Destinations are not sources: a push into a watched source would (rightly) serve its
    # waiters with another source's element.
    pairs = [(KEYS[i], KEYS[8 + (i * 3) % 8]) for i in range(8)]
    waiters = []
    for src, dst in pairs:
        for _ in range(2):
            w = RespConn(lar.port)
            w.send_raw(b"*6\r\n$6\r\nBLMOVE\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n$4\r\nLEFT\r\n$5\r\nRIGHT\r\n$1\r\n0\r\n"
                       % (len(src), src.encode(), len(dst), dst.encode()))
            waiters.append((w, src, dst))
    wait_blocked(lar.port, len(waiters))
    with RespConn(lar.port) as p:
        for src, _ in pairs:
            p.call("RPUSH", src, f"{src}-1", f"{src}-2")
    got = []
    for w, src, dst in waiters:
        v = w.read_reply().value
        assert v.decode().startswith(src), (v, src)
        got.append(v)
        w.close()
    assert sorted(got) == sorted([f"{s}-{n}".encode() for s, _ in pairs for n in (1, 2)])
    with RespConn(lar.port) as c:
        total = sum(c.call("LLEN", k).value for k in KEYS)
        assert total == 16, "each element moved exactly once: 8 sources x 2"


def test_concurrent_producers_and_consumers_lose_and_duplicate_nothing(lar):
    """4 producer threads push 500 numbered items each over 8 keys; 8 consumers BLPOP all keys."""
    produced = 4 * 500
    consumed = []
    lock = threading.Lock()

    def consumer():
        with RespConn(lar.port, timeout=30) as c:
            while True:
                r = c.call("BLPOP", *KEYS[:8], "1").value
                if r is None:
                    return
                with lock:
                    consumed.append(r[1])

    def producer(n):
        with RespConn(lar.port) as c:
            for i in range(500):
                c.call("LPUSH", KEYS[(n + i) % 8], f"{n}:{i}")

    threads = [threading.Thread(target=consumer) for _ in range(8)] + \
              [threading.Thread(target=producer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(consumed) == produced
    assert len(set(consumed)) == produced


def test_client_unblock_ends_a_wait_with_nil_or_an_error(lar):
    waiter = RespConn(lar.port)
    my_id = waiter.call("CLIENT", "ID").value
    waiter.send_raw(b"*3\r\n$5\r\nBLPOP\r\n$4\r\nnone\r\n$1\r\n0\r\n")
    wait_blocked(lar.port, 1)
    with RespConn(lar.port) as c:
        assert c.call("CLIENT", "UNBLOCK", str(my_id), "MAYBE").raw == b"-ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR\r\n"
        assert c.call("CLIENT", "UNBLOCK", str(my_id)).value == 1
        assert waiter.read_reply().raw == b"*-1\r\n"
        waiter.send_raw(b"*3\r\n$5\r\nBRPOP\r\n$4\r\nnone\r\n$1\r\n0\r\n")
        wait_blocked(lar.port, 1)
        assert c.call("CLIENT", "UNBLOCK", str(my_id), "ERROR").value == 1
        assert waiter.read_reply().raw == b"-UNBLOCKED client unblocked via CLIENT UNBLOCK\r\n"
        assert c.call("CLIENT", "UNBLOCK", str(my_id)).value == 0, "not blocked any more"
        assert c.call("RPUSH", "none", "x").value == 1, "the unblocked waits took nothing"
    waiter.close()
