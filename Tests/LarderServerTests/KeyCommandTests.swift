import XCTest

/// Generic key commands: DEL/UNLINK/EXISTS/TYPE, RENAME(NX) (also across shards), KEYS,
/// RANDOMKEY, OBJECT, and the TTL commands with their Redis 7.0 error texts.
final class KeyCommandTests: XCTestCase {
    var server: TestServer!
    var c: TestClient!

    override func setUpWithError() throws {
        server = try TestServer(threads: 2)
        c = try server.client()
    }

    override func tearDown() { c = nil; server = nil }

    func testDelUnlinkExistsType() throws {
        XCTAssertEqual(try c.call("MSET", "a", "1", "b", "2", "c", "3"), .simple("OK"))
        XCTAssertEqual(try c.call("EXISTS", "a", "a", "missing", "b"), .integer(3), "EXISTS counts repeats")
        XCTAssertEqual(try c.call("DEL", "a", "a", "missing"), .integer(1), "DEL counts each deleted key once")
        XCTAssertEqual(try c.call("UNLINK", "b", "c"), .integer(2))
        XCTAssertEqual(try c.call("EXISTS", "a", "b", "c"), .integer(0))
        XCTAssertEqual(try c.call("TYPE", "a"), .simple("none"))
        XCTAssertEqual(try c.call("SET", "s", "v"), .simple("OK"))
        XCTAssertEqual(try c.call("HSET", "h", "f", "v"), .integer(1))
        XCTAssertEqual(try c.call("TYPE", "s"), .simple("string"))
        XCTAssertEqual(try c.call("TYPE", "h"), .simple("hash"))
        XCTAssertEqual(try c.call("DEL"), .error("ERR wrong number of arguments for 'del' command"))
    }

    func testRenameKeepsValueTypeAndTTL() throws {
        XCTAssertEqual(try c.call("RENAME", "missing", "x"), .error("ERR no such key"))
        XCTAssertEqual(try c.call("RENAME", "missing", "missing"), .error("ERR no such key"))
        XCTAssertEqual(try c.call("SET", "a", "1"), .simple("OK"))
        XCTAssertEqual(try c.call("RENAME", "a", "a"), .simple("OK"))
        XCTAssertEqual(try c.call("RENAMENX", "a", "a"), .integer(0))
        XCTAssertEqual(try c.call("PEXPIRE", "a", "100000"), .integer(1))
        XCTAssertEqual(try c.call("HSET", "b", "f", "v"), .integer(1))
        XCTAssertEqual(try c.call("RENAME", "a", "b"), .simple("OK"), "the destination is overwritten whatever its type")
        XCTAssertEqual(try c.call("EXISTS", "a"), .integer(0))
        XCTAssertEqual(try c.call("GET", "b"), .bulk("1"))
        guard case .integer(let pttl) = try c.call("PTTL", "b") else { return XCTFail("PTTL") }
        XCTAssertTrue(pttl > 90000 && pttl <= 100000, "the TTL moves with the key, got \(pttl)")
        XCTAssertEqual(try c.call("SET", "x", "1"), .simple("OK"))
        XCTAssertEqual(try c.call("RENAMENX", "b", "x"), .integer(0))
        XCTAssertEqual(try c.call("RENAMENX", "b", "y"), .integer(1))
        XCTAssertEqual(try c.call("MGET", "b", "y"), .array([.null, .bulk("1")]))
        XCTAssertEqual(try c.call("HSET", "h", "f", "v"), .integer(1))
        XCTAssertEqual(try c.call("RENAME", "h", "h2"), .simple("OK"))
        XCTAssertEqual(try c.call("HGET", "h2", "f"), .bulk("v"), "a hash moves as a hash")
    }

    func testRenameAcrossShards() throws {
        for (from, to) in [ShardKeys.pair(sameShard: false), ShardKeys.pair(sameShard: true)] {
            XCTAssertEqual(try c.call("SET", from, "payload", "EX", "500"), .simple("OK"))
            XCTAssertEqual(try c.call("RENAME", from, to), .simple("OK"))
            XCTAssertEqual(try c.call("GET", to), .bulk("payload"))
            XCTAssertEqual(try c.call("TTL", to), .integer(500))
            XCTAssertEqual(try c.call("EXISTS", from), .integer(0))
            XCTAssertEqual(try c.call("RENAMENX", to, from), .integer(1))
            XCTAssertEqual(try c.call("GET", from), .bulk("payload"))
            XCTAssertEqual(try c.call("DEL", from), .integer(1))
        }
    }

