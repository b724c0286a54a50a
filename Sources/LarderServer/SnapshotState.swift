import Atomics
import Foundation
import LarderLog
import LarderStore

/// What LASTSAVE, INFO persistence, the save points and -MISCONF know about snapshots. Written
/// by whoever takes a snapshot (a foreground one while it holds every shard, a background one
/// from its writer thread when the file is in place), read from any thread.
final class SnapshotState: @unchecked Sendable {
    /// Unix seconds of the last snapshot written (the start time until one is), for LASTSAVE.
    let lastSave = ManagedAtomic<Int>(Int(Date().timeIntervalSince1970))
    /// Unix seconds of the last attempt, successful or not: a failed scheduled snapshot is
    /// retried after `retryDelaySeconds`, as Redis' CONFIG_BGSAVE_RETRY_DELAY.
    let lastAttempt = ManagedAtomic<Int>(0)
    /// Redis' lastbgsave_status: set by BGSAVE and scheduled snapshots; a SAVE (or SHUTDOWN's
    /// snapshot) clears it on success but does not set it on failure, as in Redis.
    let lastBackgroundFailed = ManagedAtomic<Bool>(false)
    /// Snapshots written since start (INFO rdb_saves) and how long the last took.
    let saves = ManagedAtomic<Int>(0)
    let lastSaveMilliseconds = ManagedAtomic<Int>(-1)
    /// `ServerStats.writeCommands` when the last snapshot was taken: the difference is
    /// rdb_changes_since_last_save, which the save points compare against.
    let writesAtLastSave = ManagedAtomic<Int>(0)
    /// A scheduled snapshot is waiting for or holding the shards: do not queue another.
    let scheduledRunning = ManagedAtomic<Bool>(false)
    /// True while `stop-writes-on-bgsave-error` refuses writes (kept as one flag so the write
    /// path reads one atomic, not the settings' lock).
    /// An UnsafeAtomic: dispatch reads it per command.
    let refusingWrites = UnsafeAtomic<Bool>.create(false)
    deinit { refusingWrites.destroy() }
    /// A background snapshot is running (INFO rdb_bgsave_in_progress; BGSAVE and SAVE refuse).
    let backgroundRunning = ManagedAtomic<Bool>(false)
    /// Unix seconds when it started (INFO rdb_current_bgsave_time_sec).
    let backgroundStartedAt = ManagedAtomic<Int>(0)
    private let backgroundLock = NSLock()
    private var background: BackgroundSnapshot?
    /// BGSAVE SCHEDULE arrived while one ran: start another when it ends (Redis'
    /// rdb_bgsave_scheduled).
    private var scheduledRequest = false

    /// The running background walk writes an AOF base (BGREWRITEAOF), not `dbfilename`: the
    /// key tables have one snapshot cursor, so BGSAVE and BGREWRITEAOF share the one walk, as
    /// Redis' BGSAVE and BGREWRITEAOF share its one child (INFO tells them apart).
    let backgroundIsRewrite = ManagedAtomic<Bool>(false)
    /// BGREWRITEAOF arrived while a BGSAVE ran: it starts when that ends (Redis'
    /// aof_rewrite_scheduled).
    let rewriteScheduled = ManagedAtomic<Bool>(false)

    /// Claims the right to run a background snapshot (or, `rewrite`, an AOF base); false when one runs.
    func beginBackground(rewrite: Bool = false) -> Bool {
        backgroundLock.withLock {
            guard !backgroundRunning.load(ordering: .relaxed) else { return false }
            backgroundRunning.store(true, ordering: .relaxed)
            backgroundIsRewrite.store(rewrite, ordering: .relaxed)
            backgroundStartedAt.store(Int(Date().timeIntervalSince1970), ordering: .relaxed)
            return true
        }
    }

    /// A BGSAVE (or save point) snapshot runs (INFO rdb_bgsave_in_progress).
    var rdbBackgroundRunning: Bool { backgroundRunning.load(ordering: .relaxed) && !backgroundIsRewrite.load(ordering: .relaxed) }
    /// A BGREWRITEAOF base is being written (INFO aof_rewrite_in_progress).
    var rewriteRunning: Bool { backgroundRunning.load(ordering: .relaxed) && backgroundIsRewrite.load(ordering: .relaxed) }

    func setBackground(_ bg: BackgroundSnapshot) { backgroundLock.withLock { background = bg } }

    func endBackground(_: Void?) {
        backgroundLock.withLock {
            background = nil
            backgroundRunning.store(false, ordering: .relaxed)
            backgroundIsRewrite.store(false, ordering: .relaxed)
        }
    }

    var runningBackground: BackgroundSnapshot? { backgroundLock.withLock { background } }

    /// BGSAVE SCHEDULE: true when it will start after the running one (false: none runs).
    func requestScheduled() -> Bool {
        backgroundLock.withLock {
            guard backgroundRunning.load(ordering: .relaxed) else { return false }
            scheduledRequest = true
            return true
        }
    }

