import XCTest
@testable import LarderStore

/// The per-key access word (KeyAccess in KeyTable entries), Redis' eviction pool, and a shard's
/// eviction by sampling under each kind of policy.
final class EvictionTests: XCTestCase {
    func key(_ s: String) -> [UInt8] { Array(s.utf8) }

    func slot(_ db: Keyspace, _ k: String, now: Int64) -> Int? {
        key(k).withUnsafeBytes { db.lookupInternal($0, now: now) }
    }

    override func tearDown() { KeyAccess.lfuMode.store(false, ordering: .relaxed) }

    // MARK: pool

    func testPoolKeepsTheBestSixteenInOrderAndPopsTheHighestFirst() {
        let pool = EvictionPool()
        // 40 candidates in a scrambled order, scores 0...39.
        let scores = (0..<40).map { ($0 * 17) % 40 }
        for s in scores { key("k\(s)").withUnsafeBytes { pool.offer(score: UInt64(s), database: s % 3, key: $0) } }
        XCTAssertEqual(pool.count, EvictionPool.capacity)
        var popped: [(UInt64, Int, String)] = []
        while let p = pool.popBest({ db, k, score in (score, db, String(decoding: k, as: UTF8.self)) }) { popped.append(p) }
        XCTAssertEqual(popped.map { $0.0 }, (24..<40).reversed().map { UInt64($0) })
        XCTAssertEqual(popped.map { $0.2 }, (24..<40).reversed().map { "k\($0)" })
        XCTAssertEqual(popped.map { $0.1 }, (24..<40).reversed().map { $0 % 3 })
        XCTAssertNil(pool.popBest { _, _, s in s })
    }

    func testAFullPoolRefusesACandidateBelowAllAndDropsItsLowest() {
        let pool = EvictionPool()
        for s in 100..<116 { key("k\(s)").withUnsafeBytes { pool.offer(score: UInt64(s), database: 0, key: $0) } }
        key("low").withUnsafeBytes { pool.offer(score: 5, database: 0, key: $0) }
        key("mid").withUnsafeBytes { pool.offer(score: 107, database: 0, key: $0) }
        var names: [String] = []
        while let n = pool.popBest({ _, k, _ in String(decoding: k, as: UTF8.self) }) { names.append(n) }
        XCTAssertEqual(names.count, 16)
        XCTAssertFalse(names.contains("low"))
        XCTAssertFalse(names.contains("k100"), "the lowest made room for 'mid'")
        XCTAssertTrue(names.contains("mid"))
    }

    // MARK: access word

    func testTheAccessWordSurvivesEveryChangeOfTheEntrysShape() {
        let db = Keyspace()
        db.set(key("s"), value: .string(key("short")), now: 0)
        db.set(key("h"), value: .hash(HashObject()), now: 0)
        for (k, w) in [("s", UInt32(0xABCDEF)), ("h", UInt32(0x123456))] {
            let i = slot(db, k, now: 0)!
            db.setAccessWord(at: i, w)
            XCTAssertEqual(db.accessWord(at: i), w)
        }
        var i = slot(db, "s", now: 0)!
        XCTAssertEqual(db.withString(at: i) { Array($0) }, key("short"), "the inline length is not disturbed")
        db.replaceValue(at: i, with: .string([UInt8](repeating: 1, count: 200)))    // inline -> referenced
        XCTAssertEqual(db.accessWord(at: i), 0xABCDEF)
        db.setExpire(slot: i, 1_000_000)                                               // grows by the expiry
        XCTAssertEqual(db.accessWord(at: i), 0xABCDEF)
        db.replaceValue(at: i, with: .string(key("tiny")))                             // back inline
        XCTAssertEqual(db.accessWord(at: i), 0xABCDEF)
        XCTAssertEqual(db.withString(at: i) { Array($0) }, key("tiny"))
        XCTAssertEqual(db.expireAt(i), 1_000_000)
        i = slot(db, "h", now: 0)!
        db.setExpire(slot: i, 2_000_000)                                               // object slot -> entry
        XCTAssertEqual(db.accessWord(at: i), 0x123456)
    }

    func testLRUWordIsTheClockInSecondsAndIdleTimeWraps() {
        let db = Keyspace()
        db.set(key("k"), value: .string(key("v")), now: 10_000)
        let i = slot(db, "k", now: 10_000)!
        XCTAssertEqual(KeyAccess.idleMilliseconds(db.accessWord(at: i), now: 25_400), 15_000)
        db.recordAccess(i, now: 30_000)
        XCTAssertEqual(KeyAccess.idleMilliseconds(db.accessWord(at: i), now: 30_000), 0)
        // A word from just before the 24-bit clock wrapped.
        XCTAssertEqual(KeyAccess.idleMilliseconds(KeyAccess.lruClockMax - 1, now: 3_000), 4_000)
    }

