"""Issue 16's generic commands, compared byte for byte with redis-server: SORT / SORT_RO (BY,
GET, LIMIT, ALPHA, STORE, over lists and sets, BY/GET keys on other shards), CLIENT REPLY,
COMMAND INFO's movablekeys, and the blocked clients that SORT..STORE, MOVE and SWAPDB wake."""
import time

import pytest

from resp import RespConn, encode
from session import assert_same_session

PROTOCOLS = [2, 3]

# Keys spread over both of larder's shards (`serve` runs one per core): the BY/GET lookups
# then cross shards.
SORT_DATA = [
    ("a", ["RPUSH", "l", "3", "1", "2", "10", "-1", "2.5"]),
    ("a", ["MSET", "w_3", "30", "w_1", "10", "w_2", "5", "w_10", "1", "w_-1", "100", "w_2.5", "7"]),
    ("a", ["HSET", "o_1", "name", "one", "weight", "3"]),
    ("a", ["HSET", "o_2", "name", "two", "weight", "1"]),
    ("a", ["HSET", "o_3", "name", "three", "weight", "2"]),
    ("a", ["HSET", "o_10", "name", "ten"]),
    ("a", ["SET", "o_1->", "arrow-key"]),
    ("a", ["RPUSH", "words", "banana", "apple", "Cherry", "apple"]),
    ("a", ["RPUSH", "nums", " 5", "0x10", "1e2", "-inf", "", "7"]),
    ("a", ["SADD", "iset", "5", "3", "9", "1", "-20"]),
    ("a", ["SADD", "hset", "b", "a", "c", "10", "9"]),
    ("a", ["SET", "str", "x"]),
]

SORT_SESSION = SORT_DATA + [
    ("a", ["SORT", "l"]),
    ("a", ["SORT", "l", "DESC"]),
    ("a", ["SORT", "l", "ASC", "LIMIT", "1", "2"]),
    ("a", ["SORT", "l", "LIMIT", "-1", "2"]),
    ("a", ["SORT", "l", "LIMIT", "10", "5"]),
    ("a", ["SORT", "l", "LIMIT", "0", "-1"]),
    ("a", ["SORT", "l", "LIMIT", "2", "0"]),
    ("a", ["SORT", "l", "ALPHA"]),
    ("a", ["sort", "l", "alpha", "desc"]),
    ("a", ["SORT", "words"]),                                     # not numbers
    ("a", ["SORT", "words", "ALPHA"]),
    ("a", ["SORT", "words", "ALPHA", "DESC", "LIMIT", "1", "2"]),
    ("a", ["SORT", "nums"]),                                      # strtod: spaces, hex, exponents, -inf, ""
    ("a", ["SORT", "l", "BY", "w_*"]),
    ("a", ["SORT", "l", "BY", "w_*", "DESC"]),
    ("a", ["SORT", "l", "BY", "w_*", "ALPHA"]),
    ("a", ["SORT", "l", "BY", "missing_*"]),                      # every weight 0: by the element
    ("a", ["SORT", "l", "BY", "nosort"]),
    ("a", ["SORT", "l", "BY", "nosort", "DESC"]),
    ("a", ["SORT", "l", "BY", "nosort", "LIMIT", "1", "3"]),
    ("a", ["SORT", "l", "BY", "nosort", "DESC", "LIMIT", "1", "3"]),
    ("a", ["SORT", "l", "BY", "o_*->weight", "GET", "o_*->name", "GET", "#", "GET", "w_*"]),
    ("a", ["SORT", "l", "GET", "o_*->", "GET", "nostar", "GET", "o_*->nofield"]),
    ("a", ["SORT", "l", "BY", "w_*", "GET", "#", "LIMIT", "0", "3"]),
    ("a", ["SORT", "words", "BY", "w_*"]),                        # missing weights: 0, then by element
    ("a", ["SORT", "iset"]),
    ("a", ["SORT", "iset", "DESC", "LIMIT", "1", "2"]),
    ("a", ["SORT", "hset", "ALPHA"]),
    ("a", ["SORT", "hset"]),
    ("a", ["SORT", "iset", "BY", "nosort", "STORE", "dst"]),      # a set stored: sorted (ALPHA) anyway
    ("a", ["LRANGE", "dst", "0", "-1"]),
    ("a", ["EXPIRE", "dst", "100"]),
    ("a", ["SORT", "l", "BY", "w_*", "GET", "o_*->name", "GET", "#", "STORE", "dst"]),
    ("a", ["LRANGE", "dst", "0", "-1"]),
    ("a", ["TTL", "dst"]),                                        # STORE replaces the key and its TTL
    ("a", ["SORT", "nokey", "STORE", "dst"]),                     # empty result: the key is deleted
    ("a", ["EXISTS", "dst"]),
    ("a", ["SORT", "nokey"]),
    ("a", ["SORT_RO", "l", "BY", "w_*", "GET", "#", "GET", "o_*->name"]),
    ("a", ["SORT_RO", "words", "ALPHA", "LIMIT", "0", "2"]),
    # Errors, in Redis' order.
    ("a", ["SORT", "str"]),
    ("a", ["SORT", "l", "BADOPT"]),
    ("a", ["SORT", "l", "LIMIT", "1"]),
    ("a", ["SORT", "l", "LIMIT", "a", "1"]),
    ("a", ["SORT", "l", "LIMIT", "1", "1.5"]),
    ("a", ["SORT", "l", "GET"]),
    ("a", ["SORT", "l", "STORE"]),
    ("a", ["SORT_RO", "l", "STORE", "x"]),
    ("a", ["SORT", "str", "BADOPT"]),
    ("a", ["SORT"]),
    # In a transaction, BY/GET keys on every shard.
    ("a", ["MULTI"]),
    ("a", ["SORT", "l", "BY", "w_*", "GET", "o_*->name"]),
    ("a", ["SORT", "l", "BY", "o_*->weight", "STORE", "dst2"]),
    ("a", ["LRANGE", "dst2", "0", "-1"]),
    ("a", ["EXEC"]),
]

