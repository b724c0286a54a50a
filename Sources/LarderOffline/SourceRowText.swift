import LarderParquet

// Rows of column batches as text: JSON Lines or CSV, appended to a byte buffer (what
// `larder cat` prints, and usable for any tabular output). Conventions:
//   * timestamps as ISO 8601: `2024-01-02T03:04:05Z` for UTC-adjusted columns, without the
//     `Z` for naive (wall-clock) ones; fraction digits only as needed (3, 6 or 9);
//   * dates as `2024-01-02`; binary as base64; lists as JSON arrays (in CSV too);
//   * nulls: `null` in JSON, an empty field in CSV (an empty string is written `""`);
//   * NaN and infinities: JSON strings "NaN", "Infinity", "-Infinity"; `nan`, `inf`,
//     `-inf` in CSV (all read back by the CSV reader).

public enum RowTextFormat: String, Sendable, CaseIterable {
    case jsonl
    case csv
}

public struct RowTextWriter {
    public let format: RowTextFormat
    public let fields: [Field]

    public init(format: RowTextFormat, fields: [Field]) {
        self.format = format
        self.fields = fields
    }

    /// The CSV header line (nothing for JSON Lines).
    public func appendHeader(to out: inout [UInt8]) {
        guard format == .csv else { return }
        for (i, field) in fields.enumerated() {
            if i > 0 { out.append(UInt8(ascii: ",")) }
            appendCSVField(Array(field.name.utf8), to: &out)
        }
        out.append(UInt8(ascii: "\n"))
    }

