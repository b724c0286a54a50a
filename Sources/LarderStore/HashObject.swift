/// A hash value. Small hashes (the feature-store case: ~10 short fields) are packed into one
/// contiguous byte buffer like Redis' listpack: `[varint len][field][varint len][value]...`.
/// Past `maxPackedEntries` entries, or a field or value longer than `maxPackedValueLength`, it
/// converts to a `HashFieldTable` for good (Redis never converts back either).
///
/// Reads (`withValue`, `lookupMany`, `forEach`) hand out views into storage and allocate
/// nothing. Per-field expiry (HEXPIRE) lives in a side table that exists only for hashes that
/// use it; see HashObject+FieldExpiry.swift.
public final class HashObject {
    /// Same thresholds as Redis' hash-max-listpack-entries / hash-max-listpack-value.
    public static let maxPackedEntries = 128
    public static let maxPackedValueLength = 64
    /// The packed buffer's 16-bit length limit (far above the default thresholds' 16 KB).
    static let maxPackedBytes = 0xFFFF

    /// The whole object is one word, so it takes a 32-byte malloc chunk:
    /// - 0: an empty packed hash;
    /// - low bit 0: the packed buffer, one malloc'd block
    ///   `[UInt16 used][UInt16 count][UInt8 key tag][key][entries]`: the key tag is 0, or the
    ///   length + 1 of the key the keyspace stored this hash under (see `embedKey`);
    /// - low bit 1: a retained `HashSide` holding the rarely needed parts (table form, field
    ///   TTLs, sweep bookkeeping) and the packed buffer, if any.
    private var bits: UInt = 0

    public init() {}

    deinit {
        if bits & 1 == 1 {
            Unmanaged<HashSide>.fromOpaque(UnsafeRawPointer(bitPattern: bits & ~1)!).release()
        } else if let p = UnsafeMutableRawPointer(bitPattern: bits) {
            free(p)
        }
    }

    @inline(__always) var sideIfAny: HashSide? {
        guard bits & 1 == 1 else { return nil }
        return Unmanaged<HashSide>.fromOpaque(UnsafeRawPointer(bitPattern: bits & ~1)!).takeUnretainedValue()
    }

    /// The side object, created on first use (it then stays).
    var side: HashSide {
        if let s = sideIfAny { return s }
        let s = HashSide()
        s.packed = UnsafeMutableRawPointer(bitPattern: bits)
        bits = UInt(bitPattern: Unmanaged.passRetained(s).toOpaque()) | 1
        return s
    }

    @inline(__always) var packedBuffer: UnsafeMutableRawPointer? {
        get { bits & 1 == 0 ? UnsafeMutableRawPointer(bitPattern: bits) : sideIfAny!.packed }
        set { if bits & 1 == 0 { bits = UInt(bitPattern: newValue) } else { sideIfAny!.packed = newValue } }
    }

    var table: HashFieldTable? { sideIfAny?.table }

    /// Field -> absolute expiry in unix milliseconds; nil when no field has a TTL.
    var fieldExpiry: [[UInt8]: Int64]? { sideIfAny?.fieldExpiry }

    /// A lower bound of the earliest field expiry (Int64.max when none): lets every access
    /// skip the expiry check with one comparison.
    public internal(set) var earliestFieldExpiry: Int64 {
        get { sideIfAny?.earliestFieldExpiry ?? .max }
        set { if newValue != .max || sideIfAny != nil { side.earliestFieldExpiry = newValue } }
    }

    /// The keyspace's sweep entry for this hash (0 = none) and the time it is due.
    var sweepToken: Int {
        get { sideIfAny?.sweepToken ?? 0 }
        set { if newValue != 0 || sideIfAny != nil { side.sweepToken = newValue } }
    }
    var scheduledAt: Int64 {
        get { sideIfAny?.scheduledAt ?? .max }
        set { if newValue != .max || sideIfAny != nil { side.scheduledAt = newValue } }
    }

    public var isPacked: Bool { table == nil }
    public var count: Int { table?.count ?? packedCount }

    /// The packed entries (empty when there are none or the hash is a table).
    @inline(__always) var packedBytes: UnsafeRawBufferPointer {
        guard let p = packedBuffer else { return UnsafeRawBufferPointer(start: nil, count: 0) }
        return UnsafeRawBufferPointer(start: p + Self.entriesOffset(p), count: Int(p.load(as: UInt16.self)))
    }

