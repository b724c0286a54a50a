import XCTest

/// Per-field expiry (HEXPIRE family). redis-server 7.0 lacks these commands, so the expected
/// replies come from the Redis 7.4 documentation and its t_hash.c: per-field codes -2 (no
/// such field or key), 0 (NX/XX/GT/LT not met), 1 (set), 2 (deleted: time in the past); TTL
/// reads -2 (no field), -1 (no TTL); HPERSIST -2, -1, 1.
final class HashExpiryCommandTests: XCTestCase {
    var server: TestServer!
    var c: TestClient!

    override func setUpWithError() throws {
        server = try TestServer(threads: 2)
        c = try server.client()
    }

    override func tearDown() { c = nil; server = nil }

    func ints(_ v: Int...) -> Reply { .array(v.map { .integer($0) }) }

    func integers(_ r: Reply) -> [Int] {
        guard case .array(let a) = r else { XCTFail("not an array: \(r)"); return [] }
        return a.map { if case .integer(let i) = $0 { return i }; XCTFail("not an integer: \($0)"); return 0 }
    }

    func nowMs() -> Int { Int(Date().timeIntervalSince1970 * 1000) }

    func testHExpireSetsPerFieldTTLsAndHTTLReadsThem() throws {
        try c.call("HSET", "h", "a", "1", "b", "2", "c", "3")
        XCTAssertEqual(try c.call("HEXPIRE", "h", "100", "FIELDS", "2", "a", "nope"), ints(1, -2))
        XCTAssertEqual(try c.call("HTTL", "h", "FIELDS", "3", "a", "b", "nope"), ints(100, -1, -2))
        let pttl = integers(try c.call("HPTTL", "h", "FIELDS", "1", "a"))[0]
        XCTAssertTrue((99_000...100_000).contains(pttl), "\(pttl)")
        let at = integers(try c.call("HPEXPIRETIME", "h", "FIELDS", "1", "a"))[0]
        XCTAssertTrue(abs(at - (nowMs() + 100_000)) < 2000, "\(at)")
        XCTAssertEqual(try c.call("HEXPIRETIME", "h", "FIELDS", "1", "a"), ints((at + 999) / 1000))
        XCTAssertEqual(try c.call("HTTL", "nokey", "FIELDS", "2", "a", "b"), ints(-2, -2))
    }

    func testAbsoluteVariants() throws {
        try c.call("HSET", "h", "a", "1", "b", "2")
        let inAnHour = nowMs() / 1000 + 3600
        XCTAssertEqual(try c.call("HEXPIREAT", "h", String(inAnHour), "FIELDS", "1", "a"), ints(1))
        XCTAssertEqual(try c.call("HEXPIRETIME", "h", "FIELDS", "1", "a"), ints(inAnHour))
        XCTAssertEqual(try c.call("HPEXPIREAT", "h", String(inAnHour * 1000 + 5), "FIELDS", "1", "b"), ints(1))
        XCTAssertEqual(try c.call("HPEXPIRETIME", "h", "FIELDS", "1", "b"), ints(inAnHour * 1000 + 5))
    }

    func testConditions() throws {
        try c.call("HSET", "h", "a", "1", "b", "2")
        // No TTL yet: NX sets, XX and GT do not, LT does (no TTL counts as infinite).
        XCTAssertEqual(try c.call("HEXPIRE", "h", "100", "XX", "FIELDS", "1", "a"), ints(0))
        XCTAssertEqual(try c.call("HEXPIRE", "h", "100", "GT", "FIELDS", "1", "a"), ints(0))
        XCTAssertEqual(try c.call("HEXPIRE", "h", "100", "NX", "FIELDS", "1", "a"), ints(1))
        XCTAssertEqual(try c.call("HEXPIRE", "h", "100", "LT", "FIELDS", "1", "b"), ints(1))
        // With a TTL of 100 s.
        XCTAssertEqual(try c.call("HEXPIRE", "h", "200", "NX", "FIELDS", "1", "a"), ints(0))
        XCTAssertEqual(try c.call("HEXPIRE", "h", "50", "GT", "FIELDS", "1", "a"), ints(0))
        XCTAssertEqual(try c.call("HEXPIRE", "h", "200", "GT", "FIELDS", "1", "a"), ints(1))
        XCTAssertEqual(try c.call("HEXPIRE", "h", "300", "LT", "FIELDS", "1", "a"), ints(0))
        XCTAssertEqual(try c.call("HEXPIRE", "h", "150", "lt", "FIELDS", "1", "a"), ints(1))
        XCTAssertEqual(try c.call("HEXPIRE", "h", "120", "XX", "FIELDS", "1", "a"), ints(1))
        XCTAssertEqual(try c.call("HTTL", "h", "FIELDS", "2", "a", "b"), ints(120, 100))
    }

