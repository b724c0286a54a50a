/// One logical database (SELECT n) inside one shard. Not thread-safe: only the thread that
/// currently owns the shard touches it (see docs/ARCHITECTURE.md).
///
/// Slots returned by `lookup` stay valid until the next insert or remove.
public final class Keyspace {
    var table = KeyTable()
    public private(set) var expiresCount = 0
    /// Keys under WATCH -> flags of the watching transactions (empty almost always).
    var watchers: [[UInt8]: [WatchFlag]] = [:]
    /// Sweep position of the incremental active-expiry cycle.
    var sweepCursor = 0
    /// Hashes that have fields with a TTL (see Keyspace+HashFieldExpiry.swift).
    var fieldExpiryIndex = HashFieldExpiryIndex()

    public init() {}

    public var count: Int { table.count }

    // MARK: lookup

    /// The live slot of `key`, deleting it first if it has expired (lazy expiry).
    public func lookup(_ key: UnsafeRawBufferPointer, hash: UInt64, now: Int64) -> Int? {
        guard let i = table.find(key, hash: hash) else { return nil }
        let e = table.expires[i]
        if e != 0 && e <= now {
            removeSlot(i)
            return nil
        }
        // Lazy expiry of hash fields; one comparison when no hash here has field TTLs.
        if fieldExpiryIndex.count > 0 && expireHashFields(slot: i, now: now) { return nil }
        return i
    }

    public func lookup(_ key: UnsafeRawBufferPointer, now: Int64) -> Int? {
        lookup(key, hash: ByteHash.hash(key), now: now)
    }

    public func value(at slot: Int) -> StoredValue { table.values[slot] }
    public func key(at slot: Int) -> [UInt8] { table.keys[slot] }
    public func expireAt(_ slot: Int) -> Int64 { table.expires[slot] }

    // MARK: changes

    /// Replaces the value of an existing slot (keeps its expiry).
    public func replaceValue(at slot: Int, with value: StoredValue) {
        table.values[slot] = value
        touch(slot)
    }

    /// Inserts or overwrites; `expireAt` 0 clears any expiry. Returns the slot.
    @discardableResult
    public func set(_ key: UnsafeRawBufferPointer, hash: UInt64, value: StoredValue, expireAt: Int64, now: Int64) -> Int {
        if let i = table.find(key, hash: hash) {
            table.values[i] = value
            setExpire(slot: i, expireAt)
            touch(i)
            trackFieldExpiry(key, value)
            return i
        }
        let i = table.insert(Array(key), hash: hash, value: value, expireAt: expireAt)
        if expireAt != 0 { expiresCount += 1 }
        touchKey(key)
        trackFieldExpiry(key, value)
        return i
    }

    @discardableResult
    public func set(_ key: [UInt8], value: StoredValue, expireAt: Int64 = 0, now: Int64) -> Int {
        key.withUnsafeBytes { set($0, hash: ByteHash.hash($0), value: value, expireAt: expireAt, now: now) }
    }

    public func setExpire(slot: Int, _ expireAt: Int64) {
        let old = table.expires[slot]
        if old == 0 && expireAt != 0 { expiresCount += 1 }
        if old != 0 && expireAt == 0 { expiresCount -= 1 }
        table.expires[slot] = expireAt
    }

    public func remove(at slot: Int) {
        touch(slot)
        removeSlot(slot)
    }

    private func removeSlot(_ slot: Int) {
        if table.expires[slot] != 0 { expiresCount -= 1 }
        if !watchers.isEmpty { touch(slot) }
        table.remove(at: slot)
    }

    public func removeAll() {
        for flags in watchers.values { for f in flags { f.dirty = true } }
        table.removeAll()
        expiresCount = 0
        sweepCursor = 0
        fieldExpiryIndex = HashFieldExpiryIndex()
    }

    // MARK: WATCH support

    /// Marks transactions watching the key at `slot` as dirty. Cheap when nothing is watched.
    @inline(__always) public func touch(_ slot: Int) {
        if watchers.isEmpty { return }
        if let flags = watchers[table.keys[slot]] { for f in flags { f.dirty = true } }
    }

    @inline(__always) public func touchKey(_ key: UnsafeRawBufferPointer) {
        if watchers.isEmpty { return }
        if let flags = watchers[Array(key)] { for f in flags { f.dirty = true } }
    }

    public func watch(_ key: [UInt8], flag: WatchFlag) { watchers[key, default: []].append(flag) }

    public func unwatch(_ key: [UInt8], flag: WatchFlag) {
        guard var flags = watchers[key] else { return }
        flags.removeAll { $0 === flag }
        watchers[key] = flags.isEmpty ? nil : flags
    }

    // MARK: iteration

    /// Visits up to about `count` slots from `cursor`; returns the next cursor (0 when done).
    /// The cursor is a slot index: a SCAN that runs while the table grows may miss keys added
    /// meanwhile or return a key twice, as Redis allows, but the table must not shrink.
    public func scan(cursor: Int, count: Int, now: Int64, _ body: (Int) -> Void) -> Int {
        var i = cursor
        var visited = 0
        while i < table.capacity && visited < count {
            if table.isOccupied(i) {
                let e = table.expires[i]
                if e != 0 && e <= now { removeSlot(i) }
                else if !(fieldExpiryIndex.count > 0 && expireHashFields(slot: i, now: now)) { body(i); visited += 1 }
            }
            i += 1
        }
        guard let next = table.nextOccupied(from: i) else { return 0 }
        return next
    }

    /// All live slots (KEYS, FLUSH bookkeeping). Expired keys met on the way are removed.
    public func forEachLive(now: Int64, _ body: (Int) -> Void) {
        var i = 0
        while i < table.capacity {
            if table.isOccupied(i) {
                let e = table.expires[i]
                if e != 0 && e <= now { removeSlot(i) }
                else if !(fieldExpiryIndex.count > 0 && expireHashFields(slot: i, now: now)) { body(i) }
            }
            i += 1
        }
    }

    /// A random live key slot (RANDOMKEY), or nil when empty.
    public func randomSlot(now: Int64) -> Int? {
        var tries = 0
        while table.count > 0 && tries < 100 {
            let i = Int.random(in: 0..<table.capacity)
            if let s = table.nextOccupied(from: i) ?? table.nextOccupied(from: 0) {
                let e = table.expires[s]
                if e != 0 && e <= now { removeSlot(s); tries += 1; continue }
                return s
            }
            return nil
        }
        return nil
    }

    // MARK: active expiry

    /// One step of the incremental active-expiry sweep: examines up to `budget` slots from
    /// where the previous step stopped and deletes expired keys. Returns how many it deleted.
    @discardableResult
    public func sweepExpired(now: Int64, budget: Int) -> Int {
        guard expiresCount > 0 else { return 0 }
        var removed = 0
        var examined = 0
        var i = sweepCursor
        while examined < budget {
            if i >= table.capacity { i = 0 }
            if table.isOccupied(i) {
                let e = table.expires[i]
                if e != 0 && e <= now { removeSlot(i); removed += 1 }
            }
            i += 1; examined += 1
            if expiresCount == 0 { break }
        }
        sweepCursor = i
        return removed
    }

    /// Approximate bytes held by keys and values (MEMORY USAGE / INFO).
    public func memoryUsage(at slot: Int) -> Int {
        table.keys[slot].count + 32 + table.values[slot].memoryUsage + 24
    }

    public var tableBytes: Int { table.capacity * (1 + 8 + 9 + 8) }
}
