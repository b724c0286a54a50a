#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The table form of a `HashObject` (a `HashFieldTable`, past the packed thresholds): the
/// one-way conversion to it and the operations that only make sense on buckets.
extension HashObject {
    func convertToTable() {
        let t = HashFieldTable(capacity: packedCount * 2)
        forEachPacked { p, fs, fl, vs, vl in
            let f = UnsafeRawBufferPointer(rebasing: p[fs..<fs + fl])
            t.insert(Array(f), hash: ByteHash.hash(f), value: Array(p[vs..<vs + vl]))
            return true
        }
        let s = side
        if let p = s.packed {
            // Keep only the header and the embedded key, if any.
            if Self.keyTag(p) == 0 { free(p); s.packed = nil } else {
                p.storeBytes(of: 0 as UInt16, as: UInt16.self)   // used and count; the key tag stays
                p.storeBytes(of: 0 as UInt8, toByteOffset: Self.countOffset, as: UInt8.self)
                s.packed = realloc(p, Self.entriesOffset(p))!
            }
        }
        s.table = t
    }

    /// One HSCAN step. A packed hash is returned whole with cursor 0 (as Redis does for a
    /// listpack); a table visits buckets from `cursor` until about `count` entries were seen
    /// or `count * 10` buckets were walked. Returns the next cursor, 0 when done.
    public func scan(cursor: UInt64, count: Int,
                     _ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) -> Void) -> UInt64 {
        guard let t = table else { forEach(body); return 0 }
        var cursor = cursor
        var seen = 0
        var budget = count.multipliedReportingOverflow(by: 10).overflow ? Int.max : count * 10
        repeat {
            t.forEachInBucket(Int(truncatingIfNeeded: cursor)) { i in
                t.fields[i].withUnsafeBytes { f in t.values[i].withUnsafeBytes { v in body(f, v) } }
                seen += 1
            }
            cursor = t.nextCursor(after: cursor)
            budget -= 1
        } while cursor != 0 && budget > 0 && seen < count
        return cursor
    }
}
