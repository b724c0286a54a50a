"""Drives a running `feast serve` (HTTP) and records every request and response as JSON.

usage: http_probe.py HTTP_PORT OUT_JSON

Standard library only. The calls, in order:
  refs            POST /get-online-features by feature refs (int64 key; present, all-null, unknown)
  service         POST /get-online-features by feature service (two entities, full names)
  push            POST /push to driver_stats_push_source (event time 2025-01-06)
  after_push      read the pushed view back
  push_older      POST /push with an older event time: Feast must skip it (HMGET _ts dedup)
  after_push_older
  write           POST /write-to-online-store customer_profile (string key)
  write_pair      POST /write-to-online-store driver_customer_stats (two join keys)
  after_write     read both written views back
"""
import json
import sys
import urllib.error
import urllib.request

PORT = int(sys.argv[1])


def post(path, body):
    req = urllib.request.Request(f"http://127.0.0.1:{PORT}{path}", data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"}, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=120) as resp:
            raw = resp.read()
            status = resp.status
    except urllib.error.HTTPError as e:
        raw, status = e.read(), e.code
    try:
        parsed = json.loads(raw) if raw else None
    except ValueError:
        parsed = raw.decode(errors="replace")
    return {"request": {"path": path, "body": body}, "status": status, "body": parsed}


calls = {}
calls["refs"] = post("/get-online-features", {
    "features": ["driver_hourly_stats:f_int64", "driver_hourly_stats:f_string",
                 "driver_hourly_stats:l_float64", "driver_hourly_stats:f_bool",
                 "driver_hourly_stats:l_string", "driver_push_stats:city"],
    "entities": {"driver_id": [1001, 1003, 9999]}})
calls["service"] = post("/get-online-features", {
    "feature_service": "driver_activity", "full_feature_names": True,
    "entities": {"driver_id": [1001, 1002], "customer_id": ["c1", "cliënt-5"]}})
calls["push"] = post("/push", {
    "push_source_name": "driver_stats_push_source", "to": "online",
    "df": {"driver_id": [1001, 1002], "event_timestamp": ["2025-01-06T00:00:00+00:00"] * 2,
           "created": ["2025-01-06T00:00:00+00:00"] * 2, "conv_rate": [0.25, 0.75],
           "city": ["Lisbon", "Porto"]}})
read_push = {"features": ["driver_push_stats:city", "driver_push_stats:conv_rate"],
             "entities": {"driver_id": [1001, 1002]}}
calls["after_push"] = post("/get-online-features", read_push)
calls["push_older"] = post("/push", {
    "push_source_name": "driver_stats_push_source", "to": "online",
    "df": {"driver_id": [1001], "event_timestamp": ["2024-12-01T00:00:00+00:00"],
           "created": ["2024-12-01T00:00:00+00:00"], "conv_rate": [0.5], "city": ["Stale"]}})
calls["after_push_older"] = post("/get-online-features", read_push)
calls["write"] = post("/write-to-online-store", {
    "feature_view_name": "customer_profile",
    "df": {"customer_id": ["web-1", "web-2"], "event_timestamp": ["2025-01-07T00:00:00+00:00"] * 2,
           "created": ["2025-01-07T00:00:00+00:00"] * 2, "age": [33, 44],
           "segment": ["gold", "new"], "score": [0.5, 0.125]}})
calls["write_pair"] = post("/write-to-online-store", {
    "feature_view_name": "driver_customer_stats",
    "df": {"driver_id": [4242], "customer_id": ["web-1"], "event_timestamp": ["2025-01-07T00:00:00+00:00"],
           "created": ["2025-01-07T00:00:00+00:00"], "trips": [12], "last_rating": [4.5]}})
calls["after_write"] = post("/get-online-features", {
    "features": ["customer_profile:age", "customer_profile:segment", "customer_profile:score",
                 "driver_customer_stats:trips", "driver_customer_stats:last_rating"],
    "entities": {"driver_id": [4242, 4242], "customer_id": ["web-1", "web-2"]}})
with open(sys.argv[2], "w") as fh:
    json.dump(calls, fh, indent=1, sort_keys=True, ensure_ascii=False)
