import NIOCore

/// What a `ConnectionHandler` needs of its connection, so the same parse -> dispatch -> reply
/// code runs over a NIO channel (`NIOTransport`) or over a socket of the epoll engine
/// (Engine/EpollConnection). Methods are called on the connection's shard loop unless they
/// say "any thread".
protocol ConnectionTransport: AnyObject {
    var remoteAddress: SocketAddress? { get }
    var localAddress: SocketAddress? { get }
    /// False while more than the high mark (16 KB, Redis' reply chunk) of replies is queued.
    var isWritable: Bool { get }
    /// Reply bytes queued and not yet written to the socket (CLIENT LIST omem); nil if unknown.
    var bufferedBytes: Int? { get }
    func makeBuffer(capacity: Int) -> ByteBuffer
    /// Writes and flushes; `onWritten` runs on the loop once the bytes left (or the connection closed).
    func write(_ bytes: ByteBuffer, onWritten: (() -> Void)?)
    /// Writes `bytes`, then closes: at once (`graceful` false), or as `closeGracefully`.
    func writeThenClose(_ bytes: ByteBuffer, graceful: Bool)
    func close()
    /// Closes after a final reply (protocol error, QUIT). Closing a socket that still has
    /// unread input makes the kernel send RST, which can destroy the reply before the client
    /// reads it (a client still sending a large request sees only "connection reset"). So
    /// first shut down our side (FIN), keep discarding input, and close for good when the
    /// client closes or after a short grace period.
    func closeGracefully()
    /// Any thread (CLIENT KILL, `timeout`, shutdown).
    func closeFromAnyThread() -> EventLoopFuture<Void>
    /// Any thread (MONITOR's feed from other connections).
    func writeFromAnyThread(_ bytes: [UInt8])
}

/// The NIO pipeline as a transport: the handler is the pipeline's only handler after TLS.
final class NIOTransport: ConnectionTransport {
    private var context: ChannelHandlerContext?
    let channel: Channel

    init(context: ChannelHandlerContext) {
        self.context = context
        self.channel = context.channel
    }

    /// The context holds the handler that holds this: dropped when the handler is removed.
    func detach() { context = nil }

    var remoteAddress: SocketAddress? { channel.remoteAddress }
    var localAddress: SocketAddress? { channel.localAddress }
    var isWritable: Bool { channel.isWritable }
    var bufferedBytes: Int? {
        // Read on the slow path only: the option lookup is a chain of dynamic casts.
        guard let options = channel.syncOptions else { return nil }
        return try? options.getOption(ChannelOptions.bufferedWritableBytes)
    }
    func makeBuffer(capacity: Int) -> ByteBuffer { channel.allocator.buffer(capacity: capacity) }

    func write(_ bytes: ByteBuffer, onWritten: (() -> Void)?) {
        guard let context else { onWritten?(); return }
        if let onWritten {
            let promise = context.eventLoop.makePromise(of: Void.self)
            promise.futureResult.whenComplete { _ in onWritten() }
            context.writeAndFlush(NIOAny(bytes), promise: promise)
        } else {
            context.writeAndFlush(NIOAny(bytes), promise: nil)
        }
    }

    func writeThenClose(_ bytes: ByteBuffer, graceful: Bool) {
        guard let context else { return }
        context.writeAndFlush(NIOAny(bytes)).whenComplete { _ in
            if graceful { Self.closeGracefully(context) } else { context.close(promise: nil) }
        }
    }

    func close() { context?.close(promise: nil) }

    func closeGracefully() {
        guard let context else { return }
        Self.closeGracefully(context)
    }

    static func closeGracefully(_ context: ChannelHandlerContext) {
        context.close(mode: .output, promise: nil)
        context.eventLoop.scheduleTask(in: .seconds(2)) { context.close(promise: nil) }
    }

    func closeFromAnyThread() -> EventLoopFuture<Void> { channel.close() }

    func writeFromAnyThread(_ bytes: [UInt8]) {
        var b = channel.allocator.buffer(capacity: bytes.count)
        b.writeBytes(bytes)
        channel.writeAndFlush(b, promise: nil)
    }
}
