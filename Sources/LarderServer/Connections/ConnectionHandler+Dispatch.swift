import LarderRESP
import LarderStore
import NIOCore

/// Routing: every command runs where its data lives.
/// - connection commands run here, now;
/// - a keyed command whose keys all live in this thread's shard runs here, now, in place;
/// - one whose keys live in one other shard joins that shard's batch for this read (one hop);
/// - one whose keys span shards, or that needs every shard, borrows the shards it needs.
extension ConnectionHandler {
    func dispatch(_ args: Arguments, now: Int64) {
        guard let spec = server.commands.lookup(args[0]) else {
            if Self.looksLikeHTTP(args[0]) {
                // Redis' securityWarningCommand: no reply, the client is dropped.
                // Redis frees the client at once: replies not yet written are dropped too.
                ServerLog.securityAttack(peer: session.address)
                out.clear()
                pieces.removeAll()
                piecesHead = 0
                closeWhenFlushed = true
                return
            }
            emit { $0.error(Self.unknownCommandMessage(args)) }
            worker.errorStats.rejected(nil, code: "ERR")
            if session.inMulti { session.multiFailed = true }
            return
        }
        session.lastCommandId.store(spec.id, ordering: .relaxed)
        if !spec.subcommands.isEmpty {
            session.lastSubcommandIndex.store(Self.subcommandIndex(spec, args), ordering: .relaxed)
        }
        session.commandCount.wrappingIncrement(ordering: .relaxed)

        // A refused command is a rejected call (INFO commandstats), not a call (Redis 7).
        if !spec.arityOK(args.count) {
            emit { $0.error("ERR wrong number of arguments for '\(spec.name)' command") }
            worker.errorStats.rejected(spec.id, code: "ERR")
            if session.inMulti { session.multiFailed = true }
            return
        }
        // A password set by CONFIG SET after this client connected does not lock it out, and
        // clearing it lets unauthenticated clients in (Redis checks the default user each time).
        if !session.authenticated && !spec.flags.contains(.noAuth) && server.acl.defaultNeedsAuth.load(ordering: .relaxed) {
            emit { $0.error("NOAUTH Authentication required." as StaticString) }
            worker.errorStats.rejected(spec.id, code: "NOAUTH")
            if session.inMulti { session.multiFailed = true }
            return
        }
        // ACL: one relaxed load to see whether any user changed, and for a user allowed every
        // command and key (the default user unless configured otherwise) nothing more.
        if session.aclEpoch != aclEpoch.load(ordering: .relaxed) { refreshPermissions() }
        if !session.aclUnrestricted, let denial = aclDenial(spec, args) {
            rejectForACL(spec, args, denial)
            return
        }
        // Redis Cluster (after ACL, as Redis' processCommand): one nil test when off; when on,
        // the keys' slot is computed once and compared with the topology's owner.
        if let cluster = worker.cluster, let refusal = clusterRefusal(cluster, spec, args) {
            rejectForCluster(spec, refusal)
            return
        }
        // While the dataset loads, as Redis: only commands flagged `loading` run. Commands with
        // subcommands pass here (Redis decides per subcommand: CONFIG GET, CLIENT LIST run).
        if loadingActive.load(ordering: .relaxed) && !spec.flags.contains(.loading) && spec.subcommands.isEmpty {
            emit { $0.error("LOADING Redis is loading the dataset in memory" as StaticString) }
            worker.errorStats.rejected(spec.id, code: "LOADING")
            if session.inMulti { session.multiFailed = true }
            return
        }
        // noeviction only: under the other policies the write evicts first, on its shard
        // (CommandContext.makeRoomForWrite).
        if memoryFull.load(ordering: .relaxed) && spec.flags.contains(.denyoom)
            && server.settings.maxMemoryPolicy.load(ordering: .relaxed) == EvictionPolicy.noeviction.rawValue {
            emit { $0.error(MemoryLimit.oomError) }
            worker.errorStats.rejected(spec.id, code: "OOM")
            if session.inMulti { session.multiFailed = true }
            return
        }
        // Redis' stop-writes-on-bgsave-error: one atomic load; PING is refused too, as in Redis.
        if refusingWrites.load(ordering: .relaxed) && (spec.flags.contains(.write) || spec.name == "ping") {
            emit { $0.error(Self.misconfError) }
            worker.errorStats.rejected(spec.id, code: "MISCONF")
            if session.inMulti { session.multiFailed = true }
            return
        }
        // Redis 7.0's processCommand: a RESP2 client with subscriptions may only (un)subscribe,
        // PING, QUIT and RESET (one Bool of the session for everyone else).
        if session.inPubSubMode && session.version == .resp2 && !spec.flags.contains(.allowedInPubSub) {
            emit { $0.error("ERR Can't execute '\(Self.fullName(spec, args))': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context") }
            worker.errorStats.rejected(spec.id, code: "ERR")
            if session.inMulti { session.multiFailed = true }
            return
        }
        // CLIENT PAUSE (after the other checks, as Redis' processCommand): one relaxed load.
        if pauseMode.load(ordering: .relaxed) != 0 && pausePostpones(spec) {
            postponedForPause = true
            return
        }
        // Redis feeds monitors after a command runs, so SELECT shows the new database; a
        // connection command runs right here, the others later on their shards.
        let feedMonitors = monitorCount.load(ordering: .relaxed) > 0 &&
            !Self.monitorSkips(spec, args)
        if feedMonitors && spec.route != .connection {
            Monitor.feed(spec, args, session: session, clients: server.clients)
        }
        defer { if feedMonitors && spec.route == .connection { Monitor.feed(spec, args, session: session, clients: server.clients) } }
        // As in Redis, QUIT and RESET act at once even inside MULTI; everything else queues.
        if session.inMulti && !(spec.route == .transaction && spec.name != "unwatch")
            && spec.name != "quit" && spec.name != "reset" {
            if spec.flags.contains(.noMulti) {
                emit { $0.error("ERR Command not allowed inside a transaction" as StaticString) }
                worker.errorStats.rejected(spec.id, code: "ERR")
                session.multiFailed = true
                return
            }
            worker.commandCalls[spec.id] &+= 1
            queueInMulti(spec, args)
            return
        }
        worker.commandCalls[spec.id] &+= 1
        route(spec, args, now: now)
    }

