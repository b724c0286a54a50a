"""The `larder` command line as an operator reads it (issue 15, "The command line"): every
number and message true, silence replaced by a line saying what happened.

The binary: LARDER_BIN, else the newer of .build/release/larder and .build/debug/larder."""
import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
PARQUET_FIXTURES = ROOT / "Tests" / "LarderParquetTests" / "Fixtures"


def larder_bin() -> str:
    explicit = os.environ.get("LARDER_BIN")
    if explicit:
        return explicit
    built = [p for p in (ROOT / ".build" / "release" / "larder", ROOT / ".build" / "debug" / "larder") if p.exists()]
    if not built:
        pytest.skip("no larder binary: build it (or set LARDER_BIN)")
    return str(max(built, key=lambda p: p.stat().st_mtime))


def larder(*args, cwd=None, timeout=60):
    return subprocess.run([larder_bin(), *map(str, args)], capture_output=True, text=True, cwd=cwd, timeout=timeout)


def test_inspect_shows_stored_units_and_iso_timestamp_statistics(tmp_path):
    """A microsecond file reads `timestamp[us, UTC]` (the reader widens to ns; the file does not
    store ns), and Parquet timestamp statistics print as ISO 8601 as CSV ones do."""
    p = larder("inspect", PARQUET_FIXTURES / "feast_driver_stats.parquet")
    assert p.returncode == 0, p.stderr
    assert "  event_timestamp: timestamp[us, UTC]\n" in p.stdout, p.stdout
    assert "  created: timestamp[us]\n" in p.stdout, p.stdout
    assert "stats{min=2024-03-01T00:00:00Z max=2024-03-02T23:00:00Z nulls=0}" in p.stdout, p.stdout
    assert "stats{min=2024-03-03T12:00:00 max=2024-03-03T12:00:00 nulls=0}" in p.stdout, "naive: no Z\n" + p.stdout
    assert "1709251200000000000" not in p.stdout
    duck = larder("inspect", PARQUET_FIXTURES / "duckdb_default.parquet")
    assert "  ts_ms: timestamp[ms]\n" in duck.stdout and "  ts_ns: timestamp[ns]\n" in duck.stdout, duck.stdout
    csv = tmp_path / "t.csv"
    csv.write_text("id,ts\n1,2024-03-01T00:00:00Z\n2,2024-03-02T12:00:00.5Z\n")
    c = larder("inspect", csv)
    assert "ts: timestamp[ns, UTC] stats{nulls=0 min=2024-03-01T00:00:00Z max=2024-03-02T12:00:00.500Z}" in c.stdout, c.stdout


