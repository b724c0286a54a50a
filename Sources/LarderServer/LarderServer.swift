import Atomics
import Foundation
import LarderLog
import LarderStore
import NIOCore
import NIOPosix

/// The server: one event loop per shard, each on its own (pinned) thread. Connections are
/// spread over the loops by the acceptor; each one stays on its loop for life.
public final class LarderServer: @unchecked Sendable {
    public let state: ServerState
    /// The shard threads: NIO's loops, or the epoll engine's (`settings.ioEngine`).
    private let group: EventLoopGroup
    /// Under the epoll engine, the NIO thread of the channels that stay on NIO (the TLS port).
    private var nioGroup: MultiThreadedEventLoopGroup?
    private var serverChannels: [Channel] = []
    #if os(Linux)
    private var epollListener: EpollListener?
    private var uringListener: UringListener?
    #endif
    private var loopWorkers: [ObjectIdentifier: ShardWorker] = [:]
    private let stopped = DispatchSemaphore(value: 0)
    private var isStopping = false
    private var signalShutdownPending = false
    private(set) var keepLoading = false
    private let stopLock = NSLock()
    /// The NIO loops for a listener of another module. Under the nio engine these are the shard
    /// loops: a request then reads a shard on that shard's own thread without a hop. Under the
    /// epoll and uring engines, whose loops host no NIO channels, it is the NIO thread the TLS
    /// port uses, and reads hop to their shard as TLS connections do; `listenOnEngine` serves a
    /// port on the engine's loops instead (the HTTP feature server uses that).
    public var eventLoopGroup: MultiThreadedEventLoopGroup {
        if let nio = group as? MultiThreadedEventLoopGroup { return nio }
        return nioChannelGroup()
    }

    /// Under the epoll engine, the one NIO thread of the channels that stay on NIO, made when
    /// the first of them needs it.
    private func nioChannelGroup() -> MultiThreadedEventLoopGroup {
        stopLock.withLock {
            if let g = nioGroup { return g }
            let g = MultiThreadedEventLoopGroup(numberOfThreads: 1)
            nioGroup = g
            return g
        }
    }
    /// The process's exit status once stopped: 1 when the last snapshot at shutdown failed.
    public private(set) var exitStatus: Int32 = 0

    /// `extraCommands` join the standard table (a module's command family, such as
    /// LarderServing's FEATURES.*); their names must not clash with standard ones.
    public init(settings: ServerSettings, extraCommands: [CommandSpec] = []) {
        self.state = ServerState(settings: settings, commands: extraCommands.isEmpty
            ? .standard : CommandTable(CommandTable.standard.specs + extraCommands))
        self.group = Self.makeGroup(settings)
        var workers: [ShardWorker] = []
        for (i, loop) in group.makeIterator().enumerated() {
            let w = ShardWorker(index: i, loop: loop, commandCount: state.commands.count)
            workers.append(w)
            loopWorkers[ObjectIdentifier(loop)] = w
        }
        state.workers = workers
        state.memoryLimit.configure(shards: workers.count)
        // Expiries are logged to the append-only file as DEL (Keyspace.onKeyExpired).
        let state = self.state
        for w in workers {
            for (db, space) in w.shard.databases.enumerated() {
                space.onKeyExpired = { [unowned state] key in
                    state.logExpiry(db: db, key: key)
                    state.notifyKeyspace(.expired, "expired", key: key, db: db)
                }
                space.onKeyAdded = { [unowned state] key in state.notifyKeyspace(.newKey, "new", key: key, db: db) }
                space.onHashFieldsExpired = { [unowned state] key, fields in
                    state.logFieldExpiry(db: db, key: key, fields: fields)
                    state.notifyKeyspace(.hash, "hexpired", key: key, db: db)  // Redis 7.4's name
                }
            }
        }
    }

    private static func makeGroup(_ settings: ServerSettings) -> EventLoopGroup {
        #if os(Linux)
        if settings.ioEngine == .uring {
            // io_uring where the kernel runs what the engine needs, epoll otherwise (logged at start).
            if let why = UringEventLoopGroup.unavailableReason() {
                settings.ioEngineFallback = why
            } else {
                do {
                    return try UringEventLoopGroup(numberOfThreads: settings.threads)
                } catch {
                    settings.ioEngineFallback = "a shard thread's ring could not be set up: \(error)"
                }
            }
            settings.ioEngine = .epoll
        }
        if settings.ioEngine == .epoll { return EpollEventLoopGroup(numberOfThreads: settings.threads) }
        #else
        settings.ioEngine = .nio
        #endif
        return MultiThreadedEventLoopGroup(numberOfThreads: settings.threads)
    }

