#if os(Linux)
import CLarderSupport
import Glibc
import NIOCore

/// One RESP client socket of the epoll engine: read straight into its loop's shared buffer and
/// handed to the `ConnectionHandler`; replies are sent at once, and only what the socket does
/// not take is queued, with EPOLLOUT asked for until it drains (backpressure only).
final class EpollConnection: EpollHandler, ConnectionTransport {
    let fd: Int32
    let loop: EpollEventLoop
    private var handler: ConnectionHandler?
    /// Instead of `handler`: a module's session (LarderServer.listenOnEngine). Two fields, not an
    /// enum or a protocol, so the RESP path's calls are what they were (an enum's optional copy
    /// cost ~25 instructions per GET under callgrind).
    private var session: EngineSessionBridge?
    let remoteAddress: SocketAddress?
    let localAddress: SocketAddress?
    /// What the socket did not take yet (shared with the io_uring engine: OutboundQueue).
    private var queue = OutboundQueue()
    private var wantsOutput = false
    var isWritable: Bool { queue.isWritable }
    /// Our side is shut down (closeGracefully): input is discarded until the peer closes.
    private var outputShut = false
    /// The peer shut down its side and the owner keeps the connection (HTTP): no read events.
    private var inputEnded = false
    private var readEvents: UInt32 { inputEnded ? 0 : EPOLLIN.rawValue | EPOLLRDHUP.rawValue }
    private var closed = false
    private let closePromise: EventLoopPromise<Void>
    static let maxReadsPerEvent = 4
    /// The shared read buffer grows to this while reads fill it, and falls back to 16 KB when
    /// they do not: a large buffer kept by a partial command is copied on the next read, and
    /// 1 MB swings showed against a small maxmemory (test_maxmemory's 4 MB server).
    static let minReadSize = 16 * 1024, maxReadSize = 64 * 1024

    init(fd: Int32, loop: EpollEventLoop, handler: ConnectionHandler?, session: EngineSessionBridge? = nil) {
        self.fd = fd
        self.loop = loop
        self.handler = handler
        self.session = session
        self.remoteAddress = Self.address(fd, peer: true)
        self.localAddress = Self.address(fd, peer: false)
        self.closePromise = loop.makePromise()
    }

    /// Registers with the loop and tells the handler (on the loop).
    func start() {
        guard loop.register(fd: fd, events: EPOLLIN.rawValue | EPOLLRDHUP.rawValue, handler: self) else {
            Glibc.close(fd)
            closePromise.succeed(())
            return
        }
        handler?.connected(self)
        session?.connected(self)
    }

