#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The packed form of a `HashObject`: one malloc'd buffer
/// `[UInt16 used][UInt8 count][UInt8 key tag][24-bit access word, if keyed][key]`
/// `[varint len][field][varint len][value]...`, like Redis' listpack (a count fits a byte: at
/// most `maxPackedEntries`, 128, entries; an access word is KeyAccess' 24 bits, Redis' lru). Everything here reads or
/// writes that layout and nothing else; the public operations in HashObject.swift choose
/// between this form and the table form. The static readers take a bare buffer (a slot that
/// points at the buffer itself, see KeyTable), the instance ones this object's.
extension HashObject {
    /// The packed entries (empty when there are none or the hash is a table).
    @inline(__always) var packedBytes: UnsafeRawBufferPointer { Self.packedBytes(packedBuffer) }

    @inline(__always) static func packedBytes(_ p: UnsafeMutableRawPointer?) -> UnsafeRawBufferPointer {
        guard let p else { return UnsafeRawBufferPointer(start: nil, count: 0) }
        return UnsafeRawBufferPointer(start: p + entriesOffset(p), count: Int(p.load(as: UInt16.self)))
    }

    /// The header: used bytes (UInt16), count (UInt8), key tag (UInt8); a keyed buffer's
    /// access word (3 bytes) and key follow it.
    static let headerBytes = 4, countOffset = 2, tagOffset = 3, accessOffset = 4, keyOffset = 7

    /// Bytes a keyed buffer's header adds for a key of `keyCount` bytes: the key and its
    /// access word.
    @inline(__always) static func keyedBytes(_ keyCount: Int) -> Int { keyCount + keyOffset - headerBytes }

    @inline(__always) static func keyTag(_ p: UnsafeMutableRawPointer) -> Int { Int(p.load(fromByteOffset: tagOffset, as: UInt8.self)) }

    /// A fresh buffer's header: nothing used, no entries, no key.
    @inline(__always) static func clearHeader(_ p: UnsafeMutableRawPointer) { p.storeBytes(of: 0 as UInt32, as: UInt32.self) }

    /// Where the entries start in a packed buffer (after the header and the embedded key).
    @inline(__always) static func entriesOffset(_ p: UnsafeMutableRawPointer) -> Int {
        let tag = keyTag(p)
        return tag == 0 ? headerBytes : keyOffset + tag - 1
    }

    /// The key embedded by `embedKey`; valid while the hash lives (it never changes).
    @inline(__always) var embeddedKey: UnsafeRawBufferPointer { Self.embeddedKey(packedBuffer!) }

