import XCTest
@testable import LarderStore

/// Sets: the intset form (sorted, narrowest width, widened on demand) and its conversion to a
/// table on a non-integer member or past `maxIntsetEntries`, checked against Swift's Set.
final class SetObjectTests: XCTestCase {
    func bytes(_ s: String) -> [UInt8] { Array(s.utf8) }

    func testIntsetWidensAndStaysSorted() {
        let s = SetObject()
        for v in ["5", "-3", "100"] { XCTAssertTrue(s.add(bytes(v))) }
        XCTAssertFalse(s.add(bytes("5")), "already there")
        XCTAssertTrue(s.isIntset)
        XCTAssertEqual(s.intsetWidth, 2)
        XCTAssertTrue(s.add(bytes("70000")))
        XCTAssertEqual(s.intsetWidth, 4)
        XCTAssertTrue(s.add(bytes("-9000000000")))
        XCTAssertEqual(s.intsetWidth, 8)
        XCTAssertEqual(s.intsetValues, [-9_000_000_000, -3, 5, 100, 70000])
        XCTAssertTrue(s.contains(bytes("70000")))
        XCTAssertFalse(s.contains(bytes("007")), "not canonical: never an intset member")
        XCTAssertTrue(bytes("-3").withUnsafeBytes { s.remove($0) })
        XCTAssertEqual(s.count, 4)
    }

    func testNonCanonicalIntegersAndStringsConvertToATable() {
        for member in ["007", " 5", "+1", "a", "-0", "99999999999999999999"] {
            let s = SetObject()
            _ = s.add(bytes("1"))
            XCTAssertTrue(s.add(bytes(member)), member)
            XCTAssertFalse(s.isIntset, "\(member) cannot live in an intset")
            XCTAssertTrue(s.contains(bytes("1")) && s.contains(bytes(member)))
        }
    }

    func testConversionPastMaxIntsetEntries() {
        let s = SetObject()
        for i in 0..<SetObject.maxIntsetEntries { _ = s.add(bytes(String(i * 3))) }
        XCTAssertTrue(s.isIntset)
        _ = s.add(bytes("-1"))
        XCTAssertFalse(s.isIntset)
        XCTAssertEqual(s.count, SetObject.maxIntsetEntries + 1)
        XCTAssertTrue(s.contains(bytes("0")) && s.contains(bytes("-1")))
    }

    func testRandomOperationsAgreeWithSwiftSet() {
        var rng = SystemRandomNumberGenerator()
        for stringsToo in [false, true] {
            let s = SetObject()
            var model = Set<[UInt8]>()
            for _ in 0..<5000 {
                let m = stringsToo && Bool.random(using: &rng) ? bytes("m\(Int.random(in: 0..<300, using: &rng))")
                    : bytes(String(Int.random(in: -70000...70000, using: &rng) / 233))
                if Int.random(in: 0..<3, using: &rng) == 0 {
                    XCTAssertEqual(m.withUnsafeBytes { s.remove($0) }, model.remove(m) != nil)
                } else {
                    XCTAssertEqual(s.add(m), model.insert(m).inserted)
                }
                XCTAssertEqual(s.count, model.count)
            }
            XCTAssertEqual(Set(s.members), model)
            if let popped = s.popRandom() { XCTAssertNotNil(model.remove(popped)) }
            XCTAssertEqual(Set(s.members), model)
            if stringsToo { XCTAssertFalse(s.isIntset) }
        }
    }

    func testIntsetMemoryIsPacked() {
        let s = SetObject()
        for i in 0..<100 { _ = s.add(bytes(String(1_000_000 + i))) }
        XCTAssertEqual(s.intsetWidth, 4)
        // 4 bytes a member in a block of exactly 8 + 400 bytes (malloc rounds to 16, plus its
        // 8-byte header; allow one size class more for a chunk it could not split) and the
        // 32-byte object; a table would cost ~50 bytes a member.
        XCTAssertLessThanOrEqual(s.memoryUsage, 32 + 8 + 400 + 40, "packed at 4 bytes a member, no spare capacity")
        for i in 0..<50 { _ = bytes(String(1_000_000 + i)).withUnsafeBytes { s.remove($0) } }
        XCTAssertLessThanOrEqual(s.memoryUsage, 32 + 8 + 200 + 40, "removals give the bytes back")
        XCTAssertEqual(s.intsetValues, (50..<100).map { Int64(1_000_000 + $0) })
    }

    func testTableMembersCostOneSmallChunkEach() {
        let s = SetObject()
        for i in 0..<100 { _ = s.add(bytes("m-\(String(format: "%014d", i))")) }
        XCTAssertFalse(s.isIntset)
        // A 16-byte member: a 32-byte malloc chunk (malloc may hand out a slightly larger one it
        // could not split: allow 48 for some); slots: 9 bytes each, 256 for 100 members. The
        // `Set<[UInt8]>` this replaced took a 64-byte chunk a member plus 8 bytes a bucket.
        XCTAssertLessThanOrEqual(s.memoryUsage, 48 + 48 + 256 * 9 + 100 * 40)
        XCTAssertTrue(s.contains(bytes("m-00000000000042")))
        XCTAssertFalse(s.contains(bytes("m-0000000000004")))
        XCTAssertTrue(s.add(bytes("")), "the empty string is a member like any other")
        XCTAssertTrue(s.contains(bytes("")))
        XCTAssertEqual(s.count, 101)
        let c = s.copy()
        XCTAssertTrue(bytes("").withUnsafeBytes { c.remove($0) })
        XCTAssertTrue(s.contains(bytes("")), "a copy is independent")
        for i in 0..<100 { XCTAssertTrue(bytes("m-\(String(format: "%014d", i))").withUnsafeBytes { s.remove($0) }) }
        XCTAssertEqual(s.members, [[]])
        XCTAssertEqual(s.randomMember(), [])
    }
}
