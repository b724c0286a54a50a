/// The keyspace's side of hash-field expiry: it remembers which keys hold hashes with field
/// TTLs, expires their fields lazily when such a key is looked up, and sweeps them actively
/// a bounded number of hashes per cycle (Redis keeps the same per-db registry, `db->hexpires`).
///
/// The index may hold stale entries (the key was deleted, renamed or overwritten, or its
/// fields lost their TTLs); the sweep drops those when it meets them, so no other code path
/// has to keep it exact.
struct HashFieldExpiryIndex {
    private(set) var keys: [[UInt8]] = []
    private(set) var hashes: [HashObject] = []
    private var position: [[UInt8]: Int] = [:]
    var cursor = 0

    var count: Int { keys.count }

    mutating func insert(_ key: [UInt8], _ hash: HashObject) {
        if let p = position[key] { hashes[p] = hash; return }
        position[key] = keys.count
        keys.append(key)
        hashes.append(hash)
    }

    /// Removes entry `p` by moving the last entry into its place.
    mutating func remove(at p: Int) {
        position[keys[p]] = nil
        let last = keys.count - 1
        if p != last {
            keys[p] = keys[last]
            hashes[p] = hashes[last]
            position[keys[p]] = p
        }
        keys.removeLast()
        hashes.removeLast()
    }
}

extension Keyspace {
    /// Number of keys registered as holding hashes with field TTLs (may include stale ones).
    public var hashesWithFieldExpiry: Int { fieldExpiryIndex.count }

    /// Registers the hash at `key` for active field expiry. Call after giving a field a TTL.
    public func trackFieldExpiry(_ key: UnsafeRawBufferPointer, _ hash: HashObject) {
        fieldExpiryIndex.insert(Array(key), hash)
    }

    /// Called by `set`: a hash stored with field TTLs (RENAME, MOVE, RESTORE...) is tracked.
    @inline(__always)
    func trackFieldExpiry(_ key: UnsafeRawBufferPointer, _ value: StoredValue) {
        if case .hash(let h) = value, h.hasFieldExpiry { fieldExpiryIndex.insert(Array(key), h) }
    }

    /// Lazy field expiry at `slot`: removes fields whose time has come, and the key when none
    /// is left. Returns true when the key was removed.
    func expireHashFields(slot: Int, now: Int64) -> Bool {
        guard case .hash(let h) = table.values[slot], h.earliestFieldExpiry <= now else { return false }
        guard h.removeExpiredFields(now: now) > 0 else { return false }
        if h.count == 0 { remove(at: slot); return true }
        touch(slot)
        return false
    }

    /// One step of the active sweep over hashes with field TTLs: visits up to `budget` of
    /// them from where the previous step stopped. Returns how many fields it deleted.
    @discardableResult
    public func sweepExpiredHashFields(now: Int64, budget: Int) -> Int {
        var deleted = 0
        var visited = 0
        var p = fieldExpiryIndex.cursor
        let limit = min(budget, fieldExpiryIndex.count)  // each hash at most once per step
        while visited < limit && fieldExpiryIndex.count > 0 {
            if p >= fieldExpiryIndex.count { p = 0 }
            let key = fieldExpiryIndex.keys[p]
            let h = fieldExpiryIndex.hashes[p]
            visited += 1
            let slot = key.withUnsafeBytes { table.find($0, hash: ByteHash.hash($0)) }
            guard let slot, case .hash(let current) = table.values[slot], current === h, h.hasFieldExpiry else {
                fieldExpiryIndex.remove(at: p)  // stale: the last entry moved to p
                continue
            }
            if h.earliestFieldExpiry <= now {
                deleted += h.removeExpiredFields(now: now)
                if h.count == 0 {
                    remove(at: slot)
                    fieldExpiryIndex.remove(at: p)
                    continue
                }
                touch(slot)
                if !h.hasFieldExpiry { fieldExpiryIndex.remove(at: p); continue }
            }
            p += 1
        }
        fieldExpiryIndex.cursor = p
        return deleted
    }
}