    /// Whether CLIENT PAUSE holds this command now; EXEC is judged by its queue, as Redis.
    @inline(never)
    func pausePostpones(_ spec: CommandSpec) -> Bool {
        let mode = server.clientPause.current(now: Clock.nowMilliseconds())
        var flags = spec.flags
        if spec.route == .transaction && spec.name == "exec" && session.inMulti {
            for q in session.multiQueue { flags.formUnion(q.spec.flags) }
        }
        return ClientPause.postpones(mode, flags: flags)
    }

    /// `container|subcommand` or the command's name, as Redis' cmd->fullname.
    static func fullName(_ spec: CommandSpec, _ args: Arguments) -> String {
        guard !spec.subcommands.isEmpty else { return spec.name }
        let i = subcommandIndex(spec, args)
        return i >= 0 ? "\(spec.name)|\(spec.subcommands[i])" : spec.name
    }

    /// Redis feeds monitors unless the command run (the subcommand, for a container such as
    /// ACL or CLIENT) is admin or skip_monitor: ACL SETUSER never reaches MONITOR.
    @inline(never)
    static func monitorSkips(_ spec: CommandSpec, _ args: Arguments) -> Bool {
        var flags = spec.flags
        if !spec.subcommands.isEmpty, let subs = Subcommands.byContainer[spec.name] {
            let i = subcommandIndex(spec, args)
            if i >= 0 && i < subs.count { flags = subs[i].flags }
        }
        return flags.contains(.admin) || flags.contains(.skipMonitor)
    }

