"""The binary docker/Dockerfile builds, built outside Docker by scripts/static-build.sh (CI cannot
run Docker): Swift runtime linked statically, and the image's end-to-end smoke on it: serve, PING,
SET/GET, a materialization of feature_repo/ into it, and a clean SIGTERM stop.
LARDER_STATIC_BINARY names the binary (default .build-static/larder)."""
import os
import shutil
import signal
import subprocess

import pytest
import redis

import servers

BINARY = os.environ.get("LARDER_STATIC_BINARY") or str(servers.REPO_ROOT / ".build-static/larder")
pytestmark = pytest.mark.skipif(not os.path.exists(BINARY), reason=f"no {BINARY}: run scripts/static-build.sh")


def test_static_binary_loads_no_swift_library_and_says_so():
    libs = subprocess.run(["ldd", BINARY], capture_output=True, text=True, check=True).stdout
    assert "libswiftCore" not in libs and "libFoundation" not in libs, libs
    version = subprocess.run([BINARY, "--version"], capture_output=True, text=True, check=True).stdout
    assert "release, static Swift runtime" in version, version


def test_static_binary_serves_and_materializes_feature_repo(tmp_path):
    repo = tmp_path / "feature_repo"
    shutil.copytree(servers.REPO_ROOT / "feature_repo", repo)
    server = servers.Server("larder-static", f"{BINARY} serve --port {{port}} --threads 2 --log-format json").start()
    try:
        r = redis.Redis(port=server.port, socket_timeout=10)
        assert r.ping()
        assert r.set("smoke", "ok") and r.get("smoke") == b"ok"
        done = subprocess.run([BINARY, "materialize", str(repo), "2020-01-01T00:00:00", "2030-01-01T00:00:00",
                               "--target", f"redis://127.0.0.1:{server.port}/0", "--no-progress"],
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        assert "materialized" in done.stdout
        # Feast's hash per entity: the written entity count equals the keys the server holds.
        written = sum(int(line.split(" entities written")[0].rsplit(" ", 1)[1])
                      for line in done.stdout.splitlines() if line.startswith("materialized "))
        assert written > 0 and r.dbsize() == written + 1, (written, r.dbsize(), done.stdout)
        server.proc.send_signal(signal.SIGTERM)
        assert server.proc.wait(timeout=15) == 0
    finally:
        server.stop()
