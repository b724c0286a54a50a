/// Per-field expiry (Redis 7.4 HEXPIRE family). TTLs sit in a side dictionary that exists only
/// while some field has one, so hashes without TTLs pay nothing but one nil check on writes.
/// Expired fields are removed by `removeExpiredFields`, which the keyspace calls on every
/// lookup of a hash whose earliest TTL has passed (lazy expiry) and from the shard's sweep.
extension HashObject {
    public var hasFieldExpiry: Bool { fieldExpiry != nil }

    /// Number of fields that carry a TTL.
    public var fieldsWithExpiry: Int { fieldExpiry?.count ?? 0 }

    /// The absolute expiry (unix ms) of `field`, nil when it has none.
    public func fieldExpireAt(_ field: UnsafeRawBufferPointer) -> Int64? {
        guard let e = fieldExpiry else { return nil }
        return e[Array(field)]
    }

    /// Sets `field`'s absolute expiry; the caller has checked that the field exists.
    public func setFieldExpiry(_ field: UnsafeRawBufferPointer, at expireAt: Int64) {
        let s = side
        if s.fieldExpiry == nil { s.fieldExpiry = [:] }
        s.fieldExpiry![Array(field)] = expireAt
        if expireAt < s.earliestFieldExpiry { s.earliestFieldExpiry = expireAt }
    }

    /// Removes `field`'s TTL; returns true when it had one.
    @discardableResult
    public func persistField(_ field: UnsafeRawBufferPointer) -> Bool {
        guard fieldExpiry != nil else { return false }
        return clearFieldExpiry(field)
    }

    @discardableResult
    func clearFieldExpiry(_ field: UnsafeRawBufferPointer) -> Bool {
        let s = side
        let had = s.fieldExpiry!.removeValue(forKey: Array(field)) != nil
        if s.fieldExpiry!.isEmpty {
            s.fieldExpiry = nil
            s.earliestFieldExpiry = .max
        }
        // earliestFieldExpiry stays a valid lower bound; the next purge makes it exact.
        return had
    }

    /// Deletes every field whose expiry is at or before `now`; returns how many it deleted.
    @discardableResult
    /// `report`: told the expired fields before they go (the append-only file logs them as HDEL).
    public func removeExpiredFields(now: Int64, report: (([[UInt8]]) -> Void)? = nil) -> Int {
        guard earliestFieldExpiry <= now, let e = fieldExpiry else { return 0 }
        var expired: [[UInt8]] = []
        var earliest = Int64.max
        for (f, at) in e {
            if at <= now { expired.append(f) } else if at < earliest { earliest = at }
        }
        if let report, !expired.isEmpty { report(expired) }
        for f in expired { remove(f) }  // also drops the TTL entry
        earliestFieldExpiry = fieldExpiry == nil ? .max : earliest
        return expired.count
    }
}
