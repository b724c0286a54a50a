import XCTest
@testable import LarderStore

/// The open-addressing table: lookups, removals and the home-bucket walk SCAN uses.
final class KeyTableTests: XCTestCase {
    /// A snapshot load inserts keys in the writing table's slot order; a table reserved for them
    /// first never resizes and keeps every key near its home slot.
    func testAReservedTableTakesKeysInAnotherTablesOrderWithoutLongRuns() {
        let source = KeyTable()
        for i in 0..<50_000 {
            let k = Array("entity:\(i)".utf8)
            _ = source.insert(k, hash: ByteHash.hash(k), value: .string([]), expireAt: 0)
        }
        let target = KeyTable()
        target.reserve(50_000)
        let capacity = target.capacity
        XCTAssertGreaterThanOrEqual(capacity * 3, 50_001 * 4)
        var longest = 0
        for slot in 0..<source.capacity where source.isOccupied(slot) {
            let k = source.keyBytes(at: slot)
            let h = ByteHash.hash(k)
            let at = target.insert(Array(k), hash: h, value: .string([]), expireAt: 0)
            longest = max(longest, (at - Int(truncatingIfNeeded: h) & (capacity - 1) + capacity) & (capacity - 1))
        }
        XCTAssertEqual(target.capacity, capacity, "no resize while loading")
        XCTAssertLessThan(longest, 200, "no key far from its home slot")
    }

    func testHomeBucketWalkPartitionsTheTable() {
        let t = KeyTable()
        var keys: [[UInt8]] = []
        for i in 0..<1000 {
            let k = Array("key-\(i)".utf8)
            keys.append(k)
            _ = t.insert(k, hash: ByteHash.hash(k), value: .string([]), expireAt: 0)
        }
        for k in keys.prefix(200) {
            let s = k.withUnsafeBytes { t.find($0, hash: ByteHash.hash(k)) }!
            t.remove(at: s)
        }
        var visits = [Int](repeating: 0, count: t.capacity)
        for home in 0..<t.capacity {
            t.forEachSlot(homeBucket: home) { slot in
                visits[slot] += 1
                XCTAssertEqual(Int(truncatingIfNeeded: ByteHash.hash(t.keyBytes(at: slot))) & (t.capacity - 1), home)
            }
        }
        for i in 0..<t.capacity {
            XCTAssertEqual(visits[i], t.isOccupied(i) ? 1 : 0, "slot \(i): each live key under exactly one home")
        }
        XCTAssertEqual(visits.reduce(0, +), 800)
    }

    func testFindAfterRemovalsAndGrowth() {
        let t = KeyTable()
        for i in 0..<500 {
            let k = Array("k\(i)".utf8)
            _ = t.insert(k, hash: ByteHash.hash(k), value: .string(k), expireAt: Int64(i))
        }
        for i in stride(from: 0, to: 500, by: 2) {
            let k = Array("k\(i)".utf8)
            t.remove(at: k.withUnsafeBytes { t.find($0, hash: ByteHash.hash(k)) }!)
        }
        XCTAssertEqual(t.count, 250)
        for i in 0..<500 {
            let k = Array("k\(i)".utf8)
            let s = k.withUnsafeBytes { t.find($0, hash: ByteHash.hash(k)) }
            if i % 2 == 0 { XCTAssertNil(s) } else {
                XCTAssertNotNil(s)
                if let s { XCTAssertEqual(t.expireAt(s), Int64(i)) }
            }
        }
    }

    /// Short strings live inside the key's entry; values move between the inline and the
    /// referenced form as they change, and TTLs come and go, without losing bytes.
    func testInlineStringsAcrossValueAndExpiryChanges() {
        let t = KeyTable()
        let key = Array("the-key".utf8)
        let h = ByteHash.hash(key)
        let slot = t.insert(key, hash: h, value: .string(Array("short".utf8)), expireAt: 0)
        XCTAssertTrue(t.isInlineString(at: slot))
        XCTAssertEqual(t.withString(at: slot) { Array($0) }, Array("short".utf8))
        t.setExpire(slot, 12345)
        XCTAssertEqual(t.expireAt(slot), 12345)
        XCTAssertEqual(t.key(at: slot), key)
        XCTAssertEqual(t.withString(at: slot) { Array($0) }, Array("short".utf8))
        let long = [UInt8](repeating: 7, count: KeyTable.inlineStringLimit + 1)
        t.setValue(at: slot, .string(long))
        XCTAssertFalse(t.isInlineString(at: slot))
        XCTAssertEqual(t.expireAt(slot), 12345)
        // A referenced string grows in place through updateValue.
        t.updateValue(at: slot) { v in
            guard case .string(var s) = v else { return }
            v = .string([])
            s.append(1)
            v = .string(s)
        }
        XCTAssertEqual(t.withString(at: slot) { $0.count }, long.count + 1)
        // An inline string is handed out by copy and stored back.
        Array("x".utf8).withUnsafeBytes { t.setString(at: slot, $0) }
        XCTAssertTrue(t.isInlineString(at: slot))
        t.updateValue(at: slot) { v in
            guard case .string(var s) = v else { return }
            s.append(contentsOf: Array("yz".utf8))
            v = .string(s)
        }
        XCTAssertEqual(t.withString(at: slot) { Array($0) }, Array("xyz".utf8))
        t.setExpire(slot, 0)
        XCTAssertEqual(t.expireAt(slot), 0)
        XCTAssertFalse(t.hasExpiry(slot))
        let hv = HashObject()
        hv.set(Array("f".utf8), Array("v".utf8))
        t.setValue(at: slot, .hash(hv))
        XCTAssertNil(t.withString(at: slot) { _ in 0 })
        guard case .hash(let back) = t.value(at: slot) else { return XCTFail("not a hash") }
        XCTAssertTrue(back === hv)
        XCTAssertEqual(key.withUnsafeBytes { t.find($0, hash: h) }, slot)
        t.remove(at: slot)
        XCTAssertEqual(t.count, 0)
    }

