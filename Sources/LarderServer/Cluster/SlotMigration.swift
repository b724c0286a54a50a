import Atomics
import Foundation
import LarderLog
import LarderPersistence
import LarderRESP
import LarderStore
import Logging
import NIOConcurrencyHelpers

/// Moving slot ranges from this node (the source) to another primary (the target) while both
/// keep serving (docs/cluster.md "Resharding"). Dragonfly's approach, with whole-key records:
///
/// 1. Every worker routes with this migration (a barrier over all loops) before any key is read.
///    From then on, each command with keys in a moving slot runs here as usual and then appends
///    the key's new state to one ordered queue: RESTORE key <abs-expiry> <DUMP> REPLACE ABSTTL, or
///    DEL when the key is gone. The queue is appended to on the thread running the command, in
///    the same task, so a key's records are in the order its writes ran.
/// 2. The snapshot walks each shard's keyspaces with SCAN's cursor (a key present throughout is
///    met at least once), a chunk per loop task, and appends the same records for the keys of
///    the moving slots. A key written before its snapshot record is sent whole by that record; a
///    key written after it is sent again by the write's own record: the last record of every
///    key is its current state, whatever the interleaving.
/// 3. One connection to the target carries the queue in order; the target applies it in order
///    (a connection's commands run in order), and any error reply or lost connection fails the
///    migration: this node never stopped owning the slots, so nothing is lost.
/// 4. Handover: writes to the moving slots are refused with -TRYAGAIN (checked on the thread that
///    would run them, in the same task as the forward, so a barrier over all loops after the
///    flag is set leaves no unforwarded write behind); the new topology is appended to the queue
///    as its last record (CLUSTER LARDER.SETTOPOLOGY), so the target owns the slots only after
///    it applied every record; once it answered OK, this node installs the same topology and
///    answers -MOVED. Then the moved keys are deleted here.
///
/// Reads keep running here until the handover; an acknowledged write either ran here before
/// the seal (and its record precedes the topology record on the link) or ran on the target.
public final class SlotMigration: @unchecked Sendable {
    public enum Phase: Int, Sendable {
        case connecting = 0, streaming, sealed, handedOver, done, failed
        var name: String {
            switch self {
            case .connecting: return "connecting"
            case .streaming: return "streaming"
            case .sealed: return "handover"
            case .handedOver: return "deleting"
            case .done: return "done"
            case .failed: return "failed"
            }
        }
    }

    let target: ClusterTopology.Node
    let ranges: [ClusterTopology.SlotRange]
    /// Slot -> moved by this migration.
    let moving: [Bool]
    /// The topology once the slots are the target's.
    let newTopology: ClusterTopology
    /// By worker index: a command's keys are read on the thread running it (its own shard, or a
    /// borrowed one).
    let shards: [Shard]
    let startedAt = Date()

    private let _phase = ManagedAtomic<Int>(Phase.connecting.rawValue)
    let keysSent = ManagedAtomic<Int>(0)
    let writesForwarded = ManagedAtomic<Int>(0)
    let recordsAcknowledged = ManagedAtomic<Int>(0)
    let keysDeleted = ManagedAtomic<Int>(0)

    private let lock = NIOLock()
    /// Encoded commands (db, RESP bytes) not yet sent to the target.
    private var queue: [(db: Int, bytes: [UInt8])] = []
    private var _error: String?
    private var _finishedAt: Date?
    /// From the seal to the install of the new topology: how long writes got -TRYAGAIN.
    private var _sealedAt: Date?
    private var _handoverSeconds: Double?

    static let recordBacklog = 2048

    init(target: ClusterTopology.Node, ranges: [ClusterTopology.SlotRange], newTopology: ClusterTopology, shards: [Shard]) {
        self.target = target
        self.ranges = ranges
        var moving = [Bool](repeating: false, count: ClusterTopology.slotCount)
        for r in ranges { for s in r.start...r.end { moving[s] = true } }
        self.moving = moving
        self.newTopology = newTopology
        self.shards = shards
    }

