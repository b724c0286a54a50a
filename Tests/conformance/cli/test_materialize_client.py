"""`larder materialize`'s client to the online store, as a careless user finds it (issue 11,
section 3; issue 15's redis_sentinel item): timeouts instead of a silent hang, reconnects after
a dropped connection, passwords with URL metacharacters, Redis Sentinel.

Every server is a real redis-server (or redis-server --sentinel) on a free port, or a Python
socket stand-in where the point is a server that misbehaves. The binary: LARDER_BIN, else the
newer of .build/release/larder and .build/debug/larder."""
import os
import re
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import redis

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "lib"))
sys.path.insert(0, str(HERE))
import servers  # noqa: E402
from test_operator_cli import larder_bin  # noqa: E402

ENTITIES = 12

DEFINITIONS = """
entities:
  - {name: driver, join_keys: [driver_id], value_type: INT64}
file_sources:
  - {name: stats, path: data/stats.csv, timestamp_field: event_timestamp}
feature_views:
  - name: driver_stats
    entities: [driver]
    schema:
      - {name: driver_id, dtype: Int64}
      - {name: conv_rate, dtype: Float64}
      - {name: city, dtype: String}
    source: stats
"""


def make_repo(tmp: Path, online_store: str) -> Path:
    repo = tmp / "repo"
    (repo / "data").mkdir(parents=True)
    (repo / "feature_store.yaml").write_text(f"project: client\nregistry: data/registry.db\nprovider: local\n"
                                            f"online_store: {online_store}\n")
    (repo / "definitions.yaml").write_text(DEFINITIONS)
    rows = ["driver_id,event_timestamp,conv_rate,city"]
    rows += [f"{1000 + i},2025-01-01T00:{i:02d}:00Z,{i / 10},city{i}" for i in range(ENTITIES)]
    (repo / "data" / "stats.csv").write_text("\n".join(rows) + "\n")
    return repo


def materialize(repo: Path, *extra, env=None, timeout=120):
    began = time.monotonic()
    proc = subprocess.run([larder_bin(), "materialize", str(repo), "2024-12-31T00:00:00", "2025-01-02T00:00:00",
                           "--no-progress", *map(str, extra)], capture_output=True, text=True, timeout=timeout,
                          env=dict(os.environ, **(env or {})))
    return proc, time.monotonic() - began


def keyspace(port: int, password=None) -> dict:
    r = redis.Redis(port=port, password=password)
    return {k: r.hgetall(k) for k in r.keys("*")}


@pytest.fixture
def redis_server():
    started = []

    def start(*args):
        server = servers.Server("redis", servers.redis_cmd_template(), extra_args=args)
        server.start()
        started.append(server)
        return server
    yield start
    for server in started:
        server.stop()


class SilentListener:
    """Accepts connections (the kernel does, from the backlog) and never reads or answers."""

    def __init__(self, backlog=8):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(backlog)
        self.port = self.sock.getsockname()[1]

    def close(self):
        self.sock.close()


# --- 1. timeouts -------------------------------------------------------------------------


def test_silent_target_fails_within_the_timeout_flag(tmp_path):
    """The issue's case: a listener that accepts and never answers. Without a timeout the run
    hung forever; with --timeout 1 it fails in about a second, naming the target and what
    happened, exit status non-zero."""
    silent = SilentListener()
    try:
        repo = make_repo(tmp_path, f'{{type: redis, connection_string: "127.0.0.1:{silent.port}"}}')
        proc, took = materialize(repo, "--timeout", "1")
    finally:
        silent.close()
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert f"127.0.0.1:{silent.port}" in proc.stderr and "no reply within 1.0 s (read timeout)" in proc.stderr, proc.stderr
    assert took < 10, f"took {took:.1f} s"
    assert "reconnecting" not in proc.stderr, "a timeout is not retried"


