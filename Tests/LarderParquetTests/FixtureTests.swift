import Foundation
import XCTest
@testable import LarderParquet

/// Every committed fixture: valid files decode to exactly the values pyarrow (or DuckDB)
/// produced; broken files fail with the error kind named in their expected.json.
final class FixtureTests: XCTestCase {
    /// Valid files that use features outside the supported subset, and how they must fail.
    static let rejectedValidFiles: [String: ParquetError.Kind] = [
        "pa_brotli.parquet": .unsupportedCodec,
    ]

    func testFixturesArePresent() {
        XCTAssertEqual(Fixtures.all.count, 48)
    }

    func testEveryValidFixtureDecodesToItsExpectedValues() throws {
        var checked = 0
        for name in Fixtures.all where !name.hasPrefix("broken_") && Self.rejectedValidFiles[name] == nil {
            let expected = try Fixtures.expected(name)
            try checkValues(name, expected)
            checked += 1
        }
        XCTAssertEqual(checked, 38)
    }

    private func checkValues(_ name: String, _ expected: JSONValue) throws {
        let file = try ParquetFile(path: Fixtures.url(name).path)
        XCTAssertEqual(Int64(file.numRows), expected["num_rows"]?.int, name)
        XCTAssertEqual(Int64(file.rowGroupCount), expected["num_row_groups"]?.int, name)
        guard case .object(let values)? = expected["values"] else { return XCTFail("\(name): no values") }
        let leaves = expected["leaf_columns"]?.array ?? []
        let unsupportedTop = Set(leaves.filter { $0["pqref_kind"]?.string == "unsupported" }
            .compactMap { $0["path"]?.string?.split(separator: ".").first.map(String.init) })
        let readable = values.keys.filter { !unsupportedTop.contains($0) }.sorted()
        XCTAssertFalse(readable.isEmpty, name)
        var rowBase = 0
        for g in 0..<file.rowGroupCount {
            let batch = try file.readRowGroup(g, columns: readable)
            XCTAssertEqual(batch.rowCount, file.rowGroupRowCount(g))
            for column in readable {
                guard let data = batch[column], let want = values[column]?.array else {
                    XCTFail("\(name): column \(column) missing"); continue
                }
                XCTAssertEqual(data.count, batch.rowCount, "\(name).\(column)")
                let leaf = leaves.first { $0["path"]?.string?.split(separator: ".").first.map(String.init) == column }
                let scale = leaf.map(nanosPerStoredUnit) ?? 1
                var failures = 0
                for row in 0..<batch.rowCount {
                    if let m = mismatch(data, row: row, expected: want[rowBase + row], timestampScale: scale) {
                        failures += 1
                        if failures <= 3 { XCTFail("\(name) row group \(g) column \(column) row \(rowBase + row): \(m)") }
                    }
                }
            }
            rowBase += batch.rowCount
        }
        XCTAssertEqual(Int64(rowBase), expected["num_rows"]?.int, name)
        for column in unsupportedTop.sorted() {
            XCTAssertThrowsError(try file.readRowGroup(0, columns: [column]), "\(name).\(column)") { error in
                XCTAssertEqual((error as? ParquetError)?.kind, .unsupportedNested, "\(name).\(column): \(error)")
            }
        }
    }

    func testBrokenAndUnsupportedFixturesFailWithTheirSpecificError() throws {
        var checked = 0
        for name in Fixtures.all {
            let expected = try Fixtures.expected(name)
            let want: ParquetError.Kind
            if let kind = expected["expect_error"]?.string {
                guard let k = ParquetError.Kind(rawValue: kind) else { XCTFail("unknown kind \(kind)"); continue }
                want = k
            } else if let k = Self.rejectedValidFiles[name] {
                want = k
            } else {
                continue
            }
            checked += 1
            do {
                let file = try ParquetFile(path: Fixtures.url(name).path)
                for g in 0..<file.rowGroupCount { _ = try file.readRowGroup(g) }
                XCTFail("\(name): expected \(want), but the file was read")
            } catch let e as ParquetError {
                XCTAssertEqual(e.kind, want, "\(name): \(e)")
                XCTAssertEqual(e.file, Fixtures.url(name).path, "\(name): error should name the file")
                XCTAssertTrue(e.description.contains(name), "\(name): message should name the file: \(e)")
                if [.badPage, .badPageHeader, .crcMismatch, .unsupportedCodec].contains(want) {
                    XCTAssertNotNil(e.rowGroup, "\(name): \(e)")
                    XCTAssertNotNil(e.column, "\(name): \(e)")
                }
            }
        }
        XCTAssertEqual(checked, 10)
    }

    func testPageErrorsNameRowGroupColumnAndWhat() throws {
        let path = Fixtures.url("broken_dict_page_missing.parquet").path
        let file = try ParquetFile(path: path)
        XCTAssertThrowsError(try file.readRowGroup(0, columns: ["driver_id"])) { error in
            let e = error as? ParquetError
            XCTAssertEqual(e?.kind, .badPage)
            XCTAssertEqual(e?.column, "driver_id")
            XCTAssertEqual(e?.rowGroup, 0)
            XCTAssertTrue(e?.detail.contains("without a dictionary page") ?? false, "\(error)")
        }
        let crc = try ParquetFile(path: Fixtures.url("broken_page_crc_mismatch.parquet").path)
        XCTAssertThrowsError(try crc.readRowGroup(0, columns: ["f64"])) { error in
            XCTAssertEqual((error as? ParquetError)?.kind, .crcMismatch)
            XCTAssertEqual((error as? ParquetError)?.column, "f64")
        }
    }

    func testUnsupportedNestedColumnsDoNotBlockOtherColumns() throws {
        let file = try ParquetFile(path: Fixtures.url("pa_nested_unsupported.parquet").path)
        let batch = try file.readRowGroup(0, columns: ["entity_id", "f64"])
        XCTAssertEqual(batch.rowCount, 10)
        XCTAssertEqual(file.fields.map(\.name), ["entity_id", "f64"])
        for column in ["st", "mp", "ll"] {
            XCTAssertThrowsError(try file.readRowGroup(0, columns: [column])) { error in
                XCTAssertEqual((error as? ParquetError)?.kind, .unsupportedNested, "\(error)")
                XCTAssertEqual((error as? ParquetError)?.column, column)
            }
        }
    }

    func testUnknownColumnIsATypedError() throws {
        let file = try ParquetFile(path: Fixtures.url("pa_v1_snappy.parquet").path)
        XCTAssertThrowsError(try file.readRowGroup(0, columns: ["nope"])) { error in
            XCTAssertEqual((error as? ParquetError)?.kind, .columnNotFound)
        }
    }
}

extension FixtureTests {
    /// Prints each rejection message (run with `--filter testPrintRejectionMessages` to review them).
    func testPrintRejectionMessages() throws {
        for name in Fixtures.all where name.hasPrefix("broken_") || Self.rejectedValidFiles[name] != nil {
            do {
                let file = try ParquetFile(path: Fixtures.url(name).path)
                for g in 0..<file.rowGroupCount { _ = try file.readRowGroup(g) }
                XCTFail("\(name) was read")
            } catch let e as ParquetError {
                print("REJECTED \(name): \(e)")
                XCTAssertFalse(e.detail.isEmpty)
            }
        }
    }
}