    func testKeysAndRandomkey() throws {
        XCTAssertEqual(try c.call("RANDOMKEY"), .null)
        XCTAssertEqual(try c.call("KEYS", "*"), .array([]))
        let names = ["foo_a", "foo_b", "foo_c", "key_x", "key_y", "key_z"]
        for n in names { XCTAssertEqual(try c.call("SET", n, "v"), .simple("OK")) }
        XCTAssertEqual(try sortedKeys(c.call("KEYS", "foo*")), ["foo_a", "foo_b", "foo_c"])
        XCTAssertEqual(try sortedKeys(c.call("KEYS", "*_[xz]")), ["key_x", "key_z"])
        XCTAssertEqual(try sortedKeys(c.call("KEYS", "*")), names)
        XCTAssertEqual(try c.call("KEYS", "nomatch*"), .array([]))
        var seen = Set<String>()
        for _ in 0..<200 {
            guard let k = try c.call("RANDOMKEY").string else { return XCTFail("RANDOMKEY returned no key") }
            XCTAssertTrue(names.contains(k))
            seen.insert(k)
        }
        XCTAssertGreaterThan(seen.count, 3, "RANDOMKEY draws from every shard")
    }

    func testObjectEncodingAndHelp() throws {
        XCTAssertEqual(try c.call("SET", "i", "123"), .simple("OK"))
        XCTAssertEqual(try c.call("SET", "z", "0123"), .simple("OK"))
        XCTAssertEqual(try c.call("SET", "e", String(repeating: "x", count: 44)), .simple("OK"))
        XCTAssertEqual(try c.call("SET", "r", String(repeating: "x", count: 45)), .simple("OK"))
        XCTAssertEqual(try c.call("HSET", "h", "f", "v"), .integer(1))
        XCTAssertEqual(try c.call("OBJECT", "ENCODING", "i"), .bulk("int"))
        XCTAssertEqual(try c.call("OBJECT", "encoding", "z"), .bulk("embstr"))
        XCTAssertEqual(try c.call("OBJECT", "ENCODING", "e"), .bulk("embstr"))
        XCTAssertEqual(try c.call("OBJECT", "ENCODING", "r"), .bulk("raw"))
        XCTAssertEqual(try c.call("OBJECT", "ENCODING", "h"), .bulk("listpack"))
        XCTAssertEqual(try c.call("OBJECT", "ENCODING", "missing"), .null)
        XCTAssertEqual(try c.call("OBJECT", "REFCOUNT", "i"), .integer(2147483647), "small integers are shared")
        XCTAssertEqual(try c.call("OBJECT", "REFCOUNT", "r"), .integer(1))
        XCTAssertEqual(try c.call("OBJECT", "ENCODING"), .error("ERR wrong number of arguments for 'object|encoding' command"))
        XCTAssertEqual(try c.call("OBJECT", "foo"), .error("ERR unknown subcommand 'foo'. Try OBJECT HELP."))
        guard case .array(let help) = try c.call("OBJECT", "HELP") else { return XCTFail("OBJECT HELP") }
        XCTAssertEqual(help.first, .simple("OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"))
    }

    func sortedKeys(_ r: Reply) -> [String] {
        guard case .array(let a) = r else { return [] }
        return a.compactMap { $0.string }.sorted()
    }
}

/// TTL commands: EXPIRE family options and limits, TTL/PTTL/EXPIRETIME/PEXPIRETIME, PERSIST.
final class KeyTTLCommandTests: XCTestCase {
    var server: TestServer!
    var c: TestClient!

    override func setUpWithError() throws {
        server = try TestServer(threads: 2)
        c = try server.client()
    }

    override func tearDown() { c = nil; server = nil }

    func testExpireOptionsNXXXGTLT() throws {
        XCTAssertEqual(try c.call("SET", "k", "v"), .simple("OK"))
        XCTAssertEqual(try c.call("EXPIRE", "k", "10", "XX"), .integer(0), "XX needs an existing TTL")
        XCTAssertEqual(try c.call("EXPIRE", "k", "100", "GT"), .integer(0), "no TTL counts as infinite for GT")
        XCTAssertEqual(try c.call("EXPIRE", "k", "100", "LT"), .integer(1))
        XCTAssertEqual(try c.call("TTL", "k"), .integer(100))
        XCTAssertEqual(try c.call("EXPIRE", "k", "50", "NX"), .integer(0))
        XCTAssertEqual(try c.call("EXPIRE", "k", "50", "xx", "lt"), .integer(1))
        XCTAssertEqual(try c.call("TTL", "k"), .integer(50))
        XCTAssertEqual(try c.call("EXPIRE", "k", "40", "GT"), .integer(0))
        XCTAssertEqual(try c.call("EXPIRE", "k", "200", "gt"), .integer(1))
        XCTAssertEqual(try c.call("TTL", "k"), .integer(200))
        XCTAssertEqual(try c.call("EXPIRE", "missing", "10"), .integer(0))
    }

