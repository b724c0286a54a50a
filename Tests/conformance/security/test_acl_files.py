"""Where users come from and where secrets must not go: the ACL file (start, ACL LOAD / SAVE, a
bad line refusing to start with file and line), `user` lines of the config file, the Kubernetes
Secret's users.acl accepted by the server, redis-cli --user/--pass and redis-py username=, and
the passwords absent from INFO, CLIENT LIST, ACL LIST/GETUSER/LOG, SLOWLOG, MONITOR and the log."""
import hashlib
import subprocess
import threading
import time

import pytest
import yaml

import servers
from resp import Err, RespConn

BINARY = servers.REPO_ROOT / ".build/release/larder"
pytestmark = [pytest.mark.skipif(servers.larder_is_standin(), reason="larder's CLI"),
              pytest.mark.skipif(not BINARY.exists(), reason="needs scripts/build.sh")]


def sha(password):
    return hashlib.sha256(password.encode()).hexdigest()


ACL_FILE = f"""user default off
user serving on #{sha('serve-pw')} ~feast:* resetchannels -@all +@read +@connection -@dangerous
user admin on #{sha('admin-pw')} ~* &* +@all
"""


def start_larder(*args):
    return servers.Server("larder", f"{BINARY} serve --port {{port}} --threads 2 --no-pin " + " ".join(args)).start()


def test_aclfile_users_load_save_and_reload(tmp_path, fresh_servers):
    results = []
    for kind in ("redis", "larder"):
        # Paths of the same length on both, so the replies are byte for byte comparable.
        acl = tmp_path / ("r" if kind == "redis" else "l") / "users.acl"
        acl.parent.mkdir()
        acl.write_text(ACL_FILE)
        s = fresh_servers(kind, ["--aclfile", str(acl)])
        with RespConn(s.port) as c:
            # (ACL LIST is compared in test_acl.py only where Redis' own output is deterministic.)
            out = [c.call("PING").raw, c.call("AUTH", "serving", "serve-pw").raw, c.call("GET", "feast:1").raw,
                   c.call("SET", "feast:1", "v").raw, c.call("ACL", "USERS").raw,
                   c.call("AUTH", "admin", "admin-pw").raw, c.call("ACL", "USERS").raw,
                   c.call("ACL", "GETUSER", "admin").raw,
                   c.call("CONFIG", "GET", "aclfile").raw.replace(str(acl).encode(), b"PATH"),
                   c.call("ACL", "SETUSER", "newbie", "on", ">new-pw", "+get", "~x").raw,
                   c.call("ACL", "SAVE").raw]
            saved = acl.read_text()
            assert "new-pw" not in saved and sha("new-pw") in saved
            # ACL LOAD with a bad line changes nothing and names file and line.
            acl.write_text(saved + "user broken on +nosuchcommand\n")
            out.append(c.call("ACL", "LOAD").raw.replace(str(acl).encode(), b"PATH"))
            out.append(c.call("ACL", "USERS").raw)
            acl.write_text(ACL_FILE)
            out.append(c.call("ACL", "LOAD").raw)
            # The admin connection ran as a user of the old set: closed, as Redis frees old users.
            assert c.is_closed_by_server(), kind
        with RespConn(s.port) as c:
            out.append(c.call("AUTH", "newbie", "new-pw").raw)
            out.append(c.call("AUTH", "admin", "admin-pw").raw)
            out.append(c.call("ACL", "USERS").raw)
        results.append(out)
    assert results[1] == results[0]


