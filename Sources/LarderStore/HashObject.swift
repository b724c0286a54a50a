/// A hash value. Small hashes (the feature-store case: ~10 short fields) are packed into one
/// contiguous byte buffer like Redis' listpack: `[varint len][field][varint len][value]...`.
/// Past `maxPackedEntries` entries or `maxPackedValueLength` bytes in a field or value it
/// converts to a hash table. Per-field expiry (HEXPIRE) lives in a side table that exists only
/// for hashes that use it.
public final class HashObject {
    /// Same thresholds as Redis' hash-max-listpack-entries / hash-max-listpack-value.
    public static var maxPackedEntries = 128
    public static var maxPackedValueLength = 64

    var packed: [UInt8] = []
    var packedCount = 0
    var table: [[UInt8]: [UInt8]]? = nil
    /// Field -> absolute expiry in unix milliseconds.
    var fieldExpiry: [[UInt8]: Int64]? = nil

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

    /// Calls `body(fieldStart, fieldCount, valueStart, valueCount)` for each packed entry in
    /// order; stops when it returns false. Offsets index `packed`.
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

    /// Position of an entry in `packed`: (entryStart, valueStart, valueCount, entryEnd).
    func findPacked(_ field: UnsafeRawBufferPointer) -> (start: Int, valueStart: Int, valueCount: Int, end: Int)? {
        var result: (Int, Int, Int, Int)? = nil
        packed.withUnsafeBytes { p in
            var i = 0
            while i < p.count {
                let start = i
                let fl = Self.readVarint(p, &i); let fs = i; i += fl
                let vl = Self.readVarint(p, &i); let vs = i; i += vl
                if fl == field.count && (fl == 0 || memcmp(p.baseAddress! + fs, field.baseAddress!, fl) == 0) {
                    result = (start, vs, vl, i); return
                }
            }
        }
        return result
    }

    func convertToTable() {
        var t = [[UInt8]: [UInt8]](minimumCapacity: packedCount * 2)
        forEachPacked { p, fs, fl, vs, vl in
            t[Array(p[fs..<fs + fl])] = Array(p[vs..<vs + vl]); return true
        }
        table = t
        packed = []
        packedCount = 0
    }

    // MARK: operations

    public func get(_ field: UnsafeRawBufferPointer) -> UnsafeRawBufferPointerOwner? {
        if let t = table { return t[Array(field)].map(UnsafeRawBufferPointerOwner.array) }
        guard let hit = findPacked(field) else { return nil }
        return .packedSlice(self, hit.valueStart, hit.valueCount)
    }

    /// Copies the value of `field`, if present.
    public func value(_ field: UnsafeRawBufferPointer) -> [UInt8]? {
        if let t = table { return t[Array(field)] }
        guard let hit = findPacked(field) else { return nil }
        return Array(packed[hit.valueStart..<hit.valueStart + hit.valueCount])
    }

    public func contains(_ field: UnsafeRawBufferPointer) -> Bool {
        if let t = table { return t[Array(field)] != nil }
        return findPacked(field) != nil
    }

    /// Sets a field; returns true when the field is new.
    @discardableResult
    public func set(_ field: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer) -> Bool {
        if table == nil && (field.count > Self.maxPackedValueLength || value.count > Self.maxPackedValueLength) {
            convertToTable()
        }
        if table != nil {
            let k = Array(field)
            let isNew = table!.updateValue(Array(value), forKey: k) == nil
            if fieldExpiry != nil { fieldExpiry![k] = nil }
            return isNew
        }
        if let hit = findPacked(field) {
            if hit.valueCount == value.count {
                packed.withUnsafeMutableBytes { p in
                    if value.count > 0 { (p.baseAddress! + hit.valueStart).copyMemory(from: value.baseAddress!, byteCount: value.count) }
                }
            } else {
                var entry: [UInt8] = []
                entry.reserveCapacity(field.count + value.count + 4)
                Self.appendVarint(&entry, field.count); entry.append(contentsOf: field)
                Self.appendVarint(&entry, value.count); entry.append(contentsOf: value)
                packed.replaceSubrange(hit.start..<hit.end, with: entry)
            }
            if fieldExpiry != nil { fieldExpiry![Array(field)] = nil }
            return false
        }
        if packedCount >= Self.maxPackedEntries {
            convertToTable()
            return set(field, value)
        }
        Self.appendVarint(&packed, field.count); packed.append(contentsOf: field)
        Self.appendVarint(&packed, value.count); packed.append(contentsOf: value)
        packedCount += 1
        return true
    }