    public var phase: Phase { Phase(rawValue: _phase.load(ordering: .sequentiallyConsistent))! }
    func set(_ p: Phase) { _phase.store(p.rawValue, ordering: .sequentiallyConsistent) }
    /// Streaming or handing over: the topology may not be replaced by hand meanwhile.
    var isRunning: Bool { phase.rawValue < Phase.handedOver.rawValue }
    var error: String? { lock.withLock { _error } }

    // MARK: The command hook (ShardWorker.runTimed, only while a worker holds a migration)

    /// The slot of the command's keys when this migration moves it; nil otherwise.
    @inline(__always)
    func movingSlot(_ spec: CommandSpec, _ args: Arguments) -> Int? {
        var slot = -1
        spec.keys.forEach(args) { i in if slot < 0 { slot = ClusterHashSlot.slot(of: args[i]) } }
        if slot < 0 {
            // A keyless write that empties keyspaces cannot be sent as key records.
            if spec.flags.contains(.write) && (spec.name == "flushall" || spec.name == "flushdb" || spec.name == "swapdb") && isRunning {
                fail("\(spec.name.uppercased()) ran on the source during the migration")
            }
            return nil
        }
        return moving[slot] ? slot : nil
    }

    /// What to answer instead of running a command on a moving slot; nil: run it here.
    func refusal(_ spec: CommandSpec, slot: Int) -> String? {
        switch phase {
        case .sealed:
            if spec.flags.contains(.readonly) { return nil }
            return "TRYAGAIN slot \(slot) is being handed over to \(target.address)"
        case .handedOver, .done:
            return "MOVED \(slot) \(target.address)"
        default:
            return nil
        }
    }

    /// After a command other than a read ran on a moving slot: its keys' state goes to the target.
    func forward(_ spec: CommandSpec, _ args: Arguments, db: Int, now: Int64) {
        guard !spec.flags.contains(.readonly), isRunning else { return }
        var records: [(db: Int, bytes: [UInt8])] = []
        func record(_ key: UnsafeRawBufferPointer, _ db: Int) {
            let shard = shards[ServerState.shardIndex(hash: ByteHash.hash(key), count: shards.count)]
            guard db >= 0 && db < shard.databases.count else { return }
            let keyspace = shard.db(db)
            if let slot = keyspace.lookupInternal(key, now: now) {
                records.append((db, Self.restoreRecord(keyspace, slot, key: key)))
            } else {
                records.append((db, Self.command([Array("DEL".utf8), Array(key)])))
            }
        }
        spec.keys.forEach(args) { i in record(args[i], db) }
        // The two writes whose key lands in another database: MOVE key db, COPY src dst DB db.
        if spec.name == "move", let other = RESPParser.parseInteger(args[2], from: 0, to: args[2].count) {
            record(args[1], other)
        } else if spec.name == "copy" {
            var j = 3
            while j + 1 < args.count {
                if args.equalsKeyword(j, "DB"), let other = RESPParser.parseInteger(args[j + 1], from: 0, to: args[j + 1].count) {
                    record(args[2], other)
                }
                j += 1
            }
        }
        writesForwarded.wrappingIncrement(by: records.count, ordering: .relaxed)
        append(records)
    }

    static func restoreRecord(_ keyspace: Keyspace, _ slot: Int, key: UnsafeRawBufferPointer) -> [UInt8] {
        let (value, version) = StoreSnapshot.dumpValue(keyspace, slot)
        let expireAt = keyspace.expireAt(slot)
        return command([Array("RESTORE".utf8), Array(key), Array(String(expireAt).utf8),
                        DumpPayload.wrap(value, version: version), Array("REPLACE".utf8), Array("ABSTTL".utf8)])
    }

    static func command(_ parts: [[UInt8]]) -> [UInt8] {
        var out = Array("*\(parts.count)\r\n".utf8)
        for p in parts {
            out += Array("$\(p.count)\r\n".utf8)
            out += p
            out += [13, 10]
        }
        return out
    }

    private func append(_ records: [(db: Int, bytes: [UInt8])]) {
        guard !records.isEmpty else { return }
        lock.withLock { if _error == nil { queue += records } }
    }

    private var backlog: Int { lock.withLock { queue.count } }

    // MARK: Snapshot and clean-up chunks (on the shard's own thread)

