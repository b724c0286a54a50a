import Atomics
import Foundation
import LarderLog
import LarderPersistence
import LarderStore
import NIOCore

/// BGSAVE and save points: a point-in-time snapshot written without a fork and without stopping
/// the server. It starts while every shard is held (the command's own `.allShards` borrow, or
/// `snapshotHoldingEveryShard`), which is the consistent cut across shards: each non-empty
/// database begins a snapshot of its key table there (a bitmap allocation, no copy), and the
/// shards are released at once. From then on each shard writes its own keys on its own loop, in
/// slices of about `sliceNanoseconds` between client work, while every change to a key not yet
/// written writes that key first (`Keyspace.beginSnapshot`, KeyTable "point-in-time snapshot"),
/// so the file holds every key as it was at the cut. Chunks of `Snapshot.chunkBytes`, each
/// starting with SELECTDB, go to one writer thread (a serial queue) that appends them to the
/// temporary file; the last shard to finish has it write EOF and commit (fsync, rename).
///
/// Memory while it runs: one bit per table slot, one chunk per shard, and the chunks waiting for
/// the writer; slices pause while more than `softBacklogBytes` wait. Keys written before a
/// change cannot wait, so a burst of writes can queue more, up to `hardBacklogBytes`, where the
/// writing thread waits for the disk.
final class BackgroundSnapshot: @unchecked Sendable {
    let trigger: SnapshotTrigger
    let writer: RDBFileWriter
    /// Unix milliseconds at the cut: keys expired then are left out, as SAVE does.
    let cutNow: Int64
    let started = Date()
    /// `ServerStats.writeCommands` at the cut: writes after it are not in the file.
    let writesAtCut: Int
    let version: Int
    /// Writes an append-only file's base (BGREWRITEAOF) rather than `dbfilename`.
    let aofBase: Bool
    /// That base as commands (aof-use-rdb-preamble no): no RDB header, EOF or checksum.
    let commandForm: Bool
    private(set) var parts: [ShardPart] = []
    private let queue = DispatchQueue(label: "larder.bgsave.writer")
    private let lock = NSLock()
    private var error: Error?
    private let cancelledFlag = ManagedAtomic<Bool>(false)
    private let shardsLeft: ManagedAtomic<Int>
    let backlogBytes = ManagedAtomic<Int>(0)
    /// The largest backlog seen (logged at the end; the bench reads the log).
    let peakBacklogBytes = ManagedAtomic<Int>(0)
    private let finished: (BackgroundSnapshot, Result<Snapshot.Outcome, Error>?) -> Void

    static let sliceNanoseconds: Int64 = 500_000
    static let keysPerStep = 64
    static let softBacklogBytes = 8 << 20
    static let hardBacklogBytes = 64 << 20
    /// The pause between slices: long enough that NIO's loop polls its sockets before the next
    /// slice (a task scheduled for "now" would run in the same tick, before any I/O).
    static let slicePause = TimeAmount.microseconds(50)

    /// One shard's side: its chunk being filled and the databases it still walks. Touched only
    /// by whoever holds the shard (its loop, or a borrower), like the shard itself.
    final class ShardPart {
        unowned let snapshot: BackgroundSnapshot
        var chunk = RDBEncoder(reservingCapacity: Snapshot.chunkBytes + (1 << 16))
        var chunkDB = -1
        var keys = 0
        /// Databases whose walk has not ended, in order; `nextDB` indexes the one walked now.
        var walking: [Keyspace] = []
        var nextDB = 0
        var done = false

        init(snapshot: BackgroundSnapshot) { self.snapshot = snapshot }

        /// Writes the key at `slot` of database `db` as it is now (called before its first
        /// change, or by the walk).
        func write(db: Int, _ keyspace: Keyspace, _ slot: Int) {
            let at = keyspace.expireAt(slot)
            if at != 0 && at <= snapshot.cutNow { return }  // already expired at the cut
            if snapshot.commandForm {
                if chunkDB != db { StoreCommands.select(db, into: &chunk.bytes); chunkDB = db }
                StoreCommands.encodeSlot(keyspace, slot, into: &chunk.bytes)
            } else {
                if chunkDB != db { chunk.selectDB(db); chunkDB = db }
                StoreSnapshot.encodeSlot(keyspace, slot, into: &chunk)
            }
            keys += 1
            if chunk.bytes.count >= Snapshot.chunkBytes { flush() }
        }

        func flush() {
            guard !chunk.bytes.isEmpty else { return }
            let bytes = chunk.bytes
            chunk = RDBEncoder(reservingCapacity: Snapshot.chunkBytes + (1 << 16))
            chunkDB = -1
            snapshot.append(bytes)
        }

