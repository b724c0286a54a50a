import XCTest
import Foundation
import LarderParquet
@testable import LarderOffline

/// Every malformed input is a CSVError naming the file, the line and, where it applies,
/// the column.
final class CSVErrorTests: XCTestCase {
    func testValueNotOfDeclaredType() {
        let error = csvError {
            _ = try readCSV("id,trips\n1,3\n2,abc\n", options: CSVOptions(columnTypes: ["trips": .int64]))
        }
        XCTAssertEqual(error?.kind, .invalidValue(value: "abc", type: "int64"))
        XCTAssertEqual(error?.line, 3)
        XCTAssertEqual(error?.column, "trips")
        XCTAssertEqual(error?.description, "data.csv:3: column \"trips\": \"abc\" is not an int64")
    }

    func testIntegerOverflowAndFloatAndBoolMisfits() {
        let cases: [(String, ColumnType, String)] = [
            ("9223372036854775808", .int64, "\"9223372036854775808\" is not an int64"),
            ("3000000000", .int32, "\"3000000000\" is not an int32"),
            ("1.2.3", .double, "\"1.2.3\" is not a float64"),
            ("yes", .boolean, "\"yes\" is not a bool"),
        ]
        for (value, type, message) in cases {
            let error = csvError { _ = try readCSV("v\n\(value)\n", options: CSVOptions(columnTypes: ["v": type])) }
            XCTAssertEqual(error?.description, "data.csv:2: column \"v\": " + message)
        }
    }

    func testUnterminatedQuoteAtEndOfFileNamesTheLineWhereItOpened() {
        for blockSize in [2, 1 << 20] {
            var options = allStrings(["a", "b"])
            options.blockSize = blockSize
            let error = csvError { _ = try readCSV("a,b\n1,x\n2,\"open\nstill open\n", options: options) }
            XCTAssertEqual(error?.kind, .unterminatedQuote)
            XCTAssertEqual(error?.line, 3)
            XCTAssertEqual(error?.column, "b")
            XCTAssertEqual(error?.description,
                           "data.csv:3: column \"b\": unterminated quoted field (opened on this line) at end of file")
        }
    }

    func testWrongNumberOfFields() {
        let error = csvError { _ = try readCSV("a,b,c\n1,2,3\n4,5\n") }
        XCTAssertEqual(error?.kind, .wrongFieldCount(expected: 3, found: 2))
        XCTAssertEqual(error?.description, "data.csv:3: expected 3 fields (as in the header), found 2")
        let tooMany = csvError { _ = try readCSV("a,b\n1,2,3\n") }
        XCTAssertEqual(tooMany?.kind, .wrongFieldCount(expected: 2, found: 3))
    }

    func testCharacterAfterClosingQuote() {
        let error = csvError { _ = try readCSV("a,b\n1,\"x\"y\n", options: allStrings(["a", "b"])) }
        XCTAssertEqual(error?.kind, .unexpectedCharacterAfterQuote(UInt8(ascii: "y")))
        XCTAssertEqual(error?.line, 2)
        XCTAssertEqual(error?.column, "b")
    }

    func testHeaderProblems() {
        XCTAssertEqual(csvError { _ = try readCSV("") }?.kind, .emptyFile)
        XCTAssertEqual(csvError { _ = try readCSV("\n\n") }?.kind, .emptyFile)
        let duplicate = csvError { _ = try readCSV("a,b,a\n1,2,3\n") }
        XCTAssertEqual(duplicate?.description, "data.csv:1: field 3: duplicate column name \"a\" in header")
        XCTAssertEqual(csvError { _ = try readCSV("a\n1\n", columns: ["z"]) }?.kind, .unknownColumn("z"))
        XCTAssertEqual(csvError { _ = try readCSV("a\n1\n", options: CSVOptions(columnTypes: ["q": .int64])) }?.kind,
                       .unknownColumn("q"))
    }

    func testUnnamedHeaderColumnsGetPositionalNames() throws {
        let reader = try CSVReader(bytes: Array(",x\n0,1\n".utf8), name: "data.csv")
        XCTAssertEqual(reader.schema.map(\.name), ["column_1", "x"])
    }

    func testMissingFileIsAnIOError() {
        let error = csvError { _ = try CSVReader(path: "/nonexistent/dir/data.csv") }
        XCTAssertEqual(error?.description, "/nonexistent/dir/data.csv: cannot open: No such file or directory")
    }

    func testProjectionSelectsAndOrdersColumns() throws {
        let batches = try readCSV("a,b,c\n1,x,true\n", columns: ["c", "a"])
        XCTAssertEqual(batches[0].fields.map(\.name), ["c", "a"])
        XCTAssertEqual(values(batches, "c"), [true])
        XCTAssertEqual(values(batches, "a"), [Int64(1)])
        XCTAssertNil(batches[0]["b"])
    }

    func testReadsFromAFileOnDisk() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("larder-csv-\(UUID().uuidString).csv")
        try Data("a,b\n1,x\n2,y\n".utf8).write(to: url)
        defer { try? FileManager.default.removeItem(at: url) }
        let reader = try CSVReader(path: url.path)
        XCTAssertEqual(values(try reader.readAll(), "a"), [Int64(1), Int64(2)])
        XCTAssertEqual(try CSVReader.countRows(path: url.path), 2)
    }
}
