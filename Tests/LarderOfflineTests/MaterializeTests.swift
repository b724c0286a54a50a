import XCTest
import LarderFeatures
import LarderParquet
@testable import LarderOffline

/// Materialization keeps the latest row per entity (event time, then created time), writes
/// exactly Feast's bytes, and writes only rows strictly newer than the store's.
final class MaterializeTests: XCTestCase {
    static let csv = """
        driver_id,event_timestamp,created,trips,city
        1,2025-01-01T10:00:00Z,2025-01-01T10:00:00Z,10,Paris
        1,2025-01-01T12:00:00Z,2025-01-01T12:05:00Z,12,Rome
        1,2025-01-01T12:00:00Z,2025-01-01T12:09:00Z,13,Oslo
        1,2025-01-01T12:00:00Z,2025-01-01T12:01:00Z,14,Lima
        1,2025-01-01T11:00:00Z,2025-01-01T11:00:00Z,11,Late
        2,2025-01-01T09:00:00Z,,20,
        2,2025-01-02T00:00:00Z,2025-01-02T00:00:00Z,21,Edge
        3,2025-01-02T00:00:01Z,2025-01-02T00:00:01Z,30,After
        """

    var fixture: DriverRepoFixture!

    override func setUpWithError() throws { fixture = try DriverRepoFixture(csv: Self.csv) }
    override func tearDown() { fixture.remove() }

    func materialize(_ sink: MemorySink, _ start: String, _ end: String) throws -> ViewMaterializeResult {
        try Materializer(repo: fixture.repo).materialize(view: fixture.view, start: nanos(start), end: nanos(end), into: sink)
    }

    func testLatestRowWinsByEventTimeThenCreatedTime() throws {
        let sink = MemorySink()
        let result = try materialize(sink, "2025-01-01T00:00:00Z", "2025-01-02T00:00:00Z")
        XCTAssertEqual(result.rowsRead, 7, "the row after the window end is not read")
        XCTAssertEqual(result.entities, 2)
        XCTAssertEqual(try sink.value(view: "driver_stats", feature: "trips", driver: 1), .int64(13),
                       "12:00 ties go to the greatest created time; the late 11:00 row loses")
        XCTAssertEqual(try sink.value(view: "driver_stats", feature: "city", driver: 1), .string("Oslo"))
        XCTAssertEqual(try sink.timestamp(view: "driver_stats", driver: 1), ProtoTimestamp(seconds: nanos("2025-01-01T12:00:00Z") / 1_000_000_000))
    }

    func testWindowIncludesBothEnds() throws {
        let sink = MemorySink()
        _ = try materialize(sink, "2025-01-01T09:00:00Z", "2025-01-02T00:00:00Z")
        XCTAssertEqual(try sink.value(view: "driver_stats", feature: "city", driver: 2), .string("Edge"))
        XCTAssertNil(try sink.value(view: "driver_stats", feature: "trips", driver: 3))
    }

    func testNullValueIsStoredAsEmptyValue() throws {
        let sink = MemorySink()
        _ = try materialize(sink, "2025-01-01T00:00:00Z", "2025-01-01T09:30:00Z")
        XCTAssertEqual(try sink.value(view: "driver_stats", feature: "city", driver: 2), .null)
        let key = try FeastKeyEncoder.redisKey([("driver_id", .int64(2))], project: "test")
        XCTAssertEqual(sink.hashes[key]?[FeastKeyEncoder.featureFieldName(view: "driver_stats", feature: "city")], [])
    }

    func testOnlyStrictlyNewerRowsAreWritten() throws {
        let sink = MemorySink()
        let first = try materialize(sink, "2025-01-01T00:00:00Z", "2025-01-01T11:00:00Z")
        XCTAssertEqual(first.written, 2)
        let again = try materialize(sink, "2025-01-01T00:00:00Z", "2025-01-01T11:00:00Z")
        XCTAssertEqual(again.written, 0, "equal timestamps are skipped (idempotent re-run)")
        XCTAssertEqual(again.skipped, 2)
        // An older window over a newer store writes nothing either.
        let later = try materialize(sink, "2025-01-01T00:00:00Z", "2025-01-02T00:00:00Z")
        XCTAssertEqual(later.written, 2)
        let older = try materialize(sink, "2025-01-01T00:00:00Z", "2025-01-01T10:30:00Z")
        XCTAssertEqual(older.written, 0)
        XCTAssertEqual(try sink.value(view: "driver_stats", feature: "trips", driver: 1), .int64(13))
    }