    /// Binds and starts serving; returns the bound port (useful with port 0). The snapshot is
    /// loaded after the port opens (-LOADING meanwhile). `keepLoading`: stay in the loading
    /// state after it, until `finishLoading()` (the embedded materialization of `serve --repo
    /// --materialize` loads next, and clients must not read a half-loaded store either).
    @discardableResult
    public func start(keepLoading: Bool = false) throws -> Int {
        let settings = state.settings
        // Users first, as Redis: an invalid ACL file or `user` line refuses to start.
        try state.loadUsersAtStartup()
        // A --cluster-config that cannot be read or is refused stops the start, naming why.
        try state.cluster.start(workers: state.workers)
        self.keepLoading = keepLoading
        // Loading from before the port opens: no client may see the store before the load.
        if keepLoading || FileManager.default.fileExists(atPath: settings.snapshotPath)
            || (settings.aof.enabled.load(ordering: .relaxed) && FileManager.default.fileExists(atPath: state.aof.manifestPath)) {
            // The snapshot's size from the start, so INFO during the gap before the reader
            // begins already shows loading_total_bytes (a client polling INFO saw it missing).
            let snapshotBytes = (try? FileManager.default.attributesOfItem(atPath: settings.snapshotPath))?[.size] as? Int
            state.loading.begin(totalBytes: keepLoading ? 0 : snapshotBytes ?? 0)
        }
        let cores = System.coreCount
        for w in state.workers {
            if settings.pinThreads { w.loop.execute { ThreadAffinity.pin(core: w.index % cores) } }
            let hz = max(1, min(500, settings.hz.load(ordering: .relaxed)))
            w.loop.scheduleRepeatedTask(initialDelay: .milliseconds(Int64(1000 / hz)), delay: .milliseconds(Int64(1000 / hz))) { _ in
                w.expiryCycle()
            }
        }
        state.requestShutdown = { [weak self] finalSnapshot in self?.stop(finalSnapshot: finalSnapshot) }
        let state = self.state
        // Redis' serverCron checks its save points every tick; once a second is enough here.
        let first = state.workers[0]
        first.loop.scheduleRepeatedTask(initialDelay: .milliseconds(MemoryLimit.checkInterval), delay: .milliseconds(MemoryLimit.checkInterval)) { _ in
            state.memoryLimit.check(limit: state.settings.maxMemory.load(ordering: .relaxed), policy: state.settings.evictionPolicy)
        }
        // Freed pages inside glibc's heaps back to the kernel when they add up (every 10 s;
        // ProcessMemory.trimFreePagesIfGrown says why and what it measured).
        first.loop.scheduleRepeatedTask(initialDelay: .seconds(10), delay: .seconds(10)) { _ in
            ProcessMemory.trimFreePagesIfGrown()
        }
        first.loop.scheduleRepeatedTask(initialDelay: .seconds(1), delay: .seconds(1)) { _ in
            state.checkSavePoints(home: first)
            state.reconcileAppendOnly(home: first)
            state.startScheduledRewriteIfIdle()
        }
        // Redis' `timeout`: one sweep a second over all clients (CONFIG SET timeout applies).
        group.next().scheduleRepeatedTask(initialDelay: .seconds(1), delay: .seconds(1)) { _ in
            IdleClients.closeIdle(state)
        }
        // A bad certificate, key or CA refuses to start, naming the file (before any port opens).
        if settings.tlsPort != nil { try state.configureTLS(settings.tls, reason: "start") }
        var listeners: [Channel] = []
        do {
            // The TLS port is bound first: a client (or a readiness probe) that finds the plain
            // port open can count on the TLS port being open too (a test saw it refused, under load).
            if let tlsPort = settings.tlsPort {
                let ch = try bootstrap(tls: true).bind(host: settings.bind, port: tlsPort).wait()
                listeners.append(ch)
                state.boundTLSPort = ch.localAddress?.port ?? tlsPort
            }
            if settings.listenPlain {
                #if os(Linux)
                if let epoll = group as? EpollEventLoopGroup {
                    let listener = try EpollListener(host: settings.bind, port: settings.port, loops: epoll.loops) { [state] fd, loop in
                        Self.acceptEpoll(fd: fd, worker: state.workers[loop.index], state: state)
                    }
                    try listener.start().wait()
                    epollListener = listener
                    state.boundPort = listener.port
                }
                if let uring = group as? UringEventLoopGroup {
                    let listener = try UringListener(host: settings.bind, port: settings.port, loops: uring.loops) { [state] fd, loop in
                        Self.acceptUring(fd: fd, worker: state.workers[loop.index], state: state)
                    }
                    try listener.start().wait()
                    uringListener = listener
                    state.boundPort = listener.port
                }
                #endif
                if state.settings.ioEngine == .nio {
                    let ch = try bootstrap(tls: false).bind(host: settings.bind, port: settings.port).wait()
                    listeners.append(ch)
                    state.boundPort = ch.localAddress?.port ?? settings.port
                }
            }
        } catch {
            for ch in listeners { try? ch.close().wait() }
            closeEpollListener()
            throw error
        }
        serverChannels = listeners
        // The port is open while the snapshot loads: clients get -LOADING (INFO shows the
        // progress), as from Redis, rather than a connection that hangs in the backlog.
        do {
            if settings.aof.enabled.load(ordering: .relaxed) { try loadAppendOnly() } else { try loadSnapshot() }
        } catch {
            for ch in listeners { try? ch.close().wait() }
            closeEpollListener()
            try? group.syncShutdownGracefully()
            try? nioGroup?.syncShutdownGracefully()
            stopLock.withLock { isStopping = true }
            stopped.signal()
            throw error
        }
        LarderLog.server.notice("I/O engine: \(settings.ioEngine.rawValue) (\(Self.engineReason(settings)))",
                                metadata: ["event": "io_engine", "engine": .string(settings.ioEngine.rawValue)])
        LarderLog.server.notice("ready to accept connections",
                                metadata: ["event": "listening", "bind": .string(settings.bind), "port": .stringConvertible(state.boundPort),
                                           "tls_port": .stringConvertible(state.boundTLSPort)])
        return state.boundPort
    }

