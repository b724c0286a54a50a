import Foundation
import LarderStore

/// Records for `LarderServer.bulkLoad`: hashes that all set the same field names, with one
/// value per field and record in a flat buffer (materialization writes millions of them).
public struct BulkHashRecords: Sendable {
    public let fields: [[UInt8]]
    public var keys: [[UInt8]]
    public var bytes: [UInt8]
    /// End offset in `bytes` of each value, `keys.count * fields.count` entries.
    public var valueEnds: [Int]
    /// EXPIRE after writing (seconds); nil leaves the key's expiry unchanged, as HSET does.
    public var ttlSeconds: Int?

    public init(fields: [[UInt8]], keys: [[UInt8]], bytes: [UInt8], valueEnds: [Int], ttlSeconds: Int?) {
        self.fields = fields
        self.keys = keys
        self.bytes = bytes
        self.valueEnds = valueEnds
        self.ttlSeconds = ttlSeconds
    }

    func value(record: Int, field: Int) -> ArraySlice<UInt8> {
        let i = record * fields.count + field
        return bytes[(i == 0 ? 0 : valueEnds[i - 1]) ..< valueEnds[i]]
    }
}

public struct BulkLoadError: Error, CustomStringConvertible, Sendable {
    public var message: String
    public var description: String { message }
}

/// Loading into the server's own shards with no network hop (`larder serve --materialize`):
/// each key goes to the worker that owns it, as a task on that worker's loop, so the write
/// is ordered with client commands exactly as an HSET from a connection would be.
extension LarderServer {
    /// HSET each record's fields into its key's hash (creating it), then EXPIRE it when the
    /// records carry a TTL. Blocks until every shard has applied its part. Must not be called
    /// from a shard thread. Keys holding a non-hash value are left alone and reported.
    public func bulkLoad(db: Int = 0, _ records: BulkHashRecords) throws {
        let byShard = partition(records.keys)
        var wrongType = [Int](repeating: 0, count: byShard.count)
        let lock = NSLock()
        try runOnShards(byShard) { worker, indices in
            let keyspace = worker.shard.db(db)
            let now = Clock.nowMilliseconds()
            var skipped = 0
            for r in indices {
                let key = records.keys[r]
                let h: HashObject
                if let slot = key.withUnsafeBytes({ keyspace.lookup($0, now: now) }) {
                    guard case .hash(let existing) = keyspace.value(at: slot) else { skipped += 1; continue }
                    h = existing
                    keyspace.touch(slot)
                } else {
                    h = HashObject()
                    keyspace.set(key, value: .hash(h), now: now)
                }
                for f in records.fields.indices {
                    let value = records.value(record: r, field: f)
                    records.fields[f].withUnsafeBytes { field in
                        value.withUnsafeBytes { _ = h.set(field, $0) }
                    }
                }
                if let ttl = records.ttlSeconds, let slot = key.withUnsafeBytes({ keyspace.lookup($0, now: now) }) {
                    keyspace.setExpire(slot: slot, now + Int64(ttl) * 1000)
                }
            }
            lock.lock(); wrongType[worker.index] = skipped; lock.unlock()
        }
        let total = wrongType.reduce(0, +)
        if total > 0 {
            throw BulkLoadError(message: "\(total) key(s) hold a value that is not a hash (WRONGTYPE); left unchanged")
        }
    }

    /// The value of `field` in each key's hash (HMGET key field), nil where absent.
    public func bulkReadField(db: Int = 0, field: [UInt8], keys: [[UInt8]]) throws -> [[UInt8]?] {
        let byShard = partition(keys)
        var out = [[UInt8]?](repeating: nil, count: keys.count)
        let lock = NSLock()
        try runOnShards(byShard) { worker, indices in
            let keyspace = worker.shard.db(db)
            let now = Clock.nowMilliseconds()
            var found: [(Int, [UInt8])] = []
            for r in indices {
                guard let slot = keys[r].withUnsafeBytes({ keyspace.lookup($0, now: now) }),
                      case .hash(let h) = keyspace.value(at: slot),
                      let value = field.withUnsafeBytes({ h.value($0) }) else { continue }
                found.append((r, value))
            }
            lock.lock()
            for (r, value) in found { out[r] = value }
            lock.unlock()
        }
        return out
    }

    /// Record indices per owning shard.
    private func partition(_ keys: [[UInt8]]) -> [[Int]] {
        let n = state.workers.count
        var byShard = [[Int]](repeating: [], count: n)
        for (i, key) in keys.enumerated() {
            byShard[ServerState.shardIndex(hash: ByteHash.hash(key), count: n)].append(i)
        }
        return byShard
    }

    /// Runs `body` on each shard's loop (in the shard's queue order) for its indices; waits.
    private func runOnShards(_ byShard: [[Int]], _ body: @escaping (ShardWorker, [Int]) -> Void) throws {
        if state.workers.contains(where: { $0.loop.inEventLoop }) {
            throw BulkLoadError(message: "bulkLoad called from a shard thread")
        }
        let group = DispatchGroup()
        for worker in state.workers where !byShard[worker.index].isEmpty {
            let indices = byShard[worker.index]
            group.enter()
            worker.loop.execute {
                worker.submit {
                    body(worker, indices)
                    group.leave()
                }
            }
        }
        group.wait()
    }
}
