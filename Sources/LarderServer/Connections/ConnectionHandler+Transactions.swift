import LarderRESP
import LarderStore
import NIOCore

/// MULTI / EXEC / DISCARD and WATCH bookkeeping. EXEC borrows every shard its queued commands
/// (and watched keys) live in, checks the watches, and runs the queue in order while holding
/// them, so the transaction is atomic across shards.
extension ConnectionHandler {
    func queueInMulti(_ spec: CommandSpec, _ args: Arguments) {
        // As Redis 7.0's watchCommand: WATCH is not queued, it runs, fails, and the transaction
        // goes on (EXEC still runs it): a failed call, not a rejected one.
        if spec.name == "watch" {
            emit { $0.error("ERR WATCH inside MULTI is not allowed" as StaticString) }
            worker.errorStats.failed(spec.id, code: "ERR")
            return
        }
        session.multiQueue.append(QueuedCommand(spec: spec, arguments: (0..<args.count).map { args.bytes($0) }))
        emit { $0.simple("QUEUED") }
    }

    func runTransactionCommand(_ spec: CommandSpec, _ args: Arguments, now: Int64) {
        switch spec.name {
        case "multi":
            if session.inMulti { emit { $0.error("ERR MULTI calls can not be nested" as StaticString) }; worker.errorStats.failed(spec.id, code: "ERR"); return }
            session.inMulti = true
            session.multiQueue = []
            session.multiFailed = false
            emit { $0.ok() }
        case "discard":
            guard session.inMulti else { emit { $0.error("ERR DISCARD without MULTI" as StaticString) }; worker.errorStats.failed(spec.id, code: "ERR"); return }
            endMulti()
            releaseWatches()
            emit { $0.ok() }
        case "exec":
            guard session.inMulti else { emit { $0.error("ERR EXEC without MULTI" as StaticString) }; worker.errorStats.failed(spec.id, code: "ERR"); return }
            let queue = session.multiQueue
            let failed = session.multiFailed
            endMulti()
            if failed {
                releaseWatches()
                emit { $0.error("EXECABORT Transaction discarded because of previous errors." as StaticString) }
                worker.errorStats.failed(spec.id, code: "EXECABORT")
                return
            }
            exec(queue)
        case "unwatch":
            releaseWatches()
            emit { $0.ok() }
        default:
            emit { $0.error("ERR unknown transaction command" as StaticString) }
            worker.errorStats.failed(spec.id, code: "ERR")
        }
    }

    private func endMulti() {
        session.inMulti = false
        session.multiQueue = []
        session.multiFailed = false
    }

    private func exec(_ queue: [QueuedCommand]) {
        let n = server.shardCount
        var shards = Set<Int>()
        for q in queue {
            switch q.spec.route {
            case .allShards: for i in 0..<n { shards.insert(i) }
            case .keys, .keysWithSession:
                Self.withArguments(q.arguments) { a in
                    if let unlisted = q.spec.namesUnlistedKeys, unlisted(a) { for i in 0..<n { shards.insert(i) } }
                    q.spec.keys.forEach(a) { i in shards.insert(ServerState.shardIndex(hash: ByteHash.hash(a[i]), count: n)) }
                }
            case .connection, .transaction: break
            }
        }
        for w in session.watchedKeys { shards.insert(w.shard) }
        if shards.isEmpty { shards.insert(worker.index) }
        let flag = session.watchFlag
        borrow(Array(shards)) { [self] held, out in
            let aborted = flag?.dirty ?? false
            releaseWatches(held: held)
            if aborted { out.nullArray(); return }
            out.arrayHeader(queue.count)
            let now = Clock.nowMilliseconds()
            // Logged between MULTI and EXEC (when it wrote anything), so a replay applies it whole.
            worker.aofBuffer.beginTransaction()
            inExecBody = true
            defer { inExecBody = false }
            for q in queue {
                out.version = session.version
                var ctx = CommandContext(out: out, dbIndex: session.db, now: now, shards: held, session: session, server: server)
                Self.withArguments(q.arguments) { a in
                    // As Redis 7.0's execCommand: permissions are checked again at EXEC, in case
                    // the user's rules changed after the command was queued.
                    if session.aclEpoch != aclEpoch.load(ordering: .relaxed) { refreshPermissions() }
                    if !session.aclUnrestricted, let denial = aclDenial(q.spec, a) {
                        refuseQueuedForACL(q.spec, a, denial, out)
                        return
                    }
                    worker.runTimed(q.spec, out, a, db: ctx.dbIndex, now: now, client: session) { q.spec.handler(&ctx, a) }
                }
            }
            worker.aofBuffer.endTransaction()
        }
    }