    /// Appends records for the moving slots' keys met from `cursor` on; the next cursor (0: done).
    func snapshotChunk(_ shard: Shard, db: Int, cursor: UInt64, now: Int64) -> UInt64 {
        let keyspace = shard.db(db)
        guard keyspace.count > 0 else { return 0 }
        var records: [(db: Int, bytes: [UInt8])] = []
        var c = cursor
        var buckets = 0
        repeat {
            c = keyspace.scanBucket(cursor: c, now: now) { i in
                let key = keyspace.keyBytes(at: i)
                if moving[ClusterHashSlot.slot(of: key)] { records.append((db, Self.restoreRecord(keyspace, i, key: key))) }
            }
            buckets += 1
        } while c != 0 && records.count < 256 && buckets < 8192
        keysSent.wrappingIncrement(by: records.count, ordering: .relaxed)
        append(records)
        return c
    }

    /// Deletes the moved keys met from `cursor` on (after the handover: no client reaches them).
    func deleteChunk(_ shard: Shard, db: Int, cursor: UInt64, now: Int64) -> UInt64 {
        let keyspace = shard.db(db)
        guard keyspace.count > 0 else { return 0 }
        var keys: [[UInt8]] = []
        var c = cursor
        var buckets = 0
        repeat {
            c = keyspace.scanBucket(cursor: c, now: now) { i in
                let key = keyspace.keyBytes(at: i)
                if moving[ClusterHashSlot.slot(of: key)] { keys.append(Array(key)) }
            }
            buckets += 1
        } while c != 0 && keys.count < 1024 && buckets < 8192
        for k in keys {
            k.withUnsafeBytes { if let slot = keyspace.lookupInternal($0, now: now) { keyspace.remove(at: slot) } }
        }
        keysDeleted.wrappingIncrement(by: keys.count, ordering: .relaxed)
        // The scan cursor stays valid across deletions (no resize on delete: SCAN's guarantee).
        return c
    }

    // MARK: The driver (its own thread)

    struct Failure: Error, CustomStringConvertible { let description: String }

    /// Runs the whole migration; returns when it is done or failed.
    func run(state: ClusterState, workers: [ShardWorker], myId: String, user: String?, password: String?) {
        do {
            let link = try MigrationLink(host: target.ip, port: target.port, timeoutSeconds: 10)
            if let password {
                let auth = [Array("AUTH".utf8)] + (user.map { [Array($0.utf8)] } ?? []) + [Array(password.utf8)]
                try expectOK(link.call(auth), "AUTH")
            }
            var importing = [Array("CLUSTER".utf8), Array("LARDER.IMPORT".utf8), Array(myId.utf8)]
            for r in ranges { importing += [Array(String(r.start).utf8), Array(String(r.end).utf8)] }
            try expectOK(link.call(importing), "CLUSTER LARDER.IMPORT")
            // Every worker holds this migration (published before this thread started) before
            // the first key is read: a write after its key's snapshot record is forwarded.
            Self.barrier(workers)
            try check()
            set(.streaming)
            log("slot migration streaming")
            var sentDB = 0
            for w in workers {
                for db in 0..<w.shard.databases.count {
                    var cursor: UInt64 = 0
                    repeat {
                        cursor = Self.onShard(w) { self.snapshotChunk(w.shard, db: db, cursor: cursor, now: Clock.nowMilliseconds()) }
                        try pump(link, &sentDB, downTo: Self.recordBacklog)
                    } while cursor != 0
                }
            }
            try pump(link, &sentDB, downTo: 0)
            // Handover: no write to the moving slots runs from here on (a barrier over every
            // loop lets those already past the check finish and forward).
            lock.withLock { _sealedAt = Date() }
            set(.sealed)
            Self.barrier(workers)
            try check()
            lock.withLock { queue.append((sentDB, Self.command([Array("CLUSTER".utf8), Array("LARDER.SETTOPOLOGY".utf8), Array(newTopology.json.utf8)]))) }
            try pump(link, &sentDB, downTo: 0)
            set(.handedOver)
            do {
                try state.install(newTopology, workers: workers, save: true, migration: self)
            } catch {
                // The target owns the slots now; this node keeps answering -MOVED through the
                // migration, and the operator pushes the topology.
                throw Failure(description: "the target took the slots but this node could not install the new topology: \(error)")
            }
            lock.withLock { _handoverSeconds = _sealedAt.map { Date().timeIntervalSince($0) } }
            log("slot migration handed over")
            for w in workers {
                for db in 0..<w.shard.databases.count {
                    var cursor: UInt64 = 0
                    repeat {
                        cursor = Self.onShard(w) { self.deleteChunk(w.shard, db: db, cursor: cursor, now: Clock.nowMilliseconds()) }
                    } while cursor != 0
                }
            }
            lock.withLock { _finishedAt = Date() }
            set(.done)
            log("slot migration done")
        } catch {
            fail(String(describing: error))
        }
        if phase == .failed { state.dropMigration(self, workers: workers) }
    }

