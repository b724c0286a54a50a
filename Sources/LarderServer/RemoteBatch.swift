import LarderRESP
import LarderStore
import NIOCore

/// The commands of one pipelined read that belong to one shard owned by another thread (or to
/// this thread's shard while it is lent). Their arguments are copied into one contiguous buffer,
/// so a whole pipeline costs one hop per shard; the replies come back the same way.
/// A connection keeps one finished batch per shard and reuses it (`reuse`), so a hop allocates
/// nothing once warm: its arrays, reply buffer and the batch itself were most of the hop's
/// instructions (malloc and free, bench/results/engine.md "Hop rings").
final class RemoteBatch {
    let shardIndex: Int
    private(set) var argumentBytes: [UInt8] = []
    private(set) var spans: [ArgumentSpan] = []
    struct Entry {
        let spec: CommandSpec; let firstSpan: Int; let count: Int; let db: Int; let version: RESPVersion
        /// The first key's hash from routing (the shard does not hash it again).
        let firstKeyHash: UInt64
    }
    private(set) var entries: [Entry] = []
    /// Filled by the shard: all replies back to back, and where each one ends.
    var replies: ReplyWriter? = nil
    var replyEnds: [Int] = []
    var isDone = false

    /// The client that sent these commands (SLOWLOG's client address and name).
    private(set) var client: ClientSession?

    /// Set while the batch travels over a `ShardMailbox` (hop): the connection waiting for it,
    /// the worker that runs it and the server; cleared when the replies are back.
    private var connection: ConnectionHandler?
    private var target: ShardWorker?
    private var server: ServerState?
    private var homeIndex = 0

    init(shardIndex: Int, client: ClientSession? = nil) {
        self.shardIndex = shardIndex
        self.client = client
        // Small enough for glibc's per-thread cache (<= 1032 bytes): 4 KB went to the slower
        // arena path on every malloc and free. A pipeline that needs more grows it once.
        argumentBytes.reserveCapacity(512)
    }

    /// Index of the last command: its reply written means the batch is no longer needed.
    var lastIndex: Int { entries.count - 1 }

    /// Worth keeping for the next read (`reuse`): its buffers are not ones a large pipeline grew.
    var isReusable: Bool {
        isDone && argumentBytes.capacity <= 16 * 1024 && (replies?.capacity ?? 0) <= 16 * 1024
    }

    /// Empties a finished batch for new commands of the same shard (keeps its memory).
    func reuse(client: ClientSession?) {
        self.client = client
        argumentBytes.removeAll(keepingCapacity: true)
        spans.removeAll(keepingCapacity: true)
        entries.removeAll(keepingCapacity: true)
        replyEnds.removeAll(keepingCapacity: true)
        replies?.clear()
        isDone = false
    }

    /// Copies a command in; returns its index within the batch.
    func add(_ spec: CommandSpec, _ args: Arguments, db: Int, version: RESPVersion, firstKeyHash: UInt64) -> Int {
        let first = spans.count
        for i in 0..<args.count {
            let a = args[i]
            spans.append(ArgumentSpan(offset: argumentBytes.count, count: a.count))
            // As typed bytes: Array's contiguous fast path (one memcpy). From the raw buffer it
            // took the generic sequence copy, ~80 instructions per argument (callgrind).
            argumentBytes.append(contentsOf: a.assumingMemoryBound(to: UInt8.self))
        }
        entries.append(Entry(spec: spec, firstSpan: first, count: args.count, db: db, version: version,
                             firstKeyHash: firstKeyHash))
        return entries.count - 1
    }

