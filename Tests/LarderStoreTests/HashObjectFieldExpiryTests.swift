import XCTest
@testable import LarderStore

/// Per-field TTLs: kept per field, cleared by overwrites, expired lazily through keyspace
/// lookups and actively by the shard sweep.
final class HashObjectFieldExpiryTests: XCTestCase {
    func b(_ s: String) -> [UInt8] { Array(s.utf8) }

    func expireAt(_ h: HashObject, _ f: String) -> Int64? { b(f).withUnsafeBytes { h.fieldExpireAt($0) } }
    func setExpiry(_ h: HashObject, _ f: String, _ at: Int64) { b(f).withUnsafeBytes { h.setFieldExpiry($0, at: at) } }

    func hash(_ fields: [String], table: Bool = false) -> HashObject {
        let h = HashObject()
        if table { h.convertToTable() }
        for f in fields { h.set(b(f), b("v-\(f)")) }
        return h
    }

    func testTTLIsPerFieldAndTracksTheEarliest() {
        for table in [false, true] {
            let h = hash(["a", "b", "c"], table: table)
            XCTAssertFalse(h.hasFieldExpiry)
            setExpiry(h, "a", 5000)
            setExpiry(h, "b", 3000)
            XCTAssertEqual(expireAt(h, "a"), 5000)
            XCTAssertEqual(expireAt(h, "b"), 3000)
            XCTAssertNil(expireAt(h, "c"))
            XCTAssertEqual(h.earliestFieldExpiry, 3000)
            XCTAssertEqual(h.fieldsWithExpiry, 2)
        }
    }

    func testRemoveExpiredFieldsDropsOnlyDueFields() {
        for table in [false, true] {
            let h = hash(["a", "b", "c"], table: table)
            setExpiry(h, "a", 1000); setExpiry(h, "b", 2000)
            XCTAssertEqual(h.removeExpiredFields(now: 999), 0)
            XCTAssertEqual(h.removeExpiredFields(now: 1000), 1)   // due at its own millisecond
            XCTAssertNil(h.value(b("a")))
            XCTAssertEqual(h.value(b("b")), b("v-b"))
            XCTAssertEqual(h.earliestFieldExpiry, 2000)
            XCTAssertEqual(h.removeExpiredFields(now: 5000), 1)
            XCTAssertFalse(h.hasFieldExpiry)
            XCTAssertEqual(h.earliestFieldExpiry, .max)
            XCTAssertEqual(h.count, 1)
        }
    }

    func testOverwriteClearsTTLUnlessKept() {
        let h = hash(["a", "b"])
        setExpiry(h, "a", 9000); setExpiry(h, "b", 9000)
        h.set(b("a"), b("new"))
        XCTAssertNil(expireAt(h, "a"))
        b("b").withUnsafeBytes { f in b("7").withUnsafeBytes { v in _ = h.set(f, v, keepTTL: true) } }
        XCTAssertEqual(expireAt(h, "b"), 9000)
        XCTAssertEqual(h.value(b("b")), b("7"))
    }

    func testRemoveAndPersistDropTheTTL() {
        let h = hash(["a", "b"])
        setExpiry(h, "a", 9000); setExpiry(h, "b", 9000)
        h.remove(b("a"))
        XCTAssertNil(expireAt(h, "a"))
        XCTAssertTrue(b("b").withUnsafeBytes { h.persistField($0) })
        XCTAssertFalse(b("b").withUnsafeBytes { h.persistField($0) })
        XCTAssertFalse(h.hasFieldExpiry)
    }

    func testTTLsSurviveConversionToTable() {
        let h = hash(["a"])
        setExpiry(h, "a", 4242)
        h.set(b("big"), b(String(repeating: "x", count: 100)))
        XCTAssertFalse(h.isPacked)
        XCTAssertEqual(expireAt(h, "a"), 4242)
    }

    // MARK: keyspace

    func store(_ db: Keyspace, _ key: String, _ h: HashObject, now: Int64) {
        db.set(b(key), value: .hash(h), now: now)
    }

    func testLookupExpiresFieldsLazilyAndDeletesTheEmptiedKey() {
        let db = Keyspace()
        let h = hash(["a", "b"])
        store(db, "k", h, now: 0)
        setExpiry(h, "a", 100)
        b("k").withUnsafeBytes { db.trackFieldExpiry($0, h) }
        XCTAssertNotNil(b("k").withUnsafeBytes { db.lookup($0, now: 50) })
        XCTAssertEqual(h.count, 2)
        XCTAssertNotNil(b("k").withUnsafeBytes { db.lookup($0, now: 100) })
        XCTAssertEqual(h.count, 1)
        setExpiry(h, "b", 200)
        XCTAssertNil(b("k").withUnsafeBytes { db.lookup($0, now: 200) })
        XCTAssertEqual(db.count, 0)
    }

