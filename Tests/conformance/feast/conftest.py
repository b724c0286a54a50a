"""Fixtures of the Feast conformance suite: one run of every chain (see feast_harness.py), made
once and shared by all tests, against the server under test (LARDER_SERVER_CMD, as in
../lib/servers.py) and the reference redis-server.

Environment:
  LARDER_SERVER_CMD  server under test ("{port}" replaced); default .build/release/larder serve --port {port}
  FEAST_CONF_VENVS   which redis-py generations to run, default "r7,r8"
  FEAST_CONF_JOBS    chains run at the same time, default 4 (Feast CLI start-up is CPU-bound)
  FEAST_CONF_KINDS   which chains, default "main,cluster,cluster3" (cluster3: three larder nodes)
  LARDER_CACHE       where the cached venvs are (default ~/.cache/larder)
"""
import os
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "lib"))

sys.path.insert(0, str(HERE.parent / "cluster"))

import feast_harness as fh  # noqa: E402
import servers  # noqa: E402
from cluster_nodes import LarderCluster  # noqa: E402

VENV_NAMES = [v for v in os.environ.get("FEAST_CONF_VENVS", "r7,r8").split(",") if v]
# Which chains: main, cluster (one node), cluster3 (three larder nodes); default all.
KINDS = [k for k in os.environ.get("FEAST_CONF_KINDS", "main,cluster,cluster3").split(",") if k]


def pytest_configure(config):
    config.addinivalue_line("markers", "feast: Feast end-to-end conformance (slow: several minutes)")


def pytest_collection_modifyitems(items):
    for item in items:
        if str(HERE) in str(item.fspath):
            item.add_marker(pytest.mark.feast)


def main_config(venv, port):
    """r7: the supported setup (redis-py 7, RESP2, db 0, no password) with key_ttl_seconds.
    r8: redis-py 8 (RESP3 by default) on a password-protected server, db 2, no key TTL.
    Each probes a few other connection strings through the SDK."""
    def variant(name, extra, first_driver, db=0, password=None, key_ttl=None, expire_after=None):
        store = {"type": "redis", "connection_string": f"127.0.0.1:{port}{extra}"}
        if key_ttl:
            store["key_ttl_seconds"] = key_ttl
        return {"name": name, "online_store": store, "first_driver": first_driver, "expire_after": expire_after,
                "raw": {"port": port, "db": db, "password": password}}
    pw = fh.PASSWORD
    if venv == "r7":
        return fh.ChainConfig(venv, "main", conn_extra="", key_ttl=604800, variants=[
            variant("protocol3_key_ttl", ",protocol=3", 7001, key_ttl=3, expire_after=4.5),
            variant("db5", ",db=5", 7101, db=5),
        ])
    return fh.ChainConfig(venv, "main", conn_extra=f",db=2,password={pw}", password=pw, db=2, variants=[
        variant("protocol2_key_ttl", f",db=2,password={pw},protocol=2", 7201, db=2, password=pw,
                key_ttl=3, expire_after=4.5),
        variant("username_db7", f",username=default,password={pw},db=7", 7301, db=7, password=pw),
        variant("wrong_password", ",password=not-the-password", 7401, password=pw),
    ])


def cluster_config(venv):
    return fh.ChainConfig(venv, "cluster", key_ttl=604800 if venv == "r7" else 0)


def start_server(role, kind, config):
    """role: 'larder' (under test) or 'redis' (reference). Cluster chains need a cluster:
    the reference is a redis-server in cluster mode owning every slot; larder emulates one
    (a redis stand-in for larder is started like the reference)."""
    extra = ["--requirepass", config.password] if config.password else []
    # An explicit bus port: by default Redis uses port + 10000, which fails for ports > 55535.
    cluster_args = ["--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
                    "--cluster-port", str(fh.free_port())]
    as_redis_cluster = kind == "cluster" and (role == "redis" or servers.larder_is_standin())
    if as_redis_cluster:
        extra += cluster_args
    server = servers.start_larder(extra) if role == "larder" else servers.start_redis(extra)
    if as_redis_cluster:
        fh.make_cluster_ready(server.port)
    return server


class Suite:
    def __init__(self):
        self.chains = {}
        self.skipped = {}
        self.servers = []
        self.workdir = Path(tempfile.mkdtemp(prefix="larder-feast-"))

    def chain(self, venv, kind, role):
        name = f"{kind}-{venv}-{role}"
        if venv in self.skipped:
            pytest.skip(self.skipped[venv])
        if name not in self.chains:
            pytest.skip(f"{venv} not selected (FEAST_CONF_VENVS={','.join(VENV_NAMES)})")
        return self.chains[name]

    def pair(self, venv, kind):
        return self.chain(venv, kind, "larder"), self.chain(venv, kind, "redis")


@pytest.fixture(scope="session")
def feast_suite():
    suite = Suite()
    todo = []
    data = None
    for venv in VENV_NAMES:
        problem = fh.venv_problem(venv)
        if problem:
            suite.skipped[venv] = problem
            continue
        if data is None:
            data = fh.generate_data(suite.workdir, venv)
        for kind in [k for k in ("main", "cluster") if k in KINDS]:
            for role in ("larder", "redis"):
                probe_cfg = main_config(venv, 0) if kind == "main" else cluster_config(venv)
                server = start_server(role, kind, probe_cfg)
                suite.servers.append(server)
                cfg = main_config(venv, server.port) if kind == "main" else probe_cfg
                name = f"{kind}-{venv}-{role}"
                suite.chains[name] = fh.Chain(name, cfg, server, data, suite.workdir)
                todo.append(suite.chains[name])
        # redis_type: redis_cluster against three Larder nodes (cluster mode, one topology),
        # compared with the one-node redis cluster chain above (docs/cluster.md).
        if "cluster3" in KINDS and not servers.larder_is_standin():
            nodes = LarderCluster(3).start()
            nodes.port, nodes.ports = nodes.nodes[0].port, [n.port for n in nodes.nodes]
            suite.servers.append(nodes)
            name = f"cluster3-{venv}-larder"
            cfg = fh.ChainConfig(venv, "cluster3", key_ttl=604800 if venv == "r7" else 0)
            suite.chains[name] = fh.Chain(name, cfg, nodes, data, suite.workdir)
            todo.append(suite.chains[name])
    fh.log(f"running {len(todo)} chains in {suite.workdir}")
    jobs = int(os.environ.get("FEAST_CONF_JOBS", "4"))
    try:
        with ThreadPoolExecutor(max_workers=jobs) as pool:
            list(pool.map(lambda c: c.run_all(), todo))
        yield suite
    finally:
        for s in suite.servers:
            s.stop()
