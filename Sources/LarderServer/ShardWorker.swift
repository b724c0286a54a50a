import LarderRESP
import LarderStore
import NIOCore

/// The owner of one shard: it lives on one event loop (one pinned thread) and is the only code
/// that touches its shard, except while it has *lent* the shard to a multi-shard execution
/// (see `ShardBorrow`). Work that arrives while the shard is lent waits in `waiting`, in order.
///
/// Every method must be called on `loop`.
public final class ShardWorker {
    public let index: Int
    public let loop: EventLoop
    public let shard: Shard
    private(set) var lentTo: ShardBorrow?
    private var waiting: [() -> Void] = []
    private var waitingHead = 0
    /// Per-command call counts, and the nanoseconds of the calls that were timed with how many
    /// they were, indexed by CommandSpec.id (INFO commandstats, `ServerStats.commandTime`).
    /// Raw memory, not arrays: INFO reads them from another thread, and an array could be
    /// reallocated under it (copy on write); a stale count is acceptable, a freed buffer is not.
    let commandCalls: UnsafeMutablePointer<Int>
    let commandNanos: UnsafeMutablePointer<Int>
    let commandTimedCalls: UnsafeMutablePointer<Int>
    /// Latency histogram of the timed calls (/metrics): `latencyBucketCount` counters per command,
    /// bucket i counting calls of at most 2^(10+i) ns (1 us to 1 s), the last one the longer ones.
    /// Only the timed path touches it (one count-leading-zeros and one increment), so a sampled
    /// fast command pays nothing more.
    let commandLatencyBuckets: UnsafeMutablePointer<Int>
    public static let latencyBucketCount = 22
    /// Fast commands are timed one in `fastCommandSampleInterval`; this counts down to the next.
    private var fastCommandsUntilSample = 0
    let commandSlots: Int
    /// Bytes read from and written to this thread's clients (INFO total_net_*), per thread
    /// rather than one shared atomic, so no cache line bounces between cores on every read.
    /// Plain stored properties of this class: written only on this thread.
    var netInputBytes = 0
    var netOutputBytes = 0
    /// Messages this thread's connections sent to another shard's thread (a batch of commands
    /// for that shard, or a borrow of it): /metrics larder_shard_hops_total. One increment per
    /// hop, which is itself a cross-thread task.
    var hops = 0
    /// Write commands run on this thread (INFO rdb_changes_since_last_save, the save points).
    /// Never reset by CONFIG RESETSTAT. Redis counts changed keys/fields instead; a write that
    /// changed nothing (a failed or no-op one) counts here too, which can only make a
    /// save point come sooner.
    var writeCommands = 0
    /// This thread's append-only-file records not yet written (AOFBuffer), and the file.
    let aofBuffer = AOFBuffer()
    var aof: AppendOnlyFile?
    var loading: LoadingState?
    /// Connections of this loop waiting for CLIENT PAUSE to end (ClientPause.swift).
    var pausedConnections: [ConnectionHandler] = []

    // MARK: operator statistics (errorstats, SLOWLOG; Stats/ErrorStats.swift, Stats/Slowlog.swift)
    let errorStats: ErrorStats
    let slowlog = Slowlog()
    let latency = LatencyMonitor()
    /// Clients blocked on this shard's keys (BLPOP...; Blocking.swift).
    let blocking = BlockingRegistry()
    /// Subscriptions of the connections of this loop (PubSub.swift).
    let pubsub = PubSubRegistry()
    /// The server's SLOWLOG/LATENCY settings (set by `ServerState.workers`).
    var monitoring = MonitoringSettings()
    /// Periodic statistics work run by this worker's expiry timer (shard 0: ops per second).
    var cron: ((Int64) -> Void)? = nil
    /// The cluster topology as this thread routes by it; nil when cluster mode is off, so
    /// dispatch pays one branch then (ClusterState.publish sets it on this thread).
    var cluster: ClusterRouting? = nil
    /// The slot migration this node runs as the source, set with `cluster`; nil otherwise, so
    /// `runTimed` pays one branch when no migration runs (and cluster mode off never sets it).
    var migration: SlotMigration? = nil
    // MARK: -

    /// The shard threads' hop rings when the engine has them (epoll, uring): batches go there as
    /// typed messages (RemoteBatch); nil on NIO, whose `EventLoop.execute` carries them.
    let mailbox: HopMailbox?
    /// The engine loop's inbox (epoll, uring), which orders pub/sub across senders; nil on NIO,
    /// whose one FIFO queue per loop does (`sendOrdered`, `catchUpOrdered`).
    let inbox: LoopInbox?

