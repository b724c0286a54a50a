#!/usr/bin/env python3
"""Writes RESP commands that load N elements of one data type, for `redis-cli --pipe`
(bench/memory.sh's list/set datasets). Deterministic: the same N gives the same data.
  lists    N/1000 keys l:%08d, RPUSH of 1000 16-byte elements each (a job queue)
  intsets  N/100 keys s:%08d, SADD of 100 integers < 2^31 each (ids: intset, 4-byte wide)
  sets     N/100 keys s:%08d, SADD of 100 16-byte strings each (hashtable)
  zsets    N/100 keys z:%08d, ZADD of 100 16-byte members with timestamp scores (listpack)
  bigzsets N/1000 keys z:%08d, ZADD of 1000 16-byte members with fractional scores (skiplist)"""
import random
import sys

kind, n = sys.argv[1], int(sys.argv[2])
per = {"lists": 1000, "intsets": 100, "sets": 100, "zsets": 100, "bigzsets": 1000}[kind]
rnd = random.Random(7)
out = sys.stdout.buffer


def cmd(*args):
    parts = [b"*%d\r\n" % len(args)]
    for a in args:
        parts.append(b"$%d\r\n%s\r\n" % (len(a), a))
    out.write(b"".join(parts))


for k in range(n // per):
    if kind == "lists":
        cmd(b"RPUSH", b"l:%08d" % k, *[b"job-%012d" % (k * per + i) for i in range(per)])
    elif kind == "intsets":
        cmd(b"SADD", b"s:%08d" % k, *[b"%d" % rnd.randrange(1 << 31) for _ in range(per)])
    elif kind == "sets":
        cmd(b"SADD", b"s:%08d" % k, *[b"m-%014d" % rnd.randrange(10**14) for _ in range(per)])
    elif kind == "zsets":
        pairs = []
        for _ in range(per):
            pairs += [b"%d" % (1700000000 + rnd.randrange(10**7)), b"m-%014d" % rnd.randrange(10**14)]
        cmd(b"ZADD", b"z:%08d" % k, *pairs)
    else:
        pairs = []
        for _ in range(per):
            pairs += [repr(rnd.random() * 1000).encode(), b"m-%014d" % rnd.randrange(10**14)]
        cmd(b"ZADD", b"z:%08d" % k, *pairs)