        /// Stops every walk of this shard (cancelled or failed): nothing more is written.
        func abandon() {
            for ks in walking { ks.cancelSnapshot() }
            walking = []
            chunk = RDBEncoder()
        }
    }

    init(trigger: SnapshotTrigger, writer: RDBFileWriter, cutNow: Int64, writesAtCut: Int, version: Int, shards: Int,
         aofBase: Bool = false, commandForm: Bool = false, finished: @escaping (BackgroundSnapshot, Result<Snapshot.Outcome, Error>?) -> Void) {
        self.trigger = trigger
        self.writer = writer
        self.cutNow = cutNow
        self.writesAtCut = writesAtCut
        self.version = version
        self.aofBase = aofBase
        self.commandForm = commandForm
        self.shardsLeft = ManagedAtomic(shards)
        self.finished = finished
        parts = (0..<shards).map { _ in ShardPart(snapshot: self) }
    }

    var isCancelled: Bool { cancelledFlag.load(ordering: .relaxed) }
    var failed: Bool { lock.withLock { error != nil } }

    /// Hands bytes to the writer thread, in order.
    func append(_ bytes: [UInt8]) {
        let n = bytes.count
        let backlog = backlogBytes.wrappingIncrementThenLoad(by: n, ordering: .relaxed)
        if backlog > peakBacklogBytes.load(ordering: .relaxed) { peakBacklogBytes.store(backlog, ordering: .relaxed) }
        queue.async { [self] in
            if !isCancelled && !failed {
                do { try writer.write(bytes) } catch { lock.withLock { if self.error == nil { self.error = error } } }
            }
            backlogBytes.wrappingDecrement(by: n, ordering: .relaxed)
        }
        if backlog > Self.hardBacklogBytes { queue.sync {} }  // writes outran the disk: wait for it
    }

    /// At the cut, on the thread holding every shard: the file's header and database sizes,
    /// then each non-empty database starts its walk.
    func begin(shards: [Shard]) {
        if !commandForm { append(Snapshot.preamble(shards: shards, version: version, aofBase: aofBase)) }
        for (s, shard) in shards.enumerated() {
            let part = parts[s]
            for db in 0..<Shard.databaseCount {
                let ks = shard.databases[db]
                guard ks.count > 0 else { continue }
                ks.beginSnapshot { [unowned part, unowned ks] slot in part.write(db: db, ks, slot) }
                part.walking.append(ks)
            }
        }
    }

    /// One slice of `worker`'s walk, then the next one after a pause, until its shard is written.
    func runSlice(on worker: ShardWorker) {
        worker.submit { [self] in
            let part = parts[worker.index]
            guard !part.done else { return }
            if isCancelled || failed {
                part.abandon()
                shardFinished(part)
                return
            }
            if backlogBytes.load(ordering: .relaxed) > Self.softBacklogBytes {
                worker.loop.scheduleTask(in: .milliseconds(1)) { self.runSlice(on: worker) }
                return
            }
            let deadline = Clock.monotonicNanoseconds() &+ Self.sliceNanoseconds
            while part.nextDB < part.walking.count {
                if part.walking[part.nextDB].snapshotStep(maxKeys: Self.keysPerStep) { part.nextDB += 1; continue }
                if Clock.monotonicNanoseconds() >= deadline { break }
            }
            if part.nextDB == part.walking.count {
                part.flush()
                part.walking = []
                shardFinished(part)
            } else {
                worker.loop.scheduleTask(in: Self.slicePause) { self.runSlice(on: worker) }
            }
        }
    }

    private func shardFinished(_ part: ShardPart) {
        part.done = true
        guard shardsLeft.wrappingDecrementThenLoad(ordering: .acquiringAndReleasing) == 0 else { return }
        queue.async { [self] in
            if isCancelled { writer.abort(); finished(self, nil); return }
            var result: Result<Snapshot.Outcome, Error>
            if let error = lock.withLock({ self.error }) {
                writer.abort()
                result = .failure(error)
            } else {
                do {
                    if !commandForm {
                        var enc = RDBEncoder()
                        enc.eof()
                        try writer.write(enc.bytes)
                    }
                    try writer.commit(checksum: !commandForm)
                    result = .success(Snapshot.Outcome(keys: parts.reduce(0) { $0 + $1.keys }, bytes: writer.bytesWritten,
                                                       seconds: Date().timeIntervalSince(started), version: version))
                } catch {
                    writer.abort()
                    result = .failure(error)
                }
            }
            finished(self, result)
        }
    }

