/// The part of the keyspace one thread owns: 16 databases and the shard's counters.
public final class Shard {
    public static let databaseCount = 16
    public let index: Int
    public let databases: [Keyspace]
    public var expiredKeys = 0
    /// Hash fields deleted by the active sweep (lazily expired ones are not counted).
    public var expiredHashFields = 0

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

/// Wall-clock milliseconds since the epoch, the unit of every expiry in the store.
public enum Clock {
    @inline(__always) public static func nowMilliseconds() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000
    }
    @inline(__always) public static func nowMicroseconds() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Int64(ts.tv_sec) * 1_000_000 + Int64(ts.tv_nsec) / 1_000
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
