import Foundation
import NIOCore
import NIOPosix

/// The HTTP feature server (Feast's `feast serve` API) on its own port, served on the RESP
/// server's NIO loops, in the same process and reading the same shards.
public final class HTTPFeatureServer: @unchecked Sendable {
    let api: HTTPFeatureAPI
    /// The RESP server's loops (it shuts them down).
    let group: MultiThreadedEventLoopGroup
    let maxBodyBytes: Int
    let maxHeaderBytes: Int
    private var channel: Channel?
    /// Open connections, closed by stop() (the loops stay up: they are the RESP server's).
    private var connections: [ObjectIdentifier: Channel] = [:]
    private let lock = NSLock()

    /// On the RESP server's shard loops (`LarderServer.eventLoopGroup`): a request whose keys
    /// live on its connection's shard reads them there at once, with no hop to another thread
    /// and back (measured reason: the hop, its tasks and the two loops' wake-ups were ~12,000 of a
    /// 1 x 10 request's instructions under callgrind with --threads 1).
    public init(api: HTTPFeatureAPI, sharing group: MultiThreadedEventLoopGroup, maxBodyBytes: Int = 8 * 1024 * 1024,
                maxHeaderBytes: Int = 32 * 1024) {
        self.api = api
        self.maxHeaderBytes = maxHeaderBytes
        self.group = group
        self.maxBodyBytes = maxBodyBytes
    }

    /// Binds and serves; returns the bound port (port 0 picks a free one).
    @discardableResult
    public func start(host: String, port: Int) throws -> Int {
        let api = self.api, limit = maxBodyBytes, headerLimit = maxHeaderBytes
        let bootstrap = ServerBootstrap(group: group)
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
        return ch.localAddress?.port ?? port
    }

    /// Closes the port and every HTTP connection (a request still waiting for a shard is
    /// abandoned with its connection: the server is stopping). Idempotent.
    public func stop() {
        guard let ch = channel else { return }
        channel = nil
        try? ch.close().wait()
        let open = lock.withLock { Array(connections.values) }
        let closed = open.map { $0.close() }
        for f in closed { _ = try? f.wait() }
    }
}