    /// Keys of every length, with and without TTLs, survive growth.
    func testLongKeysAndExpiriesSurviveResize() {
        let t = KeyTable()
        for i in 0..<3000 {
            let k = [UInt8](repeating: UInt8(i % 251), count: i % 300) + Array("\(i)".utf8)
            _ = t.insert(k, hash: ByteHash.hash(k), value: .string(Array(k.prefix(i % 100))), expireAt: i % 3 == 0 ? Int64(i + 1) : 0)
        }
        for i in 0..<3000 {
            let k = [UInt8](repeating: UInt8(i % 251), count: i % 300) + Array("\(i)".utf8)
            guard let s = k.withUnsafeBytes({ t.find($0, hash: ByteHash.hash(k)) }) else { XCTFail("missing \(i)"); continue }
            XCTAssertEqual(t.key(at: s), k)
            XCTAssertEqual(t.expireAt(s), i % 3 == 0 ? Int64(i + 1) : 0)
            XCTAssertEqual(t.withString(at: s) { Array($0) }, Array(k.prefix(i % 100)))
        }
    }

    /// A packed hash stored without a TTL carries its key; a TTL, a new value or storing the
    /// same hash under a second key (RENAME) all keep every key findable.
    func testHashesCarryingTheirKey() {
        let t = KeyTable()
        func slot(_ k: [UInt8]) -> Int? { k.withUnsafeBytes { t.find($0, hash: ByteHash.hash($0)) } }
        var hashes: [HashObject] = []
        for i in 0..<200 {
            let h = HashObject()
            h.set(Array("f".utf8), Array("v\(i)".utf8))
            hashes.append(h)
            let k = Array("hash-\(i)".utf8)
            _ = t.insert(k, hash: ByteHash.hash(k), value: .hash(h), expireAt: 0)
            XCTAssertEqual(t.entryBytes(at: slot(k)!), 0, "no separate entry")
        }
        for i in 0..<200 {
            let k = Array("hash-\(i)".utf8)
            guard let s = slot(k) else { XCTFail("missing \(i)"); continue }
            XCTAssertEqual(t.key(at: s), k)
            XCTAssertTrue(t.hashObject(at: s) === hashes[i])
            XCTAssertEqual(hashes[i].value(Array("f".utf8)), Array("v\(i)".utf8))
            if i % 4 == 1 { t.setExpire(s, 99) }
            if i % 4 == 2 { t.setValue(at: s, .string(Array("now a string".utf8))) }
            if i % 4 == 3 {   // RENAME: the same object under a new key, then the old one goes
                let k2 = Array("renamed-\(i)".utf8)
                _ = t.insert(k2, hash: ByteHash.hash(k2), value: .hash(hashes[i]), expireAt: 0)
                t.remove(at: slot(k)!)
                XCTAssertTrue(t.hashObject(at: slot(k2)!) === hashes[i])
                XCTAssertEqual(t.key(at: slot(k2)!), k2)
            }
        }
        // Growing the hash into its table form keeps the key.
        for j in 0..<200 { hashes[0].set(Array("g\(j)".utf8), Array("x".utf8)) }
        XCTAssertFalse(hashes[0].isPacked)
        let k0 = Array("hash-0".utf8)
        XCTAssertEqual(t.key(at: slot(k0)!), k0)
        for i in 0..<200 {
            let k = Array("hash-\(i)".utf8)
            switch i % 4 {
            case 1: XCTAssertEqual(t.expireAt(slot(k)!), 99); XCTAssertTrue(t.hashObject(at: slot(k)!) === hashes[i])
            case 2: XCTAssertEqual(t.withString(at: slot(k)!) { Array($0) }, Array("now a string".utf8))
            case 3: XCTAssertNil(slot(k)); XCTAssertNotNil(slot(Array("renamed-\(i)".utf8)))
            default: XCTAssertTrue(t.hashObject(at: slot(k)!) === hashes[i])
            }
        }
        let c = hashes[4].copy()
        XCTAssertEqual(c.value(Array("f".utf8)), Array("v4".utf8))
        let kc = Array("copy".utf8)
        _ = t.insert(kc, hash: ByteHash.hash(kc), value: .hash(c), expireAt: 0)
        XCTAssertEqual(t.key(at: slot(kc)!), kc)
        t.removeAll()
        XCTAssertEqual(t.count, 0)
    }