def test_silent_target_fails_within_the_connection_string_socket_timeout(tmp_path):
    """The same from feature_store.yaml alone: redis-py's socket_timeout, which Feast passes
    through from the connection string, is Larder's read timeout too."""
    silent = SilentListener()
    try:
        repo = make_repo(tmp_path, f'{{type: redis, connection_string: "127.0.0.1:{silent.port},socket_timeout=0.5"}}')
        proc, took = materialize(repo)
    finally:
        silent.close()
    assert proc.returncode == 1
    assert f"127.0.0.1:{silent.port}" in proc.stderr and "no reply within 0.5 s (read timeout)" in proc.stderr, proc.stderr
    assert took < 10


def test_connect_timeout(tmp_path):
    """A listener whose backlog is full: the handshake never completes. --connect-timeout bounds it."""
    silent = SilentListener(backlog=0)
    filler = socket.create_connection(("127.0.0.1", silent.port))  # takes the only backlog slot
    try:
        repo = make_repo(tmp_path, f'{{type: redis, connection_string: "127.0.0.1:{silent.port}"}}')
        proc, took = materialize(repo, "--connect-timeout", "0.5", "--timeout", "30")
    finally:
        filler.close()
        silent.close()
    assert proc.returncode == 1
    assert f"redis://127.0.0.1:{silent.port}/0: cannot connect: connect timed out after 0.5 s" in proc.stderr, proc.stderr
    assert took < 10


def test_bad_timeout_values_are_refused(tmp_path):
    repo = make_repo(tmp_path, '{type: redis, connection_string: "127.0.0.1:1"}')
    proc, _ = materialize(repo, "--timeout", "0")
    assert proc.returncode != 0 and "--timeout must be a number of seconds greater than 0" in proc.stderr, proc.stderr
    repo2 = make_repo(tmp_path / "b", '{type: redis, connection_string: "127.0.0.1:1,socket_timeout=-1"}')
    proc, _ = materialize(repo2)
    assert proc.returncode != 0 and "bad socket_timeout in connection_string" in proc.stderr, proc.stderr


# --- 1. reconnects -----------------------------------------------------------------------


