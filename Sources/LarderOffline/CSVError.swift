// Every failure of the CSV reader is a `CSVError`: a machine-checkable `kind` plus the
// file, the physical line (1-based, the header is line 1) and, where one applies, the
// column, so a message reads like `data.csv:17: column "trips": "abc" is not an int64`.

public struct CSVError: Error, Equatable, CustomStringConvertible, Sendable {
    public enum Kind: Equatable, Sendable {
        /// Opening or reading the file failed.
        case io(String)
        /// The file has no header row.
        case emptyFile
        /// A quoted field was still open at end of input.
        case unterminatedQuote
        /// A closing quote was followed by something other than a delimiter or line end.
        case unexpectedCharacterAfterQuote(UInt8)
        /// A record has a different number of fields from the header.
        case wrongFieldCount(expected: Int, found: Int)
        /// A value does not parse as the column's type.
        case invalidValue(value: String, type: String)
        /// The header names the same column twice.
        case duplicateColumn(String)
        /// A declared or selected column is not in the header.
        case unknownColumn(String)
        /// A declared type the CSV reader cannot produce.
        case unsupportedType(String)
        /// The text of one column in one batch exceeds the 2 GiB the column model addresses.
        case batchTooLarge
    }

    public var kind: Kind
    public var file: String
    /// Physical line where the problem is (0 when not about a line, e.g. I/O).
    public var line: Int
    /// Column name when known, else nil.
    public var column: String?
    /// 1-based field position within the record, when known.
    public var fieldNumber: Int?

    public init(_ kind: Kind, file: String, line: Int, column: String? = nil, fieldNumber: Int? = nil) {
        self.kind = kind
        self.file = file
        self.line = line
        self.column = column
        self.fieldNumber = fieldNumber
    }

    public var description: String {
        var text = line > 0 ? "\(file):\(line): " : "\(file): "
        if let column {
            text += "column \"\(column)\": "
        } else if let fieldNumber {
            text += "field \(fieldNumber): "
        }
        switch kind {
        case .io(let message):
            text += message
        case .emptyFile:
            text += "empty file, expected a header row"
        case .unterminatedQuote:
            text += "unterminated quoted field (opened on this line) at end of file"
        case .unexpectedCharacterAfterQuote(let byte):
            text += "unexpected \(CSVError.describe(byte: byte)) after closing quote (a quote inside a quoted field must be doubled)"
        case .wrongFieldCount(let expected, let found):
            text += "expected \(expected) fields (as in the header), found \(found)"
        case .invalidValue(let value, let type):
            text += "\"\(value)\" is not \(CSVError.article(type)) \(type)"
        case .duplicateColumn(let name):
            text += "duplicate column name \"\(name)\" in header"
        case .unknownColumn(let name):
            text += "no column named \"\(name)\" in header"
        case .unsupportedType(let type):
            text += "type \(type) is not supported for CSV columns"
        case .batchTooLarge:
            text += "more than 2 GiB of text in one batch; use a smaller batch size"
        }
        return text
    }

    static func describe(byte: UInt8) -> String {
        if byte >= 0x20 && byte < 0x7F { return "character '\(Character(Unicode.Scalar(byte)))'" }
        return "byte 0x" + String(byte, radix: 16)
    }

    static func article(_ word: String) -> String {
        guard let first = word.first else { return "a" }
        return "aeio".contains(first) ? "an" : "a"
    }
}
