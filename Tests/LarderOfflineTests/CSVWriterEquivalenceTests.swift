import XCTest
import Foundation
import LarderParquet
@testable import LarderOffline

/// A generated table written once with LarderParquet's ParquetWriter and once as CSV text
/// (RowTextWriter) reads to equal batches through TabularSource, with and without a time
/// range; Parquet prunes row groups, CSV filters rows, and both keep the same rows.
final class CSVWriterEquivalenceTests: XCTestCase {
    var directory: URL!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("larder-eq-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: directory)
    }

    static let fields = [
        Field(name: "id", type: .int64),
        Field(name: "event_timestamp", type: .timestamp(isAdjustedToUTC: true)),
        Field(name: "created", type: .timestamp(isAdjustedToUTC: false)),
        Field(name: "score", type: .double),
        Field(name: "ratio", type: .float),
        Field(name: "flag", type: .boolean),
        Field(name: "name", type: .string),
        Field(name: "trips", type: .int32),
        Field(name: "day", type: .date),
    ]

    /// `rows` rows with increasing event timestamps and every awkward value somewhere.
    static func table(rows: Int) -> ColumnBatch {
        var generator = SplitMix(seed: 7)
        let names = ["plain", "comma, inside", "quote \"q\"", "line\nbreak", "", "日本語 🙂", "crlf\r\nx"]
        let specials: [Double] = [.nan, .infinity, -.infinity, -0.0, 0.1, 1e300, .leastNonzeroMagnitude]
        var ids: [Int64] = [], stamps: [Int64] = [], created: [Int64] = [], scores: [Double] = []
        var ratios: [Float] = [], flags: [Bool] = [], trips: [Int32] = [], days: [Int32] = []
        var text = ByteArrayColumn()
        var validity: [[Bool]] = Array(repeating: [], count: fields.count)
        for row in 0 ..< rows {
            let start: Int64 = 1_704_067_200_000_000_000  // 2024-01-01T00:00:00Z
            ids.append(Int64(row) * 7 - 1000)
            stamps.append(start + Int64(row) * 60_000_000_000 + Int64(generator.next() % 1_000_000_000))
            created.append(start + Int64(row) * 61_000_000_000 + Int64(generator.next() % 1000) * 1000)
            scores.append(row % 11 == 0 ? specials[(row / 11) % specials.count] : Double(bitPattern: generator.next() >> 2))
            ratios.append(Float(Int64(generator.next() % 2_000_001) - 1_000_000) / 3)
            flags.append(generator.next() % 2 == 0)
            text.append(Array(names[row % names.count].utf8))
            trips.append(Int32(truncatingIfNeeded: generator.next()))
            days.append(Int32(row) - 500)
            for c in fields.indices {
                // id and event_timestamp are never null; others are null now and then.
                validity[c].append(c < 2 || (row + c) % 13 != 0)
            }
        }
        let values: [ColumnValues] = [.int64(ids), .int64(stamps), .int64(created), .double(scores), .float(ratios),
                                      .boolean(flags), .byteArray(text), .int32(trips), .int32(days)]
        let columns = fields.indices.map { c in
            ColumnData(type: fields[c].type, values: values[c], validity: validity[c].contains(false) ? validity[c] : nil)
        }
        return ColumnBatch(fields: fields, columns: columns, rowCount: rows)
    }

    func writeCSV(_ batch: ColumnBatch, to path: String) throws {
        let writer = RowTextWriter(format: .csv, fields: batch.fields)
        var out: [UInt8] = []
        writer.appendHeader(to: &out)
        for row in 0 ..< batch.rowCount { writer.appendRow(batch, row: row, to: &out) }
        try Data(out).write(to: URL(fileURLWithPath: path))
    }

    func testParquetWriterAndCSVTextReadToEqualBatches() throws {
        let table = Self.table(rows: 1000)
        let parquetPath = directory.appendingPathComponent("t.parquet").path
        let csvPath = directory.appendingPathComponent("t.csv").path
        try ParquetWriter.write([table], to: parquetPath, options: ParquetWriterOptions(maxRowsPerRowGroup: 100))
        try writeCSV(table, to: csvPath)

        let parquet = try TabularSource(path: parquetPath)
        var options = CSVOptions(schema: Self.fields)
        options.batchSize = 64
        options.blockSize = 4096
        let csv = try TabularSource(path: csvPath, csvOptions: options)
        XCTAssertEqual(parquet.schema.map(\.type), Self.fields.map(\.type))
        XCTAssertEqual(csv.schema.map(\.type), Self.fields.map(\.type))

        let fromParquet = try parquet.readAll(), fromCSV = try csv.readAll()
        XCTAssertEqual(fromParquet.count, 10, "one batch per row group")
        for field in Self.fields {
            let expected = exactValues([table], field.name)
            XCTAssertEqual(exactValues(fromParquet, field.name), expected, "parquet \(field.name)")
            XCTAssertEqual(exactValues(fromCSV, field.name), expected, "csv \(field.name)")
        }

        guard case .int64(let stamps) = table.columns[1].values else { return XCTFail("timestamps") }
        let filter = TimeFilter(column: "event_timestamp", range: stamps[250] ... stamps[420])
        let parquetRange = try parquet.readAll(columns: ["id", "name"], timeFilter: filter)
        let csvRange = try csv.readAll(columns: ["id", "name"], timeFilter: filter)
        XCTAssertEqual(parquetRange.count, 3, "row groups 2, 3 and 4 only")
        let expectedIDs = (250 ... 420).map { "\(Int64($0) * 7 - 1000)" }
        XCTAssertEqual(exactValues(parquetRange, "id"), expectedIDs)
        XCTAssertEqual(exactValues(csvRange, "id"), expectedIDs)
        XCTAssertEqual(exactValues(csvRange, "name"), exactValues(parquetRange, "name"))
    }

    func testParquetFilesOfWiderTypesAreUnified() throws {
        let narrow = ColumnBatch(fields: [Field(name: "n", type: .int32), Field(name: "x", type: .float)],
                                 columns: [ColumnData(type: .int32, values: .int32([1, -2])),
                                           ColumnData(type: .float, values: .float([0.5, 1.5]))], rowCount: 2)
        let wide = ColumnBatch(fields: [Field(name: "n", type: .int64)],
                               columns: [ColumnData(type: .int64, values: .int64([Int64(Int32.max) + 1]))], rowCount: 1)
        try ParquetWriter.write([narrow], to: directory.appendingPathComponent("a.parquet").path)
        try ParquetWriter.write([wide], to: directory.appendingPathComponent("b.parquet").path)
        let source = try TabularSource(path: directory.path)
        XCTAssertEqual(source.schema.map(\.type), [.int64, .float])
        let batches = try source.readAll()
        XCTAssertEqual(exactValues(batches, "n"), ["1", "-2", "2147483648"])
        XCTAssertEqual(values(batches, "x"), [Float(0.5), Float(1.5), nil], "a column missing from a file reads as nulls")
    }
}

/// Deterministic 64-bit generator (SplitMix64), so failures reproduce.
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