SET_NOSORT = SORT_DATA + [
    ("a", ["SORT", "hset", "BY", "nosort", "ALPHA"], "unordered"),  # a set's own order
    ("a", ["SORT", "iset", "BY", "nosort"], "unordered"),
]

COMMAND_INFO = [
    ("a", ["COMMAND", "INFO", "sort", "sort_ro", "lmpop", "sintercard", "get", "set", "lmove", "get|key", "config|get|key"]),
    ("a", ["COMMAND", "GETKEYS", "SORT", "k", "BY", "w_*", "GET", "store", "STORE", "dst", "LIMIT", "0", "1"]),
    ("a", ["COMMAND", "GETKEYS", "SORT", "k", "STORE", "a", "STORE", "b"]),
    ("a", ["COMMAND", "GETKEYSANDFLAGS", "sort", "k1", "store", "k2"]),
    ("a", ["COMMAND", "GETKEYS", "SORT_RO", "k", "BY", "x"]),
    ("a", ["COMMAND", "LIST", "FILTERBY", "PATTERN", "sort*"], "unordered"),  # Redis: its command dict's order
    ("a", ["COMMAND", "LIST", "bad_arg"]),
    ("a", ["COMMAND", "LIST", "FILTERBY", "bad_arg"]),
    ("a", ["COMMAND", "LIST", "FILTERBY", "bad_arg", "bad_arg2"]),
    ("a", ["COMMAND", "LIST", "FILTERBY", "MODULE", "nosuchmodule"]),
    ("a", ["COMMAND", "LIST", "FILTERBY", "ACLCAT", "nosuchcategory"]),
]

