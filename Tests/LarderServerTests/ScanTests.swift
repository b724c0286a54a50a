import XCTest

/// SCAN over two shards: a full iteration returns every key exactly once, MATCH follows Redis'
/// glob rules on binary keys, TYPE filters, and the cursor errors are Redis'.
final class ScanTests: XCTestCase {
    var server: TestServer!
    var c: TestClient!

    override func setUpWithError() throws {
        server = try TestServer(threads: 2)
        c = try server.client()
    }

    override func tearDown() { c = nil; server = nil }

    func fill(_ prefix: String, _ n: Int, _ command: [String] = ["SET"], _ value: [String] = ["v"]) throws {
        var pipeline: [UInt8] = []
        for i in 0..<n { pipeline += TestClient.encode((command + ["\(prefix)\(i)"] + value).map { Array($0.utf8) }) }
        c.sendRaw(pipeline)
        for _ in 0..<n { _ = try c.read() }
    }

    /// Runs a whole iteration; returns every key it produced (with repeats) and the call count.
    func fullScan(_ options: [String] = [], between: (() throws -> Void)? = nil) throws -> ([[UInt8]], Int) {
        var cursor = "0"
        var keys: [[UInt8]] = []
        var calls = 0
        repeat {
            let reply = try c.callBytes((["SCAN", cursor] + options).map { Array($0.utf8) })
            guard case .array(let parts) = reply, parts.count == 2, let next = parts[0].string,
                  case .array(let page) = parts[1] else { XCTFail("bad SCAN reply \(reply)"); break }
            for k in page { if case .bulk(let b) = k { keys.append(b) } }
            cursor = next
            calls += 1
            try between?()
        } while cursor != "0" && calls < 100_000
        return (keys, calls)
    }

    func testFullIterationReturnsEveryKeyOnce() throws {
        try fill("key:", 3000)
        try fill("hash:", 200, ["HSET"], ["f", "v"])
        let expected = Set((0..<3000).map { Array("key:\($0)".utf8) } + (0..<200).map { Array("hash:\($0)".utf8) })
        for count in [[], ["COUNT", "1"], ["COUNT", "7"], ["COUNT", "1000"], ["COUNT", "100000"]] {
            let (keys, calls) = try fullScan(count)
            XCTAssertEqual(keys.count, expected.count, "COUNT \(count): no repeats")
            XCTAssertEqual(Set(keys), expected, "COUNT \(count): every key")
            if count == ["COUNT", "100000"] { XCTAssertLessThanOrEqual(calls, 2) }
            if count.isEmpty { XCTAssertGreaterThan(calls, 50, "about 10 keys per call by default") }
        }
    }

    func testKeysPresentThroughoutAreReturnedWhileTablesGrow() throws {
        try fill("old:", 500)
        var added = 0
        let (keys, _) = try fullScan(["COUNT", "20"]) {
            var pipeline: [UInt8] = []
            for _ in 0..<40 { pipeline += TestClient.encode(["SET", "new:\(added)", "v"].map { Array($0.utf8) }); added += 1 }
            self.c.sendRaw(pipeline)
            for _ in 0..<40 { _ = try self.c.read() }
        }
        let old = Set((0..<500).map { Array("old:\($0)".utf8) })
        XCTAssertTrue(old.isSubset(of: Set(keys)), "missing \(old.subtracting(Set(keys)).count) keys")
        XCTAssertGreaterThan(added, 1000, "the tables grew several times during the iteration")
    }

    func testMatchAndTypeFilters() throws {
        try fill("user:", 100)
        try fill("item:", 100)
        try fill("h:", 30, ["HSET"], ["f", "v"])
        let (users, _) = try fullScan(["MATCH", "user:1*"])
        XCTAssertEqual(Set(users.map { String(decoding: $0, as: UTF8.self) }),
                       Set(["user:1"] + (10...19).map { "user:\($0)" }))
        let (hashes, _) = try fullScan(["TYPE", "HASH", "COUNT", "50"])
        XCTAssertEqual(Set(hashes), Set((0..<30).map { Array("h:\($0)".utf8) }))
        let (strings, _) = try fullScan(["TYPE", "string", "MATCH", "*:9?"])
        XCTAssertEqual(strings.count, 20)
        let (none, _) = try fullScan(["TYPE", "nosuchtype"])
        XCTAssertEqual(none, [])
    }

