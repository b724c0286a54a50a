import XCTest

/// Hash commands over a real socket, against a 2-shard server; every expected reply was
/// checked against redis-server 7.0.
final class HashCommandTests: XCTestCase {
    var server: TestServer!
    var c: TestClient!

    override func setUpWithError() throws {
        server = try TestServer(threads: 2)
        c = try server.client()
    }

    override func tearDown() { c = nil; server = nil }

    let wrongType = Reply.error("WRONGTYPE Operation against a key holding the wrong kind of value")

    func bulks(_ items: String...) -> Reply { .array(items.map { .bulk($0) }) }

    /// A reply's bulk strings, for replies whose order Redis does not define.
    func strings(_ r: Reply) -> [String] {
        guard case .array(let a) = r else { XCTFail("not an array: \(r)"); return [] }
        return a.map { $0.string ?? "\($0)" }
    }

    func testHSetCountsNewFieldsAndHGetReadsThem() throws {
        XCTAssertEqual(try c.call("HSET", "h", "a", "1", "b", "2"), .integer(2))
        XCTAssertEqual(try c.call("HSET", "h", "a", "10", "c", "3"), .integer(1))
        XCTAssertEqual(try c.call("HGET", "h", "a"), .bulk("10"))
        XCTAssertEqual(try c.call("HGET", "h", "zz"), .null)
        XCTAssertEqual(try c.call("HGET", "nokey", "a"), .null)
        XCTAssertEqual(try c.call("HLEN", "h"), .integer(3))
    }

    func testArityErrorsNameTheCommand() throws {
        XCTAssertEqual(try c.call("HSET", "h", "a", "1", "b"), .error("ERR wrong number of arguments for 'hset' command"))
        XCTAssertEqual(try c.call("HMSET", "h", "a", "1", "b"), .error("ERR wrong number of arguments for 'hmset' command"))
        XCTAssertEqual(try c.call("HSET", "h", "a"), .error("ERR wrong number of arguments for 'hset' command"))
        XCTAssertEqual(try c.call("HGET", "h"), .error("ERR wrong number of arguments for 'hget' command"))
        XCTAssertEqual(try c.call("EXISTS", "h"), .integer(0))   // nothing was created
    }

    func testHSetNXAndHMSet() throws {
        XCTAssertEqual(try c.call("HSETNX", "h", "a", "1"), .integer(1))
        XCTAssertEqual(try c.call("HSETNX", "h", "a", "2"), .integer(0))
        XCTAssertEqual(try c.call("HGET", "h", "a"), .bulk("1"))
        XCTAssertEqual(try c.call("HMSET", "h", "b", "2", "c", "3"), .simple("OK"))
        XCTAssertEqual(try c.call("HMGET", "h", "c", "nope", "a", "c"), .array([.bulk("3"), .null, .bulk("1"), .bulk("3")]))
        XCTAssertEqual(try c.call("HMGET", "nokey", "a", "b"), .array([.null, .null]))
    }

    func testWrongTypeForEveryCommand() throws {
        XCTAssertEqual(try c.call("SET", "s", "x"), .simple("OK"))
        let calls: [[String]] = [
            ["HSET", "s", "a", "1"], ["HSETNX", "s", "a", "1"], ["HMSET", "s", "a", "1"], ["HGET", "s", "a"],
            ["HMGET", "s", "a"], ["HGETALL", "s"], ["HDEL", "s", "a"], ["HLEN", "s"], ["HKEYS", "s"], ["HVALS", "s"],
            ["HEXISTS", "s", "a"], ["HSTRLEN", "s", "a"], ["HINCRBY", "s", "a", "1"], ["HINCRBYFLOAT", "s", "a", "1"],
            ["HRANDFIELD", "s"], ["HRANDFIELD", "s", "2"], ["HSCAN", "s", "0"],
        ]
        for args in calls {
            c.send(args)
            XCTAssertEqual(try c.read(), wrongType, "\(args)")
        }
        XCTAssertEqual(try c.call("GET", "s"), .bulk("x"))
    }

