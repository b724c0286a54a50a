import Foundation
import XCTest
@testable import LarderParquet

/// The writer's files read back identically with this reader, for every option combination.
/// (Readability by pyarrow, pandas, polars and DuckDB: Tests/conformance/parquet/test_parquet_roundtrip.py.)
final class WriterTests: XCTestCase {
    static let variants: [(name: String, options: ParquetWriterOptions)] = [
        ("snappy_dict", ParquetWriterOptions()),
        ("snappy_plain", ParquetWriterOptions(useDictionary: false)),
        ("none_small_pages", ParquetWriterOptions(compression: .uncompressed, maxRowsPerRowGroup: 300, maxRowsPerPage: 64)),
        ("zstd", ParquetWriterOptions(compression: .zstd, maxRowsPerRowGroup: 512)),
        ("gzip_plain", ParquetWriterOptions(compression: .gzip, useDictionary: false, maxRowsPerPage: 100)),
    ]

    private func tempDir() throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("larder-pqw-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
        return dir
    }

    func testEveryTypeRoundTripsThroughTheReader() throws {
        let dir = try tempDir()
        let batch = SampleData.batch(rows: 1000)
        for (name, options) in Self.variants {
            let path = dir.appendingPathComponent("\(name).parquet").path
            try ParquetWriter.write([batch], to: path, options: options)
            let file = try ParquetFile(path: path)
            XCTAssertEqual(file.fields, batch.fields, name)
            XCTAssertEqual(file.numRows, 1000, name)
            XCTAssertEqual(file.rowGroupCount, (1000 + options.maxRowsPerRowGroup - 1) / options.maxRowsPerRowGroup, name)
            var row = 0
            try file.forEachBatch { got in
                for (k, field) in batch.fields.enumerated() {
                    let gotColumn = try XCTUnwrap(got[field.name])
                    for r in 0..<got.rowCount {
                        let want = SampleData.json(batch.columns[k], row: row + r)
                        let have = SampleData.json(gotColumn, row: r)
                        if want != have { XCTFail("\(name) \(field.name) row \(row + r): wrote \(want), read \(have)"); return }
                    }
                }
                row += got.rowCount
            }
            XCTAssertEqual(row, 1000, name)
        }
    }

    func testStatisticsAllowTimePruningOfWrittenFiles() throws {
        let dir = try tempDir()
        let path = dir.appendingPathComponent("pruning.parquet").path
        let batch = SampleData.batch(rows: 1000)
        try ParquetWriter.write([batch], to: path, options: ParquetWriterOptions(maxRowsPerRowGroup: 250))
        let file = try ParquetFile(path: path)
        XCTAssertEqual(file.rowGroupCount, 4)
        guard case .int64(let ts) = batch["event_timestamp"]!.values else { return XCTFail() }
        let st = try XCTUnwrap(file.statistics(rowGroup: 2, column: "event_timestamp"))
        XCTAssertEqual(st.min, .int(ts[500]))
        XCTAssertEqual(st.max, .int(ts[749]))
        XCTAssertEqual(st.nullCount, Int64((500..<750).filter { $0 % 11 == 10 }.count))
        XCTAssertEqual(file.rowGroups(timeColumn: "event_timestamp", within: ts[600]...ts[620]), [2])
        XCTAssertEqual(file.statistics(rowGroup: 0, column: "category")?.min, .bytes(Array("blue".utf8)))
        XCTAssertEqual(file.statistics(rowGroup: 0, column: "f64")?.min, .double(-.infinity))
    }

    func testWriterRejectsBadInputWithTypedErrors() throws {
        let dir = try tempDir()
        let path = dir.appendingPathComponent("bad.parquet").path
        let fields = [Field(name: "x", type: .int64, nullable: false)]
        let w = try ParquetWriter(path: path, fields: fields)
        let withNull = ColumnBatch(fields: fields, columns: [ColumnData(type: .int64, values: .int64([1, 2]), validity: [true, false])], rowCount: 2)
        XCTAssertThrowsError(try w.write(withNull)) { XCTAssertEqual(($0 as? ParquetError)?.kind, .invalidArgument) }
        let wrongType = ColumnBatch(fields: fields, columns: [ColumnData(type: .double, values: .double([1]))], rowCount: 1)
        XCTAssertThrowsError(try w.write(wrongType)) { XCTAssertEqual(($0 as? ParquetError)?.column, "x") }
        XCTAssertThrowsError(try ParquetWriter(path: path, fields: [Field(name: "l", type: .list(.list(.int32)))])) {
            XCTAssertEqual(($0 as? ParquetError)?.kind, .unsupportedNested)
        }
        try w.close()
        XCTAssertEqual(try ParquetFile(path: path).numRows, 0)
    }

    /// Writes the conformance files for test_parquet_roundtrip.py when LARDER_PARQUET_CONFORMANCE_DIR is set.
    func testWriteConformanceFiles() throws {
        guard let out = ProcessInfo.processInfo.environment["LARDER_PARQUET_CONFORMANCE_DIR"] else {
            throw XCTSkip("set LARDER_PARQUET_CONFORMANCE_DIR to write files for Tests/conformance/parquet")
        }
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        let batch = SampleData.batch(rows: 1000)
        try SampleData.expectedJSON(batch).write(toFile: out + "/expected.json", atomically: true, encoding: .utf8)
        for (name, options) in Self.variants {
            try ParquetWriter.write([batch], to: out + "/\(name).parquet", options: options)
        }
    }
}
