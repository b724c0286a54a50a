import Glibc
import LarderStore

/// Materializes into any RESP server (redis-server, Larder) with the commands Feast's
/// Redis online store sends: one pipelined `HMGET key _ts:<view>` per record, then one
/// pipelined multi-field `HSET key f v ...` per newer record, followed by
/// `EXPIRE key <key_ttl_seconds>` when a key TTL is configured.
///
/// A connection that drops during a batch (closed or reset by the peer) is reopened with
/// backoff (`RESPClientOptions.reconnectAttempts`, waits of `backoffSeconds` doubling) and every
/// batch not yet answered (the target pipelines, see below) is sent again, in order. That is safe: a read batch only reads, and a write batch is the
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
    func withReconnect<T>(_ what: @autoclosure () -> String, onReconnect reconnected: () -> Void = {}, _ body: () throws -> T) throws -> T {
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
                        reconnected()
                        break
                    } catch let again as RESPClientError where again.kind == .connectionLost || again.kind == .cannotConnect {
                        last = again
                    }
                }
            }
        }
    }

    // Pipelining (bench/results/materialize.md, "the absorb floor"). Sending a batch and then
    // waiting for its replies made the client and the server take turns: 100 chunks x 2 round
    // trips, each waiting for the server to run 1,000 commands while the client idled, then the
    // server idling while the client parsed and encoded. Now a batch is sent and its replies are
    // read later: `write` returns once its HSETs are sent, the engine sends the HMGETs of the
    // next chunk ahead (`prefetchField`), and replies are read in order only when an answer is
    // needed, so the server runs chunk k's commands while the client encodes chunk k+1.

    /// Commands sent (or queued to send) and not yet fully answered, oldest first. Each keeps
    /// its encoded bytes until answered: after a reconnect every one of them is sent again, in
    /// order (reads only read; each HSET sets whole records, so a resent one leaves the same hash).
    private var inFlight: [InFlight] = []
    /// Answers of reads, oldest first, not yet taken by `readField`.
    private var answered: [[[UInt8]?]] = []
    /// Buffers of answered batches, reused for later ones rather than allocated per batch.
    private var spare: [RESPCommandBuffer] = []
    /// Write batches sent since `begin(view:)`: the number BatchRefusedError.batchIndex gives.
    private var writesSent = 0
    /// At most this many write batches are unanswered before `write` reads replies: bounds the
    /// bytes kept for resending and the replies the server buffers for us. 2 keeps the server busy
    /// (one batch running while the next is encoded); other values were not measured.
    public var maxWritesInFlight = 2

    private struct InFlight {
        enum Kind { case read, write(index: Int, records: Int) }
        var kind: Kind
        var commands: RESPCommandBuffer
        var replies: Int
        var what: String
        var sent = false
        var got = 0
        var values: [[UInt8]?] = []
        var refused = 0
        var firstError: String?
        var perRecord = 1
        var discard = false
    }

    private func takeBuffer() -> RESPCommandBuffer {
        var buffer = spare.popLast() ?? RESPCommandBuffer()
        buffer.removeAll()
        return buffer
    }

    /// At most this many reads are unanswered before `prefetchField` reads replies (the engine
    /// sends the reads of a whole view during its source read): bounds what the server buffers.
    public var maxReadsAhead = 8

    public func begin(view: String) {
        writesSent = 0
        // Reads of a view that stopped early are not answers for this one.
        answered.removeAll()
        for i in inFlight.indices { inFlight[i].discard = true }
    }

    /// Sends the HMGETs of a later `readField` with the same keys now (the engine's read-ahead).
    public func prefetchField(_ field: [UInt8], keys: ArraySlice<[UInt8]>) throws {
        enqueueRead(field, keys: keys)
        try pump {
            try self.sendQueued()
            while self.inFlight.lazy.filter({ if case .read = $0.kind { return true } else { return false } }).count > max(1, self.maxReadsAhead) {
                try self.answerOldest()
            }
        }
    }

    public func readField(_ field: [UInt8], keys: ArraySlice<[UInt8]>) throws -> [[UInt8]?] {
        let ahead = inFlight.contains { if case .read = $0.kind, !$0.discard { return true } else { return false } }
        if !ahead && answered.isEmpty { enqueueRead(field, keys: keys) }
        try pump {
            try self.sendQueued()
            while self.answered.isEmpty && !self.inFlight.isEmpty { try self.answerOldest() }
        }
        guard !answered.isEmpty else { throw RESPClientError("\(client.endpoint): internal error: no read was sent") }
        let values = answered.removeFirst()
        guard values.count == keys.count else {
            throw RESPClientError("\(client.endpoint): internal error: a read-ahead of \(values.count) keys was taken for \(keys.count) keys")
        }
        return values
    }

    private func enqueueRead(_ field: [UInt8], keys: ArraySlice<[UInt8]>) {
        var commands = takeBuffer()
        commands.appendReads(field, keys: keys)
        var read = InFlight(kind: .read, commands: commands, replies: keys.count,
                            what: "reading \(String(decoding: field, as: UTF8.self)) of \(keys.count) keys (HMGET)")
        read.values.reserveCapacity(keys.count)
        inFlight.append(read)
    }

    public func write(_ batch: HashWriteBatch) throws {
        var commands = takeBuffer()
        commands.appendWrites(batch)
        var write = InFlight(kind: .write(index: writesSent, records: batch.count), commands: commands,
                             replies: batch.count * (batch.ttlSeconds == nil ? 1 : 2),
                             what: "writing a batch of \(batch.count) entities (HSET)")
        write.perRecord = batch.ttlSeconds == nil ? 1 : 2
        writesSent += 1
        inFlight.append(write)
        try pump {
            try self.sendQueued()
            while self.inFlight.lazy.filter({ if case .write = $0.kind { return true } else { return false } }).count > max(0, self.maxWritesInFlight) {
                try self.answerOldest()
            }
        }
    }

    /// Waits for every reply: a refused record of any batch surfaces here at the latest.
    public func finish() throws {
        try pump {
            try self.sendQueued()
            while !self.inFlight.isEmpty { try self.answerOldest() }
        }
    }

    /// Runs `body` under `withReconnect`, naming the oldest unanswered batch (the one a lost
    /// connection interrupted); after a reconnect every unanswered batch is queued again.
    private func pump(_ body: () throws -> Void) throws {
        try withReconnect(inFlight.first?.what ?? "sending", onReconnect: {
            for i in self.inFlight.indices {
                self.inFlight[i].sent = false
                self.inFlight[i].got = 0
                self.inFlight[i].values.removeAll(keepingCapacity: true)
                self.inFlight[i].refused = 0
                self.inFlight[i].firstError = nil
            }
        }, body)
    }

    private func sendQueued() throws {
        for i in inFlight.indices where !inFlight[i].sent {
            try client.send(inFlight[i].commands)
            inFlight[i].sent = true
        }
    }

    /// Reads the replies of the oldest batch and retires it: a read's values go to `answered`;
    /// a write with refused records throws BatchRefusedError (every reply is read first, so the
    /// connection stays in step).
    private func answerOldest() throws {
        guard !inFlight.isEmpty else { return }
        while inFlight[0].got < inFlight[0].replies {
            let reply = try client.readReply()
            let index = inFlight[0].got
            inFlight[0].got += 1
            switch inFlight[0].kind {
            case .read:
                switch reply {
                case .array(let items):
                    if case .bulk(let bytes)? = items.first { inFlight[0].values.append(bytes) } else { inFlight[0].values.append(nil) }
                case .error(let message):
                    throw RESPClientError("\(client.endpoint): HMGET failed: \(message)")
                default:
                    throw RESPClientError("\(client.endpoint): HMGET returned something other than an array")
                }
            case .write:
                if case .error(let message) = reply {
                    if inFlight[0].firstError == nil { inFlight[0].firstError = message }
                    if index % inFlight[0].perRecord == 0 { inFlight[0].refused += 1 }   // the record's HSET
                }
            }
        }
        let done = inFlight.removeFirst()
        spare.append(done.commands)
        switch done.kind {
        case .read:
            if !done.discard { answered.append(done.values) }
        case .write(let index, let records):
            if let firstError = done.firstError {
                throw BatchRefusedError(endpoint: "\(client.endpoint)", rows: records, refused: done.refused,
                                        message: firstError, batchIndex: index)
            }
        }
    }
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
    /// Which write batch of the view (0 = its first `write`) when the target answers batches
    /// after later ones were sent (RESPTarget's pipeline); nil: the batch of the failing `write`.
    public var batchIndex: Int?
    public init(endpoint: String, rows: Int, refused: Int, message: String, batchIndex: Int? = nil) {
        self.endpoint = endpoint
        self.rows = rows
        self.refused = refused
        self.message = message
        self.batchIndex = batchIndex
    }
    public var isOutOfMemory: Bool { message.hasPrefix("OOM ") }
    public var description: String { "\(endpoint): write failed: \(refused) of \(rows) rows refused: \(message)" }
}