/// One HTTP/1.1 connection, parsed in place from the bytes NIO reads (HTTPWire): requests are
/// answered one at a time and in order (a pipelined request waits in `input` while the one
/// before it is at the shards), responses go into one reused buffer, flushed once per read
/// batch or per answer that arrives from the shards. A request that cannot be framed gets
/// `{"detail": ...}` with its status (400, 413, 431...) and the connection closes.
final class HTTPFeatureHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    let api: HTTPFeatureAPI
    let maxBodyBytes: Int
    let maxHeaderBytes: Int
    /// Bytes read and not yet consumed: the rest of a request, or pipelined ones.
    private var input: ByteBuffer?
    private var out: ByteBuffer
    /// The parsed head of a request whose body is still arriving.
    private var head: HTTPWire.Head?
    private var sentContinue = false
    /// Bytes of an oversized Content-Length body still to drop before answering 413.
    private var discarding = 0
    private var waiting = false      // a request is at the shards; the next ones wait
    private var inProcess = false
    private var inRead = false
    private var closing = false      // answered a request with connection: close
    private var inputClosed = false
    private var inactive = false
    /// A read NIO asked for while pipelined requests wait behind one at the shards: held until
    /// it is answered, so a client cannot queue unbounded bytes here (NIOHTTP1's pipelining
    /// handler did the same).
    private var heldRead = false

    init(api: HTTPFeatureAPI, maxBodyBytes: Int, maxHeaderBytes: Int) {
        self.api = api
        self.maxBodyBytes = maxBodyBytes
        self.maxHeaderBytes = maxHeaderBytes
        self.out = ByteBufferAllocator().buffer(capacity: 4096)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = unwrapInboundIn(data)
        if closing { return }
        if discarding > 0 {
            let n = min(discarding, bytes.readableBytes)
            bytes.moveReaderIndex(forwardBy: n)
            discarding -= n
            if discarding == 0 { fail(context, HTTPWire.Failure(status: 413, message: HTTPWire.bodyLimitMessage(maxBodyBytes))) }
            return
        }
        if input == nil || input!.readableBytes == 0 {
            input = bytes
        } else {
            input!.writeBuffer(&bytes)
        }
        inRead = true
        process(context)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        inRead = false
        flush(context)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let e = event as? ChannelEvent, e == .inputClosed {
            inputClosed = true
            if !waiting { flush(context); context.close(promise: nil) }
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelInactive(context: ChannelHandlerContext) {
        inactive = true
        context.fireChannelInactive()
    }

    func read(context: ChannelHandlerContext) {
        if waiting, let input, input.readableBytes > 0 { heldRead = true; return }
        context.read()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        context.close(promise: nil)
    }

    /// Frames and dispatches the requests in `input` until one goes to the shards, the bytes
    /// run out, or the connection is closing.
    private func process(_ context: ChannelHandlerContext) {
        if inProcess { return }
        inProcess = true
        defer { inProcess = false }
        while !waiting && !closing, var buf = input, buf.readableBytes > 0 || head != nil {
            input = nil   // `buf` the only reference: growing it does not copy
            do {
                guard let request = try frame(&buf, context) else { input = buf; break }
                switch request.1 {
                case .decoded(let body):
                    input = buf.readableBytes > 0 ? buf : nil
                    body.withUnsafeBytes { dispatch(context, request.0, $0) }
                case .inPlace(let length):
                    // Read where it lies, then consumed: no copy of the body into an array
                    // (measured reason: a malloc and a copy per request; the API takes what it
                    // needs before it returns).
                    buf.withUnsafeReadableBytes { dispatch(context, request.0, UnsafeRawBufferPointer(rebasing: $0[..<length])) }
                    buf.moveReaderIndex(forwardBy: length)
                    // Bytes that arrived meanwhile (a read NIO delivered during the answer) follow.
                    if var later = input { buf.writeBuffer(&later) }
                    input = buf.readableBytes > 0 ? buf : nil
                }
            } catch let f as HTTPWire.Failure {
                fail(context, f)
                return
            } catch {
                fail(context, HTTPWire.Failure(status: 400, message: "\(error)"))
                return
            }
        }
        if input?.readableBytes == 0 { input = nil }
        if inputClosed && !waiting { flush(context); context.close(promise: nil); return }
        if !inRead { flush(context) }
    }

    /// A request's body: decoded from chunks, or the next `length` bytes of the input.
    private enum Body {
        case decoded([UInt8])
        case inPlace(Int)
    }

    /// One whole request from the front of `buf` (its head consumed; an in-place body is left
    /// for the caller to consume), or nil when more bytes are needed.
    private func frame(_ buf: inout ByteBuffer, _ context: ChannelHandlerContext) throws -> (HTTPWire.Head, Body)? {
        if head == nil {
            let parsed = try buf.withUnsafeReadableBytes { try HTTPWire.parseHead($0, maxHeaderBytes: maxHeaderBytes) }
            guard case .head(let h, let length) = parsed else { return nil }
            buf.moveReaderIndex(forwardBy: length)
            head = h
            sentContinue = false
            if let len = h.contentLength, len > maxBodyBytes {
                // Answered once the body has been read and dropped (closing before the client
                // has sent it would reset the connection under the answer), or at once when the
                // client waits for 100 Continue.
                head = nil
                if h.expectContinue { throw HTTPWire.Failure(status: 413, message: HTTPWire.bodyLimitMessage(maxBodyBytes)) }
                let now = min(len, buf.readableBytes)
                buf.moveReaderIndex(forwardBy: now)
                if now == len { throw HTTPWire.Failure(status: 413, message: HTTPWire.bodyLimitMessage(maxBodyBytes)) }
                discarding = len - now
                input = nil
                return nil
            }
        }
        let h = head!
        if h.chunked {
            let scanned = try buf.withUnsafeReadableBytes { try HTTPWire.scanChunked($0, maxBodyBytes: maxBodyBytes) }
            guard case .body(let length, let consumed) = scanned else { askContinue(context, h); return nil }
            let body = buf.withUnsafeReadableBytes { HTTPWire.decodeChunked($0, length: length) }
            buf.moveReaderIndex(forwardBy: consumed)
            head = nil
            return (h, .decoded(body))
        }
        let len = h.contentLength ?? 0
        guard buf.readableBytes >= len else {
            askContinue(context, h)
            // One allocation for the whole body rather than growth by doubling.
            if buf.capacity - buf.readerIndex < len { buf.reserveCapacity(minimumWritableBytes: len - buf.readableBytes) }
            return nil
        }
        head = nil
        return (h, .inPlace(len))
    }

    private func askContinue(_ context: ChannelHandlerContext, _ h: HTTPWire.Head) {
        guard h.expectContinue && !sentContinue else { return }
        sentContinue = true
        out.writeStaticString("HTTP/1.1 100 Continue\r\n\r\n")
        flush(context)
    }

    private func dispatch(_ context: ChannelHandlerContext, _ h: HTTPWire.Head, _ body: UnsafeRawBufferPointer) {
        waiting = true
        let loop = context.eventLoop
        let ctx = NIOLoopBound(context, eventLoop: loop)
        // The answer needs the version and keep-alive only: the closure holds those, not the
        // head (measured reason: the head's copies went from 1,700 to 280 instructions per
        // 1 x 10 request under callgrind).
        let minor = h.minorVersion, keepAlive = h.keepAlive
        api.handle(method: h.method, path: h.target, body: body, loop: loop) { [self] reply in
            // Replies come back on this loop (ShardGather ends there); hop if not.
            if loop.inEventLoop {
                self.answer(ctx.value, minor, keepAlive, reply)
            } else {
                loop.execute { self.answer(ctx.value, minor, keepAlive, reply) }
            }
        }
    }

    private func answer(_ context: ChannelHandlerContext, _ minorVersion: Int, _ keepAlive: Bool, _ reply: HTTPReply) {
        waiting = false
        if inactive { return }
        HTTPWire.writeHead(status: reply.status, contentType: reply.contentType, contentLength: reply.body.count,
                           minorVersion: minorVersion, keepAlive: keepAlive, into: &out)
        out.writeBytes(reply.body)
        if !keepAlive {
            closing = true
            flush(context, thenClose: true)
            return
        }
        // Answered from inside process (no shard hop): it goes on with the next request itself.
        if !inProcess { process(context) }
        if heldRead && !waiting { heldRead = false; context.read() }
    }

    private func fail(_ context: ChannelHandlerContext, _ f: HTTPWire.Failure) {
        closing = true
        head = nil
        input = nil
        var w = JSONWriter()
        w.raw("{\"detail\":" as StaticString); w.string(f.message); w.raw("}" as StaticString)
        HTTPWire.writeHead(status: f.status, contentType: "application/json", contentLength: w.bytes.count,
                           minorVersion: 1, keepAlive: false, into: &out)
        out.writeBytes(w.bytes)
        flush(context, thenClose: true)
    }

    private func flush(_ context: ChannelHandlerContext, thenClose: Bool = false) {
        if out.readableBytes > 0 {
            // NIO has usually written the bytes by the time this returns and let go of the
            // storage, so clear() keeps it for the next answer instead of allocating. No
            // future unless it is needed for the close.
            if thenClose {
                context.writeAndFlush(wrapOutboundOut(out)).whenComplete { _ in context.close(promise: nil) }
            } else {
                context.writeAndFlush(wrapOutboundOut(out), promise: nil)
            }
            out.clear()
        } else if thenClose {
            context.close(promise: nil)
        }
    }
}
