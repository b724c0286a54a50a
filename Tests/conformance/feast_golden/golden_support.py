"""Workspace for the Feast golden tests: the golden repo twice (Feast Python and Larder YAML)
in a temporary directory, with generated data, and a redis-server for each side."""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import redis

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
sys.path.insert(0, str(HERE.parent / "lib"))
import servers  # noqa: E402

import gen_data  # noqa: E402


def larder_bin() -> str:
    explicit = os.environ.get("LARDER_BIN")
    if explicit:
        return explicit
    for build in ("release", "debug"):
        candidate = ROOT / ".build" / build / "larder"
        if candidate.exists():
            return str(candidate)
    raise RuntimeError("no larder binary: run `swift build` (or set LARDER_BIN)")


def feast_bin() -> str:
    return str(Path(sys.executable).parent / "feast")


class Workspace:
    """Both repos over the same generated data; `feast_env` / `larder_env` point each at
    its own redis-server."""

    def __init__(self, tmp: Path, key_version=3, key_ttl=""):
        self.tmp = tmp
        self.feast_repo = tmp / "feast_repo"
        self.larder_repo = tmp / "larder_repo"
        shutil.copytree(HERE / "feast_repo", self.feast_repo)
        shutil.copytree(HERE / "larder_repo", self.larder_repo)
        data = tmp / "data"
        gen_data.main(data)
        for repo in (self.feast_repo, self.larder_repo):
            (repo / "data").mkdir(exist_ok=True)
            for f in data.iterdir():
                shutil.copy(f, repo / "data" / f.name)
        self.key_version = key_version
        self.key_ttl = key_ttl
        self.feast_redis = servers.start_redis()
        self.larder_redis = servers.start_redis()

    def env(self, port: int) -> dict:
        env = dict(os.environ)
        env.update(GOLDEN_REDIS_PORT=str(port), GOLDEN_KEY_TTL=str(self.key_ttl),
                   GOLDEN_KEY_VERSION=str(self.key_version), PYTHONWARNINGS="ignore")
        return env

    def feast(self, *args, port=None):
        port = port or self.feast_redis.port
        return run([feast_bin(), *args], cwd=self.feast_repo, env=self.env(port))

    def larder(self, *args, port=None):
        port = port or self.larder_redis.port
        return run([larder_bin(), *args], cwd=self.larder_repo, env=self.env(port))

    def stop(self):
        self.feast_redis.stop()
        self.larder_redis.stop()


def run(argv, cwd, env):
    proc = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    if proc.returncode != 0:
        raise AssertionError(f"{' '.join(argv)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc.stdout


def keyspace(port: int) -> dict:
    """Every key of db 0 with its hash fields/values and whether it has a TTL, as raw bytes."""
    r = redis.Redis(port=port)
    out = {}
    for key in r.scan_iter(count=1000):
        assert r.type(key) == b"hash", f"unexpected {r.type(key)} at {key!r}"
        ttl = r.ttl(key)
        out[key] = (dict(r.hgetall(key)), "persistent" if ttl == -1 else "expiring")
    return out


def describe_difference(expected: dict, actual: dict, limit=5) -> str:
    lines = [f"feast: {len(expected)} keys, larder: {len(actual)} keys"]
    for key in sorted(set(expected) | set(actual)):
        if expected.get(key) != actual.get(key):
            lines.append(f"key {key!r}\n  feast:  {expected.get(key)}\n  larder: {actual.get(key)}")
            if len(lines) > limit:
                break
    return "\n".join(lines)


def _feast_online(self, script: Path, port: int) -> str:
    return run([sys.executable, str(script)], cwd=self.feast_repo, env=self.env(port))


Workspace.feast_online = _feast_online
