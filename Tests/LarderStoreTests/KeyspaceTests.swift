import XCTest
@testable import LarderStore

/// Keyspace behaviour the key commands rely on: lazy expiry, in-place updates, SCAN's
/// reverse-binary bucket cursor and the home-bucket walk of the table.
final class KeyspaceTests: XCTestCase {
    func key(_ s: String) -> [UInt8] { Array(s.utf8) }

    func slot(_ db: Keyspace, _ k: String, now: Int64 = 1000) -> Int? {
        key(k).withUnsafeBytes { db.lookup($0, now: now) }
    }

    func fullScan(_ db: Keyspace, now: Int64 = 1000, between: ((Int) -> Void)? = nil) -> [[UInt8]] {
        var cursor: UInt64 = 0
        var out: [[UInt8]] = []
        var step = 0
        repeat {
            var page: [Int] = []
            cursor = db.scanBucket(cursor: cursor, now: now) { page.append($0) }
            out += page.map { db.key(at: $0) }
            between?(step)
            step += 1
        } while cursor != 0 && step < 1_000_000
        return out
    }

    func testLazyExpiryDeletesOnLookup() {
        let db = Keyspace()
        db.set(key("k"), value: .string(key("v")), expireAt: 2000, now: 1000)
        XCTAssertEqual(db.expiresCount, 1)
        XCTAssertNotNil(slot(db, "k", now: 1999))
        XCTAssertNil(slot(db, "k", now: 2000), "a key expires at its deadline")
        XCTAssertEqual(db.count, 0)
        XCTAssertEqual(db.expiresCount, 0)
        XCTAssertEqual(db.lazilyExpiredKeys, 1)
    }

    func testUpdateValueKeepsExpiryAndAppendsInPlace() {
        let db = Keyspace()
        db.set(key("k"), value: .string(key("ab")), expireAt: 5000, now: 1000)
        let s = slot(db, "k")!
        let n = db.updateValue(at: s) { v -> Int in
            guard case .string(var bytes) = v else { return -1 }
            v = .string([])
            bytes.append(contentsOf: key("cd"))
            v = .string(bytes)
            return bytes.count
        }
        XCTAssertEqual(n, 4)
        guard case .string(let now) = db.value(at: s) else { return XCTFail("not a string") }
        XCTAssertEqual(now, key("abcd"))
        XCTAssertEqual(db.expireAt(s), 5000)
    }

    /// OBJECT ENCODING's marks sit in spare bits of an inline string's length: they must not
    /// change the bytes, must survive a new TTL, and a new value clears them.
    func testStringEncodingMarksKeepBytesAndSurviveExpiry() {
        let db = Keyspace()
        let s = db.set(key("k"), value: .string(key("12")), expireAt: 0, now: 1000)
        XCTAssertFalse(db.stringEncodingMarks(at: s).raw)
        db.markStringEncoding(at: s, .raw)
        db.markStringEncoding(at: s, .notInteger)
        XCTAssertEqual(db.withString(at: s) { Array($0) }, key("12"), "the marks are not part of the length")
        db.setExpire(slot: s, 9000)
        XCTAssertTrue(db.stringEncodingMarks(at: s).raw && db.stringEncodingMarks(at: s).notInteger)
        XCTAssertEqual(db.withString(at: s) { Array($0) }, key("12"))
        db.set(key("k"), value: .string(key("34")), expireAt: 0, now: 1000)   // same length, new value
        XCTAssertFalse(db.stringEncodingMarks(at: s).raw || db.stringEncodingMarks(at: s).notInteger)
        let h = db.set(key("h"), value: .string(Array(repeating: 7, count: 100)), expireAt: 0, now: 1000)
        db.markStringEncoding(at: h, .raw)   // a long string needs no mark: ignored
        XCTAssertFalse(db.stringEncodingMarks(at: h).raw)
    }

    /// CLIENT PAUSE: an expired key reads as missing but stays until the pause ends.
    func testPausedExpiryKeepsTheKey() {
        let db = Keyspace()
        db.set(key("k"), value: .string(key("v")), expireAt: 2000, now: 1000)
        Keyspace.expiryPaused.store(true, ordering: .relaxed)
        XCTAssertNil(slot(db, "k", now: 3000))
        XCTAssertEqual(db.count, 1)
        XCTAssertEqual(db.lazilyExpiredKeys, 0)
        Keyspace.expiryPaused.store(false, ordering: .relaxed)
        XCTAssertNil(slot(db, "k", now: 3000))
        XCTAssertEqual(db.count, 0)
        XCTAssertEqual(db.lazilyExpiredKeys, 1)
    }

    func testUpdateValueMarksWatchers() {
        let db = Keyspace()
        db.set(key("k"), value: .string(key("a")), now: 1000)
        let flag = WatchFlag()
        db.watch(key("k"), flag: flag)
        db.updateValue(at: slot(db, "k")!) { $0 = .string(key("b")) }
        XCTAssertTrue(flag.dirty)
    }

    func testScanReturnsEveryKeyExactlyOnce() {
        let db = Keyspace()
        for i in 0..<5000 { db.set(key("k\(i)"), value: .string([]), now: 1000) }
        for i in 0..<5000 where i % 3 == 0 { _ = key("k\(i)").withUnsafeBytes { db.lookup($0, now: 1000).map { db.remove(at: $0) } } }
        let keys = fullScan(db)
        let expected = Set((0..<5000).filter { $0 % 3 != 0 }.map { key("k\($0)") })
        XCTAssertEqual(keys.count, expected.count, "tombstones and long probe runs do not cause repeats")
        XCTAssertEqual(Set(keys), expected)
    }

    func testScanSurvivesGrowthBetweenCalls() {
        let db = Keyspace()
        for i in 0..<300 { db.set(key("old\(i)"), value: .string([]), now: 1000) }
        var added = 0
        let bytesBefore = db.tableBytes
        let keys = fullScan(db) { step in
            guard step < 150 else { return }  // grow early, then let the iteration finish
            for _ in 0..<4 { db.set(self.key("new\(added)"), value: .string([]), now: 1000); added += 1 }
        }
        let old = Set((0..<300).map { key("old\($0)") })
        XCTAssertTrue(old.isSubset(of: Set(keys)), "every key present throughout is returned")
        XCTAssertGreaterThanOrEqual(db.tableBytes, 4 * bytesBefore, "the table doubled at least twice meanwhile")
    }

    func testScanSkipsAndDeletesExpiredKeys() {
        let db = Keyspace()
        for i in 0..<100 { db.set(key("live\(i)"), value: .string([]), now: 1000) }
        for i in 0..<100 { db.set(key("dead\(i)"), value: .string([]), expireAt: 1500, now: 1000) }
        let keys = fullScan(db, now: 2000)
        XCTAssertEqual(Set(keys), Set((0..<100).map { key("live\($0)") }))
        XCTAssertEqual(db.count, 100)
        XCTAssertEqual(db.expiresCount, 0)
    }

    func testReverseBinaryCursorVisitsEveryBucketOnce() {
        // Over a 16-bucket mask the cursor sequence is a permutation of 0..<16 ending at 0.
        var seen: [UInt64] = []
        var v: UInt64 = 0
        repeat {
            seen.append(v)
            v = ((v | ~UInt64(15)).bitReversed &+ 1).bitReversed
        } while v != 0
        XCTAssertEqual(seen.sorted(), Array(0..<16))
        XCTAssertEqual(Array(seen.prefix(4)), [0, 8, 4, 12])
    }
}
