"""Scripted sessions over raw sockets, compared byte for byte with redis-server (RESP2 and RESP3):
error messages word for word, transactions, connection commands, server commands, AUTH."""
import pytest

from session import assert_same_session

PROTOCOLS = [2, 3]

ERRORS = [
    ("a", ["GET"]),                               # wrong number of arguments for 'get' command
    ("a", ["gEt"]),
    ("a", ["GET", "x", "y"]),
    ("a", ["HSET", "h", "f"]),
    ("a", ["HMGET", "h"]),
    ("a", ["SET", "s", "v"]),
    ("a", ["HGET", "s", "f"]),                    # WRONGTYPE
    ("a", ["HSET", "h", "f", "v"]),
    ("a", ["GET", "h"]),
    ("a", ["INCR", "h"]),
    ("a", ["INCR", "s"]),                         # not an integer
    ("a", ["INCRBY", "s", "1.5"]),
    ("a", ["HINCRBY", "h", "f", "1"]),            # hash value is not an integer
    ("a", ["HINCRBYFLOAT", "h", "f", "x"]),
    ("a", ["SET", "s", "v", "EX", "abc"]),
    ("a", ["SET", "s", "v", "EX", "0"]),          # invalid expire time
    ("a", ["SET", "s", "v", "NX", "XX"]),         # syntax error
    ("a", ["SET", "s", "v", "FOO"]),
    ("a", ["EXPIRE", "s", "abc"]),
    ("a", ["EXPIRE", "s", "10", "NX", "XX"]),
    ("a", ["FOOBAR"]),                            # unknown command
    ("a", ["FOOBAR", "a", "b"]),
    ("a", ["foobar", "x" * 200]),
    ("a", ["CLIENT", "NOSUCHSUB"]),
    ("a", ["CONFIG", "GET"]),
    ("a", ["SELECT", "16"]),
    ("a", ["SELECT", "abc"]),
    ("a", ["SELECT", "-1"]),
    ("a", ["RENAME", "nokey", "x"]),
    ("a", ["HSCAN", "h", "abc"]),
    ("a", ["SCAN", "abc"]),
    ("a", ["SCAN", "0", "COUNT", "0"]),
    ("a", ["MSET", "a"]),
    ("a", ["HSET", "h", "f", "v", "g"]),
    ("a", ["GETRANGE", "s", "a", "1"]),
    ("a", ["PING", "a", "b"]),
    ("a", ["ECHO"]),
]

TRANSACTIONS = [
    ("a", ["SET", "t", "1"]),
    ("a", ["MULTI"]),
    ("a", ["INCR", "t"]),
    ("a", ["HSET", "t", "f", "v"]),               # queued; WRONGTYPE inside EXEC's array
    ("a", ["GET", "t"]),
    ("a", ["EXEC"]),
    ("a", ["MULTI"]),
    ("a", ["SET", "t"]),                          # arity error while queueing
    ("a", ["SET", "t", "2"]),
    ("a", ["EXEC"]),                              # EXECABORT
    ("a", ["GET", "t"]),
    ("a", ["MULTI"]),
    ("a", ["NOSUCHCMD"]),
    ("a", ["EXEC"]),
    ("a", ["MULTI"]),
    ("a", ["MULTI"]),                             # nested
    ("a", ["DISCARD"]),
    ("a", ["DISCARD"]),                           # without MULTI
    ("a", ["EXEC"]),                              # without MULTI
    ("a", ["MULTI"]),
    ("a", ["EXEC"]),                              # empty transaction
    ("a", ["WATCH", "w"]),                        # conflict: b writes between WATCH and EXEC
    ("b", ["SET", "w", "other"]),
    ("a", ["MULTI"]),
    ("a", ["SET", "w", "mine"]),
    ("a", ["EXEC"]),                              # null: aborted
    ("a", ["GET", "w"]),
    ("a", ["WATCH", "w"]),                        # no conflict
    ("a", ["MULTI"]),
    ("a", ["SET", "w", "mine"]),
    ("a", ["EXEC"]),
    ("a", ["MULTI"]),
    ("a", ["WATCH", "w"]),                        # WATCH inside MULTI
    ("a", ["DISCARD"]),
    ("a", ["WATCH", "w", "x"]),
    ("a", ["UNWATCH"]),
    ("b", ["SET", "w", "again"]),
    ("a", ["MULTI"]),
    ("a", ["GET", "w"]),
    ("a", ["EXEC"]),
    ("a", ["WATCH", "gone"]),                     # watched key deleted by another client
    ("b", ["SET", "gone", "1"]),
    ("a", ["MULTI"]),
    ("a", ["PING"]),
    ("a", ["EXEC"]),
    ("a", ["MULTI"]),
    ("a", ["WATCH", "w"]),                        # WATCH inside MULTI: an error; EXEC still runs
    ("a", ["SET", "w", "in-multi"]),
    ("a", ["EXEC"]),
    ("a", ["GET", "w"]),
    ("a", ["WATCH", "never-existed"]),            # FLUSHALL touches only watched keys that existed
    ("b", ["FLUSHALL"]),
    ("a", ["MULTI"]),
    ("a", ["SET", "after-flush", "1"]),
    ("a", ["EXEC"]),
    ("a", ["WATCH", "after-flush"]),              # ... and those abort the transaction
    ("b", ["FLUSHDB"]),
    ("a", ["MULTI"]),
    ("a", ["PING"]),
    ("a", ["EXEC"]),
    ("a", ["MULTI"]),
    ("a", ["HSET", "th", "a", "1", "b", "2"]),
    ("a", ["HMGET", "th", "b", "zz", "a"]),
    ("a", ["EXPIRE", "th", "100"]),
    ("a", ["PERSIST", "th"]),
    ("a", ["TTL", "th"]),
    ("a", ["EXEC"]),
]