    /// Runs every command on the shard's thread, against `shard` only.
    func run(on worker: ShardWorker, server: ServerState) {
        let out = replies ?? ReplyWriter(capacity: 512)  // cleared by `reuse`
        let now = Clock.nowMilliseconds()
        let held = worker.heldAlone(shardCount: server.shardCount)
        replyEnds.reserveCapacity(entries.count)
        argumentBytes.withUnsafeBytes { raw in
            spans.withUnsafeBufferPointer { sp in
                for e in entries {
                    out.version = e.version
                    var ctx = CommandContext(out: out, dbIndex: e.db, now: now, shards: held, session: nil, server: server)
                    let args = Arguments(base: raw.baseAddress ?? UnsafeRawPointer(bitPattern: 1)!, spans: sp.baseAddress! + e.firstSpan, count: e.count)
                    ctx.routedKey = args[e.spec.keys.firstKeyIndex]
                    ctx.routedKeyHash = e.firstKeyHash
                    worker.runTimed(e.spec, out, args, db: e.db, now: now, client: client) { e.spec.handler(&ctx, args) }
                    server.serveBlockedClients(ownShardOf: worker, held: held)
                    replyEnds.append(out.count)
                }
            }
        }
        replies = out
    }

    /// Sends the batch from `connection`'s thread to `target`'s over the mailbox, as one typed
    /// message (no closure per hop); the replies come back the same way.
    func hop(from connection: ConnectionHandler, to target: ShardWorker, server: ServerState, mailbox: HopMailbox) {
        self.connection = connection
        self.target = target
        self.server = server
        homeIndex = connection.worker.index
        assert(mailbox.senderIndex == homeIndex, "a batch sent from a thread that is not its connection's")
        mailbox.post(.batch(self), from: homeIndex, to: target.index)
    }

    /// On the target's thread: runs now, or after the shard is given back when it is lent.
    func arrived() {
        let target = self.target.unsafelyUnwrapped
        if target.isAvailable { runAndReply(target) } else { target.submit { self.runAndReply(target) } }
    }

    private func runAndReply(_ target: ShardWorker) {
        run(on: target, server: server.unsafelyUnwrapped)
        // A write is logged (and with `always` fsynced) before its reply goes back. The closure
        // captures only `self` (its target is `self.target`): a closure of one reference needs
        // no context box, where one of two (self, target) cost a malloc per hop.
        if !target.afterAOFWrite({ self.sendReplies() }) { sendReplies() }
    }

    private func sendReplies() {
        let target = self.target.unsafelyUnwrapped
        target.mailbox.unsafelyUnwrapped.post(.replies(self), from: target.index, to: homeIndex)
    }

    /// Back on the connection's thread: write what became ready.
    func repliesArrived() {
        isDone = true
        let c = connection
        connection = nil; target = nil; server = nil
        c?.flush()
    }

    func reply(_ i: Int) -> UnsafeRawBufferPointer {
        let start = i == 0 ? 0 : replyEnds[i - 1]
        return UnsafeRawBufferPointer(rebasing: replies!.bytes[start..<replyEnds[i]])
    }
}

/// A reply that is not known yet when later replies are: output waits behind it, in order.
/// Only `.silenced` is boxed: the other cases sit in the `pieces` array itself (an indirect
/// enum cost one allocation per piece, i.e. per remote command and per local reply behind one).
enum PendingPiece {
    /// A local reply written behind a pending one: bytes [start, end) of the connection's
    /// `aside` writer (one buffer per connection, not one array per reply).
    case ready(Int, Int)
    case remote(RemoteBatch, Int)
    case borrowed(BorrowedReply)
    /// A PUBLISH whose count waits for the other loops (PubSub.swift).
    case published(PublishFanout, Int)
    /// A reply CLIENT REPLY OFF/SKIP drops: waited for in order, never written.
    indirect case silenced(PendingPiece)

    var isFinished: Bool {
        switch self {
        case .ready: return true
        case .remote(let batch, _): return batch.isDone
        case .borrowed(let r): return r.bytes != nil
        case .published(let fanout, _): return fanout.isDone
        case .silenced(let p): return p.isFinished
        }
    }
}

final class BorrowedReply {
    var bytes: [UInt8]? = nil
}
