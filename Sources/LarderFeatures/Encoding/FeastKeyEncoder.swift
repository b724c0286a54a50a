/// Feast entity key serialization (`feast.infra.key_encoding_utils.serialize_entity_key`)
/// and the Redis key / field names built from it. All integers are little-endian.
public enum EntityKeySerializationVersion: Int, Sendable, Codable {
    /// Deprecated in Feast: `u32 2; name` per key, no count and no name length.
    case v2 = 2
    /// Feast's default: `u32 N`, then `u32 2; u32 len; name` per key, then the values.
    case v3 = 3
}

public enum FeastKeyError: Error, Equatable, CustomStringConvertible, Sendable {
    /// Only string, bytes, int32, int64 and unix_timestamp values can be entity keys.
    case unsupportedEntityValue(joinKey: String, valueType: FeastValueType)
    case joinKeyCountMismatch(joinKeys: Int, values: Int)
    case malformedKey(offset: Int, reason: String)

    public var description: String {
        switch self {
        case let .unsupportedEntityValue(joinKey, valueType):
            return "entity key '\(joinKey)' has type \(valueType.protoName), which cannot be an entity key "
                + "(allowed: STRING, BYTES, INT32, INT64, UNIX_TIMESTAMP)"
        case let .joinKeyCountMismatch(joinKeys, values):
            return "entity key has \(joinKeys) join keys but \(values) values"
        case let .malformedKey(offset, reason):
            return "malformed serialized entity key at byte \(offset): \(reason)"
        }
    }
}

/// Serializes entity keys for one fixed set of join keys. The sorted name section is built
/// once, so encoding a row only appends the values (materialization encodes millions).
public struct FeastEntityKeyEncoder: Sendable {
    public let joinKeys: [String]
    public let version: EntityKeySerializationVersion
    /// `sortedOrder[i]` is the index in `joinKeys` of the i-th key in serialization order.
    public let sortedOrder: [Int]
    private let header: [UInt8]

    public init(joinKeys: [String], version: EntityKeySerializationVersion = .v3) {
        self.joinKeys = joinKeys
        self.version = version
        // Python sorts str by code point, which is the order of their UTF-8 bytes.
        let order = joinKeys.count <= 1
            ? Array(joinKeys.indices)
            : joinKeys.indices.sorted { Array(joinKeys[$0].utf8).lexicographicallyPrecedes(Array(joinKeys[$1].utf8)) }
        self.sortedOrder = order
        var header: [UInt8] = []
        if version == .v3 { FeastKeyEncoder.appendU32(UInt32(joinKeys.count), to: &header) }
        for i in order {
            FeastKeyEncoder.appendU32(UInt32(FeastValueType.string.rawValue), to: &header)
            if version == .v3 { FeastKeyEncoder.appendU32(UInt32(joinKeys[i].utf8.count), to: &header) }
            header.append(contentsOf: joinKeys[i].utf8)
        }
        self.header = header
    }

    /// Appends the serialized entity key for `values` (in `joinKeys` order), then `suffix`
    /// (the project name for Redis keys; empty for the plain entity key).
    public func append(values: [FeastValue], suffix: String = "", to out: inout [UInt8]) throws {
        guard values.count == joinKeys.count else {
            throw FeastKeyError.joinKeyCountMismatch(joinKeys: joinKeys.count, values: values.count)
        }
        out.append(contentsOf: header)
        for i in sortedOrder {
            try FeastKeyEncoder.appendEntityValue(values[i], joinKey: joinKeys[i], to: &out)
        }
        out.append(contentsOf: suffix.utf8)
    }

    public func entityKey(_ values: [FeastValue]) throws -> [UInt8] {
        var out: [UInt8] = []
        try append(values: values, to: &out)
        return out
    }

    /// The Redis key: serialized entity key followed by the project name, no separator.
    public func redisKey(_ values: [FeastValue], project: String) throws -> [UInt8] {
        var out: [UInt8] = []
        try append(values: values, suffix: project, to: &out)
        return out
    }
}

