import LarderStore

/// The bridge between RDB records and the store's keyspaces.
public enum StoreSnapshot {
    /// The RDB version a snapshot of these keyspaces needs: 12 when some hash has field TTLs
    /// (only Redis >= 7.4 reads those), else 10 (Redis 7.0).
    public static func requiredVersion(_ keyspaces: [Keyspace]) -> Int {
        keyspaces.contains { $0.hashesWithFieldExpiry > 0 } ? RDB.fieldTTLVersion : RDB.writeVersion
    }

    /// Encodes every live key of `keyspace` (expired ones are dropped on the way, as a read
    /// would). Returns the number of keys written.
    @discardableResult
    public static func encode(_ keyspace: Keyspace, into enc: inout RDBEncoder, now: Int64) -> Int {
        var n = 0
        keyspace.forEachLive(now: now) { slot in
            encodeSlot(keyspace, slot, into: &enc)
            n += 1
        }
        return n
    }

    /// Encodes the key at a live slot.
    public static func encodeSlot(_ keyspace: Keyspace, _ slot: Int, into enc: inout RDBEncoder) {
        encodeEntry(keyspace, slot, key: keyspace.keyBytes(at: slot), expireAt: keyspace.expireAt(slot), into: &enc)
    }

    /// The value at a live slot as DUMP serializes it: its RDB type byte and value, without key
    /// or expiry; and the RDB version a reader needs for it (12 for a hash with field TTLs).
    /// The snapshot's entry writer makes it (one serializer for both): an entry with an empty
    /// key is [type][0x00: the empty key's length][value], so the key's byte is left out.
    public static func dumpValue(_ keyspace: Keyspace, _ slot: Int) -> (bytes: [UInt8], version: Int) {
        var enc = RDBEncoder()
        let empty: [UInt8] = []
        empty.withUnsafeBytes { encodeEntry(keyspace, slot, key: $0, expireAt: 0, into: &enc) }
        var bytes = enc.bytes
        bytes.remove(at: 1)
        var version = RDB.writeVersion
        if let h = keyspace.hashView(at: slot), h.hasFieldExpiry { version = RDB.fieldTTLVersion }
        return (bytes, version)
    }

    static func encodeEntry(_ keyspace: Keyspace, _ slot: Int, key: UnsafeRawBufferPointer, expireAt: Int64, into enc: inout RDBEncoder) {
        if keyspace.withString(at: slot, { enc.stringEntry(key: key, value: $0, expireAt: expireAt) }) != nil { return }
        // A hash through its view, so a snapshot leaves bare hashes bare (no object made).
        if let h = keyspace.hashView(at: slot) {
            var fields: [(UnsafeRawBufferPointer, UnsafeRawBufferPointer, Int64)] = []
            fields.reserveCapacity(h.count)
            let withTTL = h.hasFieldExpiry
            h.forEach { f, v in fields.append((f, v, withTTL ? (h.fieldExpireAt(f) ?? 0) : 0)) }
            enc.hashEntry(key: key, fields: fields, expireAt: expireAt)
            return
        }
        let value = keyspace.value(at: slot)
        if case .list(let l) = value {
            enc.listEntry(key: key, nodes: l.nodeElements, expireAt: expireAt)
            return
        }
        if case .set(let s) = value {
            if s.isIntset { enc.intsetEntry(key: key, width: s.intsetWidth, values: s.intsetValues, expireAt: expireAt) }
            else { enc.setEntry(key: key, members: s.members, expireAt: expireAt) }
            return
        }
        if case .zset(let z) = value {
            let entries = z.entries(ranks: 0..<z.count)
            if z.isPacked { enc.zsetListpackEntry(key: key, entries: entries, expireAt: expireAt) }
            else { enc.zsetEntry(key: key, entries: entries, expireAt: expireAt) }
            return
        }
    }

    public enum InsertResult { case inserted, expired, duplicate }

