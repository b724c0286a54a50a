import XCTest
import LarderFeatures
import LarderParquet
@testable import LarderOffline

/// The point-in-time join: latest source row at or before each entity row's time, within
/// the view's ttl (both ends included), created time breaking ties; nulls otherwise; every
/// entity row returned in the entity file's order.
final class HistoricalTests: XCTestCase {
    var fixture: DriverRepoFixture!

    override func setUpWithError() throws {
        fixture = try DriverRepoFixture(csv: """
            driver_id,event_timestamp,created,trips,city
            1,2025-01-01T10:00:00Z,2025-01-01T10:00:00Z,10,Paris
            1,2025-01-01T12:00:00Z,2025-01-01T12:09:00Z,13,Oslo
            1,2025-01-01T12:00:00Z,2025-01-01T12:05:00Z,12,Rome
            2,2025-01-01T09:00:00Z,,20,
            """, ttlSeconds: 3600)
    }

    override func tearDown() { fixture.remove() }

    func retrieve(_ entities: String, feastCompatible: Bool = false) throws -> [ColumnBatch] {
        let path = fixture.directory.appendingPathComponent("entities.csv").path
        try entities.write(toFile: path, atomically: true, encoding: .utf8)
        let retriever = HistoricalRetriever(repo: fixture.repo)
        var out: [ColumnBatch] = []
        try retriever.retrieve(entities: try TabularSource(path: path),
                               features: try retriever.references("driver_stats:trips,driver_stats:city"),
                               fullFeatureNames: false, feastCompatible: feastCompatible) { out.append($0) }
        return out
    }

    func testPointInTimeValuesWithTTLEdges() throws {
        let out = try retrieve("""
            driver_id,event_timestamp
            1,2025-01-01T09:59:59Z
            1,2025-01-01T10:00:00Z
            1,2025-01-01T11:00:00Z
            1,2025-01-01T11:00:01Z
            1,2025-01-01T12:30:00Z
            1,2025-01-01T13:00:00Z
            1,2025-01-01T13:00:01Z
            2,2025-01-01T09:30:00Z
            3,2025-01-01T12:00:00Z
            """)
        XCTAssertEqual(values(out, "trips"), [nil, 10, 10, nil, 13, 13, nil, 20, nil],
                       "before any row: null; exactly ttl old: in; one second more: out; created breaks the 12:00 tie")
        XCTAssertEqual(values(out, "city"), [nil, "Paris", "Paris", nil, "Oslo", "Oslo", nil, nil, nil])
        XCTAssertEqual(values(out, "driver_id"), [1, 1, 1, 1, 1, 1, 1, 2, 3], "entity rows keep their order")
    }

    func testUnknownFeatureIsAnError() throws {
        let retriever = HistoricalRetriever(repo: fixture.repo)
        XCTAssertThrowsError(try retriever.references("driver_stats:nope")) { error in
            XCTAssertTrue("\(error)".contains("has no feature \"nope\""), "\(error)")
        }
    }

    func testEntityFileWithoutJoinKeyIsAnError() throws {
        XCTAssertThrowsError(try retrieve("user,event_timestamp\n1,2025-01-01T00:00:00Z\n")) { error in
            XCTAssertTrue("\(error)".contains("no column \"driver_id\""), "\(error)")
        }
    }

    /// `--feast-compatible`: Feast's dask store drops an entity row whose key has source rows
    /// but none in its window (driver 1 at 09:59:59, 11:00:01, 13:00:01), keeps a key without
    /// source rows (3) with nulls, collapses rows equal on key and time (the two 12:30 rows),
    /// and orders by the matched event time, rows without a match first.
    func testFeastCompatibleDropsCollapsesAndOrdersAsFeast() throws {
        let out = try retrieve("""
            driver_id,event_timestamp,label
            1,2025-01-01T13:00:00Z,a
            1,2025-01-01T09:59:59Z,b
            1,2025-01-01T10:00:00Z,c
            1,2025-01-01T11:00:01Z,d
            1,2025-01-01T12:30:00Z,e
            1,2025-01-01T12:30:00Z,f
            2,2025-01-01T09:30:00Z,g
            3,2025-01-01T12:00:00Z,h
            1,2025-01-01T13:00:01Z,i
            """, feastCompatible: true)
        XCTAssertEqual(out.count, 1)
        XCTAssertEqual(values(out, "label"), ["h", "g", "c", "f", "a"],
                       "no match first; then by matched time (09:00, 10:00, 12:00), ties in the previous order; of the 12:30 twins the last is kept")
        XCTAssertEqual(values(out, "trips"), [nil, 20, 10, 13, 13] as [AnyHashable?])
        XCTAssertEqual(out[0].fields.map(\.name), ["driver_id", "event_timestamp", "label", "trips", "city"])
        let every = try retrieve("driver_id,event_timestamp,label\n1,2025-01-01T09:59:59Z,b\n")
        XCTAssertEqual(values(every, "label"), ["b"], "the default keeps every row")
        XCTAssertEqual(values(try retrieve("driver_id,event_timestamp,label\n1,2025-01-01T09:59:59Z,b\n",
                                           feastCompatible: true), "label"), [], "Feast drops it")
    }
}