    static func engineReason(_ settings: ServerSettings) -> String {
        let asked: String
        switch settings.ioEngineOrigin {
        case .platformDefault: asked = "the default: "
        case .flag: asked = "--io "
        case .environment: asked = "LARDER_IO="
        }
        let tls = settings.tlsPort != nil ? "; the TLS port stays on one NIO thread and hops to the shards" : ""
        switch settings.ioEngine {
        case .nio: return "SwiftNIO event loops and channels: Larder's own engines (epoll, io_uring) are Linux-only"
        case .epoll:
            let why = settings.ioEngineFallback.map { "\(asked)uring, but io_uring is unavailable: \($0); epoll instead" }
                ?? "\(asked)epoll"
            return why + ": Larder's own epoll loop per shard thread for the plain port" + tls
        case .uring: return asked + "uring"
                + ": Larder's own io_uring loop per shard thread for the plain port (multishot accept and recv"
                + " into provided buffers, a turn's sends and wait in one io_uring_enter)" + tls
        }
    }

    #if os(Linux)
    /// A connection accepted by the epoll engine, on its own shard loop.
    private static func acceptEpoll(fd: Int32, worker: ShardWorker, state: ServerState) {
        let keepalive = state.settings.tcpKeepalive.load(ordering: .relaxed)
        if keepalive > 0 { TCPKeepalive.configure(fd: fd, idleSeconds: keepalive) }
        guard let loop = worker.loop as? EpollEventLoop else { return }
        EpollConnection(fd: fd, loop: loop, handler: ConnectionHandler(server: state, worker: worker)).start()
    }

    /// A connection accepted by the io_uring engine, on its own shard loop.
    private static func acceptUring(fd: Int32, worker: ShardWorker, state: ServerState) {
        let keepalive = state.settings.tcpKeepalive.load(ordering: .relaxed)
        if keepalive > 0 { TCPKeepalive.configure(fd: fd, idleSeconds: keepalive) }
        guard let loop = worker.loop as? UringEventLoop else { return }
        UringConnection(fd: fd, loop: loop, handler: ConnectionHandler(server: state, worker: worker)).start()
    }
    #endif