    /// Redis' getNodeByQuery: nil when this node serves the command. EXEC inside MULTI is
    /// checked over every queued command together (keys of one slot, served here), as Redis.
    @inline(never)
    func clusterRefusal(_ cluster: ClusterRouting, _ spec: CommandSpec, _ args: Arguments) -> String? {
        if session.clusterImportLink { return nil }
        guard spec.route == .transaction else {
            return cluster.refusal(spec, args, readOnlyClient: session.clusterReadOnly)
        }
        guard spec.name == "exec", session.inMulti, !session.multiFailed else { return nil }
        var slot = -1
        var crossSlot = false
        var writes = false
        for q in session.multiQueue {
            if q.spec.flags.contains(.write) { writes = true }
            Self.withArguments(q.arguments) { a in
                q.spec.keys.forEach(a) { i in
                    let s = ClusterHashSlot.slot(of: a[i])
                    if slot < 0 { slot = s } else if s != slot { crossSlot = true }
                }
            }
        }
        if crossSlot { return String(describing: ClusterRouting.crossSlotError) }
        if slot < 0 { return nil }
        return cluster.refusal(slot: slot, writes: writes, readOnlyClient: session.clusterReadOnly)
    }

    /// -MOVED / -CROSSSLOT / -CLUSTERDOWN: a rejected call. Inside MULTI the transaction is
    /// flagged (EXEC then answers EXECABORT); a refused EXEC discards it, as Redis.
    @inline(never)
    func rejectForCluster(_ spec: CommandSpec, _ refusal: String) {
        emit { $0.error(refusal) }
        worker.errorStats.rejected(spec.id, code: String(refusal.prefix { $0 != " " }))
        if spec.route == .transaction && spec.name == "exec" {
            session.inMulti = false
            session.multiQueue = []
            session.multiFailed = false
            releaseWatches()
        } else if session.inMulti {
            session.multiFailed = true
        }
    }

    /// The user's permissions changed (or the user was deleted: Redis closes such clients,
    /// see ACLFamily.closeClients; until then it runs as nobody).
    /// Out of line, as the two below: only after a change, or for restricted users, and
    /// dispatch stays as small as it was for everyone else.
    @inline(never)
    func refreshPermissions() {
        let epoch = server.acl.epoch.load(ordering: .acquiring)
        if let p = server.acl.permissions(for: session.userName) {
            session.become(p, epoch: epoch)
        } else {
            session.authenticated = false
            session.become(server.acl.defaultPermissions, epoch: epoch)
            closeWhenFlushed = true
        }
    }

    /// Redis' ACLCheckAllPerm for this call; nil when allowed. A container whose subcommand is
    /// unknown is left to its handler, which answers with Redis' unknown-subcommand error.
    @inline(never)
    func aclDenial(_ spec: CommandSpec, _ args: Arguments) -> ACLDenial? {
        let index = server.acl.index
        var sub = -1
        if !spec.subcommands.isEmpty {
            sub = Self.subcommandIndex(spec, args)
            if sub < 0 { return nil }
        }
        let id = index.id(spec: spec, subcommandIndex: sub)
        return session.acl.check(id: id, noAuth: spec.flags.contains(.noAuth), args: args, index: index)
    }

    /// -NOPERM with Redis 7.0's texts, an ACL LOG entry, and a rejected call.
    @inline(never)
    func rejectForACL(_ spec: CommandSpec, _ args: Arguments, _ denial: ACLDenial) {
        let index = server.acl.index
        let sub = spec.subcommands.isEmpty ? -1 : Self.subcommandIndex(spec, args)
        let fullName = index.entries[index.id(spec: spec, subcommandIndex: sub)].fullName
        let reason: ACLLogEntry.Reason
        let object: String
        switch denial {
        case .command:
            emit { $0.error("NOPERM this user has no permissions to run the '\(fullName)' command") }
            reason = .command; object = fullName
        case .key(let i):
            emit { $0.error("NOPERM this user has no permissions to access one of the keys used as arguments" as StaticString) }
            reason = .key; object = args.string(i)
        case .channel(let i):
            emit { $0.error("NOPERM this user has no permissions to access one of the channels used as arguments" as StaticString) }
            reason = .channel; object = args.string(i)
        }
        let now = Clock.nowMilliseconds()
        server.acl.addLogEntry(reason: reason, context: session.inMulti ? .multi : .toplevel, object: object,
                               username: session.userName,
                               clientInfo: ClientFamily.line(server: server, session, own: true),
                               now: now)
        worker.errorStats.rejected(spec.id, code: "NOPERM")
        if session.inMulti { session.multiFailed = true }
    }

