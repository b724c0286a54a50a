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
    public static var maxPackedEntries = 128
    public static var maxPackedValueLength = 64

    var packed: [UInt8] = []
    var packedCount = 0
    var table: HashFieldTable? = nil
    /// Field -> absolute expiry in unix milliseconds; nil when no field has a TTL.
    var fieldExpiry: [[UInt8]: Int64]? = nil
    /// A lower bound of the earliest field expiry (Int64.max when none): lets every access
    /// skip the expiry check with one comparison.
    public internal(set) var earliestFieldExpiry = Int64.max
    /// The keyspace's sweep entry for this hash (0 = none) and the time it is due.
    var sweepToken = 0
    var scheduledAt = Int64.max

    public init() {}

    public var isPacked: Bool { table == nil }
    public var count: Int { table?.count ?? packedCount }

    // MARK: packed encoding

    @inline(__always) static func readVarint(_ p: UnsafeRawBufferPointer, _ i: inout Int) -> Int {
        var v = 0, shift = 0
        while true {
            let b = p[i]; i += 1
            v |= Int(b & 0x7F) << shift
            if b < 0x80 { return v }
            shift += 7
        }
    }

    static func appendVarint(_ out: inout [UInt8], _ v: Int) {
        var v = UInt(v)
        while v >= 0x80 { out.append(UInt8(v & 0x7F) | 0x80); v >>= 7 }
        out.append(UInt8(v))
    }

    static func varintSize(_ v: Int) -> Int {
        var n = 1, v = UInt(v)
        while v >= 0x80 { v >>= 7; n += 1 }
        return n
    }

    @inline(__always)
    static func sameBytes(_ p: UnsafeRawBufferPointer, _ start: Int, _ length: Int, _ other: UnsafeRawBufferPointer) -> Bool {
        length == other.count && (length == 0 || memcmp(p.baseAddress! + start, other.baseAddress!, length) == 0)
    }

    /// Calls `body(buffer, fieldStart, fieldCount, valueStart, valueCount)` for each packed
    /// entry in order; stops when it returns false.
    @inline(__always)
    func forEachPacked(_ body: (UnsafeRawBufferPointer, Int, Int, Int, Int) -> Bool) {
        packed.withUnsafeBytes { p in
            var i = 0
            while i < p.count {
                let fl = Self.readVarint(p, &i); let fs = i; i += fl
                let vl = Self.readVarint(p, &i); let vs = i; i += vl
                if !body(p, fs, fl, vs, vl) { return }
            }
        }
    }

    /// Where an entry lies in `packed`.
    struct PackedHit { let start: Int; let valueStart: Int; let valueCount: Int; let end: Int }

    func findPacked(_ field: UnsafeRawBufferPointer) -> PackedHit? {
        packed.withUnsafeBytes { p -> PackedHit? in
            var i = 0
            while i < p.count {
                let start = i
                let fl = Self.readVarint(p, &i); let fs = i; i += fl
                let vl = Self.readVarint(p, &i); let vs = i; i += vl
                if Self.sameBytes(p, fs, fl, field) { return PackedHit(start: start, valueStart: vs, valueCount: vl, end: i) }
            }
            return nil
        }
    }

    func convertToTable() {
        let t = HashFieldTable(capacity: packedCount * 2)
        forEachPacked { p, fs, fl, vs, vl in
            let f = UnsafeRawBufferPointer(rebasing: p[fs..<fs + fl])
            t.insert(Array(f), hash: ByteHash.hash(f), value: Array(p[vs..<vs + vl]))
            return true
        }
        table = t
        packed = []
        packedCount = 0
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
        return packed.withUnsafeBytes { p in
            var i = 0
            while i < p.count {
                let fl = Self.readVarint(p, &i); let fs = i; i += fl
                let vl = Self.readVarint(p, &i); let vs = i; i += vl
                if Self.sameBytes(p, fs, fl, field) { return body(UnsafeRawBufferPointer(rebasing: p[vs..<vs + vl])) }
            }
            return body(nil)
        }
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
        packed.withUnsafeBytes { p in Self.lookupManyPacked(p, count, field: field, body: body) }
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
                let fl = readVarint(p, &at); let fs = at; at += fl
                let vl = readVarint(p, &at); let vs = at; at += vl
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
        varintSize(fieldCount) + fieldCount + varintSize(valueCount) + valueCount
    }

    /// Sizes the packed buffer for `bytes` more bytes of entries, so a hash filled by one HSET
    /// is allocated once, at its exact size.
    public func reservePacked(_ bytes: Int) {
        if table == nil && bytes <= Self.maxPackedEntries * (Self.maxPackedValueLength * 2 + 2) {
            packed.reserveCapacity(packed.count + bytes)
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
            replacePackedValue(hit, field: field, value: value)
            isNew = false
        } else if packedCount >= Self.maxPackedEntries {
            convertToTable()
            table!.insert(Array(field), hash: ByteHash.hash(field), value: Array(value))
            isNew = true
        } else {
            // Grow to the exact size, as a listpack does: small hashes stay compact.
            packed.reserveCapacity(packed.count + Self.packedEntrySize(fieldCount: field.count, valueCount: value.count))
            Self.appendVarint(&packed, field.count); packed.append(contentsOf: field)
            Self.appendVarint(&packed, value.count); packed.append(contentsOf: value)
            packedCount += 1
            isNew = true
        }
        if !isNew && !keepTTL && fieldExpiry != nil { clearFieldExpiry(field) }
        return isNew
    }

    /// Overwrites a packed value: in place when the length is unchanged, else by shifting the
    /// tail once (only the value and its length prefix change).
    private func replacePackedValue(_ hit: PackedHit, field: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer) {
        let oldPrefix = Self.varintSize(hit.valueCount)
        let prefixStart = hit.valueStart - oldPrefix
        if hit.valueCount == value.count {
            if value.count > 0 {
                packed.withUnsafeMutableBytes { p in
                    (p.baseAddress! + hit.valueStart).copyMemory(from: value.baseAddress!, byteCount: value.count)
                }
            }
            return
        }
        var entry: [UInt8] = []
        entry.reserveCapacity(value.count + 4)
        Self.appendVarint(&entry, value.count)
        entry.append(contentsOf: value)
        packed.replaceSubrange(prefixStart..<hit.end, with: entry)
    }

    /// Removes a field; returns true when it existed.
    @discardableResult
    public func remove(_ field: UnsafeRawBufferPointer) -> Bool {
        let removed: Bool
        if table != nil {
            if let i = table!.find(field) { table!.remove(at: i); removed = true } else { removed = false }
        } else if let hit = findPacked(field) {
            packed.removeSubrange(hit.start..<hit.end)
            packedCount -= 1
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
        c.packed = packed
        c.packedCount = packedCount
        c.table = table?.copy()
        c.fieldExpiry = fieldExpiry
        c.earliestFieldExpiry = earliestFieldExpiry
        return c
    }

    /// Approximate heap bytes held, for MEMORY USAGE and INFO memory.
    public var memoryUsage: Int {
        var n = 48
        if let t = table { n += t.heapBytes } else { n += 32 + packed.capacity }
        if let e = fieldExpiry { n += e.capacity * 16 + e.count * 64 }
        return n
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
