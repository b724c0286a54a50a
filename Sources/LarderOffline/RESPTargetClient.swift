import LarderRESP
import LarderTLS
import Glibc

/// How long the target client waits and how it recovers from a dropped connection.
public struct RESPClientOptions: Equatable, Sendable {
    /// Bound on establishing the TCP connection, seconds.
    public var connectTimeoutSeconds: Double
    /// Bound on each send and each receive (no byte sent or received for this long), seconds.
    public var timeoutSeconds: Double
    /// Reconnects tried after the connection drops during one operation (0: fail at once).
    public var reconnectAttempts: Int
    /// Wait before the first reconnect; doubled for each further one.
    public var backoffSeconds: Double

    public static let defaultTimeoutSeconds = 30.0

    public init(connectTimeoutSeconds: Double = RESPClientOptions.defaultTimeoutSeconds,
                timeoutSeconds: Double = RESPClientOptions.defaultTimeoutSeconds,
                reconnectAttempts: Int = 3, backoffSeconds: Double = 0.5) {
        self.connectTimeoutSeconds = connectTimeoutSeconds
        self.timeoutSeconds = timeoutSeconds
        self.reconnectAttempts = reconnectAttempts
        self.backoffSeconds = backoffSeconds
    }

    /// The defaults, with both timeouts from `LARDER_TARGET_TIMEOUT_SECONDS` when it is set to
    /// a positive number.
    public static func fromEnvironment() -> RESPClientOptions {
        var options = RESPClientOptions()
        if let text = getenv("LARDER_TARGET_TIMEOUT_SECONDS").map({ String(cString: $0) }),
           let value = Double(text), value > 0, value.isFinite {
            options.connectTimeoutSeconds = value
            options.timeoutSeconds = value
        }
        return options
    }

    /// Seconds as error messages print them (`2.0 s`, `0.25 s`).
    static func seconds(_ value: Double) -> String {
        value == value.rounded() ? "\(Int(value)).0 s" : "\(value) s"
    }
}

/// A small blocking RESP client for pipelines: commands are encoded into one buffer and
/// sent with one write, then the replies are read in order. Used by `larder materialize`
/// against redis-server or a Larder server.
public final class RESPClient {
    public let endpoint: RESPEndpoint
    public let options: RESPClientOptions
    private var fd: Int32 = -1
    /// The TLS session over `fd` for `rediss://` / `ssl=true` (LarderTLS: the same OpenSSL
    /// memory-BIO layer as the server's, driven here by blocking send/recv).
    private var tls: TLSConnection?
    private var tlsContext: TLSContext?
    private var output = RESPCommandBuffer()
    private var input: [UInt8] = []
    private var inputStart = 0
    /// Bytes written to the socket so far.
    public private(set) var bytesSent = 0

    /// Send and receive timeout in seconds (`options.timeoutSeconds`).
    public var timeoutSeconds: Double { options.timeoutSeconds }

    /// Connects, then `AUTH` and `SELECT` as the endpoint says.
    public init(endpoint: RESPEndpoint, options: RESPClientOptions = .fromEnvironment()) throws {
        self.endpoint = endpoint
        self.options = options
        if let config = endpoint.tls {
            do { tlsContext = try TLSContext.client(config) } catch {
                throw RESPClientError("\(endpoint): TLS: \(error)")
            }
        }
        try open()
    }

    deinit { if fd >= 0 { close(fd) } }

    /// Drops the current connection and anything queued or half read, and opens a new one
    /// (connect, `AUTH`, `SELECT`).
    public func reconnect() throws {
        if fd >= 0 { close(fd) }
        fd = -1
        tls = nil
        output.removeAll()
        input.removeAll(keepingCapacity: true)
        inputStart = 0
        try open()
    }

