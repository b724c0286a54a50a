/// A malformed listpack or ziplist inside a snapshot value; the reader adds the key.
struct EncodingError: Error {
    var offset: Int
    var message: String
}

/// Decodes a listpack (Redis >= 7 small-aggregate encoding, src/listpack.c): a 6-byte header
/// (UInt32 total bytes, UInt16 element count, little-endian), elements each followed by a
/// back-length, and a 0xFF terminator. Integers come back as their decimal text, as Redis'
/// HGETALL shows them.
enum Listpack {
    static func elements(_ p: UnsafeRawBufferPointer) throws -> [[UInt8]] {
        guard p.count >= 7 else { throw EncodingError(offset: 0, message: "shorter than its 7-byte minimum") }
        let total = Int(UInt32(littleEndian: p.loadUnaligned(as: UInt32.self)))
        if total != p.count { throw EncodingError(offset: 0, message: "header says \(total) bytes, the string holds \(p.count)") }
        let declared = Int(UInt16(littleEndian: p.loadUnaligned(fromByteOffset: 4, as: UInt16.self)))
        var out: [[UInt8]] = []
        out.reserveCapacity(declared == 0xFFFF ? 16 : declared)
        var i = 6
        while true {
            guard i < p.count else { throw EncodingError(offset: i, message: "no 0xFF terminator") }
            let start = i
            let b = p[i]
            if b == 0xFF { i += 1; break }
            func need(_ n: Int) throws { if i + n > p.count - 1 { throw EncodingError(offset: start, message: "element runs past the end") } }
            if b & 0x80 == 0 {                       // 0xxxxxxx: 7-bit unsigned
                out.append(decimal(Int64(b))); i += 1
            } else if b & 0xC0 == 0x80 {             // 10xxxxxx: string of up to 63 bytes
                let n = Int(b & 0x3F); try need(1 + n)
                out.append(Array(p[i + 1..<i + 1 + n])); i += 1 + n
            } else if b & 0xE0 == 0xC0 {             // 110xxxxx yyyyyyyy: 13-bit signed
                try need(2)
                var v = Int64(b & 0x1F) << 8 | Int64(p[i + 1])
                if v >= 1 << 12 { v -= 1 << 13 }
                out.append(decimal(v)); i += 2
            } else if b & 0xF0 == 0xE0 {             // 1110xxxx yyyyyyyy: string of up to 4095 bytes
                try need(2)
                let n = Int(b & 0x0F) << 8 | Int(p[i + 1]); try need(2 + n)
                out.append(Array(p[i + 2..<i + 2 + n])); i += 2 + n
            } else {
                switch b {
                case 0xF0:                            // 32-bit length string
                    try need(5)
                    let n = Int(UInt32(littleEndian: p.loadUnaligned(fromByteOffset: i + 1, as: UInt32.self))); try need(5 + n)
                    out.append(Array(p[i + 5..<i + 5 + n])); i += 5 + n
                case 0xF1: try need(3); out.append(decimal(Int64(Int16(littleEndian: p.loadUnaligned(fromByteOffset: i + 1, as: Int16.self))))); i += 3
                case 0xF2:
                    try need(4)
                    var v = Int64(p[i + 1]) | Int64(p[i + 2]) << 8 | Int64(p[i + 3]) << 16
                    if v >= 1 << 23 { v -= 1 << 24 }
                    out.append(decimal(v)); i += 4
                case 0xF3: try need(5); out.append(decimal(Int64(Int32(littleEndian: p.loadUnaligned(fromByteOffset: i + 1, as: Int32.self))))); i += 5
                case 0xF4: try need(9); out.append(decimal(Int64(littleEndian: p.loadUnaligned(fromByteOffset: i + 1, as: Int64.self)))); i += 9
                default: throw EncodingError(offset: start, message: "unknown element encoding 0x\(String(b, radix: 16))")
                }
            }
            // The back-length (the element's size, read right to left when walking backwards):
            // checked against the size found walking forwards.
            let size = i - start
            let backLen = backLengthSize(size)
            if i + backLen > p.count - 1 { throw EncodingError(offset: i, message: "back-length runs past the end") }
            if decodeBackLength(p, endingAt: i + backLen - 1) != size {
                throw EncodingError(offset: i, message: "back-length does not match the element's size \(size)")
            }
            i += backLen
        }
        if i != p.count { throw EncodingError(offset: i, message: "bytes after the terminator") }
        if declared != 0xFFFF && declared != out.count {
            throw EncodingError(offset: 4, message: "header says \(declared) elements, found \(out.count)")
        }
        return out
    }