    func testMatchOnBinaryKeysWithNul() throws {
        let keys: [[UInt8]] = [[0x61, 0, 0x62], [0x61, 0, 0x63], [0x61, 0x62], [0xFF, 0]]
        for k in keys { XCTAssertEqual(try c.callBytes([Array("SET".utf8), k, [0x76]]), .simple("OK")) }
        func scanMatch(_ pattern: [UInt8]) throws -> Set<[UInt8]> {
            var cursor: [UInt8] = Array("0".utf8)
            var found = Set<[UInt8]>()
            repeat {
                guard case .array(let parts) = try c.callBytes([Array("SCAN".utf8), cursor, Array("MATCH".utf8), pattern]),
                      case .bulk(let next) = parts[0], case .array(let page) = parts[1] else { XCTFail("SCAN"); break }
                for k in page { if case .bulk(let b) = k { found.insert(b) } }
                cursor = next
            } while cursor != Array("0".utf8)
            return found
        }
        XCTAssertEqual(try scanMatch([0x61, 0, 0x3F]), [[0x61, 0, 0x62], [0x61, 0, 0x63]], "a\\0?")
        XCTAssertEqual(try scanMatch([0x2A, 0, 0x2A]), [[0x61, 0, 0x62], [0x61, 0, 0x63], [0xFF, 0]], "*\\0*")
        XCTAssertEqual(try scanMatch([0x61, 0x3F, 0x62]), [[0x61, 0, 0x62]], "? matches a NUL byte")
        XCTAssertEqual(try scanMatch([0x5B, 0x80, 0x2D, 0xFF, 0x5D, 0]), [[0xFF, 0]], "[\\x80-\\xff]\\0")
    }

    func testExpiredKeysAreNotReturned() throws {
        try fill("live:", 50)
        try fill("dying:", 50, ["SET"], ["v", "PX", "30"])
        Thread.sleep(forTimeInterval: 0.1)
        let (keys, _) = try fullScan(["COUNT", "1000"])
        XCTAssertEqual(Set(keys), Set((0..<50).map { Array("live:\($0)".utf8) }))
    }

    func testCursorAndOptionErrors() throws {
        XCTAssertEqual(try c.call("SET", "k", "v"), .simple("OK"))
        XCTAssertEqual(try c.call("SCAN", "abc"), .error("ERR invalid cursor"))
        XCTAssertEqual(try c.call("SCAN", " 5"), .error("ERR invalid cursor"))
        XCTAssertEqual(try c.call("SCAN", "5x"), .error("ERR invalid cursor"))
        XCTAssertEqual(try c.call("SCAN", "18446744073709551616"), .error("ERR invalid cursor"))
        XCTAssertEqual(try c.call("SCAN", "x", "COUNT", "0"), .error("ERR invalid cursor"), "the cursor is checked first")
        guard case .array(let parts) = try c.call("SCAN", "18446744073709551615"), parts.count == 2 else {
            return XCTFail("the largest cursor is valid")
        }
        XCTAssertEqual(try c.call("SCAN", "0", "COUNT", "0"), .error("ERR syntax error"))
        XCTAssertEqual(try c.call("SCAN", "0", "COUNT", "-1"), .error("ERR syntax error"))
        XCTAssertEqual(try c.call("SCAN", "0", "COUNT", "x"), .error("ERR value is not an integer or out of range"))
        XCTAssertEqual(try c.call("SCAN", "0", "MATCH"), .error("ERR syntax error"))
        XCTAssertEqual(try c.call("SCAN", "0", "foo", "bar"), .error("ERR syntax error"))
        XCTAssertEqual(try c.call("SCAN", "0", "COUNT", "9223372036854775807"), .array([.bulk("0"), .array([.bulk("k")])]))
        XCTAssertEqual(try c.call("SCAN", "", "COUNT", "100"), .array([.bulk("0"), .array([.bulk("k")])]),
                       "an empty cursor reads as 0, as strtoul does")
    }
}
