import LarderFeatures
import LarderRESP

/// Stored Feast protobufs written straight into a RESP reply, without a FeastValue in between.
///
/// Why: decoding every stored value into a FeastValue first copied the bytes into an Array,
/// then built the enum (a String or Array payload for strings and bytes); these allocations
/// were per served value. The fast path here reads the common shape, a Value with exactly one
/// scalar member (what Feast, `larder materialize` and FEATURES.PUSH write), from the hash's
/// own bytes. Anything else (lists, several members, unknown fields, non-ASCII strings that
/// need UTF-8 validation, malformed bytes) returns `nil` and the caller decodes with
/// FeastValue.decode, so replies and errors stay those of the full decoder.
public enum ValueReply {
    /// Writes a non-empty Value with one scalar member; nil when the bytes are not that shape.
    /// The written value is never null (null_val and empty bytes take the slow path).
    public static func writeScalar(_ b: UnsafeRawBufferPointer, _ out: ReplyWriter) -> Bool? {
        guard let base = b.baseAddress, b.count >= 2 else { return nil }
        let tag = base.load(as: UInt8.self)
        // One-byte tags only: fields 1-8 (bytes_val ... unix_timestamp_val).
        guard tag < 0x80 else { return nil }
        let field = tag >> 3, wire = tag & 7
        var at = 1
        switch (field, wire) {
        case (1, 2), (2, 2):
            guard let n = readVarint(b, &at), n == UInt64(b.count - at) else { return nil }
            let payload = UnsafeRawBufferPointer(rebasing: b[at...])
            if field == 2 {
                // String(validating:) in the full decoder rejects invalid UTF-8; ASCII needs no check.
                for byte in payload where byte >= 0x80 { return nil }
            }
            out.bulk(payload)
        case (3, 0), (4, 0), (8, 0), (7, 0):
            guard let v = readVarint(b, &at), at == b.count else { return nil }
            switch field {
            case 3: out.integer(Int(Int32(truncatingIfNeeded: v)))
            case 7: out.boolean(v != 0)
            default: out.integer(Int(Int64(bitPattern: v)))
            }
        case (5, 1):
            guard b.count == 9 else { return nil }
            out.double(Double(bitPattern: UInt64(littleEndian: b.loadUnaligned(fromByteOffset: 1, as: UInt64.self))))
        case (6, 5):
            guard b.count == 5 else { return nil }
            out.double(Double(Float(bitPattern: UInt32(littleEndian: b.loadUnaligned(fromByteOffset: 1, as: UInt32.self)))))
        default:
            return nil
        }
        return false
    }

    /// A google.protobuf.Timestamp of varint `seconds` (1) and `nanos` (2) fields, in any order;
    /// nil for anything else (the caller then uses ProtoTimestamp.decode for its error).
    public static func timestamp(_ b: UnsafeRawBufferPointer) -> ProtoTimestamp? {
        var ts = ProtoTimestamp(seconds: 0)
        var at = 0
        while at < b.count {
            let tag = b[at]; at += 1
            guard let v = readVarint(b, &at) else { return nil }
            switch tag {
            case 0x08: ts.seconds = Int64(bitPattern: v)
            case 0x10: ts.nanos = Int32(truncatingIfNeeded: v)
            default: return nil
            }
        }
        return ts
    }

    @inline(__always)
    static func readVarint(_ b: UnsafeRawBufferPointer, _ at: inout Int) -> UInt64? {
        var v: UInt64 = 0
        var shift: UInt64 = 0
        while at < b.count && shift < 64 {
            let byte = b[at]; at += 1
            v |= UInt64(byte & 0x7F) << shift
            if byte < 0x80 { return v }
            shift += 7
        }
        return nil
    }
}