    static func address(_ fd: Int32, peer: Bool) -> SocketAddress? {
        var storage = sockaddr_storage()
        var len = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let rc = withUnsafeMutablePointer(to: &storage) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { peer ? getpeername(fd, $0, &len) : getsockname(fd, $0, &len) }
        }
        guard rc == 0 else { return nil }
        switch Int32(storage.ss_family) {
        case AF_INET:
            return withUnsafePointer(to: &storage) { $0.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { SocketAddress($0.pointee) } }
        case AF_INET6:
            return withUnsafePointer(to: &storage) { $0.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { SocketAddress($0.pointee) } }
        default:
            return nil
        }
    }

    // MARK: events

    func epollEvents(_ events: UInt32) {
        if events & (EPOLLIN.rawValue | EPOLLRDHUP.rawValue | EPOLLHUP.rawValue | EPOLLERR.rawValue) != 0 { readable() }
        if !closed && events & EPOLLOUT.rawValue != 0 { drain() }
    }

    private func readable() {
        for _ in 0..<Self.maxReadsPerEvent {
            guard !closed else { return }
            var b = loop.readBuffer ?? loop.allocator.buffer(capacity: loop.readSize)
            loop.readBuffer = nil
            if b.capacity > Self.maxReadSize && loop.readSize <= Self.minReadSize {
                b = loop.allocator.buffer(capacity: loop.readSize)  // shrink after a burst
            }
            b.clear()
            let size = loop.readSize
            var rc = 0
            let n = b.writeWithUnsafeMutableBytes(minimumWritableBytes: size) { p in
                rc = Glibc.read(fd, p.baseAddress, min(p.count, size))
                return max(rc, 0)
            }
            if rc <= 0 {
                let err = rc < 0 ? errno : 0
                loop.readBuffer = b
                if err == EAGAIN || err == EWOULDBLOCK { return }
                if err == EINTR { continue }
                if rc == 0 && !inputEnded && !outputShut && session?.peerClosedInput() == true {
                    // Half-close: the owner answers what it read, then closes; reads end here.
                    inputEnded = true
                    if !closed { loop.modify(fd: fd, events: readEvents | (wantsOutput ? EPOLLOUT.rawValue : 0)) }
                    return
                }
                close()  // EOF, or a socket error
                return
            }
            // A read that filled the buffer: the next ones may take more at once.
            if n == size && size < Self.maxReadSize {
                loop.readSize = size * 2
            } else if n < size / 4 && size > Self.minReadSize {
                loop.readSize = Self.minReadSize
            }
            if outputShut {
                loop.readBuffer = b
                continue
            }
            handler?.received(b)
            session?.received(b)
            loop.readBuffer = b
            if n < size { return }
        }
    }

    // MARK: ConnectionTransport

    var bufferedBytes: Int? { queue.bytes }

    func makeBuffer(capacity: Int) -> ByteBuffer { loop.allocator.buffer(capacity: capacity) }

    func write(_ bytes: ByteBuffer, onWritten: (() -> Void)?) {
        guard !closed, !outputShut else { onWritten?(); return }
        var bytes = bytes
        if queue.isEmpty {
            // Nothing queued: straight to the socket.
            let sent = bytes.withUnsafeReadableBytes { send($0) }
            if sent < 0 { return }
            if sent == bytes.readableBytes { onWritten?(); return }
            bytes.moveReaderIndex(forwardBy: sent)
        }
        let overHigh = queue.append(bytes, onWritten: onWritten)
        if !wantsOutput {
            wantsOutput = true
            loop.modify(fd: fd, events: readEvents | EPOLLOUT.rawValue)
        }
        if overHigh {
            handler?.writabilityChanged()
            session?.writabilityChanged()
        }
    }

    /// Sends what the socket takes of `bytes`: how many it took, or -1 if the connection failed
    /// (and is closed).
    private func send(_ bytes: UnsafeRawBufferPointer) -> Int {
        var sent = 0
        while sent < bytes.count {
            let n = Glibc.send(fd, bytes.baseAddress! + sent, bytes.count - sent, Int32(MSG_NOSIGNAL))
            if n > 0 { sent += n; continue }
            if errno == EINTR { continue }
            if errno == EAGAIN || errno == EWOULDBLOCK { return sent }
            close()
            return -1
        }
        return sent
    }

    private func drain() {
        while !queue.isEmpty {
            let (sent, whole) = queue.withReadableBytes(0) { p in (send(p), p.count) }
            guard sent >= 0 else { return }
            for done in queue.consume(sent) {
                done()
                if closed { return }
            }
            if sent < whole { break }
        }
        if queue.isEmpty && wantsOutput {
            wantsOutput = false
            loop.modify(fd: fd, events: readEvents)
        }
        if queue.becameWritable() {
            handler?.writabilityChanged()
            session?.writabilityChanged()
        }
        if queue.isEmpty, let graceful = queue.closeWhenDrained {
            queue.closeWhenDrained = nil
            if graceful { closeGracefully() } else { close() }
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
        loop.unregister(fd: fd)
        Glibc.close(fd)
        // What never left is dropped; its waiters are told, as NIO fails their promises.
        for w in queue.removeAll() { w() }
        handler?.disconnected()
        session?.disconnected()
        handler?.transport = nil
        handler = nil
        session = nil
        closePromise.succeed(())
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
