import XCTest
@testable import LarderStore

/// HashObject: packed and table forms behave the same; the conversion follows Redis' limits.
final class HashObjectTests: XCTestCase {
    func b(_ s: String) -> [UInt8] { Array(s.utf8) }

    func pairs(_ h: HashObject) -> [String: String] {
        var d: [String: String] = [:]
        h.forEach { f, v in d[String(decoding: f, as: UTF8.self)] = String(decoding: v, as: UTF8.self) }
        return d
    }

    func string(_ h: HashObject, _ f: String) -> String? {
        h.value(b(f)).map { String(decoding: $0, as: UTF8.self) }
    }

    /// Views of several byte strings, laid out in one buffer that lives while `body` runs.
    func withViews(_ items: [[UInt8]], _ body: ([UnsafeRawBufferPointer]) -> Void) {
        let joined = Array(items.joined())
        joined.withUnsafeBytes { all in
            var views: [UnsafeRawBufferPointer] = []
            var at = 0
            for w in items { views.append(UnsafeRawBufferPointer(rebasing: all[at..<at + w.count])); at += w.count }
            body(views)
        }
    }

    /// Runs `body` on a packed hash and on one forced into table form.
    func inBothForms(_ body: (HashObject) throws -> Void) rethrows {
        let packed = HashObject()
        try body(packed)
        XCTAssertTrue(packed.isPacked)
        let table = HashObject()
        table.convertToTable()
        try body(table)
        XCTAssertFalse(table.isPacked)
    }

    func testSetReportsNewFieldsAndGetReturnsValues() {
        inBothForms { h in
            XCTAssertTrue(h.set(b("f1"), b("v1")))
            XCTAssertTrue(h.set(b("f2"), b("v2")))
            XCTAssertFalse(h.set(b("f1"), b("again")))
            XCTAssertEqual(h.count, 2)
            XCTAssertEqual(string(h, "f1"), "again")
            XCTAssertEqual(string(h, "f2"), "v2")
            XCTAssertNil(string(h, "f3"))
            XCTAssertTrue(b("f2").withUnsafeBytes { h.contains($0) })
        }
    }

    func testReplacingWithDifferentLengthsKeepsNeighboursIntact() {
        inBothForms { h in
            h.set(b("a"), b("1")); h.set(b("b"), b("22")); h.set(b("c"), b("333"))
            h.set(b("b"), b(""))                                  // shorter
            XCTAssertEqual(pairs(h), ["a": "1", "b": "", "c": "333"])
            h.set(b("b"), b(String(repeating: "x", count: 60)))   // longer, still packable
            XCTAssertEqual(pairs(h), ["a": "1", "b": String(repeating: "x", count: 60), "c": "333"])
            h.set(b("a"), b("9"))                                 // same length: in place
            XCTAssertEqual(pairs(h), ["a": "9", "b": String(repeating: "x", count: 60), "c": "333"])
        }
    }

    func testLengthPrefixesPastOneByteRoundTrip() {
        for v in [0, 1, 127, 128, 300, 16383, 16384, 1 << 40] {
            var buf: [UInt8] = []
            Varint.append(&buf, v)
            XCTAssertEqual(buf.count, Varint.size(v))
            var at = 0
            XCTAssertEqual(buf.withUnsafeBytes { Varint.read($0, &at) }, v)
            XCTAssertEqual(at, buf.count)
        }
    }

    func testRemoveDeletesOnlyThatField() {
        inBothForms { h in
            for i in 0..<5 { h.set(b("f\(i)"), b("v\(i)")) }
            XCTAssertTrue(h.remove(b("f2")))
            XCTAssertFalse(h.remove(b("f2")))
            XCTAssertFalse(h.remove(b("nope")))
            XCTAssertEqual(h.count, 4)
            XCTAssertEqual(pairs(h), ["f0": "v0", "f1": "v1", "f3": "v3", "f4": "v4"])
        }
    }

    func testEmptyFieldAndValueAreValid() {
        inBothForms { h in
            XCTAssertTrue(h.set(b(""), b("")))
            XCTAssertEqual(string(h, ""), "")
            XCTAssertTrue(h.remove(b("")))
            XCTAssertEqual(h.count, 0)
        }
    }

    func testStaysPackedUpTo128EntriesAndConvertsOnThe129th() {
        let h = HashObject()
        for i in 0..<128 { h.set(b("f\(i)"), b("v")) }
        XCTAssertTrue(h.isPacked)
        h.set(b("f0"), b("updated"))          // updating does not add an entry
        XCTAssertTrue(h.isPacked)
        h.set(b("f128"), b("v"))
        XCTAssertFalse(h.isPacked)
        XCTAssertEqual(h.count, 129)
        XCTAssertEqual(string(h, "f0"), "updated")
        XCTAssertEqual(string(h, "f128"), "v")
    }

