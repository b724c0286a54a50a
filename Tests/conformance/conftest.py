"""Fixtures: the server under test (`larder`, from LARDER_SERVER_CMD) and a reference
redis-server (`redis_ref`), each on its own free port, started once per test module and killed
at the end. `fresh_servers` starts dedicated ones for tests that stop or reconfigure a server."""
import sys
from pathlib import Path

import pytest

# Shared helpers live in lib/. pytest runs with --import-mode=importlib (pytest.ini), which leaves
# sys.path alone: with the default mode, Tests/conformance itself would be on sys.path and its
# hiredis/ folder would shadow the `hiredis` Python package that redis-py probes for.
sys.path.insert(0, str(Path(__file__).resolve().parent / "lib"))

import servers  # noqa: E402
from resp import RespConn  # noqa: E402


def pytest_report_header(config):
    return [f"larder: {servers.larder_cmd_template()} {' '.join(servers.larder_io_args(servers.larder_cmd_template()))}",
            f"reference: {servers.redis_cmd_template()}"]


@pytest.fixture(scope="module")
def larder():
    server = servers.start_larder()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def redis_ref():
    server = servers.start_redis()
    yield server
    server.stop()


@pytest.fixture
def pair(redis_ref, larder):
    """(reference, larder) with every database emptied, so each test starts from nothing."""
    for server in (redis_ref, larder):
        with RespConn(server.port) as c:
            assert c.call("FLUSHALL").value == b"OK", f"FLUSHALL failed on {server.name}"
    return redis_ref, larder


@pytest.fixture
def fresh_servers():
    """Factory: start(kind, extra_args) -> Server ('larder' or 'redis'), stopped after the test."""
    started = []

    def start(kind, extra_args=()):
        server = servers.start_larder(extra_args) if kind == "larder" else servers.start_redis(extra_args)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


def server_info_on_failure(item, servers_):
    lines = []
    for s in servers_:
        lines.append(f"--- {s.name} ({' '.join(s.argv)}) log tail:\n{s.log_tail()}")
    return "\n".join(lines)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.failed and call.when == "call":
        found = [v for v in getattr(item, "funcargs", {}).values() if isinstance(v, servers.Server)]
        if found:
            report.sections.append(("server logs", server_info_on_failure(item, found)))
