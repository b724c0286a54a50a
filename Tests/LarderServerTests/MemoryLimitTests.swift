import Foundation
import LarderStore
import XCTest
@testable import LarderServer

/// maxmemory, as Redis: with noeviction, over the limit, commands that may add data (denyoom)
/// get -OOM; reads and deletes still run; lifting the limit lets writes in again. The other
/// policies evict instead.
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

    func testEveryRedisPolicyIsAcceptedAndAnUnknownOneRefused() throws {
        let server = try TestServer(threads: 1)
        let c = try server.client()
        XCTAssertEqual(try c.call("CONFIG", "GET", "maxmemory-policy"), .array([.bulk("maxmemory-policy"), .bulk("noeviction")]))
        for policy in EvictionPolicy.allCases {
            XCTAssertEqual(try c.call("CONFIG", "SET", "maxmemory-policy", policy.name.uppercased()), .simple("OK"))
            XCTAssertEqual(try c.call("CONFIG", "GET", "maxmemory-policy"), .array([.bulk("maxmemory-policy"), .bulk(Array(policy.name.utf8))]))
        }
        guard case .error(let e) = try c.call("CONFIG", "SET", "maxmemory-policy", "lru") else { return XCTFail("refused") }
        XCTAssertTrue(e.hasSuffix("argument(s) must be one of the following: volatile-lru, volatile-lfu, volatile-random, volatile-ttl, allkeys-lru, allkeys-lfu, allkeys-random, noeviction"), e)
        XCTAssertEqual(try c.call("CONFIG", "GET", "maxmemory"), .array([.bulk("maxmemory"), .bulk("0")]))
        _ = try c.call("CONFIG", "SET", "maxmemory-policy", "noeviction")
    }

    /// allkeys-random over the limit: writes keep succeeding, keys are evicted (INFO
    /// evicted_keys), and the store stays near the limit instead of growing.
    func testAnEvictionPolicyMakesRoomInsteadOfRefusing() throws {
        let server = try TestServer(threads: 2)
        let c = try server.client()
        let value = String(repeating: "x", count: 1000)
        for i in 0..<2000 { _ = try c.call("SET", "k\(i)", value) }
        guard case .bulk(let before) = try c.call("INFO", "memory"),
              let used = Self.field(before, "used_memory") else { return XCTFail("INFO") }
        _ = try c.call("CONFIG", "SET", "maxmemory-policy", "allkeys-random")
        _ = try c.call("CONFIG", "SET", "maxmemory", String(used - 500_000))
        Thread.sleep(forTimeInterval: 0.3)   // the next measure
        for i in 0..<1000 { XCTAssertEqual(try c.call("SET", "n\(i)", value), .simple("OK")) }
        guard case .bulk(let stats) = try c.call("INFO", "stats"), let evicted = Self.field(stats, "evicted_keys") else { return XCTFail("INFO") }
        guard case .integer(let keys) = try c.call("DBSIZE") else { return XCTFail("DBSIZE") }
        XCTAssertGreaterThan(evicted, 1000, "at least what was written over the limit")
        XCTAssertEqual(keys, 3000 - evicted)
        _ = try c.call("CONFIG", "SET", "maxmemory", "0")
        _ = try c.call("CONFIG", "SET", "maxmemory-policy", "noeviction")
    }

    static func field(_ info: [UInt8], _ name: String) -> Int? {
        for line in String(decoding: info, as: UTF8.self).split(separator: "\r\n") where line.hasPrefix(name + ":") {
            return Int(line.dropFirst(name.count + 1))
        }
        return nil
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
