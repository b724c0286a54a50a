import NIOCore

/// What an `HTTPConnection` needs of the socket under it: a NIO channel (`NIOHTTPIO`, for
/// `--io nio`) or a socket of the I/O engine (`HTTPEngineSession`, on the shard loops). A
/// `final class` the connection is generic over, so the calls are direct, not through a
/// witness table.
protocol HTTPConnectionIO: AnyObject {
    /// The connection's loop: requests are answered on it.
    var loop: EventLoop { get }
    /// Writes and flushes the readable bytes of `out` (its caller clears it afterwards: the
    /// storage is kept for the next answer when the IO has already let go of it).
    func send(_ out: ByteBuffer)
    /// Writes what `out` holds (if anything), then closes once it has left.
    func sendThenClose(_ out: ByteBuffer)
    /// A read held back while a request was at the shards (NIO): ask for it now.
    func resumeReads()
}

/// One HTTP/1.1 connection's protocol, parsed in place from the bytes its socket reads
/// (HTTPWire): requests are answered one at a time and in order (a pipelined request waits in
/// `input` while the one before it is at the shards), responses go into one reused buffer,
/// flushed once per read batch or per answer that arrives from the shards. A request that
/// cannot be framed gets `{"detail": ...}` with its status (400, 413, 431...) and the
/// connection closes. The same code under NIO and under the engine: only `IO` differs.
final class HTTPConnection<IO: HTTPConnectionIO> {
    let api: HTTPFeatureAPI
    let maxBodyBytes: Int
    let maxHeaderBytes: Int
    /// The IO owns this connection (it is the IO's only strong reference).
    unowned(unsafe) let io: IO
    /// Bytes read and not yet consumed: the rest of a request, or pipelined ones.
    private var input: ByteBuffer?
    private var out: ByteBuffer
    /// `out` has been handed to the IO: cleared before the next answer is written into it, not
    /// at once, so an IO that still holds it (uring sends at its loop's next enter) has let go
    /// by then and clear() keeps the storage (measured: 10.3 -> 8.3 mallocs and 36,957 -> 36,254
    /// instructions per 1 x 10 request on uring under callgrind; epoll and NIO have usually
    /// written it before `send` returns).
    private var outSent = false
    /// The parsed head of a request whose body is still arriving.
    private var head: HTTPWire.Head?
    private var sentContinue = false
    /// Bytes of an oversized Content-Length body still to drop before answering 413.
    private var discarding = 0
    private(set) var waiting = false  // a request is at the shards; the next ones wait
    private var inProcess = false
    private var inRead = false
    private var closing = false       // answered a request with connection: close
    private var inputClosed = false
    private var inactive = false

    init(api: HTTPFeatureAPI, maxBodyBytes: Int, maxHeaderBytes: Int, io: IO) {
        self.api = api
        self.maxBodyBytes = maxBodyBytes
        self.maxHeaderBytes = maxHeaderBytes
        self.io = io
        self.out = ByteBufferAllocator().buffer(capacity: 4096)
    }

    /// Whether a read should wait: pipelined requests are queued behind one at the shards, so a
    /// client cannot queue unbounded bytes here (NIOHTTP1's pipelining handler did the same).
    var holdsReads: Bool { waiting && (input?.readableBytes ?? 0) > 0 }

    /// Bytes of pipelined input kept while a request is at the shards: the most one request
    /// can take (head and body at their limits), beyond which a client that does not wait for
    /// its answers is cut off (the engine has no read to hold back, unlike NIO).
    var inputBound: Int { maxHeaderBytes + maxBodyBytes + 64 * 1024 }

    /// Bytes read (one read of a batch that `readComplete` ends).
    func received(_ bytes: ByteBuffer) {
        var bytes = bytes
        if closing { return }
        if discarding > 0 {
            let n = min(discarding, bytes.readableBytes)
            bytes.moveReaderIndex(forwardBy: n)
            discarding -= n
            if discarding == 0 { fail(HTTPWire.Failure(status: 413, message: HTTPWire.bodyLimitMessage(maxBodyBytes))) }
            return
        }
        if input == nil || input!.readableBytes == 0 {
            input = bytes
        } else {
            input!.writeBuffer(&bytes)
        }
        if waiting, let n = input?.readableBytes, n > inputBound {
            // Pipelined past any request's size without reading the answers: stop here.
            closing = true
            input = nil
            flush(thenClose: true)
            return
        }
        inRead = true
        process()
    }

    /// The end of a read batch: what it answered leaves in one write.
    func readComplete() {
        inRead = false
        flush()
    }

    /// The peer shut down its side: answer what it sent, then close.
    func peerClosedInput() {
        inputClosed = true
        if !waiting { flush(thenClose: true) }
    }

    /// The connection is gone: an answer still at the shards is dropped when it comes.
    func closed() {
        inactive = true
    }

