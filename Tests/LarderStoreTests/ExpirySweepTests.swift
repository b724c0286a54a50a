import XCTest
@testable import LarderStore

/// Active expiry: the incremental sweep finds expired keys nobody reads, in a bounded number
/// of steps whatever the table size, and leaves live keys alone.
final class ExpirySweepTests: XCTestCase {
    func key(_ s: String) -> [UInt8] { Array(s.utf8) }

    func testSweepRemovesOnlyExpiredKeys() {
        let db = Keyspace()
        for i in 0..<100 { db.set(key("dead\(i)"), value: .string([]), expireAt: 1500, now: 1000) }
        for i in 0..<100 { db.set(key("later\(i)"), value: .string([]), expireAt: 9000, now: 1000) }
        for i in 0..<100 { db.set(key("forever\(i)"), value: .string([]), now: 1000) }
        XCTAssertEqual(db.sweepExpired(now: 1400, budget: 10_000), 0, "nothing is due yet")
        XCTAssertEqual(db.sweepExpired(now: 2000, budget: 10_000), 100)
        XCTAssertEqual(db.count, 200)
        XCTAssertEqual(db.expiresCount, 100)
        XCTAssertEqual(db.lazilyExpiredKeys, 0, "the sweep's deletions are counted by the shard")
    }

    func testLargeTableIsCoveredInAtMostFiftySteps() {
        let db = Keyspace()
        for i in 0..<200_000 { db.set(key("k\(i)"), value: .string([]), now: 1000) }
        // A few keys with a TTL, scattered through a big table.
        for i in stride(from: 0, to: 200_000, by: 20_000) {
            db.set(key("ttl\(i)"), value: .string([]), expireAt: 1500, now: 1000)
        }
        var steps = 0
        while db.expiresCount > 0 && steps < 100 {
            db.sweepExpired(now: 2000, budget: 2000)
            steps += 1
        }
        XCTAssertEqual(db.expiresCount, 0)
        XCTAssertLessThanOrEqual(steps, 51)
        XCTAssertEqual(db.count, 200_000)
    }

    func testShardSweepCoversEveryDatabase() {
        let shard = Shard(index: 0)
        shard.databases[0].set(key("a"), value: .string([]), expireAt: 1500, now: 1000)
        shard.databases[7].set(key("b"), value: .string([]), expireAt: 1500, now: 1000)
        shard.sweepExpired(now: 2000, budget: 100)
        XCTAssertEqual(shard.databases[0].count + shard.databases[7].count, 0)
        XCTAssertEqual(shard.expiredKeys, 2)
    }
}
