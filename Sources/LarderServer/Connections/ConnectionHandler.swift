import Atomics
import LarderRESP
import LarderStore
import NIOCore

/// One client connection: a single handler that parses, dispatches and writes, with no
/// NIOAny boxing of anything but the byte buffers, and one flush per read batch.
final class ConnectionHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    let server: ServerState
    let worker: ShardWorker
    var session: ClientSession!
    /// The connection: a NIO channel or an epoll engine socket (ConnectionTransport.swift).
    var transport: ConnectionTransport?
    var parser: RESPParser

    /// Bytes of a command that has not fully arrived yet.
    private var pending: ByteBuffer? = nil
    /// The reply buffer handed to NIO, kept for the next flush (see `flush`).
    private var outBuffer: ByteBuffer? = nil
    /// Reused across reads so parsing a pipeline allocates nothing once warmed up.
    private var spans: [ArgumentSpan] = []
    private var commandStarts: [(first: Int, count: Int, end: Int)] = []
    static let commandsPerChunk = 128
    /// Spans and command starts of earlier reads kept before clearing (see `process`): 1 KB and
    /// 384 bytes a connection at most beyond one chunk's.
    static let spansKept = 64
    static let commandStartsKept = 16

    /// Replies ready to be written, in order.
    let out = ReplyWriter()
    /// Replies waiting behind a hop that has not come back; everything after the first
    /// unfinished piece waits too, so replies stay in request order.
    var pieces: [PendingPiece] = []
    var piecesHead = 0
    /// Local replies written while an earlier one is pending (`PendingPiece.ready`); made on
    /// first use and small, so a connection that never waits behind a hop pays nothing.
    lazy var aside = ReplyWriter(capacity: 256)
    /// Per read batch: commands bound for each other shard.
    var openBatches: [RemoteBatch?]
    /// Per shard, a batch whose replies are all written, kept for the next read (RemoteBatch.reuse).
    var spareBatches: [RemoteBatch?]
    var closeWhenFlushed = false
    /// Borrows started by this connection and not yet finished (see `process`).
    var borrowsInFlight = 0
    /// Set while this client is blocked (BLPOP...), for its timeout and disconnect.
    var blockedClient: BlockedClient? = nil
    /// The channel went inactive: a blocking command whose borrow finishes later must not
    /// register (nobody would cancel it, and a push would be served to no one).
    var channelClosed = false
    /// Shard sets for commands run on this thread, built once per connection (not per command).
    let localShardHeld: [Shard?]
    let noShardHeld: [Shard?]
    /// `server.acl.epoch`, held here so dispatch's per-command ACL test is one load off `self`
    /// (through `server.acl` it cost ~60 user instructions per GET under callgrind: retains).
    let aclEpoch: UnsafeAtomic<Int>
    /// The server-wide flags dispatch and process read per command or per read, held here for
    /// the same reason: each one reached through `server.x.y` cost a retain and a release
    /// (~25 user instructions under callgrind, seven per unpipelined GET; engine.md stop 26).
    /// UnsafeAtomics (their owners, which `server` holds, destroy them): a ManagedAtomic, even
    /// held here, still cost a call through the class per read.
    let loadingActive: UnsafeAtomic<Bool>
    let memoryFull: UnsafeAtomic<Bool>
    let refusingWrites: UnsafeAtomic<Bool>
    let pauseMode: UnsafeAtomic<Int>
    let monitorCount: UnsafeAtomic<Int>
    let protoMaxBulkLength: UnsafeAtomic<Int>
    let protoMaxMultibulkLength: UnsafeAtomic<Int>
    /// This client's channels and patterns (nil until it first subscribes); PubSub.swift.
    var subscriber: PubSubSubscriber? = nil
    /// Messages this read published, for the other loops (sent with the remote batches).
    var openFanout: PublishFanout? = nil
    /// Reply bytes handed to NIO and not yet written, counted for subscribers only (the
    /// pub/sub output limit, PubSubRegistry.outputHardLimit).
    var pubsubBytesInFlight = 0
    /// The channel is over its high write mark (16 KB queued): flushes are counted into the
    /// session's oll/omem until it drains (channelWritabilityChanged).
    var outputBacklogged = false
    /// Set by dispatch when CLIENT PAUSE holds the command: `process` stops before it.
    var postponedForPause = false
    /// Waiting in `worker.pausedConnections` for the pause to end.
    var waitingForPause = false
    /// True while EXEC runs its queue: a PUBLISH there cannot wait for the other loops' counts.
    var inExecBody = false

    init(server: ServerState, worker: ShardWorker) {
        self.server = server
        self.worker = worker
        self.parser = RESPParser(limits: server.settings.limits)
        self.openBatches = [RemoteBatch?](repeating: nil, count: server.shardCount)
        self.spareBatches = openBatches
        var local = [Shard?](repeating: nil, count: server.shardCount)
        local[worker.index] = worker.shard
        self.localShardHeld = local
        self.noShardHeld = [Shard?](repeating: nil, count: server.shardCount)
        self.aclEpoch = server.acl.epoch
        self.loadingActive = server.loading.active
        self.memoryFull = server.memoryLimit.full
        self.refusingWrites = server.snapshots.refusingWrites
        self.pauseMode = server.clientPause.mode
        self.monitorCount = server.clients.monitorCount
        self.protoMaxBulkLength = server.settings.protoMaxBulkLength
        self.protoMaxMultibulkLength = server.settings.protoMaxMultibulkLength
    }

    // MARK: lifecycle

    func channelActive(context: ChannelHandlerContext) {
        connected(NIOTransport(context: context))
    }

    /// The connection is open (on this worker's loop): register the client, or refuse it.
    func connected(_ transport: ConnectionTransport) {
        self.transport = transport
        // Redis' createClient: the default user, authenticated when it needs no password.
        let needsAuth = server.acl.defaultNeedsAuth.load(ordering: .relaxed)
        let epoch = server.acl.epoch.load(ordering: .acquiring)
        session = ClientSession(id: server.clients.makeId(), transport: transport, authenticated: !needsAuth,
                                acl: server.acl.defaultPermissions, aclEpoch: epoch)
        session.connection = self
        parser.authenticated = !needsAuth
        if server.clients.connectedCount.load(ordering: .relaxed) >= server.settings.maxClients.load(ordering: .relaxed) {
            server.clients.rejectedConnections.wrappingIncrement(ordering: .relaxed)
            ServerLog.maxClientsReached(limit: server.settings.maxClients.load(ordering: .relaxed), peer: session.address)
            var b = transport.makeBuffer(capacity: 64)
            b.writeString("-ERR max number of clients reached\r\n")
            transport.writeThenClose(b, graceful: false)
            session = nil
            return
        }
        if server.settings.protectedMode.load(ordering: .relaxed) && !needsAuth,
           let peer = transport.remoteAddress, !Self.isLoopback(peer) {
            server.clients.rejectedConnections.wrappingIncrement(ordering: .relaxed)
            var b = transport.makeBuffer(capacity: Self.protectedModeDenied.utf8CodeUnitCount)
            b.writeStaticString(Self.protectedModeDenied)
            transport.writeThenClose(b, graceful: false)
            session = nil
            return
        }
        server.clients.add(session)
    }

    /// Redis 7.0.15's reply (networking.c, clientAcceptHandler), byte for byte, typo included.
    static let protectedModeDenied: StaticString = "-DENIED Redis is running in protected mode because protected mode is enabled and no password is set for the default user. In this mode connections are only accepted from the loopback interface. If you want to connect from external computers to Redis you may adopt one of the following solutions: 1) Just disable protected mode sending the command 'CONFIG SET protected-mode no' from the loopback interface by connecting to Redis from the same host the server is running, however MAKE SURE Redis is not publicly accessible from internet if you do so. Use CONFIG REWRITE to make this change permanent. 2) Alternatively you can just disable the protected mode by editing the Redis configuration file, and setting the protected mode option to 'no', and then restarting the server. 3) If you started the server manually just for testing, restart it with the '--protected-mode no' option. 4) Setup a an authentication password for the default user. NOTE: You only need to do one of the above things in order for the server to start accepting connections from the outside.\r\n"

    /// 127.0.0.0/8, ::1 and IPv4-mapped loopback (Redis' connIsLocal); Unix sockets count as local.
    static func isLoopback(_ address: SocketAddress) -> Bool {
        switch address {
        case .v4(let a):
            return UInt32(bigEndian: a.address.sin_addr.s_addr) >> 24 == 127
        case .v6(let a):
            let bytes = withUnsafeBytes(of: a.address.sin6_addr) { Array($0) }
            if bytes[0..<15].allSatisfy({ $0 == 0 }) && bytes[15] == 1 { return true }
            if bytes[0..<10].allSatisfy({ $0 == 0 }) && bytes[10] == 0xff && bytes[11] == 0xff { return bytes[12] == 127 }
            return false
        case .unixDomainSocket:
            return true
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        disconnected()
    }

    /// The connection closed (on this worker's loop).
    func disconnected() {
        if let s = session {
            server.clients.remove(s)
            releaseWatches()
            channelClosed = true
            cancelBlocked()
            if subscriber != nil { unsubscribeAll() }
            s.disconnect()
        }
        pending = nil
        parsedAhead = nil
        outBuffer = nil
        if waitingForPause {
            waitingForPause = false
            worker.pausedConnections.removeAll { $0 === self }
        }
    }

    /// The context holds this handler strongly; dropping our reference to it when the channel
    /// goes away breaks that cycle so the handler and its buffers are freed.
    func handlerRemoved(context: ChannelHandlerContext) {
        (transport as? NIOTransport)?.detach()
        transport = nil
    }

    /// The client fell behind on its replies (over 16 KB queued), or caught up (under 8 KB).
    func channelWritabilityChanged(context: ChannelHandlerContext) {
        writabilityChanged()
        context.fireChannelWritabilityChanged()
    }

    func writabilityChanged() {
        guard let transport else { return }
        outputBacklogged = !transport.isWritable
        if let session {
            if outputBacklogged {
                // It flips inside a write (NIO adds before it tries the socket); the flush that
                // made it counts that write.
                noteOutputQueued(writes: 0)
            } else {
                session.outputQueuedBytes.store(0, ordering: .relaxed)
                session.outputQueuedWrites.store(0, ordering: .relaxed)
            }
        }
    }

    /// While backlogged: the connection's queued bytes and one more queued write.
    func noteOutputQueued(writes: Int) {
        guard let session, let queued = transport?.bufferedBytes else { return }
        session.outputQueuedBytes.store(queued, ordering: .relaxed)
        session.outputQueuedWrites.wrappingIncrement(by: writes, ordering: .relaxed)
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        context.close(promise: nil)
    }

    // MARK: reading

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        received(unwrapInboundIn(data))
    }

    /// Bytes read from the connection (on this worker's loop).
    func received(_ bytes: ByteBuffer) {
        guard session != nil, !closeWhenFlushed else { return }
        var buffer = bytes
        worker.netInputBytes &+= buffer.readableBytes
        if var p = pending {
            pending = nil
            p.writeBuffer(&buffer)
            buffer = p
        }
        session.lastInteraction.store(Int(Clock.nowMilliseconds()), ordering: .relaxed)
        if borrowsInFlight > 0 {
            // A multi-shard command is still acquiring its shards: later commands wait behind
            // it (see `process`), so only keep the bytes.
            keepPending(buffer, consumed: 0)
            return
        }
        process(buffer)
    }

    /// Bytes read into memory the caller reuses once this returns (io_uring's provided buffers;
    /// on this worker's loop), `capacity` bytes in all (CLIENT LIST's qbuf-free). With nothing
    /// kept from an earlier read they are parsed where they lie and only an unfinished command
    /// is copied out; otherwise they join the kept bytes as in `received(_:)`. Parsing in place
    /// saves copying every request into a ByteBuffer: ~250 user instructions per unpipelined
    /// GET under callgrind (bench/results/engine.md, "Fewer instructions per request").
    func received(unsafe bytes: UnsafeMutableRawBufferPointer, capacity: Int) {
        guard session != nil, !closeWhenFlushed else { return }
        if pending != nil || borrowsInFlight > 0 {
            var b = transport?.makeBuffer(capacity: bytes.count) ?? ByteBufferAllocator().buffer(capacity: bytes.count)
            b.writeBytes(UnsafeRawBufferPointer(bytes))
            received(b)
            return
        }
        worker.netInputBytes &+= bytes.count
        session.lastInteraction.store(Int(Clock.nowMilliseconds()), ordering: .relaxed)
        process(bytes, free: capacity - bytes.count, owner: nil)
    }

    /// Where `process` stopped at a borrow barrier: the commands after the barrier are already
    /// parsed (their spans stay in `spans` / `commandStarts`, relative to the kept buffer's
    /// start), so they are run from there instead of being parsed again. Parsing twice would be
    /// wrong: inline arguments are unescaped in place, and unescaped bytes read differently.
    private struct ParsedAhead {
        var nextCommand: Int
        var parseEnd: Int
        var moreToParse: Bool
        var protocolError: RESPProtocolError?
        /// Bytes of the kept buffer that belong to commands already run.
        var runBytes: Int
    }
    private var parsedAhead: ParsedAhead? = nil

    /// Parses and runs every complete command in `buffer`, keeps the rest for the next read,
    /// and flushes once. Stops early after a command that borrows shards: until it holds them,
    /// a later command could otherwise overtake it on a shard it has not reached yet; the
    /// commands already parsed behind it are resumed by `borrowFinished`.
    func process(_ buffer: ByteBuffer) {
        buffer.withUnsafeReadableBytes { readable in
            // Inline requests are unescaped in place; no one else reads this buffer.
            process(UnsafeMutableRawBufferPointer(mutating: readable), free: buffer.capacity - buffer.writerIndex, owner: buffer)
        }
    }

    /// `process` over `raw`: the readable bytes of `owner`, or (owner nil) memory that is reused
    /// once this returns, from which what must be kept is copied. `free`: CLIENT LIST's qbuf-free.
    private func process(_ raw: UnsafeMutableRawBufferPointer, free: Int, owner: ByteBuffer?) {
        // CONFIG SET may have changed proto-max-bulk-len; two relaxed loads per read.
        parser.limits.maxBulkLength = protoMaxBulkLength.load(ordering: .relaxed)
        parser.limits.maxMultibulkLength = protoMaxMultibulkLength.load(ordering: .relaxed)

        // CLIENT LIST's qbuf while these commands run: the whole read, as Redis' query buffer.
        session.queryBufferBytes.store(raw.count, ordering: .relaxed)
        session.queryBufferFree.store(free, ordering: .relaxed)
        var protocolError: RESPProtocolError? = nil
        var consumed = 0
        var stopped: ParsedAhead? = nil
        let resume = parsedAhead
        parsedAhead = nil
        var lastEnd = resume?.runBytes ?? 0
        do {
            var start = resume?.parseEnd ?? 0
            var next = resume?.nextCommand ?? 0
            var more = resume?.moreToParse ?? false
            protocolError = resume?.protocolError
            var needParse = resume == nil
            // Parse and run at most `commandsPerChunk` commands at a time, so the argument
            // spans of a huge pipelined read stay small and reused instead of growing to
            // megabytes per connection (with many loading clients, those transient arrays
            // fragmented the heap between the stored entries).
            chunks: while true {
                if needParse {
                    // The spans of commands already run are never read again, so they are dropped
                    // only past a small bound, not on every read: removeAll(keepingCapacity:) is
                    // a generic replaceSubrange, ~250 user instructions per read for the two
                    // arrays (an unpipelined GET's read, under callgrind; engine.md stop 26).
                    if spans.count >= Self.spansKept { spans.removeAll(keepingCapacity: true) }
                    if commandStarts.count >= Self.commandStartsKept { commandStarts.removeAll(keepingCapacity: true) }
                    next = commandStarts.count
                    let chunkStart = next
                    more = false
                    parse: while start < raw.count {
                        if commandStarts.count - chunkStart >= Self.commandsPerChunk { more = true; break parse }
                        switch parser.parse(raw, start: start, into: &spans) {
                        case .command(let n, let end):
                            if n > 0 { commandStarts.append((spans.count - n, n, end)) }
                            start = end
                        case .incomplete:
                            break parse
                        case .error(let e):
                            protocolError = e
                            break parse
                        }
                    }
                }
                needParse = true
                consumed = start
                if next < commandStarts.count, let base = raw.baseAddress {
                    let now = Clock.nowMilliseconds()
                    spans.withUnsafeBufferPointer { sp in
                        while next < commandStarts.count {
                            let (first, count, end) = commandStarts[next]
                            next += 1
                            let args = Arguments(base: base, spans: sp.baseAddress! + first, count: count)
                            if session.replyMode == .on { dispatch(args, now: now) } else { dispatchSilenced(args, now: now) }
                            if postponedForPause {
                                // Stop before this command; it runs again when the pause ends.
                                postponedForPause = false
                                stopped = ParsedAhead(nextCommand: next - 1, parseEnd: start, moreToParse: more,
                                                      protocolError: protocolError, runBytes: lastEnd)
                                waitForPauseEnd()
                                break
                            }
                            lastEnd = end
                            if closeWhenFlushed { break }
                            if borrowsInFlight > 0 && (end < consumed || more) {
                                stopped = ParsedAhead(nextCommand: next, parseEnd: start, moreToParse: more,
                                                      protocolError: protocolError, runBytes: end)
                                break
                            }
                        }
                    }
                }
                if !more || stopped != nil || closeWhenFlushed { break chunks }
            }
        }
        sendOpenBatches()

        if let stopped {
            // Everything is kept from the buffer's start, so the saved spans stay valid.
            parsedAhead = stopped
            keepPending(raw, owner: owner, consumed: 0)
            session.queryBufferBytes.store((pending?.readableBytes ?? 0) - stopped.runBytes, ordering: .relaxed)
            flush()
            return
        } else if let e = protocolError {
            ServerLog.protocolError(e.message, peer: session.address)
            emit { $0.error("ERR \(e.message)") }
            worker.errorStats.count("ERR")
            closeWhenFlushed = true
            parser.reset()
        } else if consumed < raw.count && !closeWhenFlushed {
            keepPending(raw, owner: owner, consumed: consumed)
        }
        session.queryBufferBytes.store(pending?.readableBytes ?? 0, ordering: .relaxed)
        session.queryBufferFree.store(pending.map { $0.capacity - $0.writerIndex } ?? 0, ordering: .relaxed)
        flush()
    }

    private func keepPending(_ buffer: ByteBuffer, consumed: Int) {
        buffer.withUnsafeReadableBytes { keepPending(UnsafeMutableRawBufferPointer(mutating: $0), owner: buffer, consumed: consumed) }
    }

    /// Keeps `raw[consumed...]` for the next read: a view of `owner` when there is one, else a copy.
    private func keepPending(_ raw: UnsafeMutableRawBufferPointer, owner: ByteBuffer?, consumed: Int) {
        let rest = raw.count - consumed
        guard rest > 0 else { return }
        if rest > server.settings.clientQueryBufferLimit.load(ordering: .relaxed) {
            // Redis closes such a client without a reply.
            ServerLog.queryBufferExceeded(bytes: rest, limit: server.settings.clientQueryBufferLimit.load(ordering: .relaxed),
                                          peer: session?.address ?? "?")
            transport?.close()
            return
        }
        if var buffer = owner {
            buffer.moveReaderIndex(forwardBy: consumed)
            pending = buffer
        } else {
            var buffer = transport?.makeBuffer(capacity: rest) ?? ByteBufferAllocator().buffer(capacity: rest)
            buffer.writeBytes(UnsafeRawBufferPointer(rebasing: raw[consumed...]))
            pending = buffer
        }
    }

    /// CLIENT PAUSE holds this client's next command: it counts as a borrow (later reads are
    /// kept, not run) and as a blocked client (INFO blocked_clients, as Redis' BLOCKED_POSTPONE)
    /// until CLIENT UNPAUSE or the pause's end.
    func waitForPauseEnd() {
        borrowsInFlight += 1
        waitingForPause = true
        session.blocked = true
        worker.pausedConnections.append(self)
        let end = server.clientPause.endMilliseconds.load(ordering: .relaxed)
        let wait = max(end - Clock.nowMilliseconds(), 0) + 1
        worker.loop.scheduleTask(in: .milliseconds(wait)) { [weak self] in self?.resumeAfterPause() }
    }

    /// The pause ended (or was lifted): run the held command again, which may wait anew.
    func resumeAfterPause() {
        guard waitingForPause else { return }
        waitingForPause = false
        worker.pausedConnections.removeAll { $0 === self }
        session?.blocked = false
        guard session != nil, !channelClosed else { return }
        borrowFinished()
    }

    /// Called on this loop when a borrow finished: runs the commands that waited behind it.
    func borrowFinished() {
        borrowsInFlight -= 1
        guard borrowsInFlight == 0, session != nil, !closeWhenFlushed, let p = pending else { return }
        pending = nil
        process(p)
    }

    // MARK: writing

    /// Writes a reply produced on this thread, keeping request order.
    @inline(__always) func emit(_ body: (ReplyWriter) -> Void) {
        if piecesHead == pieces.count {
            out.version = session.version
            body(out)
        } else {
            let start = aside.count
            aside.version = session.version
            body(aside)
            pieces.append(.ready(start, aside.count))
        }
    }

    /// A batch whose last reply was just written: nothing reads it again (its pieces are behind
    /// `piecesHead`; the shard's thread touches it no more once it has sent the replies back),
    /// so the next read to that shard can reuse it.
    @inline(__always)
    private func keepSpare(_ batch: RemoteBatch) {
        if spareBatches[batch.shardIndex] == nil && batch.isReusable { spareBatches[batch.shardIndex] = batch }
    }

    /// At most this many bytes of replies wait for a hop's (`flush`).
    static let heldBeforeHop = 16 * 1024

    /// Moves every finished piece at the head into `out`, then writes `out` with one flush.
    func flush() {
        // A write is acknowledged only once its AOF record is written (and fsynced, `always`):
        // the replies wait for this loop turn's write (ShardWorker.afterAOFWrite).
        if worker.aofWriteOwed && worker.afterAOFWrite({ [self] in flush() }) { return }
        drain: while piecesHead < pieces.count {
            switch pieces[piecesHead] {
            case .ready(let start, let end):
                out.append(UnsafeRawBufferPointer(rebasing: aside.bytes[start..<end]))
            case .remote(let batch, let i):
                if !batch.isDone { break drain }
                out.append(batch.reply(i))
                if i == batch.lastIndex { keepSpare(batch) }
            case .borrowed(let r):
                guard let bytes = r.bytes else { break drain }
                out.append(bytes)
            case .published(let fanout, let i):
                if !fanout.isDone { break drain }
                out.integer(fanout.counts[i])
            case .silenced(let piece):
                switch piece {
                case .remote(let batch, let i):
                    if !batch.isDone { break drain }
                    if i == batch.lastIndex { keepSpare(batch) }
                case .borrowed(let r): if r.bytes == nil { break drain }
                case .published(let fanout, _): if !fanout.isDone { break drain }
                case .ready, .silenced: break
                }
            }
            piecesHead += 1
        }
        if piecesHead == pieces.count && piecesHead > 0 {
            pieces.removeAll(keepingCapacity: pieces.capacity <= 4096)
            piecesHead = 0
            aside.clear()
        }
        guard let transport else { return }
        // The replies before one that waits on a hop go out with it, in one write when the hop
        // is back, not in one write now and one then: a 16-deep pipeline split across two
        // shards otherwise cost 1.5 sends per read instead of 1 (and as many client wake-ups
        // and ACKs: bench/results/engine.md "Stop 26"). A hop always comes back, and soon;
        // other pending pieces (a blocked command, a borrow) may take long, so they do not hold
        // what is before them, nor does a large prefix.
        if piecesHead < pieces.count, out.count < Self.heldBeforeHop, case .remote = pieces[piecesHead] { return }
        if out.count > 0 {
            // One buffer reused for every flush: once NIO has written it, this handler holds the
            // only reference, so clear() keeps its storage (NIO still holding it, after a
            // partial write, makes the write below copy instead).
            // take(): moved out, not copied (a copy then `= nil` was a retain and a release).
            var b = outBuffer.take() ?? transport.makeBuffer(capacity: max(out.count, 4096))
            b.clear()
            b.writeBytes(out.bytes)
            worker.netOutputBytes &+= out.count
            out.clear()
            if closeWhenFlushed && piecesHead == pieces.count {
                transport.writeThenClose(b, graceful: true)
                return
            }
            if subscriber != nil {
                // Counted until written, so a subscriber that stops reading is bounded.
                let n = b.readableBytes
                pubsubBytesInFlight += n
                transport.write(b) { [self] in pubsubBytesInFlight -= n }
            } else {
                transport.write(b, onWritten: nil)
            }
            if outputBacklogged { noteOutputQueued(writes: 1) }
            // Large one-off replies are not kept.
            if b.capacity <= 1 << 20 { outBuffer = b }
        } else if closeWhenFlushed && piecesHead == pieces.count {
            transport.close()
        }
    }
}