    /// Row `row` of `batch` (whose columns are `fields`, in order) as one line.
    public func appendRow(_ batch: ColumnBatch, row: Int, to out: inout [UInt8]) {
        switch format {
        case .jsonl:
            out.append(UInt8(ascii: "{"))
            for (i, field) in fields.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                appendJSONString(Array(field.name.utf8)[...], to: &out)
                out.append(UInt8(ascii: ":"))
                appendJSONValue(batch.columns[i], row: row, to: &out)
            }
            out.append(UInt8(ascii: "}"))
        case .csv:
            for i in fields.indices {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                let column = batch.columns[i]
                if column.isNull(row) { continue }
                switch column.values {
                case .byteArray(let bytes) where column.type == .string:
                    appendCSVField(bytes.value(at: row), to: &out)
                case .list:
                    var json: [UInt8] = []
                    appendJSONValue(column, row: row, to: &json)
                    appendCSVField(json[...], to: &out)
                case .double(let v): appendCSVFloat(v[row], to: &out)
                case .float(let v): appendCSVFloat(Double(v[row]), text: "\(v[row])", to: &out)
                default: appendScalarText(column, row: row, to: &out)
                }
            }
        }
        out.append(UInt8(ascii: "\n"))
    }

    // MARK: JSON

    private func appendJSONValue(_ column: ColumnData, row: Int, to out: inout [UInt8]) {
        if column.isNull(row) {
            out.append(contentsOf: "null".utf8)
            return
        }
        switch column.values {
        case .byteArray(let bytes):
            if column.type == .string {
                appendJSONString(bytes.value(at: row), to: &out)
            } else {
                out.append(UInt8(ascii: "\""))
                RowTextWriter.appendBase64(bytes.value(at: row), to: &out)
                out.append(UInt8(ascii: "\""))
            }
        case .double(let v): appendJSONFloat(v[row], text: "\(v[row])", to: &out)
        case .float(let v): appendJSONFloat(Double(v[row]), text: "\(v[row])", to: &out)
        case .list(let list):
            out.append(UInt8(ascii: "["))
            let start = Int(list.offsets[row]), end = Int(list.offsets[row + 1])
            for element in start ..< end {
                if element > start { out.append(UInt8(ascii: ",")) }
                appendJSONValue(list.elements, row: element, to: &out)
            }
            out.append(UInt8(ascii: "]"))
        default:
            let quoted: Bool
            switch column.type {
            case .timestamp, .date: quoted = true
            default: quoted = false
            }
            if quoted { out.append(UInt8(ascii: "\"")) }
            appendScalarText(column, row: row, to: &out)
            if quoted { out.append(UInt8(ascii: "\"")) }
        }
    }

    private func appendJSONFloat(_ value: Double, text: String, to out: inout [UInt8]) {
        if value.isNaN {
            out.append(contentsOf: "\"NaN\"".utf8)
        } else if value.isInfinite {
            out.append(contentsOf: (value < 0 ? "\"-Infinity\"" : "\"Infinity\"").utf8)
        } else {
            out.append(contentsOf: text.utf8)
        }
    }

    private func appendJSONString(_ bytes: ArraySlice<UInt8>, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        for byte in bytes {
            switch byte {
            case UInt8(ascii: "\""): out.append(contentsOf: "\\\"".utf8)
            case UInt8(ascii: "\\"): out.append(contentsOf: "\\\\".utf8)
            case UInt8(ascii: "\n"): out.append(contentsOf: "\\n".utf8)
            case UInt8(ascii: "\r"): out.append(contentsOf: "\\r".utf8)
            case UInt8(ascii: "\t"): out.append(contentsOf: "\\t".utf8)
            case 0 ..< 0x20:
                out.append(contentsOf: "\\u00".utf8)
                out.append(RowTextWriter.hexDigits[Int(byte >> 4)])
                out.append(RowTextWriter.hexDigits[Int(byte & 15)])
            default: out.append(byte)
            }
        }
        out.append(UInt8(ascii: "\""))
    }

    // MARK: CSV

    private func appendCSVFloat(_ value: Double, text: String? = nil, to out: inout [UInt8]) {
        if value.isNaN {
            out.append(contentsOf: "nan".utf8)
        } else if value.isInfinite {
            out.append(contentsOf: (value < 0 ? "-inf" : "inf").utf8)
        } else {
            out.append(contentsOf: (text ?? "\(value)").utf8)
        }
    }

    /// A field quoted when it must be: it holds a delimiter, quote or line break, or is
    /// empty (an unquoted empty field would read back as a null).
    private func appendCSVField(_ bytes: ArraySlice<UInt8>, to out: inout [UInt8]) {
        let needsQuotes = bytes.isEmpty || bytes.contains { $0 == UInt8(ascii: ",") || $0 == UInt8(ascii: "\"")
            || $0 == UInt8(ascii: "\n") || $0 == UInt8(ascii: "\r") }
        guard needsQuotes else {
            out.append(contentsOf: bytes)
            return
        }
        out.append(UInt8(ascii: "\""))
        for byte in bytes {
            if byte == UInt8(ascii: "\"") { out.append(byte) }
            out.append(byte)
        }
        out.append(UInt8(ascii: "\""))
    }

    private func appendCSVField(_ bytes: [UInt8], to out: inout [UInt8]) {
        appendCSVField(bytes[...], to: &out)
    }

    // MARK: Scalars

    /// Text of a non-null boolean, integer, date, timestamp or binary value (unquoted).
    private func appendScalarText(_ column: ColumnData, row: Int, to out: inout [UInt8]) {
        switch column.values {
        case .boolean(let v): out.append(contentsOf: (v[row] ? "true" : "false").utf8)
        case .int32(let v):
            if column.type == .date {
                RowTextWriter.appendDate(days: Int64(v[row]), to: &out)
            } else {
                RowTextWriter.appendInteger(Int64(v[row]), to: &out)
            }
        case .int64(let v):
            if case .timestamp(let utc) = column.type {
                RowTextWriter.appendTimestamp(nanoseconds: v[row], utc: utc, to: &out)
            } else {
                RowTextWriter.appendInteger(v[row], to: &out)
            }
        case .byteArray(let bytes): RowTextWriter.appendBase64(bytes.value(at: row), to: &out)
        case .double(let v): out.append(contentsOf: "\(v[row])".utf8)
        case .float(let v): out.append(contentsOf: "\(v[row])".utf8)
        case .null, .list: break
        }
    }

    static let hexDigits = Array("0123456789abcdef".utf8)

    static func appendInteger(_ value: Int64, to out: inout [UInt8]) {
        if value < 0 { out.append(UInt8(ascii: "-")) }
        var magnitude = value.magnitude
        var digits: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
                     UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) =
            (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        var count = 0
        withUnsafeMutableBytes(of: &digits) { buffer in
            repeat {
                buffer[19 - count] = UInt8(truncatingIfNeeded: magnitude % 10) + 48
                magnitude /= 10
                count += 1
            } while magnitude > 0
            out.append(contentsOf: buffer[(20 - count)...])
        }
    }

    static func appendPadded(_ value: Int64, width: Int, to out: inout [UInt8]) {
        var divisor: Int64 = 1
        for _ in 1 ..< width { divisor *= 10 }
        var rest = value
        while divisor > 0 {
            out.append(UInt8(truncatingIfNeeded: (rest / divisor) % 10) + 48)
            rest %= divisor
            divisor /= 10
        }
    }

    static func appendDate(days: Int64, to out: inout [UInt8]) {
        // H. Hinnant's civil_from_days.
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthFromMarch = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * monthFromMarch + 2) / 5 + 1
        let month = monthFromMarch < 10 ? monthFromMarch + 3 : monthFromMarch - 9
        let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        if year < 0 { out.append(UInt8(ascii: "-")) }
        appendPadded(abs(year), width: 4, to: &out)
        out.append(UInt8(ascii: "-"))
        appendPadded(month, width: 2, to: &out)
        out.append(UInt8(ascii: "-"))
        appendPadded(day, width: 2, to: &out)
    }

    static func appendTimestamp(nanoseconds: Int64, utc: Bool, to out: inout [UInt8]) {
        let perDay: Int64 = 86_400_000_000_000
        var days = nanoseconds / perDay
        var rest = nanoseconds % perDay
        if rest < 0 { rest += perDay; days -= 1 }
        appendDate(days: days, to: &out)
        let seconds = rest / 1_000_000_000
        let fraction = rest % 1_000_000_000
        out.append(UInt8(ascii: "T"))
        appendPadded(seconds / 3600, width: 2, to: &out)
        out.append(UInt8(ascii: ":"))
        appendPadded(seconds / 60 % 60, width: 2, to: &out)
        out.append(UInt8(ascii: ":"))
        appendPadded(seconds % 60, width: 2, to: &out)
        if fraction != 0 {
            out.append(UInt8(ascii: "."))
            if fraction % 1_000_000 == 0 {
                appendPadded(fraction / 1_000_000, width: 3, to: &out)
            } else if fraction % 1000 == 0 {
                appendPadded(fraction / 1000, width: 6, to: &out)
            } else {
                appendPadded(fraction, width: 9, to: &out)
            }
        }
        if utc { out.append(UInt8(ascii: "Z")) }
    }

    private static let base64Alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    static func appendBase64(_ bytes: ArraySlice<UInt8>, to out: inout [UInt8]) {
        var i = bytes.startIndex
        while i < bytes.endIndex {
            let remaining = bytes.endIndex - i
            let b0 = UInt32(bytes[i])
            let b1 = remaining > 1 ? UInt32(bytes[i + 1]) : 0
            let b2 = remaining > 2 ? UInt32(bytes[i + 2]) : 0
            let triple = b0 << 16 | b1 << 8 | b2
            out.append(base64Alphabet[Int(triple >> 18 & 63)])
            out.append(base64Alphabet[Int(triple >> 12 & 63)])
            out.append(remaining > 1 ? base64Alphabet[Int(triple >> 6 & 63)] : UInt8(ascii: "="))
            out.append(remaining > 2 ? base64Alphabet[Int(triple & 63)] : UInt8(ascii: "="))
            i += 3
        }
    }
}