    func route(_ spec: CommandSpec, _ args: Arguments, now: Int64) {
        let n = server.shardCount
        switch spec.route {
        case .connection:
            runHere(spec, args, now: now)
        case .transaction:
            runTransactionCommand(spec, args, now: now)
        case .allShards:
            if n == 1 && worker.isAvailable { runHere(spec, args, now: now) }
            else { borrow(Array(0..<n), spec: spec, args: args, now: now) }
        case .keys, .keysWithSession:
            if spec.flags.contains(.blocking) { runBlocking(spec, args); return }
            if n > 1, let unlisted = spec.namesUnlistedKeys, unlisted(args) {
                borrow(Array(0..<n), spec: spec, args: args, now: now); return
            }
            var target = -1
            var multi = false
            var firstKeyHash: UInt64 = 0
            if n > 1 {
                spec.keys.forEach(args) { i in
                    let h = ByteHash.hash(args[i])
                    let s = ServerState.shardIndex(hash: h, count: n)
                    if target < 0 { target = s; firstKeyHash = h } else if s != target { multi = true }
                }
            } else {
                target = 0
            }
            if target < 0 { runHere(spec, args, now: now); return }  // no key given: nothing to route
            if multi {
                var set = Set<Int>()
                spec.keys.forEach(args) { set.insert(ServerState.shardIndex(hash: ByteHash.hash(args[$0]), count: n)) }
                borrow(Array(set), spec: spec, args: args, now: now)
            } else if target == worker.index && worker.isAvailable {
                runHere(spec, args, now: now, firstKeyHash: n > 1 ? firstKeyHash : nil)
            } else if spec.route == .keysWithSession {
                borrow([target], spec: spec, args: args, now: now)
            } else {
                let batch: RemoteBatch
                if let b = openBatches[target] { batch = b } else {
                    if let spare = spareBatches[target] {
                        spareBatches[target] = nil
                        spare.reuse(client: session)
                        batch = spare
                    } else {
                        batch = RemoteBatch(shardIndex: target, client: session)
                    }
                    openBatches[target] = batch
                }
                let i = batch.add(spec, args, db: session.db, version: session.version, firstKeyHash: firstKeyHash)
                pieces.append(.remote(batch, i))
            }
        }
    }

    /// Runs on this thread now, with this thread's shard (when it is available) and the session.
    /// `firstKeyHash`: the hash routing computed for the first key, reused by the command.
    func runHere(_ spec: CommandSpec, _ args: Arguments, now: Int64, firstKeyHash: UInt64? = nil) {
        let held = worker.isAvailable ? localShardHeld : noShardHeld
        emit { out in
            var ctx = CommandContext(out: out, dbIndex: session.db, now: now, shards: held, session: session, server: server)
            ctx.mayBlockForReplicas = true
            if let firstKeyHash {
                ctx.routedKey = args[spec.keys.firstKeyIndex]
                ctx.routedKeyHash = firstKeyHash
            }
            worker.runTimed(spec, out, args, db: ctx.dbIndex, now: now, client: session) { spec.handler(&ctx, args) }
            server.serveBlockedClients(ownShardOf: worker, held: held)
        }
        // Commands that change how this connection reads or lives (AUTH, HELLO, QUIT, RESET).
        parser.authenticated = session.authenticated
        if session.closeAfterReply { closeWhenFlushed = true }
        if session.resetRequested {
            session.resetRequested = false
            releaseWatches()
            if subscriber != nil { unsubscribeAll() }
        }
        if let deadline = session.waitDeadline {
            session.waitDeadline = nil
            waitForReplicas(deadline: deadline)
        }
    }

