import XCTest
@testable import LarderStore

/// The open-addressing table: lookups, removals and the home-bucket walk SCAN uses.
final class KeyTableTests: XCTestCase {
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
}
