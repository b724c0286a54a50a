import Foundation
import XCTest
@testable import LarderParquet

/// Streaming API: statistics, time-range pruning, page walking, multi-file datasets, inspector.
final class ReaderAPITests: XCTestCase {
    func testRowGroupStatisticsMatchTheFooter() throws {
        let name = "pa_multi_rg.parquet"
        let expected = try Fixtures.expected(name)
        let file = try ParquetFile(path: Fixtures.url(name).path)
        let groups = expected["row_groups"]?.array ?? []
        XCTAssertEqual(groups.count, 4)
        for (g, rg) in groups.enumerated() {
            let ts = rg["columns"]?.array?.first { $0["path"]?.string == "event_timestamp" }
            let st = try XCTUnwrap(file.statistics(rowGroup: g, column: "event_timestamp"))
            // Stored in µs; the reader reports nanoseconds.
            XCTAssertEqual(st.min, .int(try XCTUnwrap(ts?["statistics"]?["min"]?.int) * 1000))
            XCTAssertEqual(st.max, .int(try XCTUnwrap(ts?["statistics"]?["max"]?.int) * 1000))
            XCTAssertEqual(st.nullCount, 0)
        }
    }

    func testTimeRangeTouchesOnlyOverlappingRowGroups() throws {
        let file = try ParquetFile(path: Fixtures.url("pa_multi_rg.parquet").path)
        // Second row group of the spec example: starts at 1704154758411521 µs.
        let day2 = Int64(1_704_154_758_411_521) * 1000
        let g1 = try XCTUnwrap(file.statistics(rowGroup: 1, column: "event_timestamp"))
        guard case .int(let hi1)? = g1.max else { return XCTFail("no max") }
        XCTAssertEqual(file.rowGroups(timeColumn: "event_timestamp", within: day2...hi1), [1])
        XCTAssertEqual(file.rowGroups(timeColumn: "event_timestamp", within: 0...1), [])
        XCTAssertEqual(file.rowGroups(timeColumn: "event_timestamp", within: Int64.min...Int64.max), [0, 1, 2, 3])
        var rows = 0
        try file.forEachBatch(columns: ["event_timestamp"], timeColumn: "event_timestamp", timeRange: day2...hi1) { batch in
            rows += batch.rowCount
            guard case .int64(let ts)? = batch["event_timestamp"]?.values else { return XCTFail("not int64") }
            XCTAssertTrue(ts.allSatisfy { $0 >= day2 && $0 <= hi1 })
        }
        XCTAssertEqual(rows, file.rowGroupRowCount(1))
    }

    func testPageWalkMatchesTheReferenceForEveryValidFixture() throws {
        for name in Fixtures.all where !name.hasPrefix("broken_") && name != "pa_brotli.parquet" {
            let expected = try Fixtures.expected(name)
            let file = try ParquetFile(path: Fixtures.url(name).path)
            for (g, rg) in (expected["row_groups"]?.array ?? []).enumerated() {
                for (leaf, column) in (rg["columns"]?.array ?? []).enumerated() {
                    let want = (column["pages"]?.array ?? []).map { p -> String in
                        let a = p.array ?? []
                        return "\(a[0].string ?? "?")/\(a[1].string ?? "-"):\(a[2].int ?? -1)"
                    }
                    let got = try file.pageSummaries(rowGroup: g, leaf: leaf).map {
                        "\(ParquetNames.pageType($0.type))/\($0.encoding.map(ParquetNames.encoding) ?? "-"):\($0.numValues)"
                    }
                    XCTAssertEqual(got, want, "\(name) row group \(g) leaf \(leaf)")
                }
            }
        }
    }

    func testParallelDecodeGivesTheSameBatch() throws {
        let file = try ParquetFile(path: Fixtures.url("pa_v1_snappy.parquet").path)
        let one = try file.readRowGroup(0)
        let two = try file.readRowGroup(0, threads: 2)
        XCTAssertEqual(one.fields, two.fields)
        for (a, b) in zip(one.columns, two.columns) {
            XCTAssertEqual(a.type, b.type)
            XCTAssertEqual(a.validity, b.validity)
        }
    }

