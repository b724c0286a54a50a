"""Feast drop-in conformance: Feast 0.67 with redis-py 7 (RESP2) and 8 (RESP3) must behave the
same against the server under test as against redis-server, when only `connection_string`
(and, for the cluster chain, `redis_type`) changes.

Every check runs on both servers: the reference run shows the expectation itself is right.
Expectations come from the Parquet sources (values, event times), from Feast's documented
delete rules (drop, teardown), and from the reference server (byte-identical keyspaces,
identical read results). The scenario runs once (conftest.feast_suite); see feast_harness.py.
"""
import copy
from datetime import datetime, timezone

import pytest

import feast_harness as fh

VENVS = ["r7", "r8"]
ROLES = ["larder", "redis"]
DROPPED = ("driver_push_stats", "driver_customer_stats")


def project_suffix():
    return fh.PROJECT.encode().hex()


def failed_steps(chain):
    lines = [f"harness error: {chain.error}"] if chain.error else []
    for s in chain.steps.values():
        if s.rc != 0:
            lines.append(f"--- step {s.name} exit {s.rc}: {' '.join(s.argv)}\n{s.tail()}")
    return lines


def require(chain, *what):
    """Fails, naming the failed steps, when an earlier step left nothing to check here."""
    for w in what:
        if (w == "probe" and chain.probe is None) or (w == "http" and chain.http is None) or \
           (w.startswith("dump:") and chain.dumps.get(w[5:]) is None):
            pytest.fail(f"{chain.name}: no {w} (an earlier step failed):\n" + "\n".join(failed_steps(chain)))


def read_mismatches(probe):
    """Differences between what Feast read and what the Parquet sources say it should read."""
    bad = []
    for read, want in probe["expected"].items():
        for mode in ("sync", "async"):
            got = probe["reads"][f"{mode}:{read}"]
            for feature, w in want.items():
                g = got.get(feature)
                if g is None:
                    bad.append(f"{mode}:{read} {feature}: missing from the response")
                    continue
                for i, (gv, wv) in enumerate(zip(g["values"], w["values"])):
                    if gv != wv:
                        bad.append(f"{mode}:{read} {feature}[{i}]: got {gv!r}, want {wv!r}")
                for i, (gt, wt) in enumerate(zip(g["event_ts"], w["event_ts"])):
                    if gt != wt:
                        bad.append(f"{mode}:{read} {feature}[{i}] event time: got {gt}, want {wt}")
    return bad


def dict_diff(a, b, path="", out=None, limit=20):
    """Readable differences between two JSON-like values (a: larder, b: reference)."""
    out = [] if out is None else out
    if len(out) >= limit:
        return out
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b)):
            if k not in a:
                out.append(f"{path}/{k}: only in reference: {str(b[k])[:200]}")
            elif k not in b:
                out.append(f"{path}/{k}: only in larder: {str(a[k])[:200]}")
            else:
                dict_diff(a[k], b[k], f"{path}/{k}", out, limit)
    elif a != b:
        out.append(f"{path}: larder {str(a)[:200]} != reference {str(b)[:200]}")
    return out


# ---------------------------------------------------------------------------------------
# The steps themselves


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("kind", ["main", "cluster"])
@pytest.mark.parametrize("venv", VENVS)
def test_every_feast_step_succeeds(feast_suite, venv, kind, role):
    """feast apply / materialize / materialize-incremental / serve / apply (drop) / teardown,
    the SDK probe and the HTTP calls all exit 0. For kind=cluster, redis_type: redis_cluster
    (redis-py's RedisCluster: CLUSTER SLOTS, COMMAND, then every command to the one node)."""
    chain = feast_suite.chain(venv, kind, role)
    problems = failed_steps(chain)
    assert not problems, f"{chain.name}:\n" + "\n".join(problems)


# ---------------------------------------------------------------------------------------
# Online reads


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("venv", VENVS)
def test_online_reads_return_the_materialized_parquet_rows(feast_suite, venv, role):
    """Sync and async get_online_features, by feature refs and by feature service, for int64,
    string and two-join-key entities: every scalar type and list type, nulls (NaN reads as
    null), proto3 zero values, a row exactly at a window end, and unknown entities (nulls, event
    time 0)."""
    chain = feast_suite.chain(venv, "main", role)
    require(chain, "probe")
    bad = read_mismatches(chain.probe)
    assert not bad, f"{chain.name}: {len(bad)} differences:\n" + "\n".join(bad[:30])


