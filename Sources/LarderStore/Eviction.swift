/// Redis 7.0's maxmemory policies (evict.c), evicted per shard by sampling: the shard that runs
/// a write while the process is over `maxmemory` evicts from its own keys (the server decides
/// how much, see docs/memory.md); nothing here knows of the limit.
public enum EvictionPolicy: Int, Sendable, CaseIterable {
    case volatileLRU, volatileLFU, volatileRandom, volatileTTL
    case allkeysLRU, allkeysLFU, allkeysRandom, noeviction

    /// The names in Redis' order (its CONFIG SET error lists them so).
    public var name: String {
        switch self {
        case .volatileLRU: return "volatile-lru"
        case .volatileLFU: return "volatile-lfu"
        case .volatileRandom: return "volatile-random"
        case .volatileTTL: return "volatile-ttl"
        case .allkeysLRU: return "allkeys-lru"
        case .allkeysLFU: return "allkeys-lfu"
        case .allkeysRandom: return "allkeys-random"
        case .noeviction: return "noeviction"
        }
    }

    public init?(name: String) {
        guard let p = Self.allCases.first(where: { $0.name == name.lowercased() }) else { return nil }
        self = p
    }

    /// Only keys with a TTL may go.
    public var volatileOnly: Bool { self == .volatileLRU || self == .volatileLFU || self == .volatileRandom || self == .volatileTTL }
    public var isLFU: Bool { self == .volatileLFU || self == .allkeysLFU }
    var isRandom: Bool { self == .volatileRandom || self == .allkeysRandom }
}

/// Redis' eviction pool (EVPOOL_SIZE 16): the best candidates met by the samples so far, in
/// ascending score order (score: idle time, 255 - LFU counter, or Int.max - expiry), so each
/// eviction takes the best of many samples without keeping every key sorted. Candidates stay
/// across evictions; a candidate whose key changed or went is skipped when popped. The key
/// buffers are allocated once and reused (no allocation per candidate).
public final class EvictionPool {
    public static let capacity = 16
    public private(set) var count = 0
    private var scores = [UInt64](repeating: 0, count: capacity)
    private var databases = [Int](repeating: 0, count: capacity)
    private var keys: [[UInt8]] = (0..<capacity).map { _ in var k = [UInt8](); k.reserveCapacity(64); return k }

    public init() {}

    /// Offers a candidate (Redis' evictionPoolPopulate step): dropped when the pool is full and
    /// it scores below all; otherwise put in order, pushing out the lowest when full.
    public func offer(score: UInt64, database: Int, key: UnsafeRawBufferPointer) {
        var k = 0
        while k < count && scores[k] < score { k += 1 }
        if k == 0 && count == Self.capacity { return }
        if count < Self.capacity {
            // Shift right to open slot k (the buffer past the end moves down into k).
            var i = count
            while i > k { swapEntries(i, i - 1); i -= 1 }
            count += 1
        } else {
            // Full: drop the lowest (slot 0), shift left up to k - 1.
            k -= 1
            var i = 0
            while i < k { swapEntries(i, i + 1); i += 1 }
        }
        scores[k] = score
        databases[k] = database
        keys[k].removeAll(keepingCapacity: true)
        keys[k].append(contentsOf: key)
    }

    private func swapEntries(_ a: Int, _ b: Int) {
        scores.swapAt(a, b); databases.swapAt(a, b); keys.swapAt(a, b)
    }

    /// Takes out the best candidate (the highest score) and calls `body` with its database and
    /// key; false when the pool is empty.
    @discardableResult
    public func popBest<R>(_ body: (Int, UnsafeRawBufferPointer, UInt64) -> R) -> R? {
        guard count > 0 else { return nil }
        count -= 1
        return keys[count].withUnsafeBytes { body(databases[count], $0, scores[count]) }
    }

    public func removeAll() { count = 0 }
}

extension Keyspace {
    /// Up to `count` live slots from a random place of the table, walking forward (Redis'
    /// dictGetSomeKeys): `volatileOnly` takes only keys with a TTL, read from control bytes.
    /// Gives up after `count * 10` slots unless it has found none, then walks the whole table.
    func sampleSlots(_ count: Int, volatileOnly: Bool, into slots: inout [Int]) {
        slots.removeAll(keepingCapacity: true)
        let capacity = table.capacity
        guard (volatileOnly ? expiresCount : table.count) > 0 else { return }
        var i = Int.random(in: 0..<capacity)
        var walked = 0
        while slots.count < count && walked < capacity && (walked < count * 10 || slots.isEmpty) {
            if volatileOnly ? table.hasExpiry(i) : table.isOccupied(i) { slots.append(i) }
            i = i + 1 == capacity ? 0 : i + 1
            walked += 1
        }
    }

