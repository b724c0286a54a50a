/// One feature value as Feast stores it: a `feast.types.Value` protobuf with at most one
/// member of its `val` oneof set. `.null` is the Value with nothing set (zero bytes).
///
/// Only the members Feast's Redis store writes for the supported Feast types are modelled;
/// the map/set/json/... members are rejected on decode with an error that names them.
public enum FeastValue: Equatable, Sendable {
    case null
    case bytes([UInt8])
    case string(String)
    case int32(Int32)
    case int64(Int64)
    case double(Double)
    case float(Float)
    case bool(Bool)
    /// Epoch seconds (Feast's `unix_timestamp_val`).
    case unixTimestamp(Int64)
    case bytesList([[UInt8]])
    case stringList([String])
    case int32List([Int32])
    case int64List([Int64])
    case doubleList([Double])
    case floatList([Float])
    case boolList([Bool])
    case unixTimestampList([Int64])

    /// The `Value` oneof field number, which equals the `ValueType.Enum` number. 0 for null.
    public var fieldNumber: Int {
        switch self {
        case .null: return 0
        case .bytes: return 1
        case .string: return 2
        case .int32: return 3
        case .int64: return 4
        case .double: return 5
        case .float: return 6
        case .bool: return 7
        case .unixTimestamp: return 8
        case .bytesList: return 11
        case .stringList: return 12
        case .int32List: return 13
        case .int64List: return 14
        case .doubleList: return 15
        case .floatList: return 16
        case .boolList: return 17
        case .unixTimestampList: return 18
        }
    }

    /// The Feast value type of this value (`.null` for an unset Value).
    public var valueType: FeastValueType {
        FeastValueType(rawValue: Int32(fieldNumber)) ?? .null
    }

    public var isNull: Bool {
        if case .null = self { return true }
        return false
    }

    /// Equality that treats two NaNs with the same bit pattern as equal (the synthesized
    /// `==` follows IEEE and never does), which is what byte-level round trips need.
    public func isBitwiseEqual(to other: FeastValue) -> Bool {
        switch (self, other) {
        case let (.double(a), .double(b)): return a.bitPattern == b.bitPattern
        case let (.float(a), .float(b)): return a.bitPattern == b.bitPattern
        case let (.doubleList(a), .doubleList(b)): return a.map(\.bitPattern) == b.map(\.bitPattern)
        case let (.floatList(a), .floatList(b)): return a.map(\.bitPattern) == b.map(\.bitPattern)
        default: return self == other
        }
    }
}

extension FeastValue {
    /// Feast's type mapper writes a NaN scalar as null (it tests `pd.isnull`), but keeps NaN
    /// elements inside float lists. Apply this to values read from an offline source to store
    /// exactly what Feast's materialization would.
    public var normalizedLikeFeast: FeastValue {
        switch self {
        case .float(let v) where v.isNaN: return .null
        case .double(let v) where v.isNaN: return .null
        default: return self
        }
    }
}