CLIENT_REPLY = [
    ("a", ["CLIENT", "REPLY", "bad"]),
    ("a", ["CLIENT", "REPLY"]),
]


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_sort(pair, protocol):
    assert_same_session(*pair, SORT_SESSION, protocol)


def test_sort_set_natural_order(pair):
    assert_same_session(*pair, SET_NOSORT)


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_command_info_movablekeys_and_sort_keys(pair, protocol):
    assert_same_session(*pair, COMMAND_INFO, protocol)


def test_client_reply_errors(pair):
    assert_same_session(*pair, CLIENT_REPLY)


def replies_under_client_reply(server):
    """Pipelines CLIENT REPLY OFF/SKIP/ON around other commands (one SORT crossing shards, one
    error) and returns every byte the server sent back."""
    commands = [
        ["CLIENT", "REPLY", "OFF"], ["PING", "off1"], ["SET", "k", "v"], ["NOSUCHCOMMAND"],
        ["SORT", "l", "BY", "w_*"], ["CLIENT", "REPLY", "SKIP"],      # SKIP does nothing while OFF
        ["CLIENT", "REPLY", "ON"], ["PING", "on1"],
        ["CLIENT", "REPLY", "SKIP"], ["GET", "k"], ["PING", "on2"],
        ["CLIENT", "REPLY", "SKIP"], ["CLIENT", "REPLY", "SKIP"], ["PING", "skipped"], ["PING", "on3"],
        ["CLIENT", "REPLY", "SKIP"], ["CLIENT", "REPLY", "ON"], ["PING", "on4"],
    ]
    with RespConn(server.port) as c:
        c.call("RPUSH", "l", "2", "1")
        c.call("MSET", "w_1", "5", "w_2", "3")
        c.send_raw(b"".join(encode(*cmd) for cmd in commands))
        got = [c.read_reply().raw for _ in range(6)]
        c.sock.settimeout(0.3)
        try:
            extra = c.sock.recv(1 << 16)
        except OSError:
            extra = b""
    return got, extra


def test_client_reply_off_skip_on(pair):
    ref, lar = pair
    expected = replies_under_client_reply(ref)
    assert expected[0] == [b"+OK\r\n", b"$3\r\non1\r\n", b"$3\r\non2\r\n", b"$3\r\non3\r\n", b"+OK\r\n",
                           b"$3\r\non4\r\n"]
    assert replies_under_client_reply(lar) == expected


def wait_blocked(server, count, timeout=5.0):
    with RespConn(server.port) as c:
        deadline = time.time() + timeout
        while time.time() < deadline:
            info = c.call("INFO", "clients").value
            if f"blocked_clients:{count}\r\n".encode() in info:
                return
            time.sleep(0.02)
    raise AssertionError(f"{server.name}: never {count} blocked clients")


def woken_by(server, block, wake, setup=(), db=0):
    """A client in database `db` runs the blocking command `block`; once it is blocked, another
    runs `wake` (in database 0). Returns the blocked client's reply and wake's replies."""
    with RespConn(server.port) as w, RespConn(server.port) as b:
        for cmd in setup:
            w.call(*cmd)
        if db:
            b.call("SELECT", str(db))
        b.send_raw(encode(*block))
        wait_blocked(server, 1)
        replies = [w.call(*cmd).raw for cmd in wake]
        return b.read_reply().raw, replies


WAKES = {
    "sort_store": (["BLPOP", "dst", "5"], [["SORT", "l", "BY", "w_*", "STORE", "dst"]],
                   [["RPUSH", "l", "1", "2", "3"], ["MSET", "w_1", "3", "w_2", "2", "w_3", "1"]], 0),
    "sort_store_blmpop": (["BLMPOP", "5", "1", "dst", "LEFT", "COUNT", "2"], [["SORT", "l", "DESC", "STORE", "dst"]],
                          [["RPUSH", "l", "1", "2", "3"]], 0),
    "move": (["BRPOP", "k", "5"], [["MOVE", "k", "9"]], [["RPUSH", "k", "a", "b"]], 9),
    "swapdb": (["BRPOP", "k", "5"], [["SELECT", "1"], ["RPUSH", "k", "hello"], ["SWAPDB", "1", "9"]], [], 9),
    "rename": (["BLMPOP", "5", "1", "foo", "LEFT"], [["LPUSH", "bob", "abc", "def", "hij"], ["RENAME", "bob", "foo"]], [], 0),
}


