import Synchronization

/// One logical database (SELECT n) inside one shard. Not thread-safe: only the thread that
/// currently owns the shard touches it (see docs/ARCHITECTURE.md).
///
/// Slots returned by `lookup` stay valid until the next insert or remove.
public final class Keyspace {
    /// A var only for SWAPDB (`swapContents`), which exchanges two databases' tables.
    private(set) var table = KeyTable()
    public private(set) var expiresCount = 0
    /// Keys under WATCH -> flags of the watching transactions (empty almost always).
    var watchers: [[UInt8]: [WatchFlag]] = [:]
    /// Sweep position of the incremental active-expiry cycle.
    var sweepCursor = 0
    /// Keys deleted because they were found expired on access (lookup, SCAN, KEYS, RANDOMKEY).
    /// The active sweep's deletions are counted by `Shard.expiredKeys` instead; INFO's
    /// expired_keys is the sum of both.
    public private(set) var lazilyExpiredKeys = 0
    /// The running average of the remaining TTLs the active sweep sampled (see `averageTTL`).
    var sampledAverageTTL: Int64 = 0
    /// Lookups that found / did not find a live key (INFO keyspace_hits / keyspace_misses).
    /// As in Redis, a read command's lookups count and a write command's do not, except where a
    /// write reads the value for the client (GETDEL, GETEX, GETSET, SET GET, COPY's source:
    /// `CommandContext.lookup(_:read:)`); the server's own reads (`lookupInternal`) never do.
    public internal(set) var hits = 0, misses = 0
    /// Hashes that have fields with a TTL (see Keyspace+HashFieldExpiry.swift).
    var fieldExpiryIndex = HashFieldExpiryIndex()
    /// Told the key of every key deleted because its TTL passed (lazily or by the sweep), before
    /// it goes: the append-only file logs it as DEL, as Redis propagates expiries, so a replay
    /// that does not expire keys itself meets the same keyspace at every command.
    public var onKeyExpired: ((UnsafeRawBufferPointer) -> Void)? = nil
    /// Called when a key is created (`set`, `setString`): the server's "new" keyspace event.
    public var onKeyAdded: ((UnsafeRawBufferPointer) -> Void)? = nil
    /// The same for hash fields whose TTL passed (key, fields), before they go: logged as HDEL.
    public var onHashFieldsExpired: ((UnsafeRawBufferPointer, [[UInt8]]) -> Void)? = nil

    /// xorshift state for the LFU counter's coin flips (KeyAccess.accessed); this keyspace's
    /// thread owns it.
    var accessRandom: UInt64 = 0x9E37_79B9_7F4A_7C15

    public init() {}

    /// CONFIG RESETSTAT: forgets the hit, miss and lazily-expired counts.
    public func resetStats() { hits = 0; misses = 0; lazilyExpiredKeys = 0 }

    public var count: Int { table.count }

    /// Sizes the key table for `keys` keys at once. A bulk load must call it first when its keys
    /// arrive in another table's slot order (a snapshot written by Larder): inserted into a
    /// growing linear-probing table, keys sorted by home slot pile into one ever longer run
    /// (measured: 300k keys loaded in 4.3 s, KeyTable.find at 40% of the profile).
    public func reserve(keys: Int) { table.reserve(keys) }

    // MARK: lookup

    /// Set while clients are paused (CLIENT PAUSE): expired keys are not deleted, lazily or
    /// actively, until it ends.
    public static let expiryPaused = Atomic<Bool>(false)

    /// The live slot of `key`, deleting it first if it has expired (lazy expiry). A client's
    /// lookup: it counts as a keyspace hit or miss.
    public func lookup(_ key: UnsafeRawBufferPointer, hash: UInt64, now: Int64) -> Int? {
        lookup(key, hash: hash, now: now, counted: true)
    }

    public func lookup(_ key: UnsafeRawBufferPointer, now: Int64) -> Int? {
        lookup(key, hash: ByteHash.hash(key), now: now, counted: true)
    }

