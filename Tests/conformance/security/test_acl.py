"""ACL as in Redis 7.0, side by side with redis-server 7.0.15: the same commands sent to both
get the same bytes back (users and rules, AUTH / HELLO AUTH, -NOPERM for commands, subcommands
and keys, ACL LOG, DRYRUN, CAT, DELUSER closing the user's clients, CLIENT LIST's user=).
Rule descriptions are compared only where Redis' own output is deterministic: its last pass
("+cmd -cmd" after the categories) walks a hash table whose order changes from run to run."""
import hashlib
import time

import pytest

import servers
from resp import Err, RespConn

pytestmark = pytest.mark.skipif(servers.larder_is_standin(), reason="compares larder with redis")


@pytest.fixture
def both(pair):
    """(redis, larder) with only the default user (on, nopass, everything) and an empty ACL LOG."""
    for s in pair:
        with RespConn(s.port) as c:
            users = c.call("ACL", "USERS").value
            others = [u for u in users if u != b"default"]
            if others:
                c.call("ACL", "DELUSER", *others)
            assert c.call("ACL", "SETUSER", "default", "reset", "on", "nopass", "~*", "&*", "+@all").value == b"OK"
            c.call("ACL", "LOG", "RESET")
            c.call("CONFIG", "SET", "acllog-max-len", "128")
    return pair


def same(pair, *commands, conn=None):
    """Sends each command to both servers on one connection each; returns larder's replies
    after checking they are byte for byte redis'."""
    results = []
    for s in pair:
        with RespConn(s.port) as c:
            results.append([c.call(*cmd).raw for cmd in commands])
    for cmd, r, l in zip(commands, results[0], results[1]):
        assert l == r, f"{cmd}: redis {r!r} larder {l!r}"
    return results[1]


def as_user(server, user, password, *commands, resp3=False):
    """Replies (raw) to `commands` on a connection authenticated as `user`."""
    with RespConn(server.port) as c:
        if resp3:
            reply = c.call("HELLO", "3", "AUTH", user, password)
        else:
            reply = c.call("AUTH", user, password)
        assert not isinstance(reply.value, Err), reply
        return [c.call(*cmd).raw for cmd in commands]


SETUSER_CASES = [
    ("ACL", "SETUSER", "alice", "on", ">secret", "~feast:*", "%R~ro:*", "+@read", "-keys", "&chan*"),
    ("ACL", "SETUSER", "bob", "+get", "+get", "-get", "+@hash", "-hset", "+@all"),
    ("ACL", "SETUSER", "carl", "+@read", "+get", "-@read", "+get"),
    ("ACL", "SETUSER", "dora", "allcommands", "-@dangerous", "allkeys", "on", "nopass"),
    ("ACL", "SETUSER", "erin", "on", "#" + "a" * 64, ">x", "<x", "+@read", "-get", "%W~w:*", "%RW~rw:*"),
    ("ACL", "SETUSER", "fred", "+GET", "+@READ", "+Client|List", "resetkeys", "~a", "~a", "%R~a"),
    ("ACL", "SETUSER", "gus", "+@all", "-@write", "-@admin"),
    ("ACL", "SETUSER", "hal", "on", "nopass", ">p", "resetpass", "off", "skip-sanitize-payload"),
    # Errors name the bad rule; nothing of the call is applied.
    ("ACL", "SETUSER", "x", "foo"),
    ("ACL", "SETUSER", "x", "+nosuchcommand"),
    ("ACL", "SETUSER", "x", "+@nosuchcategory"),
    ("ACL", "SETUSER", "x", "#abc"),
    ("ACL", "SETUSER", "x", "#" + "A" * 64),
    ("ACL", "SETUSER", "x", "<not-a-password"),
    ("ACL", "SETUSER", "x", "+client|nosuchsub"),
    ("ACL", "SETUSER", "x", "+client|list|x"),
    ("ACL", "SETUSER", "x", "~a", "allkeys", "~b"),
    ("ACL", "SETUSER", "x", "&*", "&c"),
    ("ACL", "SETUSER", "x", "%X~a"),
    ("ACL", "SETUSER", "x", "~a b"),
    ("ACL", "SETUSER", "a b"),
    ("ACL", "SETUSER",),
    ("ACL", "GETUSER", "x"),
    ("ACL", "NOSUCH"),
]


def test_setuser_errors_getuser_and_list_match_redis(both):
    same(both, *SETUSER_CASES)
    for name in ["alice", "bob", "carl", "dora", "erin", "fred", "gus", "hal", "nobody"]:
        same(both, ("ACL", "GETUSER", name))
    same(both, ("ACL", "LIST"), ("ACL", "USERS"))
    # RESP3: GETUSER's map and flag set.
    replies = []
    for s in both:
        with RespConn(s.port) as c:
            c.call("HELLO", "3")
            replies.append(c.call("ACL", "GETUSER", "alice").raw)
    assert replies[1] == replies[0]


