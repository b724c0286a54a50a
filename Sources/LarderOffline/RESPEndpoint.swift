import LarderRESP
import LarderTLS
import Glibc

/// Where a RESP server is and how to log in: from `redis://[[user]:password@]host:port[/db]`
/// (`rediss://` for TLS, with redis-py's `ssl_*` options as query parameters), from
/// `redis-cluster://[[user]:password@]host:port[,host:port...]` (`rediss-cluster://`: a Redis
/// Cluster given by seed nodes, `cluster` set) or from Feast's
/// `connection_string` (`host:port[,db=N][,password=..][,username=..][,ssl=true,ssl_ca_certs=..]`).
public struct RESPEndpoint: Equatable, Sendable, CustomStringConvertible {
    public var host: String
    public var port: Int
    public var db: Int
    public var username: String?
    public var password: String?
    /// Every `host:port` of a Feast connection string, in order (the sentinels of
    /// `redis_type: redis_sentinel`); `[host:port]` for a URL.
    public var hosts: [HostPort] = []
    /// redis-py's `socket_timeout` / `socket_connect_timeout` from a connection string, in seconds.
    public var socketTimeout: Double?
    public var socketConnectTimeout: Double?
    /// A Redis Cluster (`redis-cluster://`): `hosts` are seed nodes, keys go to their slot's owner.
    public var cluster = false
    /// TLS (`rediss://`, `ssl=true`); nil: plaintext.
    public var tls: TLSConfiguration?

    public struct HostPort: Equatable, Sendable, CustomStringConvertible {
        public var host: String
        public var port: Int
        public init(host: String, port: Int) {
            self.host = host
            self.port = port
        }
        public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
    }

    /// `host:port`, as error messages name the target.
    public var address: String { HostPort(host: host, port: port).description }

    public init(host: String = "127.0.0.1", port: Int = 6379, db: Int = 0, username: String? = nil, password: String? = nil) {
        self.host = host
        self.port = port
        self.db = db
        self.username = username
        self.password = password
        self.hosts = [HostPort(host: host, port: port)]
    }

    /// Parses `redis://...`; nil with a reason thrown as RESPClientError.
    public init(url: String) throws {
        let scheme = url.firstRange(of: "://").map { String(url[..<$0.lowerBound]) } ?? ""
        guard ["redis", "rediss", "redis-cluster", "rediss-cluster"].contains(scheme) else {
            throw RESPClientError("target \"\(url)\" must start with redis://, rediss:// (TLS), redis-cluster:// or rediss-cluster:// (a Redis Cluster)")
        }
        let secure = scheme.hasPrefix("rediss")
        var rest = Substring(url.dropFirst(scheme.count + 3))
        self.init()
        cluster = scheme.hasSuffix("-cluster")
        // redis-py's from_url reads the ssl_* options from the query string.
        var sslOptions = TLSOptions()
        if let q = rest.firstIndex(of: "?") {
            for item in rest[rest.index(after: q)...].split(separator: "&") {
                let pair = item.split(separator: "=", maxSplits: 1)
                let name = String(pair[0]), value = try RESPEndpoint.percentDecoded(pair.count > 1 ? pair[1] : "", in: url)
                guard try sslOptions.take(name, value, in: url) else {
                    throw RESPClientError("unknown parameter '\(name)' in \"\(url)\" (ssl_ca_certs, ssl_ca_path, ssl_certfile, ssl_keyfile, ssl_password, ssl_cert_reqs, ssl_check_hostname)")
                }
            }
            rest = rest[..<q]
        }
        if secure { sslOptions.enabled = true }
        tls = sslOptions.configuration
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
        guard cluster else {
            try parseHostPort(rest, in: url)
            hosts = [HostPort(host: host, port: port)]
            return
        }
        // Seed nodes: any of them gives the slot map.
        hosts = []
        for part in rest.split(separator: ",") where !part.isEmpty {
            var node = RESPEndpoint()
            try node.parseHostPort(part, in: url)
            hosts.append(HostPort(host: node.host, port: node.port))
        }
        guard let first = hosts.first else { throw RESPClientError("no host:port in \"\(url)\"") }
        host = first.host
        port = first.port
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

    /// Parses Feast's `connection_string` as Feast does (`_parse_connection_string`): items
    /// split on `,`; an item with `=` is a redis-py keyword argument whose value is JSON when
    /// it parses as JSON (`password="a b"` is `a b`), else the text as written; every other item
    /// is a `host:port`. Values are not percent-decoded (Feast does not decode them either): a
    /// password holding `@`, `:` or `%` is written as it is. `host`/`port` are the first node
    /// (the one Feast connects to for `redis_type: redis`); `hosts` are all of them.
    public init(connectionString: String) throws {
        self.init()
        hosts = []
        var sslOptions = TLSOptions()
        defer { tls = sslOptions.configuration }
        let parts = connectionString.split(separator: ",").map { $0.trimmingCharacters(in: " ") }
        for part in parts where !part.isEmpty {
            if let eq = part.firstIndex(of: "=") {
                let name = part[..<eq], value = RESPEndpoint.jsonStringValue(String(part[part.index(after: eq)...]))
                switch name {
                case "db":
                    guard let parsed = Int(value), parsed >= 0 else { throw RESPClientError("bad db in connection_string \"\(connectionString)\"") }
                    db = parsed
                case "password": password = value
                case "username": username = value
                case "socket_timeout", "socket_connect_timeout":
                    guard let seconds = Double(value), seconds > 0, seconds.isFinite else {
                        throw RESPClientError("bad \(name) in connection_string \"\(connectionString)\" (seconds, greater than 0)")
                    }
                    if name == "socket_timeout" { socketTimeout = seconds } else { socketConnectTimeout = seconds }
                default:
                    // ssl, ssl_ca_certs...: TLS; skip_full_coverage_check...: not used by Larder's client.
                    _ = try sslOptions.take(String(name), value, in: connectionString)
                }
            } else {
                var node = RESPEndpoint()
                try node.parseHostPort(Substring(part), in: connectionString)
                hosts.append(HostPort(host: node.host, port: node.port))
            }
        }
        if let first = hosts.first {
            host = first.host
            port = first.port
        } else {
            hosts = [HostPort(host: host, port: port)]
        }
    }

    /// A JSON string literal (`"..."`) decoded, as Feast's `json.loads` of a value; other text unchanged.
    static func jsonStringValue(_ text: String) -> String {
        guard text.count >= 2, text.first == "\"", text.last == "\"" else { return text }
        var out = ""
        var chars = text.dropFirst().dropLast()[...]
        while let c = chars.popFirst() {
            guard c == "\\" else {
                if c == "\"" { return text }  // not a valid JSON string: json.loads fails, Feast keeps the text
                out.append(c)
                continue
            }
            guard let e = chars.popFirst() else { return text }
            switch e {
            case "\"", "\\", "/": out.append(e)
            case "n": out.append("\n")
            case "t": out.append("\t")
            case "r": out.append("\r")
            case "b": out.append("\u{08}")
            case "f": out.append("\u{0C}")
            case "u":
                let hex = String(chars.prefix(4))
                guard hex.count == 4, let v = UInt32(hex, radix: 16), let scalar = Unicode.Scalar(v) else { return text }
                out.unicodeScalars.append(scalar)
                chars = chars.dropFirst(4)
            default: return text
            }
        }
        return out
    }

    private mutating func parseHostPort(_ text: Substring, in whole: String) throws {
        if text.isEmpty { return }
        if let colon = text.lastIndex(of: ":") {
            let hostText = text[..<colon]
            if hostText.hasPrefix("["), hostText.hasSuffix("]") {  // [::1]:6379
                host = String(hostText.dropFirst().dropLast())
            } else if !hostText.isEmpty {
                host = String(hostText)
            }
            guard let parsed = Int(text[text.index(after: colon)...]), (1 ... 65535).contains(parsed) else {
                throw RESPClientError("bad port in \"\(whole)\"")
            }
            port = parsed
        } else {
            host = String(text)
        }
    }

    public var description: String { "\(tls == nil ? "redis" : "rediss")://\(address)/\(db)" }
}

/// redis-py's `ssl` keyword arguments, as Feast passes them from its connection string.
struct TLSOptions {
    var enabled = false
    var config = TLSConfiguration()