class DroppingProxy:
    """Forwards to a real server; the first `drops` connections are cut (both ways) as soon as
    the client has sent `trigger` (the proxy forwards the first half of that chunk, so the
    server may have received part of the pipeline)."""

    def __init__(self, upstream_port: int, drops=1, trigger=b"HSET", nth=1):
        self.upstream = upstream_port
        self.drops = drops
        self.trigger = trigger
        self.nth = nth  # cut once the connection has carried this many triggers
        self.seen = 0
        self.connections = 0
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.closing = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self.closing:
            try:
                client, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            cut = self.connections <= self.drops
            upstream = socket.create_connection(("127.0.0.1", self.upstream))
            threading.Thread(target=self._pipe, args=(client, upstream, cut), daemon=True).start()
            threading.Thread(target=self._pipe, args=(upstream, client, False), daemon=True).start()

    def _pipe(self, src, dst, cut):
        seen = 0
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                seen += data.count(self.trigger) if cut else 0
                if cut and seen >= self.nth:
                    dst.sendall(data[: len(data) // 2])
                    time.sleep(0.2)  # let the server apply what it got
                    break
                dst.sendall(data)
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()

    def close(self):
        self.closing = True
        self.sock.close()


def test_a_dropped_connection_is_reconnected_and_the_batch_resent(tmp_path, redis_server):
    """The connection is cut in the middle of the first HSET batch (part of it reached the
    server). The client reconnects with backoff and sends the batch again: the keyspace is
    exactly the one a run without the cut writes."""
    direct, through = redis_server(), redis_server()
    repo = make_repo(tmp_path, '{type: redis, connection_string: "127.0.0.1:1"}')
    ok, _ = materialize(repo, "--target", f"redis://127.0.0.1:{direct.port}", "--batch-size", "5")
    assert ok.returncode == 0, ok.stderr
    proxy = DroppingProxy(through.port)
    try:
        proc, _ = materialize(repo, "--target", f"redis://127.0.0.1:{proxy.port}", "--batch-size", "5")
    finally:
        proxy.close()
    assert proc.returncode == 0, proc.stderr
    # Batches are pipelined: the client may have sent more after the cut, so the proxy's close
    # can arrive as a reset instead of an end of stream; either way the batch named is the
    # oldest unanswered one, the HSETs the cut interrupted.
    assert re.search(rf"127\.0\.0\.1:{proxy.port}/0: (connection closed by the server|connection lost while "
                     rf"(reading|sending): Connection reset by peer|connection lost while sending: Broken pipe) "
                     rf"while writing a batch of 5 entities \(HSET\); reconnecting in 0\.5 s \(attempt 1 of 3\)", proc.stderr), proc.stderr
    assert proxy.connections == 2
    expected = keyspace(direct.port)
    assert len(expected) == ENTITIES
    assert keyspace(through.port) == expected


def test_a_connection_lost_mid_window_resends_every_unanswered_batch(tmp_path, redis_server):
    """Batches of 2 entities are pipelined (HSETs of one batch and the HMGETs of the next are
    sent before earlier replies are read). The connection is cut once the 5th HSET has passed,
    with batches sent and not answered: after the reconnect every unanswered batch is sent again,
    in order, and the keyspace is exactly the one of a run without the cut."""
    direct, through = redis_server(), redis_server()
    repo = make_repo(tmp_path, '{type: redis, connection_string: "127.0.0.1:1"}')
    ok, _ = materialize(repo, "--target", f"redis://127.0.0.1:{direct.port}", "--batch-size", "2")
    assert ok.returncode == 0, ok.stderr
    proxy = DroppingProxy(through.port, nth=5)
    try:
        proc, _ = materialize(repo, "--target", f"redis://127.0.0.1:{proxy.port}", "--batch-size", "2")
    finally:
        proxy.close()
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.count("reconnecting in 0.5 s (attempt 1 of 3)") == 1, proc.stderr
    assert proxy.connections == 2
    expected = keyspace(direct.port)
    assert len(expected) == ENTITIES
    assert keyspace(through.port) == expected
    assert f"{ENTITIES} written" in proc.stderr + proc.stdout, proc.stderr


def test_dump_resp_is_the_stream_a_run_sends(tmp_path, redis_server):
    """`--dump-resp FILE` connects to nothing (the target here does not exist) and writes the
    commands a run sends into an empty store; replayed with `redis-cli --pipe` they give the
    keyspace a real run gives."""
    direct, replayed = redis_server(), redis_server()
    repo = make_repo(tmp_path, '{type: redis, connection_string: "127.0.0.1:1"}')
    dump = tmp_path / "run.resp"
    proc, _ = materialize(repo, "--batch-size", "5", "--dump-resp", dump)
    assert proc.returncode == 0, proc.stderr
    text = dump.read_bytes()
    assert text.count(b"HMGET") == ENTITIES and text.count(b"HSET") == ENTITIES
    pipe = subprocess.run(["redis-cli", "-p", str(replayed.port), "--pipe"], input=text, capture_output=True, timeout=30)
    assert pipe.returncode == 0 and b"errors: 0" in pipe.stdout, pipe.stdout + pipe.stderr
    ok, _ = materialize(repo, "--target", f"redis://127.0.0.1:{direct.port}", "--batch-size", "5")
    assert ok.returncode == 0, ok.stderr
    assert len(keyspace(direct.port)) == ENTITIES
    assert keyspace(replayed.port) == keyspace(direct.port)


def test_reconnects_give_up_with_a_clear_message(tmp_path, redis_server):
    """Every connection is cut: after --retries reconnects the run fails naming the target,
    what it was doing and how many attempts it made."""
    target = redis_server()
    repo = make_repo(tmp_path, '{type: redis, connection_string: "127.0.0.1:1"}')
    proxy = DroppingProxy(target.port, drops=100, trigger=b"HMGET")
    try:
        proc, _ = materialize(repo, "--target", f"redis://127.0.0.1:{proxy.port}", "--retries", "2")
        none, _ = materialize(repo, "--target", f"redis://127.0.0.1:{proxy.port}", "--retries", "0")
    finally:
        proxy.close()
    assert proc.returncode == 1
    assert f"127.0.0.1:{proxy.port}/0: connection closed by the server while reading _ts:driver_stats of " \
           f"{ENTITIES} keys (HMGET); gave up after 2 reconnect attempts" in proc.stderr, proc.stderr
    assert proc.stderr.count("reconnecting in") == 2
    assert "reconnecting in 0.5 s (attempt 1 of 2)" in proc.stderr and "reconnecting in 1.0 s (attempt 2 of 2)" in proc.stderr
    assert none.returncode == 1 and "(no reconnect: --retries 0)" in none.stderr, none.stderr


# --- 2. passwords --------------------------------------------------------------------------

PASSWORD = "p@ss:w%rd/#?"


def test_password_with_url_metacharacters(tmp_path, redis_server):
    """A redis-server with requirepass holding @ : % / # ?: a redis:// URL carries it
    percent-encoded; Feast's connection_string carries it as written (Feast does not decode
    it, so neither does Larder). Both runs write the keys."""
    target = redis_server("--requirepass", PASSWORD)
    encoded = "p%40ss%3Aw%25rd%2F%23%3F"
    repo = make_repo(tmp_path, '{type: redis, connection_string: "127.0.0.1:1"}')
    proc, _ = materialize(repo, "--target", f"redis://:{encoded}@127.0.0.1:{target.port}")
    assert proc.returncode == 0, proc.stderr
    assert len(keyspace(target.port, PASSWORD)) == ENTITIES
    redis.Redis(port=target.port, password=PASSWORD).flushall()
    with_user, _ = materialize(repo, "--target", f"redis://default:{encoded}@127.0.0.1:{target.port}/0")
    assert with_user.returncode == 0, with_user.stderr
    assert len(keyspace(target.port, PASSWORD)) == ENTITIES
    redis.Redis(port=target.port, password=PASSWORD).flushall()

    feast_repo = make_repo(tmp_path / "feast", f'{{type: redis, connection_string: "127.0.0.1:{target.port},password={PASSWORD}"}}')
    proc, _ = materialize(feast_repo)
    assert proc.returncode == 0, proc.stderr
    assert len(keyspace(target.port, PASSWORD)) == ENTITIES

    wrong, _ = materialize(repo, "--target", f"redis://:p%40ss@127.0.0.1:{target.port}")
    assert wrong.returncode == 1 and "AUTH failed" in wrong.stderr, wrong.stderr
    bad_escape, _ = materialize(repo, "--target", f"redis://:100%@127.0.0.1:{target.port}")
    assert bad_escape.returncode != 0 and "bad percent-escape" in bad_escape.stderr, bad_escape.stderr


# --- issue 15: redis_sentinel ----------------------------------------------------------------


@pytest.fixture
def sentinel(tmp_path, redis_server):
    """A primary (with a password) and one redis-server --sentinel monitoring it as 'mymaster'."""
    primary = redis_server("--requirepass", "pw")
    port = servers.free_port()
    conf = tmp_path / "sentinel.conf"
    conf.write_text(f"port {port}\nsentinel monitor mymaster 127.0.0.1 {primary.port} 1\n"
                    f"sentinel auth-pass mymaster pw\n")
    log = open(tmp_path / "sentinel.log", "wb")
    proc = subprocess.Popen(["redis-server", str(conf), "--sentinel"], stdout=log, stderr=subprocess.STDOUT,
                            preexec_fn=servers._die_with_parent)
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                reply = redis.Redis(port=port).execute_command("SENTINEL", "get-master-addr-by-name", "mymaster")
                if reply:
                    break
            except redis.ConnectionError:
                pass
            assert time.monotonic() < deadline, (tmp_path / "sentinel.log").read_text()
            time.sleep(0.1)
        yield primary, port
    finally:
        proc.terminate()
        proc.wait(10)
        log.close()


def test_redis_sentinel_writes_to_the_primary_the_sentinels_name(tmp_path, sentinel):
    """redis_type: redis_sentinel: the connection string lists sentinels (the first one here
    is down: the next is asked), sentinel_master names the master, the password goes to the
    primary only (as redis-py's Sentinel does for Feast). The keys land in the primary."""
    primary, sentinel_port = sentinel
    dead = servers.free_port()
    repo = make_repo(tmp_path, f'{{type: redis, redis_type: redis_sentinel, sentinel_master: mymaster, '
                               f'connection_string: "127.0.0.1:{dead},127.0.0.1:{sentinel_port},password=pw"}}')
    proc, _ = materialize(repo)
    assert proc.returncode == 0, proc.stderr
    assert f"sentinel 127.0.0.1:{sentinel_port}: the primary of 'mymaster' is 127.0.0.1:{primary.port}" in proc.stderr, proc.stderr
    assert len(keyspace(primary.port, "pw")) == ENTITIES
    assert redis.Redis(port=sentinel_port).execute_command("SENTINEL", "get-master-addr-by-name", "mymaster")


def test_redis_sentinel_unknown_master_is_a_clear_error(tmp_path, sentinel):
    primary, sentinel_port = sentinel
    dead = servers.free_port()
    repo = make_repo(tmp_path, f'{{type: redis, redis_type: redis_sentinel, sentinel_master: other, '
                               f'connection_string: "127.0.0.1:{dead},127.0.0.1:{sentinel_port},password=pw"}}')
    proc, _ = materialize(repo)
    assert proc.returncode == 1
    assert "redis_sentinel: no sentinel gave the primary of master 'other' (sentinel_master in feature_store.yaml): " \
           f"redis://127.0.0.1:{dead}/0: cannot connect: Connection refused; " \
           f"127.0.0.1:{sentinel_port}: no master named 'other'" in proc.stderr, proc.stderr
    assert keyspace(primary.port, "pw") == {}


# --- 3. materialize-incremental with END before a view's start ---------------------------------


def test_incremental_end_before_the_start_is_an_error_naming_both_times(tmp_path, redis_server):
    """After a run up to 2025-01-09, `materialize-incremental REPO 2025-01-05` is refused with
    both times and where the start comes from (was: "from 2025-01-09 to 2025-01-05", exit 0).
    A view without a recorded run starts at now - ttl: an END before that is refused too."""
    target = redis_server()
    repo = make_repo(tmp_path, f'{{type: redis, connection_string: "127.0.0.1:{target.port}"}}')

    def incremental(end):
        return subprocess.run([larder_bin(), "materialize-incremental", str(repo), end, "--no-progress"],
                              capture_output=True, text=True, timeout=120)
    (repo / "definitions.yaml").write_text(DEFINITIONS.replace("    source: stats", "    ttl: 2d\n    source: stats"))
    never = incremental("2025-01-05T00:00:00")
    assert never.returncode == 1, never.stderr
    assert "END 2025-01-05T00:00:00Z is before " in never.stderr
    assert ", now minus the ttl of view driver_stats (172800 s; it has no recorded run)" in never.stderr, never.stderr

    first, _ = materialize(repo)  # records [2024-12-31, 2025-01-02]
    assert first.returncode == 0, first.stderr
    later = incremental("2025-01-09T00:00:00")
    assert later.returncode == 0, later.stderr
    assert "driver_stats: from 2025-01-02T00:00:00Z to 2025-01-09T00:00:00Z" in later.stderr, later.stderr
    back = incremental("2025-01-05T00:00:00")
    assert back.returncode == 1, back.stdout + back.stderr
    assert "larder materialize-incremental: END 2025-01-05T00:00:00Z is before 2025-01-09T00:00:00Z, " \
           "the end of the last run of view driver_stats (to redo a past window use " \
           "`larder materialize REPO START END`)" in back.stderr, back.stderr
    assert "from 2025-01-09" not in back.stderr