    private func open() throws {
        try connect()
        if let tlsContext { try handshake(tlsContext) }
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
            throw RESPClientError("\(endpoint): cannot resolve host \(endpoint.host): \(String(cString: gai_strerror(status)))",
                                  kind: .cannotConnect)
        }
        defer { freeaddrinfo(list) }
        var lastError = "connection refused"
        var info: UnsafeMutablePointer<addrinfo>? = first
        while let ai = info {
            info = ai.pointee.ai_next
            let s = socket(ai.pointee.ai_family, ai.pointee.ai_socktype, ai.pointee.ai_protocol)
            guard s >= 0 else { lastError = String(cString: strerror(errno)); continue }
            if let failure = RESPClient.connect(s, to: ai, within: options.connectTimeoutSeconds) {
                lastError = failure
                close(s)
                continue
            }
            var tv = timeval(tv_sec: Int(options.timeoutSeconds),
                             tv_usec: Int((options.timeoutSeconds - Double(Int(options.timeoutSeconds))) * 1e6))
            setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
            setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
            var one: Int32 = 1
            setsockopt(s, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
            fd = s
            return
        }
        throw RESPClientError("\(endpoint): cannot connect: \(lastError)", kind: .cannotConnect)
    }

    /// A non-blocking connect bounded by `seconds`; nil on success, else what failed.
    private static func connect(_ s: Int32, to ai: UnsafeMutablePointer<addrinfo>, within seconds: Double) -> String? {
        let flags = fcntl(s, F_GETFL)
        _ = fcntl(s, F_SETFL, flags | O_NONBLOCK)
        defer { _ = fcntl(s, F_SETFL, flags) }
        if Glibc.connect(s, ai.pointee.ai_addr, ai.pointee.ai_addrlen) == 0 { return nil }
        guard errno == EINPROGRESS else { return String(cString: strerror(errno)) }
        let deadline = MonotonicClock.now() + seconds
        while true {
            var pfd = pollfd(fd: s, events: Int16(POLLOUT), revents: 0)
            let left = deadline - MonotonicClock.now()
            if left <= 0 { return "connect timed out after \(RESPClientOptions.seconds(seconds))" }
            let r = poll(&pfd, 1, Int32(min(left * 1000, Double(Int32.max)).rounded(.up)))
            if r < 0 && errno == EINTR { continue }
            if r < 0 { return String(cString: strerror(errno)) }
            if r == 0 { continue }
            var error: Int32 = 0
            var length = socklen_t(MemoryLayout<Int32>.size)
            getsockopt(s, SOL_SOCKET, SO_ERROR, &error, &length)
            return error == 0 ? nil : String(cString: strerror(error))
        }
    }

    /// Errors of send/recv that mean the peer is gone (the operation can be retried on a new connection).
    private static func isConnectionLost(_ code: Int32) -> Bool {
        [EPIPE, ECONNRESET, ECONNABORTED, ENOTCONN, ETIMEDOUT, EHOSTUNREACH, ENETRESET, ENETUNREACH].contains(code)
    }

    /// Queues one command (arguments as byte strings) without sending it.
    public func append<Arg: Collection>(_ args: [Arg]) where Arg.Element == UInt8 { output.append(args) }

    /// Queues the `*N` header of a command whose N arguments follow through `appendArgument`.
    public func appendHeader(count: Int) { output.appendHeader(count: count) }

    public func appendArgument<Arg: Collection>(_ arg: Arg) where Arg.Element == UInt8 { output.appendArgument(arg) }

    /// Sends everything queued (encrypted first over TLS).
    public func flush() throws {
        try send(output)
        output.removeAll()
    }

    /// Sends commands encoded elsewhere (a batch `RESPTarget` keeps until it is answered),
    /// straight from their buffer.
    public func send(_ commands: RESPCommandBuffer) throws {
        if let tls {
            do { try commands.bytes.withUnsafeBytes { try tls.write($0) } } catch {
                throw RESPClientError("\(endpoint): \(error)")
            }
            try sendTLSOutput(tls)
        } else {
            try commands.bytes.withUnsafeBytes { try sendAll($0) }
        }
        bytesSent += commands.count
    }

