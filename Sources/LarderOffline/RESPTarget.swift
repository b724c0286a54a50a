import Glibc
import LarderStore

/// Materializes into any RESP server (redis-server, Larder) with the commands Feast's
/// Redis online store sends: one pipelined `HMGET key _ts:<view>` per record, then one
/// pipelined multi-field `HSET key f v ...` per newer record, followed by
/// `EXPIRE key <key_ttl_seconds>` when a key TTL is configured.
///
/// A connection that drops during a batch (closed or reset by the peer) is reopened with
/// backoff (`RESPClientOptions.reconnectAttempts`, waits of `backoffSeconds` doubling) and the
/// whole batch is sent again. That is safe: a read batch only reads, and a write batch is the
/// fixed list of `HSET key _ts v f v ...` (+ `EXPIRE`) the engine decided from the stored
/// `_ts` before the batch; each HSET sets whole records, so sending it twice leaves the same
/// hash as sending it once (and the EXPIRE of a key whose HSET landed before the drop is sent
/// again rather than lost, as re-deciding from `_ts` would do). A timeout is not retried: the
/// target is there but does not answer, and waiting again would only multiply the wait.
public final class RESPTarget: MaterializationSink {
    public private(set) var client: RESPClient
    /// Told about each reconnect (the message says what failed, the wait and the attempt).
    public var onReconnect: ((String) -> Void)?
    /// Finds the server again for each reconnect (the sentinels' current primary), or nil.
    private let resolve: (() throws -> RESPEndpoint)?
    private var bytesSentBefore = 0

    public init(endpoint: RESPEndpoint, options: RESPClientOptions = .fromEnvironment()) throws {
        client = try RESPClient(endpoint: endpoint, options: options)
        resolve = nil
    }

    /// A target found by `resolve` (asked again before each reconnect: after a failover the
    /// sentinels name the new primary).
    public init(options: RESPClientOptions = .fromEnvironment(), resolve: @escaping () throws -> RESPEndpoint) throws {
        client = try RESPClient(endpoint: try resolve(), options: options)
        self.resolve = resolve
    }

    public var bytesSent: Int { bytesSentBefore + client.bytesSent }

    private func reconnect() throws {
        guard let resolve else { return try client.reconnect() }
        let endpoint = try resolve()
        let options = client.options
        bytesSentBefore += client.bytesSent
        client = try RESPClient(endpoint: endpoint, options: options)
    }

    /// Runs `body`; when the connection is lost, reconnects with backoff and runs it again.
    func withReconnect<T>(_ what: @autoclosure () -> String, _ body: () throws -> T) throws -> T {
        let attempts = max(0, client.options.reconnectAttempts)
        var failures = 0
        while true {
            do {
                return try body()
            } catch let error as RESPClientError where error.kind == .connectionLost {
                var last = error
                while true {
                    failures += 1
                    guard failures <= attempts else {
                        throw RESPClientError(attempts == 0
                            ? "\(last.message) while \(what()) (no reconnect: --retries 0)"
                            : "\(last.message) while \(what()); gave up after \(attempts) reconnect attempt\(attempts == 1 ? "" : "s")",
                            kind: last.kind)
                    }
                    let wait = client.options.backoffSeconds * Double(1 << min(failures - 1, 20))
                    onReconnect?("\(last.message) while \(what()); reconnecting in \(RESPClientOptions.seconds(wait)) (attempt \(failures) of \(attempts))")
                    if wait > 0 { usleep(UInt32(min(wait, 3600) * 1e6)) }
                    do {
                        try reconnect()
                        break
                    } catch let again as RESPClientError where again.kind == .connectionLost || again.kind == .cannotConnect {
                        last = again
                    }
                }
            }
        }
    }

    public func readField(_ field: [UInt8], keys: ArraySlice<[UInt8]>) throws -> [[UInt8]?] {
        try withReconnect("reading \(String(decoding: field, as: UTF8.self)) of \(keys.count) keys (HMGET)") {
            try readFieldOnce(field, keys: keys)
        }
    }

    private func readFieldOnce(_ field: [UInt8], keys: ArraySlice<[UInt8]>) throws -> [[UInt8]?] {
        let command: [UInt8] = Array("HMGET".utf8)
        for key in keys {
            client.appendHeader(count: 3)
            client.appendArgument(command)
            client.appendArgument(key)
            client.appendArgument(field)
        }
        try client.flush()
        var out: [[UInt8]?] = []
        out.reserveCapacity(keys.count)
        for _ in keys {
            switch try client.readReply() {
            case .array(let items):
                if case .bulk(let bytes)? = items.first { out.append(bytes) } else { out.append(nil) }
            case .error(let message):
                throw RESPClientError("\(client.endpoint): HMGET failed: \(message)")
            default:
                throw RESPClientError("\(client.endpoint): HMGET returned something other than an array")
            }
        }
        return out
    }

    public func write(_ batch: HashWriteBatch) throws {
        try withReconnect("writing a batch of \(batch.count) entities (HSET)") { try writeOnce(batch) }
    }

    private func writeOnce(_ batch: HashWriteBatch) throws {
        let hset: [UInt8] = Array("HSET".utf8)
        let expire: [UInt8] = Array("EXPIRE".utf8)
        let ttlText = batch.ttlSeconds.map { Array(String($0).utf8) }
        for record in 0 ..< batch.count {
            client.appendHeader(count: 2 + 2 * batch.fields.count)
            client.appendArgument(hset)
            client.appendArgument(batch.keys[record])
            for (f, field) in batch.fields.enumerated() {
                client.appendArgument(field)
                client.appendArgument(batch.value(record: record, field: f))
            }
            if let ttlText {
                client.appendHeader(count: 3)
                client.appendArgument(expire)
                client.appendArgument(batch.keys[record])
                client.appendArgument(ttlText)
            }
        }
        try client.flush()
        let perRecord = ttlText == nil ? 1 : 2
        var firstError: String?
        var refused = 0
        // Every reply is read, even after an error, so the connection stays in step.
        for reply in 0 ..< batch.count * perRecord {
            if case .error(let message) = try client.readReply() {
                if firstError == nil { firstError = message }
                if reply % perRecord == 0 { refused += 1 }   // the record's HSET
            }
        }
        if let firstError {
            throw BatchRefusedError(endpoint: "\(client.endpoint)", rows: batch.count, refused: refused, message: firstError)
        }
    }

    public func finish() throws {}
}

/// Some records of a batch were refused by the target server (replies -OOM, -READONLY...):
/// the materialization names the view and batch and stops (MaterializeEngine).
public struct BatchRefusedError: Error, CustomStringConvertible, Sendable {
    public let endpoint: String
    public let rows: Int
    /// Records whose HSET got an error reply.
    public let refused: Int
    /// The first error reply.
    public let message: String
    public var isOutOfMemory: Bool { message.hasPrefix("OOM ") }
    public var description: String { "\(endpoint): write failed: \(refused) of \(rows) rows refused: \(message)" }
}