def test_passwords_are_stored_and_shown_as_sha256_only(both):
    same(both, ("ACL", "SETUSER", "pw", "on", ">clear-text-1", ">clear-text-2", "+@all", "~*"))
    for s in both:
        with RespConn(s.port) as c:
            listing = c.call("ACL", "LIST").raw + c.call("ACL", "GETUSER", "pw").raw
            assert b"clear-text" not in listing
            assert hashlib.sha256(b"clear-text-1").hexdigest().encode() in listing
    # The hash authenticates the same password; removing it by hash (!) too.
    same(both, ("ACL", "SETUSER", "pw2", "on", "#" + hashlib.sha256(b"h").hexdigest(), "+@all"),
         ("AUTH", "pw2", "h"), ("AUTH", "pw2", "wrong"),
         ("ACL", "SETUSER", "pw2", "!" + hashlib.sha256(b"h").hexdigest()), ("AUTH", "pw2", "h"))


def test_auth_and_hello_auth_with_users(both):
    same(both, ("ACL", "SETUSER", "u1", "on", ">pw1", "+@all", "~*"),
         ("ACL", "SETUSER", "off1", "off", ">pw", "+@all"),
         ("AUTH", "u1", "pw1"), ("ACL", "WHOAMI"),
         ("AUTH", "u1", "bad"), ("AUTH", "nosuchuser", "pw1"), ("AUTH", "off1", "pw"),
         ("AUTH", "onlypassword"),  # the default user has nopass: Redis' error
         ("AUTH", "a", "b", "c"),
         ("HELLO", "2", "AUTH", "u1", "bad"),
         ("ACL", "WHOAMI"))
    for version in ("2", "3"):
        replies = []
        for s in both:
            with RespConn(s.port) as c:
                r = c.call("HELLO", version, "AUTH", "u1", "pw1").value
                replies.append((c.call("ACL", "WHOAMI").raw, r[1] if isinstance(r, tuple) else None))
        assert replies[0][0] == replies[1][0] == (b"$2\r\nu1\r\n")


def test_default_user_password_and_noauth(both):
    """requirepass is the default user's password: AUTH pass, NOAUTH before it, both ways."""
    same(both, ("ACL", "SETUSER", "default", "resetpass", ">dflt"))
    try:
        same(both, ("PING",), ("GET", "k"), ("HELLO", "3"), ("AUTH", "wrong"), ("AUTH", "dflt"), ("PING",),
             ("ACL", "WHOAMI"))
        same(both, ("AUTH", "default", "dflt"), ("CONFIG", "GET", "requirepass"))
        # CONFIG SET requirepass changes the default user's password (seen in ACL GETUSER).
        same(both, ("AUTH", "dflt"), ("CONFIG", "SET", "requirepass", "newpass"), ("AUTH", "newpass"),
             ("ACL", "GETUSER", "default"))
    finally:
        for s in both:
            with RespConn(s.port) as c:
                c.call("AUTH", "newpass")
                c.call("CONFIG", "SET", "requirepass", "")


def test_noperm_for_commands_subcommands_and_keys(both):
    same(both, ("ACL", "SETUSER", "ro", "on", ">pw", "~feast:*", "%R~ro:*", "%W~wo:*", "-@all",
                "+get", "+set", "+mget", "+mset", "+client|list", "+hget", "+copy", "+multi", "+exec"))
    same(both, ("SET", "ro:1", "v"), ("SET", "wo:1", "v"))
    commands = [("GET", "feast:1"), ("GET", "other"), ("SET", "ro:1", "x"), ("SET", "feast:1", "x"),
                ("GET", "ro:1"), ("GET", "wo:1"), ("SET", "wo:2", "x"), ("HSET", "feast:1", "f", "v"),
                ("HGET", "feast:x", "f"), ("CLIENT", "ID"), ("MGET", "feast:1", "ro:2", "zz"),
                ("MSET", "feast:1", "a", "wo:1", "b"), ("MSET", "feast:1", "a", "ro:1", "b"),
                ("COPY", "ro:1", "wo:3"), ("COPY", "wo:1", "feast:2"),
                ("ACL", "WHOAMI"), ("FLUSHALL",), ("CLIENT", "NOSUCH"),
                ("MULTI",), ("GET", "x"), ("GET", "feast:1"), ("EXEC",)]
    replies = [as_user(s, "ro", "pw", *commands) for s in both]
    for cmd, r, l in zip(commands, replies[0], replies[1]):
        assert l == r, f"{cmd}: redis {r!r} larder {l!r}"
    assert b"NOPERM" in b"".join(replies[1])


