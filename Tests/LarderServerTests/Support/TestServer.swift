import Foundation
import LarderRESP
import LarderServer
#if canImport(Glibc)
import Glibc
#endif

/// A real `LarderServer` on an ephemeral port, for tests that speak RESP over a socket.
final class TestServer {
    let server: LarderServer
    let port: Int

    /// The directory of SAVE's snapshot: a fresh one (removed with the server), or the one
    /// given, so a second server can start from the first one's snapshot.
    let dir: String
    private let ownsDir: Bool

    init(threads: Int = 2, requirePass: String? = nil, dir given: String? = nil, savePoints: [SavePoint] = [],
         keepLoading: Bool = false, appendOnly: AppendFsync? = nil) throws {
        ownsDir = given == nil
        dir = given ?? NSTemporaryDirectory() + "larder-test-\(getpid())-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let settings = ServerSettings(port: 0, bind: "127.0.0.1", threads: threads, pinThreads: false, requirePass: requirePass,
                                      dir: dir, savePoints: savePoints)
        if let appendOnly {
            settings.aof.isEnabled = true
            settings.aof.fsync = appendOnly
        }
        server = LarderServer(settings: settings)
        port = try server.start(keepLoading: keepLoading)
    }

    func client() throws -> TestClient { try TestClient(port: port) }

    deinit {
        server.stop()
        server.waitUntilStopped()
        if ownsDir { try? FileManager.default.removeItem(atPath: dir) }
    }
}

/// A reply as the tests see it. RESP3 maps, sets and pushes keep their kind.
indirect enum Reply: Equatable, CustomStringConvertible {
    case simple(String), error(String), integer(Int), bulk([UInt8]), null, array([Reply])
    case map([(Reply, Reply)]), set([Reply]), double(String), boolean(Bool), verbatim(String), push([Reply])

    static func == (a: Reply, b: Reply) -> Bool { a.description == b.description }

    static func bulk(_ s: String) -> Reply { .bulk(Array(s.utf8)) }

    var description: String {
        switch self {
        case .simple(let s): return "+\(s)"
        case .error(let s): return "-\(s)"
        case .integer(let i): return ":\(i)"
        case .bulk(let b): return "$\(String(decoding: b, as: UTF8.self))"
        case .null: return "(nil)"
        case .array(let a): return "[\(a.map { $0.description }.joined(separator: ", "))]"
        case .map(let m): return "{\(m.map { "\($0.0): \($0.1)" }.joined(separator: ", "))}"
        case .set(let s): return "~[\(s.map { $0.description }.joined(separator: ", "))]"
        case .double(let d): return ",\(d)"
        case .boolean(let b): return "#\(b)"
        case .verbatim(let s): return "=\(s)"
        case .push(let p): return ">[\(p.map { $0.description }.joined(separator: ", "))]"
        }
    }

    var string: String? { if case .bulk(let b) = self { return String(decoding: b, as: UTF8.self) }; return nil }
}

/// A blocking RESP client over a plain socket.
final class TestClient {
    let fd: Int32
    private var buffer: [UInt8] = []
    private var pos = 0

    init(port: Int) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let r = withUnsafePointer(to: &addr) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        if r != 0 { throw NSError(domain: "TestClient", code: Int(errno)) }
        var tv = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    }

    deinit { close(fd) }

    static func encode(_ args: [[UInt8]]) -> [UInt8] {
        var out = Array("*\(args.count)\r\n".utf8)
        for a in args { out += Array("$\(a.count)\r\n".utf8); out += a; out += [13, 10] }
        return out
    }

    func sendRaw(_ bytes: [UInt8]) {
        var off = 0
        while off < bytes.count {
            let n = bytes[off...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, 0) }
            if n <= 0 { return }
            off += n
        }
    }

    func send(_ args: [String]) { sendRaw(Self.encode(args.map { Array($0.utf8) })) }

    /// Sends one command and reads its reply.
    @discardableResult
    func call(_ args: String...) throws -> Reply {
        send(args)
        return try read()
    }

    func callBytes(_ args: [[UInt8]]) throws -> Reply {
        sendRaw(Self.encode(args))
        return try read()
    }

    struct Closed: Error {}

    private func fill() throws {
        if pos > 0 && pos == buffer.count { buffer.removeAll(keepingCapacity: true); pos = 0 }
        var chunk = [UInt8](repeating: 0, count: 65536)
        let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        if n <= 0 { throw Closed() }
        buffer += chunk[0..<n]
    }

    /// True when the server closed the connection (reads EOF).
    func isClosedByServer() -> Bool {
        do { try fill(); return false } catch { return true }
    }

    /// The next reply, read with the protocol module's client-side reader.
    func read() throws -> Reply {
        while true {
            var at = pos
            if let reply = try RESPReplyReader.parse(buffer, at: &at) {
                pos = at
                return Reply(reply)
            }
            try fill()
        }
    }
}

extension Reply {
    /// The tests' view of a reply: integers as Int, verbatim strings as their text.
    init(_ r: RESPReply) {
        switch r {
        case .simple(let s): self = .simple(s)
        case .error(let s), .bulkError(let s): self = .error(s)
        case .integer(let i): self = .integer(Int(i))
        case .bulk(let b): self = .bulk(b)
        case .null: self = .null
        case .array(let a): self = .array(a.map(Reply.init))
        case .set(let a): self = .set(a.map(Reply.init))
        case .push(let a): self = .push(a.map(Reply.init))
        case .map(let entries): self = .map(entries.map { (Reply($0.key), Reply($0.value)) })
        case .double(let d), .bigNumber(let d): self = .double(d)
        case .boolean(let b): self = .boolean(b)
        case .verbatim(_, let text): self = .verbatim(String(decoding: text, as: UTF8.self))
        }
    }
}
