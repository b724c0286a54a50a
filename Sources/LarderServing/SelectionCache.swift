import Foundation
import LarderRESP

/// FeatureSelections of recent FEATURES.GET requests, keyed by the bytes of their SERVICE or
/// REFS arguments, so a repeated request resolves its features without building a String per
/// ref, looking views up by name and laying out the group's field names again. Measured with
/// the other FEATURES.GET changes of the same commit (not one by one): 155K -> 59K instructions
/// and 77 -> 24 mallocs per one-entity request under callgrind (bench/results/serving.md).
///
/// 64 slots by hash, the last request of a slot wins; a lookup hashes and compares the
/// argument bytes in place (no key is built). One uncontended lock: a catalog is shared by
/// every thread, and a selection is a value copied out.
final class SelectionCache: @unchecked Sendable {
    private struct Entry {
        var hash: UInt64
        var key: [UInt8]
        var selection: FeatureSelection
    }
    private var slots = [Entry?](repeating: nil, count: 64)
    private let lock = NSLock()

    /// The selection for arguments `range` of `args` (`kind` tells SERVICE from REFS), resolved
    /// by `resolve` when not cached. Errors are not cached.
    func selection(kind: UInt8, args: Arguments, range: Range<Int>, resolve: () throws -> FeatureSelection) throws -> FeatureSelection {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325 ^ UInt64(kind)
        var length = 0
        for a in range {
            for b in args[a] { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
            h = (h ^ 0x1ff) &* 0x100_0000_01b3   // separator: no byte value
            length += 4 + args[a].count
        }
        let slot = Int(h & 63)
        lock.lock()
        if let e = slots[slot], e.hash == h, e.key.count == length, Self.equal(e.key, args, range) {
            let s = e.selection
            lock.unlock()
            return s
        }
        lock.unlock()
        let s = try resolve()
        var key: [UInt8] = []
        key.reserveCapacity(length)
        // Each argument as a 4-byte length then its bytes: unambiguous whatever bytes it holds.
        for a in range {
            let n = args[a].count
            for i in 0..<4 { key.append(UInt8(truncatingIfNeeded: n >> (8 * i))) }
            key.append(contentsOf: args[a])
        }
        lock.lock()
        slots[slot] = Entry(hash: h, key: key, selection: s)
        lock.unlock()
        return s
    }

    private static func equal(_ key: [UInt8], _ args: Arguments, _ range: Range<Int>) -> Bool {
        var at = 0
        for a in range {
            let arg = args[a]
            guard at + 4 + arg.count <= key.count else { return false }
            var n = 0
            for i in 0..<4 { n |= Int(key[at + i]) << (8 * i) }
            guard n == arg.count else { return false }
            at += 4
            for b in arg { if key[at] != b { return false }; at += 1 }
        }
        return at == key.count
    }
}