CONNECTION = [
    ("a", ["PING"]),
    ("a", ["PING", "hello world"]),
    ("a", ["ECHO", "bin\x00ary"]),
    ("a", ["CLIENT", "ID"], "int"),
    ("a", ["CLIENT", "GETNAME"]),
    ("a", ["CLIENT", "SETNAME", "feature-reader"]),
    ("a", ["CLIENT", "GETNAME"]),
    ("a", ["CLIENT", "SETNAME", "has space"]),
    ("a", ["CLIENT", "SETNAME", ""]),
    ("a", ["CLIENT", "GETNAME"]),
    ("a", ["CLIENT", "SETNAME", "again"]),
    ("a", ["CLIENT", "INFO"], "client_list"),
    ("a", ["CLIENT", "LIST", "ID", "{id:a}"], "client_list"),
    ("b", ["CLIENT", "SETNAME", "other"]),
    ("a", ["CLIENT", "LIST", "ID", "{id:a}", "{id:b}"], "client_list"),
    ("a", ["SELECT", "3"]),
    ("a", ["SET", "in3", "x"]),
    ("a", ["DBSIZE"]),
    ("a", ["SELECT", "15"]),
    ("a", ["DBSIZE"]),
    ("a", ["SELECT", "3"]),
    ("a", ["GET", "in3"]),
    ("b", ["GET", "in3"]),                        # b is still in db 0
    ("a", ["CLIENT", "INFO"], "client_list"),
    ("a", ["TIME"], "time"),
    ("a", ["RESET"]),
    ("a", ["CLIENT", "GETNAME"]),
    ("a", ["GET", "in3"]),                        # RESET went back to db 0
    ("a", ["HELLO"], "hello"),
    ("a", ["HELLO", "3"], "hello"),
    ("a", ["HGETALL", "nohash"]),
    ("a", ["HELLO", "2", "SETNAME", "via-hello"], "hello"),
    ("a", ["CLIENT", "GETNAME"]),
    ("a", ["HELLO", "4"]),                        # NOPROTO
    ("a", ["HELLO", "x"]),
    ("a", ["MULTI"]),
    ("a", ["RESET"]),                             # RESET also discards a transaction
    ("a", ["EXEC"]),
    ("a", ["QUIT"]),
    ("a", [], "closed"),
]

SERVER = [
    ("a", ["SET", "k1", "v"]),
    ("a", ["HSET", "h1", "f", "v", "g", "w"]),
    ("a", ["DBSIZE"]),
    ("a", ["MEMORY", "USAGE", "k1"], "int"),
    ("a", ["MEMORY", "USAGE", "h1"], "int"),
    ("a", ["MEMORY", "USAGE", "missing"]),
    ("a", ["CONFIG", "GET", "proto-max-bulk-len"]),
    ("a", ["CONFIG", "GET", "maxclients"]),
    ("a", ["CONFIG", "GET", "client-query-buffer-limit"]),
    ("a", ["CONFIG", "GET", "no-such-parameter"]),
    ("a", ["CONFIG", "SET", "proto-max-bulk-len", "1048576"]),
    ("a", ["CONFIG", "GET", "proto-max-bulk-len"]),
    ("a", ["CONFIG", "SET", "client-query-buffer-limit", "2mb"]),
    ("a", ["CONFIG", "GET", "client-query-buffer-limit"]),
    ("a", ["CONFIG", "SET", "maxclients", "500"]),
    ("a", ["CONFIG", "GET", "maxclients"]),
    ("a", ["CONFIG", "SET", "proto-max-bulk-len", "abc"]),
    ("a", ["CONFIG", "SET", "no-such-parameter", "1"]),
    ("a", ["CONFIG", "SET", "proto-max-bulk-len", "536870912"]),
    ("a", ["CONFIG", "SET", "client-query-buffer-limit", "1gb"]),
    ("a", ["CONFIG", "SET", "maxclients", "10000"]),
    ("a", ["SELECT", "2"]),
    ("a", ["SET", "k2", "v"]),
    ("a", ["FLUSHDB"]),
    ("a", ["DBSIZE"]),
    ("a", ["SELECT", "0"]),
    ("a", ["DBSIZE"]),
    ("a", ["FLUSHDB", "ASYNC"]),
    ("a", ["DBSIZE"]),
    ("a", ["SET", "k1", "v"]),
    ("a", ["FLUSHALL"]),
    ("a", ["DBSIZE"]),
    ("a", ["FLUSHALL", "SYNC"]),
    ("a", ["FLUSHALL", "BOGUS"]),
]


