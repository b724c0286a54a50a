"""TLS on larder's `--tls-port` (OpenSSL through LarderTLS's memory BIOs), against redis-server
7.0 started with the same certificates (Debian builds it with TLS), with real clients:
redis-cli --tls, redis-py ssl=True in RESP2 and RESP3, client certificates required, optional and
refused (none, another CA), certificate reload by CONFIG SET and SIGHUP while a client stays
connected, bad configurations, garbage and stalled handshakes, and the connection features
(pipelining over two shards, MULTI, MONITOR, CLIENT KILL, idle timeout) over TLS.

Certificates are made here with the openssl CLI: a CA, a server certificate for 127.0.0.1 and
localhost, a client certificate, and a client certificate from another CA."""
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

import servers

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_protected_mode import HOST_ADDR, netns  # noqa: E402,F401 (netns: the fixture)

BINARY = servers.REPO_ROOT / ".build/release/larder"
pytestmark = [pytest.mark.skipif(servers.larder_is_standin(), reason="larder's TLS options"),
              pytest.mark.skipif(not BINARY.exists(), reason="needs scripts/build.sh"),
              pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl CLI")]


def openssl(cwd, *args):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def make_certs(d: Path):
    """ca, server (CN larder-1), server2 (CN larder-2, for reload), client, other-ca + stranger
    (a client certificate the server's CA did not sign), and server-enc.key (passphrase 'kpass')."""
    d.mkdir(parents=True, exist_ok=True)
    (d / "san.ext").write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    for ca in ("ca", "other-ca"):
        openssl(d, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", f"/CN={ca}",
                "-keyout", f"{ca}.key", "-out", f"{ca}.crt")
    for name, cn, ca, ext in (("server", "larder-1", "ca", True), ("server2", "larder-2", "ca", True),
                              ("client", "client", "ca", False), ("stranger", "stranger", "other-ca", False)):
        openssl(d, "req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={cn}", "-keyout", f"{name}.key",
                "-out", f"{name}.csr")
        openssl(d, "x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.crt", "-CAkey", f"{ca}.key",
                "-CAcreateserial", "-days", "2", *(["-extfile", "san.ext"] if ext else []), "-out", f"{name}.crt")
    openssl(d, "pkey", "-in", "server.key", "-aes256", "-passout", "pass:kpass", "-out", "server-enc.key")
    return d


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    return make_certs(tmp_path_factory.mktemp("tls") / "certs")


def tls_args(c: Path, port, auth="yes", cert="server"):
    return ["--tls-port", str(port), "--tls-cert-file", str(c / f"{cert}.crt"), "--tls-key-file", str(c / f"{cert}.key"),
            "--tls-ca-cert-file", str(c / "ca.crt"), "--tls-auth-clients", auth]


class TLSServer:
    """A server (larder or redis-server) with a plaintext port (servers.Server's readiness
    check and the test's observer) and a TLS port."""

    def __init__(self, kind, certs, auth="yes", extra=(), cert="server"):
        self.tls_port = servers.free_port()
        args = tls_args(certs, self.tls_port, auth, cert) + list(extra)
        if kind == "larder":
            self.server = servers.Server("larder", f"{BINARY} serve --port {{port}} --threads 2 --no-pin", args)
        else:
            self.server = servers.Server("redis", servers.redis_cmd_template(), args)
        self.server.start()
        self.certs = certs

    @property
    def port(self):
        return self.server.port

    def client(self, cert="client", protocol=2, **kwargs):
        c = self.certs
        extra = {} if cert is None else {"ssl_certfile": str(c / f"{cert}.crt"), "ssl_keyfile": str(c / f"{cert}.key")}
        return redis.Redis(host="127.0.0.1", port=self.tls_port, ssl=True, ssl_ca_certs=str(c / "ca.crt"),
                           protocol=protocol, socket_timeout=10, retry=Retry(NoBackoff(), 0), **extra, **kwargs)

    def plain(self):
        return self.server.client()

    def stop(self):
        self.server.stop()


@pytest.fixture(scope="module")
def pair(certs):
    started = [TLSServer("redis", certs), TLSServer("larder", certs)]
    yield started
    for s in started:
        s.stop()


def run_both(pair, body):
    out = []
    for s in pair:
        s.plain().flushall()
        out.append(body(s))
    assert out[0] == out[1], f"redis-server: {out[0]!r}\nlarder: {out[1]!r}"
    return out[1]


def test_redis_cli_tls(pair, certs):
    script = "SET k v\nGET k\nHSET h a 1 b 2\nHGETALL h\nDBSIZE\nPING\n"

    def cli(s):
        p = subprocess.run(["redis-cli", "--tls", "--cacert", str(certs / "ca.crt"), "--cert", str(certs / "client.crt"),
                            "--key", str(certs / "client.key"), "-h", "127.0.0.1", "-p", str(s.tls_port)],
                           input=script, capture_output=True, text=True, timeout=20)
        return p.returncode, p.stdout, p.stderr
    rc, out, _ = run_both(pair, cli)
    assert rc == 0 and out.split("\n")[:3] == ["OK", "v", "2"]


@pytest.mark.parametrize("protocol", [2, 3])
def test_redispy_resp2_resp3_pipelines_over_two_shards(pair, protocol):
    """A 2000-command pipeline over keys of both shards (hops), MSET across shards (a borrow),
    MULTI/EXEC, HELLO's answer: the same replies from larder over TLS as from redis-server."""
    def body(s):
        c = s.client(protocol=protocol)
        p = c.pipeline(transaction=False)
        for i in range(1000):
            p.set(f"k{i}", "x" * (i % 50))
            p.hset(f"h{i % 37}", f"f{i}", i)
        replies = p.execute()
        p = c.pipeline(transaction=False)
        for i in range(0, 1000, 7):
            p.get(f"k{i}")
        p.mset({f"m{i}": i for i in range(20)})
        p.mget([f"m{i}" for i in range(20)])
        p.hgetall("h3")
        replies += p.execute()
        tx = c.pipeline(transaction=True)
        tx.incr("m1").incr("m2").get("m1")
        replies += tx.execute()
        replies.append(c.dbsize())
        c.close()
        return replies
    run_both(pair, body)


def connect_raw_tls(port, certs, cert="client", server_hostname="127.0.0.1"):
    """A Python ssl socket (what redis-py uses), handshake done, or the ssl error raised."""
    ctx = ssl.create_default_context(cafile=str(certs / "ca.crt"))
    if cert:
        ctx.load_cert_chain(str(certs / f"{cert}.crt"), str(certs / f"{cert}.key"))
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    return ctx.wrap_socket(sock, server_hostname=server_hostname)


def ping_fails(s, certs, cert):
    """True when a client with `cert` (None: no certificate) is refused: the handshake, or in
    TLS 1.3 the first read after it, fails."""
    try:
        c = s.client(cert=cert)
        c.ping()
    except (redis.ConnectionError, ssl.SSLError, OSError) as e:
        return True, type(e).__name__
    return False, "PONG"


def test_client_certificate_required_and_refused(pair, certs):
    for s in pair:
        assert s.client().ping() is True
        for cert in (None, "stranger"):
            refused, what = ping_fails(s, certs, cert)
            assert refused, f"{s.server.name}: a client with {cert or 'no certificate'} was served ({what})"
        assert s.plain().ping() is True  # the server is still up
    log = pair[1].server.log_tail(200)
    assert "TLS handshake failed" in log and "certificate" in log, log


def test_auth_clients_optional_and_no(certs):
    for auth in ("optional", "no"):
        started = [TLSServer(kind, certs, auth=auth) for kind in ("redis", "larder")]
        try:
            for s in started:
                assert s.client(cert=None).ping() is True, f"{s.server.name} {auth}: no certificate refused"
                assert s.client().ping() is True
                refused, _ = ping_fails(s, certs, "stranger")
                # optional verifies a certificate that is presented; no ignores it.
                assert refused == (auth == "optional"), f"{s.server.name} tls-auth-clients {auth}: stranger refused={refused}"
        finally:
            for s in started:
                s.stop()


def peer_cn(port, certs):
    with connect_raw_tls(port, certs) as s:
        subject = dict(x[0] for x in s.getpeercert()["subject"])
        return subject["commonName"]


def set_cert(client, cert, key):
    """One CONFIG SET of both files: a new certificate needs its own key at the same time."""
    return client.execute_command("CONFIG", "SET", "tls-cert-file", str(cert), "tls-key-file", str(key))


def test_certificate_reload_by_config_set_and_sighup(certs, tmp_path):
    """New connections get the new certificate; a client connected before keeps working; a bad
    CONFIG SET answers an error naming the file and changes nothing."""
    live = tmp_path / "live"
    live.mkdir()
    for f in ("server.crt", "server.key"):
        shutil.copy(certs / f, live / f)
    s = TLSServer("larder", certs, extra=["--tls-cert-file", str(live / "server.crt"), "--tls-key-file", str(live / "server.key")])
    try:
        before = s.client()
        before.set("k", "1")
        assert peer_cn(s.tls_port, certs) == "larder-1"
        admin = s.plain()
        assert set_cert(admin, certs / "server2.crt", certs / "server2.key") == b"OK"
        assert peer_cn(s.tls_port, certs) == "larder-2"
        assert before.incr("k") == 2  # the connection made with the old certificate still works
        assert admin.config_get("tls-cert-file") == {"tls-cert-file": str(certs / "server2.crt")}

        with pytest.raises(redis.ResponseError) as missing:
            admin.config_set("tls-cert-file", str(certs / "missing.crt"))
        assert "missing.crt: no such file" in str(missing.value)
        with pytest.raises(redis.ResponseError) as mismatch:
            admin.config_set("tls-key-file", str(certs / "client.key"))
        assert "does not match the certificate" in str(mismatch.value) and "client.key" in str(mismatch.value)
        assert admin.config_get("tls-cert-file") == {"tls-cert-file": str(certs / "server2.crt")}
        assert peer_cn(s.tls_port, certs) == "larder-2" and s.client().get("k") == b"2"

        # SIGHUP re-reads the configured files: rotate server2's files in place, then signal.
        assert set_cert(admin, live / "server.crt", live / "server.key") == b"OK"
        assert peer_cn(s.tls_port, certs) == "larder-1"
        shutil.copy(certs / "server2.crt", live / "server.crt")
        shutil.copy(certs / "server2.key", live / "server.key")
        assert peer_cn(s.tls_port, certs) == "larder-1"  # nothing re-read the files yet
        os.kill(s.server.pid, signal.SIGHUP)
        deadline = time.monotonic() + 5
        while peer_cn(s.tls_port, certs) != "larder-2" and time.monotonic() < deadline:
            time.sleep(0.05)
        assert peer_cn(s.tls_port, certs) == "larder-2"
        assert before.get("k") == b"2"
    finally:
        s.stop()


def serve_fails(*args):
    p = subprocess.run([str(BINARY), "serve", "--port", str(servers.free_port()), *args],
                       capture_output=True, text=True, timeout=30)
    return p.returncode, p.stderr


def test_bad_configurations_refuse_to_start(certs):
    port = servers.free_port()
    rc, err = serve_fails(*tls_args(certs, port)[:2], "--tls-cert-file", str(certs / "nope.crt"),
                          "--tls-key-file", str(certs / "server.key"), "--tls-auth-clients", "no")
    assert rc == 1 and f"tls-cert-file {certs / 'nope.crt'}: no such file" in err, err
    rc, err = serve_fails("--tls-port", str(port), "--tls-cert-file", str(certs / "server.crt"),
                          "--tls-key-file", str(certs / "client.key"), "--tls-auth-clients", "no")
    assert rc == 1 and f"tls-key-file {certs / 'client.key'} does not match the certificate in tls-cert-file {certs / 'server.crt'}" in err, err
    rc, err = serve_fails("--tls-port", str(port), "--tls-cert-file", str(certs / "server.crt"),
                          "--tls-key-file", str(certs / "server.key"))
    assert rc == 1 and "tls-ca-cert-file" in err, err
    rc, err = serve_fails(*tls_args(certs, port), "--tls-protocols", "TLSv1.2 SSLv3")
    assert rc == 1 and "unknown protocol 'sslv3'" in err, err
    rc, err = serve_fails(*tls_args(certs, port), "--tls-key-file", str(certs / "server-enc.key"),
                          "--tls-key-file-pass", "wrong")
    assert rc == 1 and "server-enc.key: cannot load the private key" in err, err
    rc, err = serve_fails("--port", "0")
    assert rc != 0 and "not listen anywhere" in err, err


def wait_tls(port, certs, timeout=15):
    deadline = time.monotonic() + timeout
    while True:
        try:
            with connect_raw_tls(port, certs):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def test_config_file_tls_only_and_encrypted_key(certs, tmp_path):
    """`port 0` + `tls-port`: TLS only, from a config file with the tls-* names; the key file
    is encrypted and its passphrase, given in the file, never shows in CONFIG GET or the log."""
    tls_port = servers.free_port()
    conf = tmp_path / "larder.conf"
    conf.write_text(f"port 0\ntls-port {tls_port}\ntls-cert-file {certs / 'server.crt'}\n"
                    f"tls-key-file {certs / 'server-enc.key'}\ntls-key-file-pass kpass\n"
                    f"tls-ca-cert-file {certs / 'ca.crt'}\ntls-auth-clients optional\n"
                    "tls-protocols \"TLSv1.2 TLSv1.3\"\ntls-prefer-server-ciphers yes\n"
                    "tls-ciphersuites TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256\nthreads 1\npin no\n")
    log = tmp_path / "log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([str(BINARY), "serve", str(conf)], stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_tls(tls_port, certs)
        c = redis.Redis(host="localhost", port=tls_port, ssl=True, ssl_ca_certs=str(certs / "ca.crt"), protocol=3)
        got = c.config_get("tls-*")
        assert got["tls-port"] == str(tls_port) and got["tls-auth-clients"] == "optional"
        assert got["tls-key-file-pass"] == "" and got["tls-prefer-server-ciphers"] == "yes"
        assert got["tls-ciphersuites"] == "TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256"
        assert c.config_get("port") == {"port": "0"}
        with connect_raw_tls(tls_port, certs) as s:
            assert s.cipher()[0] in ("TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256")
        with pytest.raises(OSError):
            socket.create_connection(("127.0.0.1", 6379 if tls_port != 6379 else 6380), timeout=1).close()
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=10)
    assert b"kpass" not in log.read_bytes()


