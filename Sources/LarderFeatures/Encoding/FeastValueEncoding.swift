/// Protobuf encoding of `feast.types.Value`, byte-identical to Python protobuf's
/// `SerializeToString()`:
/// * the oneof member is always written, even when it holds a default (0, false, "", []);
/// * list wrappers (`Int64List` ...) hold one repeated field 1; numeric and bool lists are
///   packed, and an empty list writes an empty wrapper (`72 00`), not nothing;
/// * string/bytes list elements are written one by one, empty ones included;
/// * floats and doubles are written by bit pattern, so NaN and -0.0 survive.
extension FeastValue {
    public func encoded() -> [UInt8] {
        var out: [UInt8] = []
        encode(into: &out)
        return out
    }

    /// Appends the serialized Value to `out` (nothing for `.null`).
    public func encode(into out: inout [UInt8]) {
        let field = fieldNumber
        switch self {
        case .null:
            return
        case .bytes(let b):
            ProtoWriter.appendLengthDelimited(field: field, b, to: &out)
        case .string(let s):
            ProtoWriter.appendLengthDelimited(field: field, s.utf8, to: &out)
        case .int32(let v):
            ProtoWriter.appendTag(field: field, wireType: .varint, to: &out)
            ProtoWriter.appendSignedVarint(Int64(v), to: &out)
        case .int64(let v), .unixTimestamp(let v):
            ProtoWriter.appendTag(field: field, wireType: .varint, to: &out)
            ProtoWriter.appendSignedVarint(v, to: &out)
        case .double(let v):
            ProtoWriter.appendTag(field: field, wireType: .fixed64, to: &out)
            ProtoWriter.appendFixed64(v.bitPattern, to: &out)
        case .float(let v):
            ProtoWriter.appendTag(field: field, wireType: .fixed32, to: &out)
            ProtoWriter.appendFixed32(v.bitPattern, to: &out)
        case .bool(let v):
            ProtoWriter.appendTag(field: field, wireType: .varint, to: &out)
            out.append(v ? 1 : 0)
        case .bytesList(let items):
            ProtoWriter.appendMessage(field: field, to: &out) { body in
                for item in items { ProtoWriter.appendLengthDelimited(field: 1, item, to: &body) }
            }
        case .stringList(let items):
            ProtoWriter.appendMessage(field: field, to: &out) { body in
                for item in items { ProtoWriter.appendLengthDelimited(field: 1, item.utf8, to: &body) }
            }
        case .int32List(let items):
            Self.appendPackedVarints(field: field, items.lazy.map { Int64($0) }, to: &out)
        case .int64List(let items), .unixTimestampList(let items):
            Self.appendPackedVarints(field: field, items, to: &out)
        case .doubleList(let items):
            Self.appendWrapper(field: field, packedPayloadSize: items.count * 8, to: &out) { body in
                for item in items { ProtoWriter.appendFixed64(item.bitPattern, to: &body) }
            }
        case .floatList(let items):
            Self.appendWrapper(field: field, packedPayloadSize: items.count * 4, to: &out) { body in
                for item in items { ProtoWriter.appendFixed32(item.bitPattern, to: &body) }
            }
        case .boolList(let items):
            Self.appendWrapper(field: field, packedPayloadSize: items.count, to: &out) { body in
                for item in items { body.append(item ? 1 : 0) }
            }
        }
    }

    private static func appendPackedVarints<S: Sequence>(field: Int, _ items: S, to out: inout [UInt8]) where S.Element == Int64 {
        var payloadSize = 0
        for item in items { payloadSize += ProtoWriter.varintSize(UInt64(bitPattern: item)) }
        appendWrapper(field: field, packedPayloadSize: payloadSize, to: &out) { body in
            for item in items { ProtoWriter.appendSignedVarint(item, to: &body) }
        }
    }

    /// Writes `Value.<field> = XList{ val: [packed payload] }`; sizes are known up front so
    /// both length prefixes are written directly. An empty list gives an empty wrapper.
    private static func appendWrapper(field: Int, packedPayloadSize: Int, to out: inout [UInt8],
                                      _ payload: (inout [UInt8]) -> Void) {
        ProtoWriter.appendTag(field: field, wireType: .lengthDelimited, to: &out)
        if packedPayloadSize == 0 {
            out.append(0)
            return
        }
        let innerSize = 1 + ProtoWriter.varintSize(UInt64(packedPayloadSize)) + packedPayloadSize
        ProtoWriter.appendVarint(UInt64(innerSize), to: &out)
        ProtoWriter.appendTag(field: 1, wireType: .lengthDelimited, to: &out)
        ProtoWriter.appendVarint(UInt64(packedPayloadSize), to: &out)
        payload(&out)
    }
}
