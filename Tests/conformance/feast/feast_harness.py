"""Runs the Feast conformance scenario against a server and records everything it saw.

A *chain* is one Feast feature repo (a fresh copy of ./repo) wired to one server through one
redis-py generation (a cached venv), taken through Feast's whole life cycle with the real CLI
and SDK. Chains only record (step exit codes and logs, keyspace dumps, read results); the tests
in test_feast_redis.py judge them, and compare each larder chain with the same chain run
against the reference redis-server.

Main chain:    feast apply -> materialize -> materialize-incremental -> dump -> SDK reads
               (sync, async; refs and feature service) and connection variants -> dump ->
               feast serve + HTTP calls -> dump -> apply without two views -> dump ->
               feast teardown -> dump
Cluster chain: redis_type: redis_cluster; apply -> materialize -> dump -> SDK reads -> teardown
               -> dump
Only the standard library is used here: Feast runs in the venvs, as subprocesses.
"""
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO_TEMPLATE = HERE / "repo"
TOOLS = HERE / "tools"
CACHE = Path(os.environ.get("LARDER_CACHE", Path.home() / ".cache" / "larder"))
VENVS = {"r7": CACHE / "venv-r7", "r8": CACHE / "venv-r8"}
PROJECT = "feast_conf"
PASSWORD = "feast-conf-pw"
STEP_TIMEOUT_S = 600
SERVE_START_TIMEOUT_S = 240