def test_a_bad_aclfile_refuses_to_start_naming_file_and_line(tmp_path):
    acl = tmp_path / "users.acl"
    acl.write_text(ACL_FILE + f"user typo on #{sha('x')} +@nosuchcategory\n")
    p = subprocess.run([str(BINARY), "serve", "--port", str(servers.free_port()), "--aclfile", str(acl)],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 1
    assert f"{acl}:4: Error in applying operation '+@nosuchcategory': Unknown command or category name in ACL." \
        in p.stderr, p.stderr
    missing = subprocess.run([str(BINARY), "serve", "--port", str(servers.free_port()), "--aclfile",
                              str(tmp_path / "nope.acl")], capture_output=True, text=True, timeout=60)
    assert missing.returncode == 1 and "nope.acl" in missing.stderr


def test_config_file_user_lines_and_not_both(tmp_path):
    conf = tmp_path / "larder.conf"
    conf.write_text(f"user reader on #{sha('r-pw')} ~* +@read\nuser default on nopass ~* +@all\n")
    s = servers.Server("larder", f"{BINARY} serve {conf} --port {{port}} --threads 1").start()
    try:
        with RespConn(s.port) as c:
            assert c.call("AUTH", "reader", "r-pw").value == b"OK"
            assert c.call("SET", "a", "b").value == Err(b"NOPERM this user has no permissions to run the 'set' command")
    finally:
        s.stop()
    acl = tmp_path / "users.acl"
    acl.write_text(ACL_FILE)
    p = subprocess.run([str(BINARY), "serve", str(conf), "--port", str(servers.free_port()), "--aclfile", str(acl)],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 1 and "either an ACL file or declare users" in p.stderr, p.stderr


def test_the_kubernetes_secret_users_file_is_accepted(tmp_path):
    """docker/k8s: the ConfigMap names `aclfile`, the Secret holds users.acl; with its
    placeholders replaced by real hashes the server starts and its users behave as described."""
    docs = list(yaml.safe_load_all((servers.REPO_ROOT / "docker/k8s/secret.yaml").read_text()))
    users = next(d for d in docs if d["metadata"]["name"] == "larder-secrets")["stringData"]["users.acl"]
    for role in ("SERVING", "MATERIALIZE", "ADMIN"):
        users = users.replace(f"#REPLACE-WITH-SHA256-OF-THE-{role}-PASSWORD", "#" + sha(role.lower() + "-pw"))
    (tmp_path / "users.acl").write_text(users)
    conf = yaml.safe_load((servers.REPO_ROOT / "docker/k8s/configmap.yaml").read_text())["data"]["larder.conf"]
    lines = []
    for line in conf.splitlines():
        words = line.split()
        if not words or words[0].startswith("#") or words[0].startswith("tls-"):
            continue  # tls-*: the TLS work's settings
        if words[0] == "aclfile":
            line = f"aclfile {tmp_path / 'users.acl'}"
        elif words[0] == "dir":
            line = f"dir {tmp_path}"
        elif words[0] in ("port", "bind", "http-port"):
            continue
        lines.append(line)
    (tmp_path / "larder.conf").write_text("\n".join(lines) + "\n")
    s = servers.Server("larder", f"{BINARY} serve {tmp_path / 'larder.conf'} --port {{port}} --bind 127.0.0.1").start()
    try:
        with RespConn(s.port) as c:
            assert isinstance(c.call("PING").value, Err)  # default user off
            assert c.call("AUTH", "serving", "serving-pw").value == b"OK"
            assert c.call("HSET", "h", "f", "v").value.message.startswith(b"NOPERM")
            assert c.call("AUTH", "materialize", "materialize-pw").value == b"OK"
            assert c.call("HSET", "h", "f", "v").value == 1
            assert c.call("FLUSHALL").value.message.startswith(b"NOPERM")
            assert c.call("AUTH", "admin", "admin-pw").value == b"OK"
            assert c.call("CONFIG", "GET", "aclfile").value[1] == str(tmp_path / "users.acl").encode()
    finally:
        s.stop()


def test_redis_cli_and_redis_py_connect_as_users():
    s = start_larder()
    try:
        with RespConn(s.port) as c:
            c.call("ACL", "SETUSER", "cli", "on", ">cli-pw", "~*", "+@all")
        out = subprocess.run(["redis-cli", "-p", str(s.port), "--user", "cli", "--pass", "cli-pw", "--no-auth-warning",
                              "ACL", "WHOAMI"], capture_output=True, text=True, timeout=30)
        assert out.stdout.strip() == "cli"
        bad = subprocess.run(["redis-cli", "-p", str(s.port), "--user", "cli", "--pass", "wrong", "--no-auth-warning",
                              "PING"], capture_output=True, text=True, timeout=30)
        assert "WRONGPASS" in bad.stdout + bad.stderr
        for protocol in (2, 3):
            r = s.client(username="cli", password="cli-pw", protocol=protocol)
            assert r.execute_command("ACL", "WHOAMI") in (b"cli", "cli")
            assert r.set("k", "v")
            r.close()
    finally:
        s.stop()


SECRET = "Sup3r-S3cret-Passw0rd"


def test_passwords_never_leak(tmp_path, fresh_servers):
    """The same secrets go through AUTH, HELLO AUTH, ACL SETUSER and CONFIG SET requirepass on
    both servers; SLOWLOG and MONITOR show `(redacted)` at the same places; INFO, CLIENT LIST,
    ACL LIST/GETUSER/LOG and larder's log never contain them."""
    seen = {}
    for kind in ("redis", "larder"):
        s = fresh_servers(kind)
        with RespConn(s.port) as c:
            c.call("CONFIG", "SET", "slowlog-log-slower-than", "0")
        monitor_lines = []
        mon = RespConn(s.port)
        mon.send_raw(b"*1\r\n$7\r\nMONITOR\r\n")
        assert mon.read_reply().value == b"OK"

        def read_monitor():
            try:
                while True:
                    monitor_lines.append(mon.read_reply().value)
            except Exception:
                pass
        t = threading.Thread(target=read_monitor, daemon=True)
        t.start()
        with RespConn(s.port) as c:
            c.call("ACL", "SETUSER", "leak", "on", ">" + SECRET, "~*", "+@all")
            c.call("AUTH", "leak", SECRET)
            c.call("AUTH", "leak", SECRET + "-wrong")
            c.call("HELLO", "3", "AUTH", "leak", SECRET)
        with RespConn(s.port) as c:
            c.call("HELLO", "2", "AUTH", "leak", SECRET)
            c.call("CONFIG", "SET", "requirepass", SECRET + "-default")
            c.call("AUTH", SECRET + "-default")
            time.sleep(0.5)
            texts = {
                "info": c.call("INFO", "everything").raw,
                "client list": c.call("CLIENT", "LIST").raw,
                "acl list": c.call("ACL", "LIST").raw + c.call("ACL", "GETUSER", "leak").raw,
                "acl log": c.call("ACL", "LOG").raw,
                "slowlog": c.call("SLOWLOG", "GET", "100").raw,
            }
        mon.close()
        t.join(timeout=5)
        texts["monitor"] = b"\n".join(m for m in monitor_lines if isinstance(m, bytes))
        if kind == "larder":
            texts["log"] = s.log_tail(10_000).encode()
        for where, text in texts.items():
            assert SECRET.encode() not in text, f"{kind}: the password is in {where}"
        seen[kind] = (texts["monitor"], texts["slowlog"])
    # AUTH user pass x2, HELLO AUTH x2 (2 each), AUTH pass (1); ACL and CONFIG are admin: not shown.
    assert [seen[k][0].count(b'"(redacted)"') for k in ("redis", "larder")] == [9, 9], seen
    assert seen["larder"][1].count(b"(redacted)") == seen["redis"][1].count(b"(redacted)")
    # The redacted argument lists are the same on both (timestamps and ports aside).
    def shape(monitor):
        return sorted(line.split(b"] ", 1)[1] for line in monitor.splitlines() if b"redacted" in line)
    assert shape(seen["larder"][0]) == shape(seen["redis"][0])
