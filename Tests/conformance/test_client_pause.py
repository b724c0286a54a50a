"""Issue 16's last CLIENT pieces, against redis-server 7.0: CLIENT PAUSE / UNPAUSE (WRITE and
ALL, EXEC judged by its queue, a pause inside MULTI starting after EXEC, expiry held while
paused), CLIENT LIST's obl / oll / omem / events for a client behind on its replies, and
OBJECT ENCODING of strings changed by APPEND, SETRANGE and INCRBYFLOAT."""
import socket
import time

import pytest

from resp import RespConn, encode
from session import assert_same_session

ENCODINGS = [
    ("a", ["SET", "n", "12"]), ("a", ["OBJECT", "ENCODING", "n"]),
    ("a", ["APPEND", "n", "3"]), ("a", ["OBJECT", "ENCODING", "n"]),      # int -> raw
    ("a", ["SET", "s", "abc"]), ("a", ["APPEND", "s", ""]), ("a", ["OBJECT", "ENCODING", "s"]),
    ("a", ["EXPIRE", "s", "100"]), ("a", ["OBJECT", "ENCODING", "s"]),    # raw survives a TTL
    ("a", ["SET", "s", "abc"]), ("a", ["OBJECT", "ENCODING", "s"]),       # a new value: judged again
    ("a", ["SET", "b", "x"]), ("a", ["SETRANGE", "b", "0", "y"]), ("a", ["OBJECT", "ENCODING", "b"]),
    ("a", ["SETRANGE", "b", "0", ""]), ("a", ["OBJECT", "ENCODING", "b"]),
    ("a", ["SETRANGE", "new", "2", "zz"]), ("a", ["OBJECT", "ENCODING", "new"]),
    ("a", ["SET", "i", "7"]), ("a", ["SETRANGE", "i", "0", "8"]), ("a", ["OBJECT", "ENCODING", "i"]),
    ("a", ["INCRBYFLOAT", "f", "3"]), ("a", ["GET", "f"]), ("a", ["OBJECT", "ENCODING", "f"]),
    ("a", ["INCRBYFLOAT", "f", "0.5"]), ("a", ["OBJECT", "ENCODING", "f"]),
    ("a", ["INCR", "c"]), ("a", ["OBJECT", "ENCODING", "c"]),
    ("a", ["RENAME", "n", "n2"]), ("a", ["OBJECT", "ENCODING", "n2"]),   # the object moves as it is
    ("a", ["COPY", "n2", "n3"]), ("a", ["OBJECT", "ENCODING", "n3"]),
    ("a", ["MOVE", "n3", "5"]), ("a", ["SELECT", "5"]), ("a", ["OBJECT", "ENCODING", "n3"]),
    ("a", ["FLUSHDB"]), ("a", ["SELECT", "0"]),
    ("a", ["COPY", "f", "f2"]), ("a", ["OBJECT", "ENCODING", "f2"]),
    ("a", ["SET", "long", "x" * 44]), ("a", ["OBJECT", "ENCODING", "long"]),
    ("a", ["APPEND", "long", "x"]), ("a", ["OBJECT", "ENCODING", "long"]),
]

PAUSE_ERRORS = [
    ("a", ["CLIENT", "PAUSE", "abc"]),
    ("a", ["CLIENT", "PAUSE", "-1"]),
    ("a", ["CLIENT", "PAUSE", "10", "READ"]),
    ("a", ["CLIENT", "PAUSE", "abc", "READ"]),          # the mode is checked first
    ("a", ["CLIENT", "PAUSE", "10", "WRITE", "x"]),
    ("a", ["CLIENT", "PAUSE"]),
    ("a", ["CLIENT", "UNPAUSE", "x"]),
    ("a", ["CLIENT", "PAUSE", "0"]),                    # pauses nothing
    ("a", ["SET", "k", "v"]),
    ("a", ["CLIENT", "UNPAUSE"]),
]


@pytest.mark.parametrize("protocol", [2, 3])
def test_object_encoding_follows_the_command_that_made_the_string(pair, protocol):
    assert_same_session(*pair, ENCODINGS, protocol)


def test_client_pause_errors_and_help(pair):
    assert_same_session(*pair, PAUSE_ERRORS)
    # CLIENT HELP differs where the subcommands do (no TRACKING; 7.2's SETINFO, NO-TOUCH), but
    # PAUSE and UNPAUSE read as Redis' do, in its order.
    helps = []
    for server in pair:
        with RespConn(server.port) as c:
            lines = [line.decode() for line in c.call("CLIENT", "HELP").value]
        i = lines.index("UNPAUSE")
        helps.append(lines[i:i + 4])
        heads = [line for line in lines if not line.startswith(" ")]
        assert len(heads) == len(set(heads)), f"{server.name}: a subcommand twice in CLIENT HELP"  # REPLY was
    assert helps[0] == helps[1] == ["UNPAUSE", "    Stop the current client pause, resuming traffic.",
                                    "PAUSE <timeout> [WRITE|ALL]",
                                    "    Suspend all, or just write, clients for <timeout> milliseconds."]


def recv_within(sock, seconds):
    sock.settimeout(seconds)
    try:
        return sock.recv(1 << 16)
    except socket.timeout:
        return b"(waits)"


def blocked_clients(c):
    info = c.call("INFO", "clients").value.decode()
    return int(info.split("blocked_clients:")[1].split("\r\n")[0])


