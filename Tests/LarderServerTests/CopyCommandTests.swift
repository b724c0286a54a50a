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

/// A number followed or preceded by NUL bytes is not a float (SETRANGE pads with NULs).
final class FloatParsingWithNulTests: XCTestCase {
    func testIncrbyfloatRejectsValuesWithNulBytes() throws {
        let server = try TestServer(threads: 1)
        let c = try server.client()
        XCTAssertEqual(try c.call("SETRANGE", "k", "3", "1e3"), .integer(6))
        XCTAssertEqual(try c.call("INCRBYFLOAT", "k", "0.5"), .error("ERR value is not a valid float"))
        XCTAssertEqual(try c.callBytes([Array("SET".utf8), Array("j".utf8), [0x31, 0x00]]), .simple("OK"))
        XCTAssertEqual(try c.call("INCRBYFLOAT", "j", "1"), .error("ERR value is not a valid float"))
        XCTAssertEqual(try c.callBytes([Array("HSET".utf8), Array("h".utf8), Array("f".utf8), [0x31, 0x00]]), .integer(1))
        XCTAssertEqual(try c.call("HINCRBYFLOAT", "h", "f", "1"), .error("ERR hash value is not a float"))
    }
}
