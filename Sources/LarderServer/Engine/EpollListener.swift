#if os(Linux)
import CLarderSupport
import Glibc
import LarderLog
import NIOCore

/// The plain RESP port of the epoll engine: a non-blocking listening socket on the first loop,
/// which accepts and hands each connection to the loops in turn (as NIO's acceptor does), where
/// it lives for life.
final class EpollListener: EpollHandler {
    let fd: Int32
    let port: Int
    private let loops: [EpollEventLoop]
    private let accept: (Int32, EpollEventLoop) -> Void
    private var nextLoop = 0

    /// Binds and listens (on the calling thread); `accept` runs on the connection's own loop.
    init(host: String, port: Int, loops: [EpollEventLoop], accept: @escaping (Int32, EpollEventLoop) -> Void) throws {
        let fd = try Self.listeningSocket(host: host, port: port)
        self.fd = fd
        self.port = EpollConnection.address(fd, peer: false)?.port ?? port
        self.loops = loops
        self.accept = accept
    }

    /// A bound, listening, non-blocking socket (the io_uring engine's listener uses it too).
    static func listeningSocket(host: String, port: Int) throws -> Int32 {
        let address = try SocketAddress.makeAddressResolvingHost(host, port: port)
        let family: Int32
        switch address {
        case .v4: family = AF_INET
        case .v6: family = AF_INET6
        case .unixDomainSocket: throw IOError(errnoCode: EAFNOSUPPORT, reason: "listener on \(host)")
        }
        let fd = socket(family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw IOError(errnoCode: errno, reason: "socket") }
        var one: Int32 = 1
        _ = setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        let bound = address.withSockAddr { bind(fd, $0, socklen_t($1)) }
        guard bound == 0 else {
            let e = errno
            Glibc.close(fd)
            throw IOError(errnoCode: e, reason: "bind(descriptor:ptr:bytes:)")
        }
        guard listen(fd, 511) == 0 else {
            let e = errno
            Glibc.close(fd)
            throw IOError(errnoCode: e, reason: "listen")
        }
        return fd
    }

    /// Starts accepting on the first loop.
    func start() -> EventLoopFuture<Void> {
        let first = loops[0]
        return first.submit { [self] in
            guard first.register(fd: fd, events: EPOLLIN.rawValue, handler: self) else {
                throw IOError(errnoCode: errno, reason: "epoll_ctl")
            }
        }
    }

    func epollEvents(_ events: UInt32) {
        while true {
            let c = larder_accept_nonblocking(fd)
            if c < 0 {
                if errno == EINTR || errno == ECONNABORTED { continue }
                if errno != EAGAIN && errno != EWOULDBLOCK {
                    // EMFILE and the like: the pending connection stays in the backlog; log and retry later.
                    LarderLog.server.warning("accept failed: errno \(errno)", metadata: ["event": "accept_failed"])
                }
                return
            }
            var one: Int32 = 1
            _ = setsockopt(c, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
            let loop = loops[nextLoop % loops.count]
            nextLoop &+= 1
            let accept = self.accept
            if loop.inEventLoop { accept(c, loop) } else { loop.execute { accept(c, loop) } }
        }
    }

    /// Stops accepting (on the first loop).
    func close() -> EventLoopFuture<Void> {
        let first = loops[0]
        return first.submit { [self] in
            first.unregister(fd: fd)
            Glibc.close(fd)
        }
    }
}
#endif
