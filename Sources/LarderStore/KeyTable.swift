/// Open-addressing hash table from byte-string keys to values, probed linearly. Lookups take
/// the raw key bytes and their precomputed hash, so a command never allocates to look a key up.
/// Parallel arrays keep the probe loop on a dense control array (7 hash bits per slot).
/// A class, not a struct: as a struct stored in `Keyspace`, every call copied it and retained
/// its four arrays (a quarter of SET's CPU in `perf`).
final class KeyTable {
    static let empty: UInt8 = 0, deleted: UInt8 = 1

    private(set) var control: [UInt8]
    var keys: [[UInt8]]
    var values: [StoredValue]
    var expires: [Int64]        // absolute unix ms; 0 = no expiry
    private(set) var count = 0
    private var tombstones = 0
    private var mask: Int

    init(capacity: Int = 16) {
        var cap = 16
        while cap < capacity { cap <<= 1 }
        control = [UInt8](repeating: Self.empty, count: cap)
        keys = [[UInt8]](repeating: [], count: cap)
        values = [StoredValue](repeating: .string([]), count: cap)
        expires = [Int64](repeating: 0, count: cap)
        mask = cap - 1
    }

    var capacity: Int { control.count }

    @inline(__always) static func tag(_ hash: UInt64) -> UInt8 { UInt8(truncatingIfNeeded: hash >> 57) | 0x80 }

    func find(_ key: UnsafeRawBufferPointer, hash: UInt64) -> Int? {
        let tag = Self.tag(hash)
        var i = Int(truncatingIfNeeded: hash) & mask
        return control.withUnsafeBufferPointer { ctrl in
            while true {
                let c = ctrl[i]
                if c == Self.empty { return nil }
                if c == tag && bytesEqual(keys[i], key) { return i }
                i = (i + 1) & mask
            }
        }
    }

    /// Inserts a key known to be absent; returns its slot.
    func insert(_ key: [UInt8], hash: UInt64, value: StoredValue, expireAt: Int64) -> Int {
        if (count + tombstones + 1) * 4 > capacity * 3 { resize(count * 2 + 16 > capacity ? capacity * 2 : capacity) }
        var i = Int(truncatingIfNeeded: hash) & mask
        while control[i] >= 0x80 { i = (i + 1) & mask }
        if control[i] == Self.deleted { tombstones -= 1 }
        control[i] = Self.tag(hash)
        keys[i] = key
        values[i] = value
        expires[i] = expireAt
        count += 1
        return i
    }

    func remove(at i: Int) {
        control[i] = Self.deleted
        keys[i] = []
        values[i] = .string([])
        expires[i] = 0
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
    }

    func removeAll() { adopt(KeyTable()) }

    private func adopt(_ other: KeyTable) {
        control = other.control; keys = other.keys; values = other.values; expires = other.expires
        count = other.count; tombstones = other.tombstones; mask = other.mask
    }

    private func resize(_ newCapacity: Int) {
        let next = KeyTable(capacity: newCapacity)
        for i in 0..<control.count where control[i] >= 0x80 {
            let h = ByteHash.hash(keys[i])
            _ = next.insert(keys[i], hash: h, value: values[i], expireAt: expires[i])
        }
        adopt(next)
    }

    /// Occupied slot at or after `from`, if any.
    func nextOccupied(from: Int) -> Int? {
        var i = from
        while i < control.count {
            if control[i] >= 0x80 { return i }
            i += 1
        }
        return nil
    }

    @inline(__always) func isOccupied(_ i: Int) -> Bool { control[i] >= 0x80 }

    /// Every occupied slot whose key's home bucket (hash & mask) is `home`. Linear probing puts
    /// such a key in the run of non-empty slots that starts at `home` (tombstones keep runs
    /// intact), and the load limit guarantees the run ends at an empty slot.
    func forEachSlot(homeBucket home: Int, _ body: (Int) -> Void) {
        var i = home & mask
        while control[i] != Self.empty {
            if control[i] >= 0x80 && Int(truncatingIfNeeded: ByteHash.hash(keys[i])) & mask == home & mask { body(i) }
            i = (i + 1) & mask
        }
    }
}