    /// A hash handed over to the table (`adoptingHash`) is stored bare: the slot points at its
    /// packed buffer, which holds the key and the access word too. Reads see it through a view
    /// and leave it bare; an HSET through `updateHash` keeps it bare even when the buffer moves;
    /// a change the bare form cannot hold (table form, TTL, a new value) or a caller that
    /// needs the object turns it into the object or entry form, with key and access word kept.
    func testBareHashesAreOneAllocationAndChangeFormWithoutLosingTheirKey() {
        let t = KeyTable()
        func slot(_ k: [UInt8]) -> Int? { k.withUnsafeBytes { t.find($0, hash: ByteHash.hash($0)) } }
        func field(_ s: String) -> [UInt8] { Array(s.utf8) }
        for i in 0..<300 {   // past a few resizes
            let h = HashObject()
            h.set(field("f"), field("v\(i)"))
            h.set(field("g"), field("w\(i)"))
            let k = Array("bare-\(i)".utf8)
            let s = k.withUnsafeBytes { t.insert($0, hash: ByteHash.hash($0), value: .hash(h), expireAt: 0, adoptingHash: true) }
            t.setAccessWord(at: s, UInt32(i) | 0x10_0000)
            XCTAssertEqual(h.count, 0, "the buffer was taken out of the object")
            XCTAssertNil(t.hashObject(at: s), "no object")
            XCTAssertNotNil(t.bareHashBytes(at: s))
        }
        for i in 0..<300 {
            let k = Array("bare-\(i)".utf8)
            guard let s = slot(k) else { XCTFail("missing \(i)"); continue }
            XCTAssertEqual(t.key(at: s), k)
            XCTAssertEqual(t.accessWord(at: s), UInt32(i) | 0x10_0000)
            XCTAssertEqual(String(describing: t.typeName(at: s)), "hash")
            XCTAssertFalse(t.isString(at: s))
            XCTAssertNil(t.withString(at: s) { _ in 0 })
            let view = t.hashView(at: s)!
            XCTAssertEqual(view.count, 2)
            XCTAssertEqual(field("g").withUnsafeBytes { view.value($0) }, field("w\(i)"))
            var pairs: [[UInt8]] = []
            Array("gnopef".utf8).withUnsafeBytes { names in   // "g", "nope", "f"
                let spans = [(0, 1), (1, 4), (5, 1)]
                view.lookupMany(3, field: { UnsafeRawBufferPointer(rebasing: names[spans[$0].0 ..< spans[$0].0 + spans[$0].1]) }) { _, v in
                    pairs.append(v.map { Array($0) } ?? [])
                }
            }
            XCTAssertEqual(pairs, [field("w\(i)"), [], field("v\(i)")])
            XCTAssertNotNil(t.bareHashBytes(at: s), "reading left it bare")
            switch i % 5 {
            case 1:   // HSET that grows the buffer: still bare, still keyed
                t.updateHash(at: s) { h in for j in 0..<20 { h!.set(field("x\(j)"), field("a fairly long value \(j)")) } }
                XCTAssertNotNil(t.bareHashBytes(at: s))
                XCTAssertEqual(t.hashView(at: s)!.count, 22)
            case 2:   // HSET past the packed limits: the table form needs the object
                t.updateHash(at: s) { h in for j in 0..<200 { h!.set(field("x\(j)"), field("y")) } }
                XCTAssertNil(t.bareHashBytes(at: s))
                XCTAssertFalse(t.hashObject(at: s)!.isPacked)
            case 3:   // a TTL: an entry
                t.setExpire(s, 99)
                XCTAssertEqual(t.expireAt(s), 99)
            case 4:   // a caller that needs the object gets one
                guard case .hash(let h) = t.value(at: s) else { XCTFail("not a hash"); continue }
                XCTAssertTrue(t.hashObject(at: s) === h)
            default: break
            }
            XCTAssertEqual(t.key(at: s), k)
            XCTAssertEqual(t.accessWord(at: s), UInt32(i) | 0x10_0000)
            XCTAssertEqual(field("f").withUnsafeBytes { t.hashView(at: s)!.value($0) }, field("v\(i)"))
        }
        for i in 0..<300 {   // and every key is still found after the changes
            let k = Array("bare-\(i)".utf8)
            XCTAssertEqual(slot(k).map { t.key(at: $0) }, k)
            if i % 2 == 0 { t.remove(at: slot(k)!) }
        }
        XCTAssertEqual(t.count, 150)
        t.removeAll()
        XCTAssertEqual(t.count, 0)
    }
}
