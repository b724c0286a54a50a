/// Errors from decoding protobuf bytes. `context` names the message and field being read
/// (for example `feast.types.Value.int64_list_val`) so a bad byte string can be traced.
public struct ProtoDecodeError: Error, Equatable, CustomStringConvertible, Sendable {
    public enum Reason: Equatable, Sendable {
        case truncated
        case malformedVarint
        case unsupportedWireType(UInt8)
        case wrongWireType(expected: String, found: UInt8)
        case invalidUTF8
        case invalidFieldNumber
        case unsupportedMember(String)
        case invalidValue(String)
    }
    public let context: String
    public let offset: Int
    public let reason: Reason

    public init(context: String, offset: Int, reason: Reason) {
        self.context = context
        self.offset = offset
        self.reason = reason
    }

    public var description: String {
        let what: String
        switch reason {
        case .truncated: what = "data ends in the middle of the field"
        case .malformedVarint: what = "malformed varint (more than 10 bytes)"
        case .unsupportedWireType(let w): what = "unsupported wire type \(w)"
        case .wrongWireType(let expected, let found): what = "expected \(expected), found wire type \(found)"
        case .invalidUTF8: what = "string is not valid UTF-8"
        case .invalidFieldNumber: what = "field number 0 is invalid"
        case .unsupportedMember(let name): what = "unsupported member \(name)"
        case .invalidValue(let detail): what = detail
        }
        return "protobuf decode error in \(context) at byte \(offset): \(what)"
    }
}

/// Cursor over one protobuf message inside a shared byte array (sub-messages share the
/// same storage; only the bounds differ).
public struct ProtoReader {
    public let bytes: [UInt8]
    public private(set) var position: Int
    public let end: Int
    /// Message name used in error messages.
    public let message: String

    public init(_ bytes: [UInt8], message: String) {
        self.init(bytes, range: 0..<bytes.count, message: message)
    }

    public init(_ bytes: [UInt8], range: Range<Int>, message: String) {
        self.bytes = bytes
        self.position = range.lowerBound
        self.end = range.upperBound
        self.message = message
    }

    public var isAtEnd: Bool { position >= end }

    public func error(_ field: String, _ reason: ProtoDecodeError.Reason, at offset: Int? = nil) -> ProtoDecodeError {
        ProtoDecodeError(context: field.isEmpty ? message : "\(message).\(field)", offset: offset ?? position, reason: reason)
    }

    public struct Tag: Equatable {
        public let field: Int
        public let wireType: UInt8
    }

    public mutating func readTag() throws -> Tag {
        let start = position
        let key = try readVarint(field: "")
        let field = Int(truncatingIfNeeded: key >> 3)
        if field == 0 || key >> 3 > UInt64(Int32.max) {
            throw error("", .invalidFieldNumber, at: start)
        }
        return Tag(field: field, wireType: UInt8(key & 7))
    }

    public mutating func readVarint(field: String) throws -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        let start = position
        while true {
            guard position < end else { throw error(field, .truncated, at: start) }
            let byte = bytes[position]
            position += 1
            if shift == 63 && byte > 1 { throw error(field, .malformedVarint, at: start) }
            result |= UInt64(byte & 0x7f) << shift
            if byte & 0x80 == 0 { return result }
            shift += 7
            if shift > 63 { throw error(field, .malformedVarint, at: start) }
        }
    }

    public mutating func readFixed32(field: String) throws -> UInt32 {
        guard end - position >= 4 else { throw error(field, .truncated) }
        var v: UInt32 = 0
        for i in 0..<4 { v |= UInt32(bytes[position + i]) << (8 * UInt32(i)) }
        position += 4
        return v
    }

    public mutating func readFixed64(field: String) throws -> UInt64 {
        guard end - position >= 8 else { throw error(field, .truncated) }
        var v: UInt64 = 0
        for i in 0..<8 { v |= UInt64(bytes[position + i]) << (8 * UInt64(i)) }
        position += 8
        return v
    }

    /// Reads a length prefix and returns the range of the payload, advancing past it.
    public mutating func readLengthDelimited(field: String) throws -> Range<Int> {
        let start = position
        let length = try readVarint(field: field)
        guard length <= UInt64(end - position) else { throw error(field, .truncated, at: start) }
        let range = position..<(position + Int(length))
        position = range.upperBound
        return range
    }

    public mutating func readString(field: String) throws -> String {
        let range = try readLengthDelimited(field: field)
        guard let s = String(validating: bytes[range], as: UTF8.self) else {
            throw error(field, .invalidUTF8, at: range.lowerBound)
        }
        return s
    }

    public mutating func readBytes(field: String) throws -> [UInt8] {
        Array(bytes[try readLengthDelimited(field: field)])
    }

    /// Reader over a nested message (wire type 2 payload).
    public mutating func readMessage(field: String, message: String) throws -> ProtoReader {
        let range = try readLengthDelimited(field: field)
        return ProtoReader(bytes, range: range, message: message)
    }

    /// Skips a field we do not interpret (unknown fields are legal in protobuf).
    public mutating func skip(_ tag: Tag) throws {
        let name = "field \(tag.field)"
        switch tag.wireType {
        case 0: _ = try readVarint(field: name)
        case 1: _ = try readFixed64(field: name)
        case 2: _ = try readLengthDelimited(field: name)
        case 5: _ = try readFixed32(field: name)
        default: throw error(name, .unsupportedWireType(tag.wireType))
        }
    }

    public func expect(_ tag: Tag, _ wireType: ProtoWireType, field: String) throws {
        guard tag.wireType == wireType.rawValue else {
            throw error(field, .wrongWireType(expected: "\(wireType)", found: tag.wireType))
        }
    }
}
