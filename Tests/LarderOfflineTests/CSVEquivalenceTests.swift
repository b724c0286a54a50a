import XCTest
import Foundation
import LarderParquet
@testable import LarderOffline

/// The same table stored as Parquet and as CSV reads to equal batches through
/// TabularSource. The CSV twins were written from the Parquet files by
/// Fixtures/make_csv_twins.py (ISO 8601 with Z / +00:00 / naive, epoch ms and µs,
/// float32 shortest decimals, quoted line breaks and quotes, CRLF, nulls).
final class CSVEquivalenceTests: XCTestCase {
    func assertSameTable(_ parquet: [ColumnBatch], _ csv: [ColumnBatch], columns: [String],
                         file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(parquet.reduce(0) { $0 + $1.rowCount }, csv.reduce(0) { $0 + $1.rowCount }, "row count",
                       file: file, line: line)
        for name in columns {
            XCTAssertEqual(exactValues(parquet, name), exactValues(csv, name), "column \(name)", file: file, line: line)
            XCTAssertEqual(parquet.first?[name]?.type, csv.first?[name]?.type, "type of \(name)", file: file, line: line)
        }
    }

    /// CSV read with the Parquet file's column types declared.
    func twins(_ name: String) throws -> (parquet: TabularSource, csv: TabularSource) {
        let parquet = try TabularSource(path: try fixturePath(name + ".parquet"))
        var options = CSVOptions(schema: parquet.schema)
        // Epoch integers near 1970 (-1 µs) cannot be told apart by magnitude.
        options.epochUnits = ["ts_us": .microseconds, "ts_ms": .milliseconds]
        let csv = try TabularSource(path: try fixturePath(name + ".csv"), csvOptions: options)
        XCTAssertEqual(parquet.format, .parquet)
        XCTAssertEqual(csv.format, .csv)
        return (parquet, csv)
    }

    func testFeastDriverStatsReadsTheSameFromParquetAndCSV() throws {
        let (parquet, csv) = try twins("feast_driver_stats")
        XCTAssertEqual(parquet.schema.map(\.name), csv.schema.map(\.name))
        XCTAssertEqual(parquet.schema.map(\.type), csv.schema.map(\.type))
        let names = parquet.schema.map(\.name)
        assertSameTable(try parquet.readAll(), try csv.readAll(), columns: names)
        XCTAssertEqual(try csv.rowCount(), 240)
        XCTAssertEqual(try parquet.rowCount(), 240)
    }

    func testInferredCSVTypesMatchTheParquetValues() throws {
        let parquet = try TabularSource(path: try fixturePath("feast_driver_stats.parquet"))
        let csv = try TabularSource(path: try fixturePath("feast_driver_stats.csv"))
        let types = Dictionary(uniqueKeysWithValues: csv.schema.map { ($0.name, $0.type) })
        XCTAssertEqual(types["event_timestamp"], .timestamp(isAdjustedToUTC: true))
        XCTAssertEqual(types["created"], .timestamp(isAdjustedToUTC: false))
        XCTAssertEqual(types["driver_id"], .int64)
        XCTAssertEqual(types["conv_rate"], .double)
        XCTAssertEqual(types["avg_daily_trips"], .int64)
        assertSameTable(try parquet.readAll(), try csv.readAll(), columns: ["event_timestamp", "created", "driver_id"])
    }

    func testEveryColumnKindAcrossRowGroups() throws {
        let (parquet, csv) = try twins("fp_snappy_multi_rg")
        let names = parquet.schema.map(\.name)
        XCTAssertEqual(names.count, 15)
        assertSameTable(try parquet.readAll(), try csv.readAll(), columns: names)
    }

