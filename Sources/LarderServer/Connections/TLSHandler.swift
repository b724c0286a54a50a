import LarderTLS
import NIOCore

/// The NIO adapter of a TLS connection (LarderTLS: OpenSSL over memory BIOs), in front of
/// `ConnectionHandler`: ciphertext in, plaintext up; plaintext down, ciphertext out. All of
/// TLS is in `TLSConnection`; this only moves bytes, so another transport needs another
/// adapter of this size, not another TLS.
///
/// `channelActive` reaches `ConnectionHandler` only once the handshake is done (Redis runs
/// its accept handler, maxclients and protected mode, after the handshake too), so a client
/// still in its handshake is not a client yet. The handshake is bounded in time
/// (`tls-handshake-timeout`) and in memory (`maxHandshakeBytes`).
final class TLSHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// A ClientHello with many extensions and certificates is a few KB; a record is at most
    /// 16 KB + 2 KB: more pending ciphertext than this before the handshake ends is not TLS.
    static let maxHandshakeBytes = 64 * 1024
    /// Plaintext decrypted per SSL_read call at most (one TLS record is at most 16 KB).
    static let readChunk = 16 * 1024

    static func plainBufferSize(_ tls: TLSConnection) -> Int { max(256, min(readChunk, tls.bufferedInputBytes)) }

    private let tlsContext: TLSContext
    private let handshakeTimeout: TimeAmount
    private var tls: TLSConnection?
    private var timeout: Scheduled<Void>?
    private var closing = false
    /// Promises of plaintext writes encrypted since the last flush.
    private var writePromises: [EventLoopPromise<Void>] = []
    /// Reused decrypt and encrypt buffers: once the next handler is done with a buffer (or NIO
    /// has written it), this handler holds its only reference and `clear()` keeps the storage.
    private var plainIn: ByteBuffer?
    private var cipherOut: ByteBuffer?

    init(context: TLSContext, handshakeTimeout: TimeAmount) {
        self.tlsContext = context
        self.handshakeTimeout = handshakeTimeout
    }

    func channelActive(context: ChannelHandlerContext) {
        do {
            tls = try TLSConnection(context: tlsContext)
        } catch {
            fail(context, "cannot start TLS: \(error)")
            return
        }
        timeout = context.eventLoop.scheduleTask(in: handshakeTimeout) { [weak self] in
            guard let self, let tls = self.tls, !tls.isHandshakeDone else { return }
            self.fail(context, "TLS handshake timed out after \(self.handshakeTimeout.nanoseconds / 1_000_000) ms", timedOut: true)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        timeout?.cancel()
        timeout = nil
        let failed = writePromises
        writePromises = []
        for p in failed { p.fail(ChannelError.ioOnClosedChannel) }
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        tls = nil
        plainIn = nil
        cipherOut = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard let tls, !closing else { return }
        let cipher = unwrapInboundIn(data)
        cipher.withUnsafeReadableBytes { tls.receive($0) }
        if !tls.isHandshakeDone {
            switch tls.handshake() {
            case .wantRead:
                sendOutput(context)
                if tls.pendingInput > Self.maxHandshakeBytes {
                    fail(context, "TLS handshake: \(tls.pendingInput) bytes without a complete handshake")
                }
                return
            case .failed(let reason):
                fail(context, "TLS handshake failed: \(reason)")
                return
            case .done:
                timeout?.cancel()
                timeout = nil
                sendOutput(context)
                context.fireChannelActive()
                guard !closing, self.tls != nil else { return }
            }
        }
        decrypt(context, tls)
    }

    /// Every complete record received becomes plaintext in one buffer, passed on with one
    /// channelRead, so ConnectionHandler still runs a whole pipelined read and flushes once.
    private func decrypt(_ context: ChannelHandlerContext, _ tls: TLSConnection) {
        // Sized by the ciphertext received, not by the largest record: the buffer is kept for
        // the next read, and a 16 KB one per idle client added 16 KB of resident memory each
        // (bench/tls/idle_memory.py); small requests now keep a small one.
        var plain = plainIn ?? context.channel.allocator.buffer(capacity: Self.plainBufferSize(tls))
        plainIn = nil
        plain.clear()
        var end: TLSConnection.ReadStatus = .wantRead
        while true {
            var status: TLSConnection.ReadStatus = .wantRead
            plain.writeWithUnsafeMutableBytes(minimumWritableBytes: Self.plainBufferSize(tls)) { space in
                status = tls.read(into: space)
                if case .bytes(let n) = status { return n }
                return 0
            }
            if case .bytes = status {
                // One SSL_read fewer per request than reading until .wantRead (a failing read
                // sets and clears OpenSSL's error state); below this machine's noise in
                // bench/tls/tls_cost.sh, kept because it is free.
                if tls.hasBufferedInput { continue }
                break
            }
            end = status
            break
        }
        // Post-handshake messages (session tickets, key updates) may have produced output.
        if tls.pendingOutput > 0 { sendOutput(context) }
        if plain.readableBytes > 0 {
            context.fireChannelRead(wrapInboundOut(plain))
            if plain.capacity <= 1 << 20 { plainIn = plain }
        } else {
            plainIn = plain
        }
        switch end {
        case .closed:
            // close_notify from the client: as a plain client's FIN.
            closeTransport(context, mode: .all)
        case .failed(let reason):
            fail(context, "TLS read failed: \(reason)")
        default:
            break
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        if tls?.isHandshakeDone == true { context.fireChannelReadComplete() }
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        guard let tls, tls.isHandshakeDone, !closing else {
            promise?.fail(ChannelError.ioOnClosedChannel)
            return
        }
        let plain = unwrapOutboundIn(data)
        do {
            try plain.withUnsafeReadableBytes { try tls.write($0) }
            if let promise { writePromises.append(promise) }
        } catch {
            promise?.fail(error)
            fail(context, "\(error)")
        }
    }

    func flush(context: ChannelHandlerContext) {
        sendOutput(context)
    }

    func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        if let tls, tls.isHandshakeDone, !closing, mode != .input {
            // close_notify first, so the client sees a clean end rather than a truncation.
            tls.shutdown()
            sendOutput(context)
        }
        if mode == .all { closing = true }
        context.close(mode: mode, promise: promise)
    }

    /// Writes and flushes the ciphertext OpenSSL has produced, completing the promises of the
    /// plaintext writes it carries.
    private func sendOutput(_ context: ChannelHandlerContext) {
        guard let tls else { return }
        let pending = tls.pendingOutput
        let promises = writePromises
        writePromises = []
        guard pending > 0 else {
            for p in promises { p.succeed(()) }
            return
        }
        var out = cipherOut ?? context.channel.allocator.buffer(capacity: max(pending, 4096))
        cipherOut = nil
        out.clear()
        while tls.pendingOutput > 0 {
            let want = tls.pendingOutput
            out.writeWithUnsafeMutableBytes(minimumWritableBytes: want) { tls.takeOutput(into: $0) }
        }
        var combined: EventLoopPromise<Void>? = nil
        if !promises.isEmpty {
            let p = context.eventLoop.makePromise(of: Void.self)
            p.futureResult.whenComplete { result in
                for each in promises {
                    switch result {
                    case .success: each.succeed(())
                    case .failure(let e): each.fail(e)
                    }
                }
            }
            combined = p
        }
        context.writeAndFlush(wrapOutboundOut(out), promise: combined)
        if out.capacity <= 1 << 20 { cipherOut = out }
    }

    /// A handshake or record failure: logged (rate limited), the alert sent, then closed.
    private func fail(_ context: ChannelHandlerContext, _ reason: String, timedOut: Bool = false) {
        guard !closing else { return }
        let peer = context.channel.remoteAddress.map { "\($0.ipAddress ?? "?"):\($0.port ?? 0)" } ?? "?"
        ServerLog.tlsFailure(reason, peer: peer, timedOut: timedOut)
        sendOutput(context)
        closeTransport(context, mode: .all)
    }

    private func closeTransport(_ context: ChannelHandlerContext, mode: CloseMode) {
        closing = true
        timeout?.cancel()
        timeout = nil
        context.close(mode: mode, promise: nil)
    }
}
