import LarderStore

/// Access to the shards for code that runs outside a RESP connection (LarderServing's HTTP
/// feature server): a task on the owning shard's loop, ordered with client commands exactly
/// as a command from a connection on that loop would be.
extension ServerState {
    /// Which shard owns `key`.
    public func shardIndex(ofKey key: UnsafeRawBufferPointer) -> Int {
        shardCount <= 1 ? 0 : ServerState.shardIndex(hash: ByteHash.hash(key), count: shardCount)
    }

    /// Runs `body` with shard `index` on that shard's own loop, after any borrower returns it.
    /// As runOnShard, but at once when called on the shard's own loop and nothing waits for the
    /// shard (an HTTP connection served on that loop): no task, no wake-up of another thread.
    public func runOnShardHere(_ index: Int, _ body: @escaping (Shard) -> Void) {
        let worker = workers[index]
        guard worker.loop.inEventLoop else { runOnShard(index, body); return }
        worker.submit { body(worker.shard); worker.flushAOF(sync: true) }
    }

    public func runOnShard(_ index: Int, _ body: @escaping (Shard) -> Void) {
        let worker = workers[index]
        // What `body` logged to the append-only file is written before its caller is told.
        worker.loop.execute { worker.submit { body(worker.shard); worker.flushAOF(sync: true) } }
    }
}

/// What /metrics reports about the server itself, read at scrape time from the per-thread
/// counters INFO reads (a count may be a moment stale; none is torn).
public struct ServerMetricsSnapshot: Sendable {
    public var commands: [(name: String, calls: Int, microseconds: Int)] = []
    public var connectedClients = 0
    public var residentBytes = 0
    public var netInputBytes = 0
    public var netOutputBytes = 0
    /// Per command with timed calls: counts per latency bucket (`latencyBucketBounds`, then +Inf),
    /// and the timed calls' total seconds.
    public var commandLatency: [(name: String, buckets: [Int], seconds: Double)] = []
    /// Upper bounds in seconds of the latency buckets but the last: 2^(10+i) ns.
    public static let latencyBucketBounds: [Double] = (0..<(ShardWorker.latencyBucketCount - 1)).map { Double(1 << (10 + $0)) / 1e9 }
    /// Hops sent by each shard thread's connections, by thread.
    public var hopsByShard: [Int] = []
    /// The slot migration this node runs or ran last (cluster mode; nil before the first).
    public var migration: (running: Bool, failed: Bool, keysSent: Int, writesForwarded: Int)? = nil
}

extension ServerState {
    public func metricsSnapshot() -> ServerMetricsSnapshot {
        var s = ServerMetricsSnapshot()
        for spec in commands.specs {
            let (calls, micros) = ServerStats.commandTime(self, spec.id)
            if calls > 0 { s.commands.append((spec.name, calls, micros)) }
        }
        let n = ShardWorker.latencyBucketCount
        for spec in commands.specs {
            var buckets = [Int](repeating: 0, count: n), nanos = 0
            for w in workers {
                for i in 0..<n { buckets[i] &+= w.commandLatencyBuckets[spec.id * n + i] }
                nanos &+= w.commandNanos[spec.id]
            }
            if buckets.contains(where: { $0 > 0 }) { s.commandLatency.append((spec.name, buckets, Double(nanos) / 1e9)) }
        }
        s.hopsByShard = workers.map(\.hops)
        if cluster.enabled, let m = cluster.lastMigration {
            let phase = m.phase
            s.migration = (phase.rawValue < SlotMigration.Phase.done.rawValue, phase == .failed,
                           m.keysSent.load(ordering: .relaxed), m.writesForwarded.load(ordering: .relaxed))
        }
        s.connectedClients = clients.all.count
        s.residentBytes = ProcessMemory.residentBytes()
        s.netInputBytes = ServerStats.netInputBytes(self)
        s.netOutputBytes = ServerStats.netOutputBytes(self)
        return s
    }
}
