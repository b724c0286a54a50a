/// The scalar types of Feast's Python type system (`feast.types`).
public enum FeastScalarType: String, CaseIterable, Codable, Sendable {
    case bytes = "Bytes"
    case string = "String"
    case int32 = "Int32"
    case int64 = "Int64"
    case float32 = "Float32"
    case float64 = "Float64"
    case bool = "Bool"
    case unixTimestamp = "UnixTimestamp"

    public var valueType: FeastValueType {
        switch self {
        case .bytes: return .bytes
        case .string: return .string
        case .int32: return .int32
        case .int64: return .int64
        case .float32: return .float
        case .float64: return .double
        case .bool: return .bool
        case .unixTimestamp: return .unixTimestamp
        }
    }

    public var listValueType: FeastValueType {
        switch self {
        case .bytes: return .bytesList
        case .string: return .stringList
        case .int32: return .int32List
        case .int64: return .int64List
        case .float32: return .floatList
        case .float64: return .doubleList
        case .bool: return .boolList
        case .unixTimestamp: return .unixTimestampList
        }
    }
}

/// A field's Feast type: a scalar, or `Array(<scalar>)`. Written and parsed with Feast's
/// names (`Int64`, `Array(String)`); stored in the registry as a `ValueType.Enum`.
public enum FeastType: Hashable, Sendable, CustomStringConvertible {
    case scalar(FeastScalarType)
    case array(FeastScalarType)

    public static let int32 = FeastType.scalar(.int32)
    public static let int64 = FeastType.scalar(.int64)
    public static let float32 = FeastType.scalar(.float32)
    public static let float64 = FeastType.scalar(.float64)
    public static let bool = FeastType.scalar(.bool)
    public static let string = FeastType.scalar(.string)
    public static let bytes = FeastType.scalar(.bytes)
    public static let unixTimestamp = FeastType.scalar(.unixTimestamp)

    public var name: String {
        switch self {
        case .scalar(let s): return s.rawValue
        case .array(let s): return "Array(\(s.rawValue))"
        }
    }

    public var description: String { name }

    public var valueType: FeastValueType {
        switch self {
        case .scalar(let s): return s.valueType
        case .array(let s): return s.listValueType
        }
    }

    public var isArray: Bool {
        if case .array = self { return true }
        return false
    }

    /// Parses Feast's type names. Spaces are allowed (`Array( Int64 )`); `Float` and `Double`
    /// are not Feast names and are rejected so that typos do not pass silently.
    public init?(name: String) {
        let trimmed = name.filter { !$0.isWhitespace }
        if trimmed.hasPrefix("Array("), trimmed.hasSuffix(")") {
            let inner = String(trimmed.dropFirst("Array(".count).dropLast())
            guard let scalar = FeastScalarType(rawValue: inner) else { return nil }
            self = .array(scalar)
        } else {
            guard let scalar = FeastScalarType(rawValue: trimmed) else { return nil }
            self = .scalar(scalar)
        }
    }

    /// The Feast type for a registry `ValueType.Enum`, if it is one Larder supports.
    public init?(valueType: FeastValueType) {
        if let s = FeastScalarType.allCases.first(where: { $0.valueType == valueType }) {
            self = .scalar(s)
        } else if let s = FeastScalarType.allCases.first(where: { $0.listValueType == valueType }) {
            self = .array(s)
        } else {
            return nil
        }
    }

    public static var allNames: [String] {
        FeastScalarType.allCases.map(\.rawValue) + FeastScalarType.allCases.map { "Array(\($0.rawValue))" }
    }
}

extension FeastType: Codable {
    public init(from decoder: Decoder) throws {
        let container = try decoder.singleValueContainer()
        let name = try container.decode(String.self)
        guard let type = FeastType(name: name) else {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "unknown Feast type \(name)")
        }
        self = type
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(name)
    }
}