    /// The configuration when `ssl` is on; as redis-py, the ssl_* options alone do nothing.
    var configuration: TLSConfiguration? { enabled ? config : nil }

    /// Takes `name=value` if it is a TLS option; false if it is not one.
    mutating func take(_ name: String, _ value: String, in whole: String) throws -> Bool {
        func flag() throws -> Bool {
            switch value.lowercased() {
            case "true", "1", "yes": return true
            case "false", "0", "no": return false
            default: throw RESPClientError("bad \(name) '\(value)' in \"\(whole)\" (true or false)")
            }
        }
        switch name {
        case "ssl": enabled = try flag()
        case "ssl_ca_certs": config.caCertFile = value
        case "ssl_ca_path": config.caCertDir = value
        case "ssl_certfile": config.certFile = value
        case "ssl_keyfile": config.keyFile = value
        case "ssl_password": config.keyFilePass = value
        case "ssl_check_hostname": config.verifyHostname = try flag()
        case "ssl_cert_reqs":
            // Python's ssl.CERT_NONE / CERT_OPTIONAL / CERT_REQUIRED, by name as redis-py takes them.
            switch value.lowercased() {
            case "none", "cert_none": config.verifyPeer = .no
            case "optional", "cert_optional": config.verifyPeer = .optional
            case "required", "cert_required": config.verifyPeer = .yes
            default: throw RESPClientError("bad ssl_cert_reqs '\(value)' in \"\(whole)\" (none, optional or required)")
            }
        case "ssl_min_version", "ssl_ciphers":
            throw RESPClientError("\(name) in \"\(whole)\" is not supported by Larder's client yet")
        default: return false
        }
        return true
    }
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
    /// What went wrong, for the retry decision: only a lost connection is retried.
    public enum Kind: Sendable, Equatable {
        /// The peer closed or reset the connection (EOF, ECONNRESET, EPIPE...).
        case connectionLost
        /// No reply (or no progress sending) within the timeout.
        case timeout
        /// The TCP connection could not be made (refused, unreachable, connect timeout).
        case cannotConnect
        /// Anything else: bad URL, error replies, not a RESP reply.
        case other
    }

    public var message: String
    public var kind: Kind
    public init(_ message: String, kind: Kind = .other) {
        self.message = message
        self.kind = kind
    }
    public var description: String { message }
}