def wait_blocked(c, count):
    deadline = time.time() + 5
    while blocked_clients(c) != count and time.time() < deadline:
        time.sleep(0.02)
    return blocked_clients(c)


def pause_story(server):
    """What a WRITE pause, an ALL pause and a pause inside MULTI look like to other clients."""
    seen = []
    with RespConn(server.port) as admin:
        try:
            admin.call("SET", "k", "v")
            assert admin.call("CLIENT", "PAUSE", "100000", "WRITE").value == b"OK"
            w = socket.create_connection(("127.0.0.1", server.port))
            w.sendall(b"GET k\r\nSET k v2\r\nGET k\r\n")        # the read runs, the rest waits
            seen.append(("write pause", recv_within(w, 0.5)))
            seen.append(("blocked", wait_blocked(admin, 1)))
            p = socket.create_connection(("127.0.0.1", server.port))
            p.sendall(encode("PUBLISH", "ch", "m"))                # may replicate: held too
            seen.append(("publish", recv_within(p, 0.3)))
            seen.append(("blocked", wait_blocked(admin, 2)))
            m = socket.create_connection(("127.0.0.1", server.port))
            m.sendall(b"MULTI\r\nGET k\r\nEXEC\r\n")                # a read-only EXEC runs
            time.sleep(0.2)
            seen.append(("read exec", recv_within(m, 0.5)))
            m.sendall(b"MULTI\r\nSET k 3\r\nEXEC\r\n")              # a writing EXEC waits
            time.sleep(0.2)
            seen.append(("write exec", recv_within(m, 0.3)))
            seen.append(("arity error at once", admin.call("SET", "k").raw))
            seen.append(("unpause", admin.call("CLIENT", "UNPAUSE").raw))
            time.sleep(0.2)
            seen += [("after", recv_within(w, 1)), ("publish after", recv_within(p, 1)),
                     ("exec after", recv_within(m, 1)), ("k", admin.call("GET", "k").raw)]
            for s in (w, p, m):
                s.close()

            # Expired keys stay while paused, and go when it ends.
            admin.call("SET", "x", "1", "PX", "50")
            admin.call("CLIENT", "PAUSE", "700", "WRITE")
            time.sleep(0.2)
            seen.append(("expired read while paused", admin.call("GET", "x").raw, admin.call("DBSIZE").raw))
            time.sleep(0.7)
            admin.call("GET", "x")
            seen.append(("after the pause", admin.call("DBSIZE").raw))

            # ALL holds every command of every client until the deadline.
            admin.call("CLIENT", "PAUSE", "400", "ALL")
            t0 = time.monotonic()
            with RespConn(server.port) as other:
                other.call("PING")
            seen.append(("all pause held PING", time.monotonic() - t0 > 0.25))

            # A pause queued in MULTI starts once EXEC is done.
            admin.send_raw(b"".join(encode(*c) for c in (["MULTI"], ["SET", "m1", "1"],
                                                         ["CLIENT", "PAUSE", "60000", "WRITE"],
                                                         ["SET", "m2", "2"], ["EXEC"])))
            seen.append(("multi", [admin.read_reply().raw for _ in range(5)]))
            seen.append(("mget", admin.call("MGET", "m1", "m2").raw))
        finally:
            admin.call("CLIENT", "UNPAUSE")
    return seen


def test_client_pause_holds_what_redis_holds(pair):
    ref, lar = pair
    expected = pause_story(ref)
    assert ("blocked", 1) in expected and ("all pause held PING", True) in expected
    assert pause_story(lar) == expected


def client_line(admin, name):
    text = admin.call("CLIENT", "LIST").value.decode()
    line = next(l for l in text.splitlines() if f" name={name} " in l)
    return dict(f.split("=", 1) for f in line.split(" "))


def output_buffer_story(server):
    seen = []
    s = socket.create_connection(("127.0.0.1", server.port))
    s.sendall(b"PING\r\nCLIENT INFO\r\n")                 # +PONG waits in the reply buffer
    time.sleep(0.2)
    line = s.recv(4096).decode()
    seen.append(("pipelined obl", [f for f in line.split() if f.startswith(("obl=", "oll=", "omem="))]))
    s.close()
    with RespConn(server.port) as admin:
        admin.call("SET", "big", "x" * 1_000_000)
        slow = socket.socket()
        slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        slow.connect(("127.0.0.1", server.port))
        slow.sendall(b"CLIENT SETNAME slow\r\n" + b"GET big\r\n" * 20)   # 20 MB it does not read
        time.sleep(0.5)
        c = client_line(admin, "slow")
        seen.append(("behind", int(c["omem"]) > 10_000_000, int(c["oll"]) > 0, c["events"],
                     int(c["tot-mem"]) >= int(c["omem"])))
        slow.settimeout(1)
        while True:
            try:
                if not slow.recv(1 << 20):
                    break
            except socket.timeout:
                break
        time.sleep(0.2)
        c = client_line(admin, "slow")
        seen.append(("caught up", c["obl"], c["oll"], c["omem"], c["events"]))
        slow.close()
    return seen


def test_client_list_output_buffer_fields(pair):
    ref, lar = pair
    expected = output_buffer_story(ref)
    assert expected == [("pipelined obl", ["obl=7", "oll=0", "omem=0"]), ("behind", True, True, "rw", True),
                        ("caught up", "0", "0", "0", "r")]
    assert output_buffer_story(lar) == expected
