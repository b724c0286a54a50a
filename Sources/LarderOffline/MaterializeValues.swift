import LarderFeatures
import LarderParquet

// Turning offline columns into what Feast stores: entity key values and `feast.types.Value`
// bytes. Feast converts each pandas/arrow value with its type mapper according to the
// feature's declared type; the conversions below are the ones that mapper makes for the
// column types a file source produces:
//   Int64  <- int64, int32            Int32 <- int32, int64 (must fit)
//   Float64 <- double, float, ints    Float32 <- float, double (rounded), ints
//   Bool <- bool   String <- string   Bytes <- binary, string
//   UnixTimestamp <- timestamp (seconds, floor), int64/int32 (epoch seconds)
//   Array(T) <- list of an element column convertible to T
// A null value, and a NaN float or double scalar, is the empty Value (Feast tests
// `pd.isnull`), except a null timestamp declared UnixTimestamp (NaT -> INT64_MIN); NaN
// elements inside lists are kept, null elements get Feast's substitutes (see listValue).

/// Error while converting a source value; says which column, row and why.
public struct MaterializeValueError: Error, CustomStringConvertible, Sendable {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// How one source column becomes Value bytes of a declared Feast type. Built once per
/// column and batch; `encode` appends one row's Value without building a FeastValue for
/// scalars (this runs for every row and feature).
struct ColumnValueEncoder {
    let column: ColumnData
    let type: FeastType
    let name: String
    /// Historical retrieval returns the source's timestamps as they are, as Feast's offline
    /// store does: nanoseconds instead of the online store's epoch seconds, and a NaT (scalar
    /// or list element) as null (Int64.min) instead of INT64_MIN seconds.
    let keepsNanoseconds: Bool

    init(column: ColumnData, type: FeastType, name: String, keepsNanoseconds: Bool = false) throws {
        guard ColumnValueEncoder.canConvert(column.type, to: type) else {
            throw MaterializeValueError("column \"\(name)\" is \(column.type), which cannot hold Feast type \(type.name)")
        }
        self.column = column
        self.type = type
        self.name = name
        self.keepsNanoseconds = keepsNanoseconds
    }

    /// Whether values of a column type can be stored as a Feast type (the table above).
    static func canConvert(_ columnType: ColumnType, to type: FeastType) -> Bool {
        if case .null = columnType { return true }
        switch type {
        case .scalar(let scalar):
            return canConvertScalar(columnType, to: scalar)
        case .array(let scalar):
            guard case .list(let element) = columnType else { return false }
            if case .null = element { return true }
            return canConvertScalar(element, to: scalar)
        }
    }

    static func canConvertScalar(_ columnType: ColumnType, to scalar: FeastScalarType) -> Bool {
        switch (scalar, columnType) {
        case (.int64, .int64), (.int64, .int32),
             (.int32, .int32), (.int32, .int64),
             (.float64, .double), (.float64, .float), (.float64, .int64), (.float64, .int32),
             (.float32, .float), (.float32, .double), (.float32, .int64), (.float32, .int32),
             (.bool, .boolean), (.string, .string), (.bytes, .binary), (.bytes, .string),
             (.unixTimestamp, .timestamp), (.unixTimestamp, .int64), (.unixTimestamp, .int32):
            return true
        default:
            return false
        }
    }

    /// Feast stores a NaT (null cell of a timestamp column declared UnixTimestamp) as
    /// `unix_timestamp_val` = INT64_MIN (numpy's NaT as an integer), not as the empty Value.
    private var isNullTimestamp: Bool {
        guard case .scalar(.unixTimestamp) = type, case .timestamp = column.type else { return false }
        return true
    }

    /// Appends the Value bytes of `row` (nothing for null, INT64_MIN for a NaT timestamp).
    func encode(row: Int, into out: inout [UInt8]) throws {
        if column.isNull(row) {
            if isNullTimestamp && !keepsNanoseconds { FeastValue.unixTimestamp(Int64.min).encode(into: &out) }
            return
        }
        switch type {
        case .scalar(.unixTimestamp):
            try value(row: row).encode(into: &out)
        case .scalar(let scalar):
            try ColumnValueEncoder.encodeScalar(column.values, row: row, as: scalar, name: name, into: &out)
        case .array:
            try value(row: row).encode(into: &out)
        }
    }