    /// WAIT with no replica to wait for: the client is blocked (its later commands wait, INFO
    /// counts it) until the deadline, then gets 0; forever when the deadline is 0. Ends early
    /// only when the client goes away.
    func waitForReplicas(deadline: Int64) {
        let reply = BorrowedReply()
        pieces.append(.borrowed(reply))
        borrowsInFlight += 1
        session.blocked = true
        guard deadline > 0 else { return }
        let wait = max(deadline - Clock.nowMilliseconds(), 0)
        worker.loop.scheduleTask(in: .milliseconds(wait)) { [self] in
            session?.blocked = false
            guard session != nil, !channelClosed else { return }
            reply.bytes = Array(":0\r\n".utf8)
            flush()
            borrowFinished()
        }
    }

    /// Borrows `shards` (after sending this read's batches, so per-shard order is kept), runs the
    /// command on this thread while holding them, and fills its place in the reply stream.
    func borrow(_ shards: [Int], spec: CommandSpec, args: Arguments, now: Int64) {
        let copied = (0..<args.count).map { args.bytes($0) }
        borrow(shards) { [self] held, out in
            var ctx = CommandContext(out: out, dbIndex: session.db, now: Clock.nowMilliseconds(), shards: held, session: session, server: server)
            Self.withArguments(copied) { a in worker.runTimed(spec, out, a, db: ctx.dbIndex, now: ctx.now, client: session) { spec.handler(&ctx, a) } }
        }
    }

    /// The general form: `body` runs on this thread with the shards held and writes one reply.
    func borrow(_ shards: [Int], _ body: @escaping ([Shard?], ReplyWriter) -> Void) {
        sendOpenBatches()
        let reply = BorrowedReply()
        pieces.append(.borrowed(reply))
        let version = session.version
        borrowsInFlight += 1
        for s in shards where server.workers[s] !== worker { worker.hops &+= 1 }
        let b = ShardBorrow(shards: shards, home: worker.loop, workers: server.workers) { [self] held in
            let out = ReplyWriter(capacity: 256, version: version)
            body(held, out)
            server.serveBlockedClients(held: held, by: worker)
            reply.bytes = Array(out.bytes)
            flush()
            // Resume after the shards are given back (ShardBorrow releases right after `body`).
            worker.loop.execute { self.borrowFinished() }
        }
        b.start()
    }

    /// Sends each shard its batch of this read: one message per shard.
    func sendOpenBatches() {
        if openFanout != nil { sendOpenFanout() }
        for s in 0..<openBatches.count {
            guard let batch = openBatches[s] else { continue }
            openBatches[s] = nil
            let target = server.workers[s]
            let home = worker.loop
            let server = self.server
            if target.loop === home {
                target.submit { [self] in
                    batch.run(on: target, server: server)
                    batch.isDone = true
                    // Runs later, from the worker's queue: write what became ready.
                    flush()
                }
            } else if let mailbox = worker.mailbox {
                worker.hops &+= 1
                batch.hop(from: self, to: target, server: server, mailbox: mailbox)
            } else {
                worker.hops &+= 1
                target.loop.execute {
                    target.submit {
                        batch.run(on: target, server: server)
                        // A write is logged (and with `always` fsynced) before its reply goes back.
                        let reply = { home.execute { [self] in
                            batch.isDone = true
                            flush()
                        } }
                        if !target.afterAOFWrite(reply) { reply() }
                    }
                }
            }
        }
    }

    /// Presents owned argument arrays as `Arguments` (for queued and borrowed executions).
    static func withArguments<R>(_ args: [[UInt8]], _ body: (Arguments) -> R) -> R {
        var flat: [UInt8] = []
        var spans: [ArgumentSpan] = []
        spans.reserveCapacity(args.count)
        for a in args { spans.append(ArgumentSpan(offset: flat.count, count: a.count)); flat.append(contentsOf: a) }
        if flat.isEmpty { flat.append(0) }
        return flat.withUnsafeBytes { raw in
            spans.withUnsafeBufferPointer { sp in
                body(Arguments(base: raw.baseAddress!, spans: sp.baseAddress!, count: args.count))
            }
        }
    }

