"""TLS on the client side and with Feast: `larder materialize --target rediss://...` and
`ssl=true` (with redis-py's ssl_ca_certs / ssl_certfile / ssl_keyfile / ssl_cert_reqs) in
feature_store.yaml's connection string, into redis-server and larder over TLS with a client
certificate required; and the real Feast SDK (apply, materialize, get_online_features sync and
async) with `ssl=true` against both, reading what the Parquet sources say."""
import subprocess
import sys
from pathlib import Path

import pytest
import redis

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "cli"))
sys.path.insert(0, str(HERE.parent / "feast"))
import servers  # noqa: E402
from test_tls import BINARY, TLSServer, make_certs  # noqa: E402
from test_materialize_client import make_repo  # noqa: E402

pytestmark = [pytest.mark.skipif(servers.larder_is_standin(), reason="larder's TLS options"),
              pytest.mark.skipif(not BINARY.exists(), reason="needs scripts/build.sh")]


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    return make_certs(tmp_path_factory.mktemp("tlsc") / "certs")


@pytest.fixture(scope="module")
def pair(certs):
    started = [TLSServer("redis", certs), TLSServer("larder", certs)]
    yield started
    for s in started:
        s.stop()


def keyspace(port) -> dict:
    r = redis.Redis(port=port)
    return {k: r.hgetall(k) for k in r.keys("*")}


def materialize(repo, *extra, timeout=120):
    return subprocess.run([str(BINARY), "materialize", str(repo), "2024-12-31T00:00:00", "2025-01-02T00:00:00",
                           "--no-progress", "--retries", "0", *map(str, extra)], capture_output=True, text=True,
                          timeout=timeout)


def ssl_query(c, cert="client"):
    return f"ssl_ca_certs={c / 'ca.crt'}&ssl_certfile={c / f'{cert}.crt'}&ssl_keyfile={c / f'{cert}.key'}"


def test_materialize_rediss_target(pair, certs, tmp_path):
    """The same keyspace over rediss:// as over plaintext redis://, in redis-server and larder;
    a hostname (localhost) is checked against the certificate as an IP address is."""
    repo = make_repo(tmp_path, '{type: redis, connection_string: "127.0.0.1:1"}')
    ref = pair[0]
    ref.plain().flushall()
    plain = materialize(repo, "--target", f"redis://127.0.0.1:{ref.port}/0")
    assert plain.returncode == 0, plain.stderr
    want = keyspace(ref.port)
    assert len(want) == 12
    for s in pair:
        for host in ("127.0.0.1", "localhost"):
            s.plain().flushall()
            run = materialize(repo, "--target", f"rediss://{host}:{s.tls_port}/0?{ssl_query(certs)}")
            assert run.returncode == 0, f"{s.server.name}: {run.stderr}"
            assert keyspace(s.port) == want, s.server.name


def test_materialize_rediss_refusals(pair, certs, tmp_path):
    repo = make_repo(tmp_path, '{type: redis, connection_string: "127.0.0.1:1"}')
    larder = pair[1]
    # The server's certificate from an unknown CA: verification fails, saying so.
    run = materialize(repo, "--target", f"rediss://127.0.0.1:{larder.tls_port}/0?ssl_ca_certs={certs / 'other-ca.crt'}"
                      f"&ssl_certfile={certs / 'client.crt'}&ssl_keyfile={certs / 'client.key'}")
    assert run.returncode == 1 and "certificate verify failed" in run.stderr, run.stderr
    # ssl_cert_reqs=none skips the server's verification (redis-py's meaning).
    run = materialize(repo, "--target", f"rediss://127.0.0.1:{larder.tls_port}/0?ssl_ca_certs={certs / 'other-ca.crt'}"
                      f"&ssl_certfile={certs / 'client.crt'}&ssl_keyfile={certs / 'client.key'}&ssl_cert_reqs=none")
    assert run.returncode == 0, run.stderr
    # No client certificate where the server requires one: the run fails, naming the target.
    run = materialize(repo, "--target", f"rediss://127.0.0.1:{larder.tls_port}/0?ssl_ca_certs={certs / 'ca.crt'}")
    assert run.returncode == 1 and f"127.0.0.1:{larder.tls_port}" in run.stderr, run.stderr
    # A missing CA file is named before any connection is made.
    run = materialize(repo, "--target", f"rediss://127.0.0.1:{larder.tls_port}/0?ssl_ca_certs={certs / 'nope.crt'}")
    assert run.returncode == 1 and f"ssl_ca_certs {certs / 'nope.crt'}: no such file" in run.stderr, run.stderr
    # Plaintext to a TLS port is not silently accepted either.
    run = materialize(repo, "--target", f"redis://127.0.0.1:{larder.tls_port}/0", "--timeout", "3")
    assert run.returncode == 1, run.stderr