    /// Marks the migration failed (first reason kept); the driver then gives the slots' routing
    /// back to the current topology, which still names this node as their owner.
    func fail(_ reason: String) {
        let first: Bool = lock.withLock {
            guard _error == nil else { return false }
            _error = reason
            _finishedAt = Date()
            queue = []
            return true
        }
        guard first else { return }
        // After the handover the target owns the slots: the failure is the clean-up's only.
        if phase.rawValue < Phase.handedOver.rawValue { set(.failed) }
        LarderLog.server.warning("slot migration failed",
                                 metadata: ["event": "cluster_migration", "target": .string(target.address), "error": .string(reason)])
    }

    private func check() throws {
        if let e = error { throw Failure(description: e) }
    }

    private func log(_ message: Logger.Message) {
        LarderLog.server.notice(message, metadata: ["event": "cluster_migration", "target": .string(target.address),
                                                    "slots": .string(Self.rangesText(ranges)),
                                                    "keys_sent": .stringConvertible(keysSent.load(ordering: .relaxed)),
                                                    "writes_forwarded": .stringConvertible(writesForwarded.load(ordering: .relaxed))])
    }

    private func expectOK(_ reply: RESPReply, _ what: String) throws {
        if case .error(let e) = reply { throw Failure(description: "target \(target.address) refused \(what): \(e)") }
    }

    /// Sends queued records, pipelined in batches, until at most `limit` are left; any error
    /// reply fails the migration.
    private func pump(_ link: MigrationLink, _ sentDB: inout Int, downTo limit: Int) throws {
        while true {
            try check()
            let batch: [(db: Int, bytes: [UInt8])] = lock.withLock {
                guard queue.count > limit else { return [] }
                let n = min(queue.count, 512)
                let b = Array(queue[0..<n])
                queue.removeFirst(n)
                return b
            }
            if batch.isEmpty { return }
            var bytes: [UInt8] = []
            var expected = 0
            for r in batch {
                if r.db != sentDB {
                    bytes += Self.command([Array("SELECT".utf8), Array(String(r.db).utf8)])
                    expected += 1
                    sentDB = r.db
                }
                bytes += r.bytes
                expected += 1
            }
            try link.send(bytes)
            for _ in 0..<expected {
                let reply = try link.reply()
                if case .error(let e) = reply { throw Failure(description: "target \(target.address) refused a record: \(e)") }
            }
            recordsAcknowledged.wrappingIncrement(by: batch.count, ordering: .relaxed)
        }
    }

    /// Waits until every loop ran the tasks queued on it before this call.
    static func barrier(_ workers: [ShardWorker]) {
        let group = DispatchGroup()
        for w in workers {
            group.enter()
            w.loop.execute { group.leave() }
        }
        group.wait()
    }

    /// Runs `body` on the worker's loop, in its shard's queue order (after a borrower), and waits.
    static func onShard<T>(_ w: ShardWorker, _ body: @escaping () -> T) -> T {
        let done = DispatchSemaphore(value: 0)
        var result: T? = nil
        w.loop.execute {
            w.submit {
                result = body()
                done.signal()
            }
        }
        done.wait()
        return result!
    }

    // MARK: Status (CLUSTER LARDER.MIGRATION, INFO cluster)