    func testHashHoldsTimestampFirstThenFeaturesWithKeyTTL() throws {
        fixture.remove()
        fixture = try DriverRepoFixture(csv: Self.csv, keyTTL: 600)
        let sink = MemorySink()
        _ = try materialize(sink, "2025-01-01T00:00:00Z", "2025-01-02T00:00:00Z")
        let key = try FeastKeyEncoder.redisKey([("driver_id", .int64(1))], project: "test")
        XCTAssertEqual(Set(sink.hashes[key]?.keys.map { $0 } ?? []),
                       [Array("_ts:driver_stats".utf8), FeastKeyEncoder.featureFieldName(view: "driver_stats", feature: "trips"),
                        FeastKeyEncoder.featureFieldName(view: "driver_stats", feature: "city")])
        XCTAssertEqual(sink.expiries[key], 600)
    }

    func testEntityKeyWriterMatchesFeastEncoder() throws {
        let ids = ColumnData(type: .int64, values: .int64([7, -1]))
        var names = ByteArrayColumn()
        names.append(Array("zed".utf8)); names.append(Array("".utf8))
        let strings = ColumnData(type: .string, values: .byteArray(names))
        for version in [EntityKeySerializationVersion.v2, .v3] {
            let writer = EntityKeyWriter(joinKeys: ["user", "account"], types: [.int64, .string], version: version)
            for row in 0 ..< 2 {
                var out: [UInt8] = []
                try writer.append(row: row, columns: [ids, strings], suffix: Array("proj".utf8), into: &out)
                let expected = try FeastEntityKeyEncoder(joinKeys: ["user", "account"], version: version)
                    .redisKey([.int64(row == 0 ? 7 : -1), .string(row == 0 ? "zed" : "")], project: "proj")
                XCTAssertEqual(out, expected, "version \(version), row \(row)")
            }
        }
    }

    func testNullJoinKeyIsAnErrorNamingViewAndSource() throws {
        fixture.remove()
        fixture = try DriverRepoFixture(csv: "driver_id,event_timestamp,created,trips,city\n,2025-01-01T00:00:00Z,2025-01-01T00:00:00Z,1,x\n")
        XCTAssertThrowsError(try materialize(MemorySink(), "2025-01-01T00:00:00Z", "2025-01-02T00:00:00Z")) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains("driver_stats") && text.contains("stats.csv") && text.contains("driver_id"), text)
        }
    }

    func testMissingFeatureColumnIsAnError() throws {
        fixture.remove()
        fixture = try DriverRepoFixture(csv: "driver_id,event_timestamp,created,trips\n1,2025-01-01T00:00:00Z,2025-01-01T00:00:00Z,1\n")
        XCTAssertThrowsError(try materialize(MemorySink(), "2025-01-01T00:00:00Z", "2025-01-02T00:00:00Z")) { error in
            XCTAssertTrue("\(error)".contains("feature column \"city\" is not in the source"), "\(error)")
        }
    }

    func testLatestRowsKeepsFirstOfFullTies() {
        var latest = LatestRows(featureCount: 0)
        XCTAssertEqual(latest.offer(key: [1], eventNanos: 5, createdNanos: 1), 0)
        XCTAssertNil(latest.offer(key: [1], eventNanos: 5, createdNanos: 1), "a full tie keeps the first row")
        XCTAssertNil(latest.offer(key: [1], eventNanos: 4, createdNanos: 9))
        XCTAssertEqual(latest.offer(key: [1], eventNanos: 5, createdNanos: 2), 0)
        XCTAssertEqual(latest.offer(key: [2], eventNanos: 0, createdNanos: .min), 1)
        XCTAssertEqual(latest.count, 2)
    }
}

