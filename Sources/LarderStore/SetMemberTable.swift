#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The table form of a set (past the intset): open addressing with linear probing
/// (`ProbeControl`) over pointers to malloc'd members, each `[varint length][bytes]`. A member
/// of 16 bytes is one 32-byte malloc chunk plus 9 bytes a slot, where a `Set<[UInt8]>` paid a
/// 64-byte chunk (the array's 32-byte header) plus 8 bytes a bucket (bench/results/
/// memory-types.md: 95.3 -> 57.5 B a member of 100-member sets). Hashes are recomputed when
/// the table is rebuilt instead of being stored (Redis' dict does the same for sds keys).
final class SetMemberTable {
    private var probe: ProbeControl
    private var slots: UnsafeMutablePointer<UnsafeMutableRawPointer?>

    init(capacity: Int = 16) {
        probe = ProbeControl(capacity: capacity)
        slots = .allocate(capacity: probe.capacity)
        slots.initialize(repeating: nil, count: probe.capacity)
    }

    deinit {
        for i in 0..<probe.capacity { free(slots[i]) }
        slots.deallocate()
    }

    var count: Int { probe.count }
    var capacity: Int { probe.capacity }

    @inline(__always) private static func bytes(_ p: UnsafeMutableRawPointer) -> UnsafeRawBufferPointer {
        var i = 0
        let n = Varint.read(p, &i)
        return UnsafeRawBufferPointer(start: p + i, count: n)
    }

    @inline(__always) private static func equal(_ p: UnsafeMutableRawPointer, _ m: UnsafeRawBufferPointer) -> Bool {
        let b = bytes(p)
        return b.count == m.count && (m.count == 0 || memcmp(b.baseAddress!, m.baseAddress!, m.count) == 0)
    }

    private func find(_ m: UnsafeRawBufferPointer, hash: UInt64) -> Int? {
        probe.find(hash: hash) { Self.equal(slots[$0]!, m) }
    }

    func contains(_ m: UnsafeRawBufferPointer) -> Bool { find(m, hash: ByteHash.hash(m)) != nil }

    /// Adds `m`; false when it was there.
    func insert(_ m: UnsafeRawBufferPointer) -> Bool {
        let h = ByteHash.hash(m)
        if find(m, hash: h) != nil { return false }
        if probe.isFull { resize(probe.grownCapacity) }
        let p = malloc(Varint.size(m.count) + m.count)!
        var i = 0
        Varint.write(p, &i, m.count)
        if m.count > 0 { (p + i).copyMemory(from: m.baseAddress!, byteCount: m.count) }
        slots[probe.claim(hash: h)] = p
        return true
    }

    /// Removes `m`; false when it was not there.
    func remove(_ m: UnsafeRawBufferPointer) -> Bool {
        guard let i = find(m, hash: ByteHash.hash(m)) else { return false }
        free(slots[i])
        slots[i] = nil
        probe.release(i)
        // Give memory back when a big set has mostly emptied, as Redis' dict shrinks; this
        // also keeps `randomMember`'s probing short.
        if capacity > 64 && count * 8 < capacity { resize(max(16, count * 2)) }
        return true
    }

    private func resize(_ newCapacity: Int) {
        let old = probe, oldSlots = slots
        probe = ProbeControl(capacity: newCapacity)
        slots = .allocate(capacity: probe.capacity)
        slots.initialize(repeating: nil, count: probe.capacity)
        for i in 0..<old.capacity where old.isOccupied(i) {
            let p = oldSlots[i]!
            slots[probe.claim(hash: ByteHash.hash(Self.bytes(p)))] = p
        }
        oldSlots.deallocate()
    }

    func forEach(_ body: (UnsafeRawBufferPointer) -> Void) {
        for i in 0..<probe.capacity where probe.isOccupied(i) { body(Self.bytes(slots[i]!)) }
    }

    /// A uniformly random member: random slots until an occupied one (the load is at least
    /// 1/8 past 64 slots, see `remove`, so this takes a few tries).
    func randomMember() -> [UInt8]? {
        guard count > 0 else { return nil }
        while true {
            let i = Int.random(in: 0..<probe.capacity)
            if probe.isOccupied(i) { return Array(Self.bytes(slots[i]!)) }
        }
    }

    func copy() -> SetMemberTable {
        let c = SetMemberTable(capacity: probe.capacity)
        forEach { _ = c.insert($0) }
        return c
    }

    /// Heap bytes: the slot arrays and each member's malloc chunk.
    var memoryUsage: Int {
        var total = 48 + probe.capacity * 9
        for i in 0..<probe.capacity where probe.isOccupied(i) { total += usableSize(slots[i]!) + 8 }
        return total
    }
}