    private func closeEpollListener() {
        #if os(Linux)
        if let l = epollListener { _ = try? l.close().wait(); epollListener = nil }
        if let l = uringListener { _ = try? l.close().wait(); uringListener = nil }
        #endif
    }

    /// Serves another module's byte protocol (the HTTP feature server) on the I/O engine's shard
    /// loops, on its own port: accepted on the first loop and handed to the loops in turn, as
    /// the RESP port's connections are; `makeSession` runs on the connection's loop and gives
    /// the session its bytes go to. Nil under the nio engine, whose loops host NIO channels:
    /// the caller then serves on `eventLoopGroup`. Logs which loops serve the port.
    public func listenOnEngine(name: String, host: String, port: Int,
                               makeSession: @escaping (EventLoop) -> EngineSession) throws -> EngineListening? {
        #if os(Linux)
        let engine = state.settings.ioEngine.rawValue
        let keepalive = state.settings.tcpKeepalive
        func configure(_ fd: Int32) {
            let seconds = keepalive.load(ordering: .relaxed)
            if seconds > 0 { TCPKeepalive.configure(fd: fd, idleSeconds: seconds) }
        }
        var listening: EngineListening?
        if let epoll = group as? EpollEventLoopGroup {
            let listener = try EpollListener(host: host, port: port, loops: epoll.loops) { fd, loop in
                configure(fd)
                EpollConnection(fd: fd, loop: loop, handler: nil, session: EngineSessionBridge(session: makeSession(loop), eventLoop: loop)).start()
            }
            try listener.start().wait()
            listening = EngineListening(port: listener.port) { _ = try? listener.close().wait() }
        } else if let uring = group as? UringEventLoopGroup {
            let listener = try UringListener(host: host, port: port, loops: uring.loops) { fd, loop in
                configure(fd)
                UringConnection(fd: fd, loop: loop, handler: nil, session: EngineSessionBridge(session: makeSession(loop), eventLoop: loop)).start()
            }
            try listener.start().wait()
            listening = EngineListening(port: listener.port) { _ = try? listener.close().wait() }
        }
        if let listening {
            LarderLog.server.notice("\(name) port \(listening.port) on the \(engine) engine's \(state.workers.count) shard loop(s), as the RESP port",
                                    metadata: ["event": "engine_port", "name": .string(name), "engine": .string(engine),
                                               "port": .stringConvertible(listening.port)])
        }
        return listening
        #else
        return nil
        #endif
    }

    /// A listener's bootstrap; `tls`: each connection gets a `TLSHandler` (from the context
    /// current when it connects) in front of its `ConnectionHandler`. Under the epoll engine
    /// (only the TLS port uses a bootstrap then) the channels live on one NIO thread and hop
    /// to their shard's loop (HopToShardHandler).
    private func bootstrap(tls: Bool) -> ServerBootstrap {
        let state = self.state
        let loopWorkers = self.loopWorkers
        var hopGroup: MultiThreadedEventLoopGroup? = nil
        if state.settings.ioEngine != .nio { hopGroup = nioChannelGroup() }
        let workers = state.workers
        let nextWorker = ManagedAtomic<Int>(0)
        return ServerBootstrap(group: hopGroup ?? group)
            .serverChannelOption(ChannelOptions.backlog, value: 511)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(ChannelOptions.maxMessagesPerRead, value: 4)
            // Unwritable past Redis' 16 KB reply chunk (PROTO_REPLY_CHUNK_BYTES): the client is
            // then behind on its replies, and CLIENT LIST shows them as oll/omem, as Redis'
            // reply list. NIO's 64/32 KB default would hide backlogs Redis reports.
            .childChannelOption(ChannelOptions.writeBufferWaterMark, value: .init(low: 8 * 1024, high: 16 * 1024))
            .childChannelOption(ChannelOptions.recvAllocator, value: AdaptiveRecvByteBufferAllocator(minimum: 1024, initial: 16384, maximum: 1024 * 1024))
            .childChannelInitializer { channel in
                let hop = hopGroup != nil
                guard let worker = hop ? workers[nextWorker.loadThenWrappingIncrement(ordering: .relaxed) % workers.count]
                        : loopWorkers[ObjectIdentifier(channel.eventLoop)] else {
                    return channel.eventLoop.makeFailedFuture(ChannelError.badInterfaceAddressFamily)
                }
                // Half-open connections (a peer that vanished) are found by TCP keepalive, as in
                // Redis; read per connection so CONFIG SET tcp-keepalive applies to new clients.
                let keepalive = state.settings.tcpKeepalive.load(ordering: .relaxed)
                if keepalive > 0 {
                    _ = channel.setOption(ChannelOptions.socketOption(.so_keepalive), value: 1)
                    TCPKeepalive.configure(channel, idleSeconds: keepalive)
                }
                return channel.eventLoop.makeCompletedFuture {
                    if tls {
                        guard let context = state.tlsContexts.current else { throw ChannelError.inappropriateOperationForState }
                        let timeout = TimeAmount.milliseconds(Int64(state.settings.tlsHandshakeTimeout.load(ordering: .relaxed)))
                        try channel.pipeline.syncOperations.addHandler(TLSHandler(context: context, handshakeTimeout: timeout))
                    }
                    let connection = ConnectionHandler(server: state, worker: worker)
                    let handler: ChannelHandler = hop ? HopToShardHandler(connection: connection) : connection
                    try channel.pipeline.syncOperations.addHandler(handler)
                }
            }
    }