@pytest.mark.parametrize("kind", ["main", "cluster"])
@pytest.mark.parametrize("venv", VENVS)
def test_online_reads_are_identical_to_redis(feast_suite, venv, kind):
    """Values, statuses and event timestamps of every read, exactly as against redis-server."""
    larder, ref = feast_suite.pair(venv, kind)
    require(larder, "probe")
    require(ref, "probe")
    diff = dict_diff(larder.probe["reads"], ref.probe["reads"])
    assert not diff, "\n".join(diff)


# ---------------------------------------------------------------------------------------
# The keyspace Feast leaves behind


@pytest.mark.parametrize("stage", ["after_materialize", "after_reads", "after_http", "after_drop",
                                   "after_teardown"])
@pytest.mark.parametrize("venv", VENVS)
def test_keyspace_is_byte_identical_to_redis(feast_suite, venv, stage):
    """Every key, field and value, and whether each key has a TTL, in every database."""
    larder, ref = feast_suite.pair(venv, "main")
    require(larder, f"dump:{stage}")
    require(ref, f"dump:{stage}")
    diff = dict_diff(larder.dumps[stage], ref.dumps[stage])
    assert not diff, f"{stage}:\n" + "\n".join(diff)


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("venv", VENVS)
def test_materialized_keys_carry_a_ttl_only_with_key_ttl_seconds(feast_suite, venv, role):
    """r7 sets key_ttl_seconds (Feast sends EXPIRE after each HSET), r8 does not."""
    chain = feast_suite.chain(venv, "main", role)
    require(chain, "dump:after_materialize")
    keys = chain.dumps["after_materialize"].get(str(chain.config.db), {})
    assert len(keys) == 24, f"expected 7 drivers + 5 customers + 12 pairs, found {len(keys)} keys"
    want = "set" if chain.config.key_ttl else "none"
    wrong = [k for k, v in keys.items() if v["ttl"] != want or v["type"] != "hash"]
    assert not wrong, f"{len(wrong)} keys are not hashes with ttl={want}: {wrong[:3]}"


def expected_after_drop(before, field_names, db):
    """Feast's rule when a view is removed: for each key holding `_ts:<view>`, DEL the key if
    that is its only `_ts:` field, else HDEL the view's fields and its `_ts:` field."""
    after = copy.deepcopy(before)
    keys = after.get(db, {})
    for view in DROPPED:
        names = field_names[view]
        for key in list(keys):
            fields = keys[key]["fields"]
            if names["_ts"] not in fields:
                continue
            ts_fields = [f for f in fields if bytes.fromhex(f).startswith(b"_ts:")]
            if len(ts_fields) == 1:
                del keys[key]
            else:
                for f in names.values():
                    fields.pop(f, None)
    if db in after and not after[db]:
        del after[db]
    return after


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("venv", VENVS)
def test_removing_feature_views_deletes_exactly_their_data(feast_suite, venv, role):
    """`feast apply` without driver_push_stats (shares the driver hashes: HDEL) and
    driver_customer_stats (alone in its hashes: DEL), found by SCAN with a binary glob
    (NUL bytes) and HKEYS."""
    chain = feast_suite.chain(venv, "main", role)
    require(chain, "probe", "dump:after_http", "dump:after_drop")
    db = str(chain.config.db)
    want = expected_after_drop(chain.dumps["after_http"], chain.probe["field_names"], db)
    assert chain.dumps["after_drop"] != chain.dumps["after_http"], "nothing was deleted"
    diff = dict_diff(chain.dumps["after_drop"], want)
    assert not diff, "after drop (left: server, right: expected):\n" + "\n".join(diff)


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("venv", VENVS)
def test_teardown_deletes_every_project_key_and_nothing_else(feast_suite, venv, role):
    chain = feast_suite.chain(venv, "main", role)
    require(chain, "dump:after_drop", "dump:after_teardown")
    db = str(chain.config.db)
    before, after = chain.dumps["after_drop"], chain.dumps["after_teardown"]
    assert before.get(db), "no project keys before teardown"
    assert all(k.endswith(project_suffix()) for k in before[db])
    want = {d: keys for d, keys in before.items() if d != db}
    diff = dict_diff(after, want)
    assert not diff, "after teardown (left: server, right: expected):\n" + "\n".join(diff)


# ---------------------------------------------------------------------------------------
# feast serve (HTTP)


