"""Online serving (issue 13): the same feature repo served by Feast (`feast materialize` into a
redis-server, then `feast serve`) and by Larder (`larder materialize` into `larder serve --repo`),
read through Larder's HTTP endpoint, Feast's, and Larder's FEATURES.* RESP commands.

With ttl enforcement off (the server's --no-ttl-enforcement) Larder's JSON equals Feast's,
statuses and timestamps included; with `"enforce_ttl": true` values older than their view's ttl
come back OUTSIDE_MAX_AGE without a value, where Feast still says PRESENT."""
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from datetime import datetime, timezone
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
sys.path.insert(0, str(HERE.parent / "lib"))
import servers  # noqa: E402
from resp import RespConn  # noqa: E402

pytestmark = [pytest.mark.larder_only,
              pytest.mark.skipif(servers.larder_is_standin(), reason="FEATURES.* and the HTTP server are Larder's")]

FEAST_BIN = Path(sys.executable).parent / "feast"
LARDER_BIN = ROOT / ".build" / "release" / "larder"
START, END = "2025-01-01T00:00:00", "2025-01-08T00:00:00"
MAX_BODY = 65536


def run(cmd, cwd):
    p = subprocess.run([str(c) for c in cmd], cwd=cwd, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, f"{cmd} failed:\n{p.stdout}\n{p.stderr}"
    return p


def http(port, path, body=None, method=None, raw=None):
    """(status, parsed JSON or raw text) of one request."""
    data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data, method=method or ("POST" if data is not None else "GET"),
                                 headers={"content-type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            status, text = r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        status, text = e.code, e.read().decode()
    try:
        return status, json.loads(text) if text else None
    except json.JSONDecodeError:
        return status, text


def wait_http(port, proc, timeout=90):
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"server on {port} exited")
        try:
            if http(port, "/health")[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.3)
    raise AssertionError(f"no /health on {port} after {timeout}s")


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    """The example repo copied twice: one for Feast on redis-server, one for Larder."""
    base = tmp_path_factory.mktemp("serving")
    redis = servers.start_redis()
    larder_http = servers.free_port()
    feast_repo, larder_repo = base / "feast_repo", base / "larder_repo"
    for repo in (feast_repo, larder_repo):
        shutil.copytree(ROOT / "feature_repo", repo, ignore=shutil.ignore_patterns("registry.db", "*.db", "online*"))
    larder = servers.start_larder(["--repo", str(larder_repo), "--http-port", str(larder_http),
                                   "--http-max-body", str(MAX_BODY), "--no-ttl-enforcement", "--threads", "2", "--no-pin"])
    for repo, port in ((feast_repo, redis.port), (larder_repo, larder.port)):
        cfg = (repo / "feature_store.yaml").read_text().replace("127.0.0.1:6379", f"127.0.0.1:{port}")
        (repo / "feature_store.yaml").write_text(cfg)
    run([FEAST_BIN, "apply"], feast_repo)
    run([FEAST_BIN, "materialize", START, END], feast_repo)
    run([LARDER_BIN, "materialize", larder_repo, START, END, "--target", f"redis://127.0.0.1:{larder.port}"], ROOT)
    feast_http = servers.free_port()
    log = open(base / "feast_serve.log", "wb")
    feast = subprocess.Popen([FEAST_BIN, "serve", "-h", "127.0.0.1", "-p", str(feast_http), "--no-access-log"],
                             cwd=feast_repo, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                             start_new_session=True)
    try:
        wait_http(feast_http, feast)
        wait_http(larder_http, None)
        yield {"redis": redis, "larder": larder, "feast_http": feast_http, "larder_http": larder_http,
               "larder_repo": larder_repo}
    finally:
        os.killpg(feast.pid, signal.SIGTERM)
        try:
            feast.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(feast.pid, signal.SIGKILL)
            feast.wait()
        larder.stop()
        redis.stop()


def by_name(response):
    """A response as (entity columns in order, {feature name: result}). Feast orders a view's
    features by a Python set (feature_refs grouped in `defaultdict(set)`), which changes with the
    hash seed of each process, so only the entity columns have a fixed place."""
    names = response["metadata"]["feature_names"]
    assert set(response) == {"metadata", "results"} and len(names) == len(response["results"])
    entities = [n for n in names if n.endswith("_id")]
    assert names[:len(entities)] == entities, "entity columns first"
    return entities, dict(zip(names, response["results"]))


READS = [
    {"feature_service": "ride_ranking",
     "entities": {"driver_id": [1001, 1002, 9999], "customer_id": ["C0001", "C0002", "nobody"]}},
    {"features": ["driver_hourly_stats:recent_trips", "driver_hourly_stats:is_active", "driver_hourly_stats:conv_rate"],
     "entities": {"driver_id": [1005]}, "full_feature_names": True},
    {"features": ["customer_profile:lifetime_value", "driver_hourly_stats:city"],
     "entities": {"customer_id": ["C0100"], "driver_id": [1049]}},
]


@pytest.mark.parametrize("request_body", READS, ids=["service", "full_names", "two_views"])
def test_get_online_features_equals_feast_serve(stack, request_body):
    feast = http(stack["feast_http"], "/get-online-features", request_body)
    larder = http(stack["larder_http"], "/get-online-features", request_body)
    assert feast[0] == 200, feast
    assert larder[0] == 200
    assert by_name(larder[1]) == by_name(feast[1])


def test_ttl_enforcement_is_the_documented_difference(stack):
    body = dict(READS[0], enforce_ttl=True)
    status, larder = http(stack["larder_http"], "/get-online-features", body)
    _, feast = http(stack["feast_http"], "/get-online-features", READS[0])
    assert status == 200
    _, mine_by_name = by_name(larder)
    _, theirs_by_name = by_name(feast)
    assert set(mine_by_name) == set(theirs_by_name)
    for name, mine in mine_by_name.items():
        theirs = theirs_by_name[name]
        if name in ("driver_id", "customer_id"):
            assert mine == theirs
            continue
        # The data ends 2025-01-08; both views' ttls (2 h, 3 d) are long past.
        assert mine["statuses"][:2] == ["OUTSIDE_MAX_AGE"] * 2, name
        assert mine["values"][:2] == [None, None]
        assert theirs["statuses"][:2] == ["PRESENT"] * 2 and theirs["values"][0] is not None
        assert mine["event_timestamps"][:2] == theirs["event_timestamps"][:2], "the event time still tells the age"
        assert mine["statuses"][2] == "NOT_FOUND" and theirs["statuses"][2] == "PRESENT"


def test_write_to_online_store_writes_feasts_bytes_and_fresh_rows_pass_the_ttl(stack):
    now = datetime.now(timezone.utc).replace(microsecond=0)
    row = {"feature_view_name": "driver_hourly_stats",
           "df": {"driver_id": [1003], "event_timestamp": [now.isoformat()], "created": [now.isoformat()],
                  "conv_rate": [0.25], "acc_rate": [0.5], "avg_daily_trips": [7], "city": ["Lyon"],
                  "is_active": [True], "recent_trips": [[1, 2, 3]]}}
    assert http(stack["feast_http"], "/write-to-online-store", row) == (200, None)
    assert http(stack["larder_http"], "/write-to-online-store", row) == (200, None)
    key = b"\x01\x00\x00\x00\x02\x00\x00\x00\x09\x00\x00\x00driver_id\x04\x00\x00\x00\x08\x00\x00\x00" \
          + (1003).to_bytes(8, "little") + b"larder_demo"
    assert stack["larder"].client().hgetall(key) == stack["redis"].client().hgetall(key)
    req = {"features": ["driver_hourly_stats:city", "driver_hourly_stats:conv_rate"], "entities": {"driver_id": [1003, 1004]}}
    assert by_name(http(stack["larder_http"], "/get-online-features", req)[1]) == by_name(http(stack["feast_http"], "/get-online-features", req)[1])
    _, fresh = http(stack["larder_http"], "/get-online-features", dict(req, enforce_ttl=True))
    city = by_name(fresh)[1]["city"]
    assert city["statuses"] == ["PRESENT", "OUTSIDE_MAX_AGE"]
    assert city["values"] == ["Lyon", None]
    # An older row afterwards is skipped, as Feast's newer-only rule.
    old = json.loads(json.dumps(row))
    old["df"]["event_timestamp"] = ["2025-01-02T00:00:00+00:00"]
    old["df"]["city"] = ["Stale"]
    assert http(stack["larder_http"], "/write-to-online-store", old) == (200, None)
    assert stack["larder"].client().hgetall(key) == stack["redis"].client().hgetall(key)


@pytest.mark.parametrize("protocol", [2, 3])
def test_features_get_over_resp_matches_feast_values(stack, protocol):
    r = stack["larder"].client(protocol=protocol)
    _, feast = http(stack["feast_http"], "/get-online-features",
                    {"features": ["driver_hourly_stats:conv_rate", "driver_hourly_stats:avg_daily_trips",
                                  "driver_hourly_stats:is_active", "driver_hourly_stats:recent_trips"],
                     "entities": {"driver_id": [1010, 1011]}})
    rows = r.execute_command("FEATURES.GET", "REFS", 4, "driver_hourly_stats:conv_rate", "driver_hourly_stats:avg_daily_trips",
                             "driver_hourly_stats:is_active", "driver_hourly_stats:recent_trips",
                             "IGNORETTL", "ENTITIES", 1, "driver_id", 1010, 1011)
    assert len(rows) == 2
    for row_index, row in enumerate(rows):
        if protocol == 2:   # the flat shape: name, [value, status, ts], name, ...
            row = dict(zip(row[0::2], row[1::2]))
        for name in ["conv_rate", "avg_daily_trips", "is_active", "recent_trips"]:
            value, status, ts_ms = row[f"driver_hourly_stats:{name}".encode()]
            expected = by_name(feast)[1][name]["values"][row_index]
            if protocol == 2 and name == "conv_rate":
                value = float(value)        # RESP2 doubles are bulk strings
            if protocol == 2 and name == "is_active":
                value = bool(value)         # RESP2 booleans are 1/0
            assert value == expected, name
            assert status == b"PRESENT"
            stamp = by_name(feast)[1][name]["event_timestamps"][row_index]
            assert ts_ms == int(datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp() * 1000)


def test_features_get_statuses_with_ttl_on_resp3(stack):
    r = stack["larder"].client(protocol=3)
    [row] = r.execute_command("FEATURES.GET", "SERVICE", "ride_ranking", "ENFORCETTL", "ENTITIES", 2, "driver_id", "customer_id", 1001, "nobody")
    assert row[b"driver_hourly_stats:city"][:2] == [None, b"OUTSIDE_MAX_AGE"]
    assert row[b"customer_profile:age"] == [None, b"NOT_FOUND", 0]


def test_features_push_writes_what_feast_writes(stack):
    now = int(time.time())
    larder = stack["larder"].client()
    written = larder.execute_command(
        "FEATURES.PUSH", "driver_hourly_stats", "COLUMNS", 8, "driver_id", "event_timestamp", "conv_rate", "acc_rate",
        "avg_daily_trips", "city", "is_active", "recent_trips",
        "VALUES", 1020, now, "0.75", "0.125", 3, "Bern", "false", "[4,5]",
        1021, now, "", "1.5", 4, "", "true", "[]")
    assert written == 2
    rows = {"driver_id": [1020, 1021], "event_timestamp": [now, now], "created": [now, now], "conv_rate": [0.75, None],
            "acc_rate": [0.125, 1.5], "avg_daily_trips": [3, 4], "city": ["Bern", ""], "is_active": [False, True],
            "recent_trips": [[4, 5], []]}
    rows["event_timestamp"] = [datetime.fromtimestamp(now, timezone.utc).isoformat()] * 2
    assert http(stack["feast_http"], "/write-to-online-store", {"feature_view_name": "driver_hourly_stats", "df": rows})[0] == 200
    ref = stack["redis"].client()
    for key in ref.scan_iter(match=b"*larder_demo", count=1000):
        if (1020).to_bytes(8, "little") in key or (1021).to_bytes(8, "little") in key:
            assert larder.hgetall(key) == ref.hgetall(key), key
    # The same push again is older-or-equal: nothing written.
    assert larder.execute_command("FEATURES.PUSH", "driver_hourly_stats", "COLUMNS", 2, "driver_id", "event_timestamp",
                                  "VALUES", 1020, now) == 0


def test_bad_input_gets_feasts_error_shape_and_the_server_keeps_serving(stack):
    port = stack["larder_http"]
    status, body = http(port, "/get-online-features", {"features": ["nope:x"], "entities": {"driver_id": [1]}})
    feast = http(stack["feast_http"], "/get-online-features", {"features": ["nope:x"], "entities": {"driver_id": [1]}})
    assert (status, body) == feast, "unknown feature view: Feast's 404 and body"
    assert json.loads(body)["class"] == "FeatureViewNotFoundException"
    status, body = http(port, "/get-online-features", {"features": ["driver_hourly_stats:nope"], "entities": {"driver_id": [1]}})
    assert 400 <= status < 500 and "nope" in json.loads(body)["message"]
    status, body = http(port, "/get-online-features", {"features": ["driver_hourly_stats:city"], "entities": {"driver_id": ["abc"]}})
    assert 400 <= status < 500 and "driver_id" in json.loads(body)["message"]
    status, body = http(port, "/get-online-features", {"features": ["driver_hourly_stats:city"], "entities": {"customer_id": ["C1"]}})
    assert 400 <= status < 500 and "driver_id" in json.loads(body)["message"]
    status, body = http(port, "/get-online-features", raw=b'{"features": [')
    assert status == 422 and body["detail"][0]["type"] == "json_invalid"
    assert http(stack["feast_http"], "/get-online-features", raw=b'{"features": [')[0] == 422
    status, body = http(port, "/get-online-features", raw=b'{"entities": {"driver_id": [' + b'1,' * MAX_BODY + b'1]}}')
    assert status == 413 and str(MAX_BODY) in body["detail"]
    assert http(port, "/nothing-here")[0] == 404
    r = stack["larder"].client()
    for args, words in [(("SERVICE", "nope", "ENTITIES", 1, "driver_id", 1), "nope"),
                        (("REFS", 1, "driver_hourly_stats:city", "ENTITIES", 1, "driver_id", "x1"), "driver_id"),
                        (("REFS", 1, "driver_hourly_stats:city", "ENTITIES", 1, "customer_id", "C1"), "driver_id"),
                        (("REFS", 1, "driver_hourly_stats:city", "ENTITIES", 2, "driver_id", "customer_id", 1), "multiple"),
                        (("REFS", 1, "driver_hourly_stats:city", "ENTITIES", 2, "driver_id", "nobody", 1, 2), "nobody is not used"),
                        (("REFS", 9223372036854775807, "driver_hourly_stats:city", "ENTITIES", 1, "driver_id", 1), "REFS needs"),
                        (("REFS", 1, "driver_hourly_stats:city", "ENTITIES", 9223372036854775807, "driver_id", 1), "announces")]:
        with pytest.raises(Exception) as e:
            r.execute_command("FEATURES.GET", *args)
        assert words in str(e.value)
    with pytest.raises(Exception) as e:
        r.execute_command("FEATURES.PUSH", "nothing", "COLUMNS", 1, "driver_id", "VALUES", 1)
    assert "nothing" in str(e.value)
    assert http(port, "/health")[0] == 200 and http(port, "/ready")[0] == 200
    assert http(port, "/get-online-features", READS[1])[0] == 200
    assert r.ping()


def test_command_docs_and_info_cover_the_feature_commands(stack):
    from resp import RespConn
    with RespConn(stack["larder"].port) as conn:
        docs = conn.call("COMMAND", "DOCS", "features.get", "features.push", "features.reload").value
    flat = [d.value if hasattr(d, "value") else d for d in docs]
    assert set(flat[0::2]) == {b"features.get", b"features.push", b"features.reload"}
    get_docs = [d.value if hasattr(d, "value") else d for d in flat[flat.index(b"features.get") + 1]]
    assert b"typed feature values" in get_docs[get_docs.index(b"summary") + 1]
    r = stack["larder"].client(protocol=3)
    r.execute_command("FEATURES.GET", "SERVICE", "ride_ranking", "ENTITIES", 2, "driver_id", "customer_id", 1001, "C0001")
    stats = r.info("commandstats")
    assert stats["cmdstat_features.get"]["calls"] >= 1


def test_reload_swaps_definitions_and_a_failing_one_keeps_the_old(stack):
    r = stack["larder"].client()
    repo = stack["larder_repo"]
    definitions = repo / "definitions.yaml"
    good = definitions.read_text()
    try:
        definitions.write_text(good + "\nfeature_views:\n  - {name: broken, entities: [nobody]}\n")
        with pytest.raises(Exception) as e:
            r.execute_command("FEATURES.RELOAD")
        assert "previous definitions keep serving" in str(e.value)
        assert len(r.execute_command("FEATURES.GET", "SERVICE", "ride_ranking", "ENTITIES", 2, "driver_id", "customer_id", 1, "c")) == 1
        definitions.write_text(good.replace("name: ride_ranking", "name: ride_ranking_v2"))
        assert r.execute_command("FEATURES.RELOAD") in (b"OK", "OK", True)
        assert len(r.execute_command("FEATURES.GET", "SERVICE", "ride_ranking_v2", "ENTITIES", 2, "driver_id", "customer_id", 1, "c")) == 1
        with pytest.raises(Exception):
            r.execute_command("FEATURES.GET", "SERVICE", "ride_ranking", "ENTITIES", 2, "driver_id", "customer_id", 1, "c")
        # SIGHUP does the same.
        definitions.write_text(good)
        os.kill(stack["larder"].pid, signal.SIGHUP)
        # 20 s: with the machine's load at ~30 (shared builds) 5 s once passed without the reload.
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                r.execute_command("FEATURES.GET", "SERVICE", "ride_ranking", "ENTITIES", 2, "driver_id", "customer_id", 1, "c")
                break
            except Exception:
                time.sleep(0.1)
        else:
            pytest.fail("SIGHUP did not reload the definitions")
    finally:
        definitions.write_text(good)
        r.execute_command("FEATURES.RELOAD")


def metric(text, name, **labels):
    want = ",".join(f'{k}="{v}"' for k, v in labels.items())
    for line in text.splitlines():
        if line.startswith(f"{name}{{{want}}} ") or (not labels and line.startswith(name + " ")):
            return float(line.rsplit(" ", 1)[1])
    return None


def test_metrics_count_requests_statuses_and_the_age_of_served_values(stack):
    port = stack["larder_http"]
    before = http(port, "/metrics")[1]
    before_oma = metric(before, "larder_feature_values_total", feature_view="customer_profile", status="OUTSIDE_MAX_AGE") or 0
    before_nf = metric(before, "larder_feature_values_total", feature_view="customer_profile", status="NOT_FOUND") or 0
    body = {"features": ["customer_profile:age"], "entities": {"customer_id": ["C0001", "nobody"]}, "enforce_ttl": True}
    assert http(port, "/get-online-features", body)[0] == 200
    r = stack["larder"].client()
    r.execute_command("FEATURES.GET", "REFS", 1, "customer_profile:age", "IGNORETTL", "ENTITIES", 1, "customer_id", "C0002")
    status, text = http(port, "/metrics")
    assert status == 200
    assert metric(text, "larder_feature_values_total", feature_view="customer_profile", status="OUTSIDE_MAX_AGE") == before_oma + 1
    assert metric(text, "larder_feature_values_total", feature_view="customer_profile", status="NOT_FOUND") == before_nf + 1
    # The served value is from 2025: its age lands past the 30-day bucket (real freshness).
    count = metric(text, "larder_feature_value_age_seconds_count", feature_view="customer_profile")
    in_30d = metric(text, "larder_feature_value_age_seconds_bucket", feature_view="customer_profile", le="2592000.0")
    assert count >= 1 and in_30d < count
    assert metric(text, "larder_commands_total", command="features.get") >= 1
    assert metric(text, "larder_http_requests_total", endpoint="/get-online-features", code="200") >= 1
    assert metric(text, "larder_connected_clients") >= 1
    assert sum(metric(text, "larder_shard_keys", shard=s) for s in (0, 1)) == r.dbsize()
    assert "nobody" not in text and "C0001" not in text, "entity values never become labels"


def test_metrics_parse_with_prometheus_client_and_cover_the_server(stack):
    from prometheus_client.parser import text_string_to_metric_families
    port = stack["larder_http"]
    r = stack["larder"].client()
    for i in range(40):     # fast commands are timed one in 16: enough calls to land in the histogram
        r.set(f"metrics:{i}", i)
        r.get(f"metrics:{i}")
    r.execute_command("FEATURES.GET", "SERVICE", "ride_ranking", "ENTITIES", 2, "driver_id", "customer_id", 1001, "C0001")
    status, text = http(port, "/metrics")
    assert status == 200
    families = {f.name: f for f in text_string_to_metric_families(text)}
    for name, kind in [("larder_commands", "counter"), ("larder_command_latency_seconds", "histogram"),
                       ("larder_shard_hops", "counter"), ("larder_shard_keys", "gauge"), ("larder_connected_clients", "gauge"),
                       ("larder_resident_memory_bytes", "gauge"), ("larder_feature_view_requests", "counter"),
                       ("larder_http_request_duration_seconds", "histogram"), ("larder_definitions_reloads", "counter"),
                       ("larder_definitions_last_reload_ok", "gauge"), ("larder_materialization_running", "gauge")]:
        assert name in families and families[name].type == kind, name
    latency = [s for s in families["larder_command_latency_seconds"].samples if s.labels.get("command") == "features.get"]
    buckets = [s.value for s in latency if s.name.endswith("_bucket")]
    assert buckets == sorted(buckets) and buckets[-1] >= 1, "cumulative buckets, the call counted"
    assert any(s.labels.get("command") == "set" for s in families["larder_command_latency_seconds"].samples)
    # Two shards: a FEATURES.GET holds both, one hop to the other.
    assert sum(s.value for s in families["larder_shard_hops"].samples) >= 1
    assert len(families["larder_shard_hops"].samples) == 2
    # Bounded labels: commands, shards, views, services, endpoints, codes, statuses, buckets; no data.
    allowed = {"command", "shard", "feature_view", "feature_service", "push_source", "endpoint", "code", "status",
               "outcome", "result", "kind", "le"}
    for f in families.values():
        for s in f.samples:
            assert set(s.labels) <= allowed, (s.name, s.labels)
            assert not any(v.startswith("metrics:") or v in ("1001", "C0001") for v in s.labels.values())


def info_features(client):
    return client.info("features")


def test_apply_with_server_reloads_and_a_refused_reload_fails_the_cli_while_reads_go_on(stack, tmp_path):
    import threading
    repo = stack["larder_repo"]
    url = f"redis://127.0.0.1:{stack['larder'].port}"
    definitions = repo / "definitions.yaml"
    good = definitions.read_text()
    stop = threading.Event()
    counts = {"resp": 0, "http": 0, "errors": []}

    def resp_reads():
        c = stack["larder"].client()
        while not stop.is_set():
            try:
                assert len(c.execute_command("FEATURES.GET", "REFS", 1, "driver_hourly_stats:conv_rate",
                                             "ENTITIES", 1, "driver_id", 1001, 1002)) == 2
                counts["resp"] += 1
            except Exception as e:  # noqa: BLE001 - every failure counts
                counts["errors"].append(f"resp: {e}")

    def http_reads():
        while not stop.is_set():
            status, body = http(stack["larder_http"], "/get-online-features", READS[1])
            if status == 200:
                counts["http"] += 1
            else:
                counts["errors"].append(f"http {status}: {body}")

    threads = [threading.Thread(target=resp_reads), threading.Thread(target=http_reads)]
    for t in threads:
        t.start()
    try:
        before = info_features(stack["larder"].client())
        for _ in range(5):
            p = subprocess.run([str(LARDER_BIN), "apply", str(repo), "--server", url], capture_output=True, text=True, timeout=60)
            assert p.returncode == 0, p.stderr
            assert "definitions reloaded" in p.stdout
        info = info_features(stack["larder"].client())
        assert info["reloads_ok"] >= before["reloads_ok"] + 5
        assert info["last_reload_status"] == "ok" and info["definitions_source"] == str(repo)
        assert info["online_feature_views"] == 2
        # The server's repo broken, a valid copy applied: the server refuses, the CLI says why
        # and exits 1, the old definitions keep serving.
        valid = tmp_path / "valid_repo"
        shutil.copytree(repo, valid)
        definitions.write_text(good + "\nfeature_views:\n  - {name: broken, entities: [nobody]}\n")
        p = subprocess.run([str(LARDER_BIN), "apply", str(valid), "--server", url], capture_output=True, text=True, timeout=60)
        assert p.returncode == 1
        assert "did not load the definitions" in p.stderr and "previous definitions keep serving" in p.stderr
        info = info_features(stack["larder"].client())
        assert info["last_reload_status"] == "failed" and info["reloads_failed"] == before["reloads_failed"] + 1
        assert "nobody" in str(info["last_reload_error"])
        _, text = http(stack["larder_http"], "/metrics")
        assert metric(text, "larder_definitions_last_reload_ok") == 0
        assert metric(text, "larder_definitions_reloads_total", result="failed") == before["reloads_failed"] + 1
        # An unreachable server: the CLI fails naming it.
        p = subprocess.run([str(LARDER_BIN), "apply", str(valid), "--server", f"redis://127.0.0.1:{servers.free_port()}"],
                           capture_output=True, text=True, timeout=60)
        assert p.returncode != 0 and "apply --server" in p.stderr
    finally:
        definitions.write_text(good)
        stack["larder"].client().execute_command("FEATURES.RELOAD")
        stop.set()
        for t in threads:
            t.join()
    assert counts["errors"] == []
    assert counts["resp"] > 0 and counts["http"] > 0
def test_pushes_publish_hset_keyspace_events(stack):
    """FEATURES.PUSH and the HTTP write publish "hset" for each entity hash written, as the
    HSETs Feast sends to redis-server do (feature-cache invalidation; docs/serving.md)."""
    now = int(time.time()) + 5
    port = stack["larder"].port
    ref_port = stack["redis"].port
    seen = {}
    for name, p in (("larder", port), ("redis", ref_port)):
        c = RespConn(p)
        c.call("CONFIG", "SET", "notify-keyspace-events", "Eh")
        c.call("SUBSCRIBE", "__keyevent@0__:hset")
        seen[name] = c
    try:
        larder = stack["larder"].client()
        assert larder.execute_command("FEATURES.PUSH", "driver_hourly_stats", "COLUMNS", 3, "driver_id",
                                      "event_timestamp", "conv_rate", "VALUES", 1030, now, "0.5") == 1
        rows = {"driver_id": [1031], "event_timestamp": [datetime.fromtimestamp(now, timezone.utc).isoformat()],
                "created": [now], "conv_rate": [0.25], "acc_rate": [0.5], "avg_daily_trips": [1], "city": ["Oslo"],
                "is_active": [True], "recent_trips": [[1]]}
        assert http(stack["larder_http"], "/write-to-online-store", {"feature_view_name": "driver_hourly_stats", "df": rows})[0] == 200
        rows["driver_id"] = [1030]
        assert http(stack["feast_http"], "/write-to-online-store", {"feature_view_name": "driver_hourly_stats", "df": rows})[0] == 200
        rows["driver_id"] = [1031]
        assert http(stack["feast_http"], "/write-to-online-store", {"feature_view_name": "driver_hourly_stats", "df": rows})[0] == 200
        got = {name: [c.read_reply().value[2] for _ in range(2)] for name, c in seen.items()}
        assert got["larder"] == got["redis"]
        assert (1030).to_bytes(8, "little") in got["larder"][0]
    finally:
        for p in (port, ref_port):
            with RespConn(p) as c:
                c.call("CONFIG", "SET", "notify-keyspace-events", "")
        for c in seen.values():
            c.close()