    private func sendAll(_ raw: UnsafeRawBufferPointer) throws {
        guard let base = raw.baseAddress else { return }
        var written = 0
        while written < raw.count {
            let n = Glibc.send(fd, base + written, raw.count - written, Int32(MSG_NOSIGNAL))
            if n < 0 && errno == EINTR { continue }
            if n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) {
                throw RESPClientError("\(endpoint): send timed out after \(RESPClientOptions.seconds(timeoutSeconds)) (target not reading)",
                                      kind: .timeout)
            }
            if n <= 0 {
                let code = errno
                throw RESPClientError("\(endpoint): connection lost while sending: \(String(cString: strerror(code)))",
                                      kind: RESPClient.isConnectionLost(code) ? .connectionLost : .other)
            }
            written += n
        }
    }

    /// Sends the ciphertext the TLS session has produced.
    private func sendTLSOutput(_ tls: TLSConnection) throws {
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        while tls.pendingOutput > 0 {
            let n = buffer.withUnsafeMutableBytes { tls.takeOutput(into: $0) }
            try buffer.withUnsafeBytes { try sendAll(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
        }
    }

    /// The client's handshake, blocking, bounded by the read timeout of each receive. A server
    /// certificate that does not verify (unknown CA, wrong host name) fails here, saying why.
    private func handshake(_ context: TLSContext) throws {
        let session: TLSConnection
        do {
            session = try TLSConnection(context: context, serverName: context.configuration.verifyHostname ? endpoint.host : nil)
        } catch {
            throw RESPClientError("\(endpoint): TLS: \(error)")
        }
        var buffer = [UInt8](repeating: 0, count: 1 << 14)
        while true {
            let status = session.handshake()
            try sendTLSOutput(session)
            switch status {
            case .done:
                tls = session
                return
            case .failed(let reason):
                throw RESPClientError("\(endpoint): TLS handshake failed: \(reason)", kind: .cannotConnect)
            case .wantRead:
                let n = try buffer.withUnsafeMutableBytes { try receive(into: $0, during: "the TLS handshake") }
                buffer.withUnsafeBytes { session.receive(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
            }
        }
    }

    /// One recv: the bytes read (at least 1), or the error that ends the connection; `during`
    /// names what was going on when that is not a command's reply.
    private func receive(into raw: UnsafeMutableRawBufferPointer, during what: String? = nil) throws -> Int {
        guard let base = raw.baseAddress else { return 0 }
        var n: Int
        var code: Int32 = 0
        repeat {
            n = recv(fd, base, raw.count, 0)
            code = n < 0 ? errno : 0
        } while n < 0 && code == EINTR
        if n == 0 {
            throw RESPClientError("\(endpoint): connection closed by the server\(what.map { " during \($0)" } ?? "")", kind: .connectionLost)
        }
        if n < 0 && (code == EAGAIN || code == EWOULDBLOCK) {
            throw RESPClientError("\(endpoint): no reply within \(RESPClientOptions.seconds(timeoutSeconds)) (read timeout)",
                                  kind: .timeout)
        }
        if n < 0 {
            throw RESPClientError("\(endpoint): connection lost while reading: \(String(cString: strerror(code)))",
                                  kind: RESPClient.isConnectionLost(code) ? .connectionLost : .other)
        }
        return n
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
        var n = 0
        defer { input.removeLast(chunk - n) }
        n = try input.withUnsafeMutableBytes { raw -> Int in
            let space = UnsafeMutableRawBufferPointer(rebasing: raw[old...])
            guard let tls else { return try receive(into: space) }
            // Decrypt what was received; receive more ciphertext until a record completes.
            var cipher = [UInt8](repeating: 0, count: 1 << 16)
            while true {
                switch tls.read(into: space) {
                case .bytes(let got): return got
                case .closed:
                    throw RESPClientError("\(endpoint): connection closed by the server (TLS close_notify)", kind: .connectionLost)
                case .failed(let reason):
                    throw RESPClientError("\(endpoint): TLS read failed: \(reason)", kind: .connectionLost)
                case .wantRead:
                    try sendTLSOutput(tls)  // a post-handshake message may want an answer
                    let got = try cipher.withUnsafeMutableBytes { try receive(into: $0) }
                    cipher.withUnsafeBytes { tls.receive(UnsafeRawBufferPointer(rebasing: $0[0..<got])) }
                }
            }
        }
    }
}