    func testExpireErrors() throws {
        XCTAssertEqual(try c.call("SET", "k", "v"), .simple("OK"))
        XCTAssertEqual(try c.call("EXPIRE", "k", "10", "foo"), .error("ERR Unsupported option foo"))
        XCTAssertEqual(try c.call("EXPIRE", "k", "10", "NX", "XX"),
                       .error("ERR NX and XX, GT or LT options at the same time are not compatible"))
        XCTAssertEqual(try c.call("EXPIRE", "k", "10", "NX", "GT"),
                       .error("ERR NX and XX, GT or LT options at the same time are not compatible"))
        XCTAssertEqual(try c.call("EXPIRE", "k", "10", "GT", "LT"),
                       .error("ERR GT and LT options at the same time are not compatible"))
        XCTAssertEqual(try c.call("EXPIRE", "k", "abc", "NX", "XX"),
                       .error("ERR NX and XX, GT or LT options at the same time are not compatible"),
                       "options are checked before the time")
        XCTAssertEqual(try c.call("EXPIRE", "k", "abc"), .error("ERR value is not an integer or out of range"))
        XCTAssertEqual(try c.call("EXPIRE", "missing", "abc"), .error("ERR value is not an integer or out of range"))
        XCTAssertEqual(try c.call("EXPIRE", "k", "9223372036854775807"), .error("ERR invalid expire time in 'expire' command"))
        XCTAssertEqual(try c.call("EXPIRE", "k", "9223372036854774"), .error("ERR invalid expire time in 'expire' command"),
                       "seconds that overflow once the clock is added")
        XCTAssertEqual(try c.call("EXPIRE", "k", "-9223372036854775808"), .error("ERR invalid expire time in 'expire' command"))
        XCTAssertEqual(try c.call("PEXPIRE", "k", "9223372036854775807"), .error("ERR invalid expire time in 'pexpire' command"))
        XCTAssertEqual(try c.call("TTL", "k"), .integer(-1), "failed EXPIREs change nothing")
    }

    func testExpireInThePastDeletes() throws {
        for args in [["EXPIRE", "k", "0"], ["EXPIRE", "k", "-9223372036854775"], ["PEXPIREAT", "k", "1"],
                     ["EXPIREAT", "k", "0"], ["PEXPIRE", "k", "-1"]] {
            XCTAssertEqual(try c.call("SET", "k", "v"), .simple("OK"))
            XCTAssertEqual(try c.call(args[0], args[1], args[2]), .integer(1), args.joined(separator: " "))
            XCTAssertEqual(try c.call("EXISTS", "k"), .integer(0), args.joined(separator: " "))
        }
    }

    func testTTLFamilyAndPersist() throws {
        XCTAssertEqual(try c.call("TTL", "missing"), .integer(-2))
        XCTAssertEqual(try c.call("PTTL", "missing"), .integer(-2))
        XCTAssertEqual(try c.call("EXPIRETIME", "missing"), .integer(-2))
        XCTAssertEqual(try c.call("PEXPIRETIME", "missing"), .integer(-2))
        XCTAssertEqual(try c.call("SET", "k", "v"), .simple("OK"))
        XCTAssertEqual(try c.call("TTL", "k"), .integer(-1))
        XCTAssertEqual(try c.call("EXPIRETIME", "k"), .integer(-1))
        XCTAssertEqual(try c.call("PEXPIREAT", "k", "99999999999999"), .integer(1))
        XCTAssertEqual(try c.call("PEXPIRETIME", "k"), .integer(99999999999999))
        XCTAssertEqual(try c.call("EXPIRETIME", "k"), .integer(100000000000), "seconds round to the nearest")
        XCTAssertEqual(try c.call("EXPIREAT", "k", "99999999999"), .integer(1))
        XCTAssertEqual(try c.call("PEXPIRETIME", "k"), .integer(99999999999000))
        XCTAssertEqual(try c.call("PERSIST", "k"), .integer(1))
        XCTAssertEqual(try c.call("PERSIST", "k"), .integer(0))
        XCTAssertEqual(try c.call("PERSIST", "missing"), .integer(0))
        XCTAssertEqual(try c.call("TTL", "k"), .integer(-1))
        XCTAssertEqual(try c.call("SET", "far", "v", "PXAT", "9223372036854775807"), .simple("OK"))
        XCTAssertEqual(try c.call("PEXPIRETIME", "far"), .integer(9223372036854775807))
        XCTAssertEqual(try c.call("EXPIRETIME", "far"), .integer(9223372036854776), "rounded without overflowing")
        XCTAssertEqual(try c.call("PEXPIRE", "k", "2900"), .integer(1))
        XCTAssertEqual(try c.call("TTL", "k"), .integer(3), "2.9 s rounds up to 3")
    }
}
