import LarderStore

/// Open-addressing index from byte-string keys to dense ids 0, 1, 2...: the entity-key
/// lookup done for every source row. Swift's Dictionary<[UInt8], Int> hashes byte by byte
/// through Hasher, which was most of materialization's time; this uses the store's fast
/// ByteHash and keeps the keys themselves in `keys` (id order).
/// Not the store's ProbeControl: this index only grows (entity ids are dense and never
/// removed, so no tombstones or control bytes) and lives for one materialization run.
struct ByteKeyIndex {
    private(set) var keys: [[UInt8]] = []
    /// Per bucket: id + 1, or 0 when empty.
    private var buckets: [Int32]
    private var hashes: [UInt64] = []
    private var mask: Int

    init(capacity: Int = 1024) {
        var size = 16
        while size < capacity * 2 { size <<= 1 }
        buckets = [Int32](repeating: 0, count: size)
        mask = size - 1
    }

    var count: Int { keys.count }

    /// The id of `key`, or nil.
    func find(_ key: [UInt8]) -> Int? {
        let hash = ByteHash.hash(key)
        var i = Int(truncatingIfNeeded: hash) & mask
        while true {
            let entry = Int(buckets[i])
            if entry == 0 { return nil }
            if hashes[entry - 1] == hash && keys[entry - 1] == key { return entry - 1 }
            i = (i + 1) & mask
        }
    }

    /// The id of `key`, adding it (with the next id) when new; `inserted` says which.
    mutating func findOrInsert(_ key: [UInt8]) -> (id: Int, inserted: Bool) {
        let hash = ByteHash.hash(key)
        var i = Int(truncatingIfNeeded: hash) & mask
        while true {
            let entry = Int(buckets[i])
            if entry == 0 { break }
            if hashes[entry - 1] == hash && keys[entry - 1] == key { return (entry - 1, false) }
            i = (i + 1) & mask
        }
        let id = keys.count
        keys.append(key)
        hashes.append(hash)
        buckets[i] = Int32(id + 1)
        if keys.count * 2 > buckets.count { grow() }
        return (id, true)
    }

    private mutating func grow() {
        let size = buckets.count * 2
        buckets = [Int32](repeating: 0, count: size)
        mask = size - 1
        for (id, hash) in hashes.enumerated() {
            var i = Int(truncatingIfNeeded: hash) & mask
            while buckets[i] != 0 { i = (i + 1) & mask }
            buckets[i] = Int32(id + 1)
        }
    }
}

/// Open-addressing index from Int64 entity ids to dense ids: the fast path for the most
/// common entity, one Int64 join key. The id sits in the bucket itself, so a lookup is one
/// cache line instead of a hash of the serialized key plus a pointer chase to compare it.
struct Int64KeyIndex {
    private var bucketKeys: [Int64]
    /// Per bucket: id + 1, or 0 when empty.
    private var bucketIds: [Int32]
    private var mask: Int
    private(set) var count = 0

    init(capacity: Int = 1024) {
        var size = 16
        while size < capacity * 2 { size <<= 1 }
        bucketKeys = [Int64](repeating: 0, count: size)
        bucketIds = [Int32](repeating: 0, count: size)
        mask = size - 1
    }

    @inline(__always) private static func hash(_ key: Int64) -> Int {
        // Fibonacci hashing: ids are often consecutive, which this spreads over the table.
        Int(truncatingIfNeeded: (UInt64(bitPattern: key) &* 0x9E37_79B9_7F4A_7C15) >> 29)
    }

    /// The id of `key`, or nil.
    func find(_ key: Int64) -> Int? {
        var i = Int64KeyIndex.hash(key) & mask
        while true {
            let entry = Int(bucketIds[i])
            if entry == 0 { return nil }
            if bucketKeys[i] == key { return entry - 1 }
            i = (i + 1) & mask
        }
    }

    /// The id of `key`, or the next id (then `inserted` is true).
    mutating func findOrInsert(_ key: Int64) -> (id: Int, inserted: Bool) {
        var i = Int64KeyIndex.hash(key) & mask
        while true {
            let entry = Int(bucketIds[i])
            if entry == 0 { break }
            if bucketKeys[i] == key { return (entry - 1, false) }
            i = (i + 1) & mask
        }
        let id = count
        count += 1
        bucketKeys[i] = key
        bucketIds[i] = Int32(id + 1)
        if count * 2 > bucketIds.count { grow() }
        return (id, true)
    }

    private mutating func grow() {
        let oldKeys = bucketKeys, oldIds = bucketIds
        let size = bucketIds.count * 2
        bucketKeys = [Int64](repeating: 0, count: size)
        bucketIds = [Int32](repeating: 0, count: size)
        mask = size - 1
        for b in 0 ..< oldIds.count where oldIds[b] != 0 {
            var i = Int64KeyIndex.hash(oldKeys[b]) & mask
            while bucketIds[i] != 0 { i = (i + 1) & mask }
            bucketKeys[i] = oldKeys[b]
            bucketIds[i] = oldIds[b]
        }
    }
}