    func testHGetAllHKeysHValsHExistsHStrlen() throws {
        try c.call("HSET", "h", "a", "1", "b", "22")
        XCTAssertEqual(try c.call("HGETALL", "h"), bulks("a", "1", "b", "22"))  // packed: insertion order
        XCTAssertEqual(try c.call("HKEYS", "h"), bulks("a", "b"))
        XCTAssertEqual(try c.call("HVALS", "h"), bulks("1", "22"))
        XCTAssertEqual(try c.call("HGETALL", "nokey"), .array([]))
        XCTAssertEqual(try c.call("HKEYS", "nokey"), .array([]))
        XCTAssertEqual(try c.call("HEXISTS", "h", "b"), .integer(1))
        XCTAssertEqual(try c.call("HEXISTS", "h", "z"), .integer(0))
        XCTAssertEqual(try c.call("HSTRLEN", "h", "b"), .integer(2))
        XCTAssertEqual(try c.call("HSTRLEN", "h", "z"), .integer(0))
        XCTAssertEqual(try c.call("HLEN", "nokey"), .integer(0))
    }

    func testHDelDeletesTheKeyWithItsLastField() throws {
        try c.call("HSET", "h", "a", "1", "b", "2")
        XCTAssertEqual(try c.call("HDEL", "h", "a", "a", "zz"), .integer(1))
        XCTAssertEqual(try c.call("EXISTS", "h"), .integer(1))
        XCTAssertEqual(try c.call("HDEL", "h", "b"), .integer(1))
        XCTAssertEqual(try c.call("EXISTS", "h"), .integer(0))
        XCTAssertEqual(try c.call("HDEL", "nokey", "a"), .integer(0))
    }

    func testLargeHashBehavesTheSameInTableForm() throws {
        for i in 0..<300 { c.send(["HSET", "big", "f\(i)", "v\(i)"]) }
        for _ in 0..<300 { XCTAssertEqual(try c.read(), .integer(1)) }
        XCTAssertEqual(try c.call("HSET", "big", "long", String(repeating: "x", count: 100)), .integer(1))
        XCTAssertEqual(try c.call("HLEN", "big"), .integer(301))
        XCTAssertEqual(try c.call("HMGET", "big", "f7", "f299", "nope"), .array([.bulk("v7"), .bulk("v299"), .null]))
        XCTAssertEqual(Set(strings(try c.call("HKEYS", "big"))).count, 301)
        XCTAssertEqual(try c.call("HSTRLEN", "big", "long"), .integer(100))
    }

    func testBinaryFieldsAndValues() throws {
        let field: [UInt8] = [0, 13, 10, 255, 42]
        let value: [UInt8] = [1, 0, 2, 13, 10]
        XCTAssertEqual(try c.callBytes([Array("HSET".utf8), Array("bin".utf8), field, value]), .integer(1))
        XCTAssertEqual(try c.callBytes([Array("HGET".utf8), Array("bin".utf8), field]), .bulk(value))
    }

    // MARK: HINCRBY / HINCRBYFLOAT

    func testHIncrBy() throws {
        XCTAssertEqual(try c.call("HINCRBY", "h", "n", "5"), .integer(5))
        XCTAssertEqual(try c.call("HINCRBY", "h", "n", "-7"), .integer(-2))
        XCTAssertEqual(try c.call("HGET", "h", "n"), .bulk("-2"))
        XCTAssertEqual(try c.call("HINCRBY", "h", "n", "x"), .error("ERR value is not an integer or out of range"))
        try c.call("HSET", "h", "s", "abc", "max", "9223372036854775807")
        XCTAssertEqual(try c.call("HINCRBY", "h", "s", "1"), .error("ERR hash value is not an integer"))
        XCTAssertEqual(try c.call("HINCRBY", "h", "max", "1"), .error("ERR increment or decrement would overflow"))
        XCTAssertEqual(try c.call("HINCRBY", "h", "max", "0"), .integer(Int.max))
        // The increment is checked before the key's type.
        try c.call("SET", "str", "x")
        XCTAssertEqual(try c.call("HINCRBY", "str", "f", "x"), .error("ERR value is not an integer or out of range"))
    }

