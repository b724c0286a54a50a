import LarderRESP
import Glibc

/// Where a RESP server is and how to log in: from `redis://[[user]:password@]host:port[/db]`
/// or from Feast's `connection_string` (`host:port[,db=N][,password=..][,username=..]`).
public struct RESPEndpoint: Equatable, Sendable, CustomStringConvertible {
    public var host: String
    public var port: Int
    public var db: Int
    public var username: String?
    public var password: String?

    public init(host: String = "127.0.0.1", port: Int = 6379, db: Int = 0, username: String? = nil, password: String? = nil) {
        self.host = host
        self.port = port
        self.db = db
        self.username = username
        self.password = password
    }

    /// Parses `redis://...`; nil with a reason thrown as RESPClientError.
    public init(url: String) throws {
        guard url.hasPrefix("redis://") else { throw RESPClientError("target \"\(url)\" must start with redis://") }
        var rest = Substring(url.dropFirst("redis://".count))
        self.init()
        if let at = rest.lastIndex(of: "@") {
            let credentials = rest[..<at]
            rest = rest[rest.index(after: at)...]
            if let colon = credentials.firstIndex(of: ":") {
                let user = credentials[..<colon]
                username = user.isEmpty ? nil : try RESPEndpoint.percentDecoded(user, in: url)
                password = try RESPEndpoint.percentDecoded(credentials[credentials.index(after: colon)...], in: url)
            } else if !credentials.isEmpty {
                password = try RESPEndpoint.percentDecoded(credentials, in: url)
            }
        }
        if let slash = rest.firstIndex(of: "/") {
            let dbText = rest[rest.index(after: slash)...]
            if !dbText.isEmpty {
                guard let parsed = Int(dbText), parsed >= 0 else { throw RESPClientError("bad database number in \"\(url)\"") }
                db = parsed
            }
            rest = rest[..<slash]
        }
        try parseHostPort(rest, in: url)
    }

    /// URL user info is percent-encoded (`%40` for `@`, `%3A` for `:`, `%25` for `%`).
    static func percentDecoded(_ text: Substring, in url: String) throws -> String {
        var bytes: [UInt8] = []
        var utf8 = Array(text.utf8)[...]
        while let byte = utf8.popFirst() {
            guard byte == UInt8(ascii: "%") else { bytes.append(byte); continue }
            guard utf8.count >= 2, let high = hexValue(utf8[utf8.startIndex]), let low = hexValue(utf8[utf8.startIndex + 1]) else {
                throw RESPClientError("bad percent-escape in the credentials of \"\(url)\" (write % as %25)")
            }
            bytes.append(high << 4 | low)
            utf8 = utf8.dropFirst(2)
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    private static func hexValue(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0") ... UInt8(ascii: "9"): return c - UInt8(ascii: "0")
        case UInt8(ascii: "a") ... UInt8(ascii: "f"): return c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A") ... UInt8(ascii: "F"): return c - UInt8(ascii: "A") + 10
        default: return nil
        }
    }

    /// Parses Feast's `connection_string` (only the first host is used, as Feast does for
    /// `redis_type: redis`).
    public init(connectionString: String) throws {
        self.init()
        let parts = connectionString.split(separator: ",").map { $0.trimmingCharacters(in: " ") }
        var hostSeen = false
        for part in parts where !part.isEmpty {
            if let eq = part.firstIndex(of: "=") {
                let name = part[..<eq], value = String(part[part.index(after: eq)...])
                switch name {
                case "db":
                    guard let parsed = Int(value) else { throw RESPClientError("bad db in connection_string \"\(connectionString)\"") }
                    db = parsed
                case "password": password = value
                case "username": username = value
                default: continue  // ssl, socket_timeout...: not used by Larder's client
                }
            } else if !hostSeen {
                hostSeen = true
                try parseHostPort(Substring(part), in: connectionString)
            }
        }
    }

    private mutating func parseHostPort(_ text: Substring, in whole: String) throws {
        if text.isEmpty { return }
        if let colon = text.lastIndex(of: ":") {
            let hostText = text[..<colon]
            if !hostText.isEmpty { host = String(hostText) }
            guard let parsed = Int(text[text.index(after: colon)...]), (1 ... 65535).contains(parsed) else {
                throw RESPClientError("bad port in \"\(whole)\"")
            }
            port = parsed
        } else {
            host = String(text)
        }
    }

    public var description: String { "redis://\(host):\(port)/\(db)" }
}

private extension Substring {
    func trimmingCharacters(in set: Character) -> Substring {
        var s = self
        while s.first == set { s = s.dropFirst() }
        while s.last == set { s = s.dropLast() }
        return s
    }
}

public struct RESPClientError: Error, CustomStringConvertible, Sendable {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// A small blocking RESP client for pipelines: commands are encoded into one buffer and
/// sent with one write, then the replies are read in order. Used by `larder materialize`
/// against redis-server or a Larder server.
public final class RESPClient {
    public let endpoint: RESPEndpoint
    private var fd: Int32 = -1
    private var output: [UInt8] = []
    private var input: [UInt8] = []
    private var inputStart = 0
    /// Bytes written to the socket so far.
    public private(set) var bytesSent = 0

    /// Connect, send and receive timeout in seconds: a target that accepts and never answers
    /// fails the run with an error naming it instead of hanging. 30 s, or
    /// `LARDER_TARGET_TIMEOUT_SECONDS`.
    public let timeoutSeconds: Double