# MOVE, TOUCH and LCS (issue 16's missing generic commands), with their errors. Keys on both
# shards; LCS's two keys on different shards in some pairs.
GENERIC = [
    ("a", ["SET", "m1", "v1"]),
    ("a", ["PEXPIRE", "m1", "100000"]),
    ("a", ["MOVE", "m1", "3"]),
    ("a", ["EXISTS", "m1"]),
    ("a", ["SELECT", "3"]),
    ("a", ["GET", "m1"]),
    ("a", ["PTTL", "m1"], "int"),
    ("a", ["MOVE", "m1", "3"]),                   # same database
    ("a", ["SET", "m2", "here"]),
    ("a", ["SELECT", "0"]),
    ("a", ["SET", "m2", "there"]),
    ("a", ["MOVE", "m2", "3"]),                   # exists in the target: 0
    ("a", ["MOVE", "missing", "3"]),
    ("a", ["MOVE", "m2", "16"]),
    ("a", ["MOVE", "m2", "-1"]),
    ("a", ["MOVE", "m2", "x"]),
    ("a", ["HSET", "mh", "f", "v"]),
    ("a", ["MOVE", "mh", "5"]),
    ("a", ["SELECT", "5"]),
    ("a", ["HGETALL", "mh"]),
    ("a", ["SELECT", "0"]),
    ("a", ["TOUCH", "m2", "m2", "missing", "mh"]),
    ("a", ["TOUCH"]),
    ("a", ["MSET", "s1", "ohmytext", "s2", "mynewtext", "s3", "abcdefghijklmnop", "s4", "xbcdxxfghxjklxx"]),
    ("a", ["LCS", "s1", "s2"]),
    ("a", ["LCS", "s1", "s2", "LEN"]),
    ("a", ["LCS", "s1", "s2", "IDX"]),
    ("a", ["LCS", "s1", "s2", "IDX", "MINMATCHLEN", "4", "WITHMATCHLEN"]),
    ("a", ["LCS", "s3", "s4", "IDX", "WITHMATCHLEN"]),
    ("a", ["LCS", "s4", "s3", "IDX", "MINMATCHLEN", "-3"]),
    ("a", ["LCS", "s1", "nothing"]),
    ("a", ["LCS", "nothing", "nothing", "IDX"]),
    ("a", ["LCS", "s1", "s2", "LEN", "IDX"]),
    ("a", ["LCS", "s1", "s2", "BOGUS"]),
    ("a", ["LCS", "s1", "s2", "MINMATCHLEN"]),
    ("a", ["LCS", "s1", "s2", "MINMATCHLEN", "x"]),
    ("a", ["HSET", "wt", "f", "v"]),
    ("a", ["LCS", "s1", "wt"]),
    ("a", ["LCS", "s1"]),
    ("a", ["SELECT", "0"]),
    ("a", ["SET", "sw", "in0"]),
    ("a", ["SELECT", "1"]),
    ("a", ["SET", "sw", "in1"]),
    ("a", ["SET", "only1", "x"]),
    ("a", ["SWAPDB", "0", "1"]),
    ("a", ["GET", "sw"]),
    ("a", ["SELECT", "0"]),
    ("a", ["MGET", "sw", "only1"]),
    ("a", ["SWAPDB", "0", "16"]),
    ("a", ["SWAPDB", "x", "1"]),
    ("a", ["SWAPDB", "1", "y"]),
    ("a", ["SWAPDB", "2", "2"]),
    ("a", ["WATCH", "sw"]),                       # exists: a swap touches it
    ("b", ["SWAPDB", "0", "1"]),
    ("a", ["MULTI"]),
    ("a", ["GET", "sw"]),
    ("a", ["EXEC"]),
    ("a", ["WATCH", "in-neither"]),               # missing from both: not touched
    ("b", ["SWAPDB", "0", "1"]),
    ("a", ["MULTI"]),
    ("a", ["GET", "sw"]),
    ("a", ["EXEC"]),
    ("a", ["FUNCTION", "FLUSH"]),                 # the (always empty) function library
    ("a", ["FUNCTION", "FLUSH", "ASYNC"]),
    ("a", ["FUNCTION", "FLUSH", "sync"]),
    ("a", ["FUNCTION", "FLUSH", "BOGUS"]),
    ("a", ["FUNCTION", "FLUSH", "SYNC", "x"]),
    ("a", ["FUNCTION", "LIST"]),
    ("a", ["FUNCTION", "LIST", "WITHCODE", "LIBRARYNAME", "lib*"]),
    ("a", ["FUNCTION", "LIST", "LIBRARYNAME"]),
    ("a", ["FUNCTION", "LIST", "BOGUS"]),
]


