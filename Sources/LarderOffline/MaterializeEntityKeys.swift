import LarderFeatures
import LarderParquet

/// The key type of one join key: what Feast's entity key serialization writes for it.
public enum EntityKeyType: Sendable, Equatable {
    case string, bytes, int32, int64, unixTimestamp

    /// From a Feast value type; nil for types that cannot be entity keys.
    public init?(_ type: FeastValueType) {
        switch type {
        case .string: self = .string
        case .bytes: self = .bytes
        case .int32: self = .int32
        case .int64: self = .int64
        case .unixTimestamp: self = .unixTimestamp
        default: return nil
        }
    }

    /// Whether a source column can hold keys of this type (see EntityKeyWriter).
    static func columnFits(_ column: ColumnType, _ type: EntityKeyType) -> Bool {
        switch (type, column) {
        case (.string, .string), (.bytes, .binary), (.bytes, .string),
             (.int32, .int32), (.int32, .int64), (.int64, .int32), (.int64, .int64),
             (.unixTimestamp, .int64), (.unixTimestamp, .timestamp), (.unixTimestamp, .int32):
            return true
        default:
            return false
        }
    }

    /// The key type a source column implies when the definitions do not declare one.
    init?(column: ColumnType) {
        switch column {
        case .string: self = .string
        case .binary: self = .bytes
        case .int32: self = .int32
        case .int64: self = .int64
        default: return nil
        }
    }
}

/// Writes Feast's serialized entity key (v2 or v3) straight from source columns, without
/// building FeastValues per row. The join-key name section is fixed per view, so it is
/// computed once; a row only appends its values. Byte-identical to FeastEntityKeyEncoder.
public struct EntityKeyWriter: Sendable {
    public let joinKeys: [String]
    public let types: [EntityKeyType]
    public let version: EntityKeySerializationVersion
    /// Join key indices in serialization order (sorted by name as Python sorts str).
    let order: [Int]
    let header: [UInt8]

    public init(joinKeys: [String], types: [EntityKeyType], version: EntityKeySerializationVersion) {
        self.joinKeys = joinKeys
        self.types = types
        self.version = version
        order = FeastEntityKeyEncoder(joinKeys: joinKeys, version: version).sortedOrder
        var header: [UInt8] = []
        if version == .v3 { ProtoWriter.appendFixed32(UInt32(joinKeys.count), to: &header) }
        for i in order {
            ProtoWriter.appendFixed32(UInt32(FeastValueType.string.rawValue), to: &header)
            if version == .v3 { ProtoWriter.appendFixed32(UInt32(joinKeys[i].utf8.count), to: &header) }
            header.append(contentsOf: joinKeys[i].utf8)
        }
        self.header = header
    }

    /// Appends the key of `row`; `columns[i]` is the column of `joinKeys[i]`. Throws on a
    /// null or unconvertible key value (Feast cannot store it either).
    public func append(row: Int, columns: [ColumnData], suffix: [UInt8], into out: inout [UInt8]) throws {
        out.append(contentsOf: header)
        for i in order {
            try appendValue(columns[i], row: row, type: types[i], joinKey: joinKeys[i], into: &out)
        }
        out.append(contentsOf: suffix)
    }

    private func appendValue(_ column: ColumnData, row: Int, type: EntityKeyType, joinKey: String,
                             into out: inout [UInt8]) throws {
        if column.isNull(row) {
            throw MaterializeValueError("join key \"\(joinKey)\" is null in a source row; Feast cannot key such a row")
        }
        switch (type, column.values) {
        case (.int64, .int64(let v)), (.unixTimestamp, .int64(let v)):
            var value = v[row]
            if type == .unixTimestamp, case .timestamp = column.type { value = ColumnValueEncoder.floorSeconds(value) }
            ProtoWriter.appendFixed32(type == .int64 ? 4 : 8, to: &out)
            ProtoWriter.appendFixed32(8, to: &out)
            ProtoWriter.appendFixed64(UInt64(bitPattern: value), to: &out)
        case (.int64, .int32(let v)), (.unixTimestamp, .int32(let v)):
            ProtoWriter.appendFixed32(type == .int64 ? 4 : 8, to: &out)
            ProtoWriter.appendFixed32(8, to: &out)
            ProtoWriter.appendFixed64(UInt64(bitPattern: Int64(v[row])), to: &out)
        case (.int32, .int32(let v)):
            ProtoWriter.appendFixed32(3, to: &out)
            ProtoWriter.appendFixed32(4, to: &out)
            ProtoWriter.appendFixed32(UInt32(bitPattern: v[row]), to: &out)
        case (.int32, .int64(let v)):
            guard let narrowed = Int32(exactly: v[row]) else {
                throw MaterializeValueError("join key \"\(joinKey)\" value \(v[row]) does not fit Int32")
            }
            ProtoWriter.appendFixed32(3, to: &out)
            ProtoWriter.appendFixed32(4, to: &out)
            ProtoWriter.appendFixed32(UInt32(bitPattern: narrowed), to: &out)
        case (.string, .byteArray(let v)), (.bytes, .byteArray(let v)):
            let bytes = v.value(at: row)
            ProtoWriter.appendFixed32(type == .string ? 2 : 1, to: &out)
            ProtoWriter.appendFixed32(UInt32(bytes.count), to: &out)
            out.append(contentsOf: bytes)
        default:
            throw MaterializeValueError("join key \"\(joinKey)\" is a \(column.type) column, which cannot be a \(type) entity key")
        }
    }

    /// The entity value of `row` as a FeastValue (for historical output and tests).
    public func value(row: Int, column: ColumnData, keyIndex i: Int) -> FeastValue {
        if column.isNull(row) { return .null }
        switch (types[i], column.values) {
        case (.int64, .int64(let v)): return .int64(v[row])
        case (.int64, .int32(let v)): return .int64(Int64(v[row]))
        case (.int32, .int32(let v)): return .int32(v[row])
        case (.int32, .int64(let v)): return Int32(exactly: v[row]).map(FeastValue.int32) ?? .null
        case (.string, .byteArray(let v)): return .string(v.string(at: row))
        case (.bytes, .byteArray(let v)): return .bytes(Array(v.value(at: row)))
        case (.unixTimestamp, .int64(let v)): return .unixTimestamp(v[row])
        default: return .null
        }
    }
}
