/// The table form of a large hash (past the packed thresholds): open addressing with linear
/// probing, looked up by raw field bytes and their precomputed hash, so reads never allocate.
///
/// HSCAN walks it by *home bucket* (`hash & mask`) in Redis' reverse-binary cursor order, so
/// the guarantee of Redis' dictScan holds: a field present for the whole iteration is returned
/// at least once, even when the table grows or shrinks between calls.
///
/// A class, so a packed hash pays one pointer for the table it does not have.
final class HashFieldTable {
    static let empty: UInt8 = 0, deleted: UInt8 = 1

    private(set) var control: [UInt8] = []
    private(set) var hashes: [UInt64] = []
    private(set) var fields: [[UInt8]] = []
    private(set) var values: [[UInt8]] = []
    private(set) var count = 0
    private var tombstones = 0
    private var mask = 0

    init(capacity: Int = 16) { allocate(capacity) }

    private func allocate(_ capacity: Int) {
        var cap = 16
        while cap < capacity { cap <<= 1 }
        control = [UInt8](repeating: Self.empty, count: cap)
        hashes = [UInt64](repeating: 0, count: cap)
        fields = [[UInt8]](repeating: [], count: cap)
        values = [[UInt8]](repeating: [], count: cap)
        mask = cap - 1
        count = 0
        tombstones = 0
    }

    /// An independent copy (the arrays are shared copy-on-write).
    func copy() -> HashFieldTable {
        let c = HashFieldTable(capacity: 16)
        c.control = control; c.hashes = hashes; c.fields = fields; c.values = values
        c.count = count; c.tombstones = tombstones; c.mask = mask
        return c
    }

    var capacity: Int { control.count }

    @inline(__always) static func tag(_ hash: UInt64) -> UInt8 { UInt8(truncatingIfNeeded: hash >> 57) | 0x80 }

    @inline(__always) func isOccupied(_ i: Int) -> Bool { control[i] >= 0x80 }

    func find(_ field: UnsafeRawBufferPointer, hash: UInt64) -> Int? {
        let tag = Self.tag(hash)
        var i = Int(truncatingIfNeeded: hash) & mask
        while true {
            let c = control[i]
            if c == Self.empty { return nil }
            if c == tag && bytesEqual(fields[i], field) { return i }
            i = (i + 1) & mask
        }
    }

    func find(_ field: UnsafeRawBufferPointer) -> Int? { find(field, hash: ByteHash.hash(field)) }

    /// Inserts a field known to be absent; returns its slot.
    @discardableResult
    func insert(_ field: [UInt8], hash: UInt64, value: [UInt8]) -> Int {
        if (count + tombstones + 1) * 4 > capacity * 3 {
            resize(count * 2 + 16 > capacity ? capacity * 2 : capacity)
        }
        var i = Int(truncatingIfNeeded: hash) & mask
        while control[i] >= 0x80 { i = (i + 1) & mask }
        if control[i] == Self.deleted { tombstones -= 1 }
        control[i] = Self.tag(hash)
        hashes[i] = hash
        fields[i] = field
        values[i] = value
        count += 1
        return i
    }

    func setValue(at i: Int, _ value: UnsafeRawBufferPointer) {
        if values[i].count == value.count {
            values[i].withUnsafeMutableBytes { dst in
                if let d = dst.baseAddress, let s = value.baseAddress { d.copyMemory(from: s, byteCount: value.count) }
            }
        } else {
            values[i] = Array(value)
        }
    }

    func setValue(at i: Int, _ value: [UInt8]) { values[i] = value }

    func remove(at i: Int) {
        control[i] = Self.deleted
        fields[i] = []
        values[i] = []
        count -= 1
        tombstones += 1
        // A run of tombstones followed by an empty slot can become empty again, keeping probes short.
        if control[(i + 1) & mask] == Self.empty {
            var j = i
            while control[j] == Self.deleted {
                control[j] = Self.empty; tombstones -= 1
                j = (j - 1) & mask
            }
        }
        // Give memory back when a big hash has mostly emptied, as Redis' dict shrinks.
        if capacity > 64 && count * 8 < capacity { resize(max(16, count * 2)) }
    }

    private func resize(_ newCapacity: Int) {
        let (oldControl, oldHashes, oldFields, oldValues) = (control, hashes, fields, values)
        allocate(newCapacity)
        for i in 0..<oldControl.count where oldControl[i] >= 0x80 {
            insert(oldFields[i], hash: oldHashes[i], value: oldValues[i])
        }
    }

    // MARK: iteration

    func forEach(_ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) -> Void) {
        for i in 0..<control.count where control[i] >= 0x80 {
            fields[i].withUnsafeBytes { f in values[i].withUnsafeBytes { v in body(f, v) } }
        }
    }

    /// Visits every entry whose home bucket is `bucket` (they sit in the probe run from it).
    func forEachInBucket(_ bucket: Int, _ body: (Int) -> Void) {
        var i = bucket & mask
        while control[i] != Self.empty {
            if control[i] >= 0x80 && Int(truncatingIfNeeded: hashes[i]) & mask == bucket & mask { body(i) }
            i = (i + 1) & mask
        }
    }

    /// Redis' dictScan cursor step: increment the reversed bits of the cursor masked to the
    /// table size. Returns 0 after the last bucket.
    func nextCursor(after cursor: UInt64) -> UInt64 {
        var v = cursor | ~UInt64(mask)
        v = v.bitReversed
        v &+= 1
        return v.bitReversed
    }

    /// A uniformly chosen occupied slot (the table is never sparser than 1/8 past 64 slots).
    func randomSlot() -> Int? {
        guard count > 0 else { return nil }
        while true {
            let i = Int.random(in: 0..<capacity)
            if control[i] >= 0x80 { return i }
        }
    }

    var heapBytes: Int {
        var n = capacity * (1 + 8 + 8 + 8)
        for i in 0..<control.count where control[i] >= 0x80 { n += 64 + fields[i].capacity + values[i].capacity }
        return n
    }
}

extension UInt64 {
    /// The bits in reverse order (Redis' `rev`).
    @inline(__always) var bitReversed: UInt64 {
        var v = self
        v = ((v >> 1) & 0x5555_5555_5555_5555) | ((v & 0x5555_5555_5555_5555) << 1)
        v = ((v >> 2) & 0x3333_3333_3333_3333) | ((v & 0x3333_3333_3333_3333) << 2)
        v = ((v >> 4) & 0x0F0F_0F0F_0F0F_0F0F) | ((v & 0x0F0F_0F0F_0F0F_0F0F) << 4)
        return v.byteSwapped
    }
}
