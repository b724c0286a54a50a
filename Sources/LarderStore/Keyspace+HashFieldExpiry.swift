/// The keyspace's side of hash-field expiry: it remembers which keys hold hashes with field
/// TTLs, expires their fields lazily when such a key is looked up, and sweeps them actively
/// (Redis keeps the same per-db registry, `db->hexpires`, ordered by each hash's next expiry).
///
/// A min-heap on each hash's earliest field expiry, so a sweep step only touches hashes that
/// are due. Entries may go stale (the key was deleted, renamed or overwritten, the TTLs were
/// removed or pushed later); each hash carries the token of its one live entry, and the sweep
/// drops or reschedules what it pops, so no other code path has to keep the heap exact.
struct HashFieldExpiryIndex {
    struct Entry {
        let at: Int64
        let key: [UInt8]
        let hash: HashObject
        let token: Int
    }
    private(set) var heap: [Entry] = []
    private var nextToken = 1

    var count: Int { heap.count }

    /// Schedules `hash` (stored at `key`) for its earliest field expiry, unless an entry for
    /// the same key is already due no later.
    mutating func schedule(_ key: [UInt8], _ hash: HashObject, force: Bool = false) {
        let at = hash.earliestFieldExpiry
        guard at != .max else { return }
        if !force && hash.sweepToken != 0 && hash.scheduledAt <= at { return }
        hash.sweepToken = nextToken
        hash.scheduledAt = at
        nextToken &+= 1
        heap.append(Entry(at: at, key: key, hash: hash, token: hash.sweepToken))
        var i = heap.count - 1
        while i > 0 {
            let parent = (i - 1) / 2
            if heap[parent].at <= heap[i].at { break }
            heap.swapAt(parent, i)
            i = parent
        }
    }

    /// The entry due first, if it is due at `now`.
    mutating func popDue(now: Int64) -> Entry? {
        guard let top = heap.first, top.at <= now else { return nil }
        let last = heap.removeLast()
        if !heap.isEmpty {
            heap[0] = last
            var i = 0
            while true {
                let l = 2 * i + 1, r = l + 1
                var m = i
                if l < heap.count && heap[l].at < heap[m].at { m = l }
                if r < heap.count && heap[r].at < heap[m].at { m = r }
                if m == i { break }
                heap.swapAt(i, m)
                i = m
            }
        }
        return top
    }
}

extension Keyspace {
    /// Number of keys registered as holding hashes with field TTLs (may include stale ones).
    public var hashesWithFieldExpiry: Int { fieldExpiryIndex.count }

    /// Registers the hash at `key` for active field expiry. Call after giving a field a TTL.
    public func trackFieldExpiry(_ key: UnsafeRawBufferPointer, _ hash: HashObject) {
        if hash.sweepToken != 0 && hash.scheduledAt <= hash.earliestFieldExpiry { return }  // no copy of the key
        fieldExpiryIndex.schedule(Array(key), hash)
    }

    /// Called by `set`: a hash stored with field TTLs (RENAME, MOVE, RESTORE...) is scheduled
    /// under its new key, which invalidates any entry under the old one.
    @inline(__always)
    func trackFieldExpiry(_ key: UnsafeRawBufferPointer, _ value: StoredValue) {
        if case .hash(let h) = value, h.hasFieldExpiry { fieldExpiryIndex.schedule(Array(key), h, force: true) }
    }

    /// Lazy field expiry at `slot`: removes fields whose time has come, and the key when none
    /// is left. Returns true when the key was removed.
    func expireHashFields(slot: Int, now: Int64) -> Bool {
        guard let h = table.hashObject(at: slot), h.earliestFieldExpiry <= now else { return false }
        willChange(slot)
        guard h.removeExpiredFields(now: now, report: fieldExpiryReport(slot: slot)) > 0 else { return false }
        if h.count == 0 { remove(at: slot); return true }
        touch(slot)
        return false
    }

    /// One step of the active sweep: handles up to `budget` hashes whose earliest field
    /// expiry has passed. Returns how many fields it deleted.
    @discardableResult
    public func sweepExpiredHashFields(now: Int64, budget: Int) -> Int {
        var deleted = 0
        var handled = 0
        while handled < budget, let e = fieldExpiryIndex.popDue(now: now) {
            handled += 1
            let h = e.hash
            guard e.token == h.sweepToken else { continue }  // superseded by a later entry
            h.sweepToken = 0
            let slot = e.key.withUnsafeBytes { table.find($0, hash: ByteHash.hash($0)) }
            guard let slot, let current = table.hashObject(at: slot), current === h else { continue }
            willChange(slot)
            let removed = h.removeExpiredFields(now: now, report: fieldExpiryReport(slot: slot))
            deleted += removed
            if h.count == 0 { remove(at: slot); continue }
            if removed > 0 { touch(slot) }
            fieldExpiryIndex.schedule(e.key, h)   // its next field to expire, if any
        }
        return deleted
    }

    /// Tells `onHashFieldsExpired` (when set) which fields of the hash at `slot` expire.
    func fieldExpiryReport(slot: Int) -> (([[UInt8]]) -> Void)? {
        guard let onHashFieldsExpired else { return nil }
        return { [table] fields in onHashFieldsExpired(table.keyBytes(at: slot), fields) }
    }
}
