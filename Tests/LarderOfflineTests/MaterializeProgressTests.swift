import XCTest
import LarderFeatures
@testable import LarderOffline

/// The progress bar's line: no rate until one is measured over enough time (issue 15: the
/// first tick after one fast batch showed "1000000000/s").
final class MaterializeProgressTests: XCTestCase {
    func testFirstTickAfterOneFastBatchShowsNoRate() {
        let first = MaterializeProgress(view: "stats", rowsRead: 1000, rowsTotal: 5000, phase: .reading, seconds: 0.000_001)
        XCTAssertNil(first.rate)
        XCTAssertEqual(first.line, "stats [######........................] 1000/5000 rows")
        let unknownTotal = MaterializeProgress(view: "stats", rowsRead: 1000, rowsTotal: nil, phase: .reading, seconds: 0.01)
        XCTAssertEqual(unknownTotal.line, "stats reading 1000")
    }

    func testRateAndETAOnceMeasured() {
        let later = MaterializeProgress(view: "stats", rowsRead: 2000, rowsTotal: 5000, phase: .reading, seconds: 1.0)
        XCTAssertEqual(later.rate, 2000)
        XCTAssertEqual(later.line, "stats [############..................] 2000/5000 rows 2000/s ETA 2s")
        let writing = MaterializeProgress(view: "stats", rowsRead: 300, rowsTotal: 600, phase: .writing, seconds: 0.5)
        XCTAssertEqual(writing.line, "stats [###############...............] 300/600 entities 600/s ETA 1s")
        let csv = MaterializeProgress(view: "stats", rowsRead: 900, rowsTotal: nil, phase: .reading, seconds: 3)
        XCTAssertEqual(csv.line, "stats reading 900 300/s")
    }

    /// The engine's ticks carry the time since the phase started, growing within a phase.
    func testEngineTicksCarryPhaseTime() throws {
        let fixture = try DriverRepoFixture(csv: MaterializeTests.csv)
        defer { fixture.remove() }
        var ticks: [MaterializeProgress] = []
        _ = try Materializer(repo: fixture.repo).materialize(view: fixture.view, start: 0, end: Int64.max,
                                                            into: MemorySink()) { ticks.append($0) }
        XCTAssertFalse(ticks.isEmpty)
        XCTAssertTrue(ticks.allSatisfy { $0.seconds >= 0 && $0.seconds < 60 })
        for phase in [MaterializeProgress.Phase.reading, .writing] {
            let times = ticks.filter { $0.phase == phase }.map(\.seconds)
            XCTAssertEqual(times, times.sorted(), "\(phase)")
        }
    }
}
