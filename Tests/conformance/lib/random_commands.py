"""Seeded generator of random, deterministic Redis commands over a small keyspace.

Only commands whose replies do not depend on time, randomness or hash-table order are generated.
Each command carries a compare mode:
  exact      reply bytes must be identical
  ttl        TTL/PTTL/EXPIRETIME/PEXPIRETIME: non-negative integers are the same class ("has ttl")
  unordered  array replies compared as sorted multisets (KEYS, HKEYS, HVALS)
  pairs      HGETALL: compared as a sorted list of (field, value) pairs (RESP2 array or RESP3 map)
  scan       SCAN: the caller iterates to cursor 0 and compares the sorted key sets
  sscan      SSCAN/ZSCAN with COUNT 1000 over a small set: cursor and sorted members (and scores)
Expiry values are all >= 100 s, so nothing expires while a test runs; conditional expiry (GT/LT)
only uses absolute timestamps from four far-apart buckets, so no comparison is a near-tie that
the few milliseconds between the two servers could flip.
"""
import random
import time

STRING_KEYS = [f"k{i}" for i in range(9)] + ["bin\x00key"]
HASH_KEYS = [f"k{i}" for i in range(9, 18)] + ["sp ace"]
LIST_KEYS = [f"l{i}" for i in range(8)] + ["{l}\x00q"]
SET_KEYS = [f"s{i}" for i in range(8)] + ["set key"]
ZSET_KEYS = [f"z{i}" for i in range(6)] + ["z key"]
KEYS = STRING_KEYS + HASH_KEYS + LIST_KEYS + SET_KEYS + ZSET_KEYS
# Sorted-set keys outside KEYS: only sorted-set commands write them, so they hold a sorted set or
# nothing and OBJECT ENCODING on them compares listpack/skiplist (a string moved in by RENAME could
# report an encoding Larder only approximates, see KeyFamily.encodingName).
ZENC_KEYS = ["{z}e0", "{z}e1", "{z}e2"]
# Lex ranges are only defined when all scores are equal: these keys only ever get score 0.
ZLEX_KEYS = ["{z}lex0", "{z}lex1"]
# Integers, strings, a member past zset-max-listpack-value (64 bytes: skiplist).
ZMEMBERS = ["a", "b", "c", "d", "hello", "", "m\x00", "1", "-1", "10", "x" * 70]
ZSCORES = ["0", "1", "2", "2", "3", "-1", "1.5", "-2.25", "10", "0.1", "1e3", "inf", "-inf", "+inf", "-0",
           "3.0000000000000004", "1e-5", "123456789012345678"]
ZBAD_SCORES = ["abc", "nan", "", "1x", "(1"]
ZBOUNDS = ["-inf", "+inf", "inf", "(1", "1", "2", "(2", "(1.5", "0", "(-1", "-2.25", "(10", "3", "(inf"]
ZBAD_BOUNDS = ["abc", "(", "((1", "nan", "[1"]
ZLEX = ["-", "+", "[a", "(a", "[b", "(c", "[hello", "(hello", "[", "(", "[x", "(m"]
ZBAD_LEX = ["a", "", "*", "]a"]
# Integers (intset while all members are), strings (hashtable), and non-canonical integers.
MEMBERS = ["1", "2", "3", "-1", "100", "70000", "-9000000000", "a", "b", "hello", "", "007", " 5", "m\x00"]
FIELDS = [f"f{i}" for i in range(9)] + ["f\x00bin"]
VALUES = ["v", "hello", "", "12", "-7", "3.5", "0", "a b c", "\x00\x01\xff", "9223372036854775807",
          "x" * 40, "1e3", " 5", "007"]
INT_DELTAS = ["1", "-1", "5", "100", "-33", "0", "x", "1.5", "9223372036854775807"]
FLOAT_DELTAS = ["0.5", "-1.25", "3", "2.75", "-0.5", "abc", "1e2"]
REL_SECONDS = [100, 1000, 10000, 100000]
PATTERNS = ["*", "k1*", "k?", "k[0-4]", "*e*", "bin\x00*", "k1[!0-3]", "nomatch*", "sp\\ ace", "\\k1"]