def acl_log(server, *args):
    """ACL LOG entries as dicts, with client-info reduced to its user= and cmd= fields and
    age-seconds dropped (times differ)."""
    with RespConn(server.port) as c:
        entries = c.call("ACL", "LOG", *args).value
    out = []
    for e in entries:
        d = dict(zip(e[0::2], e[1::2]))
        info = dict(f.split(b"=", 1) for f in d.pop(b"client-info").split(b" ") if b"=" in f)
        d[b"client-info"] = (info[b"user"], info[b"cmd"])
        age = float(d.pop(b"age-seconds"))
        assert 0 <= age < 60
        out.append(d)
    return out


def test_acl_log_entries_match_redis(both):
    same(both, ("ACL", "SETUSER", "lg", "on", ">pw", "~k:*", "+get", "+set", "+multi"))
    for s in both:
        as_user(s, "lg", "pw", ("GET", "k:1"), ("GET", "other"), ("GET", "other"), ("DEL", "k:1"),
                ("MULTI",), ("SET", "nope", "1"), ("DISCARD",))
        with RespConn(s.port) as c:
            c.call("AUTH", "lg", "wrong")
            c.call("HELLO", "3", "AUTH", "ghost", "pw")
    logs = [acl_log(s) for s in both]
    assert logs[1] == logs[0]
    assert [e[b"reason"] for e in logs[1]] == [b"auth", b"auth", b"command", b"key", b"command", b"key"]
    assert logs[1][-1][b"count"] == 2  # the same denial twice within 60 s is one entry
    same(both, ("ACL", "LOG", "0"), ("ACL", "LOG", "-1"), ("ACL", "LOG", "abc"), ("ACL", "LOG", "1", "2"))
    assert [len(acl_log(s, "2")) for s in both] == [2, 2]
    same(both, ("ACL", "LOG", "RESET"), ("ACL", "LOG"))


def test_acl_log_is_capped_and_wrong_passwords_do_not_block(both):
    """A loop of wrong passwords (distinct users so nothing groups) keeps acllog-max-len entries,
    and another client is answered meanwhile."""
    redis, larder = both
    same(both, ("CONFIG", "SET", "acllog-max-len", "5"), ("CONFIG", "GET", "acllog-max-len"))
    with RespConn(larder.port) as attacker, RespConn(larder.port) as other:
        replies = attacker.pipeline([("AUTH", f"user{i}", "guess") for i in range(3000)])
        assert all(isinstance(r.value, Err) and r.value.message.startswith(b"WRONGPASS") for r in replies)
        t0 = time.monotonic()
        assert other.call("PING").value == b"PONG"
        assert time.monotonic() - t0 < 1.0
    assert len(acl_log(larder)) == 5
    assert acl_log(larder)[0][b"username"] == b"user2999"


def test_dryrun_cat_genpass_help_whoami(both):
    same(both, ("ACL", "SETUSER", "dr", "on", "nopass", "~k:*", "%R~r:*", "+get", "+set", "+client|list"),
         ("ACL", "DRYRUN", "dr", "get", "k:1"), ("ACL", "DRYRUN", "dr", "get", "zz"),
         ("ACL", "DRYRUN", "dr", "set", "r:1", "v"), ("ACL", "DRYRUN", "dr", "hget", "k:1", "f"),
         ("ACL", "DRYRUN", "dr", "client", "list"), ("ACL", "DRYRUN", "dr", "CLIENT", "KILL", "1"),
         ("ACL", "DRYRUN", "dr", "client", "nosuch"), ("ACL", "DRYRUN", "dr", "get"),
         ("ACL", "DRYRUN", "nobody", "get", "k"), ("ACL", "DRYRUN", "dr", "nosuchcmd"),
         ("ACL", "CAT"), ("ACL", "CAT", "nosuch"), ("ACL", "CAT", "a", "b"),
         ("ACL", "GENPASS", "0"), ("ACL", "GENPASS", "abc"), ("ACL", "GENPASS", "4097"),
         ("ACL", "HELP"), ("ACL", "WHOAMI"), ("ACL", "LOAD"), ("ACL", "SAVE"),
         ("ACL", "DELUSER", "default"), ("ACL", "DELUSER", "nobody", "dr", "dr"))
    redis, larder = both
    with RespConn(larder.port) as c:
        assert len(c.call("ACL", "GENPASS").value) == 64
        assert len(c.call("ACL", "GENPASS", "5").value) == 2
        assert c.call("ACL", "GENPASS").value != c.call("ACL", "GENPASS").value
        # Every command larder lists in a category is in the same category in Redis.
        for category in [b"read", b"write", b"hash", b"string", b"keyspace", b"admin", b"dangerous", b"fast",
                         b"connection"]:
            mine = set(c.call("ACL", "CAT", category).value)
            with RespConn(redis.port) as r:
                theirs = set(r.call("ACL", "CAT", category).value)
            redis_only = {n for n in mine - theirs if not n.startswith((b"hexpire", b"hpexpire", b"httl", b"hpttl",
                                                                       b"hpersist", b"features.", b"client|setinfo",
                                                                       b"client|no-touch", b"hexpiretime",
                                                                       b"hpexpiretime", b"cluster|larder."))}
            assert not redis_only, (category, redis_only)


