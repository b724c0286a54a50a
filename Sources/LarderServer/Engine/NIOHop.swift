import NIOCore

/// Under the epoll engine, a connection that stays on NIO (the TLS port) lives on a small NIO
/// group, and its `ConnectionHandler` on its shard's loop: every event hops to that loop, every
/// reply is handed back to the channel (NIO's channel operations are thread-safe). One hop each
/// way per read batch; the plain port does not pay it.
final class HopToShardHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    private var connection: ConnectionHandler?
    private let loop: EventLoop

    init(connection: ConnectionHandler) {
        self.connection = connection
        self.loop = connection.worker.loop
    }

    func channelActive(context: ChannelHandlerContext) {
        guard let connection else { return }
        let transport = HopTransport(channel: context.channel, shardLoop: loop)
        loop.execute { connection.connected(transport) }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard let connection else { return }
        let bytes = unwrapInboundIn(data)
        loop.execute { connection.received(bytes) }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if let connection { loop.execute { connection.writabilityChanged() } }
        context.fireChannelWritabilityChanged()
    }

    func channelInactive(context: ChannelHandlerContext) {
        guard let connection else { return }
        self.connection = nil
        loop.execute {
            connection.disconnected()
            connection.transport = nil
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        context.close(promise: nil)
    }
}

/// The channel as seen from the shard's loop (HopToShardHandler).
final class HopTransport: ConnectionTransport {
    let channel: Channel
    let shardLoop: EventLoop
    let remoteAddress: SocketAddress?
    let localAddress: SocketAddress?

    init(channel: Channel, shardLoop: EventLoop) {
        self.channel = channel
        self.shardLoop = shardLoop
        self.remoteAddress = channel.remoteAddress
        self.localAddress = channel.localAddress
    }

    var isWritable: Bool { channel.isWritable }
    /// Not readable off the channel's own loop: CLIENT LIST shows omem 0 for these clients.
    var bufferedBytes: Int? { nil }
    func makeBuffer(capacity: Int) -> ByteBuffer { channel.allocator.buffer(capacity: capacity) }

    func write(_ bytes: ByteBuffer, onWritten: (() -> Void)?) {
        if let onWritten {
            let loop = shardLoop
            channel.writeAndFlush(bytes).whenComplete { _ in loop.execute { onWritten() } }
        } else {
            channel.writeAndFlush(bytes, promise: nil)
        }
    }

    func writeThenClose(_ bytes: ByteBuffer, graceful: Bool) {
        let channel = self.channel
        channel.writeAndFlush(bytes).whenComplete { _ in
            if graceful { Self.closeGracefully(channel) } else { channel.close(promise: nil) }
        }
    }

    func close() { channel.close(promise: nil) }
    func closeGracefully() { Self.closeGracefully(channel) }

    private static func closeGracefully(_ channel: Channel) {
        channel.close(mode: .output, promise: nil)
        channel.eventLoop.scheduleTask(in: .seconds(2)) { channel.close(promise: nil) }
    }

    func closeFromAnyThread() -> EventLoopFuture<Void> { channel.close() }

    func writeFromAnyThread(_ bytes: [UInt8]) {
        var b = channel.allocator.buffer(capacity: bytes.count)
        b.writeBytes(bytes)
        channel.writeAndFlush(b, promise: nil)
    }
}
