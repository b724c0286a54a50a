// Every failure of the Parquet reader and writer is a `ParquetError`: a machine-checkable
// `kind` plus where it happened (file, row group, column, byte offset) and a sentence
// saying what is wrong. Low-level decoders throw with only `kind` and `detail`; the
// layers above fill in the location as the error passes through them.

public struct ParquetError: Error, Equatable, CustomStringConvertible, Sendable {
    public enum Kind: String, Sendable, CaseIterable {
        case io = "io"
        case tooSmall = "too_small"
        case badMagic = "bad_magic"
        case badFooterLength = "bad_footer_len"
        case badFooter = "bad_footer"
        case badSchema = "bad_schema"
        case badPageHeader = "bad_page_header"
        case badPage = "bad_page"
        case crcMismatch = "crc_mismatch"
        case schemaMismatch = "schema_mismatch"
        case unsupportedCodec = "unsupported_codec"
        case unsupportedEncoding = "unsupported_encoding"
        case unsupportedType = "unsupported_type"
        case unsupportedNested = "unsupported_nested"
        case encrypted = "encrypted"
        case externalData = "external_data"
        case columnNotFound = "column_not_found"
        case valueOutOfRange = "value_out_of_range"
        case schemaConflict = "schema_conflict"
        case invalidArgument = "invalid_argument"
    }

    public var kind: Kind
    public var detail: String
    public var file: String?
    public var rowGroup: Int?
    public var column: String?
    public var offset: Int?

    public init(_ kind: Kind, _ detail: String, file: String? = nil, rowGroup: Int? = nil,
                column: String? = nil, offset: Int? = nil) {
        self.kind = kind
        self.detail = detail
        self.file = file
        self.rowGroup = rowGroup
        self.column = column
        self.offset = offset
    }

    /// Fills in location fields that are still unknown (inner layers win).
    func located(file: String? = nil, rowGroup: Int? = nil, column: String? = nil, offset: Int? = nil) -> ParquetError {
        var e = self
        if e.file == nil { e.file = file }
        if e.rowGroup == nil { e.rowGroup = rowGroup }
        if e.column == nil { e.column = column }
        if e.offset == nil { e.offset = offset }
        return e
    }

    public var description: String {
        var whereParts: [String] = []
        if let file { whereParts.append(file) }
        if let rowGroup { whereParts.append("row group \(rowGroup)") }
        if let column { whereParts.append("column '\(column)'") }
        if let offset { whereParts.append("byte offset \(offset)") }
        let location = whereParts.isEmpty ? "" : " (" + whereParts.joined(separator: ", ") + ")"
        return "parquet \(kind.rawValue)\(location): \(detail)"
    }
}
