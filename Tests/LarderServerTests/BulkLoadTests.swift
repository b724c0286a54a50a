import LarderRESP
import LarderServer
import LarderStore
import XCTest

/// The embedded bulk load (`larder serve --materialize`) writes through the same store
/// operation as HSET: clients see the same hashes, TTLs and WATCH invalidation.
final class BulkLoadTests: XCTestCase {
    func batch(_ keys: [String], ttl: Int? = nil) -> HashWriteBatch {
        var b = HashWriteBatch(fields: [Array("_ts:v".utf8), Array("f1".utf8)], ttlSeconds: ttl)
        for k in keys { b.append(key: Array(k.utf8), values: [ArraySlice("ts-\(k)".utf8), ArraySlice("v-\(k)".utf8)]) }
        return b
    }

    func testLoadedHashesReadAsIfWrittenByHSET() throws {
        let server = try TestServer(threads: 2)
        let keys = (0..<200).map { "entity:\($0)" }
        try server.server.bulkLoad(batch(keys, ttl: 100))
        let c = try server.client()
        XCTAssertEqual(try c.call("DBSIZE"), .integer(200))
        for k in keys.prefix(20) {
            XCTAssertEqual(try c.call("HMGET", k, "_ts:v", "f1"), .array([.bulk("ts-\(k)"), .bulk("v-\(k)")]))
            guard case .integer(let ttl) = try c.call("TTL", k) else { return XCTFail("TTL") }
            XCTAssertTrue(ttl > 90 && ttl <= 100, "\(k) ttl \(ttl)")
        }
        // A second load overwrites values and keeps other fields.
        XCTAssertEqual(try c.call("HSET", keys[0], "extra", "x"), .integer(1))
        try server.server.bulkLoad(batch([keys[0]]))
        XCTAssertEqual(try c.call("HLEN", keys[0]), .integer(3))
    }

    func testAKeyOfAnotherTypeIsReportedAndLeftAlone() throws {
        let server = try TestServer(threads: 2)
        let c = try server.client()
        XCTAssertEqual(try c.call("SET", "s", "text"), .simple("OK"))
        XCTAssertThrowsError(try server.server.bulkLoad(batch(["s", "h"]))) { error in
            XCTAssertTrue("\(error)".contains("1 key(s) hold a value that is not a hash"), "\(error)")
        }
        XCTAssertEqual(try c.call("GET", "s"), .bulk("text"))
        XCTAssertEqual(try c.call("HGET", "h", "f1"), .bulk("v-h"))
    }

    func testALoadedKeyInvalidatesAWatchingTransaction() throws {
        let server = try TestServer(threads: 2)
        let c = try server.client()
        XCTAssertEqual(try c.call("WATCH", "watched"), .simple("OK"))
        try server.server.bulkLoad(batch(["watched"]))
        XCTAssertEqual(try c.call("MULTI"), .simple("OK"))
        XCTAssertEqual(try c.call("PING"), .simple("QUEUED"))
        XCTAssertEqual(try c.call("EXEC"), .null)
    }
}
