/// Minimal protobuf wire-format writer, appending to a caller-owned byte buffer so that
/// hot paths (materialization) can reuse one buffer for every value.
public enum ProtoWireType: UInt8, Sendable {
    case varint = 0
    case fixed64 = 1
    case lengthDelimited = 2
    case fixed32 = 5
}

public enum ProtoWriter {
    @inlinable
    public static func appendVarint(_ value: UInt64, to out: inout [UInt8]) {
        var v = value
        while v >= 0x80 {
            out.append(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        out.append(UInt8(truncatingIfNeeded: v))
    }

    /// Number of bytes `appendVarint` writes, needed to emit length prefixes up front.
    @inlinable
    public static func varintSize(_ value: UInt64) -> Int {
        var v = value
        var n = 1
        while v >= 0x80 {
            v >>= 7
            n += 1
        }
        return n
    }

    @inlinable
    public static func appendTag(field: Int, wireType: ProtoWireType, to out: inout [UInt8]) {
        appendVarint(UInt64(field) << 3 | UInt64(wireType.rawValue), to: &out)
    }

    /// int32/int64/enum: negative numbers are sign-extended to 64 bits (10 bytes), as protobuf does.
    @inlinable
    public static func appendSignedVarint(_ value: Int64, to out: inout [UInt8]) {
        appendVarint(UInt64(bitPattern: value), to: &out)
    }

    @inlinable
    public static func appendFixed32(_ value: UInt32, to out: inout [UInt8]) {
        out.append(UInt8(truncatingIfNeeded: value))
        out.append(UInt8(truncatingIfNeeded: value >> 8))
        out.append(UInt8(truncatingIfNeeded: value >> 16))
        out.append(UInt8(truncatingIfNeeded: value >> 24))
    }

    @inlinable
    public static func appendFixed64(_ value: UInt64, to out: inout [UInt8]) {
        for shift in stride(from: 0, to: 64, by: 8) {
            out.append(UInt8(truncatingIfNeeded: value >> UInt64(shift)))
        }
    }

    @inlinable
    public static func appendLengthDelimited<Bytes: Collection>(field: Int, _ bytes: Bytes, to out: inout [UInt8])
    where Bytes.Element == UInt8 {
        appendTag(field: field, wireType: .lengthDelimited, to: &out)
        appendVarint(UInt64(bytes.count), to: &out)
        out.append(contentsOf: bytes)
    }

    /// Writes a nested message whose body is produced by `body`, patching in the length afterwards.
    /// The body is written in place and moved only if its length prefix needs more than one byte.
    @inlinable
    public static func appendMessage(field: Int, to out: inout [UInt8], _ body: (inout [UInt8]) -> Void) {
        appendTag(field: field, wireType: .lengthDelimited, to: &out)
        let lengthAt = out.count
        out.append(0)
        let bodyStart = out.count
        body(&out)
        let bodyLength = out.count - bodyStart
        if bodyLength < 0x80 {
            out[lengthAt] = UInt8(bodyLength)
        } else {
            var prefix: [UInt8] = []
            appendVarint(UInt64(bodyLength), to: &prefix)
            out.replaceSubrange(lengthAt..<bodyStart, with: prefix)
        }
    }
}
