import Synchronization
/// A hash value. Small hashes (the feature-store case: ~10 short fields) are packed into one
/// contiguous byte buffer like Redis' listpack: `[varint len][field][varint len][value]...`.
/// Past `maxPackedEntries` entries, or a field or value longer than `maxPackedValueLength`, it
/// converts to a `HashFieldTable` for good (Redis never converts back either).
///
/// Reads (`withValue`, `lookupMany`, `forEach`) hand out views into storage and allocate
/// nothing. Per-field expiry (HEXPIRE) lives in a side table that exists only for hashes that
/// use it.
///
/// This file holds the storage word, the side object and the public operations, which pick a
/// form; the forms themselves are in HashObject+Packed.swift (the buffer layout and its codec)
/// and HashObject+TableForm.swift (conversion, bucket scans); field TTLs in
/// HashObject+FieldExpiry.swift.
public final class HashObject {
    /// The packed form's ceiling: at most this many entries, of fields and values of at most
    /// this many bytes (Redis' default hash-max-listpack-value is 64 too).
    public static let maxPackedEntries = 128
    public static let maxPackedValueLength = 64
    /// The thresholds in force (CONFIG SET hash-max-listpack-entries / -value, which may lower
    /// them below the ceiling, as tests do to force the table form): one relaxed load per write.
    public static let packedEntriesLimit = Atomic<Int>(maxPackedEntries)
    public static let packedValueLimit = Atomic<Int>(maxPackedValueLength)
    /// The packed buffer's 16-bit length limit (far above the default thresholds' 16 KB).
    static let maxPackedBytes = 0xFFFF

    /// The whole object is one word, so it takes a 32-byte malloc chunk:
    /// - 0: an empty packed hash;
    /// - low bit 0: the packed buffer, one malloc'd block
    ///   `[UInt16 used][UInt8 count][UInt8 key tag][24-bit access, if keyed][key][entries]`:
    ///   the key tag is 0, or the length + 1 of the key the keyspace stored this hash under (see
    ///   `embedKey`), which then also carries that key's access word (KeyAccess);
    /// - low bit 1: a retained `HashSide` holding the rarely needed parts (table form, field
    ///   TTLs, sweep bookkeeping) and the packed buffer, if any.
    /// A packed hash with its key and nothing else can also live without this object at all:
    /// its slot then points straight at the buffer (`detachKeyedBuffer`, KeyTable's bare slots).
    private var bits: UInt = 0

    public init() {}

    /// A hash owning `buffer`, a packed buffer in this layout (a bare slot's, see KeyTable).
    init(adopting buffer: UnsafeMutableRawPointer) { bits = UInt(bitPattern: buffer) }

    /// Hands the packed buffer over to the caller (this hash is then empty) when it is all the
    /// hash has: packed form, its key embedded, no side object (no field TTLs, no sweep). nil,
    /// and nothing changes, otherwise. Why: a slot can then point at the buffer itself, without
    /// this object's 32-byte chunk (bench/results/memory-hashes.md).
    func detachKeyedBuffer() -> UnsafeMutableRawPointer? {
        guard bits & 1 == 0, let p = UnsafeMutableRawPointer(bitPattern: bits),
              Self.keyTag(p) != 0 else { return nil }
        bits = 0
        return p
    }

    /// The key's access word (KeyAccess) while this hash is stored as its slot's object (a
    /// keyed buffer, see KeyTable.isObject); it lives in the buffer's header, so the object
    /// stays one word.
    var accessWord: UInt32 {
        get { Self.accessWord(packedBuffer!) }
        set { Self.setAccessWord(packedBuffer!, newValue) }
    }

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

    // MARK: reads (no allocation)

    /// Calls `body` with a view of `field`'s value (nil when absent); the view is valid only
    /// inside `body`.
    @inline(__always)
    public func withValue<R>(_ field: UnsafeRawBufferPointer, _ body: (UnsafeRawBufferPointer?) -> R) -> R {
        if let t = table {
            guard let i = t.find(field) else { return body(nil) }
            return t.values[i].withUnsafeBytes { body($0) }
        }
        return Self.withPackedValue(packedBytes, field, body)
    }

    /// A copy of `field`'s value, if present.
    public func value(_ field: UnsafeRawBufferPointer) -> [UInt8]? { withValue(field) { $0.map { Array($0) } } }

    public func value(_ field: [UInt8]) -> [UInt8]? { field.withUnsafeBytes { value($0) } }

    public func contains(_ field: UnsafeRawBufferPointer) -> Bool { withValue(field) { $0 != nil } }

    /// Every (field, value) pair, in storage order.
    public func forEach(_ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) -> Void) {
        if let t = table { t.forEach(body); return }
        Self.forEachPackedEntry(packedBytes, body)
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

    /// A packed hash's entries as stored, `[varint field length][field][varint value length]
    /// [value]...` (varints 7 bits a byte, low bits first), or nil for a table hash. For a
    /// reader that matches many known fields in one pass its own way (FEATURES.GET's
    /// per-selection field index); valid until the hash is modified.
    public var packedEntries: UnsafeRawBufferPointer? { table == nil ? packedBytes : nil }

    // MARK: writes

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
        let valueLimit = Self.packedValueLimit.load(ordering: .relaxed)
        if table == nil && (field.count > valueLimit || value.count > valueLimit) {
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
        } else if packedCount >= Self.packedEntriesLimit.load(ordering: .relaxed)
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

    // MARK: sampling

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
            let q = malloc(Self.headerBytes + used)!   // [used][count][key tag 0][entries]
            Self.clearHeader(q)
            if used > 0 { (q + Self.headerBytes).copyMemory(from: p + Self.entriesOffset(p), byteCount: used) }
            c.packedBuffer = q
            c.setPacked(used: used, count: packedCount)
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
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