    /// A row selection skips the data pages of flat nullable columns that hold none of the
    /// selected rows (their rows read as null) and leaves the selected rows, required columns and
    /// list columns as a full read has them; with or without dictionaries, v1 pages.
    func testRowSelectionSkipsPagesWithoutSelectedRows() throws {
        let dir = try tempDir()
        let n = 1000
        let fields = [Field(name: "i", type: .int64), Field(name: "d", type: .double), Field(name: "s", type: .string),
                      Field(name: "req", type: .int64, nullable: false), Field(name: "l", type: .list(.int32))]
        var text = ByteArrayColumn()
        for r in 0 ..< n { text.append(Array("v\(r % 37)".utf8)) }
        let batch = ColumnBatch(fields: fields, columns: [
            ColumnData(type: .int64, values: .int64((0 ..< n).map { Int64($0) * -3 }), validity: (0 ..< n).map { $0 % 7 != 0 }),
            ColumnData(type: .double, values: .double((0 ..< n).map { Double($0) / 4 })),
            ColumnData(type: .string, values: .byteArray(text)),
            ColumnData(type: .int64, values: .int64((0 ..< n).map { Int64($0) })),
            ColumnData(type: .list(.int32), values: .list(ListColumn(offsets: (0 ... n).map { Int32($0) },
                                                                     elements: ColumnData(type: .int32, values: .int32((0 ..< n).map { Int32($0) }))))),
        ], rowCount: n)
        for (name, options) in [("dict", ParquetWriterOptions(maxRowsPerPage: 100)),
                                ("plain", ParquetWriterOptions(useDictionary: false, maxRowsPerPage: 100))] {
            let path = dir.appendingPathComponent("\(name).parquet").path
            try ParquetWriter.write([batch], to: path, options: options)
            let file = try ParquetFile(path: path)
            let full = try file.readRowGroup(0)
            let selected = [7, 5, 550, 999, 5]  // any order, duplicates allowed
            let partial = try file.readRowGroup(0, threads: 2, selection: RowSelection(rows: selected))
            XCTAssertEqual(RowSelection(rows: selected).rows, [5, 7, 550, 999])
            for c in ["i", "d", "s", "req", "l"] {
                let a = try XCTUnwrap(full[c]), b = try XCTUnwrap(partial[c])
                for r in selected {
                    XCTAssertEqual(a.isNull(r), b.isNull(r), "\(name) \(c) row \(r)")
                    XCTAssertEqual(cell(a, r), cell(b, r), "\(name) \(c) row \(r)")
                }
            }
            // Pages 1-4 and 6-8 (rows 100-499, 600-899) hold no selected row: their rows read as
            // zero values in the flat nullable columns, the others as a full read has them; the
            // required and the list column are read whole.
            let zero: [String: String] = ["i": "0", "d": "0.0", "s": ""]
            for c in ["i", "d", "s"] {
                let a = try XCTUnwrap(full[c]), b = try XCTUnwrap(partial[c])
                for r in 0 ..< n {
                    let skipped = (100 ..< 500).contains(r) || (600 ..< 900).contains(r)
                    XCTAssertEqual(cell(b, r), skipped ? zero[c] : cell(a, r), "\(name) \(c) row \(r)")
                }
            }
            for c in ["req", "l"] {
                let a = try XCTUnwrap(full[c]), b = try XCTUnwrap(partial[c])
                XCTAssertEqual((0 ..< n).map { cell(a, $0) }, (0 ..< n).map { cell(b, $0) }, "\(name) \(c)")
            }
        }
    }

    /// One cell as text (nil for null), lists as their elements.
    private func cell(_ column: ColumnData, _ r: Int) -> String? {
        if column.isNull(r) { return nil }
        switch column.values {
        case .int64(let v): return "\(v[r])"
        case .int32(let v): return "\(v[r])"
        case .double(let v): return "\(v[r])"
        case .byteArray(let v): return v.string(at: r)
        case .list(let list):
            return (Int(list.offsets[r]) ..< Int(list.offsets[r + 1])).map { cell(list.elements, $0) ?? "null" }.joined(separator: ",")
        default: return "?"
        }
    }

    private func tempDir() throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("larder-pq-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
        return dir
    }

