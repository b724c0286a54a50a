import XCTest

/// Keys with a TTL disappear: on access (lazy expiry, tested in isolation in the store tests)
/// and, for keys nobody reads, by the shards' incremental sweep (active expiry), which
/// DBSIZE shows.
final class ExpiryTests: XCTestCase {
    var server: TestServer!
    var c: TestClient!

    override func setUpWithError() throws {
        server = try TestServer(threads: 2)
        c = try server.client()
    }

    override func tearDown() { c = nil; server = nil }

    func testExpiredKeyReadsAsAbsent() throws {
        XCTAssertEqual(try c.call("SET", "k", "v", "PX", "500"), .simple("OK"))
        XCTAssertEqual(try c.call("GET", "k"), .bulk("v"))
        Thread.sleep(forTimeInterval: 0.6)
        XCTAssertEqual(try c.call("GET", "k"), .null)
        XCTAssertEqual(try c.call("TTL", "k"), .integer(-2))
        XCTAssertEqual(try c.call("SETNX", "k", "new"), .integer(1), "an expired key counts as absent for writes too")
        XCTAssertEqual(try c.call("TTL", "k"), .integer(-1))
    }

    func testActiveExpiryRemovesKeysNeverAccessed() throws {
        // Pipelined: 3000 short-lived keys over both shards, and 10 that stay.
        var pipeline: [UInt8] = []
        for i in 0..<3000 { pipeline += TestClient.encode(["SET", "tmp:\(i)", "v", "PX", "2000"].map { Array($0.utf8) }) }
        for i in 0..<10 { pipeline += TestClient.encode(["SET", "keep:\(i)", "v"].map { Array($0.utf8) }) }
        c.sendRaw(pipeline)
        for _ in 0..<3010 { XCTAssertEqual(try c.read(), .simple("OK")) }
        XCTAssertEqual(try c.call("DBSIZE"), .integer(3010), "nothing has expired yet")
        let deadline = Date().addingTimeInterval(10)
        var size = Reply.integer(-1)
        while Date() < deadline {
            Thread.sleep(forTimeInterval: 0.2)
            size = try c.call("DBSIZE")
            if size == .integer(10) { break }
        }
        XCTAssertEqual(size, .integer(10), "the sweep deleted every expired key without any read")
    }
}