    /// The pool score of the key at `slot` under `policy`: higher goes first.
    func evictionScore(_ slot: Int, policy: EvictionPolicy, now: Int64) -> UInt64 {
        switch policy {
        case .volatileTTL: return UInt64.max - UInt64(max(0, table.expireAt(slot)))
        case .allkeysLFU, .volatileLFU: return 255 - UInt64(KeyAccess.decayedCounter(table.accessWord(at: slot), now: now))
        default: return UInt64(KeyAccess.idleMilliseconds(table.accessWord(at: slot), now: now))
        }
    }

    /// Deletes the key at `slot` as eviction does (watchers of it are told); returns the bytes
    /// it held (estimated as MEMORY USAGE does).
    func evict(at slot: Int) -> Int {
        let bytes = memoryUsage(at: slot)
        remove(at: slot)
        return bytes
    }
}

/// One shard's eviction state: its pool, the sample buffer, the next database for the random
/// policies, and the count of keys it evicted (INFO evicted_keys).
public final class ShardEviction {
    public let pool = EvictionPool()
    var samples: [Int] = []
    var nextRandomDatabase = 0
    public var evictedKeys = 0
    public init() {}
}

extension Shard {
    /// Evicts keys of this shard under `policy` until about `bytes` are freed, at most
    /// `maxKeys` keys (Redis' performEvictions loop for one shard). `evicted` is told each key
    /// before it goes (the server logs a DEL and would notify). Returns the bytes freed
    /// (estimated) and the keys evicted: 0 keys when none may go (an empty shard, or a volatile
    /// policy with no key that has a TTL).
    public func evict(policy: EvictionPolicy, samples: Int, now: Int64, bytes: Int, maxKeys: Int,
                      evicted: (Int, UnsafeRawBufferPointer) -> Void) -> (bytes: Int, keys: Int) {
        guard policy != .noeviction else { return (0, 0) }
        let state = eviction
        var freed = 0, keys = 0
        while freed < bytes && keys < maxKeys {
            guard let (dbIndex, slot) = policy.isRandom ? randomVictim(policy, state) : pooledVictim(policy, samples: samples, now: now, state)
            else { break }
            let db = databases[dbIndex]
            evicted(dbIndex, db.keyBytes(at: slot))
            freed += db.evict(at: slot)
            keys += 1
        }
        state.evictedKeys += keys
        return (freed, keys)
    }

    /// Fills the pool from every database's samples, then pops candidates until one still
    /// exists (and still qualifies). nil when no key may be evicted.
    private func pooledVictim(_ policy: EvictionPolicy, samples: Int, now: Int64, _ state: ShardEviction) -> (Int, Int)? {
        for (d, db) in databases.enumerated() where (policy.volatileOnly ? db.expiresCount : db.count) > 0 {
            db.sampleSlots(samples, volatileOnly: policy.volatileOnly, into: &state.samples)
            for slot in state.samples {
                state.pool.offer(score: db.evictionScore(slot, policy: policy, now: now), database: d, key: db.keyBytes(at: slot))
            }
        }
        while true {
            guard let found = state.pool.popBest({ d, key, _ -> (Int, Int)? in
                let db = databases[d]
                guard let slot = db.table.find(key, hash: ByteHash.hash(key)) else { return nil }
                if policy.volatileOnly && !db.table.hasExpiry(slot) { return nil }
                return (d, slot)
            }) else { return nil }       // the pool is empty
            if let found { return found } // else: a stale candidate, try the next
        }
    }

    /// Redis' random policies: a random key of the next non-empty database, round robin.
    private func randomVictim(_ policy: EvictionPolicy, _ state: ShardEviction) -> (Int, Int)? {
        for _ in 0..<databases.count {
            let d = state.nextRandomDatabase
            state.nextRandomDatabase = (d + 1) % databases.count
            let db = databases[d]
            db.sampleSlots(1, volatileOnly: policy.volatileOnly, into: &state.samples)
            if let slot = state.samples.first { return (d, slot) }
        }
        return nil
    }
}
