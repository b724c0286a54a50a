"""Run the same redis-py call against redis-server and larder and compare what the client returns.

`Differ.check(label, fn, norm=None)`: fn(client) is called on each side; a redis error becomes
("error", ExceptionClass, message). `norm` (optional) maps a result to what is compared; the
normalizers used by the redis-py tests are the short list below, each for a reply that legitimately
differs between any two servers (ids, clocks, sizes, random picks).
Mismatches are collected and reported together by `Differ.assert_all_same()`.
"""
import redis


def outcome(fn, client):
    try:
        return fn(client)
    except redis.exceptions.RedisError as e:
        return ("error", type(e).__name__, str(e))


# --- the normalizers
def is_int(v):
    return ("int", isinstance(v, int) and not isinstance(v, bool)) if not isinstance(v, tuple) else v


def ttl_class(v):
    """TTL/PTTL/EXPIRETIME: positive means "has a ttl"; -1/-2 exact."""
    return "has-ttl" if isinstance(v, int) and v > 0 else v


def sorted_items(v):
    return sorted(v) if isinstance(v, (list, set)) else v


def time_shape(v):
    return ("time", isinstance(v, tuple) and len(v) == 2 and v[0] > 1_700_000_000 and 0 <= v[1] < 1_000_000) \
        if not (isinstance(v, tuple) and v and v[0] == "error") else v


class Differ:
    def __init__(self, ref_client, lar_client, ref_client2=None, lar_client2=None):
        self.sides = [("redis", ref_client, ref_client2), ("larder", lar_client, lar_client2)]
        self.mismatches = []

    def check(self, label, fn, norm=None):
        """fn(client) or fn(client, second_client) (when second clients were given)."""
        results = []
        for _, c1, c2 in self.sides:
            r = outcome((lambda c: fn(c, c2)) if c2 is not None else fn, c1)
            results.append(norm(r) if norm else r)
        if results[0] != results[1]:
            self.mismatches.append(f"{label}:\n    redis : {results[0]!r}\n    larder: {results[1]!r}")
        return results[0]

    def assert_all_same(self):
        assert not self.mismatches, f"{len(self.mismatches)} mismatch(es):\n" + "\n".join(self.mismatches)


def supports(server, *command):
    """True if `server` knows the (sub)command, asked live through COMMAND INFO."""
    from resp import RespConn
    with RespConn(server.port) as c:
        reply = c.call("COMMAND", "INFO", "|".join(command).lower())
        return isinstance(reply.value, list) and reply.value and reply.value[0] is not None