/// The winner pass split over row ranges and threads (Int64WinnerPass, LatestRows.encodePayloads)
/// keeps exactly what one row-by-row pass keeps: the same winners (ties to the first row), the
/// same slot order, the same bytes.
final class MaterializeParallelWinnerTests: XCTestCase {
    /// 3,000 rows of 200 drivers in a scrambled order, from 6 event times and 4 created times
    /// (often null), so that winners tie and sit in every range.
    static let csv: String = {
        var lines = ["driver_id,event_timestamp,created,trips,city"]
        var state: UInt64 = 42
        func next(_ n: UInt64) -> Int { state = state &* 6364136223846793005 &+ 1442695040888963407; return Int((state >> 33) % n) }
        for row in 0 ..< 3000 {
            let driver = next(200), hour = 10 + next(6), created = next(5)
            let createdText = created == 4 ? "" : "2025-01-01T0\(created):00:00Z"
            lines.append("\(driver),2025-01-01T\(hour):00:00Z,\(createdText),\(row),city-\(row)")
        }
        return lines.joined(separator: "\n")
    }()

    func testEmptyBatchHasNoWinners() {
        XCTAssertTrue(Int64WinnerPass.winners(ids: [], eventNanos: [], created: nil, createdValidity: nil,
                                              rows: 0, ranges: 2, minimumRows: 1).isEmpty)
    }

    /// Within a range: the greatest (event, created) wins, the first row of a full tie; a null
    /// created time (Int64.min) loses to any; entities listed in first-appearance order.
    func testRangeKeepsFirstRowOfGreatestPair() {
        let ranges = Int64WinnerPass.winners(ids: [7, 3, 7, 7, 3, 7], eventNanos: [5, 1, 5, 5, 2, 4],
                                             created: [1, 0, 2, 2, 9, 9], createdValidity: [true, true, true, true, false, true],
                                             rows: 6, ranges: 1)
        XCTAssertEqual(ranges.count, 1)
        XCTAssertEqual(ranges[0].map(\.id), [7, 3])
        XCTAssertEqual(ranges[0].map(\.row), [2, 4], "7: rows 2 and 3 tie on (5, 2), row 2 first; 3: the later event, created null")
        XCTAssertEqual(ranges[0][1].createdNanos, .min)
    }

    func testRangesAndThreadsKeepTheSingleRowPassResult() throws {
        let fixture = try DriverRepoFixture(csv: Self.csv)
        defer { fixture.remove() }
        func run(_ configure: (inout Materializer) throws -> Void) throws -> (MemorySink, ViewMaterializeResult, [[UInt8]]) {
            var materializer = Materializer(repo: fixture.repo)
            materializer.batchSize = 7
            try configure(&materializer)
            let sink = MemorySink()
            let result = try materializer.materialize(view: fixture.view, start: nanos("2025-01-01T00:00:00Z"),
                                                      end: nanos("2025-01-02T00:00:00Z"), into: sink)
            let source = try ViewSource(view: fixture.view, definitions: fixture.repo.definitions, repoDirectory: fixture.repo.directory)
            let (latest, _) = try materializer.latestRows(of: source, start: nanos("2025-01-01T00:00:00Z"), end: nanos("2025-01-02T00:00:00Z"))
            return (sink, result, latest.keys)
        }
        // One range, one encoding thread: the reference.
        let (single, singleResult, singleOrder) = try run {
            $0.winnerRanges = 1
            $0.encodeMinimumSlots = .max
        }
        // The serialized-key path (a worker share of one takes it): row by row, no winner pass.
        let (general, generalResult, generalOrder) = try run { $0.share = try WorkerShare(count: 1, index: 0) }
        XCTAssertEqual(singleResult.entities, 200)
        XCTAssertEqual(singleResult.written, 200)
        /// Entities whose hash differs (a count, not the 200 hashes, when they do).
        func differing(_ a: MemorySink, _ b: MemorySink) -> Int {
            Set(a.hashes.keys).union(b.hashes.keys).filter { a.hashes[$0] != b.hashes[$0] }.count
        }
        XCTAssertEqual(differing(general, single), 0, "the winner pass against the row-by-row offer")
        XCTAssertEqual(generalOrder, singleOrder, "slots in first-appearance order")
        XCTAssertEqual(generalResult.bytes, singleResult.bytes)
        for ranges in [2, 3, 7] {
            let (split, splitResult, splitOrder) = try run {
                $0.winnerRanges = ranges
                $0.winnerRangeMinimumRows = 1
                $0.encodeMinimumSlots = 1
            }
            XCTAssertEqual(differing(split, single), 0, "\(ranges) ranges")
            XCTAssertEqual(splitOrder, singleOrder, "\(ranges) ranges: slot order")
            XCTAssertEqual(splitResult.written, singleResult.written)
            XCTAssertEqual(splitResult.bytes, singleResult.bytes)
        }
    }
}