    func testLFUCounterStartsAtFiveGrowsLogarithmicallyAndDecaysPerMinute() {
        KeyAccess.lfuMode.store(true, ordering: .relaxed)
        let db = Keyspace()
        let now: Int64 = 60_000 * 100
        db.set(key("k"), value: .string(key("v")), now: now)
        let i = slot(db, "k", now: now)!
        XCTAssertEqual(KeyAccess.decayedCounter(db.accessWord(at: i), now: now), 5)
        for _ in 0..<1000 { db.recordAccess(i, now: now) }
        let c = KeyAccess.decayedCounter(db.accessWord(at: i), now: now)
        // Redis' table for lfu-log-factor 10: 1K hits give about 18.
        XCTAssertTrue((12...24).contains(c), "counter \(c)")
        XCTAssertEqual(KeyAccess.decayedCounter(db.accessWord(at: i), now: now + 3 * 60_000), c - 3)
    }

    // MARK: eviction

    func testVolatileTTLEvictsTheSoonestToExpireAndNeverAKeyWithoutTTL() {
        let shard = Shard(index: 0)
        let db = shard.db(0)
        for n in 0..<20 { db.set(key("persistent\(n)"), value: .string(key("v")), now: 0) }
        for n in 0..<10 { db.set(key("ttl\(n)"), value: .string(key("v")), expireAt: Int64(1_000_000 + n * 1000), now: 0) }
        var gone: [String] = []
        let r = shard.evict(policy: .volatileTTL, samples: 64, now: 0, bytes: .max, maxKeys: 3) { _, k in gone.append(String(decoding: k, as: UTF8.self)) }
        XCTAssertEqual(r.keys, 3)
        XCTAssertEqual(gone, ["ttl0", "ttl1", "ttl2"])
        let rest = shard.evict(policy: .volatileLRU, samples: 5, now: 0, bytes: .max, maxKeys: 100) { _, _ in }
        XCTAssertEqual(rest.keys, 7, "only the keys with a TTL")
        XCTAssertEqual(db.count, 20)
        XCTAssertEqual(shard.evict(policy: .volatileRandom, samples: 5, now: 0, bytes: .max, maxKeys: 100) { _, _ in }.keys, 0)
        XCTAssertEqual(shard.eviction.evictedKeys, 10)
    }

    func testAllkeysLRUWithEnoughSamplesEvictsTheIdlestAcrossDatabases() {
        let shard = Shard(index: 0)
        for n in 0..<30 { shard.db(n % 3).set(key("k\(n)"), value: .string(key("v")), now: Int64(n) * 1000) }
        var gone: [String] = []
        _ = shard.evict(policy: .allkeysLRU, samples: 64, now: 100_000, bytes: .max, maxKeys: 5) { _, k in gone.append(String(decoding: k, as: UTF8.self)) }
        XCTAssertEqual(Set(gone), Set((0..<5).map { "k\($0)" }))
    }

    func testAllkeysLFUEvictsTheLeastUsedFirst() {
        KeyAccess.lfuMode.store(true, ordering: .relaxed)
        let shard = Shard(index: 0)
        let db = shard.db(0)
        for n in 0..<10 { db.set(key("k\(n)"), value: .string(key("v")), now: 0) }
        for n in 5..<10 { let i = slot(db, "k\(n)", now: 0)!; for _ in 0..<200 { db.recordAccess(i, now: 0) } }
        var gone: [String] = []
        _ = shard.evict(policy: .allkeysLFU, samples: 64, now: 0, bytes: .max, maxKeys: 5) { _, k in gone.append(String(decoding: k, as: UTF8.self)) }
        XCTAssertEqual(Set(gone), Set((0..<5).map { "k\($0)" }))
    }

    func testEvictionStopsOnceTheBytesAreFreedAndReportsThem() {
        let shard = Shard(index: 0)
        for n in 0..<100 { shard.db(0).set(key("k\(n)"), value: .string([UInt8](repeating: 7, count: 1000)), now: 0) }
        let r = shard.evict(policy: .allkeysRandom, samples: 5, now: 0, bytes: 5000, maxKeys: 1000) { _, _ in }
        XCTAssertTrue((5...6).contains(r.keys), "\(r)")
        XCTAssertGreaterThanOrEqual(r.bytes, 5000)
        XCTAssertEqual(shard.db(0).count, 100 - r.keys)
    }
}
