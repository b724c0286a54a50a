import Foundation
import NIOCore

/// A byte protocol of another module (the HTTP feature server) served on the I/O engine's shard
/// loops, beside the RESP port: `LarderServer.listenOnEngine` accepts on the first loop and hands
/// each connection to the loops in turn, as the RESP listener does, and the module's session
/// gets its bytes there. A request whose keys are on the connection's shard is then answered on
/// that thread at once (`ServerState.runOnShardHere`), with no hop to a NIO thread and back.
///
/// Every call is made on the connection's loop (`EngineTransport.eventLoop`).
public protocol EngineSession: AnyObject {
    /// The connection is open; `transport` is how the session writes and closes.
    func connected(_ transport: EngineTransport)
    /// Bytes read, in the loop's shared read buffer: a session that keeps some for later keeps
    /// this value (the loop's next read then takes fresh storage, as ByteBuffer copies on write).
    /// Each call is one read: the session flushes its answers before it returns.
    func received(_ bytes: ByteBuffer)
    /// `transport.isWritable` changed: over 16 KB queued (the RESP connections' high mark), or
    /// back under 8 KB.
    func writabilityChanged()
    /// The peer shut down its sending side (half-close). True: the connection stays open so the
    /// session can finish answering (it then closes, e.g. `writeThenClose`); false: it closes now.
    func peerClosedInput() -> Bool
    /// The connection closed (by the peer, an error, or the transport); nothing more is called.
    func disconnected()
}

/// What an `EngineSession` gets of its connection: writes are sent at once (epoll) or at the
/// loop's next io_uring_enter (uring); what the socket does not take is queued, and
/// `isWritable` is false while more than 16 KB is. On the connection's loop unless marked
/// "any thread".
public final class EngineTransport {
    /// Dropped when the connection closes: calls after that do nothing.
    var connection: ConnectionTransport?
    /// The connection's shard loop: the session's work and answers run here.
    public let eventLoop: EventLoop

    init(connection: ConnectionTransport, eventLoop: EventLoop) {
        self.connection = connection
        self.eventLoop = eventLoop
    }

    public var remoteAddress: SocketAddress? { connection?.remoteAddress }
    public var isWritable: Bool { connection?.isWritable ?? false }
    /// Bytes written and not yet taken by the socket.
    public var bufferedBytes: Int { connection?.bufferedBytes ?? 0 }
    public var isOpen: Bool { connection != nil }
    public func makeBuffer(capacity: Int) -> ByteBuffer {
        connection?.makeBuffer(capacity: capacity) ?? ByteBufferAllocator().buffer(capacity: capacity)
    }
    /// Writes (and flushes) `bytes`. Once the socket has taken them the transport holds no
    /// reference, so a session reusing its buffer (clear()) keeps the storage.
    public func write(_ bytes: ByteBuffer) { connection?.write(bytes, onWritten: nil) }
    /// Writes `bytes`, then closes: at once, or (`graceful`) by shutting down our side first and
    /// closing when the peer does (or after 2 s), so a client still sending is not reset before
    /// it reads the answer.
    public func writeThenClose(_ bytes: ByteBuffer, graceful: Bool) { connection?.writeThenClose(bytes, graceful: graceful) }
    public func close() { connection?.close() }
    /// Any thread (the server stopping). The future completes once the connection is closed.
    public func closeFromAnyThread() -> EventLoopFuture<Void> {
        guard let c = connection else { return eventLoop.makeSucceededVoidFuture() }
        return c.closeFromAnyThread()
    }
}

/// A module's `EngineSession` on an engine socket.
final class EngineSessionBridge {
    let session: EngineSession
    let eventLoop: EventLoop
    private var engineTransport: EngineTransport?

    init(session: EngineSession, eventLoop: EventLoop) {
        self.session = session
        self.eventLoop = eventLoop
    }

    func connected(_ connection: ConnectionTransport) {
        let t = EngineTransport(connection: connection, eventLoop: eventLoop)
        engineTransport = t
        session.connected(t)
    }

    func received(_ bytes: ByteBuffer) { session.received(bytes) }
    func writabilityChanged() { session.writabilityChanged() }
    func peerClosedInput() -> Bool { session.peerClosedInput() }

    func disconnected() {
        engineTransport?.connection = nil
        engineTransport = nil
        session.disconnected()
    }
}

/// A port opened by `LarderServer.listenOnEngine`.
public final class EngineListening: @unchecked Sendable {
    public let port: Int
    private var closeListener: (() -> Void)?
    private let lock = NSLock()

    init(port: Int, close: @escaping () -> Void) {
        self.port = port
        self.closeListener = close
    }

    /// Stops accepting (open connections stay: their session closes them). Idempotent.
    public func close() {
        let close: (() -> Void)? = lock.withLock { defer { closeListener = nil }; return closeListener }
        close?()
    }
}
