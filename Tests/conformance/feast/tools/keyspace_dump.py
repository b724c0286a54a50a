"""Dumps a Redis-protocol server's keyspace as JSON: every key, its type, every hash field and
value (hex), and whether it has a TTL. Two servers given the same writes must dump the same bytes.

usage: keyspace_dump.py PORT OUT_JSON [--password PW] [--dbs 0,1,...]   (default: dbs 0..15)

Only redis-py (no Feast) is imported, so it starts fast. RESP2, SCAN + TYPE + HGETALL + TTL.
"""
import argparse
import json

import redis

ap = argparse.ArgumentParser()
ap.add_argument("port", type=int)
ap.add_argument("out")
ap.add_argument("--password")
ap.add_argument("--dbs", default=",".join(str(i) for i in range(16)))
a = ap.parse_args()

dump = {}
for db in [int(x) for x in a.dbs.split(",")]:
    r = redis.Redis(host="127.0.0.1", port=a.port, db=db, password=a.password, protocol=2,
                    socket_timeout=30)
    keys = {}
    for key in r.scan_iter(count=1000):
        kind = r.type(key).decode()
        entry = {"type": kind, "ttl": "set" if r.ttl(key) > 0 else "none"}
        if kind == "hash":
            entry["fields"] = {f.hex(): v.hex() for f, v in sorted(r.hgetall(key).items())}
        elif kind == "string":
            entry["value"] = r.get(key).hex()
        keys[key.hex()] = entry
    if keys:
        dump[str(db)] = dict(sorted(keys.items()))
with open(a.out, "w") as fh:
    json.dump(dump, fh, indent=1, sort_keys=True)
