import LarderFeatures
import LarderServer
import LarderStore

/// One row to write into one view: its Redis key, event time and encoded feature values
/// (schema order, empty bytes for null, as Feast writes them).
public struct EncodedRow: Sendable {
    public let key: [UInt8]
    public let eventTime: ProtoTimestamp
    public let values: [[UInt8]]
}

public enum WriteOutcome: Sendable { case written, olderSkipped, wrongType }

/// Feast's `online_write_batch` rule, applied in the store: a row is written only when its
/// event time is strictly newer than the view's stored `_ts:<view>`; then one HSET of the
/// timestamp field and every feature, and an EXPIRE when the repo sets key_ttl_seconds.
public enum FeatureWrite {
    public static func write(_ row: EncodedRow, view: ServingView, keyTTLSeconds: Int?,
                             keyspace: Keyspace, nowMilliseconds now: Int64) -> WriteOutcome {
        let layout = view.layout
        let hash: HashObject
        let slot = row.key.withUnsafeBytes { keyspace.lookupInternal($0, now: now) }
        if let slot {
            guard case .hash(let h) = keyspace.value(at: slot) else { return .wrongType }
            if let stored = layout.timestampField.withUnsafeBytes({ h.value($0) }), !stored.isEmpty,
               let storedTime = try? ProtoTimestamp.decode(stored), !(storedTime < row.eventTime) {
                return .olderSkipped
            }
            hash = h
            keyspace.touch(slot)
        } else {
            hash = HashObject()
            _ = keyspace.set(row.key, value: .hash(hash), now: now)
        }
        _ = hash.set(layout.timestampField, row.eventTime.encoded())
        for (i, field) in layout.featureFields.enumerated() { _ = hash.set(field, row.values[i]) }
        if let ttl = keyTTLSeconds, let s = row.key.withUnsafeBytes({ keyspace.lookupInternal($0, now: now) }) {
            keyspace.setExpire(slot: s, now + Int64(ttl) * 1000)
        }
        return .written
    }
}

extension FeatureWrite {
    /// What a written row (`write` returned `.written`) tells others, on the thread that wrote
    /// it: the "hset" keyspace event (feature-cache invalidation, as an HSET would), and the
    /// append-only file's record, HSET of the timestamp and every feature, PEXPIREAT with a key TTL.
    public static func propagate(_ row: EncodedRow, view: ServingView, keyTTLSeconds: Int?, nowMilliseconds now: Int64,
                                 db: Int, server: ServerState) {
        let layout = view.layout
        row.key.withUnsafeBytes { key in
            server.notifyHashWritten(key: key, db: db)
            server.propagateHashWrite(db: db, key: key, fields: [layout.timestampField] + layout.featureFields,
                                      values: [row.eventTime.encoded()] + row.values,
                                      expireAt: keyTTLSeconds.map { now + Int64($0) * 1000 })
        }
    }
}