    /// Frames and dispatches the requests in `input` until one goes to the shards, the bytes
    /// run out, or the connection is closing.
    private func process() {
        if inProcess { return }
        inProcess = true
        defer { inProcess = false }
        while !waiting && !closing, var buf = input, buf.readableBytes > 0 || head != nil {
            input = nil   // `buf` the only reference: growing it does not copy
            do {
                guard let request = try frame(&buf) else { input = buf; break }
                switch request.1 {
                case .decoded(let body):
                    input = buf.readableBytes > 0 ? buf : nil
                    body.withUnsafeBytes { dispatch(request.0, $0) }
                case .inPlace(let length):
                    // Read where it lies, then consumed: no copy of the body into an array
                    // (measured reason: a malloc and a copy per request; the API takes what it
                    // needs before it returns).
                    buf.withUnsafeReadableBytes { dispatch(request.0, UnsafeRawBufferPointer(rebasing: $0[..<length])) }
                    buf.moveReaderIndex(forwardBy: length)
                    // Bytes that arrived meanwhile (a read delivered during the answer) follow.
                    if var later = input { buf.writeBuffer(&later) }
                    input = buf.readableBytes > 0 ? buf : nil
                }
            } catch let f as HTTPWire.Failure {
                fail(f)
                return
            } catch {
                fail(HTTPWire.Failure(status: 400, message: "\(error)"))
                return
            }
        }
        if input?.readableBytes == 0 { input = nil }
        if closing { return }
        if inputClosed && !waiting { flush(thenClose: true); return }
        if !inRead { flush() }
    }

    /// A request's body: decoded from chunks, or the next `length` bytes of the input.
    private enum Body {
        case decoded([UInt8])
        case inPlace(Int)
    }

    /// One whole request from the front of `buf` (its head consumed; an in-place body is left
    /// for the caller to consume), or nil when more bytes are needed.
    private func frame(_ buf: inout ByteBuffer) throws -> (HTTPWire.Head, Body)? {
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
            guard case .body(let length, let consumed) = scanned else { askContinue(h); return nil }
            let body = buf.withUnsafeReadableBytes { HTTPWire.decodeChunked($0, length: length) }
            buf.moveReaderIndex(forwardBy: consumed)
            head = nil
            return (h, .decoded(body))
        }
        let len = h.contentLength ?? 0
        guard buf.readableBytes >= len else {
            askContinue(h)
            // One allocation for the whole body rather than growth by doubling.
            if buf.capacity - buf.readerIndex < len { buf.reserveCapacity(minimumWritableBytes: len - buf.readableBytes) }
            return nil
        }
        head = nil
        return (h, .inPlace(len))
    }

    private func askContinue(_ h: HTTPWire.Head) {
        guard h.expectContinue && !sentContinue else { return }
        sentContinue = true
        reuseOut()
        out.writeStaticString("HTTP/1.1 100 Continue\r\n\r\n")
        flush()
    }

    private func dispatch(_ h: HTTPWire.Head, _ body: UnsafeRawBufferPointer) {
        waiting = true
        let loop = io.loop
        // The answer needs the version and keep-alive only: the closure holds those, not the
        // head (measured reason: the head's copies went from 1,700 to 280 instructions per
        // 1 x 10 request under callgrind).
        let minor = h.minorVersion, keepAlive = h.keepAlive
        api.handle(method: h.method, path: h.target, body: body, loop: loop) { [self] reply in
            // Replies come back on this loop (ShardGather ends there); hop if not.
            if loop.inEventLoop {
                self.answer(minor, keepAlive, reply)
            } else {
                loop.execute { self.answer(minor, keepAlive, reply) }
            }
        }
    }

    private func answer(_ minorVersion: Int, _ keepAlive: Bool, _ reply: HTTPReply) {
        waiting = false
        if inactive { return }
        reuseOut()
        HTTPWire.writeHead(status: reply.status, contentType: reply.contentType, contentLength: reply.body.count,
                           minorVersion: minorVersion, keepAlive: keepAlive, into: &out)
        out.writeBytes(reply.body)
        if !keepAlive {
            closing = true
            flush(thenClose: true)
            return
        }
        // Answered from inside process (no shard hop): it goes on with the next request itself.
        if !inProcess { process() }
        if !waiting && !inactive { io.resumeReads() }
    }

    private func fail(_ f: HTTPWire.Failure) {
        closing = true
        head = nil
        input = nil
        var w = JSONWriter()
        w.raw("{\"detail\":" as StaticString); w.string(f.message); w.raw("}" as StaticString)
        reuseOut()
        HTTPWire.writeHead(status: f.status, contentType: "application/json", contentLength: w.bytes.count,
                           minorVersion: 1, keepAlive: false, into: &out)
        out.writeBytes(w.bytes)
        flush(thenClose: true)
    }

    private func flush(thenClose: Bool = false) {
        if inactive { return }
        let pending = !outSent && out.readableBytes > 0
        if thenClose {
            io.sendThenClose(pending ? out : ByteBuffer())
        } else if pending {
            io.send(out)
        } else {
            return
        }
        outSent = true
    }

    @inline(__always) private func reuseOut() {
        if outSent {
            outSent = false
            out.clear()
        }
    }
}
