/// Feast's `ValueType.Enum` (feast/types/Value.proto), used in the registry for entity and
/// feature types. For 1–18 the number equals the `Value` oneof field number.
public enum FeastValueType: Int32, CaseIterable, Codable, Sendable {
    case invalid = 0
    case bytes = 1
    case string = 2
    case int32 = 3
    case int64 = 4
    case double = 5
    case float = 6
    case bool = 7
    case unixTimestamp = 8
    case bytesList = 11
    case stringList = 12
    case int32List = 13
    case int64List = 14
    case doubleList = 15
    case floatList = 16
    case boolList = 17
    case unixTimestampList = 18
    case null = 19
    case map = 20
    case mapList = 21
    case bytesSet = 22
    case stringSet = 23
    case int32Set = 24
    case int64Set = 25
    case doubleSet = 26
    case floatSet = 27
    case boolSet = 28
    case unixTimestampSet = 29
    case json = 32
    case jsonList = 33
    case structValue = 34
    case structList = 35
    case uuid = 36
    case timeUUID = 37
    case uuidList = 38
    case timeUUIDList = 39
    case uuidSet = 40
    case timeUUIDSet = 41
    case valueList = 42
    case valueSet = 43
    case decimal = 44
    case decimalList = 45
    case decimalSet = 46
    case scalarMap = 47
    case zonedTimestamp = 48

    /// The protobuf enum name, e.g. `INT64_LIST`.
    public var protoName: String {
        switch self {
        case .invalid: return "INVALID"
        case .bytes: return "BYTES"
        case .string: return "STRING"
        case .int32: return "INT32"
        case .int64: return "INT64"
        case .double: return "DOUBLE"
        case .float: return "FLOAT"
        case .bool: return "BOOL"
        case .unixTimestamp: return "UNIX_TIMESTAMP"
        case .bytesList: return "BYTES_LIST"
        case .stringList: return "STRING_LIST"
        case .int32List: return "INT32_LIST"
        case .int64List: return "INT64_LIST"
        case .doubleList: return "DOUBLE_LIST"
        case .floatList: return "FLOAT_LIST"
        case .boolList: return "BOOL_LIST"
        case .unixTimestampList: return "UNIX_TIMESTAMP_LIST"
        case .null: return "NULL"
        case .map: return "MAP"
        case .mapList: return "MAP_LIST"
        case .bytesSet: return "BYTES_SET"
        case .stringSet: return "STRING_SET"
        case .int32Set: return "INT32_SET"
        case .int64Set: return "INT64_SET"
        case .doubleSet: return "DOUBLE_SET"
        case .floatSet: return "FLOAT_SET"
        case .boolSet: return "BOOL_SET"
        case .unixTimestampSet: return "UNIX_TIMESTAMP_SET"
        case .json: return "JSON"
        case .jsonList: return "JSON_LIST"
        case .structValue: return "STRUCT"
        case .structList: return "STRUCT_LIST"
        case .uuid: return "UUID"
        case .timeUUID: return "TIME_UUID"
        case .uuidList: return "UUID_LIST"
        case .timeUUIDList: return "TIME_UUID_LIST"
        case .uuidSet: return "UUID_SET"
        case .timeUUIDSet: return "TIME_UUID_SET"
        case .valueList: return "VALUE_LIST"
        case .valueSet: return "VALUE_SET"
        case .decimal: return "DECIMAL"
        case .decimalList: return "DECIMAL_LIST"
        case .decimalSet: return "DECIMAL_SET"
        case .scalarMap: return "SCALAR_MAP"
        case .zonedTimestamp: return "ZONED_TIMESTAMP"
        }
    }

    public init?(protoName: String) {
        guard let match = FeastValueType.allCases.first(where: { $0.protoName == protoName }) else { return nil }
        self = match
    }
}
