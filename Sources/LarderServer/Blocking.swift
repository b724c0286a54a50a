import Atomics
import LarderRESP
import LarderStore
import NIOCore

/// Blocking list commands (BLPOP, BRPOP, BLMOVE, BRPOPLPUSH, BLMPOP), Redis' blocked.c.
///
/// A blocking command first runs like any multi-key command: its connection borrows the shards
/// of its keys and runs the handler with `CommandContext.mayBlock` set. When every key is empty
/// the handler asks to block (`CommandContext.blockRequest`) instead of replying; while the
/// shards are still held, the connection registers one `BlockedClient` in each key's owning
/// shard (`BlockingRegistry`, per shard worker), so no push can slip between the check and the
/// registration. The connection then keeps its place in the reply stream open and runs nothing
/// more (as Redis' blocked client), without blocking its loop.
///
/// A push to a key (LPUSH, RPUSH, LMOVE's destination...) marks it ready in its shard's registry
/// (one emptiness check when nobody waits). Whoever holds the shard serves the ready keys right
/// after the command (or the whole EXEC, or the remote batch entry) that pushed: the waiters of
/// a key in the order they blocked, while the list has elements, as Redis'
/// handleClientsBlockedOnKeys. A client blocked on keys of several shards is served by the
/// first shard that claims it (`BlockedClient.claim`, one atomic exchange); its registrations
/// elsewhere are removed by message. The reply goes to the client's loop by `execute`.
///
/// BLMOVE whose destination lives on another shard cannot be finished by the source shard
/// alone: that shard claims the client and hands it back to its connection, which runs the
/// command again with both shards borrowed (and blocks again, last in line, if another client
/// took the element meanwhile).
final class BlockedClient {
    enum Operation {
        /// BLPOP / BRPOP: replies [key, element].
        case pop(left: Bool)
        /// BLMPOP: replies [key, [elements]].
        case popMany(left: Bool, count: Int)
        /// BLMOVE / BRPOPLPUSH: replies the moved element.
        case move(fromLeft: Bool, toLeft: Bool, destination: [UInt8])
        /// BZPOPMIN / BZPOPMAX: replies [key, member, score].
        case zpop(max: Bool)
        /// BZMPOP: replies [key, [[member, score]...]].
        case zpopMany(max: Bool, count: Int)

        /// Whether it pops a sorted set (else a list).
        var popsSortedSet: Bool {
            switch self { case .zpop, .zpopMany: return true; default: return false }
        }
    }

    struct Key: Hashable {
        let db: Int
        let key: [UInt8]
    }

    let db: Int
    let keys: [[UInt8]]
    let operation: Operation
    let version: RESPVersion
    let home: EventLoop
    /// Absolute deadline in ms, 0 = forever.
    let deadline: Int64
    private let served = ManagedAtomic<Bool>(false)
    /// Runs on `home`: the reply bytes, or nil when the command must run again (BLMOVE across
    /// shards).
    var complete: (([UInt8]?) -> Void)? = nil
    var timeoutTask: Scheduled<Void>? = nil

    init(db: Int, keys: [[UInt8]], operation: Operation, version: RESPVersion, home: EventLoop, deadline: Int64) {
        self.db = db; self.keys = keys; self.operation = operation; self.version = version
        self.home = home; self.deadline = deadline
    }

    /// True for exactly one caller: the shard that serves it, its timeout, or its disconnect.
    func claim() -> Bool {
        served.compareExchange(expected: false, desired: true, ordering: .acquiringAndReleasing).exchanged
    }

    var isClaimed: Bool { served.load(ordering: .acquiring) }

    /// Hands the outcome to the connection, on its loop.
    func finish(_ bytes: [UInt8]?) {
        home.execute { [self] in
            timeoutTask?.cancel()
            timeoutTask = nil
            let c = complete
            complete = nil
            c?(bytes)
        }
    }

    /// Removes this client from every shard it waits on (after a claim). `heldShards`: shards
    /// the caller holds right now, changed directly; the others get a message.
    func unregister(server: ServerState, heldShards: [Shard?]?) {
        let n = server.shardCount
        for k in keys {
            let s = n == 1 ? 0 : ServerState.shardIndex(hash: ByteHash.hash(k), count: n)
            let w = server.workers[s]
            let key = Key(db: db, key: k)
            if let held = heldShards, held[s] != nil {
                w.blocking.remove(self, key)
            } else {
                w.loop.execute { w.submit { w.blocking.remove(self, key) } }
            }
        }
    }
}

/// One shard's blocked clients, by key, and the keys that received data since the last serve.
/// Touched only by whoever holds the shard.
final class BlockingRegistry {
    private(set) var waiters: [BlockedClient.Key: [BlockedClient]] = [:]
    /// Keys that got data, each with its place in the server-wide order of signals, so keys of
    /// several shards made ready by one command (EXEC, a multi-key write) are served in the
    /// order they became ready, as Redis does.
    private var ready: [(key: BlockedClient.Key, sequence: Int)] = []
    private var readyCursor = 0
    /// The server-wide signal order; touched only when someone waits on the signalled key.
    static let signalSequence = ManagedAtomic<Int>(0)

