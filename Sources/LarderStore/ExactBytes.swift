#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A malloc'd byte buffer exactly as large as its contents, for the packed sorted set, which
/// sits in memory for a long time after it was written (the intset keeps its own block with
/// Redis' header inside `SetObject`'s single word). An `[UInt8]`
/// costs a 32-byte header and keeps the spare capacity of its geometric growth (up to half the
/// buffer); this costs 12 bytes in its owner and a `realloc` per edit, as Redis' intset and
/// listpack do: an edit already moves O(n) bytes, so its big-O does not change.
///
/// Noncopyable: it owns its block and frees it once; `copy()` duplicates it explicitly.
struct ExactBytes: ~Copyable {
    private var base: UnsafeMutableRawPointer? = nil
    /// 32 bits, so the owner can put a small field next to it in the same word.
    private var stored: UInt32 = 0

    init() {}

    deinit { free(base) }

    @inline(__always) var count: Int { Int(stored) }

    @inline(__always) func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try body(UnsafeRawBufferPointer(start: base, count: Int(stored)))
    }

    /// The malloc block's size (0 when empty), for MEMORY USAGE.
    var allocatedBytes: Int { base.map { usableSize($0) + 8 } ?? 0 }

    /// Replaces the bytes in `range` with `bytes` (an insertion when `range` is empty, a
    /// removal when `bytes` is), reallocating to the new size. `bytes` must not point into self.
    mutating func replaceSubrange(_ range: Range<Int>, with bytes: UnsafeRawBufferPointer) {
        let old = Int(stored)
        precondition(range.lowerBound >= 0 && range.upperBound <= old, "ExactBytes range out of bounds")
        let new = old - range.count + bytes.count
        precondition(new <= Int(UInt32.max), "ExactBytes past 4 GiB")
        let tail = old - range.upperBound
        if new > old { resize(to: new) }
        if tail > 0 && bytes.count != range.count {
            let b = base!
            memmove(b + range.lowerBound + bytes.count, b + range.upperBound, tail)
        }
        if bytes.count > 0 { (base! + range.lowerBound).copyMemory(from: bytes.baseAddress!, byteCount: bytes.count) }
        if new < old { resize(to: new) }
        stored = UInt32(new)
    }

    mutating func insert(_ bytes: UnsafeRawBufferPointer, at i: Int) { replaceSubrange(i..<i, with: bytes) }

    mutating func removeSubrange(_ range: Range<Int>) { replaceSubrange(range, with: UnsafeRawBufferPointer(start: nil, count: 0)) }

    mutating func append(_ bytes: UnsafeRawBufferPointer) { replaceSubrange(count..<count, with: bytes) }

    mutating func removeAll() {
        free(base)
        base = nil
        stored = 0
    }

    /// Takes over `bytes` (`count` of them, malloc'd, or nil for none).
    mutating func adopt(_ bytes: UnsafeMutableRawPointer?, count: Int) {
        free(base)
        base = bytes
        stored = UInt32(count)
    }

    func copy() -> ExactBytes {
        var c = ExactBytes()
        if let b = base, stored > 0 {
            let p = malloc(Int(stored))!
            p.copyMemory(from: b, byteCount: Int(stored))
            c.adopt(p, count: Int(stored))
        }
        return c
    }

    private mutating func resize(to n: Int) {
        if n == 0 { free(base); base = nil; return }
        guard let p = realloc(base, n) else { fatalError("out of memory reallocating \(n) bytes") }
        base = p
    }
}