    init(index: Int, loop: EventLoop, commandCount: Int) {
        self.index = index
        self.loop = loop
        #if os(Linux)
        if let l = loop as? EpollEventLoop {
            mailbox = l.mailbox; inbox = l.inbox
        } else if let l = loop as? UringEventLoop {
            mailbox = l.mailbox; inbox = l.inbox
        } else {
            mailbox = nil; inbox = nil
        }
        #else
        self.mailbox = nil
        self.inbox = nil
        #endif
        self.shard = Shard(index: index)
        self.commandSlots = max(commandCount, 1)
        self.commandCalls = .allocate(capacity: commandSlots)
        self.commandCalls.initialize(repeating: 0, count: commandSlots)
        self.commandNanos = .allocate(capacity: commandSlots)
        self.commandNanos.initialize(repeating: 0, count: commandSlots)
        self.commandTimedCalls = .allocate(capacity: commandSlots)
        self.commandTimedCalls.initialize(repeating: 0, count: commandSlots)
        self.commandLatencyBuckets = .allocate(capacity: commandSlots * Self.latencyBucketCount)
        self.commandLatencyBuckets.initialize(repeating: 0, count: commandSlots * Self.latencyBucketCount)
        self.errorStats = ErrorStats(commandSlots: commandSlots)
    }

    deinit {
        commandCalls.deallocate()
        commandNanos.deallocate()
        commandTimedCalls.deallocate()
        commandLatencyBuckets.deallocate()
    }

    /// The histogram bucket of a call of `nanos`: the smallest i with nanos <= 2^(10+i), capped.
    @inline(__always)
    static func latencyBucket(nanos: Int) -> Int {
        let ceilLog2 = Int.bitWidth - (max(nanos, 1) &- 1).leadingZeroBitCount
        return min(max(ceilLog2 &- 10, 0), latencyBucketCount &- 1)
    }

    /// One in this many calls of a `.fast` command is timed; every other command always is.
    /// Why: a monotonic clock read costs ~20 ns here (vDSO), two per command ~40 ns, against a
    /// few hundred ns of handler work for GET/HGET: sampling keeps the fast path's cost under
    /// ~1% while slow commands (KEYS, HGETALL of a big hash, INFO), which decide what an operator
    /// looks for, are measured exactly. INFO scales the sampled time by calls / timed calls.
    static let fastCommandSampleInterval = 16

    /// Runs a command's handler on this thread, timing it (Redis times call(), the execution
    /// without I/O; so does this, on the thread that runs the command). `out` is where the
    /// handler writes its reply: an error reply in it makes the call a failed one (INFO
    /// commandstats failed_calls, errorstats). A timed call at least `slowlog-log-slower-than`
    /// long is logged with `args` and `client` (SLOWLOG); with the threshold at 0 every call is
    /// timed, otherwise `.fast` commands are sampled and only a sampled slow call is logged.
    /// `db` and `now`: the database and time the handler runs with, for the append-only file's
    /// record of a write (AOFPropagation), appended after the handler when it did not fail.
    @inline(__always)
    func runTimed(_ spec: CommandSpec, _ out: ReplyWriter, _ args: Arguments, db: Int, now: Int64,
                  client: ClientSession?, _ body: () -> Void) {
        // The handler stays inlined here either way: handing `body` to an out-of-line function
        // would make every caller build the closure's context (measured: +67 instructions per
        // pipelined GET).
        var forwardTo: SlotMigration? = nil
        if let migration {
            switch admit(migration, spec, out, args) {
            case .refused: return
            case .forward: forwardTo = migration
            case .unaffected: break
            }
        }
        runTimedHere(spec, out, args, db: db, now: now, client: client, body)
        if let forwardTo { forwardTo.forward(spec, args, db: db, now: now) }
    }

    enum MigrationAdmission { case unaffected, forward, refused }

    /// A command while this node moves slots away (SlotMigration): on one of those slots it is
    /// refused during the handover (-TRYAGAIN) and after it (-MOVED); otherwise it runs, and its
    /// keys' state is then forwarded to the target, here, in the same task, so a barrier over
    /// the loops covers it.
    @inline(never)
    func admit(_ migration: SlotMigration, _ spec: CommandSpec, _ out: ReplyWriter, _ args: Arguments) -> MigrationAdmission {
        guard let slot = migration.movingSlot(spec, args) else { return .unaffected }
        if let refusal = migration.refusal(spec, slot: slot) {
            out.error(refusal)
            errorStats.rejected(spec.id, code: String(refusal.prefix { $0 != " " }))
            return .refused
        }
        return .forward
    }

