/// The table form of a large hash (past the packed thresholds): open addressing with linear
/// probing, looked up by raw field bytes and their precomputed hash, so reads never allocate.
///
/// HSCAN walks it by *home bucket* (`hash & mask`) in Redis' reverse-binary cursor order, so
/// the guarantee of Redis' dictScan holds: a field present for the whole iteration is returned
/// at least once, even when the table grows or shrinks between calls.
///
/// A class, so a packed hash pays one pointer for the table it does not have.
final class HashFieldTable {
    private var probe: ProbeControl
    private(set) var hashes: [UInt64] = []
    private(set) var fields: [[UInt8]] = []
    private(set) var values: [[UInt8]] = []

    init(capacity: Int = 16) {
        probe = ProbeControl(capacity: capacity)
        allocatePayload()
    }

    private func allocatePayload() {
        hashes = [UInt64](repeating: 0, count: probe.capacity)
        fields = [[UInt8]](repeating: [], count: probe.capacity)
        values = [[UInt8]](repeating: [], count: probe.capacity)
    }

    /// An independent copy (the arrays are shared copy-on-write).
    func copy() -> HashFieldTable {
        let c = HashFieldTable(capacity: 16)
        c.probe = probe; c.hashes = hashes; c.fields = fields; c.values = values
        return c
    }

    var count: Int { probe.count }
    var capacity: Int { probe.capacity }

    @inline(__always) func isOccupied(_ i: Int) -> Bool { probe.isOccupied(i) }

    func find(_ field: UnsafeRawBufferPointer, hash: UInt64) -> Int? {
        probe.find(hash: hash) { bytesEqual(fields[$0], field) }
    }

    func find(_ field: UnsafeRawBufferPointer) -> Int? { find(field, hash: ByteHash.hash(field)) }

    /// Inserts a field known to be absent; returns its slot.
    @discardableResult
    func insert(_ field: [UInt8], hash: UInt64, value: [UInt8]) -> Int {
        if probe.isFull { resize(probe.grownCapacity) }
        let i = probe.claim(hash: hash)
        hashes[i] = hash
        fields[i] = field
        values[i] = value
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
        fields[i] = []
        values[i] = []
        probe.release(i)
        // Give memory back when a big hash has mostly emptied, as Redis' dict shrinks.
        if capacity > 64 && count * 8 < capacity { resize(max(16, count * 2)) }
    }

    private func resize(_ newCapacity: Int) {
        let old = probe
        let (oldHashes, oldFields, oldValues) = (hashes, fields, values)
        probe = ProbeControl(capacity: newCapacity)
        allocatePayload()
        for i in 0..<old.capacity where old.isOccupied(i) {
            insert(oldFields[i], hash: oldHashes[i], value: oldValues[i])
        }
    }

    // MARK: iteration

    func forEach(_ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) -> Void) {
        for i in 0..<capacity where probe.isOccupied(i) {
            fields[i].withUnsafeBytes { f in values[i].withUnsafeBytes { v in body(f, v) } }
        }
    }

    /// Visits every entry whose home bucket is `bucket` (they sit in the probe run from it).
    func forEachInBucket(_ bucket: Int, _ body: (Int) -> Void) {
        probe.forEachSlot(homeBucket: bucket, hashAt: { hashes[$0] }, body)
    }

    /// Redis' dictScan cursor step (see ProbeControl.nextCursor). Returns 0 after the last bucket.
    func nextCursor(after cursor: UInt64) -> UInt64 { probe.nextCursor(after: cursor) }

    /// A uniformly chosen occupied slot (the table is never sparser than 1/8 past 64 slots).
    func randomSlot() -> Int? {
        guard count > 0 else { return nil }
        while true {
            let i = Int.random(in: 0..<capacity)
            if probe.isOccupied(i) { return i }
        }
    }

    var heapBytes: Int {
        var n = capacity * (1 + 8 + 8 + 8)
        for i in 0..<capacity where probe.isOccupied(i) { n += 64 + fields[i].capacity + values[i].capacity }
        return n
    }
}