    /// The same lookup (with lazy expiry) for the server's own reads, which are not a client's
    /// and count as no hit or miss: the embedded materialization's reads of `_ts:<view>`, a
    /// snapshot load's duplicate check, the feature writer, the HTTP feature server.
    public func lookupInternal(_ key: UnsafeRawBufferPointer, now: Int64) -> Int? {
        lookup(key, hash: ByteHash.hash(key), now: now, counted: false)
    }

    /// `counted`: whether the lookup is a keyspace hit or miss (a read command's; see `hits`).
    @inline(__always)
    public func lookup(_ key: UnsafeRawBufferPointer, hash: UInt64, now: Int64, counted: Bool) -> Int? {
        guard let i = table.find(key, hash: hash) else { if counted { misses &+= 1 }; return nil }
        if table.hasExpiry(i), table.expireAt(i) <= now {
            // During CLIENT PAUSE the key reads as expired but stays (Redis keeps the
            // dataset static: no expiry, no eviction, nothing to propagate).
            if Self.expiryPaused.load(ordering: .relaxed) { if counted { misses &+= 1 }; return nil }
            expireSlot(i)
            lazilyExpiredKeys += 1
            if counted { misses &+= 1 }
            return nil
        }
        // Lazy expiry of hash fields; one comparison when no hash here has field TTLs.
        if fieldExpiryIndex.count > 0 && expireHashFields(slot: i, now: now) { if counted { misses &+= 1 }; return nil }
        if counted { hits &+= 1 }
        return i
    }

    public func value(at slot: Int) -> StoredValue { table.value(at: slot) }

    /// A read view of the hash at `slot` (nil when the value is not a hash), without turning a
    /// bare hash into an object as `value(at:)` does: the read commands' way in (no allocation).
    @inline(__always) public func hashView(at slot: Int) -> HashView? { table.hashView(at: slot) }

    // MARK: access metadata (KeyAccess)

    /// Records an access to the key at `slot` now (Redis' lookupKey without LOOKUP_NOTOUCH).
    @inline(__always) public func recordAccess(_ slot: Int, now: Int64) {
        table.setAccessWord(at: slot, KeyAccess.accessed(table.accessWord(at: slot), now: now, random: &accessRandom))
    }

    /// The key's raw access word (OBJECT IDLETIME / FREQ read it through KeyAccess).
    public func accessWord(at slot: Int) -> UInt32 { table.accessWord(at: slot) }
    public func setAccessWord(at slot: Int, _ word: UInt32) { table.setAccessWord(at: slot, word) }
    public func key(at slot: Int) -> [UInt8] { table.key(at: slot) }
    /// The key at `slot` without a copy; valid until the slot changes.
    public func keyBytes(at slot: Int) -> UnsafeRawBufferPointer { table.keyBytes(at: slot) }
    public func expireAt(_ slot: Int) -> Int64 { table.expireAt(slot) }
    /// Calls `body` with the string at `slot` without copying it; nil (no call) when the value
    /// is not a string. The bytes are valid only inside `body`.
    @inline(__always)
    public func withString<R>(at slot: Int, _ body: (UnsafeRawBufferPointer) -> R) -> R? { table.withString(at: slot, body) }
    /// How Redis would encode the string at `slot` when its bytes alone do not say
    /// (OBJECT ENCODING): APPEND and SETRANGE make "raw", INCRBYFLOAT never makes "int".
    public enum StringEncodingMark { case raw, notInteger }
    public func markStringEncoding(at slot: Int, _ mark: StringEncodingMark) {
        table.addStringEncodingBits(at: slot, mark == .raw ? KeyTable.rawEncodingBit : KeyTable.noIntEncodingBit)
    }
    public func stringEncodingMarks(at slot: Int) -> (raw: Bool, notInteger: Bool) {
        let bits = table.stringEncodingBits(at: slot)
        return (bits & KeyTable.rawEncodingBit != 0, bits & KeyTable.noIntEncodingBit != 0)
    }
    /// Whether the value at `slot` is a string (no copy).
    public func isString(at slot: Int) -> Bool { table.isString(at: slot) }
    public func typeName(at slot: Int) -> StaticString { table.typeName(at: slot) }

