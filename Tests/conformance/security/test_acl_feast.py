"""Feast connects as ACL users through `username=...,password=...` in its connection string,
against larder and redis-server alike: a materialization user (read and write on every key, no
dangerous commands) runs `feast apply` and `feast materialize`; a read-only serving user reads
the same values with `get_online_features`, and gets -NOPERM when it tries to materialize.
Also `larder materialize --target redis://user:pass@host:port` authenticates as that user."""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import servers
from resp import RespConn

HERE = Path(__file__).resolve().parent
FEAST_DIR = HERE.parent / "feast"
VENV = Path(os.environ.get("LARDER_CACHE", Path.home() / ".cache/larder")) / "venv-r7"
pytestmark = [pytest.mark.skipif(servers.larder_is_standin(), reason="compares larder with redis"),
              pytest.mark.skipif(not (VENV / "bin/feast").exists(), reason="needs the Feast venv (scripts/setup.sh)")]

# The example users of docs/security.md, without Larder's own FEATURES.* commands (unknown to
# redis-server, which refuses a rule naming them).
USERS = {
    "materializer": ["on", ">mat-pw-1", "~*", "resetchannels", "-@all", "+@read", "+@write", "+@keyspace",
                     "+@connection", "-@dangerous"],
    "serving": ["on", ">serve-pw-2", "~*", "resetchannels", "-@all", "+@read", "+@connection", "-@dangerous"],
}

ADMIN = ["on", ">admin-pw-3", "~*", "&*", "+@all"]


def test_feast_connects_as_restricted_users(tmp_path):
    """One Feast process drives both servers (tools/feast_acl_probe.py): apply and materialize as
    `materializer`, read as `serving`, materialize as `serving` (NOPERM), a wrong password."""
    data = tmp_path / "data"
    subprocess.run([VENV / "bin/python", FEAST_DIR / "repo" / "generate_data.py", data], check=True,
                   stdout=subprocess.DEVNULL)
    started = {"redis": servers.start_redis(), "larder": servers.start_larder()}
    try:
        argv = [VENV / "bin/python", HERE / "tools" / "feast_acl_probe.py"]
        for kind, server in started.items():
            with RespConn(server.port) as c:
                for name, rules in list(USERS.items()) + [("admin", ADMIN)]:
                    assert c.call("ACL", "SETUSER", name, *rules).value == b"OK"
                # Nobody else gets in: the default user is off.
                assert c.call("ACL", "SETUSER", "default", "off").value == b"OK"
            repo = tmp_path / kind
            (repo / "data").mkdir(parents=True)
            shutil.copy(FEAST_DIR / "repo" / "features.py", repo / "features.py")
            for f in data.glob("*.parquet"):
                shutil.copy(f, repo / "data" / f.name)
            argv += [repo, server.port]
        env = dict(os.environ, FEAST_USAGE="False")
        p = subprocess.run([str(a) for a in argv], env=env, stdin=subprocess.DEVNULL, capture_output=True,
                           text=True, timeout=600)
        assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
        results = json.loads(p.stdout.strip().splitlines()[-1])
        logs = {}
        for kind, server in started.items():
            with RespConn(server.port) as c:
                assert c.call("AUTH", "admin", "admin-pw-3").value == b"OK"
                logs[kind] = c.call("ACL", "LOG").value
                assert not any(pw in c.call("ACL", "LIST").raw for pw in (b"mat-pw-1", b"serve-pw-2"))
    finally:
        for server in started.values():
            server.stop()
    for kind, server in started.items():
        r = results[str(server.port)]
        assert r["values"]["age"][0] is not None and r["values"]["age"][2] is None, (kind, r["values"])
        # redis-py raises NoPermissionError for -NOPERM (and drops the code from the text).
        assert r["serving_materialize"].startswith("NoPermissionError") and \
            "this user has no permissions to run the 'hset' command" in r["serving_materialize"], \
            (kind, r["serving_materialize"])
        assert "WRONGPASS" in r["wrong_password"] or "invalid username-password" in r["wrong_password"], \
            (kind, r["wrong_password"])
        entries = [dict(zip(e[0::2], e[1::2])) for e in logs[kind]]
        assert {(e[b"reason"], e[b"username"]) for e in entries} >= {(b"command", b"serving"), (b"auth", b"serving")}, \
            (kind, entries)
    assert results[str(started["larder"].port)]["values"] == results[str(started["redis"].port)]["values"]


def _client_test_module():
    import importlib.util
    spec = importlib.util.spec_from_file_location("materialize_client", HERE.parent / "cli" / "test_materialize_client.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_larder_materialize_authenticates_as_the_user(tmp_path):
    """`--target redis://user:pass@...` and a Feast connection string with `username=` both log in
    as that user: the materializer writes, the serving user gets -NOPERM."""
    mc = _client_test_module()
    server = servers.start_larder()
    try:
        with RespConn(server.port) as c:
            for name, rules in USERS.items():
                assert c.call("ACL", "SETUSER", name, *rules).value == b"OK"
            c.call("ACL", "SETUSER", "default", "off")
        repo = mc.make_repo(tmp_path / "url", "{type: redis, connection_string: '127.0.0.1:1'}")
        proc, _ = mc.materialize(repo, "--target", f"redis://materializer:mat-pw-1@127.0.0.1:{server.port}")
        assert proc.returncode == 0, proc.stderr
        # Into database 1, where nothing is stored yet: the serving user has to write, and may not.
        proc, _ = mc.materialize(repo, "--target", f"redis://serving:serve-pw-2@127.0.0.1:{server.port}/1")
        assert proc.returncode != 0 and "NOPERM" in proc.stderr, proc.stderr
        conn = f"127.0.0.1:{server.port},username=materializer,password=mat-pw-1"
        repo = mc.make_repo(tmp_path / "feast", f"{{type: redis, connection_string: '{conn}'}}")
        proc, _ = mc.materialize(repo)
        assert proc.returncode == 0, proc.stderr
        assert "mat-pw-1" not in proc.stderr + proc.stdout
        with RespConn(server.port) as c:
            c.call("AUTH", "serving", "serve-pw-2")
            assert c.call("DBSIZE").value == mc.ENTITIES
    finally:
        server.stop()