    @inline(__always) static func embeddedKey(_ p: UnsafeMutableRawPointer) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: p + keyOffset, count: keyTag(p) - 1)
    }

    /// The access word of a keyed buffer: 24 bits, little-endian, after the key tag.
    @inline(__always) static func accessWord(_ p: UnsafeMutableRawPointer) -> UInt32 {
        UInt32(p.loadUnaligned(fromByteOffset: accessOffset, as: UInt16.self))
            | UInt32(p.load(fromByteOffset: accessOffset + 2, as: UInt8.self)) << 16
    }

    @inline(__always) static func setAccessWord(_ p: UnsafeMutableRawPointer, _ w: UInt32) {
        p.storeBytes(of: UInt16(truncatingIfNeeded: w), toByteOffset: accessOffset, as: UInt16.self)
        p.storeBytes(of: UInt8(truncatingIfNeeded: w >> 16), toByteOffset: accessOffset + 2, as: UInt8.self)
    }

    /// Stores `key` inside the packed buffer, so the keyspace can use the hash itself as the
    /// key's entry (saving a separate allocation). Only once in a hash's life, only for a
    /// packed hash and keys up to 254 bytes; returns false (and changes nothing) otherwise.
    /// The key stays when the hash later converts to a table (the buffer then holds only it).
    func embedKey(_ key: UnsafeRawBufferPointer) -> Bool {
        guard table == nil, key.count <= 254 else { return false }
        if let p = packedBuffer, Self.keyTag(p) != 0 { return false }
        let used = packedUsed
        let p = ensurePacked(extra: Self.keyedBytes(key.count))
        memmove(p + Self.keyOffset + key.count, p + Self.headerBytes, used)
        if key.count > 0 { (p + Self.keyOffset).copyMemory(from: key.baseAddress!, byteCount: key.count) }
        p.storeBytes(of: UInt8(key.count + 1), toByteOffset: Self.tagOffset, as: UInt8.self)
        Self.setAccessWord(p, 0)
        return true
    }

    /// Allocates the packed buffer once with room for `keyBytes` of embedded key and
    /// `entryBytes` of entries, before a load fills it field by field (each `set` and the key's
    /// embedding then fit without a realloc: perf of a 1M-entity load showed realloc and its
    /// copies from growing every Feast hash one field at a time). Only on an empty packed hash.
    public func reservePacked(entryBytes: Int, keyBytes: Int) {
        guard table == nil, packedBuffer == nil, entryBytes + keyBytes <= Self.maxPackedBytes else { return }
        let p = malloc(Self.headerBytes + (keyBytes > 0 ? Self.keyedBytes(keyBytes) : 0) + entryBytes)!
        Self.clearHeader(p)
        packedBuffer = p
    }

    /// A packed hash whose entries are `entries` exactly as this form lays them out
    /// ([varint len][field][varint len][value]..., `count` of them), copied in one go, with room
    /// for an embedded key of `keyBytes`. nil (nothing allocated) when they do not make a valid
    /// packed hash under the current limits (entry count, value length, total size), a length
    /// runs past the end, or a field repeats: the caller then sets the fields one by one.
    /// Why: a start-up load of Larder's own snapshot gets a Feast hash's fields from the file in
    /// this very layout (an RDB length under 64 is the same single byte), and building it field
    /// by field (a scan for duplicates, a realloc and two copies per field) was the shards' main
    /// cost in perf of a 1M-entity load.
    /// `maxLength`: also refuse any field or value longer than this.
    public static func packed(entries: UnsafeRawBufferPointer, count: Int, keyBytes: Int, maxLength: Int = .max) -> HashObject? {
        guard count > 0, count <= packedEntriesLimit.load(ordering: .relaxed),
              entries.count + keyBytes <= maxPackedBytes, let base = entries.baseAddress else { return nil }
        let valueLimit = min(packedValueLimit.load(ordering: .relaxed), maxLength)
        // A length: a canonical varint (the entry walkers size them with Varint.size) of at
        // most 3 bytes (entries are under 64 KiB), wholly inside the buffer; nil otherwise.
        @inline(__always) func length(_ i: inout Int) -> Int? {
            var v = 0, shift = 0, at = i
            while at < entries.count && shift <= 14 {
                let b = base.load(fromByteOffset: at, as: UInt8.self); at += 1
                v |= Int(b & 0x7F) << shift
                if b < 0x80 {
                    guard at - i == Varint.size(v) else { return nil }
                    i = at
                    return v
                }
                shift += 7
            }
            return nil
        }
        return withUnsafeTemporaryAllocation(of: (Int, UInt64).self, capacity: count) { seen -> HashObject? in
            var i = 0
            var filter: UInt64 = 0
            for k in 0..<count {
                guard let fl = length(&i), fl <= valueLimit, i + fl < entries.count else { return nil }
                let fs = i; i += fl
                guard let vl = length(&i), vl <= valueLimit, i + vl <= entries.count else { return nil }
                i += vl
                // Duplicates: a 64-bit filter of (length, first 8 bytes) first, and only when it
                // hits, a compare against the fields before (this check was most of this
                // function's time in perf of a 1M-entity load when it compared every pair).
                let word = fs + 8 <= entries.count
                    ? base.loadUnaligned(fromByteOffset: fs, as: UInt64.self) & (fl >= 8 ? ~0 : (1 << (8 * UInt64(fl))) - 1)
                    : prefixWord(base + fs, fl)
                let bit: UInt64 = 1 << (((word ^ UInt64(fl)) &* 0x9E37_79B9_7F4A_7C15) >> 58)
                if filter & bit != 0 {
                    for j in 0..<k where seen[j].0 >> 32 == fl && seen[j].1 == word {
                        let other = seen[j].0 & 0xFFFF_FFFF
                        if fl <= 8 || memcmp(base + fs + 8, base + other + 8, fl - 8) == 0 { return nil }
                    }
                }
                filter |= bit
                seen[k] = (fl << 32 | fs, word)
            }
            guard i == entries.count else { return nil }
            let h = HashObject()
            let p = malloc(headerBytes + (keyBytes > 0 ? keyedBytes(keyBytes) : 0) + entries.count)!
            clearHeader(p)
            (p + headerBytes).copyMemory(from: base, byteCount: entries.count)
            h.packedBuffer = p
            h.setPacked(used: entries.count, count: count)
            return h
        }
    }

    @inline(__always) var packedUsed: Int {
        guard let p = packedBuffer else { return 0 }
        return Int(p.load(as: UInt16.self))
    }

    var packedCount: Int { Self.packedCount(packedBuffer) }

    @inline(__always) static func packedCount(_ p: UnsafeMutableRawPointer?) -> Int {
        guard let p else { return 0 }
        return Int(p.load(fromByteOffset: countOffset, as: UInt8.self))
    }

    /// Bytes of packed entries, and the room the buffer has for them (for tests and MEMORY).
    var packedByteCount: Int { packedUsed }
    var packedCapacity: Int { packedBuffer.map { usableSize($0) - Self.entriesOffset($0) } ?? 0 }

    @inline(__always) func setPacked(used: Int, count: Int) {
        let p = packedBuffer!
        p.storeBytes(of: UInt16(used), as: UInt16.self)
        p.storeBytes(of: UInt8(count), toByteOffset: Self.countOffset, as: UInt8.self)
    }

    /// The packed buffer with room for `extra` more bytes of entries (grown to the exact size,
    /// as a listpack does, so small hashes stay compact).
    func ensurePacked(extra: Int) -> UnsafeMutableRawPointer {
        let old = packedBuffer
        let used = packedUsed
        let need = (old.map { Self.entriesOffset($0) } ?? Self.headerBytes) + used + extra
        if let old, usableSize(old) >= need { return old }
        let p = realloc(old, need)!
        if old == nil { Self.clearHeader(p) }
        packedBuffer = p
        return p
    }

    // MARK: packed encoding

    static func writeBytes(_ p: UnsafeMutableRawPointer, _ at: inout Int, _ b: UnsafeRawBufferPointer) {
        if b.count > 0 { (p + at).copyMemory(from: b.baseAddress!, byteCount: b.count) }
        at += b.count
    }

    @inline(__always)
    static func sameBytes(_ p: UnsafeRawBufferPointer, _ start: Int, _ length: Int, _ other: UnsafeRawBufferPointer) -> Bool {
        length == other.count && (length == 0 || memcmp(p.baseAddress! + start, other.baseAddress!, length) == 0)
    }

    /// Calls `body(buffer, fieldStart, fieldCount, valueStart, valueCount)` for each packed
    /// entry in order; stops when it returns false.
    @inline(__always)
    func forEachPacked(_ body: (UnsafeRawBufferPointer, Int, Int, Int, Int) -> Bool) {
        let p = packedBytes
        var i = 0
        while i < p.count {
            let fl = Varint.read(p, &i); let fs = i; i += fl
            let vl = Varint.read(p, &i); let vs = i; i += vl
            if !body(p, fs, fl, vs, vl) { return }
        }
    }

    /// Every (field, value) of packed entries `p`, in order.
    @inline(__always)
    static func forEachPackedEntry(_ p: UnsafeRawBufferPointer, _ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) -> Void) {
        var i = 0
        while i < p.count {
            let fl = Varint.read(p, &i); let fs = i; i += fl
            let vl = Varint.read(p, &i); let vs = i; i += vl
            body(UnsafeRawBufferPointer(rebasing: p[fs..<fs + fl]), UnsafeRawBufferPointer(rebasing: p[vs..<vs + vl]))
        }
    }

    /// `withValue` over packed entries `p`.
    @inline(__always)
    static func withPackedValue<R>(_ p: UnsafeRawBufferPointer, _ field: UnsafeRawBufferPointer,
                                   _ body: (UnsafeRawBufferPointer?) -> R) -> R {
        var i = 0
        while i < p.count {
            let fl = Varint.read(p, &i); let fs = i; i += fl
            let vl = Varint.read(p, &i); let vs = i; i += vl
            if sameBytes(p, fs, fl, field) { return body(UnsafeRawBufferPointer(rebasing: p[vs..<vs + vl])) }
        }
        return body(nil)
    }

    /// Where an entry lies in `packedBytes`.
    struct PackedHit { let start: Int; let valueStart: Int; let valueCount: Int; let end: Int }

    func findPacked(_ field: UnsafeRawBufferPointer) -> PackedHit? {
        let p = packedBytes
        var i = 0
        while i < p.count {
            let start = i
            let fl = Varint.read(p, &i); let fs = i; i += fl
            let vl = Varint.read(p, &i); let vs = i; i += vl
            if Self.sameBytes(p, fs, fl, field) { return PackedHit(start: start, valueStart: vs, valueCount: vl, end: i) }
        }
        return nil
    }

    /// Bytes one entry takes in the packed buffer.
    public static func packedEntrySize(fieldCount: Int, valueCount: Int) -> Int {
        Varint.size(fieldCount) + fieldCount + Varint.size(valueCount) + valueCount
    }

    /// Overwrites a packed value: in place when the length is unchanged, else by shifting the
    /// tail once (only the value and its length prefix change).
    func replacePackedValue(_ hit: PackedHit, field: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer) {
        if hit.valueCount == value.count {
            let p = packedBuffer!
            var at = Self.entriesOffset(p) + hit.valueStart
            Self.writeBytes(p, &at, value)
            return
        }
        let prefixStart = hit.valueStart - Varint.size(hit.valueCount)
        let used = packedUsed, n = packedCount
        let newLength = Varint.size(value.count) + value.count
        let delta = newLength - (hit.end - prefixStart)
        let p = delta > 0 ? ensurePacked(extra: delta) : packedBuffer!
        let off = Self.entriesOffset(p)
        let base = p + off
        memmove(base + prefixStart + newLength, base + hit.end, used - hit.end)
        var at = off + prefixStart
        Varint.write(p, &at, value.count)
        Self.writeBytes(p, &at, value)
        setPacked(used: used + delta, count: n)
    }

    /// The first up-to-8 bytes of a field as one word (zero-padded), so most non-matching
    /// fields are rejected by two integer compares instead of a memcmp call.
    @inline(__always)
    static func prefixWord(_ base: UnsafeRawPointer, _ length: Int) -> UInt64 {
        if length >= 8 { return base.loadUnaligned(as: UInt64.self) }
        var w: UInt64 = 0
        for j in 0..<length { w |= UInt64(base.load(fromByteOffset: j, as: UInt8.self)) << (8 * UInt64(j)) }
        return w
    }

    /// `lookupMany` over a packed buffer `p`: one pass over the entries for all requested fields.
    @inline(__always)
    static func lookupManyPacked(_ p: UnsafeRawBufferPointer, _ count: Int, field: (Int) -> UnsafeRawBufferPointer,
                                 body: (Int, UnsafeRawBufferPointer?) -> Void) {
        withUnsafeTemporaryAllocation(of: Int.self, capacity: 4 * count) { slots in
            // Per requested field i: [4i] value start + 1 (0 = not found yet), [4i+1] value
            // length, [4i+2] field length, [4i+3] its prefix word.
            let f = slots.baseAddress!
            for i in 0..<count {
                let name = field(i)
                f[4 * i] = 0
                f[4 * i + 1] = 0
                f[4 * i + 2] = name.count
                f[4 * i + 3] = name.count == 0 ? 0 : Int(bitPattern: UInt(prefixWord(name.baseAddress!, name.count)))
            }
            guard let base = p.baseAddress else {
                for i in 0..<count { body(i, nil) }
                return
            }
            var remaining = count
            var at = 0
            while at < p.count && remaining > 0 {
                let fl = Varint.read(p, &at); let fs = at; at += fl
                let vl = Varint.read(p, &at); let vs = at; at += vl
                let word = Int(bitPattern: UInt(prefixWord(base + fs, fl)))
                for i in 0..<count where f[4 * i] == 0 && f[4 * i + 2] == fl && f[4 * i + 3] == word {
                    if fl > 8 && memcmp(base + fs + 8, field(i).baseAddress! + 8, fl - 8) != 0 { continue }
                    f[4 * i] = vs + 1
                    f[4 * i + 1] = vl
                    remaining -= 1
                }
            }
            for i in 0..<count {
                let start = f[4 * i] - 1
                body(i, start < 0 ? nil : UnsafeRawBufferPointer(start: base + start, count: f[4 * i + 1]))
            }
        }
    }
}
