import XCTest

/// COPY: deep copies with the TTL, across shards and databases, as Redis 6.2+.
final class CopyCommandTests: XCTestCase {
    func testCopyStringAndHashAcrossShardsAndDatabases() throws {
        let server = try TestServer(threads: 2)
        let c = try server.client()
        XCTAssertEqual(try c.call("SET", "s", "v", "EX", "100"), .simple("OK"))
        XCTAssertEqual(try c.call("HSET", "h", "a", "1", "b", "2"), .integer(2))
        // Keys named so that some pairs live in different shards; every copy must work.
        for i in 0..<8 {
            XCTAssertEqual(try c.call("COPY", "s", "s\(i)"), .integer(1))
            XCTAssertEqual(try c.call("GET", "s\(i)"), .bulk("v"))
            if case .integer(let ttl) = try c.call("TTL", "s\(i)") { XCTAssertTrue(ttl > 0 && ttl <= 100) } else { XCTFail() }
            XCTAssertEqual(try c.call("COPY", "h", "h\(i)"), .integer(1))
        }
        // The copy is deep: changing it leaves the source alone.
        XCTAssertEqual(try c.call("HSET", "h3", "a", "changed"), .integer(0))
        XCTAssertEqual(try c.call("HGET", "h", "a"), .bulk("1"))
        XCTAssertEqual(try c.call("COPY", "s", "s1"), .integer(0))
        XCTAssertEqual(try c.call("COPY", "h", "s1", "REPLACE"), .integer(1))
        XCTAssertEqual(try c.call("TYPE", "s1"), .simple("hash"))
        XCTAssertEqual(try c.call("COPY", "missing", "x"), .integer(0))
        XCTAssertEqual(try c.call("COPY", "s", "s", "DB", "0"), .error("ERR source and destination objects are the same"))
        XCTAssertEqual(try c.call("COPY", "s", "s", "DB", "16"), .error("ERR DB index is out of range"))
        XCTAssertEqual(try c.call("COPY", "s", "s", "DB", "x"), .error("ERR value is not an integer or out of range"))
        XCTAssertEqual(try c.call("COPY", "s", "t", "BOGUS"), .error("ERR syntax error"))
        XCTAssertEqual(try c.call("COPY", "s", "s", "DB", "5"), .integer(1))
        XCTAssertEqual(try c.call("SELECT", "5"), .simple("OK"))
        XCTAssertEqual(try c.call("GET", "s"), .bulk("v"))
    }
}
