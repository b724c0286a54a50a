import LarderFeatures
import LarderParquet

/// Builds an output column of a Feast type from FeastValues (the point-in-time join
/// output): Int64 -> int64, Int32 -> int32, Float32 -> float, Float64 -> double,
/// Bool -> bool, String -> string, Bytes -> binary, UnixTimestamp -> timestamp[ns, UTC],
/// Array(T) -> list<T>.
struct FeatureColumnBuilder {
    let type: FeastType
    private var validity: [Bool] = []
    private var hasNull = false
    private var ints: [Int64] = []
    private var int32s: [Int32] = []
    private var doubles: [Double] = []
    private var floats: [Float] = []
    private var bools: [Bool] = []
    private var bytes = ByteArrayColumn()
    /// Lists: element offsets and the element builder.
    private var listOffsets: [Int32] = [0]
    private var elements: [FeastValue] = []

    init(type: FeastType) { self.type = type }

    static func columnType(_ type: FeastType) -> ColumnType {
        switch type {
        case .scalar(let s): return scalarColumnType(s)
        case .array(let s): return .list(scalarColumnType(s))
        }
    }

    static func scalarColumnType(_ s: FeastScalarType) -> ColumnType {
        switch s {
        case .int64: return .int64
        case .int32: return .int32
        case .float32: return .float
        case .float64: return .double
        case .bool: return .boolean
        case .string: return .string
        case .bytes: return .binary
        case .unixTimestamp: return .timestamp(isAdjustedToUTC: true)
        }
    }

    mutating func append(_ value: FeastValue) {
        var present = !value.isNull
        // A NaT (scalar, or inside a list) is a null timestamp, as in Feast's DataFrame.
        if case .unixTimestamp(Int64.min) = value { present = false }
        validity.append(present)
        if !present { hasNull = true }
        switch type {
        case .scalar(let s):
            appendScalar(present ? value : nil, s)
        case .array:
            if present { elements.append(contentsOf: FeatureColumnBuilder.listElements(value)) }
            listOffsets.append(Int32(truncatingIfNeeded: elements.count))
        }
    }

    private mutating func appendScalar(_ value: FeastValue?, _ s: FeastScalarType) {
        switch s {
        case .int64:
            if case .int64(let v)? = value { ints.append(v) } else { ints.append(0) }
        case .unixTimestamp:
            // Nanoseconds as read from the source (ColumnValueEncoder.keepsNanoseconds).
            if case .unixTimestamp(let v)? = value { ints.append(v) } else { ints.append(0) }
        case .int32:
            if case .int32(let v)? = value { int32s.append(v) } else { int32s.append(0) }
        case .float64:
            if case .double(let v)? = value { doubles.append(v) } else { doubles.append(0) }
        case .float32:
            if case .float(let v)? = value { floats.append(v) } else { floats.append(0) }
        case .bool:
            if case .bool(let v)? = value { bools.append(v) } else { bools.append(false) }
        case .string:
            if case .string(let v)? = value { bytes.append(Array(v.utf8)) } else { bytes.appendEmpty() }
        case .bytes:
            if case .bytes(let v)? = value { bytes.append(v) } else { bytes.appendEmpty() }
        }
    }

    private static func listElements(_ value: FeastValue) -> [FeastValue] {
        switch value {
        case .int64List(let v): return v.map(FeastValue.int64)
        case .int32List(let v): return v.map(FeastValue.int32)
        case .doubleList(let v): return v.map(FeastValue.double)
        case .floatList(let v): return v.map(FeastValue.float)
        case .boolList(let v): return v.map(FeastValue.bool)
        case .stringList(let v): return v.map(FeastValue.string)
        case .bytesList(let v): return v.map(FeastValue.bytes)
        case .unixTimestampList(let v): return v.map(FeastValue.unixTimestamp)
        default: return []
        }
    }

    func build() -> ColumnData {
        let mask = hasNull ? validity : nil
        switch type {
        case .scalar(let s):
            return ColumnData(type: FeatureColumnBuilder.scalarColumnType(s), values: scalarValues(s), validity: mask)
        case .array(let s):
            var inner = FeatureColumnBuilder(type: .scalar(s))
            for element in elements { inner.append(element) }
            let list = ListColumn(offsets: listOffsets, elements: inner.build())
            return ColumnData(type: .list(FeatureColumnBuilder.scalarColumnType(s)), values: .list(list), validity: mask)
        }
    }

    private func scalarValues(_ s: FeastScalarType) -> ColumnValues {
        switch s {
        case .int64, .unixTimestamp: return .int64(ints)
        case .int32: return .int32(int32s)
        case .float64: return .double(doubles)
        case .float32: return .float(floats)
        case .bool: return .boolean(bools)
        case .string, .bytes: return .byteArray(bytes)
        }
    }
}