@pytest.mark.parametrize("case", sorted(WAKES))
def test_blocked_client_woken(pair, case):
    ref, lar = pair
    block, wake, setup, db = WAKES[case]
    expected = woken_by(ref, block, wake, setup, db)
    assert not expected[0].startswith(b"*-1"), f"redis-server did not wake the client: {expected}"
    assert woken_by(lar, block, wake, setup, db) == expected


def test_sort_store_marks_watch_even_when_empty(pair):
    """Redis' multi unit: SORT..STORE of an empty result deletes the key, which a WATCH sees."""
    steps = [
        ("a", ["LPUSH", "foo", "bar"]),
        ("a", ["WATCH", "foo"]),
        ("b", ["SORT", "emptylist", "STORE", "foo"]),
        ("a", ["MULTI"]),
        ("a", ["PING"]),
        ("a", ["EXEC"]),
    ]
    assert_same_session(*pair, steps)


# --- DUMP / RESTORE: payloads cross between redis-server and larder both ways.

DUMP_VALUES = {
    "str_int": [["SET", "k", "1234"]],
    "str_negative_int": [["SET", "k", "-99999999999"]],
    "str_short": [["SET", "k", "hello"]],
    "str_binary": [["SET", "k", "a\x00b\r\n\xff"]],
    "str_long_compressible": [["SET", "k", "ab" * 500]],
    "str_long_random": [["SET", "k", "".join(chr(33 + (i * 7919) % 90) for i in range(3000))]],
    "str_empty": [["SET", "k", ""]],
    "hash_small": [["HSET", "k", "f1", "v1", "f2", "2", "f3", ""]],
    "hash_big_value": [["HSET", "k", "f", "x" * 100, "g", "1"]],
    "hash_many": [["HSET", "k"] + [x for i in range(300) for x in (f"f{i}", f"v{i}")]],
    "list_small": [["RPUSH", "k", "a", "1", "b", "-5", ""]],
    "list_big": [["RPUSH", "k"] + [f"element-{i}" * 3 for i in range(2000)]],
    "set_intset": [["SADD", "k", "1", "-7", "100000", "5000000000"]],
    "set_strings": [["SADD", "k", "a", "b", "c", "1"]],
    "set_many": [["SADD", "k"] + [f"m{i}" for i in range(600)]],
}


def contents(conn, key="k"):
    t = conn.call("TYPE", key).value
    if t == b"string":
        return t, conn.call("GET", key).value
    if t == b"hash":
        v = conn.call("HGETALL", key).value
        return t, sorted(zip(v[0::2], v[1::2]))
    if t == b"list":
        return t, conn.call("LRANGE", key, "0", "-1").value
    if t == b"set":
        return t, sorted(conn.call("SMEMBERS", key).value)
    return t, None


@pytest.mark.parametrize("case", sorted(DUMP_VALUES))
def test_dump_restore_both_ways(pair, case):
    for source, target in (pair, pair[::-1]):
        with RespConn(source.port) as s, RespConn(target.port) as t:
            for cmd in DUMP_VALUES[case]:
                s.call(*cmd)
            s.call("PEXPIRE", "k", "100000")
            expected = contents(s)
            payload = s.call("DUMP", "k").value
            assert isinstance(payload, bytes), f"{source.name} DUMP: {payload!r}"
            assert t.call("RESTORE", "r", "0", payload).raw == b"+OK\r\n", f"{source.name} -> {target.name}"
            assert contents(t, "r") == expected, f"{source.name} -> {target.name}"
            assert t.call("PTTL", "r").value == -1
            assert t.call("RESTORE", "r", "5000", payload, "REPLACE").raw == b"+OK\r\n"
            assert 0 < t.call("PTTL", "r").value <= 5000
            # The restored value dumps again to a payload the source restores to the same value.
            again = t.call("DUMP", "r").value
            assert s.call("RESTORE", "back", "0", again, "REPLACE").raw == b"+OK\r\n"
            assert contents(s, "back") == expected
            for c in (s, t):
                c.call("FLUSHALL")


