/// A fast 64-bit hash of a byte string (wyhash-style multiply-mix over 8-byte words).
/// Used for both shard selection (high bits) and table slots (low bits), so a key is hashed
/// once per command.
public enum ByteHash {
    @inline(__always) static func mix(_ a: UInt64, _ b: UInt64) -> UInt64 {
        let r = a.multipliedFullWidth(by: b)
        return r.high ^ r.low
    }

    @inline(__always) static func load64(_ p: UnsafeRawPointer, _ i: Int) -> UInt64 {
        p.loadUnaligned(fromByteOffset: i, as: UInt64.self)
    }

    public static func hash(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
        let n = bytes.count
        let s0: UInt64 = 0xa076_1d64_78bd_642f, s1: UInt64 = 0xe703_7ed1_a0b4_28db
        guard n > 0, let p = bytes.baseAddress else { return mix(s0, s1) }
        var h = s0 ^ UInt64(n)
        var i = 0
        while i + 16 <= n {
            h = mix(load64(p, i) ^ s1, load64(p, i + 8) ^ h)
            i += 16
        }
        var a: UInt64 = 0, b: UInt64 = 0
        let rest = n - i
        if rest >= 8 {
            a = load64(p, i)
            b = load64(p, n - 8)
        } else if rest > 0 {
            for j in 0..<rest { a |= UInt64(p.load(fromByteOffset: i + j, as: UInt8.self)) << (8 * UInt64(j)) }
        }
        return mix(s1 ^ UInt64(n), mix(a ^ s1, b ^ h))
    }

    public static func hash(_ bytes: [UInt8]) -> UInt64 { bytes.withUnsafeBytes { hash($0) } }
}

@inline(__always) func bytesEqual(_ a: [UInt8], _ b: UnsafeRawBufferPointer) -> Bool {
    a.count == b.count && a.withUnsafeBytes { memcmp($0.baseAddress!, b.baseAddress!, b.count) == 0 }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