def test_cat_refuses_files_of_different_schemas_unless_asked_to_merge(tmp_path):
    """A glob over files of different columns is refused with both schemas named (Feast reads a
    source's files as one schema); --merge-schemas reads them as the union, nulls where missing."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    pq.write_table(pa.table({"id": pa.array([1, 2], pa.int64()), "city": ["Paris", "Rome"]}), tmp_path / "a.parquet")
    pq.write_table(pa.table({"id": pa.array([3], pa.int64())}), tmp_path / "b.parquet")
    p = larder("cat", tmp_path / "*.parquet")
    assert p.returncode != 0 and p.stdout == "", p.stdout
    a, b = tmp_path / "a.parquet", tmp_path / "b.parquet"
    assert f"{a} has [id: int64, city: string] but {b} has [id: int64]" in p.stderr, p.stderr
    assert f"{b} lacks city" in p.stderr and "--merge-schemas" in p.stderr, p.stderr
    merged = larder("cat", tmp_path / "*.parquet", "--merge-schemas")
    assert merged.returncode == 0, merged.stderr
    assert merged.stdout.splitlines() == ['{"id":1,"city":"Paris"}', '{"id":2,"city":"Rome"}', '{"id":3,"city":null}']
    # Same columns: no flag needed.
    pq.write_table(pa.table({"id": pa.array([3], pa.int64()), "city": ["Oslo"]}), b)
    same = larder("cat", tmp_path / "*.parquet", "--format", "none")
    assert same.returncode == 0 and same.stdout == "3 rows\n", same.stdout + same.stderr


def free_port() -> int:
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve_until_ready(args, tmp_path, timeout=20):
    """Starts `larder serve ARGS` on a free port; returns (process, log path) once it serves or exits."""
    import time
    log = tmp_path / f"serve-{time.monotonic_ns()}.log"
    with open(log, "w") as out:
        proc = subprocess.Popen([larder_bin(), "serve", *map(str, args)], stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None and "serving RESP on" not in log.read_text():
        time.sleep(0.05)
    return proc, log


def stop(proc):
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_serve_repo_without_materialize_says_what_it_loaded_and_what_not(tmp_path):
    import shutil
    repo = tmp_path / "repo"
    shutil.copytree(ROOT / "feature_repo", repo)
    port = free_port()
    proc, log = serve_until_ready(["--port", port, "--threads", "1", "--no-pin", "--repo", repo, "--no-http"], tmp_path)
    try:
        text = log.read_text()
        assert "serving RESP on" in text, text
        assert (f"loaded the definitions of project larder_demo from {repo}: 2 feature view(s) (2 online), "
                "2 entities, 1 feature service(s)") in text, text
        assert "feature data not loaded (no --materialize)" in text, text
        assert f"`larder serve --repo {repo} --materialize`" in text and f"`larder materialize {repo} START END" in text, text
    finally:
        stop(proc)


def test_port_in_use_names_address_and_port_and_exits_at_once(tmp_path):
    import socket
    import time
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen(1)
    port = holder.getsockname()[1]
    try:
        started = time.monotonic()
        p = larder("serve", "--port", port, "--threads", "1", "--no-pin", timeout=30)
        assert time.monotonic() - started < 10
        assert p.returncode != 0
        assert f"cannot listen on 127.0.0.1:{port}: address already in use" in p.stderr, p.stderr
        assert "bind(descriptor" not in p.stderr and "errno" not in p.stderr, p.stderr
        # The HTTP feature server's port too.
        h = larder("serve", "--port", free_port(), "--threads", "1", "--no-pin", "--repo", ROOT / "feature_repo",
                   "--http-port", port, timeout=30)
        assert h.returncode != 0
        assert f"HTTP cannot listen on 127.0.0.1:{port}: address already in use" in h.stderr, h.stderr
    finally:
        holder.close()


def test_plan_shows_every_change_before_and_after(tmp_path):
    import shutil
    repo = tmp_path / "repo"
    shutil.copytree(ROOT / "feature_repo", repo)
    applied = larder("apply", repo)
    assert applied.returncode == 0, applied.stderr
    definitions = repo / "definitions.yaml"
    text = definitions.read_text()
    assert "ttl: 2h" in text
    definitions.write_text(text.replace("ttl: 2h", "ttl: 1h", 1))
    p = larder("plan", repo)
    assert p.returncode == 0, p.stderr
    assert "  ~ feature_view driver_hourly_stats (v1 -> v2): ttl_seconds changed: 7200 -> 3600\n" in p.stdout, p.stdout


def test_materialize_progress_shows_no_rate_before_one_is_measured(tmp_path):
    """On a terminal, the first tick comes after one batch read in microseconds: it showed
    "1000000000/s". No rate (nor ETA) is printed until the phase has run 0.5 s."""
    import pty
    import re
    import shutil
    import time
    repo = tmp_path / "repo"
    shutil.copytree(ROOT / "feature_repo", repo)
    port = free_port()
    redis = subprocess.Popen(["redis-server", "--port", str(port), "--save", "", "--appendonly", "no"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        import socket
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        primary, secondary = pty.openpty()
        proc = subprocess.Popen([larder_bin(), "materialize", repo, "2020-01-01", "2030-01-01",
                                 "--target", f"redis://127.0.0.1:{port}", "--batch-size", "1"],
                                stdout=subprocess.PIPE, stderr=secondary, text=True)
        os.close(secondary)
        chunks = []
        while True:
            try:
                data = os.read(primary, 65536)
            except OSError:
                break
            if not data:
                break
            chunks.append(data)
        out, _ = proc.communicate(timeout=120)
        os.close(primary)
        assert proc.returncode == 0, out
        ticks = [t for t in b"".join(chunks).decode().split("\r\x1b[K") if "[" in t and "/" in t]
        assert ticks, "no progress bar drawn on a terminal"
        assert "/s" not in ticks[0], ticks[0]
        for tick in ticks:
            for rate in re.findall(r" (\d+)/s", tick):
                assert int(rate) < 100_000_000, tick
    finally:
        redis.terminate()
        redis.wait(timeout=10)


def test_sigint_stops_the_loaded_demo_within_2s_under_every_kind_of_client(tmp_path):
    """The demo (`serve --repo feature_repo --materialize`, HTTP on) stops on SIGINT within 2 s
    while it has: an idle client, a MONITOR client, clients pipelining writes and cross-shard
    KEYS, an HTTP keep-alive connection and an HTTP request whose body never ends. The log says
    what each stage took (`stopped in ... s: http ..., listener ..., clients ..., threads ...`)."""
    import shutil
    import signal
    import socket
    import threading
    import time
    repo = tmp_path / "repo"
    shutil.copytree(ROOT / "feature_repo", repo)
    port, http_port = free_port(), free_port()
    proc, log = serve_until_ready(["--port", port, "--http-port", http_port, "--threads", "2", "--no-pin",
                                   "--repo", repo, "--materialize"], tmp_path, timeout=60)
    stop_flag = threading.Event()
    socks = []
    try:
        assert "serving RESP on" in log.read_text(), log.read_text()

        def connect(p):
            s = socket.create_connection(("127.0.0.1", p), timeout=5)
            socks.append(s)
            return s

        connect(port)                                           # idle
        connect(port).sendall(b"MONITOR\r\n")
        keep_alive = connect(http_port)
        keep_alive.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        assert keep_alive.recv(100).startswith(b"HTTP/1.1 200"), "the HTTP server answers"
        connect(http_port).sendall(b"POST /get-online-features HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{")

        def load(payload):
            try:
                s = connect(port)
                while not stop_flag.is_set():
                    s.sendall(payload)
                    s.recv(1 << 16)
            except OSError:
                pass                                            # the server closed it: expected
        writes = b"".join(b"*3\r\n$3\r\nSET\r\n$4\r\nk%03d\r\n$1\r\nv\r\n" % i for i in range(200))
        threads = [threading.Thread(target=load, args=(p,), daemon=True)
                   for p in (writes, writes, b"KEYS *\r\nDBSIZE\r\n")]
        for t in threads:
            t.start()
        time.sleep(1.0)
        started = time.monotonic()
        proc.send_signal(signal.SIGINT)
        code = proc.wait(timeout=30)
        took = time.monotonic() - started
        text = log.read_text()
        assert code == 0, text
        assert took < 2.0, f"the stop took {took:.2f} s\n{text}"
        stopped = [line for line in text.splitlines() if "stopped in " in line]
        assert stopped and all(stage in stopped[0] for stage in ("http ", "listener ", "clients ", "threads ")), text
    finally:
        stop_flag.set()
        for s in socks:
            s.close()
        stop(proc)
