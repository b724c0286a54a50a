/// The part of the keyspace one thread owns: 16 databases and the shard's counters.
public final class Shard {
    public static let databaseCount = 16
    public let index: Int
    public let databases: [Keyspace]
    public var expiredKeys = 0
    /// Hash fields deleted by the active sweep (lazily expired ones are not counted).
    public var expiredHashFields = 0
    /// maxmemory eviction: the pool, and INFO's evicted_keys (Eviction.swift).
    public let eviction = ShardEviction()

    public init(index: Int) {
        self.index = index
        self.databases = (0..<Self.databaseCount).map { _ in Keyspace() }
    }

    public func db(_ i: Int) -> Keyspace { databases[i] }

    /// One active-expiry step over every database that has keys with a TTL.
    public func sweepExpired(now: Int64, budget: Int) {
        for db in databases where db.expiresCount > 0 {
            expiredKeys += db.sweepExpired(now: now, budget: budget)
        }
        for db in databases where db.fieldExpiryIndex.count > 0 {
            expiredHashFields += db.sweepExpiredHashFields(now: now, budget: budget)
        }
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