    /// The row's value as a FeastValue (lists, and tests).
    func value(row: Int) throws -> FeastValue {
        if column.isNull(row) { return isNullTimestamp && !keepsNanoseconds ? .unixTimestamp(Int64.min) : .null }
        switch type {
        case .scalar(let scalar):
            let value = try ColumnValueEncoder.scalarValue(column.values, row: row, as: scalar, name: name)
            if case .unixTimestamp(let raw) = value {
                let isTimestampColumn: Bool
                if case .timestamp = column.type { isTimestampColumn = true } else { isTimestampColumn = false }
                if keepsNanoseconds { return .unixTimestamp(isTimestampColumn ? raw : raw &* 1_000_000_000) }
                // A timestamp column holds nanoseconds; Feast stores epoch seconds.
                if isTimestampColumn { return .unixTimestamp(ColumnValueEncoder.floorSeconds(raw)) }
            }
            return value
        case .array(let scalar):
            guard case .list(let list) = column.values else { return .null }
            let range = Int(list.offsets[row]) ..< Int(list.offsets[row + 1])
            return try ColumnValueEncoder.listValue(list.elements, range: range, as: scalar, name: name, row: row,
                                                    keepsNanoseconds: keepsNanoseconds)
        }
    }

    private static func encodeScalar(_ values: ColumnValues, row: Int, as scalar: FeastScalarType, name: String,
                                     into out: inout [UInt8]) throws {
        switch (scalar, values) {
        case (.int64, .int64(let v)):
            ProtoWriter.appendTag(field: 4, wireType: .varint, to: &out)
            ProtoWriter.appendSignedVarint(v[row], to: &out)
        case (.float64, .double(let v)):
            if v[row].isNaN { return }
            ProtoWriter.appendTag(field: 5, wireType: .fixed64, to: &out)
            ProtoWriter.appendFixed64(v[row].bitPattern, to: &out)
        case (.float32, .float(let v)):
            if v[row].isNaN { return }
            ProtoWriter.appendTag(field: 6, wireType: .fixed32, to: &out)
            ProtoWriter.appendFixed32(v[row].bitPattern, to: &out)
        case (.int32, .int32(let v)):
            ProtoWriter.appendTag(field: 3, wireType: .varint, to: &out)
            ProtoWriter.appendSignedVarint(Int64(v[row]), to: &out)
        default:
            try scalarValue(values, row: row, as: scalar, name: name).normalizedLikeFeast.encode(into: &out)
        }
    }

    static func scalarValue(_ values: ColumnValues, row: Int, as scalar: FeastScalarType, name: String) throws -> FeastValue {
        switch (scalar, values) {
        case (_, .null): return .null
        case (.int64, .int64(let v)): return .int64(v[row])
        case (.int64, .int32(let v)): return .int64(Int64(v[row]))
        case (.int32, .int32(let v)): return .int32(v[row])
        case (.int32, .int64(let v)):
            guard let narrowed = Int32(exactly: v[row]) else {
                throw MaterializeValueError("column \"\(name)\" row value \(v[row]) does not fit Feast type Int32")
            }
            return .int32(narrowed)
        case (.float64, .double(let v)): return Double(v[row]).isNaN ? .null : .double(v[row])
        case (.float64, .float(let v)): return v[row].isNaN ? .null : .double(Double(v[row]))
        case (.float64, .int64(let v)): return .double(Double(v[row]))
        case (.float64, .int32(let v)): return .double(Double(v[row]))
        case (.float32, .float(let v)): return v[row].isNaN ? .null : .float(v[row])
        case (.float32, .double(let v)): return v[row].isNaN ? .null : .float(Float(v[row]))
        case (.float32, .int64(let v)): return .float(Float(v[row]))
        case (.float32, .int32(let v)): return .float(Float(v[row]))
        case (.bool, .boolean(let v)): return .bool(v[row])
        case (.string, .byteArray(let v)): return .string(v.string(at: row))
        case (.bytes, .byteArray(let v)): return .bytes(Array(v.value(at: row)))
        case (.unixTimestamp, .int64(let v)):
            // Raw: nanoseconds for a timestamp column (the caller scales), else epoch seconds.
            return .unixTimestamp(v[row])
        case (.unixTimestamp, .int32(let v)): return .unixTimestamp(Int64(v[row]))
        default:
            throw MaterializeValueError("column \"\(name)\" cannot be read as Feast type \(scalar.rawValue)")
        }
    }