    @inline(__always)
    func runTimedHere(_ spec: CommandSpec, _ out: ReplyWriter, _ args: Arguments, db: Int, now: Int64,
                      client: ClientSession?, _ body: () -> Void) {
        let errors = out.errorCount
        let replyStart = out.count
        if spec.flags.contains(.write) { writeCommands &+= 1 }
        defer {
            if spec.flags.contains(.write), let aof, aof.active.load(ordering: .relaxed), out.errorCount == errors {
                AOFPropagation.log(aof.rules[spec.id], args, db: db, now: now,
                                   reply: UnsafeRawBufferPointer(rebasing: out.bytes[replyStart...]), into: aofBuffer)
            }
        }
        if spec.flags.contains(.fast) && monitoring.slowlogThresholdNanos != 0 {
            fastCommandsUntilSample &-= 1
            if fastCommandsUntilSample > 0 {
                body()
                if out.errorCount != errors { errorStats.failed(spec.id, out, before: errors) }
                return
            }
            fastCommandsUntilSample = Self.fastCommandSampleInterval
        }
        let start = Clock.monotonicNanoseconds()
        body()
        let nanos = Int(truncatingIfNeeded: Clock.monotonicNanoseconds() &- start)
        commandNanos[spec.id] &+= nanos
        commandTimedCalls[spec.id] &+= 1
        commandLatencyBuckets[spec.id &* Self.latencyBucketCount &+ Self.latencyBucket(nanos: nanos)] &+= 1
        if out.errorCount != errors { errorStats.failed(spec.id, out, before: errors) }
        // The threshold as it is after the call, as Redis reads it (CONFIG SET ... 0 logs itself).
        if nanos >= monitoring.slowlogThresholdNanos && !spec.flags.contains(.skipSlowlog) {
            slowlog.record(spec, args, micros: nanos / 1000, client: client, settings: monitoring)
        }
        // Redis' latency monitor: events "command" and "fast-command", in whole milliseconds.
        if nanos >= monitoring.latencyThresholdNanos {
            latency.record(spec.flags.contains(.fast) ? "fast-command" : "command", milliseconds: nanos / 1_000_000)
        }
    }

    private var heldAloneCache: [Shard?] = []

    /// The `shards` of a command that runs on this worker's shard alone (a remote batch): made
    /// once, shared (an array per batch was one more allocation per hop).
    @inline(__always)
    func heldAlone(shardCount: Int) -> [Shard?] {
        if heldAloneCache.count != shardCount {
            heldAloneCache = [Shard?](repeating: nil, count: shardCount)
            heldAloneCache[index] = shard
        }
        return heldAloneCache
    }

    /// True when work for this shard can run right now on this thread, in order.
    @inline(__always) var isAvailable: Bool { lentTo == nil && waitingHead == waiting.count }

    /// Runs `work` now, or after the current borrower returns the shard.
    func submit(_ work: @escaping () -> Void) {
        if isAvailable { work() } else { waiting.append(work) }
    }

    /// Hands the shard to `borrow` as soon as it is free; `borrow.granted` is told on its loop.
    func lend(_ borrow: ShardBorrow) {
        // This thread's records go out first: the borrower's records for this shard follow them.
        flushAOF()
        if isAvailable {
            lentTo = borrow
            borrow.granted()
        } else {
            waiting.append { [unowned self] in
                self.lentTo = borrow
                borrow.granted()
            }
        }
    }

    /// Takes the shard back and runs what waited, stopping if one of those lends it again.
    func release() {
        lentTo = nil
        while lentTo == nil && waitingHead < waiting.count {
            let work = waiting[waitingHead]
            waitingHead += 1
            work()
        }
        if waitingHead == waiting.count {
            waiting.removeAll(keepingCapacity: waiting.capacity < 1024)
            waitingHead = 0
        }
    }

    /// One step of active expiry; skipped while the shard is lent.
    func expiryCycle() {
        cron?(Clock.nowMilliseconds())
        // Not while the dataset loads: the AOF replay suspends expiry (AppendOnlyFile+Load.swift).
        guard isAvailable, loading?.isActive != true, DebugFamily.activeExpire.load(ordering: .relaxed),
              !Keyspace.expiryPaused.load(ordering: .relaxed) else { return }
        shard.sweepExpired(now: Clock.nowMilliseconds(), budget: 2000)
        flushAOF(sync: true)  // the sweep's DELs, and anything no reply has written
    }
}

/// A multi-shard execution: it borrows every shard it needs, in ascending shard order (so two
/// borrowers can never wait on each other in a cycle), runs `body` on the requesting
/// connection's thread while it holds them all, then returns them. This is how multi-key
/// commands, MULTI/EXEC and keyspace-wide commands stay atomic without any global lock.
final class ShardBorrow {
    let shardIndexes: [Int]
    let home: EventLoop
    let workers: [ShardWorker]
    private var next = 0
    private let body: ([Shard?]) -> Void

    init(shards: [Int], home: EventLoop, workers: [ShardWorker], body: @escaping ([Shard?]) -> Void) {
        self.shardIndexes = shards.sorted()
        self.home = home
        self.workers = workers
        self.body = body
    }

    func start() { acquireNext() }

    private func acquireNext() {
        if next == shardIndexes.count {
            var held = [Shard?](repeating: nil, count: workers.count)
            for i in shardIndexes { held[i] = workers[i].shard }
            body(held)
            // What the borrower logged goes out before the owners run anything more on these shards.
            workers.first { $0.loop === home }?.flushAOF()
            for i in shardIndexes {
                let w = workers[i]
                if w.loop.inEventLoop { w.release() } else { w.loop.execute { w.release() } }
            }
            return
        }
        let w = workers[shardIndexes[next]]
        next += 1
        if w.loop.inEventLoop { w.lend(self) } else { w.loop.execute { w.lend(self) } }
    }

    /// Called by a worker, on its own loop, once this borrow holds its shard.
    func granted() {
        if home.inEventLoop { acquireNext() } else { home.execute { self.acquireNext() } }
    }
}