    // MARK: changes

    /// Replaces the value of an existing slot (keeps its expiry).
    public func replaceValue(at slot: Int, with value: StoredValue) {
        table.setValue(at: slot, value)
        touch(slot)
    }

    /// Changes the value at `slot` in place (keeps its expiry), so a string can grow without
    /// being copied: take the payload out, put a placeholder in, change it, put it back.
    public func updateValue<R>(at slot: Int, _ body: (inout StoredValue) -> R) -> R {
        let r = table.updateValue(at: slot, body)
        touch(slot)
        return r
    }

    /// Inserts or overwrites; `expireAt` 0 clears any expiry. Returns the slot.
    /// `adoptingHash`: a hash value is handed over for good (the caller will not use its
    /// `HashObject` again), so a new key may store it bare (KeyTable.isBare).
    @discardableResult
    public func set(_ key: UnsafeRawBufferPointer, hash: UInt64, value: StoredValue, expireAt: Int64, now: Int64,
                    adoptingHash: Bool = false) -> Int {
        if let i = table.find(key, hash: hash) {
            table.setValue(at: i, value)
            setExpire(slot: i, expireAt)
            touch(i)
            recordAccess(i, now: now)
            trackFieldExpiry(key, value)
            return i
        }
        let i = table.insert(key, hash: hash, value: value, expireAt: expireAt, adoptingHash: adoptingHash)
        if let onKeyAdded { onKeyAdded(key) }
        table.setAccessWord(at: i, KeyAccess.newKey(now: now))
        if expireAt != 0 { expiresCount += 1 }
        touchKey(key)
        trackFieldExpiry(key, value)
        return i
    }

    /// `set` with a string value given as bytes: a short string is copied straight into the
    /// key's entry, with no intermediate array.
    @discardableResult
    public func setString(_ key: UnsafeRawBufferPointer, hash: UInt64, bytes: UnsafeRawBufferPointer, expireAt: Int64, now: Int64) -> Int {
        if let i = table.find(key, hash: hash) {
            table.setString(at: i, bytes)
            setExpire(slot: i, expireAt)
            touch(i)
            recordAccess(i, now: now)
            return i
        }
        let i = table.insertString(key, hash: hash, bytes: bytes, expireAt: expireAt)
        if let onKeyAdded { onKeyAdded(key) }
        table.setAccessWord(at: i, KeyAccess.newKey(now: now))
        if expireAt != 0 { expiresCount += 1 }
        touchKey(key)
        return i
    }

    @discardableResult
    public func set(_ key: [UInt8], value: StoredValue, expireAt: Int64 = 0, now: Int64) -> Int {
        key.withUnsafeBytes { set($0, hash: ByteHash.hash($0), value: value, expireAt: expireAt, now: now) }
    }

    public func setExpire(slot: Int, _ expireAt: Int64) {
        let had = table.hasExpiry(slot)
        if !had && expireAt != 0 { expiresCount += 1 }
        if had && expireAt == 0 { expiresCount -= 1 }
        table.setExpire(slot, expireAt)
    }

    public func remove(at slot: Int) {
        touch(slot)
        removeSlot(slot)
    }

    /// Removes a key whose TTL passed, telling `onKeyExpired` first.
    private func expireSlot(_ slot: Int) {
        if let onKeyExpired { onKeyExpired(table.keyBytes(at: slot)) }
        removeSlot(slot)
    }

    private func removeSlot(_ slot: Int) {
        if table.hasExpiry(slot) { expiresCount -= 1 }
        if !watchers.isEmpty { touch(slot) }
        table.remove(at: slot)
    }