    func testDirectoryDatasetUnifiesSchemasAndFillsMissingColumnsWithNulls() throws {
        let dir = try tempDir()
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("part=1"), withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: Fixtures.url("pa_v1_snappy.parquet"), to: dir.appendingPathComponent("a.parquet"))
        try FileManager.default.copyItem(at: Fixtures.url("pa_all_nulls.parquet"), to: dir.appendingPathComponent("part=1/b.parquet"))
        try Data("ignored".utf8).write(to: dir.appendingPathComponent("_SUCCESS"))
        let ds = try ParquetDataset(path: dir.path)
        XCTAssertEqual(ds.files.count, 2)
        XCTAssertEqual(ds.fields.first { $0.name == "i64" }?.type, .int64)
        XCTAssertEqual(ds.fields.first { $0.name == "nothing" }?.type, .null)
        var batches: [ColumnBatch] = []
        try ds.forEachBatch(columns: ["i64", "name"]) { batches.append($0) }
        XCTAssertEqual(batches.count, 2)
        let second = batches[1]
        XCTAssertEqual(second["name"]?.type, .string)
        XCTAssertEqual(second["name"]?.nullCount, second.rowCount)
        XCTAssertEqual(second["i64"]?.nullCount, second.rowCount)
        let names = try Fixtures.expected("pa_v1_snappy.parquet")["values"]?["name"]?.array ?? []
        XCTAssertEqual(batches[0]["name"]?.nullCount, names.filter { $0 == .null }.count)
        XCTAssertEqual(batches[0].rowCount, names.count)
    }

    func testGlobDatasetAndConflictingTypes() throws {
        let dir = try tempDir()
        try FileManager.default.copyItem(at: Fixtures.url("pa_v1_snappy.parquet"), to: dir.appendingPathComponent("x1.parquet"))
        try FileManager.default.copyItem(at: Fixtures.url("pa_v1_zstd.parquet"), to: dir.appendingPathComponent("x2.parquet"))
        let ds = try ParquetDataset(path: dir.path + "/x*.parquet")
        XCTAssertEqual(ds.numRows, 400)
        // pandas wrote i32 as DOUBLE: unifying it with INT32 must fail clearly.
        try FileManager.default.copyItem(at: Fixtures.url("pandas_rangeindex.parquet"), to: dir.appendingPathComponent("x3.parquet"))
        XCTAssertThrowsError(try ParquetDataset(path: dir.path + "/x*.parquet")) { error in
            XCTAssertEqual((error as? ParquetError)?.kind, .schemaConflict)
            XCTAssertEqual((error as? ParquetError)?.column, "i32")
        }
        XCTAssertThrowsError(try ParquetDataset(path: dir.path + "/nothing*.parquet")) { error in
            XCTAssertEqual((error as? ParquetError)?.kind, .io)
        }
    }

    func testInspectorDescribesSchemaRowGroupsAndStatistics() throws {
        let text = try ParquetInspector.describe(path: Fixtures.url("pa_multi_rg.parquet").path, pages: true)
        XCTAssertTrue(text.contains("row groups: 4"), text)
        XCTAssertTrue(text.contains("event_timestamp: timestamp[us, UTC]"), "the unit as stored (micros), not as read: " + text)
        XCTAssertTrue(text.contains("SNAPPY"), text)
        XCTAssertTrue(text.contains("RLE_DICTIONARY"), text)
        XCTAssertTrue(text.contains("min=1704067527741616000"), text)
        XCTAssertTrue(text.contains("emb: list<float>"), text)
        XCTAssertTrue(text.contains("DICTIONARY_PAGE/PLAIN"), text)
    }

    /// Timestamp units as the file stores them; statistics bounds through `valueText`.
    func testInspectorShowsStoredUnitsAndRendersTimestampStatistics() throws {
        let duck = try ParquetInspector.describe(path: Fixtures.url("duckdb_default.parquet").path)
        for column in ["ts_ns: timestamp[ns]", "ts_ms: timestamp[ms]", "ts_ns_utc: timestamp[ns, UTC]"] {
            XCTAssertTrue(duck.contains("  " + column), column + " in " + duck)
        }
        var seen: [(Int64, ColumnType)] = []
        let text = try ParquetInspector.describe(path: Fixtures.url("pa_multi_rg.parquet").path) { value, type in
            seen.append((value, type))
            return "T\(value)"
        }
        XCTAssertTrue(text.contains("stats{min=T1704067527741616000 "), text)
        XCTAssertTrue(seen.allSatisfy { if case .timestamp = $0.1 { return true } else { return $0.1 == .date } }, "\(seen)")
    }
}