    func testConvertsWhenAFieldOrValueExceeds64Bytes() {
        let h = HashObject()
        h.set(b("k"), b(String(repeating: "v", count: 64)))
        XCTAssertTrue(h.isPacked)
        h.set(b("k2"), b(String(repeating: "v", count: 65)))
        XCTAssertFalse(h.isPacked)
        let h2 = HashObject()
        h2.set(b(String(repeating: "f", count: 65)), b("v"))
        XCTAssertFalse(h2.isPacked)
        XCTAssertEqual(string(h2, String(repeating: "f", count: 65)), "v")
    }

    func testFeatureStoreRowIsPackedInOneBuffer() {
        let h = HashObject()
        for i in 0..<10 { h.set(b("f\(i)aa"), b("value\(i)")) }
        h.set(b("_ts:driver_stats"), b("\u{1}\u{2}\u{3}\u{4}\u{5}\u{6}\u{7}\u{8}"))
        XCTAssertTrue(h.isPacked)
        // Every entry costs its bytes plus two one-byte length prefixes.
        XCTAssertEqual(h.packedByteCount, 10 * (2 + 4 + 6) + (2 + 16 + 8))
    }

    func testAHashFilledAfterReservingHasNoSlack() {
        let rows = (0..<10).map { (b("f\($0)aa"), b("value\($0)")) } + [(b("_ts:view"), b("12345678"))]
        let h = HashObject()
        h.reservePacked(rows.reduce(0) { $0 + HashObject.packedEntrySize(fieldCount: $1.0.count, valueCount: $1.1.count) })
        for (f, v) in rows { h.set(f, v) }
        XCTAssertEqual(h.packedByteCount, 10 * 12 + 18)
        XCTAssertLessThan(h.packedCapacity - h.packedByteCount, 16)   // malloc rounding at most
    }

    func testLookupManyAnswersInRequestOrderWithDuplicatesAndMissing() {
        inBothForms { h in
            h.set(b("a"), b("1")); h.set(b("b"), b("2")); h.set(b("c"), b("3"))
            let wanted = ["c", "x", "a", "c", "", "b"].map { b($0) }
            var got: [String?] = []
            var order: [Int] = []
            withViews(wanted) { views in
                h.lookupMany(views.count, field: { views[$0] }) { i, v in
                    order.append(i)
                    got.append(v.map { String(decoding: $0, as: UTF8.self) })
                }
            }
            XCTAssertEqual(order, [0, 1, 2, 3, 4, 5])
            XCTAssertEqual(got, ["3", nil, "1", "3", nil, "2"])
        }
    }

    /// The single pass rejects most fields by length and first 8 bytes; fields that share
    /// those and differ later, the empty field and binary names must still be told apart.
    func testLookupManyTellsApartFieldsSharingTheirFirstEightBytes() {
        let h = HashObject()
        h.set(b("feature_a_long_name"), b("A"))
        h.set(b("feature_b_long_name"), b("B"))
        h.set(b("feature_a_long_namf"), b("F"))
        h.set(b("feature_"), b("8"))
        h.set(b(""), b("empty"))
        h.set([0, 0, 1], b("bin"))
        let wanted: [[UInt8]] = [b("feature_a_long_namf"), b("feature_"), b("feature_b_long_name"), [0, 0],
                                 [0, 0, 1], b(""), b("feature_a_long_name"), b("feature"), b("feature_a_long_name")]
        var got: [String?] = []
        withViews(wanted) { views in
            h.lookupMany(views.count, field: { views[$0] }) { _, v in
                got.append(v.map { String(decoding: $0, as: UTF8.self) })
            }
        }
        XCTAssertEqual(got, ["F", "8", "B", nil, "bin", "empty", "A", nil, "A"])
    }

    func testLookupManyBeyondTheStackLimitStillAnswersEveryField() {
        let h = HashObject()
        for i in 0..<100 { h.set(b("f\(i)"), b("v\(i)")) }
        let wanted = (0..<90).map { b("f\($0 * 2)") }   // 90 > 64 requested: per-field path
        var got: [String?] = []
        withViews(wanted) { views in
            h.lookupMany(views.count, field: { views[$0] }) { _, v in
                got.append(v.map { String(decoding: $0, as: UTF8.self) })
            }
        }
        XCTAssertEqual(got, (0..<90).map { $0 * 2 < 100 ? "v\($0 * 2)" : nil })
    }

    func testTableScanVisitsEveryFieldOnceWithoutChanges() {
        let h = HashObject()
        for i in 0..<1000 { h.set(b("field:\(i)"), b("\(i)")) }
        var seen: [String: Int] = [:]
        var cursor: UInt64 = 0
        var calls = 0
        repeat {
            cursor = h.scan(cursor: cursor, count: 10) { f, _ in seen[String(decoding: f, as: UTF8.self), default: 0] += 1 }
            calls += 1
        } while cursor != 0
        XCTAssertEqual(seen.count, 1000)
        XCTAssertTrue(seen.values.allSatisfy { $0 == 1 })
        XCTAssertGreaterThan(calls, 10)
    }