public enum FeastKeyEncoder {
    public static func entityKey(_ pairs: [(joinKey: String, value: FeastValue)],
                                 version: EntityKeySerializationVersion = .v3) throws -> [UInt8] {
        try FeastEntityKeyEncoder(joinKeys: pairs.map(\.joinKey), version: version).entityKey(pairs.map(\.value))
    }

    public static func redisKey(_ pairs: [(joinKey: String, value: FeastValue)], project: String,
                                version: EntityKeySerializationVersion = .v3) throws -> [UInt8] {
        try FeastEntityKeyEncoder(joinKeys: pairs.map(\.joinKey), version: version)
            .redisKey(pairs.map(\.value), project: project)
    }

    /// The join-key part of the key, which Feast uses to find a project's keys on delete.
    /// Feast always builds it in the v3 layout, whatever the configured version.
    public static func deletePrefix(joinKeys: [String]) -> [UInt8] {
        let encoder = FeastEntityKeyEncoder(joinKeys: joinKeys, version: .v3)
        var out: [UInt8] = []
        appendU32(UInt32(joinKeys.count), to: &out)
        for i in encoder.sortedOrder {
            appendU32(UInt32(FeastValueType.string.rawValue), to: &out)
            appendU32(UInt32(joinKeys[i].utf8.count), to: &out)
            out.append(contentsOf: joinKeys[i].utf8)
        }
        return out
    }

    /// The `SCAN ... MATCH` glob Feast sends on update/teardown: `<prefix>*<project>`.
    public static func deleteScanPattern(joinKeys: [String], project: String) -> [UInt8] {
        deletePrefix(joinKeys: joinKeys) + [UInt8(ascii: "*")] + Array(project.utf8)
    }

    /// Hash field of one feature: murmur3_32("<view>:<feature>") as 4 bytes little-endian.
    public static func featureFieldName(view: String, feature: String) -> [UInt8] {
        var text: [UInt8] = Array(view.utf8)
        text.append(UInt8(ascii: ":"))
        text.append(contentsOf: feature.utf8)
        let h = Murmur3.hash32(text)
        return [UInt8(truncatingIfNeeded: h), UInt8(truncatingIfNeeded: h >> 8),
                UInt8(truncatingIfNeeded: h >> 16), UInt8(truncatingIfNeeded: h >> 24)]
    }

    /// Hash field holding a view's event timestamp: `_ts:<view>`.
    public static func timestampFieldName(view: String) -> [UInt8] {
        Array("_ts:\(view)".utf8)
    }

    static func appendU32(_ v: UInt32, to out: inout [UInt8]) {
        ProtoWriter.appendFixed32(v, to: &out)
    }

    static func appendEntityValue(_ value: FeastValue, joinKey: String, to out: inout [UInt8]) throws {
        switch value {
        case .string(let s):
            appendU32(2, to: &out)
            appendU32(UInt32(s.utf8.count), to: &out)
            out.append(contentsOf: s.utf8)
        case .bytes(let b):
            appendU32(1, to: &out)
            appendU32(UInt32(b.count), to: &out)
            out.append(contentsOf: b)
        case .int32(let v):
            appendU32(3, to: &out)
            appendU32(4, to: &out)
            appendU32(UInt32(bitPattern: v), to: &out)
        case .int64(let v):
            appendU32(4, to: &out)
            appendU32(8, to: &out)
            ProtoWriter.appendFixed64(UInt64(bitPattern: v), to: &out)
        case .unixTimestamp(let v):
            appendU32(8, to: &out)
            appendU32(8, to: &out)
            ProtoWriter.appendFixed64(UInt64(bitPattern: v), to: &out)
        default:
            throw FeastKeyError.unsupportedEntityValue(joinKey: joinKey, valueType: value.valueType)
        }
    }
}
