"""Local clusters on loopback for the cluster tests: N Larder nodes started with one topology
file (--cluster-config), and a real redis-server cluster (--cluster-enabled yes, joined by
`redis-cli --cluster create`) to compare reply formats with."""
import json
import os
import shutil
import subprocess
import tempfile
import time

import servers


def even_topology(nodes):
    """[(id, port)] -> the JSON topology, slots split as redis-cli --cluster create does."""
    n = len(nodes)
    step = 16384 / n
    shards, first, cursor = [], 0, 0.0
    for i, (node_id, port) in enumerate(nodes):
        last = int(round(cursor + step - 1))
        if last > 16384 or i == n - 1:
            last = 16383
        shards.append({"slot_ranges": [{"start": first, "end": last}],
                       "master": {"id": node_id, "ip": "127.0.0.1", "port": port}, "replicas": []})
        first, cursor = last + 1, cursor + step
    return shards


class LarderCluster:
    """`count` larder nodes, --threads 1 each, node i with id 'node<i>' padded to 40 hex-like
    characters, its data dir kept across restarts (restart() reloads its snapshot)."""

    def __init__(self, count=3, extra_args=(), topology=None):
        self.dir = tempfile.mkdtemp(prefix="larder-cluster-")
        self.extra_args = list(extra_args)
        self.nodes = [servers.Server("larder", servers.larder_cmd_template()) for _ in range(count)]
        self.ids = [f"{i:040x}".replace("0", "a", 1) for i in range(count)]
        self.topology = topology or even_topology(list(zip(self.ids, [s.port for s in self.nodes])))
        self.config_paths = []
        for i, s in enumerate(self.nodes):
            node_dir = os.path.join(self.dir, f"node{i}")
            os.makedirs(node_dir)
            path = os.path.join(node_dir, "topology.json")
            with open(path, "w") as f:
                json.dump(self.topology, f)
            self.config_paths.append(path)
            s.argv += ["--threads", "1", "--dir", node_dir, "--cluster-config", path,
                       "--cluster-node-id", self.ids[i]] + self.extra_args

    def start(self):
        for s in self.nodes:
            s.start()
        return self

    def restart(self, i):
        s = self.nodes[i]
        s.proc.kill()
        s.proc.wait()
        s.start()

    def stop(self):
        for s in self.nodes:
            s.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def startup_nodes(self):
        from redis.cluster import ClusterNode
        return [ClusterNode("127.0.0.1", s.port) for s in self.nodes]


class RedisCluster:
    """A real 3-master redis-server cluster (the reference for reply formats)."""

    def __init__(self, count=3):
        self.dir = tempfile.mkdtemp(prefix="redis-cluster-")
        self.procs, self.ports = [], []
        for i in range(count):
            port = servers.free_port()
            d = os.path.join(self.dir, str(i))
            os.makedirs(d)
            self.ports.append(port)
            self.procs.append(subprocess.Popen(
                # An explicit bus port: the default, port + 10000, fails for ports > 55535.
                ["redis-server", "--port", str(port), "--cluster-enabled", "yes", "--save", "",
                 "--cluster-port", str(servers.free_port()),
                 "--appendonly", "no", "--cluster-config-file", "nodes.conf", "--dir", d],
                cwd=d, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, preexec_fn=servers._die_with_parent))

    def start(self):
        deadline = time.monotonic() + 15
        for p in self.ports:
            while subprocess.run(["redis-cli", "-p", str(p), "ping"], capture_output=True).stdout.strip() != b"PONG":
                assert time.monotonic() < deadline, f"redis-server on {p} did not start"
                time.sleep(0.05)
        subprocess.run(["redis-cli", "--cluster", "create"] + [f"127.0.0.1:{p}" for p in self.ports] +
                       ["--cluster-yes"], check=True, capture_output=True, timeout=60)
        # Wait until every node agrees the cluster is up.
        deadline = time.monotonic() + 30
        for p in self.ports:
            while b"cluster_state:ok" not in subprocess.run(["redis-cli", "-p", str(p), "cluster", "info"],
                                                            capture_output=True).stdout:
                assert time.monotonic() < deadline, "redis cluster did not reach cluster_state:ok"
                time.sleep(0.1)
        return self

    def stop(self):
        for p in self.procs:
            p.kill()
            p.wait()
        shutil.rmtree(self.dir, ignore_errors=True)