    static func listValue(_ elements: ColumnData, range: Range<Int>, as scalar: FeastScalarType, name: String,
                          row: Int, keepsNanoseconds: Bool = false) throws -> FeastValue {
        let isTimestamp: Bool
        if case .timestamp = elements.type { isTimestamp = true } else { isTimestamp = false }
        func items<T>(_ convert: (FeastValue) -> T?) throws -> [T] {
            var out: [T] = []
            out.reserveCapacity(range.count)
            for i in range {
                // A null element becomes what Feast's mapper substitutes for it: NaN in a float
                // list, "" / b"" in a string / bytes list, INT64_MIN (NaT) in a timestamp list.
                // Feast fails on a null in an integer or bool list; so does Larder.
                var element: FeastValue
                if elements.isNull(i) {
                    switch scalar {
                    case .float64, .float32: element = .null
                    case .string: element = .string("")
                    case .bytes: element = .bytes([])
                    case .unixTimestamp: element = .unixTimestamp(Int64.min)
                    default:
                        throw MaterializeValueError("column \"\(name)\": a list holds a null element, which Feast cannot store")
                    }
                } else {
                    element = try scalarValue(elements.values, row: i, as: scalar, name: name)
                    // Feast converts list timestamps with int(datetime.timestamp()): truncation
                    // toward zero, unlike scalars (numpy's floor).
                    if isTimestamp, case .unixTimestamp(let ns) = element {
                        element = .unixTimestamp(keepsNanoseconds ? ns : ns / 1_000_000_000)
                    } else if keepsNanoseconds, case .unixTimestamp(let seconds) = element {
                        element = .unixTimestamp(seconds &* 1_000_000_000)
                    }
                }
                guard let item = convert(element) else {
                    throw MaterializeValueError("column \"\(name)\": list element cannot be read as \(scalar.rawValue)")
                }
                out.append(item)
            }
            return out
        }
        switch scalar {
        case .int64: return .int64List(try items { if case .int64(let v) = $0 { return v } else { return nil } })
        case .int32: return .int32List(try items { if case .int32(let v) = $0 { return v } else { return nil } })
        case .float64: return .doubleList(try items(rawDouble))
        case .float32: return .floatList(try items(rawFloat))
        case .bool: return .boolList(try items { if case .bool(let v) = $0 { return v } else { return nil } })
        case .string: return .stringList(try items { if case .string(let v) = $0 { return v } else { return nil } })
        case .bytes: return .bytesList(try items { if case .bytes(let v) = $0 { return v } else { return nil } })
        case .unixTimestamp:
            return .unixTimestampList(try items { if case .unixTimestamp(let v) = $0 { return v } else { return nil } })
        }
    }

    /// NaN elements of float lists are kept by Feast (only scalars become null).
    private static func rawDouble(_ value: FeastValue) -> Double? {
        switch value {
        case .double(let v): return v
        case .null: return .nan
        default: return nil
        }
    }

    private static func rawFloat(_ value: FeastValue) -> Float? {
        switch value {
        case .float(let v): return v
        case .null: return .nan
        default: return nil
        }
    }

    static func floorSeconds(_ nanoseconds: Int64) -> Int64 {
        let (q, r) = nanoseconds.quotientAndRemainder(dividingBy: 1_000_000_000)
        return r < 0 ? q - 1 : q
    }
}

