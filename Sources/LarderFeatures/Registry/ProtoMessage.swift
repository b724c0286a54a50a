/// A parsed protobuf message: its fields in wire order, with typed accessors. Used for the
/// registry, where messages are small and read once, so simplicity beats streaming.
/// Accessors follow protobuf rules: for a singular field the last occurrence wins; a missing
/// field reads as its default; a field with the wrong wire type is an error naming it.
struct ProtoMessage {
    enum Payload {
        case varint(UInt64)
        case fixed64(UInt64)
        case fixed32(UInt32)
        case bytes(Range<Int>)
    }

    let name: String
    let bytes: [UInt8]
    private(set) var fields: [(number: Int, payload: Payload)] = []

    init(_ bytes: [UInt8], range: Range<Int>? = nil, name: String) throws {
        self.name = name
        self.bytes = bytes
        var reader = ProtoReader(bytes, range: range ?? 0..<bytes.count, message: name)
        while !reader.isAtEnd {
            let tag = try reader.readTag()
            let field = "field \(tag.field)"
            switch tag.wireType {
            case 0: fields.append((tag.field, .varint(try reader.readVarint(field: field))))
            case 1: fields.append((tag.field, .fixed64(try reader.readFixed64(field: field))))
            case 2: fields.append((tag.field, .bytes(try reader.readLengthDelimited(field: field))))
            case 5: fields.append((tag.field, .fixed32(try reader.readFixed32(field: field))))
            default: throw reader.error(field, .unsupportedWireType(tag.wireType))
            }
        }
    }

    func has(_ number: Int) -> Bool { fields.contains { $0.number == number } }

    private func wrongType(_ number: Int, _ label: String, expected: String) -> ProtoDecodeError {
        ProtoDecodeError(context: "\(name).\(label)", offset: 0, reason: .invalidValue("expected \(expected)"))
    }

    private func lengthDelimited(_ number: Int, _ label: String) throws -> [Range<Int>] {
        try fields.filter { $0.number == number }.map {
            guard case .bytes(let r) = $0.payload else { throw wrongType(number, label, expected: "a length-delimited field") }
            return r
        }
    }

    func strings(_ number: Int, _ label: String) throws -> [String] {
        try lengthDelimited(number, label).map {
            guard let s = String(validating: bytes[$0], as: UTF8.self) else {
                throw ProtoDecodeError(context: "\(name).\(label)", offset: $0.lowerBound, reason: .invalidUTF8)
            }
            return s
        }
    }

    func string(_ number: Int, _ label: String) throws -> String {
        try strings(number, label).last ?? ""
    }

    func messages(_ number: Int, _ label: String, type: String) throws -> [ProtoMessage] {
        try lengthDelimited(number, label).map { try ProtoMessage(bytes, range: $0, name: type) }
    }

    func message(_ number: Int, _ label: String, type: String) throws -> ProtoMessage? {
        try messages(number, label, type: type).last
    }

    func varint(_ number: Int, _ label: String) throws -> UInt64 {
        guard let last = fields.last(where: { $0.number == number }) else { return 0 }
        guard case .varint(let v) = last.payload else { throw wrongType(number, label, expected: "a varint") }
        return v
    }

    func int64(_ number: Int, _ label: String) throws -> Int64 { Int64(bitPattern: try varint(number, label)) }

    func bool(_ number: Int, _ label: String) throws -> Bool { try varint(number, label) != 0 }

    /// `map<string, string>`: repeated entries {1 key, 2 value}.
    func stringMap(_ number: Int, _ label: String) throws -> [String: String] {
        var out: [String: String] = [:]
        for entry in try messages(number, label, type: "\(name).\(label)Entry") {
            out[try entry.string(1, "key")] = try entry.string(2, "value")
        }
        return out
    }

    /// `google.protobuf.Timestamp` / `Duration`.
    func timestamp(_ number: Int, _ label: String) throws -> ProtoTimestamp? {
        guard let m = try message(number, label, type: "google.protobuf.Timestamp") else { return nil }
        return ProtoTimestamp(seconds: try m.int64(1, "seconds"), nanos: Int32(truncatingIfNeeded: try m.int64(2, "nanos")))
    }
}