    func testHIncrByFloatUsesLongDoubleAndRedisFormatting() throws {
        XCTAssertEqual(try c.call("HINCRBYFLOAT", "h", "f", "0.1"), .bulk("0.1"))
        XCTAssertEqual(try c.call("HINCRBYFLOAT", "h", "f", "0.2"), .bulk("0.3"))
        XCTAssertEqual(try c.call("HINCRBYFLOAT", "h", "e", "1.5e3"), .bulk("1500"))
        XCTAssertEqual(try c.call("HINCRBYFLOAT", "h", "z", "-0.0"), .bulk("0"))
        // 2e308 overflows a double but not a long double: Redis prints every digit.
        try c.call("HINCRBYFLOAT", "h", "big", "1e308")
        let two = try c.call("HINCRBYFLOAT", "h", "big", "1e308")
        XCTAssertEqual(two.string?.count, 309)
        XCTAssertEqual(two.string?.prefix(20), "19999999999999999999")
        XCTAssertEqual(try c.call("HINCRBYFLOAT", "h", "f", "abc"), .error("ERR value is not a valid float"))
        XCTAssertEqual(try c.call("HINCRBYFLOAT", "h", "f", " 1"), .error("ERR value is not a valid float"))
        XCTAssertEqual(try c.call("HINCRBYFLOAT", "h", "f", "inf"), .error("ERR value is NaN or Infinity"))
        try c.call("HSET", "h", "s", "abc")
        XCTAssertEqual(try c.call("HINCRBYFLOAT", "h", "s", "1"), .error("ERR hash value is not a float"))
    }

    // MARK: HRANDFIELD

    func testHRandFieldShapesAndErrors() throws {
        XCTAssertEqual(try c.call("HRANDFIELD", "nokey"), .null)
        XCTAssertEqual(try c.call("HRANDFIELD", "nokey", "5"), .array([]))
        try c.call("HSET", "h", "a", "1", "b", "2", "c", "3")
        XCTAssertTrue(["a", "b", "c"].contains(try c.call("HRANDFIELD", "h").string ?? ""))
        XCTAssertEqual(try c.call("HRANDFIELD", "h", "0"), .array([]))
        XCTAssertEqual(Set(strings(try c.call("HRANDFIELD", "h", "10"))), ["a", "b", "c"])
        let two = strings(try c.call("HRANDFIELD", "h", "2"))
        XCTAssertEqual(two.count, 2)
        XCTAssertEqual(Set(two).count, 2)                       // positive count: distinct fields
        let repeats = strings(try c.call("HRANDFIELD", "h", "-20"))
        XCTAssertEqual(repeats.count, 20)                       // negative count: may repeat
        XCTAssertTrue(Set(repeats).isSubset(of: ["a", "b", "c"]))
        let withValues = strings(try c.call("HRANDFIELD", "h", "-4", "WITHVALUES"))
        XCTAssertEqual(withValues.count, 8)                     // RESP2: flat field, value pairs
        for i in stride(from: 0, to: 8, by: 2) {
            XCTAssertEqual(["a": "1", "b": "2", "c": "3"][withValues[i]], withValues[i + 1])
        }
        XCTAssertEqual(try c.call("HRANDFIELD", "h", "x"), .error("ERR value is not an integer or out of range"))
        XCTAssertEqual(try c.call("HRANDFIELD", "h", "1", "WITHVALUE"), .error("ERR syntax error"))
        XCTAssertEqual(try c.call("HRANDFIELD", "h", "1", "WITHVALUES", "x"), .error("ERR syntax error"))
        XCTAssertEqual(try c.call("HRANDFIELD", "h", "-9223372036854775807", "WITHVALUES"), .error("ERR value is out of range"))
    }

    func testHRandFieldDistinctSamplingOnATable() throws {
        for i in 0..<200 { c.send(["HSET", "big", "f\(i)", "v"]) }
        for _ in 0..<200 { try c.read() }
        let picks = strings(try c.call("HRANDFIELD", "big", "150"))
        XCTAssertEqual(picks.count, 150)
        XCTAssertEqual(Set(picks).count, 150)
    }

    // MARK: HSCAN

