import XCTest
import Foundation
import LarderParquet
@testable import LarderOffline

// Helpers that turn CSV text into batches and batches into plain Swift values, so that the
// tests state expected rows literally.

func readCSV(_ text: String, name: String = "data.csv", columns: [String]? = nil,
             options: CSVOptions = CSVOptions()) throws -> [ColumnBatch] {
    let reader = try CSVReader(bytes: Array(text.utf8), name: name, columns: columns, options: options)
    return try reader.readAll()
}

/// The error thrown by `body`, which must be a CSVError.
func csvError(_ body: () throws -> Void, file: StaticString = #filePath, line: UInt = #line) -> CSVError? {
    do {
        try body()
        XCTFail("expected a CSVError, nothing was thrown", file: file, line: line)
    } catch let error as CSVError {
        return error
    } catch {
        XCTFail("expected a CSVError, got \(error)", file: file, line: line)
    }
    return nil
}

/// Every row of column `name` across batches, rendered as optional Swift values.
func values(_ batches: [ColumnBatch], _ name: String) -> [AnyHashable?] {
    var out: [AnyHashable?] = []
    for batch in batches {
        guard let column = batch[name] else { continue }
        for row in 0 ..< batch.rowCount {
            out.append(column.isNull(row) ? nil : value(column, row))
        }
    }
    return out
}

func value(_ column: ColumnData, _ row: Int) -> AnyHashable? {
    switch column.values {
    case .boolean(let v): return v[row]
    case .int32(let v): return v[row]
    case .int64(let v): return v[row]
    case .float(let v): return v[row]
    case .double(let v): return v[row]
    case .byteArray(let v): return v.string(at: row)
    case .null: return nil
    case .list(let list):
        let range = Int(list.offsets[row]) ..< Int(list.offsets[row + 1])
        return range.map { value(list.elements, $0) } as [AnyHashable?]
    }
}

func strings(_ batches: [ColumnBatch], _ name: String) -> [String?] {
    values(batches, name).map { $0.map { "\($0)" } }
}

func schemaTypes(_ reader: CSVReader) -> [String: ColumnType] {
    Dictionary(uniqueKeysWithValues: reader.schema.map { ($0.name, $0.type) })
}

func allStrings(_ names: [String]) -> CSVOptions {
    CSVOptions(columnTypes: Dictionary(uniqueKeysWithValues: names.map { ($0, ColumnType.string) }))
}

/// Column values as exact text: floating-point values by bit pattern (so NaN equals NaN
/// and -0.0 differs from 0.0), nulls as "null".
func exactValues(_ batches: [ColumnBatch], _ name: String) -> [String] {
    values(batches, name).map { value -> String in
        switch value {
        case nil: return "null"
        case let d as Double: return "double:\(d.bitPattern)"
        case let f as Float: return "float:\(f.bitPattern)"
        case let other?: return "\(other)"
        }
    }
}

/// Path of a file in the test fixtures folder.
func fixturePath(_ name: String) throws -> String {
    let folder = try XCTUnwrap(Bundle.module.resourceURL).appendingPathComponent("Fixtures")
    return folder.appendingPathComponent(name).path
}
