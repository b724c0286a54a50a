import Foundation
import XCTest
@testable import LarderParquet

/// A JSON value decoded without going through Double, so Int64 extremes stay exact.
enum JSONValue: Decodable, Equatable {
    case null, bool(Bool), int(Int64), double(Double), string(String)
    case array([JSONValue]), object([String: JSONValue])

    init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() { self = .null }
        else if let b = try? c.decode(Bool.self) { self = .bool(b) }
        else if let i = try? c.decode(Int64.self) {
            // "-0.0" also decodes as the integer 0; keep its sign.
            if i == 0, let d = try? c.decode(Double.self), d.sign == .minus { self = .double(d) } else { self = .int(i) }
        }
        else if let d = try? c.decode(Double.self) { self = .double(d) }
        else if let s = try? c.decode(String.self) { self = .string(s) }
        else if let a = try? c.decode([JSONValue].self) { self = .array(a) }
        else { self = .object(try c.decode([String: JSONValue].self)) }
    }

    subscript(key: String) -> JSONValue? {
        if case .object(let o) = self { return o[key] }
        return nil
    }
    var array: [JSONValue]? { if case .array(let a) = self { return a }; return nil }
    var string: String? { if case .string(let s) = self { return s }; return nil }
    var int: Int64? { if case .int(let i) = self { return i }; return nil }
}

enum Fixtures {
    static var directory: URL {
        Bundle.module.url(forResource: "Fixtures", withExtension: nil)!
    }

    static func url(_ name: String) -> URL { directory.appendingPathComponent(name) }

    static func expected(_ parquetName: String) throws -> JSONValue {
        let base = parquetName.replacingOccurrences(of: ".parquet", with: "")
        let data = try Data(contentsOf: url(base + ".expected.json"))
        return try JSONDecoder().decode(JSONValue.self, from: data)
    }

    static var all: [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        return names.filter { $0.hasSuffix(".parquet") }.sorted()
    }
}

/// Nanoseconds per stored unit of a timestamp leaf, from the expected.json leaf description.
func nanosPerStoredUnit(_ leaf: JSONValue) -> Int64 {
    let logical = leaf["logical_type"]?.string ?? ""
    if logical.contains("milliseconds") { return 1_000_000 }
    if logical.contains("microseconds") { return 1_000 }
    if logical.contains("nanoseconds") { return 1 }
    switch leaf["converted_type"]?.string {
    case "TIMESTAMP_MILLIS": return 1_000_000
    case "TIMESTAMP_MICROS": return 1_000
    default: return 1  // INT96 values are given in nanoseconds
    }
}

/// Compares row `row` of `column` with the expected JSON value; returns a mismatch description.
func mismatch(_ column: ColumnData, row: Int, expected: JSONValue, timestampScale: Int64) -> String? {
    if expected == .null {
        return column.isNull(row) ? nil : "expected null, got a value"
    }
    if column.isNull(row) { return "expected \(expected), got null" }
    switch (column.type, column.values) {
    case (.boolean, .boolean(let v)):
        return expected == .bool(v[row]) ? nil : "expected \(expected), got \(v[row])"
    case (_, .int32(let v)):
        return expected == .int(Int64(v[row])) ? nil : "expected \(expected), got \(v[row])"
    case (.timestamp, .int64(let v)):
        guard let raw = expected.int else { return "expected \(expected), got timestamp \(v[row])" }
        return raw * timestampScale == v[row] ? nil : "expected \(raw) x \(timestampScale) ns, got \(v[row])"
    case (_, .int64(let v)):
        return expected == .int(v[row]) ? nil : "expected \(expected), got \(v[row])"
    case (_, .float(let v)):
        guard let want = floatValue(expected).map(Float.init) else { return "expected \(expected), got \(v[row])" }
        return sameFloat(Double(want), Double(v[row])) ? nil : "expected \(want), got \(v[row])"
    case (_, .double(let v)):
        guard let want = floatValue(expected) else { return "expected \(expected), got \(v[row])" }
        return sameFloat(want, v[row]) ? nil : "expected \(want), got \(v[row])"
    case (.string, .byteArray(let v)):
        return expected == .string(v.string(at: row)) ? nil : "expected \(expected), got \(v.string(at: row))"
    case (.binary, .byteArray(let v)):
        guard let s = expected.string, let data = Data(base64Encoded: s) else { return "expected \(expected), got binary" }
        return Array(data) == Array(v.value(at: row)) ? nil : "expected \(Array(data)), got \(Array(v.value(at: row)))"
    case (.list, .list(let list)):
        guard let items = expected.array else { return "expected \(expected), got a list" }
        let a = Int(list.offsets[row]), b = Int(list.offsets[row + 1])
        guard b - a == items.count else { return "expected \(items.count) elements, got \(b - a)" }
        for (k, item) in items.enumerated() {
            if let m = mismatch(list.elements, row: a + k, expected: item, timestampScale: timestampScale) {
                return "element \(k): \(m)"
            }
        }
        return nil
    default:
        return "unexpected column type \(column.type) for \(expected)"
    }
}

func floatValue(_ v: JSONValue) -> Double? {
    switch v {
    case .int(let i): return Double(i)
    case .double(let d): return d
    case .string("NaN"): return .nan
    case .string("Infinity"): return .infinity
    case .string("-Infinity"): return -.infinity
    default: return nil
    }
}

func sameFloat(_ a: Double, _ b: Double) -> Bool {
    if a.isNaN || b.isNaN { return a.isNaN && b.isNaN }
    return a == b && a.sign == b.sign
}