def venv_problem(venv: str):
    """None when the venv has the Feast CLI and redis-py, else why not."""
    path = VENVS[venv]
    if not (path / "bin" / "feast").exists():
        return f"{path} has no Feast CLI (scripts/setup.sh creates the cached venvs)"
    return None


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def log(msg):
    print(f"[feast {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


@dataclass
class Step:
    name: str
    argv: list
    rc: int
    seconds: float
    output: str

    def tail(self, n=40):
        return "\n".join(self.output.splitlines()[-n:])


@dataclass
class ChainConfig:
    """How one chain talks to its server: the redis-py generation, the connection string
    options, key_ttl_seconds, and the variants its probe tries."""
    venv: str
    kind: str                      # "main" or "cluster"
    conn_extra: str = ""           # appended to host:port in connection_string
    key_ttl: int = 0               # key_ttl_seconds (0: not set, no EXPIRE)
    password: str = None           # the server's requirepass
    db: int = 0
    variants: list = field(default_factory=list)


class Chain:
    def __init__(self, name, config: ChainConfig, server, data_dir: Path, workdir: Path):
        self.name = name
        self.config = config
        self.server = server
        self.dir = workdir / name
        self.repo = self.dir / "repo"
        self.steps = {}
        self.dumps = {}
        self.probe = None
        self.http = None
        self.error = None
        shutil.rmtree(self.dir, ignore_errors=True)
        (self.repo / "data").mkdir(parents=True)
        shutil.copy(REPO_TEMPLATE / "features.py", self.repo / "features.py")
        for f in data_dir.glob("*.parquet"):
            shutil.copy(f, self.repo / "data" / f.name)
        (self.repo / "feature_store.yaml").write_text(self.feature_store_yaml())

    @property
    def venv_bin(self):
        return VENVS[self.config.venv] / "bin"

    def feature_store_yaml(self):
        c = self.config
        lines = [
            f"project: {PROJECT}", "provider: local", "registry: data/registry.db",
            "offline_store:", "  type: file", "online_store:", "  type: redis",
            f"  redis_type: {'redis_cluster' if c.kind in ('cluster', 'cluster3') else 'redis'}",
            f'  connection_string: "127.0.0.1:{self.server.port}{c.conn_extra}"',
        ]
        if c.key_ttl:
            lines.append(f"  key_ttl_seconds: {c.key_ttl}")
        lines.append("entity_key_serialization_version: 3")
        return "\n".join(lines) + "\n"

    def env(self, extra=None):
        env = dict(os.environ)
        env["PATH"] = f"{self.venv_bin}:{env.get('PATH', '')}"
        env["FEAST_USAGE"] = "False"       # no telemetry calls
        env.pop("FEAST_CONF_DROP", None)
        env.update(extra or {})
        return env

    def run(self, name, argv, extra_env=None, cwd=None):
        t0 = time.monotonic()
        try:
            p = subprocess.run(argv, cwd=cwd or self.repo, env=self.env(extra_env), stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=STEP_TIMEOUT_S)
            rc, out = p.returncode, p.stdout.decode(errors="replace")
        except subprocess.TimeoutExpired as e:
            rc, out = -1, (e.stdout or b"").decode(errors="replace") + f"\n(timed out after {STEP_TIMEOUT_S}s)"
        step = Step(name, [str(a) for a in argv], rc, time.monotonic() - t0, out)
        self.steps[name] = step
        (self.dir / f"{name}.log").write_text(f"$ {' '.join(step.argv)}\n{out}\n(exit {rc})\n")
        log(f"{self.name}: {name} exit {rc} in {step.seconds:.1f}s")
        return step

    def feast(self, name, *args, drop=False):
        return self.run(name, [self.venv_bin / "feast", *args], {"FEAST_CONF_DROP": "1"} if drop else None)

    def python(self, name, script, *args):
        return self.run(name, [self.venv_bin / "python", TOOLS / script, *args])

    def dump(self, label):
        if self.config.kind == "cluster3":
            self.dump_nodes(label)
            return
        out = self.dir / f"dump_{label}.json"
        args = [str(self.server.port), str(out)]
        if self.config.password:
            args += ["--password", self.config.password]
        if self.config.kind == "cluster":
            args += ["--dbs", "0"]         # a cluster has database 0 only
        step = self.python(f"dump_{label}", "keyspace_dump.py", *args)
        self.dumps[label] = json.loads(out.read_text()) if step.rc == 0 else None

    def dump_nodes(self, label):
        """A multi-node cluster: each node's keyspace (SCAN is node-local), then their union;
        a key on two nodes fails the step. `node_dumps[label]` keeps the per-node key counts."""
        union, counts = {}, []
        for i, port in enumerate(self.server.ports):
            out = self.dir / f"dump_{label}_node{i}.json"
            step = self.python(f"dump_{label}_node{i}", "keyspace_dump.py", str(port), str(out), "--dbs", "0")
            if step.rc != 0:
                self.dumps[label] = None
                return
            keys = json.loads(out.read_text()).get("0", {})
            twice = set(keys) & set(union)
            if twice:
                self.error = f"{label}: keys on two nodes: {sorted(twice)[:3]}"
            union.update(keys)
            counts.append(len(keys))
        self.node_counts = getattr(self, "node_counts", {})
        self.node_counts[label] = counts
        self.dumps[label] = {"0": dict(sorted(union.items()))} if union else {}

    def read_probe(self, variants=()):
        out = self.dir / "probe.json"
        args = [str(self.repo), str(out)] + ([json.dumps(list(variants))] if variants else [])
        step = self.python("probe", "feast_probe.py", *args)
        self.probe = json.loads(out.read_text()) if step.rc == 0 else None

    def serve_and_call(self):
        port = free_port()
        log_path = self.dir / "serve.log"
        t0 = time.monotonic()
        with open(log_path, "wb") as logf:
            proc = subprocess.Popen([self.venv_bin / "feast", "serve", "-h", "127.0.0.1", "-p", str(port),
                                     "--no-access-log"], cwd=self.repo, env=self.env(), stdout=logf,
                                    stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        try:
            up = False
            while time.monotonic() - t0 < SERVE_START_TIMEOUT_S and proc.poll() is None:
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as r:
                        up = r.status == 200
                except OSError:
                    pass
                if up:
                    break
                time.sleep(0.3)
            serve_log = log_path.read_text(errors="replace")
            self.steps["serve"] = Step("serve", ["feast", "serve", "-p", str(port)], 0 if up else 1,
                                       time.monotonic() - t0, serve_log)
            log(f"{self.name}: feast serve {'up' if up else 'DID NOT START'} in {time.monotonic() - t0:.1f}s")
            if up:
                out = self.dir / "http.json"
                step = self.python("http", "http_probe.py", str(port), str(out))
                self.http = json.loads(out.read_text()) if step.rc == 0 else None
        finally:
            # Our own child and its workers: the session we gave it.
            try:
                os.killpg(proc.pid, signal.SIGTERM)
                proc.wait(timeout=20)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                proc.wait()

    def run_all(self):
        try:
            if self.config.kind == "main":
                self.feast("apply", "apply")
                self.feast("materialize", "materialize", "2025-01-01T00:00:00", "2025-01-03T00:00:00")
                self.feast("materialize_incremental", "materialize-incremental", "2025-01-05T00:00:00")
                self.dump("after_materialize")
                self.read_probe(self.config.variants)
                self.dump("after_reads")
                self.serve_and_call()
                self.dump("after_http")
                self.feast("apply_drop", "apply", drop=True)
                self.dump("after_drop")
                self.feast("teardown", "teardown", drop=True)
                self.dump("after_teardown")
            else:
                self.feast("apply", "apply")
                self.feast("materialize", "materialize", "2025-01-01T00:00:00", "2025-01-05T00:00:00")
                self.dump("after_materialize")
                self.read_probe()
                self.feast("teardown", "teardown")
                self.dump("after_teardown")
        except Exception as e:  # reported by the tests; the other chains go on
            self.error = f"{type(e).__name__}: {e}"
            log(f"{self.name}: harness error {self.error}")
        return self


def generate_data(workdir: Path, venv: str) -> Path:
    data = workdir / "data"
    subprocess.run([VENVS[venv] / "bin" / "python", REPO_TEMPLATE / "generate_data.py", data],
                   check=True, stdout=subprocess.DEVNULL)
    return data


def raw_command(port, *args, password=None):
    """One command over a plain socket; returns the raw reply bytes (for server set-up)."""
    def enc(parts):
        out = b"*%d\r\n" % len(parts)
        for p in parts:
            p = p.encode() if isinstance(p, str) else p
            out += b"$%d\r\n%s\r\n" % (len(p), p)
        return out
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        if password:
            s.sendall(enc(["AUTH", password]))
            s.recv(1024)
        s.sendall(enc(args))
        return s.recv(65536)


def make_cluster_ready(port):
    """A redis-server started with --cluster-enabled: give it every slot, wait until it is ok."""
    raw_command(port, "CLUSTER", "ADDSLOTSRANGE", "0", "16383")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if b"cluster_state:ok" in raw_command(port, "CLUSTER", "INFO"):
            return
        time.sleep(0.1)
    raise RuntimeError(f"redis-server on {port} did not reach cluster_state:ok")