    /// Loads `dir/dbfilename` if it exists (Snapshot.load), with `loading` on meanwhile,
    /// logging what and how fast.
    /// `keepLoadingState`: the caller ends the loading state (the AOF start-up opens its files first).
    func loadSnapshot(keepLoadingState: Bool = false) throws {
        let path = state.settings.snapshotPath
        guard let size = (try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? Int else {
            if !keepLoading && !keepLoadingState { state.loading.end() }
            return
        }
        LarderLog.server.notice("loading the snapshot \(path) (\(size) bytes); clients get -LOADING until it is loaded",
                                metadata: ["event": "rdb_loading", "path": .string(path), "bytes": .stringConvertible(size)])
        state.loading.begin(totalBytes: size)
        // Loading ends only when the load succeeded: on a failure the server is refusing to
        // start, and until it exits its clients must keep getting -LOADING, not a half-loaded store.
        var loaded = false
        defer { if loaded && !keepLoading && !keepLoadingState { state.loading.end() } }
        guard let o = try Snapshot.load(path: path, into: state.workers, progress: state.loading, now: Clock.nowMilliseconds()) else {
            loaded = true
            return
        }
        loaded = true
        state.snapshots.loadedKeys.store(o.keys, ordering: .relaxed)
        state.snapshots.loadedExpiredKeys.store(o.expired, ordering: .relaxed)
        let seconds = max(o.seconds, 1e-6)
        let speed = String(format: "%.3f s, %.0f keys/s, %.1f MB/s", o.seconds, Double(o.keys) / seconds, Double(o.bytes) / seconds / 1e6)
        LarderLog.server.notice(
            "DB loaded from disk: \(o.keys) key(s) (\(o.expired) already expired, skipped) from \(path), RDB v\(o.version), \(speed)",
            metadata: ["event": "rdb_loaded", "path": .string(path), "keys": .stringConvertible(o.keys),
                       "bytes": .stringConvertible(o.bytes), "seconds": .stringConvertible(o.seconds)])
    }

    /// Called first when the server stops, before the RESP listener closes (on the stopping
    /// thread): `serve` closes its HTTP port here, so no HTTP request waits on a shard that is
    /// going away. Must return within a second or so: the stop logs how long it took.
    public var onStopping: (() -> Void)?

    /// Stops accepting, closes every client and the loops. Safe to call more than once.
    /// `finalSnapshot`: once nothing runs any more, write one more snapshot if any write ran
    /// since the last one (SHUTDOWN snapshots while serving; this catches what came in between,
    /// so nothing acknowledged is lost). If that fails, `exitStatus` is 1.
    ///
    /// Every stage is bounded and logged with what it waits for: the clients' closes are started
    /// together and given `ShutdownStages.clientCloseGrace`; a stage over its bound names what is
    /// still open instead of waiting silently (issue 15: one stop of the demo once took 32 s with
    /// nothing in the log to say why).
    public func stop(finalSnapshot: Bool = false) {
        let shouldStop: Bool = stopLock.withLock {
            if isStopping { return false }; isStopping = true; return true }
        guard shouldStop else { return }
        DispatchQueue.global().async { [self] in
            var stages = ShutdownStages()
            if let onStopping {
                onStopping()
                stages.done("http")
            }
            let clients = state.clients.all
            LarderLog.server.notice("shutting down: closing the listener and \(clients.count) client(s)",
                                    metadata: ["event": "shutdown", "clients": .stringConvertible(clients.count)])
            _ = ShutdownStages.waitAll(serverChannels.map { $0.close() }, upTo: ShutdownStages.clientCloseGrace)
            closeEpollListener()
            stages.done("listener")
            let closes = clients.compactMap { c in c.transport.map { (c.id, $0.closeFromAnyThread()) } }
            let open = ShutdownStages.waitAll(closes.map(\.1), upTo: ShutdownStages.clientCloseGrace)
            if !open.isEmpty {
                let ids = open.prefix(10).map { String(closes[$0].0) }.joined(separator: ",")
                LarderLog.server.warning("\(open.count) client connection(s) not closed after \(ShutdownStages.clientCloseGrace) s (ids \(ids)): their threads are busy; stopping the threads anyway",
                    metadata: ["event": "shutdown_waiting", "clients": .stringConvertible(open.count)])
            }
            stages.done("clients")
            let loopsDown = DispatchSemaphore(value: 0)
            nioGroup?.shutdownGracefully(queue: .global()) { _ in }
            group.shutdownGracefully(queue: .global()) { _ in loopsDown.signal() }
            if loopsDown.wait(timeout: .now() + ShutdownStages.loopGrace) == .timedOut {
                LarderLog.server.warning("the shard threads are still running after \(ShutdownStages.loopGrace) s: waiting for the task they run to end (a long command, a snapshot or a load holds them)",
                    metadata: ["event": "shutdown_waiting"])
                loopsDown.wait()
            }
            stages.done("threads")
            // The loops have stopped: a background snapshot still running can never finish; drop
            // its temporary file (Redis kills its child and removes the file on shutdown).
            state.cancelBackgroundSnapshot(holding: state.workers.map(\.shard))
            if finalSnapshot && state.changesSinceLastSave > 0 {
                LarderLog.server.notice("\(state.changesSinceLastSave) write(s) since the shutdown snapshot: saving again",
                                        metadata: ["event": "shutdown_snapshot"])
                // The loops have stopped: no thread owns the shards any more.
                if state.takeSnapshot(of: state.workers.map(\.shard), trigger: .shutdown, now: Clock.nowMilliseconds()) != nil {
                    exitStatus = 1
                }
                stages.done("snapshot")
            }
            state.aof.close(workers: state.workers)
            LarderLog.server.notice("stopped in \(stages.summary)", metadata: ["event": "stopped", "seconds": .string(stages.totalText)])
            stopped.signal()
        }
    }

    /// SIGTERM / SIGINT: as Redis, a snapshot first when save points are set, taken while
    /// serving (holding every shard for its duration); if it fails the server keeps running
    /// and says so, as Redis does. Then `stop(finalSnapshot:)`.
    public func shutdownOnSignal() {
        guard !state.settings.savePoints.isEmpty else { stop(); return }
        let pending: Bool = stopLock.withLock {
            if signalShutdownPending || isStopping { return true }; signalShutdownPending = true; return false }
        if pending {
            LarderLog.server.notice("already shutting down: waiting for the snapshot", metadata: ["event": "shutdown_waiting"])
            return
        }
        LarderLog.server.notice("saving the final snapshot before shutdown", metadata: ["event": "shutdown_snapshot"])
        state.snapshotHoldingEveryShard(home: state.workers[0], trigger: .shutdown) { [self] error in
            if error != nil {
                stopLock.withLock { signalShutdownPending = false }
                LarderLog.server.warning("Errors trying to shut down the server: the snapshot failed; still serving (fix the cause and signal again, or SHUTDOWN NOSAVE)",
                                         metadata: ["event": "shutdown_refused"])
                return
            }
            stop(finalSnapshot: true)
        }
    }

    /// Ends the loading state `start(keepLoading: true)` kept: commands run from now on.
    public func finishLoading() {
        state.loading.end()
        LarderLog.server.notice("dataset loaded: serving every command", metadata: ["event": "loading_done"])
    }

    /// Blocks until `stop()` has finished; may be called more than once.
    public func waitUntilStopped() { stopped.wait(); stopped.signal() }
}