    /// FLUSHDB / FLUSHALL. As Redis 7.0's touchAllWatchedKeysInDb, only the watches of keys that
    /// existed are marked dirty: a transaction that watched a missing key still runs.
    public func removeAll() {
        for (key, flags) in watchers where key.withUnsafeBytes({ table.find($0, hash: ByteHash.hash($0)) }) != nil {
            for f in flags { f.dirty = true }
        }
        table.removeAll()
        expiresCount = 0
        sweepCursor = 0
        fieldExpiryIndex = HashFieldExpiryIndex()
    }

    /// SWAPDB: exchanges this database's data with `other`'s (keys, values, expiry bookkeeping)
    /// while what belongs to the database number stays: its watchers and its hit/miss counts.
    /// As Redis 7.0's swapdb, a watched key that exists in either database makes its watchers
    /// dirty first (its value may change; a key missing from both stays missing).
    public func swapContents(with other: Keyspace) {
        guard other !== self else { return }
        // A running point-in-time snapshot writes both databases' owed keys first: its writers
        // read each key through its database, which is about to hold the other table.
        for db in [self, other] where db.isSnapshotting { while !db.snapshotStep(maxKeys: .max) {} }
        touchWatchedKeys(existingIn: other)
        other.touchWatchedKeys(existingIn: self)
        swap(&table, &other.table)
        swap(&expiresCount, &other.expiresCount)
        swap(&sweepCursor, &other.sweepCursor)
        swap(&sampledAverageTTL, &other.sampledAverageTTL)
        swap(&fieldExpiryIndex, &other.fieldExpiryIndex)
    }

    private func touchWatchedKeys(existingIn other: Keyspace) {
        for (key, flags) in watchers {
            let exists = key.withUnsafeBytes { k in
                let h = ByteHash.hash(k)
                return table.find(k, hash: h) != nil || other.table.find(k, hash: h) != nil
            }
            if exists { for f in flags { f.dirty = true } }
        }
    }

    // MARK: WATCH support

