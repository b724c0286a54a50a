import Foundation
import LarderRESP
import Synchronization

/// FeatureSelections of recent FEATURES.GET requests, keyed by the bytes of their SERVICE or
/// REFS arguments, so a repeated request resolves its features without building a String per
/// ref, looking views up by name and laying out the group's field names again. Measured with
/// the other FEATURES.GET changes of the same commit (not one by one): 155K -> 59K instructions
/// and 77 -> 24 mallocs per one-entity request under callgrind (bench/results/serving.md).
///
/// 64 slots by hash, the last request of a slot wins; a lookup hashes and compares the
/// argument bytes in place (no key is built). One uncontended lock: a catalog is shared by
/// every thread, and a selection is a value copied out.
/// One argument folded into a request-shape hash (SelectionCache, GetPlan, HTTPPlanCache): its
/// length and its first and last 8 bytes only, since every cache compares the whole bytes on a
/// hit and the hash need only spread the slots.
@inline(__always)
func foldShapeHash(_ h: UInt64, _ arg: UnsafeRawBufferPointer) -> UInt64 {
    var h = (h ^ UInt64(arg.count)) &* 0x9E37_79B9_7F4A_7C15
    if arg.count >= 8 {
        h = (h ^ arg.loadUnaligned(as: UInt64.self)) &* 0x9E37_79B9_7F4A_7C15
        h = (h ^ arg.loadUnaligned(fromByteOffset: arg.count - 8, as: UInt64.self)) &* 0x9E37_79B9_7F4A_7C15
    } else {
        for b in arg { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
    }
    return h
}

final class SelectionCache: @unchecked Sendable {
    private struct Entry {
        var hash: UInt64
        var key: [UInt8]
        var selection: FeatureSelection
    }
    /// Measured reason for a Mutex, not NSLock: a lookup went from 1,148 to 946 instructions
    /// (NSLock's pthread lock and unlock through Foundation; callgrind, 1 x 10 request).
    private let slots = Mutex<[Entry?]>([Entry?](repeating: nil, count: 64))

    /// The selection for arguments `range` of `args` (`kind` tells SERVICE from REFS), resolved
    /// by `resolve` when not cached. Errors are not cached.
    func selection(kind: UInt8, args: Arguments, range: Range<Int>, resolve: () throws -> FeatureSelection) throws -> FeatureSelection {
        // The hash only picks a slot (the equality check below compares every byte with
        // memcmp), so it takes each argument's length and its first and last 8 bytes. Measured
        // reason: hashing and comparing byte by byte was 4,200 of the 94,600 instructions of a
        // 1 x 10 FEATURES.GET (callgrind), hashing every byte 6,800 of 132,000 at 1 x 50.
        var h: UInt64 = 0xcbf2_9ce4_8422_2325 ^ UInt64(kind)
        var length = 0
        for a in range {
            let arg = args[a]
            h = foldShapeHash(h, arg)
            h ^= h >> 29
            length += 4 + arg.count
        }
        let slot = Int(h & 63)
        let hit: FeatureSelection? = slots.withLock { slots in
            guard let e = slots[slot], e.hash == h, e.key.count == length, Self.equal(e.key, args, range) else { return nil }
            return e.selection
        }
        if let hit { return hit }
        let s = try resolve()
        var key: [UInt8] = []
        key.reserveCapacity(length)
        // Each argument as a 4-byte length then its bytes: unambiguous whatever bytes it holds.
        for a in range {
            let n = args[a].count
            for i in 0..<4 { key.append(UInt8(truncatingIfNeeded: n >> (8 * i))) }
            key.append(contentsOf: args[a])
        }
        slots.withLock { $0[slot] = Entry(hash: h, key: key, selection: s) }
        return s
    }

    private static func equal(_ key: [UInt8], _ args: Arguments, _ range: Range<Int>) -> Bool {
        key.withUnsafeBytes { k in
            var at = 0
            for a in range {
                let arg = args[a]
                guard at + 4 + arg.count <= k.count else { return false }
                let n = Int(UInt32(littleEndian: k.loadUnaligned(fromByteOffset: at, as: UInt32.self)))
                guard n == arg.count else { return false }
                at += 4
                if n > 0 && memcmp(k.baseAddress! + at, arg.baseAddress!, n) != 0 { return false }
                at += n
            }
            return at == k.count
        }
    }
}
