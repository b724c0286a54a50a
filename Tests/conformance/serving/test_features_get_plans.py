"""FEATURES.GET keeps each thread's request plans (the arguments before the entity values,
resolved once) keyed by those arguments' bytes (Sources/LarderServing/GetPlan.swift). A plan
must only ever answer the request it was made from: these requests share a plan slot or a
prefix with another and must still get their own answer, and a plan must not outlive a
reload or hide an error."""
import sys
import time
from pathlib import Path

import pytest
import redis

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "lib"))
import servers  # noqa: E402

pytestmark = [pytest.mark.larder_only,
              pytest.mark.skipif(servers.larder_is_standin(), reason="FEATURES.* are Larder's")]

REPO = HERE.parents[2] / "feature_repo"
V = "driver_hourly_stats"


@pytest.fixture(scope="module")
def larder():
    server = servers.start_larder(["--repo", str(REPO), "--materialize", "--no-http", "--threads", "1"])
    r = server.client()
    deadline = time.time() + 120
    while True:
        try:
            if r.dbsize() > 0 and r.execute_command("FEATURES.GET", "REFS", 1, f"{V}:city", "ENTITIES", 1, "driver_id", 1001):
                break
        except (redis.exceptions.BusyLoadingError, redis.exceptions.ConnectionError):
            pass
        assert time.time() < deadline, server.log_tail()
        time.sleep(0.2)
    yield server
    server.stop()


def get(r, *args):
    return r.execute_command("FEATURES.GET", *args)


def test_a_repeated_request_answers_as_its_first_and_as_a_differently_spelled_one(larder):
    r = larder.client(protocol=3)
    args = ("REFS", 3, f"{V}:conv_rate", f"{V}:city", f"{V}:recent_trips", "IGNORETTL", "ENTITIES", 1, "driver_id", 1001, 1002)
    first = get(r, *args)
    assert [sorted(row) for row in first] == [sorted(f"{V}:{f}".encode() for f in ("conv_rate", "city", "recent_trips"))] * 2
    assert all(cell[1] == b"PRESENT" for row in first for cell in row.values())
    for _ in range(3):
        assert get(r, *args) == first
    # Other bytes (lower-case keywords) make another plan with the same answer.
    assert get(r, "refs", 3, f"{V}:conv_rate", f"{V}:city", f"{V}:recent_trips", "ignorettl", "entities", 1, "driver_id",
               1001, 1002) == first


def test_requests_sharing_their_first_arguments_get_their_own_features(larder):
    r = larder.client(protocol=3)
    # The slot is chosen by arguments 1 to 3: these two differ only in the second ref.
    a = ("REFS", 2, f"{V}:conv_rate", f"{V}:city", "IGNORETTL", "ENTITIES", 1, "driver_id", 1003)
    b = ("REFS", 2, f"{V}:conv_rate", f"{V}:avg_daily_trips", "IGNORETTL", "ENTITIES", 1, "driver_id", 1003)
    for _ in range(3):
        [ra] = get(r, *a)
        [rb] = get(r, *b)
        assert set(ra) == {f"{V}:conv_rate".encode(), f"{V}:city".encode()}
        assert set(rb) == {f"{V}:conv_rate".encode(), f"{V}:avg_daily_trips".encode()}
        assert ra[f"{V}:conv_rate".encode()] == rb[f"{V}:conv_rate".encode()]
    # Only the bytes differ (conv_rate and is_active are both 9 bytes): the same argument layout.
    c = ("REFS", 2, f"{V}:city", f"{V}:conv_rate", "IGNORETTL", "ENTITIES", 1, "driver_id", 1003)
    d = ("REFS", 2, f"{V}:city", f"{V}:is_active", "IGNORETTL", "ENTITIES", 1, "driver_id", 1003)
    for _ in range(3):
        assert set(get(r, *c)[0]) == {f"{V}:city".encode(), f"{V}:conv_rate".encode()}
        assert set(get(r, *d)[0]) == {f"{V}:city".encode(), f"{V}:is_active".encode()}
    # A longer ref list whose first arguments equal a cached plan's.
    [rc] = get(r, "REFS", 2, f"{V}:conv_rate", f"{V}:city", "IGNORETTL", "ENTITIES", 1, "driver_id", 1003, 1004)[1:]
    assert set(rc) == {f"{V}:conv_rate".encode(), f"{V}:city".encode()}


def test_the_ttl_option_is_part_of_the_plan(larder):
    r = larder.client(protocol=3)
    refs = ("REFS", 1, f"{V}:city")
    # The example data ends 2025-01-08: past the view's 2 h ttl, so enforcement hides the value.
    for _ in range(2):
        [ignored] = get(r, *refs, "IGNORETTL", "ENTITIES", 1, "driver_id", 1005)
        [enforced] = get(r, *refs, "ENFORCETTL", "ENTITIES", 1, "driver_id", 1005)
        [default] = get(r, *refs, "ENTITIES", 1, "driver_id", 1005)
        assert ignored[f"{V}:city".encode()][1] == b"PRESENT"
        assert enforced[f"{V}:city".encode()][:2] == [None, b"OUTSIDE_MAX_AGE"]
        assert default == enforced


def test_a_cached_plan_still_checks_the_values_and_errors_are_not_cached(larder):
    r = larder.client(protocol=3)
    service = ("SERVICE", "ride_ranking", "IGNORETTL", "ENTITIES", 2, "driver_id", "customer_id")
    assert len(get(r, *service, 1001, "C0001", 1002, "C0002")) == 2
    with pytest.raises(redis.ResponseError, match="ENTITIES has 3 values, not a positive multiple of its 2 join keys"):
        get(r, *service, 1001, "C0001", 1002)
    with pytest.raises(redis.ResponseError, match="is not an integer"):
        get(r, *service, "abc", "C0001")
    # Join keys in another order: another plan, the same rows.
    swapped = get(r, "SERVICE", "ride_ranking", "IGNORETTL", "ENTITIES", 2, "customer_id", "driver_id", "C0001", 1001)
    assert swapped == get(r, *service, 1001, "C0001")
    for _ in range(2):
        with pytest.raises(redis.ResponseError, match="Feature nope does not exist"):
            get(r, "REFS", 1, f"{V}:nope", "ENTITIES", 1, "driver_id", 1001)
        with pytest.raises(redis.ResponseError, match="join key customer_id is needed"):
            get(r, "SERVICE", "ride_ranking", "ENTITIES", 1, "driver_id", 1001)
    assert r.ping()


def test_resp2_and_resp3_share_a_plan_and_reload_replaces_it(larder):
    r3, r2 = larder.client(protocol=3), larder.client(protocol=2)
    args = ("REFS", 2, f"{V}:acc_rate", f"{V}:is_active", "IGNORETTL", "ENTITIES", 1, "driver_id", 1006)
    [row3] = get(r3, *args)
    [row2] = get(r2, *args)
    flat = dict(zip(row2[0::2], row2[1::2]))
    assert float(flat[f"{V}:acc_rate".encode()][0]) == row3[f"{V}:acc_rate".encode()][0]
    assert bool(flat[f"{V}:is_active".encode()][0]) == row3[f"{V}:is_active".encode()][0]
    assert r3.execute_command("FEATURES.RELOAD") == b"OK"
    assert get(r3, *args) == [row3]
    assert get(r2, *args) == [row2]