    static func rangesText(_ ranges: [ClusterTopology.SlotRange]) -> String {
        ranges.map { $0.start == $0.end ? "\($0.start)" : "\($0.start)-\($0.end)" }.joined(separator: ",")
    }

    var statusFields: [(String, String)] {
        let (error, finished, handover) = lock.withLock { (_error, _finishedAt, _handoverSeconds) }
        let seconds = (finished ?? Date()).timeIntervalSince(startedAt)
        return [
            ("migration_state", phase.name),
            ("migration_target", "\(target.id) \(target.address)"),
            ("migration_slots", Self.rangesText(ranges)),
            ("migration_keys_sent", String(keysSent.load(ordering: .relaxed))),
            ("migration_writes_forwarded", String(writesForwarded.load(ordering: .relaxed))),
            ("migration_records_acknowledged", String(recordsAcknowledged.load(ordering: .relaxed))),
            ("migration_keys_deleted", String(keysDeleted.load(ordering: .relaxed))),
            ("migration_seconds", String(format: "%.3f", seconds)),
            // Writes to the moving slots were refused (-TRYAGAIN) this long; empty before the handover.
            ("migration_handover_ms", handover.map { String(format: "%.1f", $0 * 1000) } ?? ""),
            ("migration_error", error ?? ""),
        ]
    }
}

/// The source's connection to the target: a small blocking RESP client (the driver thread
/// owns it), with a send and receive timeout so a target that stops answering fails the
/// migration instead of hanging it.
final class MigrationLink {
    private var fd: Int32 = -1
    private let address: String
    private var buffer: [UInt8] = []
    private var offset = 0

    init(host: String, port: Int, timeoutSeconds: Int) throws {
        address = "\(host):\(port)"
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        let rc = getaddrinfo(host, String(port), &hints, &list)
        guard rc == 0, let first = list else {
            throw SlotMigration.Failure(description: "cannot resolve target \(address): \(String(cString: gai_strerror(rc)))")
        }
        defer { freeaddrinfo(list) }
        var reason = "no address"
        var entry: UnsafeMutablePointer<addrinfo>? = first
        while let a = entry {
            let s = socket(a.pointee.ai_family, a.pointee.ai_socktype, a.pointee.ai_protocol)
            if s >= 0 {
                var tv = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
                setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
                setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
                var one: Int32 = 1
                setsockopt(s, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
                if connect(s, a.pointee.ai_addr, a.pointee.ai_addrlen) == 0 { fd = s; return }
                reason = String(cString: strerror(errno))
                close(s)
            }
            entry = a.pointee.ai_next
        }
        throw SlotMigration.Failure(description: "cannot connect to target \(address): \(reason)")
    }

    deinit { if fd >= 0 { close(fd) } }

    func call(_ parts: [[UInt8]]) throws -> RESPReply {
        try send(SlotMigration.command(parts))
        return try reply()
    }

    func send(_ bytes: [UInt8]) throws {
        var sent = 0
        while sent < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + sent, bytes.count - sent, Int32(MSG_NOSIGNAL)) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw SlotMigration.Failure(description: "connection to target \(address) lost while sending: \(String(cString: strerror(errno)))") }
            sent += n
        }
    }

    func reply() throws -> RESPReply {
        while true {
            if offset < buffer.count, let r = try RESPReplyReader.parse(buffer, at: &offset) {
                if offset == buffer.count { buffer.removeAll(keepingCapacity: true); offset = 0 }
                return r
            }
            var chunk = [UInt8](repeating: 0, count: 64 * 1024)
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress!, $0.count, 0) }
            if n < 0 && errno == EINTR { continue }
            if n == 0 { throw SlotMigration.Failure(description: "connection to target \(address) closed") }
            if n < 0 {
                let timedOut = errno == EAGAIN || errno == EWOULDBLOCK
                throw SlotMigration.Failure(description: timedOut ? "target \(address) did not answer within the timeout"
                                                                 : "connection to target \(address) lost: \(String(cString: strerror(errno)))")
            }
            if offset > 0 { buffer.removeFirst(offset); offset = 0 }
            buffer += chunk[0..<n]
        }
    }
}
