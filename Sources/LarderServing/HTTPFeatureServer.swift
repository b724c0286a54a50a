import Foundation
import LarderLog
import NIOCore
import NIOHTTP1
import NIOPosix

/// The HTTP feature server (Feast's `feast serve` API) on its own port and event loop(s),
/// in the same process as the RESP server and reading the same shards.
public final class HTTPFeatureServer: @unchecked Sendable {
    let api: HTTPFeatureAPI
    let group: MultiThreadedEventLoopGroup
    let maxBodyBytes: Int
    private var channel: Channel?

    public init(api: HTTPFeatureAPI, threads: Int = 1, maxBodyBytes: Int = 8 * 1024 * 1024) {
        self.api = api
        self.group = MultiThreadedEventLoopGroup(numberOfThreads: max(1, threads))
        self.maxBodyBytes = maxBodyBytes
    }

    /// Binds and serves; returns the bound port (port 0 picks a free one).
    @discardableResult
    public func start(host: String, port: Int) throws -> Int {
        let api = self.api, limit = maxBodyBytes
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(ChannelOptions.backlog, value: 256)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                channel.pipeline.configureHTTPServerPipeline(withErrorHandling: true).flatMap {
                    channel.pipeline.addHandler(HTTPFeatureHandler(api: api, maxBodyBytes: limit))
                }
            }
        let ch = try bootstrap.bind(host: host, port: port).wait()
        channel = ch
        return ch.localAddress?.port ?? port
    }

    /// Closes the port and every HTTP connection. Bounded: a request still waiting for a shard
    /// after a second is abandoned with its connection (the server is stopping). Idempotent.
    public func stop() {
        guard let ch = channel else { return }
        channel = nil
        try? ch.close().wait()
        let down = DispatchSemaphore(value: 0)
        group.shutdownGracefully(queue: .global()) { _ in down.signal() }
        if down.wait(timeout: .now() + 1) == .timedOut {
            LarderLog.server.warning("HTTP connections still open after 1 s; stopping without them", metadata: ["event": "shutdown_waiting"])
        }
    }
}

/// One HTTP connection: gathers a request's body (up to the limit), hands it to the API,
/// writes the reply. Requests on one connection are answered in order (NIO's pipelining
/// handler holds the next request until this one's response has ended).
final class HTTPFeatureHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    let api: HTTPFeatureAPI
    let maxBodyBytes: Int
    private var head: HTTPRequestHead?
    private var body: [UInt8] = []
    private var tooLarge = false

    init(api: HTTPFeatureAPI, maxBodyBytes: Int) {
        self.api = api
        self.maxBodyBytes = maxBodyBytes
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let h):
            head = h
            body.removeAll(keepingCapacity: true)
            tooLarge = false
            if let len = h.headers.first(name: "content-length").flatMap(Int.init), len > maxBodyBytes { tooLarge = true }
        case .body(let chunk):
            if tooLarge { return }
            if body.count + chunk.readableBytes > maxBodyBytes { tooLarge = true; body = []; return }
            // Appended from the buffer in place (readBytes made an array per chunk first).
            chunk.withUnsafeReadableBytes { body.append(contentsOf: $0) }
        case .end:
            guard let h = head else { return }
            head = nil
            let keepAlive = h.isKeepAlive
            if tooLarge {
                write(context: context, HTTPReply.json(413, "{\"detail\":\"request body larger than the limit of \(maxBodyBytes) bytes (--http-max-body)\"}"),
                      version: h.version, keepAlive: false)
                return
            }
            let loop = context.eventLoop
            let ctx = NIOLoopBound(context, eventLoop: loop)
            api.handle(method: h.method.rawValue, path: h.uri, body: body, loop: loop) { [self] reply in
                // Replies come back on this loop (ShardGather ends there); hop if not.
                if loop.inEventLoop {
                    self.write(context: ctx.value, reply, version: h.version, keepAlive: keepAlive)
                } else {
                    loop.execute { self.write(context: ctx.value, reply, version: h.version, keepAlive: keepAlive) }
                }
            }
        }
    }

    private func write(context: ChannelHandlerContext, _ reply: HTTPReply, version: HTTPVersion, keepAlive: Bool) {
        var headers = HTTPHeaders()
        headers.add(name: "content-type", value: reply.contentType)
        headers.add(name: "content-length", value: String(reply.body.count))
        if !keepAlive { headers.add(name: "connection", value: "close") }
        let status = HTTPResponseStatus(statusCode: reply.status)
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: version, status: status, headers: headers))), promise: nil)
        var buffer = context.channel.allocator.buffer(capacity: reply.body.count)
        buffer.writeBytes(reply.body)
        context.write(wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil)
        let done = context.writeAndFlush(wrapOutboundOut(.end(nil)))
        if !keepAlive { done.whenComplete { _ in context.close(promise: nil) } }
    }
}