    /// The back-length whose last byte is at `end`, read right to left as listpack does.
    static func decodeBackLength(_ p: UnsafeRawBufferPointer, endingAt end: Int) -> Int {
        var v = 0, shift = 0, i = end
        while true {
            let b = p[i]
            v |= Int(b & 0x7F) << shift
            if b & 0x80 == 0 { break }
            shift += 7; i -= 1
        }
        return v
    }

    /// Encodes `elements` as a listpack of strings and integers (integers where the text is a
    /// canonical integer, as Redis does), for tests and for writing hashes with field TTLs.
    static func encode(_ elements: [[UInt8]]) -> [UInt8] {
        var out: [UInt8] = [0, 0, 0, 0, 0, 0]
        for e in elements {
            let start = out.count
            if let v = canonicalInteger(e) {
                if v >= 0 && v <= 127 { out.append(UInt8(v)) }
                else if v >= -4096 && v < 4096 { let u = UInt16(bitPattern: Int16(v)) & 0x1FFF; out += [0xC0 | UInt8(u >> 8), UInt8(u & 0xFF)] }
                else if v >= Int64(Int16.min) && v <= Int64(Int16.max) { out.append(0xF1); withUnsafeBytes(of: Int16(v).littleEndian) { out += $0 } }
                else if v >= -(1 << 23) && v < 1 << 23 { let u = UInt32(bitPattern: Int32(v)); out += [0xF2, UInt8(u & 0xFF), UInt8((u >> 8) & 0xFF), UInt8((u >> 16) & 0xFF)] }
                else if v >= Int64(Int32.min) && v <= Int64(Int32.max) { out.append(0xF3); withUnsafeBytes(of: Int32(v).littleEndian) { out += $0 } }
                else { out.append(0xF4); withUnsafeBytes(of: v.littleEndian) { out += $0 } }
            } else if e.count < 64 {
                out.append(0x80 | UInt8(e.count)); out += e
            } else if e.count < 4096 {
                out += [0xE0 | UInt8(e.count >> 8), UInt8(e.count & 0xFF)]; out += e
            } else {
                out.append(0xF0); withUnsafeBytes(of: UInt32(e.count).littleEndian) { out += $0 }; out += e
            }
            appendBackLength(&out, out.count - start)
        }
        out.append(0xFF)
        withUnsafeBytes(of: UInt32(out.count).littleEndian) { out.replaceSubrange(0..<4, with: $0) }
        withUnsafeBytes(of: UInt16(min(elements.count, 0xFFFF)).littleEndian) { out.replaceSubrange(4..<6, with: $0) }
        return out
    }

    /// Bytes of the back-length of an element of `size` bytes (listpack.c lpEncodeBacklen).
    static func backLengthSize(_ size: Int) -> Int {
        size <= 127 ? 1 : size < 16383 ? 2 : size < 2_097_151 ? 3 : size < 268_435_455 ? 4 : 5
    }

    /// 7-bit groups, highest first; every byte after the first has 0x80 set, so a reader going
    /// right to left knows where the length ends.
    static func appendBackLength(_ out: inout [UInt8], _ size: Int) {
        let n = backLengthSize(size)
        for k in 0..<n {
            let group = UInt8((size >> (7 * (n - 1 - k))) & 0x7F)
            out.append(k == 0 ? group : group | 0x80)
        }
    }
}

