#if canImport(Glibc)
import Glibc
#endif
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
        // One-byte tags only: fields 1-8 (bytes_val ... unix_timestamp_val), 12-15 (lists).
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
        case (12, 2), (13, 2), (14, 2), (15, 2):
            guard let n = readVarint(b, &at), n == UInt64(b.count - at) else { return nil }
            return writeList(field, UnsafeRawBufferPointer(rebasing: b[at...]), out)
        default:
            return nil
        }
        return false
    }

    /// The longest reply `writeFixedScalar` writes: a RESP2 bulk of the longest double text.
    public static let maxFixedReply = 48

    /// `writeScalar`'s reply for the members whose reply is short and bounded (double, float,
    /// int32, int64, unix timestamp, bool), written at `p` (room for `maxFixedReply` bytes);
    /// its length, or nil for every other shape (nothing written; the caller uses writeScalar).
    /// The same bytes as writeScalar through ReplyWriter (RESPNumberFormat's digits).
    @inline(__always)
    public static func writeFixedScalar(_ b: UnsafeRawBufferPointer, resp3: Bool, to p: UnsafeMutablePointer<UInt8>) -> Int? {
        guard b.count >= 2 else { return nil }
        let tag = b[0]
        let v: Double
        switch tag {
        case 0x29:   // double_val, fixed64
            guard b.count == 9 else { return nil }
            v = Double(bitPattern: UInt64(littleEndian: b.loadUnaligned(fromByteOffset: 1, as: UInt64.self)))
        case 0x35:   // float_val, fixed32
            guard b.count == 5 else { return nil }
            v = Double(Float(bitPattern: UInt32(littleEndian: b.loadUnaligned(fromByteOffset: 1, as: UInt32.self))))
        case 0x18, 0x20, 0x40, 0x38:   // int32_val, int64_val, unix_timestamp_val, bool_val: varints
            var at = 1
            guard let x = readVarint(b, &at), at == b.count else { return nil }
            if tag == 0x38 && resp3 {
                p[0] = UInt8(ascii: "#"); p[1] = x != 0 ? UInt8(ascii: "t") : UInt8(ascii: "f"); p[2] = 13; p[3] = 10
                return 4
            }
            let n = tag == 0x38 ? (x != 0 ? 1 : 0) : tag == 0x18 ? Int(Int32(truncatingIfNeeded: x)) : Int(Int64(bitPattern: x))
            p[0] = UInt8(ascii: ":")
            let len = RESPNumberFormat.writeDecimal(n, to: p + 1)
            p[len + 1] = 13; p[len + 2] = 10
            return len + 3
        default:
            return nil
        }
        if resp3 {
            p[0] = UInt8(ascii: ",")
            let len = RESPNumberFormat.writeDouble(v, to: p + 1)
            p[len + 1] = 13; p[len + 2] = 10
            return len + 3
        }
        // RESP2: a bulk string; the digits go 5 bytes in (room for `$NN\r\n`), then move up
        // a byte when the length has one digit.
        let len = RESPNumberFormat.writeDouble(v, to: p + 5)
        var at = 0
        p[0] = UInt8(ascii: "$")
        if len >= 10 {
            p[1] = UInt8(truncatingIfNeeded: 48 + len / 10); p[2] = UInt8(truncatingIfNeeded: 48 + len % 10); at = 3
        } else {
            p[1] = UInt8(truncatingIfNeeded: 48 + len); at = 2
        }
        p[at] = 13; p[at + 1] = 10
        if at == 2 { memmove(p + 4, p + 5, len) }
        at += 2 + len
        p[at] = 13; p[at + 1] = 10
        return at + 2
    }

    /// string_list_val, int32/int64_list_val (one packed run) and double_list_val (one packed
    /// run), the shapes Feast writes; nil for anything else, before anything is written.
    /// Measured reason: the Array(Int64)/Array(String) features took the full decoder (an
    /// Array copy, a FeastValue, a Swift array per list and a String per element): 2 of the
    /// 110 mallocs per entity of a 100 x 50 FEATURES.GET (callgrind).
    static func writeList(_ field: UInt8, _ list: UnsafeRawBufferPointer, _ out: ReplyWriter) -> Bool? {
        guard !list.isEmpty else { return nil }   // empty lists: the full decoder (rare)
        if field == 12 {
            // Every element its own `0x0A len bytes`, ASCII (no UTF-8 validation needed).
            var at = 0, count = 0
            while at < list.count {
                guard list[at] == 0x0A else { return nil }
                at += 1
                guard let n = readVarint(list, &at), n <= UInt64(list.count - at) else { return nil }
                for i in at..<(at + Int(n)) where list[i] >= 0x80 { return nil }
                at += Int(n); count += 1
            }
            out.arrayHeader(count)
            at = 0
            while at < list.count {
                at += 1
                let n = Int(readVarint(list, &at)!)
                out.bulk(UnsafeRawBufferPointer(rebasing: list[at..<(at + n)]))
                at += n
            }
            return false
        }
        // One packed run: `0x0A len` then the elements, exactly to the end.
        var at = 0
        guard list[0] == 0x0A else { return nil }
        at = 1
        guard let n = readVarint(list, &at), n == UInt64(list.count - at) else { return nil }
        let run = UnsafeRawBufferPointer(rebasing: list[at...])
        if field == 15 {
            guard run.count % 8 == 0 else { return nil }
            out.arrayHeader(run.count / 8)
            for i in stride(from: 0, to: run.count, by: 8) {
                out.double(Double(bitPattern: UInt64(littleEndian: run.loadUnaligned(fromByteOffset: i, as: UInt64.self))))
            }
            return false
        }
        var count = 0
        at = 0
        while at < run.count {
            guard readVarint(run, &at) != nil else { return nil }
            count += 1
        }
        out.arrayHeader(count)
        at = 0
        while at < run.count {
            let v = readVarint(run, &at)!
            out.integer(field == 13 ? Int(Int32(truncatingIfNeeded: v)) : Int(Int64(bitPattern: v)))
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

/// Stored Feast protobufs written straight into Feast's JSON (`_value_to_native`), the HTTP
/// twin of ValueReply: the same shapes (one scalar member; string, int32, int64 and double
/// lists as one run) from the hash's bytes; nil for anything else, before anything is written,
/// and the caller decodes a FeastValue and writes it with JSONWriter.feast.
/// Measured reason: the HTTP read decoded a FeastValue per served value (an Array copy, a
/// String or Array payload) into a FeatureCell array per (row, view): FeatureRead.read was
/// 13.8M of the 33.7M instructions of a 100 x 50 request under callgrind, 4.8M of it the hash lookup.
enum ValueJSON {
    static func writeScalar(_ b: UnsafeRawBufferPointer, _ w: inout JSONWriter) -> Bool? {
        guard let base = b.baseAddress, b.count >= 2 else { return nil }
        let tag = base.load(as: UInt8.self)
        guard tag < 0x80 else { return nil }
        let field = tag >> 3, wire = tag & 7
        var at = 1
        switch (field, wire) {
        case (1, 2), (2, 2):
            guard let n = ValueReply.readVarint(b, &at), n == UInt64(b.count - at) else { return nil }
            let payload = UnsafeRawBufferPointer(rebasing: b[at...])
            if field == 1 { w.base64String(payload); return false }
            for byte in payload where byte >= 0x80 { return nil }
            w.string(utf8: payload)
        case (3, 0), (4, 0), (8, 0), (7, 0):
            guard let v = ValueReply.readVarint(b, &at), at == b.count else { return nil }
            switch field {
            case 3: w.integer(Int64(Int32(truncatingIfNeeded: v)))
            case 7: w.raw(v != 0 ? "true" as StaticString : "false")
            default: w.integer(Int64(bitPattern: v))
            }
        case (5, 1):
            guard b.count == 9 else { return nil }
            w.double(Double(bitPattern: UInt64(littleEndian: b.loadUnaligned(fromByteOffset: 1, as: UInt64.self))))
        case (6, 5):
            guard b.count == 5 else { return nil }
            w.double(Double(Float(bitPattern: UInt32(littleEndian: b.loadUnaligned(fromByteOffset: 1, as: UInt32.self)))))
        case (12, 2), (13, 2), (14, 2), (15, 2):
            guard let n = ValueReply.readVarint(b, &at), n == UInt64(b.count - at) else { return nil }
            return writeList(field, UnsafeRawBufferPointer(rebasing: b[at...]), &w)
        default:
            return nil
        }
        return false
    }

    static func writeList(_ field: UInt8, _ list: UnsafeRawBufferPointer, _ w: inout JSONWriter) -> Bool? {
        guard !list.isEmpty else { return nil }
        if field == 12 {
            var at = 0
            while at < list.count {
                guard list[at] == 0x0A else { return nil }
                at += 1
                guard let n = ValueReply.readVarint(list, &at), n <= UInt64(list.count - at) else { return nil }
                for i in at..<(at + Int(n)) where list[i] >= 0x80 { return nil }
                at += Int(n)
            }
            w.raw(91)
            at = 0
            var first = true
            while at < list.count {
                at += 1
                let n = Int(ValueReply.readVarint(list, &at)!)
                if !first { w.raw(44) }
                first = false
                w.string(utf8: UnsafeRawBufferPointer(rebasing: list[at..<(at + n)]))
                at += n
            }
            w.raw(93)
            return false
        }
        guard list[0] == 0x0A else { return nil }
        var at = 1
        guard let n = ValueReply.readVarint(list, &at), n == UInt64(list.count - at) else { return nil }
        let run = UnsafeRawBufferPointer(rebasing: list[at...])
        if field == 15 {
            guard run.count % 8 == 0 else { return nil }
            w.raw(91)
            for i in stride(from: 0, to: run.count, by: 8) {
                if i > 0 { w.raw(44) }
                w.double(Double(bitPattern: UInt64(littleEndian: run.loadUnaligned(fromByteOffset: i, as: UInt64.self))))
            }
            w.raw(93)
            return false
        }
        at = 0
        while at < run.count {
            guard ValueReply.readVarint(run, &at) != nil else { return nil }
        }
        w.raw(91)
        at = 0
        var first = true
        while at < run.count {
            let v = ValueReply.readVarint(run, &at)!
            if !first { w.raw(44) }
            first = false
            w.integer(field == 13 ? Int64(Int32(truncatingIfNeeded: v)) : Int64(bitPattern: v))
        }
        w.raw(93)
        return false
    }
}
