"""Reply comparison for the raw-socket differential tests, with the explicit normalizations.

The only normalizations applied to raw replies (see random_commands.py for the modes):
  * ttl mode: a non-negative integer reply (remaining or absolute expiry) becomes ":<ttl>";
    -1 (no expiry) and -2 (no key) are compared exactly.
  * unordered / pairs / scan / sscan modes: element order is ignored (hash-table order is not a
    contract); sscan compares the cursor and the members of a one-call SSCAN with a large COUNT.
Everything else, including every error message, is compared byte for byte.
"""
from resp import Err, RespConn


def normalize(reply, mode):
    if mode == "exact":
        return reply.raw
    if mode == "ttl":
        if isinstance(reply.value, int) and reply.value >= 0:
            return b":<ttl>\r\n"
        return reply.raw
    if isinstance(reply.value, Err):
        return reply.raw
    if mode == "unordered":
        assert isinstance(reply.value, list), f"expected an array, got {reply.raw!r}"
        return (reply.raw[:1], sorted(reply.value))
    if mode == "sscan":
        v = reply.value
        assert isinstance(v, list) and len(v) == 2, f"expected [cursor, members], got {reply.raw!r}"
        return (v[0], sorted(v[1]))
    if mode == "pairs":
        v = reply.value
        if isinstance(v, tuple) and v[0] == "map":
            return ("map", sorted(v[1]))
        assert isinstance(v, list) and len(v) % 2 == 0, f"expected field/value pairs, got {reply.raw!r}"
        return ("array", sorted(zip(v[0::2], v[1::2])))
    raise AssertionError(f"unknown compare mode {mode}")


def scan_all(conn: RespConn, pattern: str, max_calls=10000, type_=None):
    """Iterates SCAN MATCH pattern [TYPE type_] to cursor 0; returns the sorted keys (or the error
    bytes)."""
    cursor, keys = b"0", []
    for _ in range(max_calls):
        reply = conn.call("SCAN", cursor, "MATCH", pattern, "COUNT", "7", *(["TYPE", type_] if type_ else []))
        if isinstance(reply.value, Err):
            return reply.raw
        assert isinstance(reply.value, list) and len(reply.value) == 2, f"bad SCAN reply {reply.raw!r}"
        cursor, batch = reply.value
        keys.extend(batch)
        if cursor == b"0":
            return sorted(set(keys))
    raise AssertionError(f"SCAN did not finish in {max_calls} calls")


def run_and_normalize(conn: RespConn, args, mode):
    if mode == "scan":
        return scan_all(conn, args[1], type_=args[3] if len(args) > 3 else None)
    return normalize(conn.call(*args), mode)


# --- Session normalizers (raw scripted sessions). Each takes a Reply and returns a comparable value.

def _norm_int(reply):
    """Any integer (client ids, MEMORY USAGE bytes): only the type is compared."""
    return ":<int>" if isinstance(reply.value, int) else reply.raw


def _norm_time(reply):
    """TIME: two bulk strings, seconds and microseconds; only the shape is compared."""
    v = reply.value
    ok = isinstance(v, list) and len(v) == 2 and all(isinstance(x, bytes) and x.isdigit() for x in v) \
        and int(v[1]) < 1_000_000
    return "time-shape-ok" if ok else reply.raw


HELLO_VOLATILE = {b"server", b"version", b"id"}


def _norm_hello(reply):
    """HELLO: the same keys in the same order; server, version and id values are not compared."""
    v = reply.value
    items = v[1] if isinstance(v, tuple) else list(zip(v[0::2], v[1::2])) if isinstance(v, list) else None
    if items is None:
        return reply.raw
    kind = reply.raw[:1]
    return kind, [(k, "<volatile>" if k in HELLO_VOLATILE else val) for k, val in items]


CLIENT_STABLE_FIELDS = ("name", "db", "flags", "multi", "sub", "psub", "cmd", "user", "resp")


def _norm_client_list(reply):
    """CLIENT LIST/INFO: one line per client of space-separated k=v; only the stable fields above
    are compared (ids, addresses, ages and buffer sizes differ between any two servers)."""
    v = reply.value
    if not isinstance(v, bytes):
        return reply.raw
    clients = []
    for line in v.decode(errors="replace").strip().splitlines():
        fields = dict(kv.split("=", 1) for kv in line.split(" ") if "=" in kv)
        clients.append(tuple((k, fields.get(k, "<missing>")) for k in CLIENT_STABLE_FIELDS))
    return reply.raw[:1], sorted(clients)


SESSION_MODES = {"int": _norm_int, "time": _norm_time, "hello": _norm_hello, "client_list": _norm_client_list}


def normalize_session(reply, mode):
    if mode in SESSION_MODES:
        if isinstance(reply.value, Err):
            return reply.raw
        return SESSION_MODES[mode](reply)
    return normalize(reply, mode)