    var isEmpty: Bool { waiters.isEmpty }
    var blockedCount: Int { waiters.values.reduce(0) { $0 + $1.count } }

    func add(_ c: BlockedClient, _ key: BlockedClient.Key) { waiters[key, default: []].append(c) }

    func remove(_ c: BlockedClient, _ key: BlockedClient.Key) {
        guard var q = waiters[key] else { return }
        q.removeAll { $0 === c }
        waiters[key] = q.isEmpty ? nil : q
    }

    /// A list at `key` got elements; a no-op unless someone waits on it.
    @inline(__always) func signal(db: Int, key: UnsafeRawBufferPointer) {
        if waiters.isEmpty { return }
        let k = BlockedClient.Key(db: db, key: Array(key))
        if waiters[k] != nil && !ready.contains(where: { $0.key == k }) {
            ready.append((k, Self.signalSequence.loadThenWrappingIncrement(ordering: .relaxed)))
        }
    }

    /// Every waited-on key of databases `a` and `b` is ready again (SWAPDB: Redis'
    /// scanDatabaseForReadyKeys); serving checks each key's value, so a key without one stays
    /// blocked.
    func signalDatabases(_ a: Int, _ b: Int) {
        for k in waiters.keys where (k.db == a || k.db == b) && !ready.contains(where: { $0.key == k }) {
            ready.append((k, Self.signalSequence.loadThenWrappingIncrement(ordering: .relaxed)))
        }
    }

    var hasReady: Bool { readyCursor < ready.count }

    /// The signal order of the next ready key to serve, nil when none.
    var nextReadySequence: Int? { readyCursor < ready.count ? ready[readyCursor].sequence : nil }

    /// Serves the waiters of the next ready key (clients in the order they blocked) while its
    /// value has elements.
    func serveNext(shardIndex: Int, shard: Shard, held: [Shard?], server: ServerState, by worker: ShardWorker) {
        let k = ready[readyCursor].key
        readyCursor += 1
        serve(k, shardIndex: shardIndex, shard: shard, held: held, server: server, by: worker)
        if readyCursor == ready.count {
            ready.removeAll(keepingCapacity: true)
            readyCursor = 0
        }
    }

    private func serve(_ k: BlockedClient.Key, shardIndex: Int, shard: Shard, held: [Shard?], server: ServerState,
                       by worker: ShardWorker) {
        let db = shard.databases[k.db]
        let now = Clock.nowMilliseconds()
        while var queue = waiters[k], !queue.isEmpty {
            let found: StoredValue? = k.key.withUnsafeBytes { kb in
                guard let slot = db.lookupInternal(kb, now: now) else { return nil }
                let v = db.value(at: slot)
                switch v {
                case .list(let l) where l.count > 0: break
                case .zset(let z) where z.count > 0: break
                default: return nil
                }
                db.willChange(slot)   // the pop changes the value in place
                return v
            }
            guard let value = found else { return }
            // The first waiter whose command pops this type (Redis serves a list's waiters from
            // a list and a sorted set's from a sorted set; the others keep waiting).
            var isZSet = false
            if case .zset = value { isZSet = true }
            guard let at = queue.firstIndex(where: { $0.operation.popsSortedSet == isZSet }) else { return }
            let c = queue.remove(at: at)
            waiters[k] = queue.isEmpty ? nil : queue
            guard !c.isClaimed else { continue }
            if case .zset(let z) = value {
                guard c.claim() else { continue }
                c.unregister(server: server, heldShards: held)
                let out = ReplyWriter(capacity: 64, version: c.version)
                k.key.withUnsafeBytes { kb in
                    let popped = ZSetFamily.serveBlocked(c.operation, key: kb, zset: z, db: db, now: now, out: out)
                    if let aof = worker.aof, aof.active.load(ordering: .relaxed) {
                        AOFPropagation.servedBlock(c.operation, key: kb, db: k.db, popped: popped, into: worker.aofBuffer)
                    }
                }
                c.finish(Array(out.bytes))
                continue
            }
            guard case .list(let list) = value else { return }
            // BLMOVE to another shard: the connection finishes it with both shards borrowed.
            if case .move(_, _, let destination) = c.operation {
                let n = server.shardCount
                let ds = n == 1 ? 0 : ServerState.shardIndex(hash: ByteHash.hash(destination), count: n)
                if ds != shardIndex {
                    guard c.claim() else { continue }
                    c.unregister(server: server, heldShards: held)
                    c.finish(nil)
                    continue
                }
            }
            guard c.claim() else { continue }
            c.unregister(server: server, heldShards: held)
            let out = ReplyWriter(capacity: 64, version: c.version)
            let before = list.count
            k.key.withUnsafeBytes { kb in
                ListFamily.serveBlocked(c.operation, key: kb, list: list, db: db, dbIndex: k.db, now: now, out: out,
                                        registry: self, server: server)
                if let aof = worker.aof, aof.active.load(ordering: .relaxed) {
                    AOFPropagation.servedBlock(c.operation, key: kb, db: k.db, popped: before - list.count, into: worker.aofBuffer)
                }
            }
            c.finish(Array(out.bytes))
        }
    }
}