def test_dump_of_strings_is_byte_identical(pair):
    """Short and integer strings dump to the same bytes; a long compressible one differs (Redis
    LZF-compresses it, Larder's snapshot writer does not) and is covered by the round trips."""
    for value in ["1234", "-1", "hello", "", "x" * 19, "12345678901234567890", "a1b2c3d4e5f6g7h8i9j0k"]:
        payloads = []
        for server in pair:
            with RespConn(server.port) as c:
                c.call("SET", "k", value)
                payloads.append(c.call("DUMP", "k").raw)
        assert payloads[0] == payloads[1], f"DUMP of {value[:30]!r}"


def restore_errors_session(payload):
    bad_crc = payload[:-1] + bytes([payload[-1] ^ 1])
    newer = payload[:-10] + bytes([99, 0]) + payload[-8:]
    return [
        ("a", ["SET", "k", "hello"]),
        ("a", ["DUMP", "k"]),
        ("a", ["DUMP", "nokey"]),
        ("a", ["RESTORE", "k", "0", payload]),                        # BUSYKEY
        ("a", ["RESTORE", "n", "-1", payload]),
        ("a", ["RESTORE", "n", "x", payload]),
        ("a", ["RESTORE", "n", "0", bad_crc]),
        ("a", ["RESTORE", "n", "0", newer]),
        ("a", ["RESTORE", "n", "0", "short"]),
        ("a", ["RESTORE", "n", "0", payload, "BADOPT"]),
        ("a", ["RESTORE", "n", "0", payload, "IDLETIME", "-1"]),
        ("a", ["RESTORE", "n", "0", payload, "IDLETIME", "x"]),
        ("a", ["RESTORE", "n", "0", payload, "FREQ", "256"]),
        ("a", ["RESTORE", "n", "0", payload, "IDLETIME", "10", "FREQ", "5"]),   # one or the other
        ("a", ["RESTORE", "n", "0", payload, "IDLETIME"]),
        ("a", ["RESTORE", "n", "0", payload, "IDLETIME", "100"]),
        ("a", ["GET", "n"]),
        ("a", ["RESTORE", "n", "0", payload, "REPLACE", "FREQ", "3"]),
        ("a", ["RESTORE", "n", "1000", payload, "REPLACE", "ABSTTL"]),   # long past: deleted, OK
        ("a", ["EXISTS", "n"]),
        ("a", ["RESTORE", "n", "99999999999999", payload, "ABSTTL"]),
        ("a", ["PEXPIRETIME", "n"]),
        ("a", ["RESTORE"]),
    ]


def test_restore_errors_word_for_word(pair):
    with RespConn(pair[0].port) as c:
        c.call("SET", "k", "hello")
        payload = c.call("DUMP", "k").value
        c.call("FLUSHALL")
    assert_same_session(*pair, restore_errors_session(payload))


def crc64(data: bytes) -> int:
    """Redis' CRC64 (Jones polynomial, reflected, no final xor)."""
    crc = 0
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ (0x95AC9329AC4BC9B5 if crc & 1 else 0)
    return crc


def payload_of(value: bytes, version=10) -> bytes:
    body = value + bytes([version & 0xFF, version >> 8])
    return body + crc64(body).to_bytes(8, "little")