    func testHScanOfAPackedHashReturnsAllInOneCall() throws {
        try c.call("HSET", "h", "apple", "1", "banana", "2", "avocado", "3")
        XCTAssertEqual(try c.call("HSCAN", "h", "0"), .array([.bulk("0"), bulks("apple", "1", "banana", "2", "avocado", "3")]))
        XCTAssertEqual(try c.call("HSCAN", "h", "0", "MATCH", "a*", "COUNT", "1"),
                       .array([.bulk("0"), bulks("apple", "1", "avocado", "3")]))
        XCTAssertEqual(try c.call("HSCAN", "nokey", "0", "BADOPTION"), .array([.bulk("0"), .array([])]))
    }

    func testHScanErrors() throws {
        try c.call("HSET", "h", "a", "1")
        try c.call("SET", "s", "x")
        XCTAssertEqual(try c.call("HSCAN", "h", "x"), .error("ERR invalid cursor"))
        XCTAssertEqual(try c.call("HSCAN", "h", "18446744073709551616"), .error("ERR invalid cursor"))
        XCTAssertEqual(try c.call("HSCAN", "s", "x"), .error("ERR invalid cursor"))   // cursor first
        XCTAssertEqual(try c.call("HSCAN", "h", "0", "COUNT", "0"), .error("ERR syntax error"))
        XCTAssertEqual(try c.call("HSCAN", "h", "0", "COUNT", "x"), .error("ERR value is not an integer or out of range"))
        XCTAssertEqual(try c.call("HSCAN", "h", "0", "MATCH"), .error("ERR syntax error"))
        XCTAssertEqual(try c.call("HSCAN", "h", "0", "TYPE", "string"), .error("ERR syntax error"))
        // strtoul semantics, as Redis 7.0: "-1" is the largest cursor.
        XCTAssertEqual(try c.call("HSCAN", "h", "-1"), .array([.bulk("0"), bulks("a", "1")]))
    }

    func testHScanOfATableVisitsEveryFieldAcrossCalls() throws {
        for i in 0..<500 { c.send(["HSET", "big", "f\(i)", "v\(i)"]) }
        for _ in 0..<500 { try c.read() }
        var cursor = "0"
        var seen: [String: String] = [:]
        var calls = 0
        repeat {
            guard case .array(let parts) = try c.call("HSCAN", "big", cursor, "COUNT", "20"), parts.count == 2,
                  let next = parts[0].string else { return XCTFail("bad HSCAN reply") }
            let items = strings(parts[1])
            for i in stride(from: 0, to: items.count, by: 2) { seen[items[i]] = items[i + 1] }
            cursor = next
            calls += 1
        } while cursor != "0"
        XCTAssertEqual(seen.count, 500)
        XCTAssertEqual(seen["f123"], "v123")
        XCTAssertGreaterThan(calls, 1)
    }

    func testHScanMatchIsBinarySafe() throws {
        let f1: [UInt8] = [0x61, 0x00, 0x62], f2: [UInt8] = [0x61, 0x00, 0x63]
        XCTAssertEqual(try c.callBytes([Array("HSET".utf8), Array("bin".utf8), f1, Array("1".utf8), f2, Array("2".utf8)]), .integer(2))
        let r = try c.callBytes([Array("HSCAN".utf8), Array("bin".utf8), Array("0".utf8), Array("MATCH".utf8), [0x61, 0x00, 0x62]])
        XCTAssertEqual(r, .array([.bulk("0"), .array([.bulk(f1), .bulk("1")])]))
    }

    // MARK: transactions

    func testHashWritesInvalidateWatchersAndNoOpsDoNot() throws {
        let other = try server.client()
        try c.call("HSET", "h", "a", "1")
        for (write, aborts) in [(["HSETNX", "h", "a", "2"], false), (["HDEL", "h", "zz"], false),
                                (["HINCRBY", "h", "n", "1"], true), (["HDEL", "h", "n"], true)] {
            XCTAssertEqual(try c.call("WATCH", "h"), .simple("OK"))
            other.send(write)
            _ = try other.read()
            XCTAssertEqual(try c.call("MULTI"), .simple("OK"))
            XCTAssertEqual(try c.call("HGET", "h", "a"), .simple("QUEUED"))
            XCTAssertEqual(try c.call("EXEC"), aborts ? .null : .array([.bulk("1")]), "\(write)")
        }
    }
}
