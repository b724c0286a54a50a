#if os(Linux)
import CLiburing
import Glibc
import NIOCore

/// One RESP client socket of the io_uring engine. A multishot recv stays armed on the loop's
/// ring; each chunk it delivers (in a provided buffer) is handed to the `ConnectionHandler`
/// where it lies, and the buffer goes back to the ring once the handler returns. A reply
/// written with no send in flight becomes a send request at once (submitted with the turn's
/// `io_uring_enter`); what is written meanwhile waits and leaves in one request (sendmsg over
/// its buffers) when that send completes: one request in flight, so the bytes leave in order.
///
/// Backpressure is EpollConnection's, through the same `OutboundQueue`: queued is what the
/// handler wrote and the kernel has not yet taken, unwritable above 16 KB and writable again
/// below 8 KB, so CLIENT LIST omem/oll and the output-buffer limits read the same.
///
/// Closing: the socket is shut down (which ends its recv and any send in flight) and those
/// requests cancelled; the descriptor is closed only once both have completed, so its number
/// cannot be reused while the kernel still holds a request on it, and the buffers of a send in
/// flight live until then.
final class UringConnection: ConnectionTransport {
    let fd: Int32
    let loop: UringEventLoop
    private var gen: UInt32 = 0
    private var handler: ConnectionHandler?
    /// Instead of `handler`: a module's session (LarderServer.listenOnEngine). Two fields, not an
    /// enum or a protocol, so the RESP path's calls are what they were (an enum's optional copy
    /// cost ~25 instructions per GET under callgrind).
    private var session: EngineSessionBridge?
    /// The session's input, reused from read to read.
    private var sessionBuffer: ByteBuffer?
    let remoteAddress: SocketAddress?
    let localAddress: SocketAddress?
    /// Replies not yet taken by the kernel (shared with the epoll engine: OutboundQueue).
    private var queue = OutboundQueue()
    var isWritable: Bool { queue.isWritable }
    private var recvArmed = false
    private var sendInFlight = false
    /// A sendmsg's vector and header: they stay put while the request is in flight.
    private var iov: UnsafeMutablePointer<iovec>? = nil
    private var msg: UnsafeMutablePointer<msghdr>? = nil
    /// Buffers a send still in flight reads from after the connection closed.
    private var retained: [ByteBuffer] = []
    /// Our side is shut down (closeGracefully): input is discarded until the peer closes.
    private var outputShut = false
    private var closed = false
    private var descriptorClosed = false
    private let closePromise: EventLoopPromise<Void>
    /// Buffers per sendmsg: a turn's replies to one client rarely number more.
    static let maxVectors = 64

    init(fd: Int32, loop: UringEventLoop, handler: ConnectionHandler?, session: EngineSessionBridge? = nil) {
        self.fd = fd
        self.loop = loop
        self.handler = handler
        self.session = session
        self.remoteAddress = EpollConnection.address(fd, peer: true)
        self.localAddress = EpollConnection.address(fd, peer: false)
        self.closePromise = loop.makePromise()
    }

    deinit {
        iov?.deallocate()
        msg?.deallocate()
    }

    /// Arms the recv and tells the handler (on the loop).
    func start() {
        gen = loop.register(fd: fd, connection: self)
        rearm()
        handler?.connected(self)
        session?.connected(self)
    }

    func rearm() {
        guard !closed, !recvArmed else { return }
        recvArmed = true
        loop.prepareRecv(fd: fd, gen: gen)
    }

    // MARK: completions (UringEventLoop.reap calls them by the completion's tag)

    func received(_ result: Int32, flags: UInt32) {
        let more = larder_uring_cqe_more(flags) != 0
        if !more { recvArmed = false }
        if result > 0 {
            if closed || outputShut {
                loop.recycle(flags: flags)  // discarded: closing, or waiting for the peer's close
            } else {
                // Parsed where the kernel put it; the buffer goes back to the ring after.
                let bytes = loop.receivedBytes(flags: flags, count: Int(result))
                if let handler {
                    handler.received(unsafe: bytes, capacity: Int(UringEventLoop.bufferSize))
                } else if let session {
                    // A module's session takes a ByteBuffer: copied into this connection's
                    // reused one (copy-on-write keeps whatever the session held on to).
                    var b = sessionBuffer ?? loop.allocator.buffer(capacity: Int(UringEventLoop.bufferSize))
                    sessionBuffer = nil
                    b.clear()
                    b.writeBytes(UnsafeRawBufferPointer(bytes))
                    session.received(b)
                    sessionBuffer = b
                }
                loop.recycle(flags: flags)
            }
            // The kernel ended the multishot recv without an error (its CQ was full, say): again.
            if !more && !closed { loop.needsRearm(self) }
        } else {
            loop.recycle(flags: flags)
            if result == -ENOBUFS && !closed {
                // The buffer ring ran dry within one turn; the buffers are back by the next enter.
                loop.needsRearm(self)
            } else if !closed && result == 0 && !outputShut && session?.peerClosedInput() == true {
                // Half-close: the owner answers what it read, then closes; no recv is armed again.
            } else if !closed && (result == 0 || !more) {
                close()  // EOF, or a socket error
            }
        }
        if closed { finishClose() }
    }