def test_restore_bad_data_format(pair):
    """Payloads whose footer is right but whose value is not: Redis' "Bad data format"."""
    assert crc64(b"123456789") == 0xE9C6D914C4B8D9CA  # Redis' crc64 test vector
    steps = [("a", ["RESTORE", f"x{i}", "0", payload_of(v)]) for i, v in enumerate([
        b"\x00\x05hello",            # a good string
        b"\x63\x00",                  # unknown type
        b"\x00\x05hel",               # truncated string
        b"\x02\x00",                  # an empty set
        b"\x04\x00",                  # an empty hash
        b"\x02\x02\x01a",             # a set of 2 with one member
        b"",                          # nothing at all
    ])] + [("a", ["GET", "x0"]), ("a", ["EXISTS", "x1", "x2", "x3", "x4", "x5", "x6"])]
    assert_same_session(*pair, steps)


# --- WAIT and DEBUG

WAIT_SESSION = [
    ("a", ["WAIT", "0", "0"]),
    ("a", ["WAIT", "x", "0"]),
    ("a", ["WAIT", "0", "x"]),
    ("a", ["WAIT", "0", "-1"]),
    ("a", ["WAIT", "0", "1.5"]),
    ("a", ["WAIT", "1"]),
    ("a", ["MULTI"]),
    ("a", ["WAIT", "1", "0"]),                                    # inside MULTI: at once
    ("a", ["EXEC"]),
    ("a", ["DEBUG", "SLEEP", "0"]),                               # refused by default, as Redis 7
    ("a", ["DEBUG", "JMAP"]),
]


def test_wait_and_debug_refused_by_default(pair):
    assert_same_session(*pair, WAIT_SESSION)


def test_wait_blocks_until_its_timeout(pair):
    for server in pair:
        with RespConn(server.port) as c:
            started = time.monotonic()
            assert c.call("WAIT", "1", "300").raw == b":0\r\n"
            waited = time.monotonic() - started
            assert 0.25 <= waited < 2.0, f"{server.name} waited {waited:.3f}s"


DEBUG_SESSION = [
    ("a", ["SET", "s", "hello"]),
    ("a", ["SET", "i", "1234"]),
    ("a", ["RPUSH", "l", "a", "b"]),
    ("a", ["DEBUG", "SLEEP", "0"]),
    ("a", ["DEBUG", "SLEEP", "0.01"]),
    ("a", ["DEBUG", "SLEEP", "x"]),
    ("a", ["DEBUG", "SET-ACTIVE-EXPIRE", "0"]),
    ("a", ["DEBUG", "SET-ACTIVE-EXPIRE", "1"]),
    ("a", ["DEBUG", "OBJECT", "nokey"]),
    ("a", ["DEBUG", "NOSUCHSUBCOMMAND"]),
    ("a", ["DEBUG", "RELOAD"]),
    ("a", ["MGET", "s", "i"]),
    ("a", ["LRANGE", "l", "0", "-1"]),
    ("a", ["DBSIZE"]),
    ("a", ["CONFIG", "GET", "enable-debug-command"]),
    ("a", ["CONFIG", "SET", "enable-debug-command", "no"]),
]


def debug_object_fields(server, key):
    with RespConn(server.port) as c:
        line = c.call("DEBUG", "OBJECT", key).value.decode()
    fields = dict(kv.split(":", 1) for kv in line.split(" ") if ":" in kv)
    return fields["encoding"], fields["serializedlength"]


def test_debug_when_enabled(fresh_servers, tmp_path):
    servers = []
    for kind in ("redis", "larder"):
        d = tmp_path / kind
        d.mkdir()
        servers.append(fresh_servers(kind, ["--enable-debug-command", "yes", "--dir", str(d)]))
    assert_same_session(*servers, DEBUG_SESSION)
    for key in ("s", "i"):
        assert debug_object_fields(servers[0], key) == debug_object_fields(servers[1], key), key
