import Foundation
import XCTest
import LarderFeatures
import LarderStore
@testable import LarderServing

/// FieldIndex answers what HashObject.lookupMany answers for a group's fields, in one pass.
final class FieldIndexTests: XCTestCase {
    func index(_ fields: [[UInt8]]) -> (FieldIndex, [UInt8], [Int]) {
        var bytes: [UInt8] = [], starts: [Int] = []
        for f in fields { starts.append(bytes.count); bytes += f }
        starts.append(bytes.count)
        return (FieldIndex(fieldBytes: bytes, starts: starts), bytes, starts)
    }

    func find(_ ix: (FieldIndex, [UInt8], [Int]), _ field: [UInt8]) -> Int? {
        ix.1.withUnsafeBytes { b in ix.2.withUnsafeBufferPointer { s in
            field.withUnsafeBytes { ix.0.find($0, fieldBytes: b.baseAddress!, starts: s.baseAddress!) }
        } }
    }

    func testFindsEachFieldAndNothingElse() {
        var g = SystemRandomNumberGenerator()
        for round in 0..<200 {
            var fields: [[UInt8]] = []
            let n = Int.random(in: 1...60, using: &g)
            while fields.count < n {
                let length = [0, 1, 4, 4, 4, 7, 8, 9, 23, 40][Int.random(in: 0..<10, using: &g)]
                let f = (0..<length).map { _ in UInt8.random(in: 0...3, using: &g) }   // few byte values: near misses
                if !fields.contains(f) { fields.append(f) }
            }
            let ix = index(fields)
            XCTAssertTrue(ix.0.usable)
            for (i, f) in fields.enumerated() { XCTAssertEqual(find(ix, f), i, "round \(round) field \(i)") }
            for _ in 0..<50 {
                var probe = fields[Int.random(in: 0..<n, using: &g)]
                switch Int.random(in: 0..<3, using: &g) {
                case 0: probe.append(0)                                       // longer, same prefix
                case 1: if !probe.isEmpty { probe[probe.count - 1] ^= 0x80 }   // same length, last byte differs
                default: if !probe.isEmpty { probe.removeLast() }
                }
                XCTAssertEqual(find(ix, probe), fields.firstIndex(of: probe), "round \(round) probe \(probe)")
            }
        }
    }

    func testEqualFieldsMakeTheIndexUnusable() {
        XCTAssertFalse(index([[1, 2, 3, 4], [5, 6, 7, 8], [1, 2, 3, 4]]).0.usable)
        XCTAssertFalse(index([Array("_ts:driver_hourly_stats".utf8), Array("_ts:driver_hourly_stats".utf8)]).0.usable)
        XCTAssertTrue(index([Array("_ts:driver_hourly_stats".utf8), Array("_ts:driver_hourly_statz".utf8)]).0.usable)
    }

    /// A group's one-pass read against lookupMany, on packed hashes and on a table hash (a
    /// value past the packed limit), with missing fields and foreign ones.
    func testGroupReadMatchesLookupMany() throws {
        let c = try makeCatalog()
        let view = c.view(named: "stats")!
        let selection = try c.selection(refs: ["stats:trips", "stats:conv_rate", "stats:city"])
        let group = selection.groups[0]
        let n = group.fieldStarts.count - 1
        func hash(_ fields: [Int], big: Bool) -> HashObject {
            let h = HashObject()
            _ = h.set(Array("unrelated".utf8), Array("x".utf8))
            for f in fields { _ = h.set(view.layout.featureFields[f], FeastValue.string(big ? String(repeating: "y", count: 500) : "v\(f)").encoded()) }
            _ = h.set(view.layout.timestampField, ProtoTimestamp(seconds: 7).encoded())
            return h
        }
        for (fields, big) in [([0, 1, 2], false), ([1], false), ([], false), ([2, 0], true)] {
            let h = hash(fields, big: big)
            XCTAssertEqual(h.isPacked, !big)
            let viaIndex: [[UInt8]?] = withUnsafeTemporaryAllocation(of: UnsafeRawBufferPointer?.self, capacity: n) { raw in
                FieldIndex.lookUp(HashView(h), group, into: raw)
                return raw.map { $0.map { Array($0) } }
            }
            var viaLookupMany = [[UInt8]?](repeating: nil, count: n)
            group.fieldBytes.withUnsafeBytes { base in
                h.lookupMany(n, field: { UnsafeRawBufferPointer(rebasing: base[group.fieldStarts[$0]..<group.fieldStarts[$0 + 1]]) }) { i, v in
                    viaLookupMany[i] = v.map { Array($0) }
                }
            }
            XCTAssertEqual(viaIndex, viaLookupMany, "fields \(fields) big \(big)")
            XCTAssertNotNil(viaIndex[n - 1], "the _ts field")
        }
    }
}
