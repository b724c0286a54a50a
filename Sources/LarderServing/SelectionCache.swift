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
            h = (h ^ UInt64(arg.count)) &* 0x9E37_79B9_7F4A_7C15
            if arg.count >= 8 {
                h = (h ^ arg.loadUnaligned(as: UInt64.self)) &* 0x9E37_79B9_7F4A_7C15
                h = (h ^ arg.loadUnaligned(fromByteOffset: arg.count - 8, as: UInt64.self)) &* 0x9E37_79B9_7F4A_7C15
            } else {
                for b in arg { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
            }
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

/// The resolved features of recent /get-online-features requests and their output names
/// (collisions checked), keyed by the request's `feature_service` or `features` strings and
/// `full_feature_names`. Measured reason: resolving the refs again per request (a String
/// split, a linear search of the view's feature names per ref) was 75,000 of the 371,000
/// instructions of a 1 x 10 request under callgrind. At most 64 entries (then emptied); errors
/// are not cached; a catalog (one definitions load) has its own.
final class HTTPPlanCache: @unchecked Sendable {
    struct Key: Hashable {
        var service: String?
        var refs: [String]
        var fullNames: Bool

        /// Only a sample of each ref goes into the hash (equality compares them whole):
        /// hashing every byte of 50 refs was 18,000 of a 1 x 50 request's 419,000 instructions.
        func hash(into h: inout Hasher) {
            h.combine(fullNames)
            h.combine(service)
            h.combine(refs.count)
            for r in refs {
                var r = r
                r.withUTF8 { u in
                    h.combine(u.count)
                    if let first = u.first, let last = u.last { h.combine(first); h.combine(last); h.combine(u[u.count / 2]) }
                }
            }
        }
    }
    struct Plan {
        var selection: FeatureSelection
        var names: [String]
        /// `,"name"` for each output name: the metadata's feature names, written once per plan
        /// (measured reason: escaping 50 names per request was 12,000 of 419,000 instructions).
        var namesJSON: [UInt8]

        init(selection: FeatureSelection, names: [String]) {
            self.selection = selection
            self.names = names
            var w = JSONWriter()
            for n in names { w.raw(44); w.string(n) }
            namesJSON = w.bytes
        }
    }
    private var plans: [Key: Plan] = [:]
    private let lock = NSLock()

    func plan(_ key: Key, resolve: () throws -> Plan) throws -> Plan {
        lock.lock()
        if let p = plans[key] { lock.unlock(); return p }
        lock.unlock()
        let p = try resolve()
        lock.lock()
        if plans.count >= 64 { plans.removeAll() }
        plans[key] = p
        lock.unlock()
        return p
    }
}
