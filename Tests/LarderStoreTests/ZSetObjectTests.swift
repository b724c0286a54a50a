import XCTest
@testable import LarderStore

final class ZSetObjectTests: XCTestCase {
    func bytes(_ s: String) -> [UInt8] { Array(s.utf8) }

    /// The reference: (score, member) pairs kept sorted the slow way.
    struct Model {
        var scores: [[UInt8]: Double] = [:]
        var sorted: [([UInt8], Double)] {
            scores.map { ($0.key, $0.value) }.sorted { a, b in
                a.1 < b.1 || (a.1 == b.1 && a.0.lexicographicallyPrecedes(b.0))
            }
        }
    }

    func entries(_ z: ZSetObject) -> [([UInt8], Double)] { z.entries(ranks: 0..<z.count) }

    func assertSame(_ z: ZSetObject, _ m: Model, _ note: String, file: StaticString = #filePath, line: UInt = #line) {
        let want = m.sorted
        let got = entries(z)
        XCTAssertEqual(z.count, want.count, note, file: file, line: line)
        XCTAssertEqual(got.map { $0.0 }, want.map { $0.0 }, note, file: file, line: line)
        XCTAssertEqual(got.map { $0.1 }, want.map { $0.1 }, note, file: file, line: line)
        // Reverse iteration is the mirror image.
        XCTAssertEqual(z.entries(ranks: 0..<z.count, reverse: true).map { $0.0 }, want.reversed().map { $0.0 }, note,
                       file: file, line: line)
    }

    func testPackedOrderScoresAndRanks() {
        let z = ZSetObject()
        XCTAssertTrue(z.set(bytes("b"), score: 2))
        XCTAssertTrue(z.set(bytes("a"), score: 2))
        XCTAssertTrue(z.set(bytes("c"), score: -.infinity))
        XCTAssertFalse(z.set(bytes("a"), score: 5), "an update is not an addition")
        XCTAssertTrue(z.isPacked)
        XCTAssertEqual(entries(z).map { String(decoding: $0.0, as: UTF8.self) }, ["c", "b", "a"])
        XCTAssertEqual(bytes("a").withUnsafeBytes { z.score($0) }, 5)
        XCTAssertEqual(bytes("b").withUnsafeBytes { z.rank($0) }, 1)
        XCTAssertNil(bytes("zz").withUnsafeBytes { z.rank($0) })
        XCTAssertEqual(z.firstRank { s, _ in s >= 2 }, 1)
        XCTAssertEqual(z.firstRank { s, _ in s > 100 }, 3)
        XCTAssertTrue(bytes("c").withUnsafeBytes { z.remove($0) })
        XCTAssertFalse(bytes("c").withUnsafeBytes { z.remove($0) })
        XCTAssertEqual(z.count, 2)
    }

    func testConvertsPastEntryLimitAndKeepsOrder() {
        let z = ZSetObject()
        var m = Model()
        for i in 0..<ZSetObject.maxListpackEntries {
            let k = bytes("m\(i)")
            z.set(k, score: Double(i % 10)); m.scores[k] = Double(i % 10)
        }
        XCTAssertTrue(z.isPacked, "exactly at the limit stays packed")
        z.set(bytes("one-more"), score: 3.5); m.scores[bytes("one-more")] = 3.5
        XCTAssertFalse(z.isPacked, "past zset-max-listpack-entries it is a skiplist")
        assertSame(z, m, "after conversion")
    }

    func testConvertsOnLongMember() {
        let z = ZSetObject()
        z.set(bytes("short"), score: 1)
        z.set([UInt8](repeating: 120, count: ZSetObject.maxListpackValue), score: 2)
        XCTAssertTrue(z.isPacked)
        z.set([UInt8](repeating: 121, count: ZSetObject.maxListpackValue + 1), score: 3)
        XCTAssertFalse(z.isPacked, "a member past zset-max-listpack-value converts")
        XCTAssertEqual(z.count, 3)
        XCTAssertTrue(ZSetObject(expecting: 5, longestMember: 65).isPacked == false)
        XCTAssertTrue(ZSetObject(expecting: 128, longestMember: 64).isPacked)
    }

    /// Random operations on both forms against the model: order, scores, ranks in both
    /// directions, by-rank access, range bounds and range removal.
    func testRandomOperationsMatchModel() {
        for big in [false, true] {
            var rng = SystemRandomNumberGenerator()
            let z = ZSetObject(expecting: big ? 1000 : 0, longestMember: 0)
            var m = Model()
            for step in 0..<(big ? 6000 : 1500) {
                let k = bytes("k\(Int.random(in: 0..<(big ? 2000 : 100), using: &rng))")
                let r = Int.random(in: 0..<10, using: &rng)
                if r < 6 {
                    let s = Double(Int.random(in: -50...50, using: &rng)) / 4
                    XCTAssertEqual(z.set(k, score: s), m.scores[k] == nil)
                    m.scores[k] = s
                } else if r < 8 {
                    XCTAssertEqual(k.withUnsafeBytes { z.remove($0) }, m.scores.removeValue(forKey: k) != nil)
                } else if r == 8, z.count > 0 {
                    let a = Int.random(in: 0..<z.count, using: &rng)
                    let b = min(z.count, a + Int.random(in: 0...5, using: &rng))
                    let want = Array(m.sorted[a..<b])
                    XCTAssertEqual(z.entries(ranks: a..<b).map { $0.0 }, want.map { $0.0 })
                    XCTAssertEqual(z.removeRanks(a..<b), b - a)
                    for (k, _) in want { m.scores[k] = nil }
                } else {
                    let bound = Double(Int.random(in: -50...50, using: &rng)) / 4
                    XCTAssertEqual(z.firstRank { s, _ in s >= bound }, m.sorted.filter { $0.1 < bound }.count)
                }
                if step % 97 == 0 {
                    assertSame(z, m, "step \(step) big \(big)")
                    for (i, (k, s)) in m.sorted.enumerated() {
                        XCTAssertEqual(k.withUnsafeBytes { z.rank($0) }, i)
                        XCTAssertEqual(k.withUnsafeBytes { z.score($0) }, s)
                    }
                }
            }
            XCTAssertEqual(z.isPacked, !big)
            assertSame(z, m, "end big \(big)")
        }
    }