    func takeScheduledRequest() -> Bool {
        backgroundLock.withLock { defer { scheduledRequest = false }; return scheduledRequest }
    }

    /// The start-up load: keys loaded and keys skipped as already expired.
    let loadedKeys = ManagedAtomic<Int>(0)
    let loadedExpiredKeys = ManagedAtomic<Int>(0)

    static let retryDelaySeconds = 5
}

/// A load in progress while the port is open (Redis' `loading:1`): the snapshot at start-up or
/// the embedded materialization of `serve --materialize`. Commands without the `loading` flag
/// get -LOADING meanwhile (ConnectionHandler.dispatch reads `active`, one atomic load).
public final class LoadingState: @unchecked Sendable {
    /// An UnsafeAtomic: dispatch reads it per command.
    let active = UnsafeAtomic<Bool>.create(false)
    deinit { active.destroy() }
    let startedAt = ManagedAtomic<Int>(0)
    /// Bytes of the snapshot file, and how far the reader is (0 for a materialization).
    let totalBytes = ManagedAtomic<Int>(0)
    let loadedBytes = ManagedAtomic<Int>(0)
    let startedMonotonic = ManagedAtomic<UInt64>(0)

    public var isActive: Bool { active.load(ordering: .relaxed) }

    public func begin(totalBytes: Int = 0) {
        startedAt.store(Int(Date().timeIntervalSince1970), ordering: .relaxed)
        startedMonotonic.store(DispatchTime.now().uptimeNanoseconds, ordering: .relaxed)
        self.totalBytes.store(totalBytes, ordering: .relaxed)
        loadedBytes.store(0, ordering: .relaxed)
        active.store(true, ordering: .releasing)
    }

    public func end() { active.store(false, ordering: .releasing) }

    /// INFO persistence's loading_* fields, as Redis prints them while loading.
    func infoFields() -> [(String, String)] {
        let total = totalBytes.load(ordering: .relaxed), done = loadedBytes.load(ordering: .relaxed)
        let elapsed = Double(DispatchTime.now().uptimeNanoseconds - startedMonotonic.load(ordering: .relaxed)) / 1e9
        let perc = total > 0 ? Double(done) / Double(total) * 100 : 0
        let eta = done > 0 && total > 0 ? Int(elapsed * Double(total - done) / Double(done)) : 1
        let start = [("loading_start_time", String(startedAt.load(ordering: .relaxed)))]
        guard total > 0 else { return start }  // a materialization: no file to measure against
        return start + [("loading_total_bytes", String(total)), ("loading_loaded_bytes", String(done)),
                ("loading_loaded_perc", String(format: "%.2f", perc)), ("loading_eta_seconds", String(eta))]
    }
}

/// Who asked for a snapshot: decides what a failure changes (see `lastBackgroundFailed`).
enum SnapshotTrigger: String {
    case save = "SAVE", bgsave = "BGSAVE", savePoint = "save point", shutdown = "shutdown"
    /// An append-only file's base (BGREWRITEAOF), written by the background walk.
    case aofRewrite = "BGREWRITEAOF"
    var isBackground: Bool { self == .bgsave || self == .savePoint }
}

extension ServerState {
    /// The snapshot entry point. In the foreground (SAVE, SHUTDOWN, and whatever needs the
    /// file written before it goes on): writes the snapshot of `shards` (every shard, held by
    /// the caller so nothing changes while it is written; all shards encode in parallel) and
    /// records the outcome; nil on success, else the error (logged). A SAVE while a background
    /// snapshot runs is refused as Redis refuses it; SHUTDOWN cancels that one first (Redis
    /// kills its child). The background form is `startBackgroundSnapshot` (BackgroundSnapshot.swift).
    func takeSnapshot(of shards: [Shard], trigger: SnapshotTrigger, now: Int64) -> Error? {
        let path = settings.snapshotPath
        // SAVE while BGREWRITEAOF writes its base runs, as in Redis (it only reads the held
        // tables; the walk waits for the shards like any client).
        if snapshots.rdbBackgroundRunning || (trigger == .shutdown && snapshots.backgroundRunning.load(ordering: .relaxed)) {
            guard trigger == .shutdown else { return BackgroundSaveInProgress() }
            cancelBackgroundSnapshot(holding: shards)
        }
        let writes = ServerStats.writeCommands(self)
        snapshots.lastAttempt.store(Int(Date().timeIntervalSince1970), ordering: .relaxed)
        let result = Result { try Snapshot.save(shards: shards, path: path, now: now) }
        record(result, trigger: trigger, path: path, writesAtStart: writes)
        if case .failure(let error) = result { return error }
        return nil
    }