    /// `insert` for a key the reader only delimited (`RDBRawEntry`): decodes its string or
    /// plain-hash value straight from the file's bytes into the store, with no intermediate
    /// arrays (a raw key, field or value is copied once, into its place in the store). Same
    /// rules as `insert`; a malformed value throws the reader's error at its offset.
    public static func insertRaw(_ e: RDBRawEntry, file: UnsafeRawBufferPointer, path: String, hash: UInt64,
                                 into keyspace: Keyspace, now: Int64) throws -> InsertResult {
        if e.expireAt != 0 && e.expireAt <= now { return .expired }
        let key = UnsafeRawBufferPointer(start: file.baseAddress! + e.keyStart, count: e.keyCount)
        if keyspace.lookup(key, hash: hash, now: now, counted: false) != nil { return .duplicate }
        let b = file.baseAddress!
        if e.type == RDB.TypeCode.hash, b.load(fromByteOffset: e.valueStart, as: UInt8.self) >> 6 == 0 {
            // Larder's own snapshots: every field and value raw and under 64 bytes, so the
            // file's bytes are the packed hash's entries as they are (an RDB length under 64 and
            // a varint under 128 are the same single byte; HashObject.packed refuses any length
            // over 63, so it accepts exactly that case). Copied in one go.
            let n = Int(b.load(fromByteOffset: e.valueStart, as: UInt8.self))
            let entries = UnsafeRawBufferPointer(start: b + e.valueStart + 1, count: e.endOffset - e.valueStart - 1)
            if n > 0, let h = HashObject.packed(entries: entries, count: n, keyBytes: e.expireAt == 0 ? e.keyCount : 0, maxLength: 63) {
                _ = keyspace.set(key, hash: hash, value: .hash(h), expireAt: e.expireAt, now: now, adoptingHash: true)
                return .inserted
            }
        }
        var r = RDBReader(bytes: file, file: path)
        r.pos = e.valueStart
        let name = { printable(Array(key)) }
        if e.type == RDB.TypeCode.string {
            let v = try r.stringSpan("the value of key \(name())")
            r.withSpan(v) { _ = keyspace.setString(key, hash: hash, bytes: $0, expireAt: e.expireAt, now: now) }
            return .inserted
        }
        let n = try r.plainLength("the field count of hash \(name())")
        if n == 0 { return .expired }
        let h = HashObject()
        // The fields' RDB encoding is about as long as the packed form (1-byte lengths in both
        // up to 63 bytes); the key is embedded when the hash has no TTL.
        if n <= HashObject.maxPackedEntries {
            h.reservePacked(entryBytes: e.endOffset - e.valueStart, keyBytes: e.expireAt == 0 ? e.keyCount : 0)
        }
        for _ in 0..<n {
            let f = try r.stringSpan("a field of hash \(name())")
            let v = try r.stringSpan("a value of hash \(name())")
            r.withSpan(f) { fb in r.withSpan(v) { _ = h.set(fb, $0) } }
        }
        _ = keyspace.set(key, hash: hash, value: .hash(h), expireAt: e.expireAt, now: now, adoptingHash: true)
        return .inserted
    }

    /// Stores one loaded key. Keys and hash fields already expired at `now` are skipped (as a
    /// Redis master loading its RDB does); a key already present is reported, not replaced.
    /// `hash`: the key's ByteHash when the caller has it (the loader routes by it), so the key
    /// is hashed once for the lookup and the insert.
    public static func insert(_ e: RDBEntry, hash given: UInt64? = nil, into keyspace: Keyspace, now: Int64) -> InsertResult {
        if e.expireAt != 0 && e.expireAt <= now { return .expired }
        let hash = given ?? e.key.withUnsafeBytes { ByteHash.hash($0) }
        if e.key.withUnsafeBytes({ keyspace.lookup($0, hash: hash, now: now, counted: false) }) != nil { return .duplicate }
        switch e.value {
        case .string(let s):
            e.key.withUnsafeBytes { k in
                s.withUnsafeBytes { _ = keyspace.setString(k, hash: hash, bytes: $0, expireAt: e.expireAt, now: now) }
            }
        case .hash(let fields):
            let h = HashObject()
            var live = 0
            for f in fields where f.expireAt == 0 || f.expireAt > now {
                f.field.withUnsafeBytes { fb in
                    f.value.withUnsafeBytes { _ = h.set(fb, $0) }
                    if f.expireAt != 0 { h.setFieldExpiry(fb, at: f.expireAt) }
                }
                live += 1
            }
            if live == 0 { return .expired }
            _ = e.key.withUnsafeBytes { keyspace.set($0, hash: hash, value: .hash(h), expireAt: e.expireAt, now: now, adoptingHash: true) }
        case .set(let members):
            if members.isEmpty { return .expired }
            let s = SetObject()
            for m in members { _ = s.add(m) }
            _ = e.key.withUnsafeBytes { keyspace.set($0, hash: hash, value: .set(s), expireAt: e.expireAt, now: now) }
        case .zset(let members, let scores):
            if members.isEmpty { return .expired }
            let longest = members.reduce(0) { max($0, $1.count) }
            let z = ZSetObject(expecting: members.count, longestMember: longest)
            for (m, s) in zip(members, scores) { z.set(m, score: s) }
            _ = e.key.withUnsafeBytes { keyspace.set($0, hash: hash, value: .zset(z), expireAt: e.expireAt, now: now) }
        case .list(let elements):
            // Redis drops empty lists on load (an empty quicklist node set) rather than keep one.
            if elements.isEmpty { return .expired }
            _ = e.key.withUnsafeBytes { keyspace.set($0, hash: hash, value: .list(ListObject(elements: elements)), expireAt: e.expireAt, now: now) }
        }
        return .inserted
    }
}