    func testTimeInThePastDeletesTheFieldAndTheEmptiedKey() throws {
        try c.call("HSET", "h", "a", "1", "b", "2")
        XCTAssertEqual(try c.call("HEXPIRE", "h", "0", "FIELDS", "2", "a", "a"), ints(2, -2))
        XCTAssertEqual(try c.call("HGETALL", "h"), .array([.bulk("b"), .bulk("2")]))
        XCTAssertEqual(try c.call("HPEXPIREAT", "h", "1", "FIELDS", "1", "b"), ints(2))
        XCTAssertEqual(try c.call("EXISTS", "h"), .integer(0))
        XCTAssertEqual(try c.call("HEXPIRE", "h", "10", "FIELDS", "1", "a"), ints(-2))
    }

    func testExpiredFieldsAreInvisibleAndTheKeyGoesWithTheLast() throws {
        try c.call("HSET", "h", "a", "1", "b", "2", "c", "3")
        XCTAssertEqual(try c.call("HPEXPIRE", "h", "50", "FIELDS", "2", "a", "b"), ints(1, 1))
        Thread.sleep(forTimeInterval: 0.1)
        XCTAssertEqual(try c.call("HGET", "h", "a"), .null)
        XCTAssertEqual(try c.call("HMGET", "h", "a", "b", "c"), .array([.null, .null, .bulk("3")]))
        XCTAssertEqual(try c.call("HLEN", "h"), .integer(1))
        XCTAssertEqual(try c.call("HGETALL", "h"), .array([.bulk("c"), .bulk("3")]))
        XCTAssertEqual(try c.call("HTTL", "h", "FIELDS", "1", "a"), ints(-2))
        XCTAssertEqual(try c.call("HPEXPIRE", "h", "50", "FIELDS", "1", "c"), ints(1))
        Thread.sleep(forTimeInterval: 0.1)
        XCTAssertEqual(try c.call("HLEN", "h"), .integer(0))
        XCTAssertEqual(try c.call("EXISTS", "h"), .integer(0))
    }

    func testActiveSweepRemovesKeysNobodyReads() throws {
        for i in 0..<20 {
            try c.call("HSET", "k\(i)", "f", "v")
            XCTAssertEqual(try c.call("HPEXPIRE", "k\(i)", "30", "FIELDS", "1", "f"), ints(1))
        }
        XCTAssertEqual(try c.call("DBSIZE"), .integer(20))
        var size = Reply.integer(20)
        for _ in 0..<40 where size != .integer(0) {   // the sweep runs every 100 ms
            Thread.sleep(forTimeInterval: 0.1)
            size = try c.call("DBSIZE")                  // DBSIZE reads no key: only the sweep deletes
        }
        XCTAssertEqual(size, .integer(0))
    }

    func testWritesAndTTLs() throws {
        try c.call("HSET", "h", "a", "1", "n", "5")
        XCTAssertEqual(try c.call("HEXPIRE", "h", "100", "FIELDS", "2", "a", "n"), ints(1, 1))
        try c.call("HSET", "h", "a", "2")                               // HSET clears the TTL
        XCTAssertEqual(try c.call("HINCRBY", "h", "n", "1"), .integer(6)) // HINCRBY keeps it
        XCTAssertEqual(try c.call("HTTL", "h", "FIELDS", "2", "a", "n"), ints(-1, 100))
    }

