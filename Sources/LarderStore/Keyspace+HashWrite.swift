/// Byte strings read in place from a caller's buffer: span i is the (offset, count) pair of
/// machine words at `spans + i * stride` bytes, relative to `base`. The protocol's argument
/// spans have this layout, so an HSET's fields and values are read where they were parsed.
public struct ByteSpans {
    public let base: UnsafeRawPointer
    let spans: UnsafeRawPointer
    public let count: Int
    let stride: Int

    /// `spanStride`: how many (offset, count) pairs apart consecutive spans are.
    public init(base: UnsafeRawPointer, spans: UnsafeRawPointer, count: Int, spanStride: Int = 1) {
        self.base = base; self.spans = spans; self.count = count
        self.stride = spanStride * 2 * MemoryLayout<Int>.stride
    }

    @inline(__always) public subscript(i: Int) -> UnsafeRawBufferPointer {
        let p = spans + i * stride
        let offset = p.loadUnaligned(as: Int.self)
        let length = p.loadUnaligned(fromByteOffset: MemoryLayout<Int>.stride, as: Int.self)
        return UnsafeRawBufferPointer(start: base + offset, count: length)
    }
}

public enum HashWriteResult: Equatable {
    /// The key holds another type; nothing was written.
    case wrongType
    /// `added` fields were new; `slot` is the key's slot (valid until the next insert or remove).
    case written(added: Int, slot: Int)
}

extension Keyspace {
    /// HSET as one store operation, the only way hash fields are set from outside the store:
    /// the HSET/HMSET commands and the embedded bulk load both call it. Creates the hash at a
    /// missing key (its packed buffer sized once for all pairs), sets each field (clearing any
    /// field TTL, as HSET does), and marks watchers of the key dirty.
    public func setHashFields(_ key: UnsafeRawBufferPointer, hash: UInt64, fields: ByteSpans, values: ByteSpans,
                              now: Int64) -> HashWriteResult {
        // A write's lookup: no keyspace hit or miss (Redis' lookupKeyWrite), and the bulk load's
        // are not a client's at all.
        if let slot = lookup(key, hash: hash, now: now, counted: false) {
            guard table.hashView(at: slot) != nil else { return .wrongType }
            willChange(slot)
            // A bare hash stays bare (KeyTable.updateHash): no object is kept for an HSET.
            let added = table.updateHash(at: slot) { h in
                var added = 0
                for i in 0..<fields.count where h!.set(fields[i], values[i]) { added += 1 }
                return added
            }
            touch(slot)
            return .written(added: added, slot: slot)
        }
        let h = HashObject()
        var bytes = 0
        for i in 0..<fields.count {
            bytes += HashObject.packedEntrySize(fieldCount: fields[i].count, valueCount: values[i].count)
        }
        // Room for the key too, which the insert embeds: one malloc at the final size.
        if bytes <= HashObject.maxPackedEntries * (HashObject.maxPackedValueLength * 2 + 2) {
            h.reservePacked(entryBytes: bytes, keyBytes: key.count <= 254 ? key.count : 0)
        }
        var added = 0
        for i in 0..<fields.count where h.set(fields[i], values[i]) { added += 1 }
        let slot = set(key, hash: hash, value: .hash(h), expireAt: 0, now: now, adoptingHash: true)
        return .written(added: added, slot: slot)
    }
}