# COMMAND GETKEYS / GETKEYSANDFLAGS read Redis' key specs (index, keyword and keynum searches).
GETKEYS_CALLS = [
    ["GET", "k"], ["SET", "k", "v", "EX", "10"], ["MSET", "a", "1", "b", "2", "c", "3"], ["MGET", "a", "b"],
    ["RENAME", "a", "b"], ["RENAMENX", "a", "b"], ["COPY", "a", "b", "DB", "2"], ["DEL", "a", "b", "c"],
    ["HSET", "h", "f", "v"], ["HMGET", "h", "f", "g"], ["HGETALL", "h"], ["EXPIRE", "k", "10"],
    ["GETDEL", "k"], ["GETEX", "k", "PERSIST"], ["MSETNX", "a", "1", "b", "2"], ["LCS", "a", "b", "IDX"],
    ["MOVE", "k", "2"], ["TOUCH", "a", "b"], ["EXISTS", "a", "a"], ["INCRBYFLOAT", "n", "1.5"],
    ["WATCH", "a", "b"], ["OBJECT", "ENCODING", "k"], ["MEMORY", "USAGE", "k"], ["SETRANGE", "k", "0", "x"],
]
GETKEYS = [("a", ["COMMAND", "GETKEYS", *c]) for c in GETKEYS_CALLS] + \
          [("a", ["COMMAND", "GETKEYSANDFLAGS", *c]) for c in GETKEYS_CALLS] + [
    ("a", ["COMMAND", "GETKEYSANDFLAGS", "PING"]),
    ("a", ["COMMAND", "GETKEYSANDFLAGS", "NOSUCH", "x"]),
    ("a", ["COMMAND", "GETKEYSANDFLAGS", "GET"]),
    ("a", ["COMMAND", "GETKEYSANDFLAGS"]),
]


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_command_getkeys_and_flags(pair, protocol):
    assert_same_session(*pair, GETKEYS, protocol)


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_generic_commands(pair, protocol):
    assert_same_session(*pair, GENERIC, protocol)


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_error_messages_word_for_word(pair, protocol):
    assert_same_session(*pair, ERRORS, protocol)


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_transactions(pair, protocol):
    assert_same_session(*pair, TRANSACTIONS, protocol)


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_connection_commands(pair, protocol):
    assert_same_session(*pair, CONNECTION, protocol)


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_server_commands(pair, protocol):
    assert_same_session(*pair, SERVER, protocol)


AUTH_REQUIRED = [
    ("a", ["PING"]),                              # NOAUTH
    ("a", ["GET", "k"]),
    ("a", ["AUTH", "wrong"]),                     # WRONGPASS
    ("a", ["AUTH", "default", "wrong"]),
    ("a", ["AUTH"]),
    ("a", ["HELLO", "3", "AUTH", "default", "wrong"]),
    ("a", ["HELLO", "3"]),                        # NOAUTH HELLO must be called with the client already authenticated
    ("a", ["AUTH", "s3cret"]),
    ("a", ["PING"]),
    ("a", ["SET", "k", "v"]),
    ("b", ["HELLO", "2", "AUTH", "default", "s3cret"], "hello"),
    ("b", ["GET", "k"]),
    ("c", ["AUTH", "default", "s3cret"]),
    ("c", ["GET", "k"]),
    ("a", ["RESET"]),                             # RESET de-authenticates
    ("a", ["GET", "k"]),
]


def test_auth_with_requirepass(fresh_servers):
    ref = fresh_servers("redis", ["--requirepass", "s3cret"])
    lar = fresh_servers("larder", ["--requirepass", "s3cret"])
    # run_session's CLIENT ID on connect fails with NOAUTH here: harmless, both servers alike.
    assert_same_session(ref, lar, AUTH_REQUIRED)


def test_auth_without_requirepass(pair):
    assert_same_session(*pair, [("a", ["AUTH", "x"]), ("a", ["AUTH", "default", "x"]), ("a", ["PING"])])
