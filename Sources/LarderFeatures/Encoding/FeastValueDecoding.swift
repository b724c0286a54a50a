/// Decoding of `feast.types.Value` bytes. Accepts everything a conforming protobuf parser
/// accepts for the modelled members: packed and unpacked repeated scalars, unknown fields
/// (skipped), and several oneof members (the last one wins, as in protobuf).
extension FeastValue {
    /// Names of the `Value` oneof members, for error messages.
    static let memberNames: [Int: String] = [
        1: "bytes_val", 2: "string_val", 3: "int32_val", 4: "int64_val", 5: "double_val",
        6: "float_val", 7: "bool_val", 8: "unix_timestamp_val", 11: "bytes_list_val",
        12: "string_list_val", 13: "int32_list_val", 14: "int64_list_val", 15: "double_list_val",
        16: "float_list_val", 17: "bool_list_val", 18: "unix_timestamp_list_val", 19: "null_val",
        20: "map_val", 21: "map_list_val", 22: "bytes_set_val", 23: "string_set_val",
        24: "int32_set_val", 25: "int64_set_val", 26: "double_set_val", 27: "float_set_val",
        28: "bool_set_val", 29: "unix_timestamp_set_val", 32: "json_val", 33: "json_list_val",
        34: "struct_val", 35: "struct_list_val", 36: "uuid_val", 37: "time_uuid_val",
        38: "uuid_list_val", 39: "time_uuid_list_val", 40: "uuid_set_val", 41: "time_uuid_set_val",
        42: "list_val", 43: "set_val", 44: "decimal_val", 45: "decimal_list_val",
        46: "decimal_set_val", 47: "scalar_map_val", 48: "zoned_timestamp_val",
    ]

    /// Decodes serialized Value bytes. Empty input is `.null`, as Feast treats it.
    public static func decode(_ bytes: [UInt8]) throws -> FeastValue {
        var reader = ProtoReader(bytes, message: "feast.types.Value")
        return try decode(from: &reader)
    }

    public static func decode(from reader: inout ProtoReader) throws -> FeastValue {
        var value = FeastValue.null
        while !reader.isAtEnd {
            let tag = try reader.readTag()
            guard let name = memberNames[tag.field] else {
                try reader.skip(tag)
                continue
            }
            value = try decodeMember(tag, name: name, reader: &reader)
        }
        return value
    }

    private static func decodeMember(_ tag: ProtoReader.Tag, name: String, reader: inout ProtoReader) throws -> FeastValue {
        switch tag.field {
        case 1:
            try reader.expect(tag, .lengthDelimited, field: name)
            return .bytes(try reader.readBytes(field: name))
        case 2:
            try reader.expect(tag, .lengthDelimited, field: name)
            return .string(try reader.readString(field: name))
        case 3:
            try reader.expect(tag, .varint, field: name)
            return .int32(Int32(truncatingIfNeeded: try reader.readVarint(field: name)))
        case 4:
            try reader.expect(tag, .varint, field: name)
            return .int64(Int64(bitPattern: try reader.readVarint(field: name)))
        case 5:
            try reader.expect(tag, .fixed64, field: name)
            return .double(Double(bitPattern: try reader.readFixed64(field: name)))
        case 6:
            try reader.expect(tag, .fixed32, field: name)
            return .float(Float(bitPattern: try reader.readFixed32(field: name)))
        case 7:
            try reader.expect(tag, .varint, field: name)
            return .bool(try reader.readVarint(field: name) != 0)
        case 8:
            try reader.expect(tag, .varint, field: name)
            return .unixTimestamp(Int64(bitPattern: try reader.readVarint(field: name)))
        case 11...18:
            try reader.expect(tag, .lengthDelimited, field: name)
            var list = try reader.readMessage(field: name, message: "feast.types.Value.\(name)")
            return try decodeList(field: tag.field, reader: &list)
        case 19:
            // null_val (enum Null) is an explicit null.
            try reader.expect(tag, .varint, field: name)
            _ = try reader.readVarint(field: name)
            return .null
        default:
            throw reader.error(name, .unsupportedMember(name))
        }
    }

    private static func decodeList(field: Int, reader: inout ProtoReader) throws -> FeastValue {
        switch field {
        case 11:
            var items: [[UInt8]] = []
            try forEachElement(&reader, lengthDelimited: { r in items.append(try r.readBytes(field: "val")) })
            return .bytesList(items)
        case 12:
            var items: [String] = []
            try forEachElement(&reader, lengthDelimited: { r in items.append(try r.readString(field: "val")) })
            return .stringList(items)
        case 13:
            var items: [Int32] = []
            try forEachScalar(&reader, wireType: .varint) { r in
                items.append(Int32(truncatingIfNeeded: try r.readVarint(field: "val")))
            }
            return .int32List(items)
        case 14, 18:
            var items: [Int64] = []
            try forEachScalar(&reader, wireType: .varint) { r in
                items.append(Int64(bitPattern: try r.readVarint(field: "val")))
            }
            return field == 14 ? .int64List(items) : .unixTimestampList(items)
        case 15:
            var items: [Double] = []
            try forEachScalar(&reader, wireType: .fixed64) { r in
                items.append(Double(bitPattern: try r.readFixed64(field: "val")))
            }
            return .doubleList(items)
        case 16:
            var items: [Float] = []
            try forEachScalar(&reader, wireType: .fixed32) { r in
                items.append(Float(bitPattern: try r.readFixed32(field: "val")))
            }
            return .floatList(items)
        default: // 17
            var items: [Bool] = []
            try forEachScalar(&reader, wireType: .varint) { r in items.append(try r.readVarint(field: "val") != 0) }
            return .boolList(items)
        }
    }

    /// Repeated string/bytes: every `val` is its own length-delimited field.
    private static func forEachElement(_ reader: inout ProtoReader, lengthDelimited read: (inout ProtoReader) throws -> Void) throws {
        while !reader.isAtEnd {
            let tag = try reader.readTag()
            guard tag.field == 1 else { try reader.skip(tag); continue }
            try reader.expect(tag, .lengthDelimited, field: "val")
            try read(&reader)
        }
    }

    /// Repeated numeric/bool: accepts the packed form (one length-delimited run) and the
    /// unpacked form (one tagged field per element), mixed in any order.
    private static func forEachScalar(_ reader: inout ProtoReader, wireType: ProtoWireType,
                                      read: (inout ProtoReader) throws -> Void) throws {
        while !reader.isAtEnd {
            let tag = try reader.readTag()
            guard tag.field == 1 else { try reader.skip(tag); continue }
            if tag.wireType == ProtoWireType.lengthDelimited.rawValue {
                var packed = try reader.readMessage(field: "val", message: reader.message + ".val")
                while !packed.isAtEnd { try read(&packed) }
            } else {
                try reader.expect(tag, wireType, field: "val")
                try read(&reader)
            }
        }
    }
}