    public init(endpoint: RESPEndpoint) throws {
        self.endpoint = endpoint
        if let text = getenv("LARDER_TARGET_TIMEOUT_SECONDS").map({ String(cString: $0) }), let value = Double(text), value > 0 {
            timeoutSeconds = value
        } else {
            timeoutSeconds = 30
        }
        try connect()
        if let password = endpoint.password {
            var args: [[UInt8]] = [Array("AUTH".utf8)]
            if let user = endpoint.username { args.append(Array(user.utf8)) }
            args.append(Array(password.utf8))
            try expectOK(call(args), doing: "AUTH")
        }
        if endpoint.db != 0 {
            try expectOK(call([Array("SELECT".utf8), Array(String(endpoint.db).utf8)]), doing: "SELECT \(endpoint.db)")
        }
    }

    deinit { if fd >= 0 { close(fd) } }

    private func expectOK(_ reply: RESPReply, doing what: String) throws {
        if case .error(let message) = reply { throw RESPClientError("\(endpoint): \(what) failed: \(message)") }
    }

    private func connect() throws {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(endpoint.host, String(endpoint.port), &hints, &list)
        guard status == 0, let first = list else {
            throw RESPClientError("\(endpoint): cannot resolve host \(endpoint.host): \(String(cString: gai_strerror(status)))")
        }
        defer { freeaddrinfo(list) }
        var lastError = ECONNREFUSED
        var info: UnsafeMutablePointer<addrinfo>? = first
        while let ai = info {
            let s = socket(ai.pointee.ai_family, ai.pointee.ai_socktype, ai.pointee.ai_protocol)
            if s >= 0 {
                // SO_SNDTIMEO also bounds a blocking connect on Linux.
                var tv = timeval(tv_sec: Int(timeoutSeconds), tv_usec: Int((timeoutSeconds - Double(Int(timeoutSeconds))) * 1e6))
                setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
                setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
                if Glibc.connect(s, ai.pointee.ai_addr, ai.pointee.ai_addrlen) == 0 {
                    var one: Int32 = 1
                    setsockopt(s, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
                    fd = s
                    return
                }
                lastError = errno
                close(s)
            }
            info = ai.pointee.ai_next
        }
        throw RESPClientError("\(endpoint): cannot connect: \(String(cString: strerror(lastError)))")
    }

    /// Queues one command (arguments as byte strings) without sending it.
    public func append<Arg: Collection>(_ args: [Arg]) where Arg.Element == UInt8 {
        appendHeader(count: args.count)
        for arg in args { appendArgument(arg) }
    }

    /// Queues the `*N` header of a command whose N arguments follow through `appendArgument`.
    public func appendHeader(count: Int) {
        output.append(UInt8(ascii: "*"))
        appendDecimal(count)
        output.append(13); output.append(10)
    }

    public func appendArgument<Arg: Collection>(_ arg: Arg) where Arg.Element == UInt8 {
        output.append(UInt8(ascii: "$"))
        appendDecimal(arg.count)
        output.append(13); output.append(10)
        output.append(contentsOf: arg)
        output.append(13); output.append(10)
    }

    private func appendDecimal(_ value: Int) {
        if value < 10 { output.append(UInt8(ascii: "0") + UInt8(value)); return }
        var digits: [UInt8] = []
        var v = value
        while v > 0 { digits.append(UInt8(ascii: "0") + UInt8(v % 10)); v /= 10 }
        output.append(contentsOf: digits.reversed())
    }

    /// Sends everything queued.
    public func flush() throws {
        var written = 0
        try output.withUnsafeBytes { raw in
            guard let base = raw.baseAddress else { return }
            while written < raw.count {
                let n = send(fd, base + written, raw.count - written, Int32(MSG_NOSIGNAL))
                if n < 0 && errno == EINTR { continue }
                if n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) {
                    throw RESPClientError("\(endpoint): write timed out after \(timeoutSeconds) s (target not reading)")
                }
                if n <= 0 { throw RESPClientError("\(endpoint): write failed: \(String(cString: strerror(errno)))") }
                written += n
            }
        }
        bytesSent += written
        output.removeAll(keepingCapacity: true)
    }

    /// Sends one command and returns its reply.
    public func call<Arg: Collection>(_ args: [Arg]) throws -> RESPReply where Arg.Element == UInt8 {
        append(args)
        try flush()
        return try readReply()
    }

    /// Reads the next reply.
    public func readReply() throws -> RESPReply {
        while true {
            var cursor = inputStart
            let parsed: RESPReply?
            do {
                parsed = try RESPReplyReader.parse(input, at: &cursor)
            } catch let e as RESPReplyError {
                throw RESPClientError("\(endpoint): \(e.message) (not a RESP reply)")
            }
            if let reply = parsed {
                inputStart = cursor
                if inputStart == input.count {
                    input.removeAll(keepingCapacity: true)
                    inputStart = 0
                }
                return reply
            }
            try fill()
        }
    }

    private func fill() throws {
        if inputStart > 0 && inputStart > input.count / 2 {
            input.removeFirst(inputStart)
            inputStart = 0
        }
        let chunk = 1 << 16
        let old = input.count
        input.append(contentsOf: repeatElement(0, count: chunk))
        let n = input.withUnsafeMutableBytes { raw -> Int in
            guard let base = raw.baseAddress else { return -1 }
            while true {
                let r = recv(fd, base + old, chunk, 0)
                if r < 0 && errno == EINTR { continue }
                return r
            }
        }
        input.removeLast(chunk - max(n, 0))
        if n == 0 { throw RESPClientError("\(endpoint): connection closed by the server") }
        if n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) {
            throw RESPClientError("\(endpoint): no reply within \(timeoutSeconds) s (read timeout)")
        }
        if n < 0 { throw RESPClientError("\(endpoint): read failed: \(String(cString: strerror(errno)))") }
    }
}