    /// `POST` or `Host:` as a command name (any case): an HTTP request sent to this port, e.g. by
    /// a browser tricked into cross-protocol scripting or by SSRF.
    static func looksLikeHTTP(_ name: UnsafeRawBufferPointer) -> Bool {
        func equalsLower(_ word: StaticString) -> Bool {
            guard name.count == word.utf8CodeUnitCount else { return false }
            let w = word.utf8Start
            for i in 0..<name.count {
                var c = name[i]
                if c >= 65 && c <= 90 { c += 32 }
                if c != w[i] { return false }
            }
            return true
        }
        return equalsLower("post") || equalsLower("host:")
    }

    static let misconfError: StaticString = "MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist to disk. Commands that may modify the data set are disabled, because this instance is configured to report errors during writes if RDB snapshotting fails (stop-writes-on-bgsave-error option). Please check the Redis logs for details about the RDB error."

    /// Redis 7's text: "unknown command 'x', with args beginning with: 'a' 'b' ".
    static func unknownCommandMessage(_ args: Arguments) -> String {
        // Redis prints the arguments with "%.*s", so each one ends at its first NUL byte.
        func cText(_ a: UnsafeRawBufferPointer, _ limit: Int) -> String {
            let end = a.firstIndex(of: 0) ?? a.count
            return String(decoding: UnsafeRawBufferPointer(rebasing: a[0..<min(end, limit)]), as: UTF8.self)
        }
        var list = ""
        var i = 1
        while i < args.count && list.utf8.count < 128 {
            list += "'\(cText(args[i], 128 - list.utf8.count))' "
            i += 1
        }
        return "ERR unknown command '\(cText(args[0], 128))', with args beginning with: \(list)"
    }

    /// Which of a container command's subcommands was called (-1 when none matches).
    static func subcommandIndex(_ spec: CommandSpec, _ args: Arguments) -> Int {
        guard args.count > 1 else { return -1 }
        let given = args[1]
        for (i, name) in spec.subcommands.enumerated() where name.utf8.count == given.count {
            var same = true
            for (j, c) in name.utf8.enumerated() {
                var g = given[j]
                if g >= 65 && g <= 90 { g += 32 }
                if g != c { same = false; break }
            }
            if same { return i }
        }
        return -1
    }
}

extension ConnectionHandler {
    /// A command run while CLIENT REPLY is OFF or SKIP: its reply is dropped (written directly:
    /// cut off again; waiting behind a hop: its pieces silenced), as Redis' CLIENT_REPLY_OFF.
    /// (Un)subscribe confirmations are pushes in Redis and go out anyway; CLIENT REPLY ON's +OK too.
    @inline(never)
    func dispatchSilenced(_ args: Arguments, now: Int64) {
        let wasSkipArmed = session.replyMode == .skipArmed
        if wasSkipArmed { session.replyMode = .skipNext }
        let direct = piecesHead == pieces.count
        let mark = out.count
        let firstPiece = pieces.count
        dispatch(args, now: now)
        if postponedForPause {  // it runs again when the pause ends, SKIP still armed
            if wasSkipArmed { session.replyMode = .skipArmed }
            return
        }
        if wasSkipArmed && session.replyMode == .skipNext {
            // SKIP applies to the one command after CLIENT REPLY SKIP.
            session.replyMode = .on
        }
        if let spec = server.commands.lookup(args[0]) {
            if spec.flags.isSuperset(of: [.pubsub, .allowedInPubSub]) { return }
            // CLIENT REPLY ON always answers +OK, also right after SKIP (Redis clears the skip
            // flag in the command itself, then replies).
            if spec.name == "client" && args.count == 3 && args.equalsKeyword(1, "REPLY") && args.equalsKeyword(2, "ON")
                && session.replyMode == .on { return }
        }
        if direct { out.truncate(to: mark) }
        for i in firstPiece..<pieces.count {
            if case .silenced = pieces[i] { continue }
            pieces[i] = .silenced(pieces[i])
        }
    }
}
