import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A socket that sends bytes as given and returns the bytes that come back, for tests that
/// check exact wire encodings, malformed requests and connection closes.
final class RawConnection {
    private let fd: Int32

    init(port: Int) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let r = withUnsafePointer(to: &addr) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        if r != 0 { close(fd); throw NSError(domain: "RawConnection", code: Int(errno)) }
    }

    deinit { close(fd) }

    /// Sends everything; false when the peer has gone.
    @discardableResult
    func send(_ bytes: [UInt8]) -> Bool {
        var off = 0
        while off < bytes.count {
            let n = bytes[off...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { return false }
            off += n
        }
        return true
    }

    func send(_ text: String) { send(Array(text.utf8)) }

    func command(_ args: String...) { send(TestClient.encode(args.map { Array($0.utf8) })) }

    /// What arrives within `timeout` seconds of quiet, and whether the server closed the socket.
    func receive(timeout: Double = 0.3) -> (text: String, closed: Bool) {
        var out: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 65536)
        while true {
            var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let ready = poll(&p, 1, Int32(timeout * 1000))
            if ready <= 0 { return (String(decoding: out, as: UTF8.self), false) }
            let n = buf.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n <= 0 { return (String(decoding: out, as: UTF8.self), true) }
            out += buf[0..<n]
        }
    }

    /// Waits up to `timeout` seconds for exactly `expected`, returning what arrived.
    func receive(expecting expected: String, timeout: Double = 5) -> String {
        var got = ""
        let deadline = Date().addingTimeInterval(timeout)
        while got.utf8.count < expected.utf8.count && Date() < deadline {
            let r = receive(timeout: 0.1)
            got += r.text
            if r.closed { break }
        }
        return got
    }
}