def test_feature_store_yaml_ssl_true(pair, certs, tmp_path):
    """`ssl=true` in the connection string: used, not ignored (a plaintext client would be
    refused by the TLS port)."""
    ref_repo = make_repo(tmp_path / "ref", '{type: redis, connection_string: "127.0.0.1:1"}')
    pair[0].plain().flushall()
    assert materialize(ref_repo, "--target", f"redis://127.0.0.1:{pair[0].port}/0").returncode == 0
    want = keyspace(pair[0].port)
    for s in pair:
        s.plain().flushall()
        conn = (f"127.0.0.1:{s.tls_port},ssl=true,ssl_ca_certs={certs / 'ca.crt'},ssl_certfile={certs / 'client.crt'},"
                f"ssl_keyfile={certs / 'client.key'},ssl_cert_reqs=required")
        repo = make_repo(tmp_path / s.server.name, f'{{type: redis, connection_string: "{conn}"}}')
        run = materialize(repo)
        assert run.returncode == 0, f"{s.server.name}: {run.stderr}"
        assert keyspace(s.port) == want


# --- Feast with ssl=true --------------------------------------------------------------------

def test_feast_ssl_true_apply_materialize_read(pair, certs, tmp_path):
    import feast_harness as fh
    from test_feast_redis import read_mismatches
    if fh.venv_problem("r7"):
        pytest.skip(fh.venv_problem("r7"))
    data = fh.generate_data(tmp_path, "r7")
    conn = (f",ssl=true,ssl_ca_certs={certs / 'ca.crt'},ssl_certfile={certs / 'client.crt'},"
            f"ssl_keyfile={certs / 'client.key'},ssl_cert_reqs=required")

    class TLSPort:  # what Chain reads of a server: the port Feast connects to
        def __init__(self, port):
            self.port = port

    probes, dumps = {}, {}
    for s in pair:
        s.plain().flushall()
        chain = fh.Chain(f"tls_{s.server.name}", fh.ChainConfig(venv="r7", kind="main", conn_extra=conn),
                         TLSPort(s.tls_port), data, tmp_path)
        for name, *args in (("apply", "apply"), ("materialize", "materialize", "2025-01-01T00:00:00", "2025-01-05T00:00:00")):
            step = chain.feast(name, *args)
            assert step.rc == 0, f"{s.server.name}: feast {name}:\n{step.tail()}"
        chain.read_probe()
        assert chain.probe is not None, f"{s.server.name}: probe failed:\n{chain.steps['probe'].tail()}"
        assert read_mismatches(chain.probe) == [], s.server.name
        probes[s.server.name] = chain.probe["reads"]
        dumps[s.server.name] = keyspace(s.port)
        assert len(dumps[s.server.name]) > 10
        if s.server.name == "larder":
            # larder materialize, reading the same feature_store.yaml (ssl=true), writes what Feast wrote.
            s.plain().flushall()
            run = subprocess.run([str(BINARY), "materialize", str(chain.repo), "2025-01-01T00:00:00",
                                  "2025-01-05T00:00:00", "--no-progress"], capture_output=True, text=True, timeout=300)
            assert run.returncode == 0, run.stderr
            assert keyspace(s.port) == dumps["larder"]
    assert probes["larder"] == probes["redis"]
    assert dumps["larder"] == dumps["redis"]