    func testSweepDeletesExpiredFieldsAndEmptiedKeysWithoutLookups() {
        let shard = Shard(index: 0)
        let db = shard.db(0)
        var hashes: [HashObject] = []
        for i in 0..<50 {
            let h = hash(["keep", "go"])
            store(db, "k\(i)", h, now: 0)
            setExpiry(h, "go", 100)
            if i % 2 == 0 { setExpiry(h, "keep", 100) }   // even keys lose every field
            b("k\(i)").withUnsafeBytes { db.trackFieldExpiry($0, h) }
            hashes.append(h)
        }
        shard.sweepExpired(now: 99, budget: 1000)
        XCTAssertEqual(db.count, 50)
        shard.sweepExpired(now: 100, budget: 1000)
        XCTAssertEqual(db.count, 25)
        XCTAssertEqual(shard.expiredHashFields, 75)
        for i in stride(from: 1, to: 50, by: 2) {
            XCTAssertEqual(hashes[i].count, 1)
            XCTAssertEqual(hashes[i].value(b("keep")), b("v-keep"))
        }
        XCTAssertEqual(db.hashesWithFieldExpiry, 0)
    }

    func testSweepIsBoundedByItsBudgetAndResumes() {
        let db = Keyspace()
        for i in 0..<30 {
            let h = hash(["f"])
            store(db, "k\(i)", h, now: 0)
            setExpiry(h, "f", 10)
            b("k\(i)").withUnsafeBytes { db.trackFieldExpiry($0, h) }
        }
        XCTAssertEqual(db.sweepExpiredHashFields(now: 20, budget: 10), 10)
        XCTAssertEqual(db.count, 20)
        XCTAssertEqual(db.sweepExpiredHashFields(now: 20, budget: 100), 20)
        XCTAssertEqual(db.count, 0)
    }

    func testSweepForgetsKeysThatNoLongerHoldTheTrackedHash() {
        let db = Keyspace()
        let h = hash(["f"])
        store(db, "k", h, now: 0)
        setExpiry(h, "f", 10)
        b("k").withUnsafeBytes { db.trackFieldExpiry($0, h) }
        db.set(b("k"), value: .string(b("plain")), now: 0)     // overwritten by another value
        XCTAssertEqual(db.sweepExpiredHashFields(now: 20, budget: 10), 0)
        XCTAssertEqual(db.hashesWithFieldExpiry, 0)
        XCTAssertNotNil(b("k").withUnsafeBytes { db.lookup($0, now: 20) })
    }

    func testStoringAHashWithTTLsUnderAnotherKeyTracksIt() {
        let db = Keyspace()
        let h = hash(["f", "g"])
        setExpiry(h, "f", 10)
        store(db, "renamed", h, now: 0)                          // as RENAME / RESTORE would
        XCTAssertEqual(db.hashesWithFieldExpiry, 1)
        db.sweepExpiredHashFields(now: 20, budget: 10)
        XCTAssertEqual(h.count, 1)
    }

    func testKeyIterationSkipsAndDeletesHashesWhoseFieldsAllExpired() {
        let db = Keyspace()
        let gone = hash(["f"]), kept = hash(["f"])
        store(db, "gone", gone, now: 0); store(db, "kept", kept, now: 0)
        setExpiry(gone, "f", 10)
        b("gone").withUnsafeBytes { db.trackFieldExpiry($0, gone) }
        var keys: [String] = []
        db.forEachLive(now: 20) { keys.append(String(decoding: db.key(at: $0), as: UTF8.self)) }
        XCTAssertEqual(keys, ["kept"])
        XCTAssertEqual(db.count, 1)
    }

    func testSweepGoesStraightToTheDueHashes() {
        let db = Keyspace()
        for i in 0..<1000 {
            let h = hash(["f", "g"])
            store(db, "k\(i)", h, now: 0)
            setExpiry(h, "f", i % 200 == 7 ? 10 : 1_000_000)   // 5 of 1000 are due soon
            b("k\(i)").withUnsafeBytes { db.trackFieldExpiry($0, h) }
        }
        XCTAssertEqual(db.sweepExpiredHashFields(now: 20, budget: 5), 5)
        XCTAssertEqual(db.hashesWithFieldExpiry, 995)           // the five have no TTL left
        XCTAssertEqual(db.count, 1000)
        XCTAssertEqual(db.sweepExpiredHashFields(now: 20, budget: 1000), 0)
    }

    func testSweepFollowsTTLsThatMovedLater() {
        let db = Keyspace()
        let h = hash(["f", "g"])
        store(db, "k", h, now: 0)
        setExpiry(h, "f", 10)
        b("k").withUnsafeBytes { db.trackFieldExpiry($0, h) }
        setExpiry(h, "f", 50)                                    // as HEXPIRE ... GT would
        XCTAssertEqual(db.sweepExpiredHashFields(now: 20, budget: 10), 0)
        XCTAssertEqual(h.count, 2)
        XCTAssertEqual(db.sweepExpiredHashFields(now: 49, budget: 10), 0)
        XCTAssertEqual(db.sweepExpiredHashFields(now: 50, budget: 10), 1)
        XCTAssertEqual(h.count, 1)
    }
}