    /// The skiplist's levels make rank O(log n): with 100k members the structure has several
    /// levels and every rank / by-rank lookup agrees with the order.
    func testOrderStatisticsOnLargeSet() {
        let z = ZSetObject()
        let n = 100_000
        for i in (0..<n).shuffled() { z.set(bytes(String(format: "%06d", i)), score: Double(i / 3)) }
        XCTAssertFalse(z.isPacked)
        XCTAssertGreaterThan(z.skiplistLevel, 4)
        for i in stride(from: 0, to: n, by: 997) {
            let k = bytes(String(format: "%06d", i))
            XCTAssertEqual(k.withUnsafeBytes { z.rank($0) }, i)
            XCTAssertEqual(z.entries(ranks: i..<i + 1).first?.0, k)
        }
        XCTAssertEqual(z.firstRank { s, _ in s >= 1000 }, 3000)
        let start = Date()
        for i in 0..<20_000 { _ = z.entries(ranks: (i * 5)..<(i * 5 + 1)) }
        // 20k by-rank lookups in a 100k set: linear walks would take seconds.
        XCTAssertLessThan(Date().timeIntervalSince(start), 2.0)
    }

    /// Packed entries store an integral score as a zigzag varint and any other as its 8 bytes:
    /// every kind of score comes back bit for bit (but -0, which the packed form stores as 0,
    /// as Redis' listpack does), in order.
    func testPackedScoresRoundTrip() {
        let scores: [Double] = [0, 1, -1, 1_700_000_123, -1_700_000_123, 9_007_199_254_740_991, -9_007_199_254_740_991,
                                9_007_199_254_740_992, 1e300, -1e300, 0.5, -2.25, .infinity, -.infinity,
                                Double(Int64.max), Double(Int64.min), 4.9e-324, 123456789012345678]
        let z = ZSetObject()
        for (i, s) in scores.enumerated() { z.set(bytes("m\(i)"), score: s) }
        z.set(bytes("neg0"), score: -0.0)
        XCTAssertTrue(z.isPacked)
        for (i, s) in scores.enumerated() {
            XCTAssertEqual(bytes("m\(i)").withUnsafeBytes { z.score($0) }?.bitPattern, s.bitPattern, "score \(s)")
        }
        XCTAssertEqual(bytes("neg0").withUnsafeBytes { z.score($0) }?.bitPattern, Double(0).bitPattern)
        let got = entries(z).map { $0.1 }
        XCTAssertEqual(got, got.sorted())
        XCTAssertEqual(z.entries(ranks: 0..<z.count, reverse: true).map { $0.1 }, got.reversed())
    }

    /// 100 members of 16 bytes with timestamp scores: 1 + 16 + 5 bytes an entry in a buffer of
    /// exactly their size (Redis' listpack: 24).
    func testPackedBufferIsExact() {
        let z = ZSetObject()
        for i in 0..<100 { z.set(bytes("m-\(String(format: "%014d", i))"), score: Double(1_700_000_000 + i)) }
        XCTAssertTrue(z.isPacked)
        XCTAssertLessThanOrEqual(z.memoryUsage, 48 + 100 * 22 + 24)
        z.removeRanks(0..<50)
        XCTAssertLessThanOrEqual(z.memoryUsage, 48 + 50 * 22 + 24)
    }

    /// Skiplist nodes hold their member inline: empty and long members, score updates that keep
    /// or change the position, removal of every member.
    func testSkiplistMembersOfAnySize() {
        let z = ZSetObject(expecting: 1000, longestMember: 0)
        var m = Model()
        for i in 0..<300 {
            let k = i == 0 ? [] : [UInt8](repeating: UInt8(65 + i % 26), count: i * 7 % 500)
            z.set(k, score: Double(i % 17)); m.scores[k] = Double(i % 17)
        }
        assertSame(z, m, "inserted")
        for (k, s) in m.scores { z.set(k, score: s + 0.5); m.scores[k] = s + 0.5 }   // same position
        assertSame(z, m, "shifted in place")
        for (k, s) in m.scores { z.set(k, score: -s); m.scores[k] = -s }            // reversed order
        assertSame(z, m, "reordered")
        XCTAssertLessThan(z.memoryUsage, 300 * (80 + 300 + 48))
        for k in Array(m.scores.keys) { XCTAssertTrue(k.withUnsafeBytes { z.remove($0) }); m.scores[k] = nil }
        XCTAssertEqual(z.count, 0)
        assertSame(z, m, "emptied")
    }

    func testCopyIsIndependent() {
        for count in [3, 300] {
            let z = ZSetObject()
            for i in 0..<count { z.set(bytes("m\(i)"), score: Double(i)) }
            let c = z.copy()
            c.set(bytes("m0"), score: 99)
            XCTAssertEqual(bytes("m0").withUnsafeBytes { z.score($0) }, 0)
            XCTAssertEqual(c.isPacked, z.isPacked)
            XCTAssertEqual(entries(c).count, count)
        }
    }
}