    public func set(_ field: [UInt8], _ value: [UInt8]) -> Bool {
        field.withUnsafeBytes { f in value.withUnsafeBytes { v in set(f, v) } }
    }

    /// Removes a field; returns true when it existed.
    @discardableResult
    public func remove(_ field: UnsafeRawBufferPointer) -> Bool {
        if fieldExpiry != nil {
            fieldExpiry![Array(field)] = nil
            if fieldExpiry!.isEmpty { fieldExpiry = nil }
        }
        if table != nil { return table!.removeValue(forKey: Array(field)) != nil }
        guard let hit = findPacked(field) else { return false }
        packed.removeSubrange(hit.start..<hit.end)
        packedCount -= 1
        return true
    }

    /// Every (field, value) pair, in storage order.
    public func forEach(_ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) -> Void) {
        if let t = table {
            for (k, v) in t { k.withUnsafeBytes { kb in v.withUnsafeBytes { vb in body(kb, vb) } } }
            return
        }
        forEachPacked { p, fs, fl, vs, vl in
            body(UnsafeRawBufferPointer(rebasing: p[fs..<fs + fl]), UnsafeRawBufferPointer(rebasing: p[vs..<vs + vl]))
            return true
        }
    }

    /// Looks up several fields in one pass over a packed hash (Redis scans once per field).
    /// `body(i, value)` is called for every requested index, with nil for a missing field.
    public func lookupMany(_ count: Int, field: (Int) -> UnsafeRawBufferPointer,
                           body: (Int, UnsafeRawBufferPointer?) -> Void) {
        if table != nil || count > 32 {
            for i in 0..<count {
                let f = field(i)
                if let t = table {
                    if let v = t[Array(f)] { v.withUnsafeBytes { body(i, $0) } } else { body(i, nil) }
                } else if let hit = findPacked(f) {
                    packed.withUnsafeBytes { body(i, UnsafeRawBufferPointer(rebasing: $0[hit.valueStart..<hit.valueStart + hit.valueCount])) }
                } else { body(i, nil) }
            }
            return
        }
        // Record where each requested field's value lies, then emit in request order.
        var found = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        withUnsafeMutableBytes(of: &found) { raw in
            let slots = raw.bindMemory(to: Int.self)  // value start+1, 0 = missing; lengths below
            var remaining = count
            var valueLen = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
            withUnsafeMutableBytes(of: &valueLen) { lraw in
                let lens = lraw.bindMemory(to: Int.self)
                forEachPacked { p, fs, fl, vs, vl in
                    for i in 0..<count where slots[i] == 0 {
                        let f = field(i)
                        if f.count == fl && (fl == 0 || memcmp(p.baseAddress! + fs, f.baseAddress!, fl) == 0) {
                            slots[i] = vs + 1; lens[i] = vl; remaining -= 1
                        }
                    }
                    return remaining > 0
                }
                packed.withUnsafeBytes { p in
                    for i in 0..<count {
                        if slots[i] == 0 { body(i, nil) }
                        else { body(i, UnsafeRawBufferPointer(rebasing: p[(slots[i] - 1)..<(slots[i] - 1 + lens[i])])) }
                    }
                }
            }
        }
    }

    /// Approximate heap bytes held, for MEMORY USAGE and INFO memory.
    public var memoryUsage: Int {
        if let t = table {
            var n = 48 + t.capacity * 48
            for (k, v) in t { n += k.count + v.count + 64 }
            return n
        }
        return 48 + 32 + packed.capacity
    }
}

/// A value borrowed from storage without copying.
public enum UnsafeRawBufferPointerOwner {
    case array([UInt8])
    case packedSlice(HashObject, Int, Int)

    public func withBytes<R>(_ body: (UnsafeRawBufferPointer) -> R) -> R {
        switch self {
        case .array(let a): return a.withUnsafeBytes(body)
        case .packedSlice(let h, let s, let n):
            return h.packed.withUnsafeBytes { body(UnsafeRawBufferPointer(rebasing: $0[s..<s + n])) }
        }
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