    func testHPersist() throws {
        try c.call("HSET", "h", "a", "1", "b", "2")
        try c.call("HEXPIRE", "h", "100", "FIELDS", "1", "a")
        XCTAssertEqual(try c.call("HPERSIST", "h", "FIELDS", "3", "a", "b", "zz"), ints(1, -1, -2))
        XCTAssertEqual(try c.call("HTTL", "h", "FIELDS", "1", "a"), ints(-1))
        XCTAssertEqual(try c.call("HPERSIST", "nokey", "FIELDS", "1", "a"), ints(-2))
    }

    func testArgumentErrors() throws {
        try c.call("HSET", "h", "a", "1")
        try c.call("SET", "s", "x")
        let wrongType = Reply.error("WRONGTYPE Operation against a key holding the wrong kind of value")
        XCTAssertEqual(try c.call("HEXPIRE", "s", "abc", "FIELDS", "1", "a"), wrongType)   // type first
        XCTAssertEqual(try c.call("HTTL", "s", "FIELDS", "1", "a"), wrongType)
        XCTAssertEqual(try c.call("HPERSIST", "s", "FIELDS", "1", "a"), wrongType)
        XCTAssertEqual(try c.call("HEXPIRE", "h", "abc", "FIELDS", "1", "a"), .error("ERR value is not an integer or out of range"))
        XCTAssertEqual(try c.call("HEXPIRE", "h", "-1", "FIELDS", "1", "a"), .error("ERR invalid expire time, must be >= 0"))
        XCTAssertEqual(try c.call("HEXPIRE", "h", "99999999999", "FIELDS", "1", "a"), .error("ERR invalid expire time in 'hexpire' command"))
        XCTAssertEqual(try c.call("HPEXPIREAT", "h", "70368744177664", "FIELDS", "1", "a"), .error("ERR invalid expire time in 'hpexpireat' command"))
        XCTAssertEqual(try c.call("HPEXPIREAT", "h", "70368744177663", "FIELDS", "1", "a"), ints(1))
        XCTAssertEqual(try c.call("HEXPIRE", "h", "100", "BAD", "FIELDS", "1", "a"),
                       .error("ERR Mandatory argument FIELDS is missing or not at the right position"))
        XCTAssertEqual(try c.call("HEXPIRE", "h", "100", "NX", "XX", "FIELDS", "1", "a"),
                       .error("ERR Mandatory argument FIELDS is missing or not at the right position"))
        XCTAssertEqual(try c.call("HEXPIRE", "h", "100", "FIELDS", "0", "a"), .error("ERR Parameter `numFields` should be greater than 0"))
        XCTAssertEqual(try c.call("HEXPIRE", "h", "100", "FIELDS", "x", "a"), .error("ERR Parameter `numFields` should be greater than 0"))
        XCTAssertEqual(try c.call("HEXPIRE", "h", "100", "FIELDS", "2", "a"),
                       .error("ERR The `numfields` parameter must match the number of arguments"))
        XCTAssertEqual(try c.call("HTTL", "h", "FIELDS", "0", "a"), .error("ERR Number of fields must be a positive integer"))
        XCTAssertEqual(try c.call("HPERSIST", "h", "FIELDS", "x", "a"), .error("ERR Number of fields must be a positive integer"))
        XCTAssertEqual(try c.call("HTTL", "h", "NOTFIELDS", "1", "a"),
                       .error("ERR Mandatory argument FIELDS is missing or not at the right position"))
        XCTAssertEqual(try c.call("HTTL", "h", "FIELDS", "1", "a", "b"),
                       .error("ERR The `numfields` parameter must match the number of arguments"))
        XCTAssertEqual(try c.call("HEXPIRE", "h", "10", "FIELDS", "1"), .error("ERR wrong number of arguments for 'hexpire' command"))
        XCTAssertEqual(try c.call("HTTL", "h", "FIELDS", "1"), .error("ERR wrong number of arguments for 'httl' command"))
    }
}