/// Decodes a ziplist (Redis <= 6.2 small-aggregate encoding, src/ziplist.c): header UInt32
/// bytes, UInt32 tail offset, UInt16 count (little-endian); entries of [prevlen][encoding][data];
/// 0xFF terminator.
enum Ziplist {
    static func elements(_ p: UnsafeRawBufferPointer) throws -> [[UInt8]] {
        guard p.count >= 11 else { throw EncodingError(offset: 0, message: "shorter than its 11-byte minimum") }
        let total = Int(UInt32(littleEndian: p.loadUnaligned(as: UInt32.self)))
        if total != p.count { throw EncodingError(offset: 0, message: "header says \(total) bytes, the string holds \(p.count)") }
        let declared = Int(UInt16(littleEndian: p.loadUnaligned(fromByteOffset: 8, as: UInt16.self)))
        var out: [[UInt8]] = []
        var i = 10
        var previousSize = 0
        while true {
            guard i < p.count else { throw EncodingError(offset: i, message: "no 0xFF terminator") }
            if p[i] == 0xFF { i += 1; break }
            let start = i
            func need(_ n: Int) throws { if i + n > p.count - 1 { throw EncodingError(offset: start, message: "entry runs past the end") } }
            var prev: Int
            if p[i] < 254 { prev = Int(p[i]); i += 1 } else {
                try need(5); prev = Int(UInt32(littleEndian: p.loadUnaligned(fromByteOffset: i + 1, as: UInt32.self))); i += 5
            }
            if prev != previousSize { throw EncodingError(offset: start, message: "previous-entry length \(prev) does not match \(previousSize)") }
            try need(1)
            let e = p[i]
            switch e >> 6 {
            case 0: let n = Int(e & 0x3F); try need(1 + n); out.append(Array(p[i + 1..<i + 1 + n])); i += 1 + n
            case 1: try need(2); let n = Int(e & 0x3F) << 8 | Int(p[i + 1]); try need(2 + n); out.append(Array(p[i + 2..<i + 2 + n])); i += 2 + n
            case 2:
                try need(5)
                let n = Int(UInt32(bigEndian: p.loadUnaligned(fromByteOffset: i + 1, as: UInt32.self))); try need(5 + n)
                out.append(Array(p[i + 5..<i + 5 + n])); i += 5 + n
            default:
                switch e {
                case 0xC0: try need(3); out.append(decimal(Int64(Int16(littleEndian: p.loadUnaligned(fromByteOffset: i + 1, as: Int16.self))))); i += 3
                case 0xD0: try need(5); out.append(decimal(Int64(Int32(littleEndian: p.loadUnaligned(fromByteOffset: i + 1, as: Int32.self))))); i += 5
                case 0xE0: try need(9); out.append(decimal(Int64(littleEndian: p.loadUnaligned(fromByteOffset: i + 1, as: Int64.self)))); i += 9
                case 0xF0:
                    try need(4)
                    var v = Int64(p[i + 1]) | Int64(p[i + 2]) << 8 | Int64(p[i + 3]) << 16
                    if v >= 1 << 23 { v -= 1 << 24 }
                    out.append(decimal(v)); i += 4
                case 0xFE: try need(2); out.append(decimal(Int64(Int8(bitPattern: p[i + 1])))); i += 2
                case 0xF1...0xFD: out.append(decimal(Int64(e & 0x0F) - 1)); i += 1
                default: throw EncodingError(offset: start, message: "unknown entry encoding 0x\(String(e, radix: 16))")
                }
            }
            previousSize = i - start
        }
        if i != p.count { throw EncodingError(offset: i, message: "bytes after the terminator") }
        if declared != 0xFFFF && declared != out.count {
            throw EncodingError(offset: 8, message: "header says \(declared) entries, found \(out.count)")
        }
        return out
    }
}

@inline(__always) func decimal(_ v: Int64) -> [UInt8] { Array(String(v).utf8) }

/// The integer a string spells in canonical form (no sign on 0, no leading zeros, no '+'),
/// the test Redis applies before storing a string as an integer.
func canonicalInteger(_ s: [UInt8]) -> Int64? {
    guard !s.isEmpty, s.count <= 20, let v = Int64(String(decoding: s, as: UTF8.self)) else { return nil }
    return Array(String(v).utf8) == s ? v : nil
}