    /// A queued command the user may no longer run: Redis 7.0's EXEC-time text and an ACL LOG
    /// entry in the `multi` context; the rest of the transaction runs.
    private func refuseQueuedForACL(_ spec: CommandSpec, _ args: Arguments, _ denial: ACLDenial, _ out: ReplyWriter) {
        let index = server.acl.index
        let sub = spec.subcommands.isEmpty ? -1 : Self.subcommandIndex(spec, args)
        let reasonText: String
        let reason: ACLLogEntry.Reason
        let object: String
        switch denial {
        case .command:
            reasonText = "no permission to execute the command or subcommand"
            reason = .command; object = index.entries[index.id(spec: spec, subcommandIndex: sub)].fullName
        case .key(let i):
            reasonText = "no permission to touch the specified keys"
            reason = .key; object = args.string(i)
        case .channel(let i):
            reasonText = "no permission to access one of the channels used as arguments"
            reason = .channel; object = args.string(i)
        }
        out.error("NOPERM ACLs rules changed between the moment the transaction was accumulated and the EXEC call. This command is no longer allowed for the following reason: \(reasonText)")
        server.acl.addLogEntry(reason: reason, context: .multi, object: object, username: session.userName,
                               clientInfo: ClientFamily.line(server: server, session, own: true),
                               now: Clock.nowMilliseconds())
        // Redis counts the error reply only: the command was neither called nor rejected.
        worker.errorStats.count("NOPERM")
    }

    /// Forgets every WATCH of this client. Watches live in shard keyspaces, so they are removed
    /// on each owning shard's thread (or directly when the shard is held).
    func releaseWatches(held: [Shard?]? = nil) {
        guard let s = session, !s.watchedKeys.isEmpty, let flag = s.watchFlag else {
            session?.watchFlag = nil
            return
        }
        for w in s.watchedKeys {
            if let shard = held?[w.shard] {
                shard.databases[w.db].unwatch(w.key, flag: flag)
            } else {
                let target = server.workers[w.shard]
                let key = w.key, db = w.db
                target.loop.execute { target.submit { target.shard.databases[db].unwatch(key, flag: flag) } }
            }
        }
        s.watchedKeys = []
        s.watchFlag = nil
    }
}

/// WATCH and UNWATCH. WATCH runs with the keys' shards held, on the client's thread.
enum TransactionFamily {
    static let commands: [CommandSpec] = [
        CommandSpec("multi", arity: 1, flags: [.noscript, .loading, .stale, .fast, .allowBusy], route: .transaction,
                    group: "transactions", summary: "Starts a transaction.") { _, _ in },
        CommandSpec("exec", arity: 1, flags: [.noscript, .loading, .stale, .skipSlowlog], route: .transaction,
                    group: "transactions", summary: "Executes all commands in a transaction.") { _, _ in },
        CommandSpec("discard", arity: 1, flags: [.noscript, .loading, .stale, .fast, .allowBusy], route: .transaction,
                    group: "transactions", summary: "Discards a transaction.") { _, _ in },
        CommandSpec("watch", arity: -2, flags: [.noscript, .loading, .stale, .fast, .allowBusy],
                    keys: .range(1, -1, 1), route: .keysWithSession, group: "transactions",
                    handler: watch),
        CommandSpec("unwatch", arity: 1, flags: [.noscript, .loading, .stale, .fast, .allowBusy], route: .transaction,
                    group: "transactions", handler: unwatch),
    ]

    static func watch(_ ctx: inout CommandContext, _ args: Arguments) {
        guard let session = ctx.session else { return }
        let flag = session.watchFlag ?? WatchFlag()
        session.watchFlag = flag
        for i in 1..<args.count {
            let key = args.bytes(i)
            let (db, hash) = ctx.db(for: args[i])
            _ = db.lookup(args[i], hash: hash, now: ctx.now, counted: false)  // an already-expired key counts as absent; no hit or miss
            db.watch(key, flag: flag)
            session.watchedKeys.append((ServerState.shardIndex(hash: hash, count: ctx.shardCount), ctx.dbIndex, key))
        }
        ctx.out.ok()
    }

    /// Inside EXEC, UNWATCH has nothing left to do: EXEC already released the watches.
    static func unwatch(_ ctx: inout CommandContext, _ args: Arguments) { ctx.out.ok() }
}
