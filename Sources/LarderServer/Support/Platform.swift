#if canImport(Glibc)
import Glibc
#endif
import CLarderSupport
import NIOCore

enum ThreadAffinity {
    /// Pins the calling thread to one core, so a shard's data stays in that core's caches.
    static func pin(core: Int) {
        _ = larder_pin_current_thread(Int32(core))
    }
}

enum TCPKeepalive {
    static func configure(_ channel: Channel, idleSeconds: Int) {
        #if os(Linux)
        let idle = Int32(idleSeconds)
        let interval = Int32(max(1, idleSeconds / 3))
        _ = channel.setOption(ChannelOptions.socketOption(.init(rawValue: TCP_KEEPIDLE)), value: SocketOptionValue(idle))
        _ = channel.setOption(ChannelOptions.socketOption(.init(rawValue: TCP_KEEPINTVL)), value: SocketOptionValue(interval))
        _ = channel.setOption(ChannelOptions.socketOption(.init(rawValue: TCP_KEEPCNT)), value: 3)
        #endif
    }

    /// The epoll engine's sockets: the same settings, on a bare descriptor.
    static func configure(fd: Int32, idleSeconds: Int) {
        #if os(Linux)
        var on: Int32 = 1, idle = Int32(idleSeconds), interval = Int32(max(1, idleSeconds / 3)), count: Int32 = 3
        let size = socklen_t(MemoryLayout<Int32>.size)
        _ = setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, size)
        _ = setsockopt(fd, Int32(IPPROTO_TCP), TCP_KEEPIDLE, &idle, size)
        _ = setsockopt(fd, Int32(IPPROTO_TCP), TCP_KEEPINTVL, &interval, size)
        _ = setsockopt(fd, Int32(IPPROTO_TCP), TCP_KEEPCNT, &count, size)
        #endif
    }
}