def test_deluser_closes_the_users_connections(both):
    for s in both:
        with RespConn(s.port) as admin:
            admin.call("ACL", "SETUSER", "gone", "on", ">pw", "+@all", "~*")
            victim = RespConn(s.port)
            assert victim.call("AUTH", "gone", "pw").value == b"OK"
            bystander = RespConn(s.port)
            assert bystander.call("PING").value == b"PONG"
            assert admin.call("ACL", "DELUSER", "gone").value == 1
            assert victim.is_closed_by_server(), s.name
            assert bystander.call("PING").value == b"PONG", s.name
            victim.close(); bystander.close()
            # A user deleting itself gets its reply, then the connection closes.
            admin.call("ACL", "SETUSER", "self", "on", ">pw", "+@all", "~*")
            me = RespConn(s.port)
            me.call("AUTH", "self", "pw")
            assert me.call("ACL", "DELUSER", "self").value == 1
            assert me.is_closed_by_server(), s.name
            me.close()


def test_changed_rules_apply_to_connected_clients(both):
    for s in both:
        with RespConn(s.port) as admin, RespConn(s.port) as user:
            admin.call("ACL", "SETUSER", "chg", "on", ">pw", "+get", "~*")
            user.call("AUTH", "chg", "pw")
            assert user.call("GET", "k").value is None
            admin.call("ACL", "SETUSER", "chg", "-get")
            assert user.call("GET", "k").value == Err(b"NOPERM this user has no permissions to run the 'get' command"), s.name


def test_exec_checks_queued_commands_again_after_a_rule_change(both):
    """Redis 7.0's execCommand checks permissions again at EXEC: a command queued before the
    user lost it is refused inside EXEC's reply (command, key), the others run, and ACL LOG
    records the denials in the multi context."""
    replies = []
    for s in both:
        with RespConn(s.port) as admin, RespConn(s.port) as user:
            admin.call("ACL", "SETUSER", "tx", "on", ">pw", "~*", "+@all")
            user.call("AUTH", "tx", "pw")
            queued = [user.call("MULTI").raw, user.call("SET", "a:1", "x").raw, user.call("GET", "b:1").raw,
                      user.call("INCR", "a:2").raw]
            admin.call("ACL", "SETUSER", "tx", "resetkeys", "~a:*", "-incr")
            replies.append((queued, user.call("EXEC").raw, admin.call("GET", "a:1").raw, admin.call("EXISTS", "a:2").raw))
    assert replies[1] == replies[0], f"redis {replies[0]!r} larder {replies[1]!r}"
    assert b"ACLs rules changed between the moment the transaction was accumulated" in replies[1][1]
    logs = [acl_log(s) for s in both]
    assert logs[1] == logs[0]
    assert [(e[b"reason"], e[b"context"]) for e in logs[1]] == [(b"command", b"multi"), (b"key", b"multi")]


def test_client_list_and_kill_by_user(both):
    for s in both:
        with RespConn(s.port) as admin, RespConn(s.port) as user:
            admin.call("ACL", "SETUSER", "cl", "on", ">pw", "+@all", "~*")
            user.call("AUTH", "cl", "pw")
            listing = admin.call("CLIENT", "LIST").value
            assert b" user=cl " in listing and b" user=default " in listing, s.name
            assert admin.call("CLIENT", "KILL", "USER", "cl").value == 1
            assert admin.call("CLIENT", "KILL", "USER", "nobody").value == Err(b"ERR No such user 'nobody'")
            assert user.is_closed_by_server(), s.name


def test_reset_returns_to_the_default_user(both):
    same(both, ("ACL", "SETUSER", "rs", "on", ">pw", "+@all", "~*"), ("AUTH", "rs", "pw"), ("ACL", "WHOAMI"),
         ("RESET",), ("ACL", "WHOAMI"))