def test_garbage_and_stalled_handshakes_are_bounded_and_block_no_one(certs):
    s = TLSServer("larder", certs, extra=["--tls-handshake-timeout", "2000"])
    try:
        ok = s.client()
        ok.set("k", "v")
        rss_before = s.server.rss_kb()
        # Garbage: an HTTP request and 1 MB of random bytes on the TLS port are closed at once.
        for payload in (b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", os.urandom(1 << 20)):
            raw = socket.create_connection(("127.0.0.1", s.tls_port), timeout=5)
            try:
                raw.sendall(payload)
            except OSError:
                pass  # closed while sending: refused already
            t0 = time.monotonic()
            try:
                while raw.recv(65536):
                    pass
            except OSError:
                pass
            assert time.monotonic() - t0 < 3, "garbage was not closed"
            raw.close()
        # Stalled: 100 clients send half a ClientHello (a record header announcing more) and wait.
        stalled = []
        for _ in range(100):
            raw = socket.create_connection(("127.0.0.1", s.tls_port), timeout=5)
            raw.sendall(bytes([0x16, 0x03, 0x01, 0x02, 0x00]) + b"\x01" * 100)
            stalled.append(raw)
        t0 = time.monotonic()
        for _ in range(20):  # others are served meanwhile
            assert ok.get("k") == b"v"
        assert time.monotonic() - t0 < 1
        assert s.plain().ping()
        grown = s.server.rss_kb() - rss_before
        assert grown < 32 * 1024, f"RSS grew by {grown} KB for 100 stalled handshakes"
        time.sleep(2.5)  # past --tls-handshake-timeout 2000 ms: every stalled client is closed
        for raw in stalled:
            raw.settimeout(2)
            try:
                assert raw.recv(100) == b""
            except ConnectionResetError:
                pass
            raw.close()
        assert ok.get("k") == b"v"
        log = s.server.log_tail(300)
        assert "TLS handshake failed" in log and "TLS handshake timed out after 2000 ms" in log, log
    finally:
        s.stop()


def read_to_end(sock, timeout=5):
    """What a TLS socket reads until the server ends the stream (close_notify or EOF)."""
    sock.settimeout(timeout)
    data = b""
    try:
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                return data
            data += chunk
    except (ConnectionResetError, ssl.SSLEOFError):
        return data


def test_monitor_client_kill_and_idle_timeout_over_tls(certs):
    s = TLSServer("larder", certs)
    try:
        watcher = s.client()
        with watcher.monitor() as m:
            actor = s.client()
            actor.set("seen", "1")
            for _ in range(5):
                cmd = m.next_command()
                if cmd["command"] == "SET seen 1":
                    break
            else:
                pytest.fail("MONITOR over TLS did not see SET")
        # redis-py reconnects a pooled connection the server closed, so the victims are raw
        # TLS sockets: after CLIENT KILL / the idle timeout they read the end of the stream.
        victim = connect_raw_tls(s.tls_port, certs)
        victim.sendall(b"*3\r\n$6\r\nCLIENT\r\n$7\r\nSETNAME\r\n$6\r\nvictim\r\n")
        assert victim.recv(16) == b"+OK\r\n"
        admin = s.plain()
        victims = [c for c in admin.client_list() if c.get("name") == "victim"]
        assert len(victims) == 1
        assert admin.client_kill_filter(_id=victims[0]["id"]) == 1
        assert read_to_end(victim) == b""
        admin.config_set("timeout", 1)
        idle = connect_raw_tls(s.tls_port, certs)
        idle.sendall(b"*1\r\n$4\r\nPING\r\n")
        assert idle.recv(16) == b"+PONG\r\n"
        t0 = time.monotonic()
        assert read_to_end(idle) == b""
        assert 0.5 < time.monotonic() - t0 < 6  # timeout 1 s, swept once a second
        # admin sat idle through that second too, so the sweep may have closed it: a new client.
        s.plain().config_set("timeout", 0)
    finally:
        s.stop()


# Runs inside the network namespace: a TLS client (CA-verified; the certificate names 127.0.0.1,
# not the veth address, so no host name check) that sends PING and reads until the server closes.
REMOTE_TLS_CLIENT = r"""
import socket, ssl, sys
ctx = ssl.create_default_context(cafile=sys.argv[3])
ctx.check_hostname = False
s = ctx.wrap_socket(socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=5))
s.sendall(b"*1\r\n$4\r\nPING\r\n")
data = b""
try:
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
        if data == b"+PONG\r\n":
            break
except (OSError, ssl.SSLError):
    pass
sys.stdout.buffer.write(data)
"""


def remote_tls(netns, port, certs):
    done = subprocess.run(["ip", "netns", "exec", netns, sys.executable, "-c", REMOTE_TLS_CLIENT, HOST_ADDR, str(port),
                           str(certs / "ca.crt")], capture_output=True, timeout=30)
    assert done.returncode == 0, done.stderr.decode()
    return done.stdout


def test_protected_mode_applies_to_tls_clients(certs, netns):
    """A TLS client from a non-loopback address, no password: redis-server's DENIED text over
    TLS, then closed; with protected-mode no, served."""
    for extra, want in (([], b"-DENIED Redis is running in protected mode"), (["--protected-mode", "no"], b"+PONG\r\n")):
        got = []
        for kind in ("redis", "larder"):
            s = TLSServer(kind, certs, auth="no", extra=["--bind", "0.0.0.0", *extra])
            try:
                got.append(remote_tls(netns, s.tls_port, certs))
            finally:
                s.stop()
        assert got[0].startswith(want), got[0]
        assert got[1] == got[0]
