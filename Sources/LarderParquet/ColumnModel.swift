// Public columnar data model shared by every offline source (Parquet, CSV).
//
// A `ColumnBatch` holds `rowCount` rows of several named columns. Each `ColumnData`
// stores its values in one contiguous typed array (Arrow-like layout):
//   * fixed-width columns have exactly `count` slots; a null slot holds 0 / false;
//   * byte-array columns (string, binary) are one `[UInt8]` plus `count + 1` offsets;
//   * list columns are `count + 1` offsets into a child `ColumnData` of elements
//     (which may itself have nulls).
// `validity == nil` means "no nulls" (the common case, nothing allocated);
// otherwise `validity[i] == false` marks row i as null.
//
// Representation decisions (documented once, relied on everywhere):
//   * Timestamps are Int64 **nanoseconds since the Unix epoch** (`.int64` values with
//     `ColumnType.timestamp`), like pandas `datetime64[ns]` that Feast uses. MILLIS and
//     MICROS are scaled up; INT96 is converted. `isAdjustedToUTC` is kept so that naive
//     (wall-clock) timestamps can be told apart from UTC instants.
//   * Dates are Int32 days since 1970-01-01 (`.int32` values with `ColumnType.date`).
//   * INT8/INT16/INT32 and UINT8/UINT16 are `.int32`; UINT32 is widened to `.int64`;
//     UINT64 is stored bit-for-bit in `.int64` (values above Int64.max wrap negative).
//   * Booleans are `[Bool]` (one byte each; simple and fast to scan).

/// Logical type of a column as seen by callers.
public indirect enum ColumnType: Hashable, Sendable, CustomStringConvertible {
    case boolean
    case int32
    case int64
    case float
    case double
    /// UTF-8 text (Parquet STRING/UTF8/ENUM/JSON).
    case string
    /// Raw bytes (unannotated BYTE_ARRAY, FIXED_LEN_BYTE_ARRAY).
    case binary
    /// Days since 1970-01-01 stored as Int32.
    case date
    /// Nanoseconds since the epoch stored as Int64. `isAdjustedToUTC == false` means naive local time.
    case timestamp(isAdjustedToUTC: Bool)
    /// A column whose every value is null (Parquet UNKNOWN / Arrow null type).
    case null
    /// A list of scalar elements.
    case list(ColumnType)

    public var description: String {
        switch self {
        case .boolean: return "bool"
        case .int32: return "int32"
        case .int64: return "int64"
        case .float: return "float"
        case .double: return "double"
        case .string: return "string"
        case .binary: return "binary"
        case .date: return "date32"
        case .timestamp(let utc): return utc ? "timestamp[ns, UTC]" : "timestamp[ns]"
        case .null: return "null"
        case .list(let element): return "list<\(element)>"
        }
    }

    /// The storage case that holds values of this type.
    public var storageKind: ColumnStorageKind {
        switch self {
        case .boolean: return .boolean
        case .int32, .date: return .int32
        case .int64, .timestamp: return .int64
        case .float: return .float
        case .double: return .double
        case .string, .binary: return .byteArray
        case .null: return .null
        case .list: return .list
        }
    }
}

public enum ColumnStorageKind: Hashable, Sendable {
    case boolean, int32, int64, float, double, byteArray, null, list
}

/// Variable-length byte strings: value i is `bytes[offsets[i] ..< offsets[i+1]]`.
public struct ByteArrayColumn: Hashable, Sendable {
    /// `count + 1` monotonically non-decreasing offsets, starting at 0.
    public var offsets: [Int32]
    public var bytes: [UInt8]

    public init() { offsets = [0]; bytes = [] }
    public init(offsets: [Int32], bytes: [UInt8]) { self.offsets = offsets; self.bytes = bytes }

    public var count: Int { offsets.count - 1 }

    /// Appends one value (use for building; decoders append in bulk).
    public mutating func append<C: Collection>(_ value: C) where C.Element == UInt8 {
        bytes.append(contentsOf: value)
        offsets.append(Int32(truncatingIfNeeded: bytes.count))
    }

    /// Appends an empty value (the slot of a null).
    public mutating func appendEmpty() { offsets.append(offsets[offsets.count - 1]) }

    public func value(at i: Int) -> ArraySlice<UInt8> {
        bytes[Int(offsets[i]) ..< Int(offsets[i + 1])]
    }

    public func string(at i: Int) -> String {
        String(decoding: value(at: i), as: UTF8.self)
    }
}

/// Offsets of a list column into its child element column: row i holds elements
/// `offsets[i] ..< offsets[i+1]` of `elements`.
public struct ListColumn: Sendable {
    public var offsets: [Int32]
    public var elements: ColumnData

    public init(offsets: [Int32], elements: ColumnData) { self.offsets = offsets; self.elements = elements }
}

/// Contiguous value storage of one column.
public enum ColumnValues: Sendable {
    case boolean([Bool])
    case int32([Int32])
    case int64([Int64])
    case float([Float])
    case double([Double])
    case byteArray(ByteArrayColumn)
    indirect case list(ListColumn)
    /// Every one of `count` values is null.
    case null(count: Int)

    public var count: Int {
        switch self {
        case .boolean(let v): return v.count
        case .int32(let v): return v.count
        case .int64(let v): return v.count
        case .float(let v): return v.count
        case .double(let v): return v.count
        case .byteArray(let v): return v.count
        case .list(let v): return v.offsets.count - 1
        case .null(let n): return n
        }
    }
}

/// One column of a batch: its type, values, and null mask.
public struct ColumnData: Sendable {
    public var type: ColumnType
    public var values: ColumnValues
    /// nil = no nulls. Otherwise one entry per row, `false` = null.
    public var validity: [Bool]?

    public init(type: ColumnType, values: ColumnValues, validity: [Bool]? = nil) {
        self.type = type
        self.values = values
        self.validity = validity
    }

    public var count: Int { values.count }

    public func isNull(_ row: Int) -> Bool {
        if case .null = values { return true }
        guard let validity else { return false }
        return !validity[row]
    }

    public var nullCount: Int {
        if case .null(let n) = values { return n }
        guard let validity else { return 0 }
        var n = 0
        for v in validity where !v { n += 1 }
        return n
    }
}

/// A named, typed column in a schema.
public struct Field: Hashable, Sendable, CustomStringConvertible {
    public var name: String
    public var type: ColumnType
    public var nullable: Bool

    public init(name: String, type: ColumnType, nullable: Bool = true) {
        self.name = name
        self.type = type
        self.nullable = nullable
    }

    public var description: String { "\(name): \(type)\(nullable ? "" : " not null")" }
}

/// A set of equally long columns, e.g. one Parquet row group of the requested columns.
public struct ColumnBatch: Sendable {
    public var fields: [Field]
    public var columns: [ColumnData]
    public var rowCount: Int

    public init(fields: [Field], columns: [ColumnData], rowCount: Int) {
        self.fields = fields
        self.columns = columns
        self.rowCount = rowCount
    }

    public func index(of name: String) -> Int? { fields.firstIndex { $0.name == name } }

    public subscript(name: String) -> ColumnData? {
        guard let i = index(of: name) else { return nil }
        return columns[i]
    }
}