    /// Marks transactions watching the key at `slot` as dirty. Cheap when nothing is watched.
    @inline(__always) public func touch(_ slot: Int) {
        if watchers.isEmpty { return }
        if let flags = watchers[table.key(at: slot)] { for f in flags { f.dirty = true } }
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

    /// One step of SCAN over this keyspace, Redis' dictScan: the cursor walks *home buckets*
    /// (hash & mask) in reverse-binary order, so a key present for the whole iteration is
    /// returned at least once even if the table grows or shrinks between calls, and exactly
    /// once when nothing changes. `body` gets each live slot whose home is the visited bucket;
    /// expired keys met on the way are deleted after the bucket is done (deleting never moves
    /// a key, so the walk stays valid). Returns the next cursor, 0 when the iteration is over.
    public func scanBucket(cursor: UInt64, now: Int64, _ body: (Int) -> Void) -> UInt64 {
        let mask = UInt64(table.capacity - 1)
        let home = Int(cursor & mask)
        var expired: [[UInt8]] = []
        var emptied: [[UInt8]] = []
        table.forEachSlot(homeBucket: home) { i in
            if table.hasExpiry(i), table.expireAt(i) <= now { expired.append(table.key(at: i)); return }
            // Expired hash fields go now; a hash left empty is deleted after the walk, since
            // removing a slot mid-walk could end the probe run early.
            if fieldExpiryIndex.count > 0, let h = table.hashObject(at: i), h.earliestFieldExpiry <= now {
                willChange(i)
                if h.removeExpiredFields(now: now, report: fieldExpiryReport(slot: i)) > 0 {
                    touch(i)
                    if h.count == 0 { emptied.append(table.key(at: i)); return }
                }
            }
            body(i)
        }
        for k in expired { k.withUnsafeBytes { _ = lookupInternal($0, now: now) } }  // deletes; no client miss
        for k in emptied { k.withUnsafeBytes { if let slot = table.find($0, hash: ByteHash.hash($0)) { remove(at: slot) } } }
        return table.nextCursor(after: cursor)
    }

    /// All live slots (KEYS, FLUSH bookkeeping). Expired keys met on the way are removed.
    public func forEachLive(now: Int64, _ body: (Int) -> Void) {
        var i = 0
        while i < table.capacity {
            if table.isOccupied(i) {
                if table.hasExpiry(i) && table.expireAt(i) <= now { expireSlot(i); lazilyExpiredKeys += 1 }
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
                if table.hasExpiry(s) && table.expireAt(s) <= now { expireSlot(s); lazilyExpiredKeys += 1; tries += 1; continue }
                return s
            }
            return nil
        }
        return nil
    }

    // MARK: active expiry

    /// One step of the incremental active-expiry sweep: examines `budget` slots (at least a
    /// fiftieth of the table, so a full pass takes at most 50 steps whatever the table size,
    /// and never more than the whole table) from where the previous step stopped, deleting
    /// expired keys. The scan reads control bytes and only looks at entries that have a TTL.
    /// Returns how many keys it deleted.
    @discardableResult
    public func sweepExpired(now: Int64, budget: Int) -> Int {
        guard expiresCount > 0 else { sampledAverageTTL = 0; return 0 }
        let capacity = table.capacity
        let steps = min(capacity, max(budget, capacity / 50))
        var removed = 0
        var ttlSum: Int64 = 0, ttlSamples: Int64 = 0
        var i = sweepCursor < capacity ? sweepCursor : 0
        for _ in 0..<steps {
            if table.hasExpiry(i) {
                let at = table.expireAt(i)
                if at <= now {
                    expireSlot(i)
                    removed += 1
                    if expiresCount == 0 { i += 1; break }
                } else {
                    ttlSum &+= at &- now
                    ttlSamples &+= 1
                }
            }
            i += 1
            if i == capacity { i = 0 }
        }
        sweepCursor = i
        // Redis' activeExpireCycle: the sampled keys' mean remaining TTL, folded into a running
        // average (2% weight to the new sample, 98% to the previous estimate).
        if ttlSamples > 0 {
            let sample = ttlSum / ttlSamples
            sampledAverageTTL = sampledAverageTTL == 0 ? sample : (sampledAverageTTL / 50) * 49 + sample / 50
        }
        if expiresCount == 0 { sampledAverageTTL = 0 }
        return removed
    }

    /// INFO keyspace avg_ttl: milliseconds, estimated by the active expiry sweep as Redis does
    /// (0 until a sweep has sampled a key with a TTL, and when no key has one).
    public var averageTTL: Int64 { expiresCount > 0 ? sampledAverageTTL : 0 }

    /// Approximate bytes held by keys and values (MEMORY USAGE / INFO).
    public func memoryUsage(at slot: Int) -> Int {
        if let bare = table.bareHashBytes(at: slot) { return bare + 18 }
        return table.entryBytes(at: slot) + (table.isInlineString(at: slot) ? 0 : table.value(at: slot).memoryUsage) + 18
    }

    public var tableBytes: Int { table.slotBytes }
}

// MARK: point-in-time snapshot (see KeyTable's "point-in-time snapshot")

extension Keyspace {
    /// Called before a change the key table cannot see: a hash's fields changed in place.
    /// While no snapshot runs this is one compare.
    @inline(__always) public func willChange(_ slot: Int) { table.willChange(slot) }

    /// Starts a snapshot of this database as it is now: `write` gets the slot of every key
    /// present now exactly once, before the key's first change or when `snapshotStep` reaches
    /// it, and must only read (never change) the keyspace. Keys added later are not passed.
    public func beginSnapshot(_ write: @escaping (Int) -> Void) { table.beginSnapshot(write) }

    /// Writes at most `maxKeys` more keys; true when the database is written.
    public func snapshotStep(maxKeys: Int) -> Bool { table.snapshotStep(maxKeys: maxKeys) }

    public var isSnapshotting: Bool { table.isSnapshotting }

    /// Abandons a running snapshot (nothing more is written).
    public func cancelSnapshot() { table.endSnapshot() }
}
