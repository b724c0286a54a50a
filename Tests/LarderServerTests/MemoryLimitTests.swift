import Foundation
import LarderStore
import XCTest
@testable import LarderServer

/// maxmemory with noeviction, as Redis: over the limit, commands that may add data (denyoom)
/// get -OOM; reads and deletes still run; lifting the limit lets writes in again.
final class MemoryLimitTests: XCTestCase {
    func waitFor(_ c: TestClient, _ expected: Reply, _ args: String...) throws -> Reply {
        let deadline = Date().addingTimeInterval(3)
        var last = Reply.null
        while Date() < deadline {
            last = try c.callBytes(args.map { Array($0.utf8) })
            if last == expected { return last }
            Thread.sleep(forTimeInterval: 0.02)
        }
        return last
    }

    func testOverMaxmemoryWritesGetOOMAndReadsRun() throws {
        let server = try TestServer(threads: 2)
        let c = try server.client()
        _ = try c.call("SET", "k", "v")
        let oom = Reply.error("OOM command not allowed when used memory > 'maxmemory'.")
        XCTAssertEqual(try c.call("CONFIG", "SET", "maxmemory", "1mb"), .simple("OK"), "far below this process's size")
        XCTAssertEqual(try waitFor(c, oom, "SET", "k2", "v"), oom)
        XCTAssertEqual(try c.call("HSET", "h", "f", "v"), oom)
        XCTAssertEqual(try c.call("GET", "k"), .bulk("v"))
        XCTAssertEqual(try c.call("DEL", "k"), .integer(1), "DEL frees memory: not refused")
        _ = try c.call("MULTI")
        XCTAssertEqual(try c.call("SET", "a", "b"), oom)
        XCTAssertEqual(try c.call("EXEC"), .error("EXECABORT Transaction discarded because of previous errors."))
        guard case .bulk(let info) = try c.call("INFO", "memory") else { return XCTFail("INFO") }
        XCTAssertTrue(String(decoding: info, as: UTF8.self).contains("maxmemory:1048576\r\n"))
        XCTAssertEqual(try c.call("CONFIG", "SET", "maxmemory", "0"), .simple("OK"))
        XCTAssertEqual(try waitFor(c, .simple("OK"), "SET", "k2", "v"), .simple("OK"))
    }

    func testOnlyNoevictionIsAccepted() throws {
        let server = try TestServer(threads: 1)
        let c = try server.client()
        XCTAssertEqual(try c.call("CONFIG", "GET", "maxmemory-policy"), .array([.bulk("maxmemory-policy"), .bulk("noeviction")]))
        XCTAssertEqual(try c.call("CONFIG", "SET", "maxmemory-policy", "noeviction"), .simple("OK"))
        guard case .error(let e) = try c.call("CONFIG", "SET", "maxmemory-policy", "allkeys-lru") else { return XCTFail("refused") }
        XCTAssertTrue(e.contains("not supported by Larder yet"), e)
        XCTAssertEqual(try c.call("CONFIG", "GET", "maxmemory"), .array([.bulk("maxmemory"), .bulk("0")]))
    }

    /// `serve --materialize` into a full server: the internal load is refused with the reason.
    func testTheInternalLoadIsRefusedWhenFull() throws {
        let server = try TestServer(threads: 2)
        let c = try server.client()
        _ = try c.call("CONFIG", "SET", "maxmemory", "1mb")
        _ = try waitFor(c, .error("OOM command not allowed when used memory > 'maxmemory'."), "SET", "x", "y")
        var batch = HashWriteBatch(fields: [Array("f".utf8)], ttlSeconds: nil)
        batch.append(key: Array("feast:k".utf8), values: [ArraySlice("v".utf8)])
        XCTAssertThrowsError(try server.server.bulkLoad(batch)) { XCTAssertTrue("\($0)".contains("OOM"), "\($0)") }
    }
}