    func sent(_ result: Int32) {
        sendInFlight = false
        guard !closed else { finishClose(); return }
        if result < 0 {
            if result == -EINTR || result == -EAGAIN { flush(); return }
            close()
            return
        }
        for w in queue.consume(Int(result)) {
            w()
            if closed { return }
        }
        if queue.becameWritable() {
            handler?.writabilityChanged()
            session?.writabilityChanged()
            if closed { return }
        }
        if !queue.isEmpty {
            if result == 0 { close(); return }  // a stream that takes nothing is broken
            flush()
        } else if let graceful = queue.closeWhenDrained {
            queue.closeWhenDrained = nil
            if graceful { closeGracefully() } else { close() }
        }
    }

    /// Sends what is queued, as one request (on the loop: at a write with no send in flight, or
    /// when the previous send completed).
    func flush() {
        guard !closed, !sendInFlight, !queue.isEmpty else { return }
        let count = min(queue.count, Self.maxVectors)
        sendInFlight = true
        if count == 1 {
            queue.withReadableBytes(0) { loop.prepareSend(fd: fd, gen: gen, $0) }
            return
        }
        if iov == nil {
            iov = .allocate(capacity: Self.maxVectors)
            msg = .allocate(capacity: 1)
        }
        // The buffers are neither written nor freed while the request is in flight (they stay in
        // `queue`, or `retained` after a close), so their addresses stay valid past the closure.
        for i in 0..<count {
            queue.withReadableBytes(i) { p in
                iov![i] = iovec(iov_base: UnsafeMutableRawPointer(mutating: p.baseAddress), iov_len: p.count)
            }
        }
        msg!.pointee = msghdr()
        msg!.pointee.msg_iov = iov
        msg!.pointee.msg_iovlen = count
        loop.prepareSendmsg(fd: fd, gen: gen, msg!)
    }

    // MARK: ConnectionTransport

    var bufferedBytes: Int? { queue.bytes }

    func makeBuffer(capacity: Int) -> ByteBuffer { loop.allocator.buffer(capacity: capacity) }

    func write(_ bytes: ByteBuffer, onWritten: (() -> Void)?) {
        guard !closed, !outputShut else { onWritten?(); return }
        if bytes.readableBytes == 0 && queue.isEmpty { onWritten?(); return }
        let overHigh = queue.append(bytes, onWritten: onWritten)
        // Straight into a send request when none is in flight (the common one-reply case); it
        // leaves with the turn's io_uring_enter all the same. Listing the connection to be
        // flushed just before the enter instead made `write` ~110 user instructions per GET
        // under callgrind (the list append and the connection's retain), now ~35, for the rare
        // turn that writes twice to one client (those writes now wait for the first send's
        // completion and leave together in one sendmsg).
        if !sendInFlight { flush() }
        if overHigh {
            handler?.writabilityChanged()
            session?.writabilityChanged()
        }
    }

    func writeThenClose(_ bytes: ByteBuffer, graceful: Bool) {
        write(bytes, onWritten: nil)
        guard !closed else { return }
        if queue.isEmpty {
            if graceful { closeGracefully() } else { close() }
        } else {
            queue.closeWhenDrained = graceful
        }
    }

    func closeGracefully() {
        guard !closed, !outputShut else { return }
        outputShut = true
        shutdown(fd, Int32(SHUT_WR))
        loop.scheduleTask(in: .seconds(2)) { [self] in close() }
    }

    func close() {
        guard !closed else { return }
        closed = true
        // Ends the recv (EOF) and a send waiting for room (EPIPE); the cancels make sure.
        shutdown(fd, Int32(SHUT_RDWR))
        if recvArmed { loop.prepareCancel(.recv, fd: fd, gen: gen) }
        if sendInFlight {
            loop.prepareCancel(.send, fd: fd, gen: gen)
            retained = queue.buffers
        }
        // What never left is dropped; its waiters are told, as NIO fails their promises.
        for w in queue.removeAll() { w() }
        handler?.disconnected()
        session?.disconnected()
        handler?.transport = nil
        handler = nil
        session = nil
        closePromise.succeed(())
        finishClose()
    }

    /// Closes the descriptor once the kernel holds no request on it.
    private func finishClose() {
        guard closed, !descriptorClosed, !recvArmed, !sendInFlight else { return }
        descriptorClosed = true
        loop.unregister(fd: fd)
        Glibc.close(fd)
        retained = []
    }

    func closeFromAnyThread() -> EventLoopFuture<Void> {
        loop.execute { [self] in close() }
        return closePromise.futureResult
    }

    func writeFromAnyThread(_ bytes: [UInt8]) {
        loop.execute { [self] in
            var b = loop.allocator.buffer(capacity: bytes.count)
            b.writeBytes(bytes)
            write(b, onWritten: nil)
        }
    }
}
#endif