    func testTableScanReturnsFieldsPresentThroughoutEvenWhenTheTableGrows() {
        let h = HashObject()
        for i in 0..<200 { h.set(b("old:\(i)"), b("x")) }
        var seen = Set<String>()
        var cursor: UInt64 = 0
        var added = 0
        repeat {
            cursor = h.scan(cursor: cursor, count: 5) { f, _ in seen.insert(String(decoding: f, as: UTF8.self)) }
            if added < 2000 { for _ in 0..<100 { h.set(b("new:\(added)"), b("y")); added += 1 } }  // resizes mid-scan
        } while cursor != 0
        for i in 0..<200 { XCTAssertTrue(seen.contains("old:\(i)"), "missed old:\(i)") }
    }

    func testPackedScanReturnsEverythingWithCursorZero() {
        let h = HashObject()
        for i in 0..<20 { h.set(b("f\(i)"), b("v")) }
        var n = 0
        XCTAssertEqual(h.scan(cursor: 12345, count: 1) { _, _ in n += 1 }, 0)
        XCTAssertEqual(n, 20)
    }

    func testTableShrinksAfterMostFieldsAreRemoved() {
        let h = HashObject()
        for i in 0..<2000 { h.set(b("f\(i)"), b("v")) }
        let big = h.table!.capacity
        for i in 0..<1990 { h.remove(b("f\(i)")) }
        XCTAssertLessThan(h.table!.capacity, big / 8)
        XCTAssertEqual(pairs(h).count, 10)
        XCTAssertEqual(string(h, "f1995"), "v")
    }

    func testRandomEntryAndEntryAtOrdinal() {
        inBothForms { h in
            var none = 0
            h.withRandomEntry { _, _ in none += 1 }
            XCTAssertEqual(none, 0)
            for i in 0..<10 { h.set(b("f\(i)"), b("v\(i)")) }
            var seen = Set<String>()
            for _ in 0..<500 { h.withRandomEntry { f, _ in seen.insert(String(decoding: f, as: UTF8.self)) } }
            XCTAssertEqual(seen.count, 10)
        }
    }

    func testCopyIsIndependent() {
        inBothForms { h in
            h.set(b("a"), b("1"))
            let c = h.copy()
            c.set(b("a"), b("2")); c.set(b("b"), b("3"))
            XCTAssertEqual(pairs(h), ["a": "1"])
            XCTAssertEqual(pairs(c), ["a": "2", "b": "3"])
        }
    }

    /// HashObject.packed (the start-up load's one-copy path) takes entries only when they are
    /// exactly what field-by-field sets would have built; otherwise nil, and the caller sets.
    func testPackedFromEntriesTakesOnlyAValidUniquePackedLayout() {
        func bytes(_ parts: [[UInt8]]) -> [UInt8] { parts.flatMap { [UInt8($0.count)] + $0 } }
        let entries = bytes([Array("a".utf8), Array("1".utf8), Array("bb".utf8), Array("22".utf8)])
        let h = entries.withUnsafeBytes { HashObject.packed(entries: $0, count: 2, keyBytes: 3) }
        XCTAssertNotNil(h)
        let built = HashObject()
        built.set(Array("a".utf8), Array("1".utf8)); built.set(Array("bb".utf8), Array("22".utf8))
        var got: [String] = [], want: [String] = []
        h?.forEach { f, v in got.append("\(Array(f))=\(Array(v))") }
        built.forEach { f, v in want.append("\(Array(f))=\(Array(v))") }
        XCTAssertEqual(got, want)
        XCTAssertEqual(h?.count, 2)
        XCTAssertTrue(h?.embedKey(Array("key".utf8).withUnsafeBytes { $0 }) ?? false)
        XCTAssertEqual(h.map { Array($0.embeddedKey) }, Array("key".utf8))
        h?.set(Array("c".utf8), Array("3".utf8))
        XCTAssertEqual(h?.count, 3)
        func refused(_ e: [UInt8], count: Int, maxLength: Int = .max, _ why: String) {
            XCTAssertNil(e.withUnsafeBytes { HashObject.packed(entries: $0, count: count, keyBytes: 0, maxLength: maxLength) }, why)
        }
        refused(bytes([Array("a".utf8), [1], Array("a".utf8), [2]]), count: 2, "a repeated field")
        refused(bytes([Array("longfield-x".utf8), [1], Array("longfield-y".utf8), [2], Array("longfield-x".utf8), [3]]), count: 3, "a repeated long field")
        refused(entries, count: 3, "fewer entries than counted")
        refused(entries, count: 1, "more bytes than counted")
        refused(Array(entries.dropLast()), count: 2, "a value past the end")
        refused([0x81, 0x00, 0x61, 0x01, 0x31], count: 1, "a non-canonical length")
        refused(bytes([Array("a".utf8), [UInt8](repeating: 1, count: 40)]), count: 1, maxLength: 39, "over maxLength")
        refused(bytes([Array("a".utf8), [UInt8](repeating: 1, count: 65)]), count: 1, "over hash-max-listpack-value")
        let many = bytes((0..<129).flatMap { [Array("f\($0)".utf8), [1]] })
        refused(many, count: 129, "over hash-max-listpack-entries")
    }
}
