"""Real 3-node redis-server clusters for the cluster materialization tests, and a fake node
that hands out a stale slot map once (to make a real MOVED happen at a known moment)."""
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import redis
from redis.crc import key_slot

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lib"))
import servers  # noqa: E402


def _cluster_port() -> int:
    """A free port whose cluster bus port (+10000) is also free."""
    while True:
        port = servers.free_port()
        if port + 10000 >= 65536:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port + 10000))
            except OSError:
                continue
        return port


class RedisCluster:
    """Three redis-server primaries (cluster-enabled, no replicas) joined by
    `redis-cli --cluster create`, as the issue's recipe."""

    def __init__(self, extra_args=()):
        self.nodes = []
        for _ in range(3):
            port = _cluster_port()
            server = servers.Server("redis-cluster-node", f"redis-server --port {port} --cluster-enabled yes "
                                    f"--cluster-config-file nodes-{port}.conf --save '' --appendonly no",
                                    list(extra_args))
            server.port = port  # the template already holds it
            self.nodes.append(server.start())
        addresses = [f"127.0.0.1:{n.port}" for n in self.nodes]
        subprocess.run(["redis-cli", "--cluster", "create", *addresses, "--cluster-replicas", "0", "--cluster-yes"],
                       check=True, capture_output=True, timeout=60)
        deadline = time.monotonic() + 30
        while not all(b"cluster_state:ok" in raw_call(n.port, "CLUSTER", "INFO") for n in self.nodes):
            assert time.monotonic() < deadline, "the cluster did not reach cluster_state:ok"
            time.sleep(0.1)

    @property
    def ports(self):
        return [n.port for n in self.nodes]

    def connection_string(self) -> str:
        return ",".join(f"127.0.0.1:{p}" for p in self.ports)

    def owner(self, slot: int) -> int:
        """The port of the primary serving `slot`."""
        for start, end, primary, *_ in self.slots():
            if start <= slot <= end:
                return int(primary[1])
        raise AssertionError(f"slot {slot} is not served")

    def slots(self):
        """CLUSTER SLOTS as the server sends it (lists of start, end, [host, port, id])."""
        return raw_call(self.ports[0], "CLUSTER", "SLOTS")

    def keyspace(self) -> dict:
        """The union of every node's keys: hash fields/values and persistent/expiring, as raw
        bytes. Each key must be on exactly one node."""
        out = {}
        for port in self.ports:
            r = redis.Redis(port=port)
            for key in r.scan_iter(count=1000):
                assert key not in out, f"key {key!r} on two nodes"
                assert r.type(key) == b"hash", f"unexpected {r.type(key)} at {key!r}"
                out[key] = (dict(r.hgetall(key)), "persistent" if r.ttl(key) == -1 else "expiring")
        return out

    def flush(self):
        for port in self.ports:
            redis.Redis(port=port).flushall()

    def stop(self):
        for n in self.nodes:
            n.stop()


def _read_reply(f):
    line = f.readline()
    kind, rest = line[:1], line[1:-2]
    if kind in (b"+", b"-"):
        return rest
    if kind == b":":
        return int(rest)
    if kind == b"$":
        return None if int(rest) < 0 else f.read(int(rest) + 2)[:-2]
    if kind == b"*":
        return [_read_reply(f) for _ in range(int(rest))]
    raise AssertionError(f"not a RESP2 reply: {line!r}")


def raw_call(port: int, *args):
    """One command on a fresh connection, the reply as RESP2 gives it (bytes, ints, lists)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(_encode([str(a).encode() if isinstance(a, (str, int)) else a for a in args]))
        return _read_reply(s.makefile("rb"))


def _read_command(f):
    """One RESP array of bulk strings from a file object; None at EOF."""
    line = f.readline()
    if not line:
        return None
    assert line.startswith(b"*"), line
    args = []
    for _ in range(int(line[1:])):
        length = int(f.readline()[1:])
        args.append(f.read(length + 2)[:-2])
    return args


def _encode(value) -> bytes:
    if isinstance(value, int):
        return b":%d\r\n" % value
    if isinstance(value, (bytes, str)):
        b = value.encode() if isinstance(value, str) else value
        return b"$%d\r\n%s\r\n" % (len(b), b)
    return b"*%d\r\n" % len(value) + b"".join(_encode(v) for v in value)


class StaleMapNode:
    """A fake cluster node: its first CLUSTER SLOTS says it serves every slot, so the client's
    first batch comes here, and it answers every command with `MOVED slot host:port` of the
    slot's real owner; later CLUSTER SLOTS give the real cluster's map."""

    def __init__(self, cluster: RedisCluster):
        self.cluster = cluster
        self.port = servers.free_port()
        self.listener = socket.create_server(("127.0.0.1", self.port))
        self.slot_asks = 0
        self.moved = 0
        self.owner = [0] * 16384
        for start, end, primary, *_ in cluster.slots():
            self.owner[start:end + 1] = [int(primary[1])] * (end - start + 1)
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._client, args=(conn,), daemon=True).start()

    def _client(self, conn):
        f = conn.makefile("rb")
        while True:
            args = _read_command(f)
            if args is None:
                return
            name = args[0].upper()
            if name == b"CLUSTER" and args[1].upper() == b"SLOTS":
                self.slot_asks += 1
                if self.slot_asks == 1:
                    reply = [[0, 16383, ["127.0.0.1", self.port, "f" * 40]]]
                else:
                    reply = [[s, e, p[:3]] for s, e, p, *_ in self.cluster.slots()]
                conn.sendall(_encode(reply))
            elif len(args) > 1:
                slot = key_slot(args[1])
                self.moved += 1
                conn.sendall(b"-MOVED %d 127.0.0.1:%d\r\n" % (slot, self.owner[slot]))
            else:
                conn.sendall(b"+OK\r\n")

    def stop(self):
        self.listener.close()
