import LarderRESP
import LarderStore
import NIOCore

/// Running a blocking command (BLPOP...) for this connection; see Blocking.swift.
extension ConnectionHandler {
    /// Runs the command with its keys' shards borrowed; if it blocks, later commands of this
    /// client wait (as behind a borrow) until it is served, times out or the client goes away.
    func runBlocking(_ spec: CommandSpec, _ args: Arguments) {
        let copied = (0..<args.count).map { args.bytes($0) }
        sendOpenBatches()
        let reply = BorrowedReply()
        pieces.append(.borrowed(reply))
        borrowsInFlight += 1
        attemptBlocking(spec, copied, reply: reply, deadline: nil)
    }

    /// One attempt: serve now, or register and wait. `deadline`: the first attempt's, when this
    /// is a retry (BLMOVE across shards), so a retry does not extend the timeout.
    private func attemptBlocking(_ spec: CommandSpec, _ copied: [[UInt8]], reply: BorrowedReply, deadline: Int64?) {
        let n = server.shardCount
        var shards = Set<Int>()
        Self.withArguments(copied) { a in
            spec.keys.forEach(a) { shards.insert(n == 1 ? 0 : ServerState.shardIndex(hash: ByteHash.hash(a[$0]), count: n)) }
            // BLMOVE / BRPOPLPUSH: the destination is a key too (Redis' key specs list it).
        }
        if shards.isEmpty { shards.insert(worker.index) }
        let version = session.version
        let b = ShardBorrow(shards: Array(shards), home: worker.loop, workers: server.workers) { [self] held in
            let out = ReplyWriter(capacity: 256, version: version)
            var ctx = CommandContext(out: out, dbIndex: session.db, now: Clock.nowMilliseconds(), shards: held,
                                     session: session, server: server)
            ctx.mayBlock = true
            Self.withArguments(copied) { a in
                worker.runTimed(spec, out, a, db: ctx.dbIndex, now: ctx.now, client: session) { spec.handler(&ctx, a) }
            }
            server.serveBlockedClients(held: held, by: worker)
            if let request = ctx.blockRequest, session != nil, !closeWhenFlushed, !channelClosed {
                block(request, spec: spec, copied: copied, reply: reply, held: held, deadline: deadline ?? request.deadline)
                return
            }
            reply.bytes = Array(out.bytes)
            flush()
            worker.loop.execute { self.borrowFinished() }
        }
        b.start()
    }

    /// Registers this client on each key's shard (all held now) and arms its timeout.
    private func block(_ request: BlockRequest, spec: CommandSpec, copied: [[UInt8]], reply: BorrowedReply,
                       held: [Shard?], deadline: Int64) {
        let c = BlockedClient(db: session.db, keys: request.keys, operation: request.operation,
                              version: session.version, home: worker.loop, deadline: deadline)
        let n = server.shardCount
        for k in request.keys {
            let s = n == 1 ? 0 : ServerState.shardIndex(hash: ByteHash.hash(k), count: n)
            server.workers[s].blocking.add(c, BlockedClient.Key(db: c.db, key: k))
        }
        blockedClient = c
        session.blocked = true
        session.blockedClient = c
        c.complete = { [self] bytes in
            blockedClient = nil
            session?.blocked = false
            session?.blockedClient = nil
            guard session != nil, !channelClosed else { return }
            if let bytes {
                reply.bytes = bytes
                flush()
                borrowFinished()
            } else {
                attemptBlocking(spec, copied, reply: reply, deadline: deadline)
            }
        }
        if deadline > 0 {
            let wait = max(deadline - Clock.nowMilliseconds(), 0)
            c.timeoutTask = worker.loop.scheduleTask(in: .milliseconds(wait)) { [server] in
                guard c.claim() else { return }
                c.unregister(server: server, heldShards: nil)
                // Redis 7.0 answers every timed-out list wait with a null array, BLMOVE's too.
                let out = ReplyWriter(capacity: 8, version: c.version)
                out.nullArray()
                c.finish(Array(out.bytes))
            }
        }
    }

    /// The client went away while blocked: forget its registrations.
    func cancelBlocked() {
        guard let c = blockedClient else { return }
        blockedClient = nil
        c.timeoutTask?.cancel()
        if c.claim() { c.unregister(server: server, heldShards: nil) }
    }
}
