import Foundation
import LarderFeatures
import XCTest
@testable import LarderOffline

/// `--plan`'s memory prediction: p90 of the view's earlier runs, a conservative default before any.
final class MaterializePlanTests: XCTestCase {
    private func plan(decoded: Int64) -> ViewReadPlan {
        var p = ViewReadPlan(view: "v", path: "p", format: .parquet)
        p.bytesDecoded = decoded
        return p
    }

    private func record(decoded: Int64, peak: Int64) -> ViewMemoryRecord {
        ViewMemoryRecord(project: "p", view: "v", kind: "materialize", rowsRead: 1, entities: 1,
                         bytesDecoded: decoded, peakAboveBaseBytes: peak, baseBytes: 30 << 20)
    }

    func testPercentile90IsNearestRank() {
        XCTAssertEqual(MemoryPredictor.percentile90([5]), 5)
        XCTAssertEqual(MemoryPredictor.percentile90(Array(1 ... 10).map(Double.init)), 9)
        XCTAssertEqual(MemoryPredictor.percentile90([1, 2, 3]), 3)
        XCTAssertEqual(MemoryPredictor.percentile90(Array(1 ... 20).map(Double.init).shuffled()), 18)
    }

    func testWithoutHistoryTheDefaultRatioAppliesAboveAFloor() {
        let big = MemoryPredictor.predict(plan(decoded: 100 << 20), history: [])
        XCTAssertEqual(big.bytes, Int64(MemoryPredictor.defaultRatio * Double(100 << 20)))
        XCTAssertEqual(big.samples, 0)
        XCTAssertEqual(MemoryPredictor.predict(plan(decoded: 1000), history: []).bytes, MemoryPredictor.minimumBytes)
    }

    func testOneEarlierRunScalesUpInProportionAndDownSlowly() {
        let history = [record(decoded: 10 << 20, peak: 40 << 20)]
        XCTAssertEqual(MemoryPredictor.predict(plan(decoded: 40 << 20), history: history).bytes, 160 << 20)
        let smaller = MemoryPredictor.predict(plan(decoded: (10 << 20) / 8), history: history).bytes
        XCTAssertEqual(Double(smaller), Double(40 << 20) * pow(1.0 / 8, 0.3), accuracy: 2)
    }

    func testHistoryFitsAPowerLawWithTheP90ExcessOverIt() {
        // memory = 300 x decoded^0.8 exactly: the curve itself, times the minimum margin.
        func mem(_ d: Double) -> Int64 { Int64(300 * pow(d, 0.8)) }
        let exact = [1, 2, 4, 8].map { record(decoded: Int64($0) << 20, peak: mem(Double(Int64($0) << 20))) }
        let p = MemoryPredictor.predict(plan(decoded: 16 << 20), history: exact)
        XCTAssertEqual(Double(p.bytes), Double(mem(Double(16 << 20))) * MemoryPredictor.minimumMargin, accuracy: 2e-3 * Double(p.bytes))
        XCTAssertTrue(p.basis.hasPrefix("fit of 4 earlier run(s): memory ~ decoded^0.80"), p.basis)
        // Ten runs, one of them 60% above the curve of the others: p90 covers nine in ten, not the worst.
        var noisy = (1 ... 9).map { record(decoded: Int64($0) << 20, peak: mem(Double(Int64($0) << 20))) }
        noisy.append(record(decoded: 5 << 20, peak: Int64(1.6 * Double(mem(Double(5 << 20))))))
        let q = MemoryPredictor.predict(plan(decoded: 5 << 20), history: noisy)
        XCTAssertGreaterThan(q.bytes, Int64(1.1 * Double(mem(Double(5 << 20)))))
        XCTAssertLessThan(q.bytes, Int64(1.6 * Double(mem(Double(5 << 20)))))
    }

    func testStateDatabaseKeepsTheHistoryNewestFirst() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("larder-mem-\(UUID().uuidString).db").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let store = try RegistryStore(path: path)
        XCTAssertEqual(try store.viewMemoryHistory(project: "p", view: "v"), [])
        try store.recordViewMemory(record(decoded: 1, peak: 2))
        try store.recordViewMemory(record(decoded: 3, peak: 4))
        let history = try RegistryStore(path: path).viewMemoryHistory(project: "p", view: "v")
        XCTAssertEqual(history.map(\.bytesDecoded), [3, 1])
        XCTAssertEqual(try store.viewMemoryHistory(project: "p", view: "other"), [])
    }
}
