import Foundation
import LarderFeatures
import LarderRESP
import LarderTLS
import XCTest
@testable import LarderOffline

/// Cluster target parsing (URL, CLUSTER SLOTS, MOVED/ASK) and worker shares. The cluster
/// client itself runs against real redis-server clusters in Tests/conformance/feast_cluster.
final class MaterializeClusterTests: XCTestCase {
    func testClusterURLs() throws {
        let plain = try RESPEndpoint(url: "redis-cluster://:pw@10.0.0.1:7000,10.0.0.2:7001,[::1]:7002")
        XCTAssertTrue(plain.cluster)
        XCTAssertNil(plain.tls)
        XCTAssertEqual(plain.password, "pw")
        XCTAssertEqual(plain.hosts, [.init(host: "10.0.0.1", port: 7000), .init(host: "10.0.0.2", port: 7001), .init(host: "::1", port: 7002)])
        XCTAssertEqual(plain.clusterDescription, "redis-cluster://10.0.0.1:7000,10.0.0.2:7001,[::1]:7002")
        let secure = try RESPEndpoint(url: "rediss-cluster://app:p%40ss@h:6380?ssl_cert_reqs=none")
        XCTAssertTrue(secure.cluster)
        XCTAssertEqual(secure.username, "app")
        XCTAssertEqual(secure.password, "p@ss")
        XCTAssertEqual(secure.tls?.verifyPeer, TLSClientAuth.no)
        XCTAssertFalse(try RESPEndpoint(url: "redis://h:1").cluster)
        XCTAssertThrowsError(try RESPEndpoint(url: "redis-cluster://h:1,h:99999"))
        XCTAssertThrowsError(try RESPEndpoint(url: "redis-clusters://h:1"))
    }

    func testClusterSlotsReply() throws {
        func node(_ host: String, _ port: Int64) -> RESPReply { .array([.bulk(Array(host.utf8)), .integer(port), .bulk(Array("id".utf8))]) }
        let reply = RESPReply.array([
            .array([.integer(0), .integer(5460), node("10.0.0.1", 7000), node("10.0.0.9", 7100)]),
            .array([.integer(5461), .integer(16383), node("", 7001)]),
        ])
        let map = try RESPClusterTarget.parseSlots(reply, askedHost: "seed.local")
        XCTAssertEqual(map.map(\.0), [0 ... 5460, 5461 ... 16383])
        XCTAssertEqual(map.map(\.1), [.init(host: "10.0.0.1", port: 7000), .init(host: "seed.local", port: 7001)],
                       "the primary, not the replica; an empty host is the node that answered")
        XCTAssertThrowsError(try RESPClusterTarget.parseSlots(.array([.array([.integer(0), .integer(16384), node("h", 1)])]), askedHost: "h"))
        XCTAssertThrowsError(try RESPClusterTarget.parseSlots(.error("ERR This instance has cluster support disabled"), askedHost: "h"))
    }

    func testRedirections() {
        let from = RESPEndpoint.HostPort(host: "10.0.0.1", port: 7000)
        XCTAssertEqual(RESPClusterTarget.redirection("MOVED 3999 10.0.0.2:7001", from: from)?.node, .init(host: "10.0.0.2", port: 7001))
        XCTAssertEqual(RESPClusterTarget.redirection("MOVED 3999 10.0.0.2:7001", from: from)?.ask, false)
        XCTAssertEqual(RESPClusterTarget.redirection("ASK 3999 :7002", from: from)?.node, .init(host: "10.0.0.1", port: 7002))
        XCTAssertEqual(RESPClusterTarget.redirection("ASK 3999 :7002", from: from)?.ask, true)
        XCTAssertNil(RESPClusterTarget.redirection("ERR wrong number of arguments", from: from))
        XCTAssertNil(RESPClusterTarget.redirection("CLUSTERDOWN The cluster is down", from: from))
    }

    func testHashSlotIsRedisOne() {
        // Values from redis-server 7.0.15's CLUSTER KEYSLOT.
        XCTAssertEqual(ClusterHashSlot.slot(of: Array("foo".utf8)), 12182)
        XCTAssertEqual(ClusterHashSlot.slot(of: Array("{user1000}.following".utf8)), ClusterHashSlot.slot(of: Array("user1000".utf8)))
        XCTAssertEqual(ClusterHashSlot.slot(of: Array("foo{}{bar}".utf8)), ClusterHashSlot.slot(of: Array("foo{}{bar}".utf8)))
        XCTAssertEqual(ClusterHashSlot.slot(of: Array("{}x".utf8)), Int(Array("{}x".utf8).withUnsafeBytes { ClusterHashSlot.crc16($0) } & 0x3FFF),
                       "an empty hash tag hashes the whole key")
    }

    func testWorkerSharesPartitionEveryEntityOnce() throws {
        let keys = try (0 ..< 3000).map { try FeastKeyEncoder.redisKey([("driver_id", .int64(Int64($0)))], project: "p") }
        for n in [1, 2, 3, 8] {
            let shares = try (0 ..< n).map { try WorkerShare(count: n, index: $0) }
            var counts = [Int](repeating: 0, count: n)
            for key in keys {
                let owners = shares.filter { $0.owns(entityKey: key) }
                XCTAssertEqual(owners.count, 1, "every key belongs to exactly one of \(n) workers")
                counts[owners[0].index] += 1
            }
            // Near-even split: within 15% of the mean.
            let mean = Double(keys.count) / Double(n)
            XCTAssertTrue(counts.allSatisfy { abs(Double($0) - mean) < 0.15 * mean }, "\(counts)")
        }
        // Fixed forever: the same bytes go to the same worker in every version.
        XCTAssertEqual(WorkerShare.hash(Array("driver".utf8)), 0x3350_5863_E728_7C74, "computed independently in Python")
        XCTAssertThrowsError(try WorkerShare(count: 0, index: 0))
        XCTAssertThrowsError(try WorkerShare(count: 2, index: 2))
    }

    func testWorkersUnionIsTheSingleRun() throws {
        var rows = "driver_id,event_timestamp,created,trips,city\n"
        for d in 1 ... 60 {
            for h in 0 ..< 3 { rows += "\(d),2025-01-01T0\(h):00:00,2025-01-01T0\(h):00:00,\(d * 10 + h),C\(d)\n" }
        }
        let fixture = try DriverRepoFixture(csv: rows)
        defer { fixture.remove() }
        let single = MemorySink()
        var materializer = Materializer(repo: fixture.repo)
        _ = try materializer.materialize(view: fixture.view, start: nanos("2025-01-01T00:00:00Z"), end: nanos("2025-01-02T00:00:00Z"), into: single)
        for n in [2, 3] {
            var union: [[UInt8]: [[UInt8]: [UInt8]]] = [:]
            for i in 0 ..< n {
                let part = MemorySink()
                materializer.share = try WorkerShare(count: n, index: i)
                let result = try materializer.materialize(view: fixture.view, start: nanos("2025-01-01T00:00:00Z"),
                                                          end: nanos("2025-01-02T00:00:00Z"), into: part)
                XCTAssertEqual(result.rowsRead, 180, "each worker reads every row")
                XCTAssertGreaterThan(result.entities, 0)
                XCTAssertTrue(Set(part.hashes.keys).isDisjoint(with: union.keys))
                union.merge(part.hashes) { a, _ in a }
            }
            XCTAssertEqual(union, single.hashes, "the union of \(n) workers is the single run")
        }
    }
}
