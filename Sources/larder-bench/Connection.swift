// One client connection: a non-blocking TCP socket, hiredis' reply reader, the bytes still to
// send and the send times of the requests in flight.
import CBenchSys
import CHiredis
import Glibc

struct BenchError: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}

func errnoText(_ e: Int32 = errno) -> String { String(cString: strerror(e)) }

final class Connection {
    let index: Int
    let fd: Int32
    let reader: UnsafeMutablePointer<redisReader>
    let out = OutBuffer()
    var inflight = TimeQueue()
    var writeArmed = false
    var dirty = false  // open loop: has new bytes to flush this round

    /// Connects (blocking, 5 s timeout), then switches to non-blocking with TCP_NODELAY.
    init(index: Int, host: String, port: Int) throws {
        self.index = index
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var res: UnsafeMutablePointer<addrinfo>?
        let gai = getaddrinfo(host, String(port), &hints, &res)
        guard gai == 0, let first = res else {
            throw BenchError("cannot connect to \(host):\(port): \(String(cString: gai_strerror(gai)))")
        }
        defer { freeaddrinfo(res) }
        var lastError: Int32 = 0
        var fd: Int32 = -1
        var ai: UnsafeMutablePointer<addrinfo>? = first
        while let a = ai {
            let s = socket(a.pointee.ai_family, a.pointee.ai_socktype, a.pointee.ai_protocol)
            if s >= 0 {
                var tv = timeval(tv_sec: 5, tv_usec: 0)
                setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
                if connect(s, a.pointee.ai_addr, a.pointee.ai_addrlen) == 0 { fd = s; break }
                lastError = errno
                close(s)
            } else {
                lastError = errno
            }
            ai = a.pointee.ai_next
        }
        guard fd >= 0 else { throw BenchError("cannot connect to \(host):\(port): \(errnoText(lastError))") }
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        self.fd = fd
        guard let r = redisReaderCreate() else { close(fd); throw BenchError("redisReaderCreate failed") }
        reader = r
    }

    deinit {
        redisReaderFree(reader)
        close(fd)
    }

    /// Writes as much of `out` as the socket takes. Returns false if bytes remain (EAGAIN).
    func flush() throws -> Bool {
        while out.count > 0 {
            let n = send(fd, out.readPointer, out.count, Int32(MSG_NOSIGNAL))
            if n > 0 {
                out.consume(n)
            } else if n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) {
                return false
            } else if n < 0 && errno == EINTR {
                continue
            } else {
                throw BenchError("connection \(index): write failed: \(errnoText())")
            }
        }
        return true
    }

    /// The reader's error text after redisReaderGetReply returned REDIS_ERR.
    var readerError: String {
        withUnsafeBytes(of: reader.pointee.errstr) { raw in
            String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
        }
    }
}