    /// Where the entries start in a packed buffer (after the header and the embedded key).
    @inline(__always) static func entriesOffset(_ p: UnsafeMutableRawPointer) -> Int {
        let tag = Int(p.load(fromByteOffset: 4, as: UInt8.self))
        return tag == 0 ? 5 : 5 + tag - 1
    }

    /// The key embedded by `embedKey`; valid while the hash lives (it never changes).
    @inline(__always) var embeddedKey: UnsafeRawBufferPointer {
        let p = packedBuffer!
        let tag = Int(p.load(fromByteOffset: 4, as: UInt8.self))
        return UnsafeRawBufferPointer(start: p + 5, count: tag - 1)
    }

    /// Stores `key` inside the packed buffer, so the keyspace can use the hash itself as the
    /// key's entry (saving a separate allocation). Only once in a hash's life, only for a
    /// packed hash and keys up to 254 bytes; returns false (and changes nothing) otherwise.
    /// The key stays when the hash later converts to a table (the buffer then holds only it).
    func embedKey(_ key: UnsafeRawBufferPointer) -> Bool {
        guard table == nil, key.count <= 254 else { return false }
        if let p = packedBuffer, p.load(fromByteOffset: 4, as: UInt8.self) != 0 { return false }
        let used = packedUsed
        let p = ensurePacked(extra: key.count)
        memmove(p + 5 + key.count, p + 5, used)
        if key.count > 0 { (p + 5).copyMemory(from: key.baseAddress!, byteCount: key.count) }
        p.storeBytes(of: UInt8(key.count + 1), toByteOffset: 4, as: UInt8.self)
        return true
    }

    @inline(__always) var packedUsed: Int {
        guard let p = packedBuffer else { return 0 }
        return Int(p.load(as: UInt16.self))
    }

    var packedCount: Int {
        guard let p = packedBuffer else { return 0 }
        return Int(p.load(fromByteOffset: 2, as: UInt16.self))
    }

    /// Bytes of packed entries, and the room the buffer has for them (for tests and MEMORY).
    var packedByteCount: Int { packedUsed }
    var packedCapacity: Int { packedBuffer.map { usableSize($0) - Self.entriesOffset($0) } ?? 0 }

    @inline(__always) private func setPacked(used: Int, count: Int) {
        let p = packedBuffer!
        p.storeBytes(of: UInt16(used), as: UInt16.self)
        p.storeBytes(of: UInt16(count), toByteOffset: 2, as: UInt16.self)
    }