extension ClientFamily {
    /// CLIENT UNBLOCK id [TIMEOUT|ERROR]: ends another client's wait as if it timed out, or
    /// with an -UNBLOCKED error; 1 when that client was blocked, else 0.
    static func unblock(_ ctx: inout CommandContext, _ args: Arguments) {
        guard let id = RESPParser.parseInteger(args[2], from: 0, to: args[2].count) else { ctx.notInteger(); return }
        var asError = false
        if args.count == 4 {
            if args.equalsKeyword(3, "ERROR") { asError = true }
            else if !args.equalsKeyword(3, "TIMEOUT") {
                ctx.out.error("ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR" as StaticString); return
            }
        } else if args.count > 4 { ctx.syntaxError(); return }
        guard let target = ctx.server.clients.all.first(where: { $0.id == id }), let c = target.blockedClient,
              c.claim() else { ctx.out.integer(0); return }
        c.unregister(server: ctx.server, heldShards: nil)
        let out = ReplyWriter(capacity: 64, version: c.version)
        if asError { out.error("UNBLOCKED client unblocked via CLIENT UNBLOCK" as StaticString) } else { out.nullArray() }
        c.finish(Array(out.bytes))
        ctx.out.integer(1)
    }
}

extension ServerState {
    /// Serves the clients blocked on keys that the commands just run made ready, on every shard
    /// the caller holds. Cheap when nobody is blocked: one check per held shard.
    /// `worker`: the thread running this (owner or borrower), whose append-only buffer gets the
    /// pops the served clients make.
    @inline(__always) func serveBlockedClients(held: [Shard?], by worker: ShardWorker) {
        // Key by key in the order they became ready, across the held shards (Redis' order).
        while true {
            var next = -1, nextSequence = Int.max
            for s in 0..<held.count where held[s] != nil {
                if let q = workers[s].blocking.nextReadySequence, q < nextSequence { next = s; nextSequence = q }
            }
            if next < 0 { return }
            workers[next].blocking.serveNext(shardIndex: next, shard: held[next]!, held: held, server: self, by: worker)
        }
    }

    /// The same after a command that held at most `worker`'s own shard (one run in place, a
    /// remote batch's): only its queue can hold ready clients, so one check of it rather than
    /// the pass over `workers`, which cost retains and releases on every command (engine.md,
    /// stop 26).
    @inline(__always) func serveBlockedClients(ownShardOf worker: ShardWorker, held: [Shard?]) {
        if held[worker.index] != nil && worker.blocking.nextReadySequence != nil {
            serveBlockedClients(held: held, by: worker)
        }
    }
}

/// What a blocking handler asks for when it found nothing to pop (see `CommandContext.mayBlock`).
public struct BlockRequest {
    let keys: [[UInt8]]
    let operation: BlockedClient.Operation
    /// Absolute deadline in ms, 0 = forever.
    let deadline: Int64
}

extension CommandContext {
    /// A list at `key` (in the selected database) got elements: clients blocked on it are served
    /// after the running command. `hash`: the key's hash.
    @inline(__always) func signalListReady(_ key: UnsafeRawBufferPointer, hash: UInt64, db: Int? = nil) {
        let s = shardCount == 1 ? 0 : ServerState.shardIndex(hash: hash, count: shardCount)
        server.workers[s].blocking.signal(db: db ?? dbIndex, key: key)
    }

    /// Parses a blocking command's timeout (seconds, fractions allowed) into an absolute
    /// deadline in ms (0 = forever); replies Redis' error and returns nil when invalid.
    func blockDeadline(_ arg: UnsafeRawBufferPointer) -> Int64? {
        guard let v = LongDoubleText.parse(arg), v.isFinite else {
            out.error("ERR timeout is not a float or out of range" as StaticString); return nil
        }
        if v < 0 { out.error("ERR timeout is negative" as StaticString); return nil }
        let ms = Double(v) * 1000
        guard ms < 9.2e15 else { out.error("ERR timeout is out of range" as StaticString); return nil }
        // Redis rounds a positive timeout below 1 ms up to 1 ms (it would otherwise mean "forever").
        let whole = Int64(ms.rounded(.up))
        return whole == 0 ? 0 : now + whole
    }
}
