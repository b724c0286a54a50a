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
                XCTAssertEqual(Int(truncatingIfNeeded: ByteHash.hash(t.keys[slot])) & (t.capacity - 1), home)
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
                if let s { XCTAssertEqual(t.expires[s], Int64(i)) }
            }
        }
    }
}
