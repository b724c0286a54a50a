#if os(Linux)
import CLiburing
import Glibc
import LarderLog
import NIOCore

/// The plain RESP port of the io_uring engine: one multishot accept on the first loop's ring,
/// handing each connection to the loops in turn, where it lives for life. One listener rather
/// than one SO_REUSEPORT socket per loop: the kernel's reuseport hash spreads a few connections
/// unevenly (two clients may land on one shard thread and leave the other idle), while turns
/// spread them as NIO's acceptor and EpollListener do; and accepting costs no system call of
/// its own either way, since the accept completes inside the loop's io_uring_enter.
final class UringListener {
    let fd: Int32
    let port: Int
    private let loops: [UringEventLoop]
    private let accept: (Int32, UringEventLoop) -> Void
    private var nextLoop = 0
    private var gen: UInt32 = 0
    private var closed = false

    /// Binds and listens (on the calling thread); `accept` runs on the connection's own loop.
    init(host: String, port: Int, loops: [UringEventLoop], accept: @escaping (Int32, UringEventLoop) -> Void) throws {
        let fd = try EpollListener.listeningSocket(host: host, port: port)
        self.fd = fd
        self.port = EpollConnection.address(fd, peer: false)?.port ?? port
        self.loops = loops
        self.accept = accept
    }

    /// Starts accepting on the first loop.
    func start() -> EventLoopFuture<Void> {
        let first = loops[0]
        return first.submit { [self] in
            gen = first.register(fd: fd, listener: self)
            first.prepareAccept(fd: fd, gen: gen)
        }
    }

    func completion(_ op: UringEventLoop.Op, result: Int32, flags: UInt32) {
        guard op == .accept, !closed else {
            if result >= 0 && op == .accept { Glibc.close(result) }
            return
        }
        if result >= 0 {
            let c = result
            var one: Int32 = 1
            _ = setsockopt(c, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
            let loop = loops[nextLoop % loops.count]
            nextLoop &+= 1
            let accept = self.accept
            if loop.inEventLoop { accept(c, loop) } else { loop.execute { accept(c, loop) } }
        } else if -result != ECONNABORTED && -result != EINTR && -result != ECANCELED {
            // EMFILE and the like: the pending connection stays in the backlog; log and retry later.
            LarderLog.server.warning("accept failed: errno \(-result)", metadata: ["event": "accept_failed"])
        }
        if larder_uring_cqe_more(flags) == 0 {
            // The multishot accept ended (after an error, or the kernel's choice): arm it again,
            // after a pause if it failed, so a full descriptor table is not retried in a spin.
            let first = loops[0]
            if result >= 0 || -result == ECONNABORTED || -result == EINTR {
                first.prepareAccept(fd: fd, gen: gen)
            } else {
                first.scheduleTask(in: .milliseconds(100)) { [self] in
                    if !closed { first.prepareAccept(fd: fd, gen: gen) }
                }
            }
        }
    }

    /// Stops accepting (on the first loop).
    func close() -> EventLoopFuture<Void> {
        let first = loops[0]
        return first.submit { [self] in
            closed = true
            first.prepareCancel(.accept, fd: fd, gen: gen)
            first.unregister(fd: fd)
            Glibc.close(fd)
        }
    }
}
#endif
