"""Reply comparison for the raw-socket differential tests, with the explicit normalizations.

The only normalizations applied to raw replies (see random_commands.py for the modes):
  * ttl mode: a non-negative integer reply (remaining or absolute expiry) becomes ":<ttl>";
    -1 (no expiry) and -2 (no key) are compared exactly.
  * unordered / pairs / scan modes: element order is ignored (hash-table order is not a contract).
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
    if mode == "pairs":
        v = reply.value
        if isinstance(v, tuple) and v[0] == "map":
            return ("map", sorted(v[1]))
        assert isinstance(v, list) and len(v) % 2 == 0, f"expected field/value pairs, got {reply.raw!r}"
        return ("array", sorted(zip(v[0::2], v[1::2])))
    raise AssertionError(f"unknown compare mode {mode}")


def scan_all(conn: RespConn, pattern: str, max_calls=10000):
    """Iterates SCAN MATCH pattern to cursor 0; returns the sorted keys (or the error bytes)."""
    cursor, keys = b"0", []
    for _ in range(max_calls):
        reply = conn.call("SCAN", cursor, "MATCH", pattern, "COUNT", "7")
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
        return scan_all(conn, args[1])
    return normalize(conn.call(*args), mode)
