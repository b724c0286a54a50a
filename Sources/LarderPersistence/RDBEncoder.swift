/// Appends RDB records to a byte buffer. A snapshot is written as a sequence of such buffers
/// (chunks), so each shard can encode its own keys on its own thread and hand the bytes to
/// the file writer; a database's keys may come in several SELECTDB runs, which Redis accepts.
public struct RDBEncoder {
    public var bytes: [UInt8] = []

    public init(reservingCapacity: Int = 0) { bytes.reserveCapacity(reservingCapacity) }

    public mutating func header(version: Int) {
        bytes += Array("REDIS".utf8)
        bytes += Array(String(format4(version)).utf8)
    }

    public mutating func aux(_ name: String, _ value: String) {
        bytes.append(RDB.Opcode.aux)
        string(Array(name.utf8))
        string(Array(value.utf8))
    }

    public mutating func selectDB(_ db: Int) {
        bytes.append(RDB.Opcode.selectDB)
        length(UInt64(db))
    }

    public mutating func resizeDB(keys: Int, expires: Int) {
        bytes.append(RDB.Opcode.resizeDB)
        length(UInt64(keys))
        length(UInt64(expires))
    }

    /// The EOF opcode; the file writer appends the checksum of everything before it.
    public mutating func eof() { bytes.append(RDB.Opcode.eof) }

    public mutating func expireTime(_ at: Int64) {
        guard at != 0 else { return }
        bytes.append(RDB.Opcode.expireTimeMs)
        withUnsafeBytes(of: at.littleEndian) { bytes += $0 }
    }

    public mutating func stringEntry(key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer, expireAt: Int64) {
        expireTime(expireAt)
        bytes.append(RDB.TypeCode.string)
        string(key)
        string(value)
    }

    /// A hash as RDB type 4 (field/value pairs), which every Redis from 2.x loads (Redis 7.0
    /// turns a small one into a listpack itself); or, when `withFieldTTLs`, Redis 7.4's type 24
    /// (min expiry, then [relative ttl][field][value] per field), which needs an RDB 12 file.
    public mutating func hashEntry(key: UnsafeRawBufferPointer, fields: [(UnsafeRawBufferPointer, UnsafeRawBufferPointer, Int64)], expireAt: Int64) {
        expireTime(expireAt)
        let minExpire = fields.lazy.map { $0.2 }.filter { $0 != 0 }.min()
        bytes.append(minExpire == nil ? RDB.TypeCode.hash : RDB.TypeCode.hashMetadata)
        string(key)
        if let minExpire { withUnsafeBytes(of: minExpire.littleEndian) { bytes += $0 } }
        length(UInt64(fields.count))
        for (f, v, at) in fields {
            if let minExpire { length(at == 0 ? 0 : UInt64(at - minExpire + 1)) }
            string(f)
            string(v)
        }
    }

    /// A list as Redis 7.0 writes it, RDB_TYPE_LIST_QUICKLIST_2: the node count, then per node
    /// its container (2 = packed) and a listpack of its elements.
    public mutating func listEntry(key: UnsafeRawBufferPointer, nodes: [[[UInt8]]], expireAt: Int64) {
        expireTime(expireAt)
        bytes.append(RDB.TypeCode.listQuicklist2)
        string(key)
        length(UInt64(nodes.count))
        for n in nodes {
            length(RDB.quicklistPacked)
            let lp = Listpack.encode(n)
            length(UInt64(lp.count))
            bytes += lp
        }
    }

    /// A set of integers as Redis 7.0 keeps it, RDB_TYPE_SET_INTSET: one blob of
    /// [UInt32 width][UInt32 count][count little-endian integers of `width` bytes], ascending.
    public mutating func intsetEntry(key: UnsafeRawBufferPointer, width: Int, values: [Int64], expireAt: Int64) {
        expireTime(expireAt)
        bytes.append(RDB.TypeCode.setIntset)
        string(key)
        var blob: [UInt8] = []
        blob.reserveCapacity(8 + width * values.count)
        withUnsafeBytes(of: UInt32(width).littleEndian) { blob += $0 }
        withUnsafeBytes(of: UInt32(values.count).littleEndian) { blob += $0 }
        for v in values {
            switch width {
            case 2: withUnsafeBytes(of: Int16(v).littleEndian) { blob += $0 }
            case 4: withUnsafeBytes(of: Int32(v).littleEndian) { blob += $0 }
            default: withUnsafeBytes(of: v.littleEndian) { blob += $0 }
            }
        }
        length(UInt64(blob.count))
        bytes += blob
    }