    /// The packed buffer with room for `extra` more bytes of entries (grown to the exact size,
    /// as a listpack does, so small hashes stay compact).
    private func ensurePacked(extra: Int) -> UnsafeMutableRawPointer {
        let old = packedBuffer
        let used = packedUsed
        let need = (old.map { Self.entriesOffset($0) } ?? 5) + used + extra
        if let old, usableSize(old) >= need { return old }
        let p = realloc(old, need)!
        if old == nil {
            p.storeBytes(of: 0 as UInt32, as: UInt32.self)
            p.storeBytes(of: 0 as UInt8, toByteOffset: 4, as: UInt8.self)
        }
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
            if p.load(fromByteOffset: 4, as: UInt8.self) == 0 { free(p); s.packed = nil } else {
                p.storeBytes(of: 0 as UInt32, as: UInt32.self)
                s.packed = realloc(p, Self.entriesOffset(p))!
            }
        }
        s.table = t
    }

    // MARK: reads (no allocation)

    /// Calls `body` with a view of `field`'s value (nil when absent); the view is valid only
    /// inside `body`.
    @inline(__always)
    public func withValue<R>(_ field: UnsafeRawBufferPointer, _ body: (UnsafeRawBufferPointer?) -> R) -> R {
        if let t = table {
            guard let i = t.find(field) else { return body(nil) }
            return t.values[i].withUnsafeBytes { body($0) }
        }
        let p = packedBytes
        var i = 0
        while i < p.count {
            let fl = Varint.read(p, &i); let fs = i; i += fl
            let vl = Varint.read(p, &i); let vs = i; i += vl
            if Self.sameBytes(p, fs, fl, field) { return body(UnsafeRawBufferPointer(rebasing: p[vs..<vs + vl])) }
        }
        return body(nil)
    }

    /// A copy of `field`'s value, if present.
    public func value(_ field: UnsafeRawBufferPointer) -> [UInt8]? { withValue(field) { $0.map { Array($0) } } }

    public func value(_ field: [UInt8]) -> [UInt8]? { field.withUnsafeBytes { value($0) } }

    public func contains(_ field: UnsafeRawBufferPointer) -> Bool { withValue(field) { $0 != nil } }

    /// Every (field, value) pair, in storage order.
    public func forEach(_ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) -> Void) {
        if let t = table { t.forEach(body); return }
        forEachPacked { p, fs, fl, vs, vl in
            body(UnsafeRawBufferPointer(rebasing: p[fs..<fs + fl]), UnsafeRawBufferPointer(rebasing: p[vs..<vs + vl]))
            return true
        }
    }

    /// Looks up `count` fields and calls `body(i, value)` for each requested index in order,
    /// with nil for a missing field (duplicates each get their answer). On a packed hash all
    /// fields are resolved in a single pass over the buffer, where Redis scans once per field;
    /// the positions found are kept in a stack buffer, so HMGET allocates nothing.
    public func lookupMany(_ count: Int, field: (Int) -> UnsafeRawBufferPointer,
                           body: (Int, UnsafeRawBufferPointer?) -> Void) {
        guard count > 0 else { return }
        // Past 64 fields the position buffer would leave the stack; one scan per field is as
        // cheap then (a packed hash has at most 128 entries).
        if table != nil || count > 64 {
            for i in 0..<count { withValue(field(i)) { body(i, $0) } }
            return
        }
        Self.lookupManyPacked(packedBytes, count, field: field, body: body)
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

    // MARK: writes

    /// Bytes one entry takes in the packed buffer.
    public static func packedEntrySize(fieldCount: Int, valueCount: Int) -> Int {
        Varint.size(fieldCount) + fieldCount + Varint.size(valueCount) + valueCount
    }

    /// Sizes the packed buffer for `bytes` more bytes of entries, so a hash filled by one HSET
    /// is allocated once, at its exact size.
    public func reservePacked(_ bytes: Int) {
        if table == nil && bytes <= Self.maxPackedEntries * (Self.maxPackedValueLength * 2 + 2)
            && packedUsed + bytes <= Self.maxPackedBytes {
            _ = ensurePacked(extra: bytes)
        }
    }

    /// Sets a field, clearing any TTL it had (HSET semantics); returns true when it is new.
    @discardableResult
    public func set(_ field: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer) -> Bool {
        set(field, value, keepTTL: false)
    }

    @discardableResult
    public func set(_ field: [UInt8], _ value: [UInt8]) -> Bool {
        field.withUnsafeBytes { f in value.withUnsafeBytes { v in set(f, v) } }
    }

    /// Sets a field; `keepTTL` keeps an existing field's expiry (HINCRBY semantics).
    @discardableResult
    public func set(_ field: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer, keepTTL: Bool) -> Bool {
        if table == nil && (field.count > Self.maxPackedValueLength || value.count > Self.maxPackedValueLength) {
            convertToTable()
        }
        let isNew: Bool
        if table != nil {
            let h = ByteHash.hash(field)
            if let i = table!.find(field, hash: h) {
                table!.setValue(at: i, value)
                isNew = false
            } else {
                table!.insert(Array(field), hash: h, value: Array(value))
                isNew = true
            }
        } else if let hit = findPacked(field) {
            if packedUsed + value.count - hit.valueCount + 8 > Self.maxPackedBytes {
                convertToTable()
                table!.setValue(at: table!.find(field)!, value)
            } else {
                replacePackedValue(hit, field: field, value: value)
            }
            isNew = false
        } else if packedCount >= Self.maxPackedEntries
                    || packedUsed + Self.packedEntrySize(fieldCount: field.count, valueCount: value.count) > Self.maxPackedBytes {
            convertToTable()
            table!.insert(Array(field), hash: ByteHash.hash(field), value: Array(value))
            isNew = true
        } else {
            let size = Self.packedEntrySize(fieldCount: field.count, valueCount: value.count)
            let used = packedUsed, n = packedCount
            let p = ensurePacked(extra: size)
            var at = Self.entriesOffset(p) + used
            Varint.write(p, &at, field.count); Self.writeBytes(p, &at, field)
            Varint.write(p, &at, value.count); Self.writeBytes(p, &at, value)
            setPacked(used: used + size, count: n + 1)
            isNew = true
        }
        if !isNew && !keepTTL && fieldExpiry != nil { clearFieldExpiry(field) }
        return isNew
    }

    /// Overwrites a packed value: in place when the length is unchanged, else by shifting the
    /// tail once (only the value and its length prefix change).
    private func replacePackedValue(_ hit: PackedHit, field: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer) {
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

    /// Removes a field; returns true when it existed.
    @discardableResult
    public func remove(_ field: UnsafeRawBufferPointer) -> Bool {
        let removed: Bool
        if table != nil {
            if let i = table!.find(field) { table!.remove(at: i); removed = true } else { removed = false }
        } else if let hit = findPacked(field) {
            let used = packedUsed, n = packedCount
            let base = packedBuffer! + Self.entriesOffset(packedBuffer!)
            memmove(base + hit.start, base + hit.end, used - hit.end)
            setPacked(used: used - (hit.end - hit.start), count: n - 1)
            removed = true
        } else {
            removed = false
        }
        if removed && fieldExpiry != nil { clearFieldExpiry(field) }
        return removed
    }

    @discardableResult
    public func remove(_ field: [UInt8]) -> Bool { field.withUnsafeBytes { remove($0) } }

    // MARK: scanning and sampling

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

    /// One random entry (HRANDFIELD), or nothing when empty.
    public func withRandomEntry(_ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) -> Void) {
        guard count > 0 else { return }
        if let t = table {
            guard let i = t.randomSlot() else { return }
            t.fields[i].withUnsafeBytes { f in t.values[i].withUnsafeBytes { v in body(f, v) } }
            return
        }
        withEntry(at: Int.random(in: 0..<packedCount), body)
    }

    /// The entry at `ordinal` in storage order (0..<count). Linear on a packed hash.
    public func withEntry(at ordinal: Int, _ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) -> Void) {
        var n = 0
        forEachUntil { f, v in
            if n == ordinal { body(f, v); return false }
            n += 1
            return true
        }
    }

    /// Like `forEach`, stopping when `body` returns false.
    public func forEachUntil(_ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) -> Bool) {
        if let t = table {
            for i in 0..<t.capacity where t.isOccupied(i) {
                let go = t.fields[i].withUnsafeBytes { f in t.values[i].withUnsafeBytes { v in body(f, v) } }
                if !go { return }
            }
            return
        }
        forEachPacked { p, fs, fl, vs, vl in
            body(UnsafeRawBufferPointer(rebasing: p[fs..<fs + fl]), UnsafeRawBufferPointer(rebasing: p[vs..<vs + vl]))
        }
    }

    /// A deep copy (COPY, RESTORE of a shared value), with field TTLs.
    public func copy() -> HashObject {
        let c = HashObject()
        if let p = packedBuffer {
            // The copy is stored under another key: without the embedded one.
            let used = packedUsed
            let q = malloc(5 + used)!
            q.copyMemory(from: p, byteCount: 4)
            q.storeBytes(of: 0 as UInt8, toByteOffset: 4, as: UInt8.self)
            if used > 0 { (q + 5).copyMemory(from: p + Self.entriesOffset(p), byteCount: used) }
            c.packedBuffer = q
        }
        if let s = sideIfAny, s.table != nil || s.fieldExpiry != nil {
            let cs = c.side
            cs.table = s.table?.copy()
            cs.fieldExpiry = s.fieldExpiry
            cs.earliestFieldExpiry = s.earliestFieldExpiry
        }
        return c
    }

    /// Approximate heap bytes held, for MEMORY USAGE and INFO memory.
    public var memoryUsage: Int {
        var n = 32
        if let p = packedBuffer { n += usableSize(p) + 8 }
        if let s = sideIfAny {
            n += 80
            if let t = s.table { n += t.heapBytes }
            if let e = s.fieldExpiry { n += e.capacity * 16 + e.count * 64 }
        }
        return n
    }
}

/// The parts of a hash most hashes never need, kept out of `HashObject` itself.
final class HashSide {
    var packed: UnsafeMutableRawPointer? = nil
    var table: HashFieldTable? = nil
    var fieldExpiry: [[UInt8]: Int64]? = nil
    var earliestFieldExpiry = Int64.max
    var sweepToken = 0
    var scheduledAt = Int64.max

    deinit { if let p = packed { free(p) } }
}

#if canImport(Glibc)
/// glibc's malloc_usable_size (declared in <malloc.h>, which the Glibc module leaves out).
@_silgen_name("malloc_usable_size") func larder_malloc_usable_size(_ p: UnsafeMutableRawPointer?) -> Int
#endif

/// The bytes usable in a malloc'd block (at least what was asked for).
@inline(__always) func usableSize(_ p: UnsafeMutableRawPointer) -> Int {
    #if canImport(Glibc)
    return larder_malloc_usable_size(p)
    #elseif canImport(Darwin)
    return malloc_size(p)
    #else
    return 0
    #endif
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
