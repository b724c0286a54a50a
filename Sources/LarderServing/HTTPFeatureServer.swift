import Foundation
import LarderServer
import NIOCore
import NIOPosix

/// The HTTP feature server (Feast's `feast serve` API) on its own port, in the same process and
/// reading the same shards, on the RESP server's shard loops: the I/O engine's (`--io
/// epoll|uring`, LarderServer.listenOnEngine) or NIO's (`--io nio`). Either way a request whose
/// keys live on its connection's shard reads them there at once, with no hop to another thread
/// and back (measured reason: the hop, its tasks and the two loops' wake-ups were ~12,000 of a
/// 1 x 10 request's instructions under callgrind with --threads 1).
public final class HTTPFeatureServer: @unchecked Sendable {
    let api: HTTPFeatureAPI
    let server: LarderServer
    let maxBodyBytes: Int
    let maxHeaderBytes: Int
    private var channel: Channel?
    private var engineListener: EngineListening?
    /// Open connections, closed by stop() (the loops stay up: they are the RESP server's).
    private var connections: [ObjectIdentifier: Channel] = [:]
    private var engineSessions: [ObjectIdentifier: HTTPEngineSession] = [:]
    private let lock = NSLock()
    /// Where the port is served: "epoll", "uring" or "nio" (the engine's name).
    public private(set) var servedOn = ""

    public init(api: HTTPFeatureAPI, server: LarderServer, maxBodyBytes: Int = 8 * 1024 * 1024,
                maxHeaderBytes: Int = 32 * 1024) {
        self.api = api
        self.server = server
        self.maxHeaderBytes = maxHeaderBytes
        self.maxBodyBytes = maxBodyBytes
    }

    /// Binds and serves; returns the bound port (port 0 picks a free one).
    @discardableResult
    public func start(host: String, port: Int) throws -> Int {
        let api = self.api, limit = maxBodyBytes, headerLimit = maxHeaderBytes
        if let listening = try server.listenOnEngine(name: "HTTP", host: host, port: port, makeSession: { [self] loop in
            let session = HTTPEngineSession(api: api, maxBodyBytes: limit, maxHeaderBytes: headerLimit, loop: loop) { [self] s in
                _ = lock.withLock { engineSessions.removeValue(forKey: ObjectIdentifier(s)) }
            }
            lock.withLock { engineSessions[ObjectIdentifier(session)] = session }
            return session
        }) {
            engineListener = listening
            servedOn = server.state.settings.ioEngine.rawValue
            return listening.port
        }
        let bootstrap = ServerBootstrap(group: server.eventLoopGroup)
            .serverChannelOption(ChannelOptions.backlog, value: 256)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
            // A client that half-closes after its last request still gets the answers.
            .childChannelOption(ChannelOptions.allowRemoteHalfClosure, value: true)
            .childChannelInitializer { [self] channel in
                let id = ObjectIdentifier(channel)
                lock.withLock { connections[id] = channel }
                channel.closeFuture.whenComplete { _ in self.lock.withLock { _ = self.connections.removeValue(forKey: id) } }
                return channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        HTTPFeatureHandler(api: api, maxBodyBytes: limit, maxHeaderBytes: headerLimit))
                }
            }
        let ch = try bootstrap.bind(host: host, port: port).wait()
        channel = ch
        servedOn = "nio"
        return ch.localAddress?.port ?? port
    }

    /// Closes the port and every HTTP connection (a request still waiting for a shard is
    /// abandoned with its connection: the server is stopping). Idempotent.
    public func stop() {
        if let l = engineListener {
            engineListener = nil
            l.close()
            let open = lock.withLock { Array(engineSessions.values) }
            let closed = open.map { $0.closeFromAnyThread() }
            for f in closed { _ = try? f.wait() }
        }
        guard let ch = channel else { return }
        channel = nil
        try? ch.close().wait()
        let open = lock.withLock { Array(connections.values) }
        let closed = open.map { $0.close() }
        for f in closed { _ = try? f.wait() }
    }
}

/// An HTTP connection on a NIO channel (`--io nio`): the channel's events into `HTTPConnection`,
/// its writes and closes through the channel's context.
final class HTTPFeatureHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let io: NIOHTTPIO

    init(api: HTTPFeatureAPI, maxBodyBytes: Int, maxHeaderBytes: Int) {
        io = NIOHTTPIO()
        io.connection = HTTPConnection(api: api, maxBodyBytes: maxBodyBytes, maxHeaderBytes: maxHeaderBytes, io: io)
    }

    func handlerAdded(context: ChannelHandlerContext) { io.context = context }

    /// The context holds this handler, which holds the context through `io`: dropped here.
    func handlerRemoved(context: ChannelHandlerContext) { io.context = nil }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        io.connection.received(unwrapInboundIn(data))
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        io.connection.readComplete()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let e = event as? ChannelEvent, e == .inputClosed {
            io.connection.peerClosedInput()
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelInactive(context: ChannelHandlerContext) {
        io.connection.closed()
        context.fireChannelInactive()
    }

    /// A read NIO asks for while pipelined requests wait behind one at the shards is held until
    /// that one is answered (`HTTPConnection.holdsReads`).
    func read(context: ChannelHandlerContext) {
        if io.connection.holdsReads { io.heldRead = true; return }
        context.read()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        context.close(promise: nil)
    }
}

/// The channel side of an `HTTPConnection` under NIO.
final class NIOHTTPIO: HTTPConnectionIO {
    var connection: HTTPConnection<NIOHTTPIO>!
    var context: ChannelHandlerContext?
    var heldRead = false

    var loop: EventLoop { context!.eventLoop }

    func send(_ out: ByteBuffer) {
        // No promise: nothing waits for this write.
        context?.writeAndFlush(NIOAny(out), promise: nil)
    }

    func sendThenClose(_ out: ByteBuffer) {
        guard let context else { return }
        if out.readableBytes > 0 {
            context.writeAndFlush(NIOAny(out)).whenComplete { _ in context.close(promise: nil) }
        } else {
            context.close(promise: nil)
        }
    }

    func resumeReads() {
        guard heldRead, let context else { return }
        heldRead = false
        context.read()
    }
}