    /// Any other set as RDB_TYPE_SET: the member count, then the members.
    public mutating func setEntry(key: UnsafeRawBufferPointer, members: [[UInt8]], expireAt: Int64) {
        expireTime(expireAt)
        bytes.append(RDB.TypeCode.set)
        string(key)
        length(UInt64(members.count))
        for m in members { string(m) }
    }

    /// A small sorted set as Redis 7.0 writes it, RDB_TYPE_ZSET_LISTPACK: one listpack of
    /// member, score, member, score... in ascending order, each score as Redis' d2string text
    /// (an integer entry when it is one).
    public mutating func zsetListpackEntry(key: UnsafeRawBufferPointer, entries: [([UInt8], Double)], expireAt: Int64) {
        expireTime(expireAt)
        bytes.append(RDB.TypeCode.zsetListpack)
        string(key)
        var elements: [[UInt8]] = []
        elements.reserveCapacity(2 * entries.count)
        for (m, s) in entries { elements.append(m); elements.append(Array(RDB.scoreText(s).utf8)) }
        let lp = Listpack.encode(elements)
        length(UInt64(lp.count))
        bytes += lp
    }

    /// A big sorted set as RDB_TYPE_ZSET_2: the count, then member and binary little-endian
    /// double score, greatest first as Redis 7.0 writes them (its load then appends at the head).
    public mutating func zsetEntry(key: UnsafeRawBufferPointer, entries: [([UInt8], Double)], expireAt: Int64) {
        expireTime(expireAt)
        bytes.append(RDB.TypeCode.zset2)
        string(key)
        length(UInt64(entries.count))
        for (m, s) in entries.reversed() {
            string(m)
            withUnsafeBytes(of: s.bitPattern.littleEndian) { bytes += $0 }
        }
    }

    // MARK: primitives

    public mutating func length(_ v: UInt64) {
        if v < 1 << 6 { bytes.append(UInt8(v)) }
        else if v < 1 << 14 { bytes.append(0x40 | UInt8(v >> 8)); bytes.append(UInt8(v & 0xFF)) }
        else if v <= UInt64(UInt32.max) { bytes.append(0x80); withUnsafeBytes(of: UInt32(v).bigEndian) { bytes += $0 } }
        else { bytes.append(0x81); withUnsafeBytes(of: v.bigEndian) { bytes += $0 } }
    }

    /// A string; one that spells a 32-bit integer canonically is stored as that integer, as
    /// Redis does (it loads back as the same text).
    public mutating func string(_ s: UnsafeRawBufferPointer) {
        if s.count > 0 && s.count <= 11, let v = smallCanonicalInteger(s) {
            if v >= -128 && v <= 127 { bytes.append(0xC0); bytes.append(UInt8(bitPattern: Int8(v))); return }
            if v >= -32768 && v <= 32767 { bytes.append(0xC1); withUnsafeBytes(of: Int16(v).littleEndian) { bytes += $0 }; return }
            bytes.append(0xC2); withUnsafeBytes(of: Int32(v).littleEndian) { bytes += $0 }; return
        }
        length(UInt64(s.count))
        bytes += s
    }

    public mutating func string(_ s: [UInt8]) { s.withUnsafeBytes { string($0) } }
}

/// The Int32 a string spells canonically (no '+', no leading zeros, no "-0"), else nil.
func smallCanonicalInteger(_ s: UnsafeRawBufferPointer) -> Int32? {
    var i = 0, negative = false
    if s[0] == UInt8(ascii: "-") { negative = true; i = 1; if s.count == 1 { return nil } }
    if s[i] == UInt8(ascii: "0") && (s.count > i + 1 || negative) { return nil }
    var v: Int64 = 0
    while i < s.count {
        let d = s[i]
        guard d >= 48 && d <= 57 else { return nil }
        v = v * 10 + Int64(d - 48)
        i += 1
    }
    if negative { v = -v }
    guard v >= Int64(Int32.min) && v <= Int64(Int32.max) else { return nil }
    return Int32(v)
}

func format4(_ v: Int) -> String {
    let s = String(v)
    return String(repeating: "0", count: max(0, 4 - s.count)) + s
}
