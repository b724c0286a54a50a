/// The store's one length codec: unsigned LEB128 (7 bits a byte, high bit = more), used by
/// the key entries' header word (KeyTable) and the packed hash's entry lengths (HashObject).
enum Varint {
    @inline(__always) static func size(_ v: Int) -> Int {
        var n = 1, v = UInt(v)
        while v >= 0x80 { v >>= 7; n += 1 }
        return n
    }

    @inline(__always) static func read(_ p: UnsafeRawPointer, _ i: inout Int) -> Int {
        var v = 0, shift = 0
        while true {
            let b = p.load(fromByteOffset: i, as: UInt8.self); i += 1
            v |= Int(b & 0x7F) << shift
            if b < 0x80 { return v }
            shift += 7
        }
    }

    @inline(__always) static func read(_ p: UnsafeRawBufferPointer, _ i: inout Int) -> Int {
        read(p.baseAddress!, &i)
    }

    @inline(__always) static func write(_ p: UnsafeMutableRawPointer, _ at: inout Int, _ v: Int) {
        var v = UInt(v)
        while v >= 0x80 { p.storeBytes(of: UInt8(v & 0x7F) | 0x80, toByteOffset: at, as: UInt8.self); v >>= 7; at += 1 }
        p.storeBytes(of: UInt8(v), toByteOffset: at, as: UInt8.self); at += 1
    }

    static func append(_ out: inout [UInt8], _ v: Int) {
        var v = UInt(v)
        while v >= 0x80 { out.append(UInt8(v & 0x7F) | 0x80); v >>= 7 }
        out.append(UInt8(v))
    }
}