# Absolute expiry buckets (unix seconds), far apart from each other and from the relative values.
# Taken when a Generator is made (not at import): a long test session must not reach the first
# bucket while a test runs, or a key would expire between the two servers' replies.
def abs_seconds() -> list:
    now = int(time.time())
    return [now + 600, now + 6000, now + 60000, now + 600000]


class Generator:
    def __init__(self, seed: int):
        self.rng = random.Random(seed)
        self.abs_seconds = abs_seconds()

    def key(self):
        return self.rng.choice(KEYS)

    def skey(self):  # mostly string keys, sometimes any key (WRONGTYPE paths)
        return self.rng.choice(STRING_KEYS if self.maybe(0.9) else KEYS)

    def hkey(self):
        return self.rng.choice(HASH_KEYS if self.maybe(0.9) else KEYS)

    def field(self):
        return self.rng.choice(FIELDS)

    def value(self):
        return self.rng.choice(VALUES)

    def pick(self, seq):
        return self.rng.choice(seq)

    def maybe(self, p=0.5):
        return self.rng.random() < p

    def command(self):
        """Returns (args, mode)."""
        family = self.rng.random()
        if family < 0.05:
            return self.bit_command()
        if family < 0.21:
            return self.string_command()
        if family < 0.40:
            return self.hash_command()
        if family < 0.55:
            return self.list_command()
        if family < 0.70:
            return self.set_command()
        if family < 0.86:
            return self.zset_command()
        return self.key_command()

    def setkey(self):
        return self.rng.choice(SET_KEYS if self.maybe(0.9) else KEYS)

    def member(self):
        return self.rng.choice(MEMBERS)

    def set_command(self):
        """Sets; replies whose order or choice is Redis' hash-table order or random are compared
        as multisets, or only by size (SPOP, SRANDMEMBER)."""
        r, k = self.rng, self.setkey()
        c = r.randrange(19 if self.maybe(0.1) else 16)  # 16..18 are error cases
        if c in (0, 1, 2):
            return ["SADD", k] + [self.member() for _ in range(r.randrange(1, 6))], "exact"
        if c == 3:
            return ["SREM", k] + [self.member() for _ in range(r.randrange(1, 4))], "exact"
        if c == 4:
            return ["SMEMBERS", k], "unordered"
        if c == 5:
            return ["SISMEMBER", k, self.member()], "exact"
        if c == 6:
            return ["SMISMEMBER", k] + [self.member() for _ in range(r.randrange(1, 4))], "exact"
        if c == 7:
            return ["SCARD", k], "exact"
        if c == 8:
            return ["SMOVE", k, self.setkey(), self.member()], "exact"
        if c in (9, 10):
            cmd = self.pick(["SINTER", "SUNION", "SDIFF"])
            return [cmd] + [self.setkey() for _ in range(r.randrange(1, 4))], "unordered"
        if c == 11:
            cmd = self.pick(["SINTERSTORE", "SUNIONSTORE", "SDIFFSTORE"])
            return [cmd, self.setkey()] + [self.setkey() for _ in range(r.randrange(1, 4))], "exact"
        if c == 12:
            keys = [self.setkey() for _ in range(r.randrange(1, 4))]
            args = ["SINTERCARD", str(len(keys))] + keys
            if self.maybe():
                args += ["LIMIT", str(r.randrange(0, 3))]
            return args, "exact"
        if c == 13:
            # Whole-set picks are deterministic up to order: count >= the set's size.
            return ["SRANDMEMBER", k, "100"], "unordered"
        if c == 14:
            return ["SPOP", k, "100"], "unordered"
        if c == 15:
            return ["SSCAN", k, "0", "MATCH", self.pick(["*", "1*", "?", "*e*"]), "COUNT", "1000"], "sscan"
        if c == 16:
            return ["SPOP", k, self.pick(["-1", "x"])], "exact"
        if c == 17:
            return ["SINTERCARD", self.pick(["0", "-1", "x", "9"]), k], "exact"
        return ["SADD", k], "exact"  # wrong arity

    def zkey(self):  # mostly sorted-set keys, sometimes any key (WRONGTYPE paths)
        x = self.rng.random()
        return self.rng.choice(ZSET_KEYS if x < 0.6 else ZENC_KEYS if x < 0.9 else KEYS)

    def zmember(self):
        return self.rng.choice(ZMEMBERS)

    def zscore(self):
        return self.rng.choice(ZBAD_SCORES if self.maybe(0.03) else ZSCORES)

    def zbound(self):
        return self.rng.choice(ZBAD_BOUNDS if self.maybe(0.03) else ZBOUNDS)

    def zlex(self):
        return self.rng.choice(ZBAD_LEX if self.maybe(0.03) else ZLEX)

    def zrank(self):
        return str(self.rng.choice([0, 1, 2, -1, -2, 3, 5, -5, 100, -100, 130]))

    def zlimit(self):
        r = self.rng
        return ["LIMIT", str(r.choice([0, 0, 1, 2, -1, 5])), str(r.choice([-1, 0, 1, 2, 3, 100]))]

    def zset_command(self):
        """Sorted sets: every reply is deterministic (scores order the members, equal scores
        order by bytes), so all are compared exactly except whole-set random picks and ZSCAN."""
        r, k = self.rng, self.zkey()
        c = r.randrange(30 if self.maybe(0.08) else 27)  # 27..29 are error cases
        if c in (0, 1, 2, 3):
            args = ["ZADD", k]
            flags = r.sample(["NX", "XX", "GT", "LT", "CH"], r.choice([0, 0, 0, 1, 1, 2]))
            args += flags
            if self.maybe(0.1):
                args += ["INCR", self.zscore(), self.zmember()]
                return args, "exact"
            for _ in range(r.randrange(1, 5)):
                args += [self.zscore(), self.zmember()]
            return args, "exact"
        if c == 4:
            if self.maybe(0.15):
                # Past zset-max-listpack-entries (128): a skiplist.
                args = ["ZADD", k]
                for i in range(r.randrange(125, 140)):
                    args += [str(i % 9), f"n{i}"]
                return args, "exact"
            return ["ZINCRBY", k, self.zscore(), self.zmember()], "exact"
        if c == 5:
            return ["ZREM", k] + [self.zmember() for _ in range(r.randrange(1, 4))], "exact"
        if c == 6:
            return [self.pick(["ZSCORE", "ZRANK", "ZREVRANK"]), k, self.zmember()], "exact"
        if c == 7:
            return ["ZMSCORE", k] + [self.zmember() for _ in range(r.randrange(1, 4))], "exact"
        if c == 8:
            return ["ZCARD", k], "exact"
        if c == 9:
            return ["ZCOUNT", k, self.zbound(), self.zbound()], "exact"
        if c in (10, 11):
            args = [self.pick(["ZRANGE", "ZREVRANGE"]), k, self.zrank(), self.zrank()]
            if self.maybe():
                args.append("WITHSCORES")
            return args, "exact"
        if c == 12:
            args = ["ZRANGE", k]
            by = r.randrange(3)
            if by == 0:
                args += [self.zrank(), self.zrank()]
            elif by == 1:
                args += [self.zbound(), self.zbound(), "BYSCORE"]
            else:
                k = self.pick(ZLEX_KEYS)
                args = ["ZRANGE", k, self.zlex(), self.zlex(), "BYLEX"]
            if self.maybe():
                args.append("REV")
            if self.maybe(0.4):
                args += self.zlimit()
            if self.maybe(0.4):
                args.append("WITHSCORES")
            return args, "exact"
        if c == 13:
            args = [self.pick(["ZRANGEBYSCORE", "ZREVRANGEBYSCORE"]), k, self.zbound(), self.zbound()]
            if self.maybe():
                args.append("WITHSCORES")
            if self.maybe(0.4):
                args += self.zlimit()
            return args, "exact"
        if c == 14:
            lk = self.pick(ZLEX_KEYS)
            if self.maybe(0.5):
                return ["ZADD", lk] + sum([["0", self.zmember()] for _ in range(r.randrange(1, 4))], []), "exact"
            cmd = self.pick(["ZRANGEBYLEX", "ZREVRANGEBYLEX", "ZLEXCOUNT", "ZREMRANGEBYLEX"])
            args = [cmd, lk, self.zlex(), self.zlex()]
            if cmd in ("ZRANGEBYLEX", "ZREVRANGEBYLEX") and self.maybe(0.4):
                args += self.zlimit()
            return args, "exact"
        if c == 15:
            args = [self.pick(["ZPOPMIN", "ZPOPMAX"]), k]
            if self.maybe(0.6):
                args.append(self.pick(["0", "1", "2", "3", "200"]))
            return args, "exact"
        if c == 16:
            keys = [self.zkey() for _ in range(r.randrange(1, 3))]
            args = ["ZMPOP", str(len(keys))] + keys + [self.pick(["MIN", "MAX"])]
            if self.maybe():
                args += ["COUNT", str(r.randrange(1, 4))]
            return args, "exact"
        if c == 17:
            keys = [self.zkey() for _ in range(r.randrange(1, 3))]
            return [self.pick(["BZPOPMIN", "BZPOPMAX"])] + keys + ["0.01"], "exact"
        if c in (18, 19):
            n = r.randrange(1, 4)
            op = self.pick(["ZUNION", "ZINTER", "ZDIFF"])
            extra = []
            if op != "ZDIFF" and self.maybe(0.4):
                extra += ["WEIGHTS"] + [self.pick(["1", "2", "-1", "0.5", "0", "inf"]) for _ in range(n)]
            if op != "ZDIFF" and self.maybe(0.4):
                extra += ["AGGREGATE", self.pick(["SUM", "MIN", "MAX"])]
            srcs = [self.zkey() for _ in range(n)]
            if self.maybe(0.6):
                return [op + "STORE", self.zkey(), str(n)] + srcs + extra, "exact"
            return [op, str(n)] + srcs + extra + (["WITHSCORES"] if self.maybe() else []), "exact"
        if c == 20:
            return ["ZINTERCARD", "2", k, self.zkey()] + (["LIMIT", str(r.randrange(0, 3))] if self.maybe() else []), "exact"
        if c == 21:
            args = ["ZRANGESTORE", self.zkey(), k]
            if self.maybe():
                args += [self.zbound(), self.zbound(), "BYSCORE"]
            else:
                args += [self.zrank(), self.zrank()]
            if self.maybe(0.3):
                args.append("REV")
            return args, "exact"
        if c == 22:
            return ["ZREMRANGEBYSCORE", k, self.zbound(), self.zbound()], "exact"
        if c == 23:
            return ["ZREMRANGEBYRANK", k, self.zrank(), self.zrank()], "exact"
        if c == 24:
            return ["OBJECT", "ENCODING", self.pick(ZENC_KEYS)], "exact"
        if c == 25:
            return ["ZSCAN", k, "0", "COUNT", "1000"] + (["MATCH", self.pick(["*", "n1*", "?", "*e*"])] if self.maybe() else []), "sscan"
        if c == 26:
            # Whole-set picks are deterministic up to order: count >= the set's size.
            return ["ZRANDMEMBER", k, "1000"], "unordered"
        if c == 27:
            return ["ZADD", k] + self.pick([["NX", "XX", "1", "a"], ["GT", "LT", "1", "a"], ["NX", "GT", "1", "a"],
                                            ["INCR", "1", "a", "2", "b"], ["1"], ["1", "a", "2"]]), "exact"
        if c == 28:
            return [self.pick(["ZPOPMIN", "ZRANGE", "ZUNIONSTORE", "ZINCRBY"]), k, self.pick(["-1", "x", "0"]), "1"], "exact"
        return [self.pick(["ZUNION", "ZINTER", "ZMPOP", "ZINTERCARD"]), self.pick(["0", "-1", "x", "5"]), k, "MIN"], "exact"

    def lkey(self):
        return self.rng.choice(LIST_KEYS if self.maybe(0.9) else KEYS)

    def index(self):
        return str(self.rng.choice([0, 1, 2, 3, -1, -2, -3, 5, 10, -10, 100]))

    def list_command(self):
        """Lists; blocking forms only with keys that have elements or a 10 ms timeout."""
        r, k, v = self.rng, self.lkey(), self.value()
        c = r.randrange(24 if self.maybe(0.1) else 20)  # 20..23 are error cases
        if c in (0, 1, 2):
            return [self.pick(["LPUSH", "RPUSH"]), k] + [self.value() for _ in range(r.randrange(1, 5))], "exact"
        if c == 3:
            return [self.pick(["LPUSHX", "RPUSHX"]), k, v], "exact"
        if c == 4:
            args = [self.pick(["LPOP", "RPOP"]), k]
            if self.maybe(0.4):
                args.append(str(r.randrange(0, 4)))
            return args, "exact"
        if c == 5:
            return ["LLEN", k], "exact"
        if c in (6, 7):
            return ["LRANGE", k, self.index(), self.index()], "exact"
        if c == 8:
            return ["LINDEX", k, self.index()], "exact"
        if c == 9:
            return ["LSET", k, self.index(), v], "exact"
        if c == 10:
            return ["LINSERT", k, self.pick(["BEFORE", "AFTER"]), self.value(), v], "exact"
        if c == 11:
            return ["LREM", k, str(r.randrange(-2, 3)), v], "exact"
        if c == 12:
            return ["LTRIM", k, self.index(), self.index()], "exact"
        if c == 13:
            args = ["LPOS", k, v]
            if self.maybe():
                args += ["RANK", self.pick(["1", "2", "-1", "-2"])]
            if self.maybe():
                args += ["COUNT", self.pick(["0", "1", "2"])]
            if self.maybe(0.3):
                args += ["MAXLEN", self.pick(["0", "1", "3"])]
            return args, "exact"
        if c == 14:
            return ["LMOVE", k, self.lkey(), self.pick(["LEFT", "RIGHT"]), self.pick(["LEFT", "RIGHT"])], "exact"
        if c == 15:
            return ["RPOPLPUSH", k, self.lkey()], "exact"
        if c == 16:
            keys = [self.lkey() for _ in range(r.randrange(1, 4))]
            args = ["LMPOP", str(len(keys))] + keys + [self.pick(["LEFT", "RIGHT"])]
            if self.maybe():
                args += ["COUNT", str(r.randrange(1, 4))]
            return args, "exact"
        if c == 17:
            keys = [self.lkey() for _ in range(r.randrange(1, 3))]
            return [self.pick(["BLPOP", "BRPOP"])] + keys + ["0.01"], "exact"
        if c == 18:
            return ["BLMOVE", k, self.lkey(), self.pick(["LEFT", "RIGHT"]), self.pick(["LEFT", "RIGHT"]), "0.01"], "exact"
        if c == 19:
            keys = [self.lkey() for _ in range(r.randrange(1, 3))]
            return ["BLMPOP", "0.01", str(len(keys))] + keys + [self.pick(["LEFT", "RIGHT"]), "COUNT", "2"], "exact"
        if c == 20:
            return ["LPOP", k, self.pick(["-1", "x"])], "exact"
        if c == 21:
            return ["LPOS", k, v, self.pick(["RANK", "COUNT", "MAXLEN"]), self.pick(["0", "-1", "x"])], "exact"
        if c == 22:
            return ["LMPOP", self.pick(["0", "-1", "x", "5"]), k, "LEFT"], "exact"
        return ["BLPOP", k, self.pick(["-1", "x"])], "exact"

    def string_command(self):
        r, k, v = self.rng, self.skey(), self.value()
        c = r.randrange(22 if self.maybe(0.1) else 19)  # 19..21 are error cases
        if c == 0:
            args = ["SET", k, v]
            opt = r.randrange(6)
            if opt == 1:
                args += ["EX", str(self.pick(REL_SECONDS))]
            elif opt == 2:
                args += ["PX", str(self.pick(REL_SECONDS) * 1000)]
            elif opt == 3:
                args += ["KEEPTTL"]
            elif opt == 4:
                args += ["EXAT", str(self.pick(self.abs_seconds))]
            if self.maybe(0.3):
                args.append(self.pick(["NX", "XX"]))
            if self.maybe(0.2):
                args.append("GET")
            return args, "exact"
        if c == 1:
            return ["GET", k], "exact"
        if c == 2:
            return ["GETDEL", k], "exact"
        if c == 3:
            opt = r.randrange(4)
            extra = [[], ["EX", str(self.pick(REL_SECONDS))], ["PERSIST"], ["PXAT", str(self.pick(self.abs_seconds) * 1000)]][opt]
            return ["GETEX", k] + extra, "exact"
        if c == 4:
            return ["GETSET", k, v], "exact"
        if c == 5:
            return ["SETNX", k, v], "exact"
        if c == 6:
            return ["SETEX", k, str(self.pick(REL_SECONDS + [0, -5])), v], "exact"
        if c == 7:
            return ["PSETEX", k, str(self.pick(REL_SECONDS) * 1000), v], "exact"
        if c == 8:
            args = ["MSET"]
            for _ in range(r.randrange(1, 4)):
                args += [self.skey(), self.value()]
            return args, "exact"
        if c == 9:
            return ["MGET"] + [self.skey() for _ in range(r.randrange(1, 5))], "exact"
        if c == 10:
            args = ["MSETNX"]
            for _ in range(r.randrange(1, 3)):
                args += [self.skey(), self.value()]
            return args, "exact"
        if c == 11:
            return ["APPEND", k, v], "exact"
        if c == 12:
            return ["STRLEN", k], "exact"
        if c == 13:
            return [self.pick(["INCR", "DECR"]), k], "exact"
        if c == 14:
            return [self.pick(["INCRBY", "DECRBY"]), k, self.pick(INT_DELTAS)], "exact"
        if c == 15:
            return ["INCRBYFLOAT", k, self.pick(FLOAT_DELTAS)], "exact"
        if c == 16:
            return ["GETRANGE", k, str(r.randrange(-5, 6)), str(r.randrange(-5, 20))], "exact"
        if c == 17:
            return ["SETRANGE", k, str(r.randrange(0, 12)), v], "exact"
        if c == 18:
            return ["SET", k, str(r.randrange(-1000, 1000))], "exact"
        if c == 19:
            return ["GET"], "exact"  # wrong arity
        if c == 20:
            return ["SET", k, v, "EX", self.pick(["0", "-1", "abc"])], "exact"
        return ["SET", k, v, "NX", "XX"], "exact"  # syntax error

    def bit_command(self):
        """Bitmap commands over the string keys (and sometimes a hash: WRONGTYPE)."""
        r, k = self.rng, self.skey()
        c = r.randrange(9)
        if c == 0:
            return ["SETBIT", k, str(r.randrange(0, 90)), self.pick(["0", "1", "1", "2"])], "exact"
        if c == 1:
            return ["GETBIT", k, str(r.randrange(0, 100))], "exact"
        if c == 2:
            args = ["BITCOUNT", k]
            if self.maybe(0.7):
                args += [str(r.randrange(-12, 12)), str(r.randrange(-12, 20))]
                if self.maybe(0.5):
                    args.append(self.pick(["BIT", "BYTE", "bit", "WORD"]))
            return args, "exact"
        if c == 3:
            args = ["BITPOS", k, self.pick(["0", "1", "1", "3"])]
            for _ in range(r.randrange(0, 4)):
                args.append(str(r.randrange(-20, 40)) if len(args) < 5 else self.pick(["BIT", "BYTE"]))
            return args, "exact"
        if c == 4:
            op = self.pick(["AND", "OR", "XOR", "NOT", "NAND"])
            n = 1 if op == "NOT" and self.maybe(0.8) else r.randrange(1, 4)
            return ["BITOP", op, self.skey()] + [self.skey() for _ in range(n)], "exact"
        ops = []
        for _ in range(r.randrange(1, 4)):
            t = self.pick(["u1", "u8", "i8", "u16", "i5", "i64", "u63", "u64", "x8"])
            off = self.pick([str(r.randrange(0, 40)), "#" + str(r.randrange(0, 4))])
            kind = self.pick(["GET", "SET", "INCRBY", "OVERFLOW"]) if c != 8 else "GET"
            if kind == "OVERFLOW":
                ops += ["OVERFLOW", self.pick(["WRAP", "SAT", "FAIL", "BOGUS"])]
            elif kind == "GET":
                ops += ["GET", t, off]
            else:
                ops += [kind, t, off, self.pick(["1", "-1", "100", "-300", "255", "9223372036854775807", "x"])]
        return (["BITFIELD_RO" if c == 8 else "BITFIELD", k] + ops), "exact"

    def hash_command(self):
        r, k, f, v = self.rng, self.hkey(), self.field(), self.value()
        c = r.randrange(18 if self.maybe(0.1) else 16)  # 16, 17 are error cases
        if c in (0, 1):
            args = ["HSET", k]
            for _ in range(r.randrange(1, 6)):
                args += [self.field(), self.value()]
            return args, "exact"
        if c == 2:
            return ["HSETNX", k, f, v], "exact"
        if c == 3:
            return ["HGET", k, f], "exact"
        if c == 4:
            return ["HMGET", k] + [self.field() for _ in range(r.randrange(1, 11))], "exact"
        if c == 5:
            return ["HDEL", k] + [self.field() for _ in range(r.randrange(1, 4))], "exact"
        if c == 6:
            return ["HLEN", k], "exact"
        if c == 7:
            return ["HEXISTS", k, f], "exact"
        if c == 8:
            return ["HSTRLEN", k, f], "exact"
        if c == 9:
            return ["HINCRBY", k, f, self.pick(INT_DELTAS)], "exact"
        if c == 10:
            return ["HINCRBYFLOAT", k, f, self.pick(FLOAT_DELTAS)], "exact"
        if c == 11:
            return ["HKEYS", k], "unordered"
        if c == 12:
            return ["HVALS", k], "unordered"
        if c in (13, 14):
            return ["HGETALL", k], "pairs"
        if c == 15:
            return ["HMSET", k, f, v, self.field(), self.value()], "exact"
        if c == 16:
            return ["HSET", k, f], "exact"  # wrong arity
        return ["HGET", k], "exact"  # wrong arity

    def key_command(self):
        r, k = self.rng, self.key()
        c = r.randrange(20 if self.maybe(0.1) else 15)  # 15..19 are rarer (mostly error cases)
        if c == 0:
            return ["DEL"] + [self.key() for _ in range(r.randrange(1, 4))], "exact"
        if c == 1:
            return ["UNLINK", k], "exact"
        if c == 2:
            return ["EXISTS"] + [self.key() for _ in range(r.randrange(1, 4))], "exact"
        if c == 3:
            return ["TYPE", k], "exact"
        if c == 4:
            args = [self.pick(["EXPIRE", "PEXPIRE"]), k]
            secs = self.pick(REL_SECONDS + [0, -1] if self.maybe(0.1) else REL_SECONDS)
            args.append(str(secs * 1000 if args[0] == "PEXPIRE" else secs))
            if self.maybe(0.4):
                args.append(self.pick(["NX", "XX"]))
            return args, "exact"
        if c == 5:
            cmd = self.pick(["EXPIREAT", "PEXPIREAT"])
            ts = self.pick(self.abs_seconds + [1] if self.maybe(0.1) else self.abs_seconds)
            args = [cmd, k, str(ts * 1000 if cmd == "PEXPIREAT" else ts)]
            if self.maybe(0.6):
                args.append(self.pick(["NX", "XX", "GT", "LT"]))
            return args, "exact"
        if c == 6:
            return ["PERSIST", k], "exact"
        if c in (7, 8):
            return [self.pick(["TTL", "PTTL", "EXPIRETIME", "PEXPIRETIME"]), k], "ttl"
        if c == 9:
            return ["RENAME", k, self.key()], "exact"
        if c == 10:
            return ["RENAMENX", k, self.key()], "exact"
        if c == 11:
            return ["KEYS", self.pick(PATTERNS)], "unordered"
        if c == 12:
            if self.maybe(0.4):
                return ["SCAN", self.pick(PATTERNS), "TYPE", self.pick(["zset", "zset", "set", "string", "hash", "list"])], "scan"
            return ["SCAN", self.pick(PATTERNS)], "scan"
        if c == 13:
            return ["DBSIZE"], "exact"
        if c == 14:
            args = ["COPY", k, self.key()]
            if self.maybe():
                args.append("REPLACE")
            return args, "exact"
        if c == 15:
            return ["EXPIRE", k, self.pick(["abc", "1.5", ""])], "exact"
        if c == 16:
            # Invalid option combinations only: a valid relative GT/LT could be a timing near-tie.
            return ["EXPIRE", k, "100"] + self.pick([["NX", "XX"], ["GT", "LT"], ["NX", "GT"], ["FOO"]]), "exact"
        if c == 17:
            return ["ECHO", self.value()], "exact"
        if c == 18:
            return ["EXISTS"], "exact"  # wrong arity
        return ["NOSUCHCOMMAND", k], "exact"