    /// Records a snapshot's outcome (LASTSAVE, INFO persistence, -MISCONF) and logs it.
    /// `writesAtStart`: the write count at the instant the image was taken.
    func record(_ result: Result<Snapshot.Outcome, Error>, trigger: SnapshotTrigger, path: String, writesAtStart: Int,
                peakBacklogBytes: Int? = nil) {
        switch result {
        case .success(let o):
            snapshots.lastSave.store(Int(Date().timeIntervalSince1970), ordering: .relaxed)
            snapshots.writesAtLastSave.store(writesAtStart, ordering: .relaxed)
            snapshots.saves.wrappingIncrement(ordering: .relaxed)
            snapshots.lastSaveMilliseconds.store(Int(o.seconds * 1000), ordering: .relaxed)
            snapshots.lastBackgroundFailed.store(false, ordering: .relaxed)
            updateWriteRefusal()
            LarderLog.server.notice("DB saved on disk (\(trigger.rawValue)): \(o.keys) key(s), \(o.bytes) bytes in \(String(format: "%.3f", o.seconds)) s",
                                    metadata: ["event": "rdb_saved", "trigger": .string(trigger.rawValue), "path": .string(path),
                                               "keys": .stringConvertible(o.keys), "bytes": .stringConvertible(o.bytes),
                                               "seconds": .string(String(format: "%.3f", o.seconds)),
                                               "peak_backlog_bytes": .stringConvertible(peakBacklogBytes ?? 0),
                                               "rdb_version": .stringConvertible(o.version)])
        case .failure(let error):
            if trigger.isBackground {
                snapshots.lastBackgroundFailed.store(true, ordering: .relaxed)
                updateWriteRefusal()
            }
            LarderLog.server.error("snapshot (\(trigger.rawValue)) failed: \(error)",
                                   metadata: ["event": "rdb_save_failed", "trigger": .string(trigger.rawValue), "path": .string(path)])
        }
    }

    /// Recomputes `refusingWrites` (Redis: stop-writes-on-bgsave-error and save points set and
    /// the last background snapshot failed).
    func updateWriteRefusal() {
        let refuse = settings.stopWritesOnSaveError.load(ordering: .relaxed) && !settings.savePoints.isEmpty
            && snapshots.lastBackgroundFailed.load(ordering: .relaxed)
        snapshots.refusingWrites.store(refuse, ordering: .relaxed)
    }

    var changesSinceLastSave: Int {
        max(0, ServerStats.writeCommands(self) - snapshots.writesAtLastSave.load(ordering: .relaxed))
    }

    /// Borrows every shard from `home`'s loop (waiting for commands in flight, as a multi-shard
    /// command does), writes the snapshot there while serving stops for its duration, and
    /// reports on `home`'s loop. Used where no command holds the shards and the snapshot must
    /// be complete before going on: the signal-driven shutdown.
    func snapshotHoldingEveryShard(home: ShardWorker, trigger: SnapshotTrigger, done: @escaping (Error?) -> Void) {
        let workers = self.workers
        let borrow = ShardBorrow(shards: Array(0..<workers.count), home: home.loop, workers: workers) { [self] held in
            done(takeSnapshot(of: held.compactMap { $0 }, trigger: trigger, now: Clock.nowMilliseconds()))
        }
        if home.loop.inEventLoop { borrow.start() } else { home.loop.execute { borrow.start() } }
    }

    /// Once a second (Redis' serverCron): a background snapshot when a save point is reached.
    /// After a failure, the next try waits `retryDelaySeconds`.
    func checkSavePoints(home: ShardWorker) {
        let points = settings.savePoints
        guard !points.isEmpty, !snapshots.scheduledRunning.load(ordering: .relaxed),
              !snapshots.backgroundRunning.load(ordering: .relaxed) else { return }
        let now = Int(Date().timeIntervalSince1970)
        let changes = changesSinceLastSave
        let elapsed = now - snapshots.lastSave.load(ordering: .relaxed)
        if snapshots.lastBackgroundFailed.load(ordering: .relaxed)
            && now - snapshots.lastAttempt.load(ordering: .relaxed) < SnapshotState.retryDelaySeconds { return }
        guard let point = points.first(where: { changes >= $0.changes && elapsed >= $0.seconds }) else { return }
        LarderLog.server.notice("\(changes) changes in \(point.seconds) seconds. Saving...",
                                metadata: ["event": "rdb_save_point", "changes": .stringConvertible(changes),
                                           "seconds": .stringConvertible(point.seconds)])
        snapshots.scheduledRunning.store(true, ordering: .relaxed)
        let workers = self.workers
        let borrow = ShardBorrow(shards: Array(0..<workers.count), home: home.loop, workers: workers) { [self] held in
            // Held only for the cut; the shards write their parts while serving.
            let error = startBackgroundSnapshot(holding: held.compactMap { $0 }, trigger: .savePoint, now: Clock.nowMilliseconds()) { [self] _ in
                snapshots.scheduledRunning.store(false, ordering: .relaxed)
            }
            if error != nil { snapshots.scheduledRunning.store(false, ordering: .relaxed) }
        }
        if home.loop.inEventLoop { borrow.start() } else { home.loop.execute { borrow.start() } }
    }
}
