import LarderServer
import NIOCore

/// An HTTP connection on the I/O engine's shard loops (`larder serve --io epoll|uring`): the
/// engine's socket reads into its loop's buffer and hands the bytes here; a request whose keys
/// live on this loop's shard is answered within the read, and its answer leaves with that
/// read's write (no NIO thread, no hop).
final class HTTPEngineSession: EngineSession, HTTPConnectionIO {
    private var connection: HTTPConnection<HTTPEngineSession>!
    private var transport: EngineTransport?
    let loop: EventLoop
    /// Told when the connection closes (the server's list of open connections).
    private let onClose: (HTTPEngineSession) -> Void

    init(api: HTTPFeatureAPI, maxBodyBytes: Int, maxHeaderBytes: Int, loop: EventLoop, onClose: @escaping (HTTPEngineSession) -> Void) {
        self.loop = loop
        self.onClose = onClose
        connection = HTTPConnection(api: api, maxBodyBytes: maxBodyBytes, maxHeaderBytes: maxHeaderBytes, io: self)
    }

    /// Any thread: closes the connection (the server stopping).
    func closeFromAnyThread() -> EventLoopFuture<Void> {
        loop.flatSubmit { [self] in transport?.closeFromAnyThread() ?? loop.makeSucceededVoidFuture() }
    }

    // MARK: EngineSession

    func connected(_ transport: EngineTransport) { self.transport = transport }

    /// Each read is a batch of its own: its answers leave before the next read.
    func received(_ bytes: ByteBuffer) {
        connection.received(bytes)
        connection.readComplete()
    }

    /// Answers keep being written while the client is slow to read (they queue in the
    /// transport, as in NIO's channel); `holdsReads` bounds what it can pipeline meanwhile.
    func writabilityChanged() {}

    func peerClosedInput() -> Bool {
        connection.peerClosedInput()
        return true
    }

    func disconnected() {
        connection.closed()
        transport = nil
        onClose(self)
    }

    // MARK: HTTPConnectionIO

    func send(_ out: ByteBuffer) { transport?.write(out) }

    func sendThenClose(_ out: ByteBuffer) { transport?.writeThenClose(out, graceful: false) }

    func resumeReads() {}
}