    func testTimeRangeSelectsTheSameRows() throws {
        let (parquet, csv) = try twins("fp_snappy_multi_rg")
        let all = try parquet.readAll(columns: ["entity_id", "event_timestamp"])
        guard case .int64(let stamps)? = all.first?["event_timestamp"]?.values else {
            return XCTFail("event_timestamp is not Int64 nanoseconds")
        }
        // Row group 0 holds rows 0..<50; a range inside row groups 1 and 2 only.
        let allStamps = all.flatMap { batch -> [Int64] in
            guard case .int64(let v)? = batch["event_timestamp"]?.values else { return [] }
            return v
        }
        XCTAssertEqual(stamps.count, 50)
        let range = allStamps[60] ... allStamps[130]
        let filter = TimeFilter(column: "event_timestamp", range: range)
        let fromParquet = try parquet.readAll(columns: ["entity_id", "name"], timeFilter: filter)
        let fromCSV = try csv.readAll(columns: ["entity_id", "name"], timeFilter: filter)
        XCTAssertEqual(fromParquet.count, 2, "row groups 0 and 3 are pruned by their statistics")
        XCTAssertEqual(fromParquet.reduce(0) { $0 + $1.rowCount }, 71)
        XCTAssertEqual(fromCSV.first?.fields.map(\.name), ["entity_id", "name"], "time column not added to the output")
        assertSameTable(fromParquet, fromCSV, columns: ["entity_id", "name"])
        let expectedIDs = (60 ... 130).map { "\(values(all, "entity_id")[$0].map { "\($0)" } ?? "null")" }
        XCTAssertEqual(exactValues(fromCSV, "entity_id"), expectedIDs)
    }

    func testDirectoryAndGlobSourcesReadEveryFile() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("larder-src-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory.appendingPathComponent("day=2"), withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        try Data("id,v\n1,a\n2,b\n".utf8).write(to: directory.appendingPathComponent("part-1.csv"))
        try Data("id,v\n3,c\n".utf8).write(to: directory.appendingPathComponent("day=2/part-2.csv"))
        try Data("junk".utf8).write(to: directory.appendingPathComponent("_SUCCESS"))
        // A link back to the top must not make the walk loop or read files twice.
        try FileManager.default.createSymbolicLink(at: directory.appendingPathComponent("day=2/loop"),
                                                   withDestinationURL: directory)

        let source = try TabularSource(path: directory.path)
        XCTAssertEqual(source.files.map { String($0.dropFirst(directory.path.count)) }, ["/day=2/part-2.csv", "/part-1.csv"],
                       "files are read in path order; _SUCCESS is skipped")
        XCTAssertEqual(exactValues(try source.readAll(), "id"), ["3", "1", "2"])
        let globbed = try TabularSource(path: directory.path + "/*.csv")
        XCTAssertEqual(exactValues(try globbed.readAll(), "v"), ["a", "b"])

        try Data("id,w\n4,d\n".utf8).write(to: directory.appendingPathComponent("part-3.csv"))
        let mismatched = try TabularSource(path: directory.path)
        XCTAssertThrowsError(try mismatched.readAll()) { error in
            XCTAssertTrue("\(error)".contains("part-3.csv"), "\(error)")
        }
        try FileManager.default.copyItem(atPath: try fixturePath("feast_driver_stats.parquet"),
                                         toPath: directory.appendingPathComponent("x.parquet").path)
        XCTAssertThrowsError(try TabularSource(path: directory.path)) { error in
            XCTAssertEqual("\(error)", "\(directory.path): holds both Parquet and CSV files; name the format explicitly")
        }
        XCTAssertEqual(try TabularSource(path: directory.path, format: .parquet).files.count, 1)
        try FileManager.default.copyItem(atPath: try fixturePath("feast_driver_stats.parquet"),
                                         toPath: directory.appendingPathComponent("day=2/y.parquet").path)
        let parquetFiles = try TabularSource(path: directory.path, format: .parquet)
        XCTAssertEqual(try parquetFiles.rowCount(), 480)
        let batches = try parquetFiles.readAll(columns: ["driver_id"])
        XCTAssertEqual(batches.map(\.rowCount), [240, 240])
        XCTAssertEqual(batches.map { $0.fields.map(\.name) }, [["driver_id"], ["driver_id"]])
    }

    func testSourceErrors() throws {
        XCTAssertThrowsError(try TabularSource(path: "/nonexistent/x.parquet")) { error in
            XCTAssertEqual("\(error)", "/nonexistent/x.parquet: no such file or directory")
        }
        let source = try TabularSource(path: try fixturePath("feast_driver_stats.csv"))
        XCTAssertThrowsError(try source.batches(columns: ["nope"])) { error in
            XCTAssertTrue("\(error)".contains("no column named \"nope\""), "\(error)")
        }
        XCTAssertThrowsError(try source.batches(timeFilter: TimeFilter(column: "driver_id", range: 0 ... 1))) { error in
            XCTAssertTrue("\(error)".hasSuffix("time column \"driver_id\" is int64, not a timestamp"), "\(error)")
        }
    }
}
