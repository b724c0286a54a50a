import Foundation
import LarderStore

public struct BulkLoadError: Error, CustomStringConvertible, Sendable {
    public var message: String
    public var description: String { message }
}

/// Loading into the server's own shards with no network hop (`larder serve --materialize`):
/// each key goes to the worker that owns it, as a task on that worker's loop, so the write
/// is ordered with client commands exactly as an HSET from a connection would be.
extension LarderServer {
    /// HSET each record's fields into its key's hash (creating it), then EXPIRE it when the
    /// batch carries a TTL: the same store operation as the HSET command
    /// (`Keyspace.setHashFields`), one lookup per record. Blocks until every shard has applied
    /// its part. Must not be called from a shard thread. Keys holding a non-hash value are left
    /// alone and reported. An internal load is not a client command: it is not shown to
    /// MONITOR nor counted in INFO commandstats.
    public func bulkLoad(db: Int = 0, _ batch: HashWriteBatch) throws {
        if state.memoryLimit.full.load(ordering: .relaxed) {
            throw BulkLoadError(message: "\(MemoryLimit.oomError) (\(ProcessMemory.residentBytes()) bytes used, maxmemory \(state.settings.maxMemory.load(ordering: .relaxed)))")
        }
        let n = state.workers.count
        var hashes = [UInt64](repeating: 0, count: batch.count)
        var byShard = [[Int]](repeating: [], count: n)
        for (i, key) in batch.keys.enumerated() {
            hashes[i] = ByteHash.hash(key)
            byShard[ServerState.shardIndex(hash: hashes[i], count: n)].append(i)
        }
        var wrongType = [Int](repeating: 0, count: n)
        let lock = NSLock()
        try runOnShards(byShard) { [hashes] worker, indices in
            let keyspace = worker.shard.db(db)
            let now = Clock.nowMilliseconds()
            let logging = self.state.aof.active.load(ordering: .relaxed)
            var skipped = 0
            batch.forEachRecord(indices) { r, key, fields, values in
                switch keyspace.setHashFields(key, hash: hashes[r], fields: fields, values: values, now: now) {
                case .wrongType:
                    skipped += 1
                case .written(_, let slot):
                    let expireAt = batch.ttlSeconds.map { now + Int64($0) * 1000 }
                    if let expireAt { keyspace.setExpire(slot: slot, expireAt) }
                    self.state.notifyHashWritten(key: key, db: db)
                    if logging {
                        worker.aofBuffer.hashWrite(db: db, key: key, count: fields.count, field: { fields[$0] }, value: { values[$0] }, expireAt: expireAt)
                    }
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
                guard let slot = keys[r].withUnsafeBytes({ keyspace.lookupInternal($0, now: now) }),
                      let h = keyspace.hashView(at: slot),
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
                    worker.flushAOF(sync: true)  // the load's HSETs are in the file before it returns
                    group.leave()
                }
            }
        }
        group.wait()
    }
}
