import LarderStore

/// An append-only file's base as commands (`aof-use-rdb-preamble no`), as Redis 7's
/// rewriteAppendOnlyFileRio writes it: per key SET, RPUSH, SADD, ZADD or HMSET (at most
/// `itemsPerCommand` elements each, Redis' AOF_REWRITE_ITEMS_PER_CMD), then PEXPIREAT for a
/// TTL and HPEXPIREAT per hash field with one (Redis 7.4's form).
public enum StoreCommands {
    public static let itemsPerCommand = 64

    /// `SELECT db`, which starts every database's (and every chunk's) commands.
    public static func select(_ db: Int, into out: inout [UInt8]) {
        AOFEncoder.arrayHeader(2, to: &out)
        AOFEncoder.bulk("SELECT", to: &out)
        AOFEncoder.bulkDecimal(db, to: &out)
    }

    /// The commands that rebuild the key at a live slot.
    public static func encodeSlot(_ keyspace: Keyspace, _ slot: Int, into out: inout [UInt8]) {
        let key = keyspace.keyBytes(at: slot)
        let expireAt = keyspace.expireAt(slot)
        let isString = keyspace.withString(at: slot) { value -> Bool in
            AOFEncoder.arrayHeader(3, to: &out)
            AOFEncoder.bulk("SET", to: &out); AOFEncoder.bulk(key, to: &out); AOFEncoder.bulk(value, to: &out)
            return true
        } ?? false
        // A hash through its view: a bare hash stays bare (no object made for a rewrite).
        if !isString, let h = keyspace.hashView(at: slot) {
            hashCommands(h, key, &out)
        } else if !isString {
            switch keyspace.value(at: slot) {
            case .list(let l):
                var batch: [[UInt8]] = []
                batch.reserveCapacity(itemsPerCommand)
                l.forEach { e in
                    batch.append(Array(e))
                    if batch.count == itemsPerCommand { items("RPUSH", key, batch, &out); batch.removeAll(keepingCapacity: true) }
                }
                if !batch.isEmpty { items("RPUSH", key, batch, &out) }
            case .set(let s):
                var batch: [[UInt8]] = []
                batch.reserveCapacity(itemsPerCommand)
                s.forEach { m in
                    batch.append(m)
                    if batch.count == itemsPerCommand { items("SADD", key, batch, &out); batch.removeAll(keepingCapacity: true) }
                }
                if !batch.isEmpty { items("SADD", key, batch, &out) }
            case .zset(let z):
                // ZADD key score member ..., scores as Redis' rioWriteBulkDouble ("%.17g", inf).
                var batch: [[UInt8]] = []
                batch.reserveCapacity(2 * itemsPerCommand)
                z.forEach { m, score in
                    batch.append(Array(RDB.scoreText(score).utf8)); batch.append(Array(m))
                    if batch.count == 2 * itemsPerCommand { items("ZADD", key, batch, &out); batch.removeAll(keepingCapacity: true) }
                }
                if !batch.isEmpty { items("ZADD", key, batch, &out) }
            default:
                return
            }
        }
        if expireAt != 0 {
            AOFEncoder.arrayHeader(3, to: &out)
            AOFEncoder.bulk("PEXPIREAT", to: &out); AOFEncoder.bulk(key, to: &out); AOFEncoder.bulkDecimal(Int(expireAt), to: &out)
        }
    }

    private static func hashCommands(_ h: HashView, _ key: UnsafeRawBufferPointer, _ out: inout [UInt8]) {
        var batch: [[UInt8]] = []
        var fieldTTLs: [([UInt8], Int64)] = []
        batch.reserveCapacity(2 * itemsPerCommand)
        let withTTL = h.hasFieldExpiry
        h.forEach { f, v in
            batch.append(Array(f)); batch.append(Array(v))
            if withTTL, let at = h.fieldExpireAt(f) { fieldTTLs.append((Array(f), at)) }
            if batch.count == 2 * itemsPerCommand { items("HMSET", key, batch, &out); batch.removeAll(keepingCapacity: true) }
        }
        if !batch.isEmpty { items("HMSET", key, batch, &out) }
        for (f, at) in fieldTTLs {
            AOFEncoder.arrayHeader(6, to: &out)
            AOFEncoder.bulk("HPEXPIREAT", to: &out); AOFEncoder.bulk(key, to: &out)
            AOFEncoder.bulkDecimal(Int(at), to: &out); AOFEncoder.bulk("FIELDS", to: &out)
            AOFEncoder.bulkDecimal(1, to: &out); AOFEncoder.bulk(f, to: &out)
        }
    }

    private static func items(_ command: StaticString, _ key: UnsafeRawBufferPointer, _ items: [[UInt8]], _ out: inout [UInt8]) {
        AOFEncoder.arrayHeader(2 + items.count, to: &out)
        AOFEncoder.bulk(command, to: &out)
        AOFEncoder.bulk(key, to: &out)
        for i in items { AOFEncoder.bulk(i, to: &out) }
    }
}