def iso(ts):
    return datetime.fromtimestamp(ts[0], tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def column(body, name):
    names = body["metadata"]["feature_names"]
    assert name in names, f"{name} not in {names}"
    return body["results"][names.index(name)]


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("venv", VENVS)
def test_feature_server_reads_pushes_and_writes(feast_suite, venv, role):
    """/get-online-features (refs, feature service), /push (newer event time written, older one
    skipped by Feast's timestamp check), /write-to-online-store (string and two-key entities)."""
    chain = feast_suite.chain(venv, "main", role)
    require(chain, "http", "probe")
    calls = chain.http
    assert {k: v["status"] for k, v in calls.items()} == {k: 200 for k in calls}, \
        {k: (v["status"], str(v["body"])[:300]) for k, v in calls.items() if v["status"] != 200}
    sdk = chain.probe["reads"]["sync:driver_refs"]
    rows = [0, 2, 8]  # drivers 1001, 1003 (all null), 9999 (unknown) in the SDK read
    for name in ("f_int64", "f_string", "l_float64", "f_bool", "l_string", "city"):
        col = column(calls["refs"]["body"], name)
        assert col["values"] == [sdk[name]["values"][i] for i in rows], name
        assert col["event_timestamps"] == [iso(sdk[name]["event_ts"][i]) for i in rows], name
    service = calls["service"]["body"]
    assert column(service, "driver_hourly_stats__f_int64")["values"] == \
        chain.probe["reads"]["sync:driver_refs"]["f_int64"]["values"][:2]
    assert column(service, "customer_profile__age")["values"][0] == \
        chain.probe["reads"]["sync:customer_refs"]["age"]["values"][0]
    for call in ("after_push", "after_push_older"):
        body = calls[call]["body"]
        assert column(body, "city")["values"] == ["Lisbon", "Porto"], call
        assert column(body, "conv_rate")["values"] == [0.25, 0.75], call
        assert column(body, "city")["event_timestamps"] == ["2025-01-06T00:00:00Z"] * 2, call
    written = calls["after_write"]["body"]
    assert column(written, "age")["values"] == [33, 44]
    assert column(written, "segment")["values"] == ["gold", "new"]
    assert column(written, "score")["values"] == [0.5, 0.125]
    assert column(written, "trips")["values"] == [12, None]
    assert column(written, "last_rating")["values"] == [4.5, None]


def by_column_name(calls):
    """The feature server orders response columns arbitrarily (from a set): key them by name."""
    out = {}
    for name, call in calls.items():
        body = call["body"]
        if isinstance(body, dict) and "metadata" in body:
            body = dict(zip(body["metadata"]["feature_names"], body["results"]))
        out[name] = {"status": call["status"], "body": body}
    return out


@pytest.mark.parametrize("venv", VENVS)
def test_feature_server_answers_are_identical_to_redis(feast_suite, venv):
    larder, ref = feast_suite.pair(venv, "main")
    require(larder, "http")
    require(ref, "http")
    diff = dict_diff(by_column_name(larder.http), by_column_name(ref.http))
    assert not diff, "\n".join(diff)


# ---------------------------------------------------------------------------------------
# Connection strings: protocol=2|3, db=N, password, username, key_ttl_seconds expiry

VARIANTS = {"r7": ["protocol3_key_ttl", "db5"],
            "r8": ["protocol2_key_ttl", "username_db7", "wrong_password"]}


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("venv,variant", [(v, n) for v, names in VARIANTS.items() for n in names])
def test_connection_string_variants(feast_suite, venv, variant, role):
    """Writes and reads (sync and async) through another connection string; the raw key is in
    the right database with the right TTL; with key_ttl_seconds it expires and then reads as
    null; a wrong password is refused."""
    chain = feast_suite.chain(venv, "main", role)
    require(chain, "probe")
    spec = next(v for v in chain.config.variants if v["name"] == variant)
    result = chain.probe["variants"][variant]
    if variant == "wrong_password":
        assert result.get("error", "").startswith("AuthenticationError"), result
        return
    assert "error" not in result, result["error"] if "error" in result else ""
    for mode in ("sync", "async"):
        for feature, w in result["want"].items():
            got = result[mode][feature]
            assert got["values"] == w["values"], f"{mode} {feature}"
            assert got["event_ts"] == w["event_ts"], f"{mode} {feature}"
    assert result["raw_fields"] == 17, "16 features and _ts:driver_hourly_stats in the hash"
    key_ttl = spec["online_store"].get("key_ttl_seconds")
    if key_ttl:
        assert 0 < result["raw_ttl"] <= key_ttl
    else:
        assert result["raw_ttl"] == -1
    if spec.get("expire_after"):
        assert result["expired_exists"] == 0, "the key outlived key_ttl_seconds"
        for feature, got in result["expired_sync"].items():
            if feature != "driver_id":
                assert got["values"] == [None] * 3 and got["event_ts"] == [[0, 0]] * 3, feature


@pytest.mark.parametrize("venv", VENVS)
def test_connection_string_variants_are_identical_to_redis(feast_suite, venv):
    larder, ref = feast_suite.pair(venv, "main")
    require(larder, "probe")
    require(ref, "probe")
    strip = lambda vs: {n: {k: v for k, v in r.items() if k != "raw_ttl"} for n, r in vs.items()}  # noqa: E731
    diff = dict_diff(strip(larder.probe["variants"]), strip(ref.probe["variants"]))
    assert not diff, "\n".join(diff)


# ---------------------------------------------------------------------------------------
# redis_type: redis_cluster. The reference is a redis-server in cluster mode that owns every
# slot (a standalone redis-server refuses CLUSTER SLOTS and Feast fails); larder emulates a
# one-node cluster.


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("venv", VENVS)
def test_redis_cluster_stores_and_reads_like_standalone(feast_suite, venv, role):
    """Through RedisCluster (sync) and redis.asyncio.RedisCluster (async): the same keyspace
    and the same reads as the standalone chain; teardown empties it."""
    cluster = feast_suite.chain(venv, "cluster", role)
    main = feast_suite.chain(venv, "main", role)
    require(cluster, "probe", "dump:after_materialize", "dump:after_teardown")
    require(main, "probe", "dump:after_materialize")
    assert not read_mismatches(cluster.probe)
    diff = dict_diff(cluster.probe["reads"], main.probe["reads"])
    assert not diff, "cluster reads vs standalone reads:\n" + "\n".join(diff)
    diff = dict_diff(cluster.dumps["after_materialize"].get("0"),
                     main.dumps["after_materialize"].get(str(main.config.db)))
    assert not diff, "cluster keyspace vs standalone keyspace:\n" + "\n".join(diff)
    assert cluster.dumps["after_teardown"] == {}


@pytest.mark.parametrize("venv", VENVS)
def test_redis_cluster_keyspace_is_identical_to_redis_cluster(feast_suite, venv):
    larder, ref = feast_suite.pair(venv, "cluster")
    require(larder, "dump:after_materialize")
    require(ref, "dump:after_materialize")
    diff = dict_diff(larder.dumps["after_materialize"], ref.dumps["after_materialize"])
    assert not diff, "\n".join(diff)


# ---------------------------------------------------------------------------------------
# Three Larder nodes as one Redis Cluster


@pytest.mark.parametrize("venv", VENVS)
def test_three_node_larder_cluster_equals_one_redis(feast_suite, venv):
    """redis_type: redis_cluster against three Larder nodes in cluster mode: apply, materialize,
    SDK reads, teardown all succeed; the union of the nodes' keyspaces equals the keyspace of
    the redis-server cluster chain after the same steps, every node holds part of it, and every
    read equals."""
    if ("cluster3-%s-larder" % venv) not in feast_suite.chains:
        pytest.skip("no 3-node larder chain (a redis stand-in runs as larder)")
    larder = feast_suite.chain(venv, "cluster3", "larder")
    ref = feast_suite.chain(venv, "cluster", "redis")
    problems = failed_steps(larder)
    assert not problems and not larder.error, f"{larder.name}:\n" + "\n".join(problems + [str(larder.error)])
    for label in ("after_materialize", "after_teardown"):
        require(larder, "dump:" + label)
        require(ref, "dump:" + label)
        diff = dict_diff(larder.dumps[label], ref.dumps[label])
        assert not diff, f"{label}: " + "\n".join(diff)
    assert ref.dumps["after_materialize"], "the reference materialized nothing"
    assert all(n > 0 for n in larder.node_counts["after_materialize"]), larder.node_counts
    require(larder, "probe")
    require(ref, "probe")
    diff = dict_diff(larder.probe["reads"], ref.probe["reads"])
    assert not diff, "\n".join(diff)