    /// Abandons the snapshot (SHUTDOWN takes its own). Must run while every shard is held or no
    /// loop runs any more: it stops every database's walk directly.
    func cancel(shards: [Shard]) {
        cancelledFlag.store(true, ordering: .relaxed)
        for shard in shards { for ks in shard.databases { ks.cancelSnapshot() } }
        queue.async { [writer] in writer.abort() }
    }
}

extension ServerState {
    /// Starts a background snapshot at this instant; the caller holds every shard (`shards`,
    /// in shard order). Returns at once: the shards write their parts on their loops, and the
    /// outcome is recorded as `takeSnapshot`'s is when the file is in place. nil when it
    /// started, else why not (one already runs, or the temporary file cannot be created).
    func startBackgroundSnapshot(holding shards: [Shard], trigger: SnapshotTrigger, now: Int64,
                                 done: ((Error?) -> Void)? = nil) -> Error? {
        let path = settings.snapshotPath
        guard snapshots.beginBackground() else { return BackgroundSaveInProgress() }
        snapshots.lastAttempt.store(Int(Date().timeIntervalSince1970), ordering: .relaxed)
        let writer: RDBFileWriter
        do { writer = try RDBFileWriter(path: path) } catch {
            snapshots.endBackground(nil)
            record(.failure(error), trigger: trigger, path: path, writesAtStart: 0)
            return error
        }
        let bg = BackgroundSnapshot(trigger: trigger, writer: writer, cutNow: now, writesAtCut: ServerStats.writeCommands(self),
                                    version: StoreSnapshot.requiredVersion(shards.flatMap { $0.databases }),
                                    shards: shards.count) { [self] bg, result in
            // Recorded before the flag drops, so whoever sees rdb_bgsave_in_progress:0 sees the outcome.
            if let result {
                record(result, trigger: bg.trigger, path: path, writesAtStart: bg.writesAtCut,
                       peakBacklogBytes: bg.peakBacklogBytes.load(ordering: .relaxed))
            } else {
                LarderLog.server.notice("background snapshot (\(bg.trigger.rawValue)) cancelled",
                                        metadata: ["event": "rdb_bgsave_cancelled", "path": .string(path)])
            }
            snapshots.endBackground(nil)
            switch result {
            case .failure(let e)?: done?(e)
            case .success?: done?(nil)
            case nil: done?(BackgroundSaveCancelled())
            }
            startScheduledBackgroundWork()
        }
        snapshots.setBackground(bg)
        bg.begin(shards: shards)
        LarderLog.server.notice("Background saving started (\(trigger.rawValue))",
                                metadata: ["event": "rdb_bgsave_started", "trigger": .string(trigger.rawValue), "path": .string(path)])
        for w in workers { w.loop.execute { bg.runSlice(on: w) } }
        return nil
    }

    /// After a background walk ends: what waited for it. A scheduled BGREWRITEAOF first (as
    /// Redis' serverCron), else a BGSAVE SCHEDULE; the other one waits for that one's end.
    func startScheduledBackgroundWork() {
        // The rewrite's flag stays up until it has started (startBackgroundRewrite clears it),
        // so INFO never shows it neither scheduled nor in progress in between.
        let rewrite = snapshots.rewriteScheduled.load(ordering: .relaxed)
        guard rewrite || snapshots.takeScheduledRequest() else { return }
        let home = workers[0]
        let borrow = ShardBorrow(shards: Array(0..<workers.count), home: home.loop, workers: workers) { [self] held in
            let shards = held.compactMap { $0 }
            if rewrite {
                if case .failed(let error) = startBackgroundRewrite(holding: shards, home: home, now: Clock.nowMilliseconds()) {
                    snapshots.rewriteScheduled.store(false, ordering: .relaxed)
                    LarderLog.server.error("the scheduled AOF rewrite did not start: \(error)", metadata: ["event": "aof_rewrite_failed"])
                }
            } else {
                _ = startBackgroundSnapshot(holding: shards, trigger: .bgsave, now: Clock.nowMilliseconds())
            }
        }
        home.loop.execute { borrow.start() }
    }

    /// Stops a running background snapshot, if any (SHUTDOWN, which writes its own snapshot).
    /// The caller holds every shard, or no loop runs any more.
    func cancelBackgroundSnapshot(holding shards: [Shard]) {
        guard let bg = snapshots.runningBackground else { return }
        bg.cancel(shards: shards)
    }
}

/// Redis' reply to BGSAVE (and SAVE) while a background save runs.
struct BackgroundSaveInProgress: Error, CustomStringConvertible {
    var description: String { "Background save already in progress" }
}

struct BackgroundSaveCancelled: Error, CustomStringConvertible {
    var description: String { "the background snapshot was cancelled" }
}
