import Atomics
import Foundation
import LarderLog
import LarderPersistence
import LarderStore
import NIOConcurrencyHelpers

/// Redis' `appendfsync`.
public enum AppendFsync: Int, CaseIterable, Sendable {
    case always = 0, everysec = 1, no = 2
    public var name: String { ["always", "everysec", "no"][rawValue] }
    public init?(name: String) {
        guard let f = Self.allCases.first(where: { $0.name == name.lowercased() }) else { return nil }
        self = f
    }
}

/// The append-only file's settings (CONFIG GET/SET): atomics where the data path or the
/// once-a-second check reads them; the names are fixed once the server runs.
public final class AOFSettings: @unchecked Sendable {
    /// `appendonly`: what the operator asked for. `AppendOnlyFile.active` says whether commands
    /// are being logged (off until the load and the first base file are done).
    public let enabled = ManagedAtomic<Bool>(false)
    let fsyncRaw = ManagedAtomic<Int>(AppendFsync.everysec.rawValue)
    /// `aof-load-truncated` (Redis' default yes): a torn tail of the last incr file is cut off
    /// with a warning instead of refusing to start.
    public let loadTruncated = ManagedAtomic<Bool>(true)
    /// `aof-use-rdb-preamble` (Redis' default yes): the base a rewrite writes is an RDB file;
    /// no: commands (`.base.aof`). Read when a rewrite starts.
    public let useRDBPreamble = ManagedAtomic<Bool>(true)
    public var dirname = "appendonlydir"
    public var filename = "appendonly.aof"
    public init() {}
    public var isEnabled: Bool {
        get { enabled.load(ordering: .relaxed) }
        set { enabled.store(newValue, ordering: .relaxed) }
    }
    public var loadsTruncated: Bool {
        get { loadTruncated.load(ordering: .relaxed) }
        set { loadTruncated.store(newValue, ordering: .relaxed) }
    }
    public var fsync: AppendFsync {
        get { AppendFsync(rawValue: fsyncRaw.load(ordering: .relaxed))! }
        set { fsyncRaw.store(newValue.rawValue, ordering: .relaxed) }
    }
}

/// What one thread has logged since its last flush. Each loop thread has one (in its
/// ShardWorker) and appends the records of the commands it runs, whichever shard they touch,
/// with no lock; the buffer goes to the file in one write() before any reply for those commands
/// leaves (ConnectionHandler.flush, a remote batch's return), before the thread lends its shard,
/// and before a borrower gives shards back, so a key's records reach the file in the order the
/// key saw them.
final class AOFBuffer {
    var bytes: [UInt8] = []
    /// The database the records since the last flush were written for; -1 after a flush, so
    /// every chunk starts with its own SELECT (other threads' chunks come in between).
    var selectedDB = -1
    /// Inside EXEC: the first record opens MULTI, `endTransaction` closes it with EXEC.
    var inTransaction = false
    var multiWritten = false
    /// `always`: written since the last fsync; replies wait (ShardWorker.afterAOFWrite).
    var fsyncOwed = false
    /// Work waiting for that fsync (replies), and whether the fsync task is queued.
    var waitingForSync: [() -> Void] = []
    var syncScheduled = false

    init() { bytes.reserveCapacity(16 * 1024) }

    /// Starts a record of `argc` arguments for database `db` (SELECT and MULTI first if due).
    @inline(__always) func startRecord(db: Int, argc: Int) {
        if db != selectedDB {
            AOFEncoder.arrayHeader(2, to: &bytes)
            AOFEncoder.bulk("SELECT", to: &bytes)
            AOFEncoder.bulkDecimal(db, to: &bytes)
            selectedDB = db
        }
        if inTransaction && !multiWritten {
            AOFEncoder.arrayHeader(1, to: &bytes)
            AOFEncoder.bulk("MULTI", to: &bytes)
            multiWritten = true
        }
        AOFEncoder.arrayHeader(argc, to: &bytes)
    }

    @inline(__always) func arg(_ a: UnsafeRawBufferPointer) { AOFEncoder.bulk(a, to: &bytes) }
    @inline(__always) func arg(_ s: StaticString) { AOFEncoder.bulk(s, to: &bytes) }
    @inline(__always) func arg(_ a: [UInt8]) { AOFEncoder.bulk(a, to: &bytes) }
    @inline(__always) func arg(_ v: Int) { AOFEncoder.bulkDecimal(v, to: &bytes) }

    /// HSET key field value ... [then PEXPIREAT key ms]: a hash write done outside a command.
    func hashWrite(db: Int, key: UnsafeRawBufferPointer, count: Int, field: (Int) -> UnsafeRawBufferPointer,
                   value: (Int) -> UnsafeRawBufferPointer, expireAt: Int64?) {
        startRecord(db: db, argc: 2 + 2 * count)
        arg("HSET"); arg(key)
        for i in 0..<count { arg(field(i)); arg(value(i)) }
        if let expireAt {
            startRecord(db: db, argc: 3)
            arg("PEXPIREAT"); arg(key); arg(Int(expireAt))
        }
    }

    func beginTransaction() { inTransaction = true; multiWritten = false }
    func endTransaction() {
        if multiWritten {
            AOFEncoder.arrayHeader(1, to: &bytes)
            AOFEncoder.bulk("EXEC", to: &bytes)
        }
        inTransaction = false; multiWritten = false
    }
}

/// The append-only file: Redis 7's multi-part layout in `dir/appenddirname` (manifest, one RDB
/// base, incr files of RESP commands). Every loop thread writes its own buffer to the current
/// incr file with one write() on a descriptor opened O_APPEND: the kernel keeps each write
/// whole, so threads need no lock between them. `always` fsyncs (fdatasync) after each such
/// write, before the replies go; `everysec` fsyncs from a timer once a second; `no` never.
///
/// The descriptor and the manifest change only while every shard is held (rewrite, turning the
/// file on or off), when no thread can be writing; `fileLock` orders that with the fsync timer.
final class AppendOnlyFile: @unchecked Sendable {
    let settings: AOFSettings
    let directory: String
    /// Commands are being logged (the file is open and its base exists).
    let active = ManagedAtomic<Bool>(false)
    private let fd = ManagedAtomic<Int32>(-1)
    private let fileLock = NIOLock()
    private var manifest = AOFManifest(entries: [])
    private var fsyncTimer: DispatchSourceTimer?

    // INFO persistence (what is measured).
    let lastWriteFailed = ManagedAtomic<Bool>(false)
    let lastWriteErrno = ManagedAtomic<Int32>(0)
    let unsyncedBytes = ManagedAtomic<Int>(0)
    let incrBytes = ManagedAtomic<Int>(0)
    let baseBytes = ManagedAtomic<Int>(0)
    let rewrites = ManagedAtomic<Int>(0)
    let lastRewriteFailed = ManagedAtomic<Bool>(false)
    let lastRewriteMilliseconds = ManagedAtomic<Int>(-1)
    let fsyncs = ManagedAtomic<Int>(0)
    let delayedFsyncs = ManagedAtomic<Int>(0)
    /// A rewrite, or turning the file on/off, is waiting for or holding the shards.
    let switching = ManagedAtomic<Bool>(false)

    /// How each command is logged, indexed by CommandSpec.id (AOFPropagation).
    let rules: [AOFPropagation.Rule]

    init(settings: ServerSettings, commands: CommandTable) {
        self.settings = settings.aof
        let dir = settings.dir
        self.directory = (dir.hasSuffix("/") ? dir : dir + "/") + settings.aof.dirname
        var rules = [AOFPropagation.Rule](repeating: .asIs, count: commands.specs.count)
        for spec in commands.specs { rules[spec.id] = AOFPropagation.rule(for: spec.name) }
        self.rules = rules
    }

    var fsyncPolicy: AppendFsync { settings.fsync }
    private func path(_ name: String) -> String { directory + "/" + name }
    var manifestPath: String { path(AOFManifest.manifestName(settings.filename)) }

    // MARK: writing (shard threads)

    /// Writes `b` to the current incr file (one write() call; the kernel appends it whole); with
    /// `always` the buffer then owes an fsync (`sync`), which the thread's replies wait for
    /// (ShardWorker.afterAOFWrite: one write and one fsync per loop turn, Redis' beforeSleep). On failure the records stay in the buffer and
    /// are retried at the next flush; writes are refused meanwhile (-MISCONF, as Redis), and
    /// with `always` the process exits, as Redis does ("Can't recover from AOF write error").
    func write(_ b: AOFBuffer) {
        b.selectedDB = -1
        guard active.load(ordering: .relaxed) else { b.bytes.removeAll(keepingCapacity: true); return }
        let f = fd.load(ordering: .acquiring)
        let n = b.bytes.count
        let failure: Int32? = b.bytes.withUnsafeBytes { raw -> Int32? in
            var off = 0
            while off < raw.count {
                let w = Glibc.write(f, raw.baseAddress! + off, raw.count - off)
                if w < 0 { if errno == EINTR { continue }; return errno }
                off += w
            }
            return nil
        }
        if let e = failure {
            lastWriteErrno.store(e, ordering: .relaxed)
            if !lastWriteFailed.exchange(true, ordering: .relaxed) {
                LarderLog.server.error("Error writing to the AOF file: \(String(cString: strerror(e)))",
                                       metadata: ["event": "aof_write_failed", "path": .string(directory)])
            }
            if fsyncPolicy == .always {
                LarderLog.server.critical("Can't recover from AOF write error when the AOF fsync policy is 'always'. Exiting...",
                                          metadata: ["event": "aof_write_failed"])
                exit(1)
            }
            return
        }
        if lastWriteFailed.load(ordering: .relaxed) {
            lastWriteFailed.store(false, ordering: .relaxed)
            LarderLog.server.notice("AOF write error looks solved, Redis can write again.", metadata: ["event": "aof_write_recovered"])
        }
        if b.bytes.capacity > 1 << 20 { b.bytes = []; b.bytes.reserveCapacity(16 * 1024) } else { b.bytes.removeAll(keepingCapacity: true) }
        incrBytes.wrappingIncrement(by: n, ordering: .relaxed)
        if fsyncPolicy == .always { b.fsyncOwed = true } else { unsyncedBytes.wrappingIncrement(by: n, ordering: .relaxed) }
    }

    /// `always`: one fdatasync for everything this thread wrote (and, the file being one
    /// descriptor, everything written before by any thread).
    func sync(_ b: AOFBuffer) {
        b.fsyncOwed = false
        let f = fd.load(ordering: .acquiring)
        guard f >= 0 else { return }
        fdatasync(f)
        fsyncs.wrappingIncrement(ordering: .relaxed)
    }

    /// `everysec`: once a second, fsync what was written since the last one, off the shard threads.
    private func startFsyncTimer() {
        guard fsyncTimer == nil else { return }
        let timer = DispatchSource.makeTimerSource(queue: DispatchQueue(label: "larder.aof.fsync"))
        timer.schedule(deadline: .now() + 1, repeating: 1)
        timer.setEventHandler { [weak self] in self?.fsyncIfDue() }
        timer.resume()
        fsyncTimer = timer
    }

    private func fsyncIfDue() {
        guard fsyncPolicy == .everysec else { return }
        fileLock.withLock {
            guard active.load(ordering: .relaxed), unsyncedBytes.exchange(0, ordering: .relaxed) > 0 else { return }
            let f = fd.load(ordering: .acquiring)
            if f >= 0 {
                let started = DispatchTime.now().uptimeNanoseconds
                fdatasync(f)
                fsyncs.wrappingIncrement(ordering: .relaxed)
                if DispatchTime.now().uptimeNanoseconds - started > 2_000_000_000 { delayedFsyncs.wrappingIncrement(ordering: .relaxed) }
            }
        }
    }

    // MARK: the files

    /// `fresh`: a new file (a leftover of that name, listed nowhere, is emptied); else the last
    /// incr file of the manifest, reopened to append.
    private func createIncr(seq: Int, fresh: Bool = true) throws -> Int32 {
        let p = path(AOFManifest.incrName(settings.filename, seq: seq))
        let f = Glibc.open(p, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | (fresh ? O_TRUNC : 0), 0o644)
        if f < 0 { throw AOFError(file: p, offset: 0, message: "cannot create the incr file: \(String(cString: strerror(errno)))") }
        return f
    }

    /// Writes the manifest crash-safely (temporary file, fsync, rename, fsync of the directory):
    /// after a crash it lists either the old set of files or the new one.
    private func writeManifest(_ m: AOFManifest) throws {
        let target = manifestPath
        let temp = path("temp-" + AOFManifest.manifestName(settings.filename))
        let bytes = Array(m.render().utf8)
        let f = Glibc.open(temp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard f >= 0 else { throw AOFError(file: temp, offset: 0, message: "cannot create: \(String(cString: strerror(errno)))") }
        let w = bytes.withUnsafeBytes { Glibc.write(f, $0.baseAddress!, $0.count) }
        let synced = fsync(f) == 0
        Glibc.close(f)
        guard w == bytes.count, synced, rename(temp, target) == 0 else {
            let e = errno
            unlink(temp)
            throw AOFError(file: target, offset: 0, message: "cannot write the manifest: \(String(cString: strerror(e)))")
        }
        syncDirectory()
        manifest = m
    }

    private func syncDirectory() {
        let d = Glibc.open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if d >= 0 { fsync(d); Glibc.close(d) }
    }

    private func fileSize(_ name: String) -> Int {
        ((try? FileManager.default.attributesOfItem(atPath: path(name)))?[.size] as? Int) ?? 0
    }

    /// What a rewrite fixed at its start (the cut): the manifest before it, the new incr file
    /// that receives every write from the cut on, and the base to write.
    struct RewriteCut {
        var old: AOFManifest
        var newIncr: AOFManifest.Entry?
        var base: AOFManifest.Entry
        var started: Date
        /// aof-use-rdb-preamble no when it started: the base is commands.
        var isCommandBase: Bool { base.name.hasSuffix(".aof") }
    }

    /// The start of a rewrite, while the caller holds every shard, on `home`'s loop. As Redis 7:
    /// a new incr file is opened and listed in the manifest with the old parts (so a base that
    /// fails or never ends loses nothing), and from now on every write goes to it. With the file
    /// off (BGREWRITEAOF while appendonly no), no incr: only a base will be written.
    func beginRewrite(home: ShardWorker, turningOn: Bool = false) throws -> RewriteCut {
        let started = Date()
        home.flushAOF()  // the other threads flushed when they lent their shards
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        // Turned on over files of an earlier run: continue their numbering and remove them.
        if manifest.entries.isEmpty, let found = try? readManifest() { manifest = found }
        let logging = active.load(ordering: .relaxed) || turningOn
        let old = manifest
        let baseSeq = (old.entries.filter { $0.kind == .base }.map(\.seq).max() ?? 0) + 1
        let incrSeq = (old.entries.filter { $0.kind == .incr }.map(\.seq).max() ?? 0) + 1
        let rdb = settings.useRDBPreamble.load(ordering: .relaxed)
        let base = AOFManifest.Entry(name: AOFManifest.baseName(settings.filename, seq: baseSeq, rdb: rdb), seq: baseSeq, kind: .base)
        guard logging else { return RewriteCut(old: old, newIncr: nil, base: base, started: started) }
        let newIncr = AOFManifest.Entry(name: AOFManifest.incrName(settings.filename, seq: incrSeq), seq: incrSeq, kind: .incr)
        let f = try createIncr(seq: incrSeq)
        try fileLock.withLock {
            do { try writeManifest(AOFManifest(entries: old.entries + [newIncr])) } catch { Glibc.close(f); throw error }
            let previous = fd.exchange(f, ordering: .acquiringAndReleasing)
            if previous >= 0 { fdatasync(previous); Glibc.close(previous) }
            unsyncedBytes.store(0, ordering: .relaxed)
        }
        // aof_current_size keeps counting the old parts (as the base) until the switch.
        baseBytes.store(baseBytes.load(ordering: .relaxed) + incrBytes.exchange(0, ordering: .relaxed), ordering: .relaxed)
        if turningOn { active.store(true, ordering: .releasing) }
        return RewriteCut(old: old, newIncr: newIncr, base: base, started: started)
    }

    /// The end of a rewrite whose base is in place (written, fsynced, renamed; `outcome`), or
    /// failed or was cancelled (nil outcome: `error`). On success the manifest switches
    /// atomically to the new base and the incr files from the cut on; the old parts are first
    /// listed as history (as Redis), then deleted, then dropped from the manifest. On failure
    /// the manifest stays as the cut left it (old parts + new incr), which loads to the same data.
    /// Any thread: the shards keep serving (their writes go to the new incr file meanwhile).
    @discardableResult
    func finishRewrite(_ cut: RewriteCut, outcome: Result<Snapshot.Outcome, Error>) -> Error? {
        let outcomeValue: Snapshot.Outcome
        switch outcome {
        case .failure(let error):
            lastRewriteFailed.store(true, ordering: .relaxed)
            LarderLog.server.error("Background AOF rewrite failed: \(error)", metadata: ["event": "aof_rewrite_failed", "path": .string(directory)])
            return error
        case .success(let o): outcomeValue = o
        }
        do {
            try fileLock.withLock {
                let incrs = manifest.incrs.filter { cut.newIncr != nil && $0.seq >= cut.newIncr!.seq }
                let history = manifest.entries.filter { e in e.name != cut.base.name && !incrs.contains { $0.name == e.name } }
                    .map { AOFManifest.Entry(name: $0.name, seq: $0.seq, kind: .history) }
                try writeManifest(AOFManifest(entries: [cut.base] + history + incrs))
                for e in history { unlink(path(e.name)) }
                syncDirectory()
                try writeManifest(AOFManifest(entries: [cut.base] + incrs))
            }
        } catch {
            lastRewriteFailed.store(true, ordering: .relaxed)
            LarderLog.server.error("Background AOF rewrite failed: \(error)", metadata: ["event": "aof_rewrite_failed", "path": .string(directory)])
            return error
        }
        baseBytes.store(outcomeValue.bytes, ordering: .relaxed)
        rewrites.wrappingIncrement(ordering: .relaxed)
        lastRewriteFailed.store(false, ordering: .relaxed)
        lastRewriteMilliseconds.store(Int(Date().timeIntervalSince(cut.started) * 1000), ordering: .relaxed)
        LarderLog.server.notice("Background AOF rewrite finished successfully: base \(cut.base.name), \(outcomeValue.keys) key(s), \(outcomeValue.bytes) bytes in \(String(format: "%.3f", outcomeValue.seconds)) s",
                                metadata: ["event": "aof_rewritten", "path": .string(directory), "keys": .stringConvertible(outcomeValue.keys),
                                           "bytes": .stringConvertible(outcomeValue.bytes)])
        return nil
    }

    /// A rewrite written while the caller holds every shard (turning the file on, the first
    /// start: logging must not begin before a base exists). BGREWRITEAOF writes its base in
    /// the background instead (ServerState.startBackgroundRewrite).
    func rewrite(shards: [Shard], home: ShardWorker, now: Int64, turningOn: Bool = false) -> Error? {
        let cut: RewriteCut
        do { cut = try beginRewrite(home: home, turningOn: turningOn) } catch {
            lastRewriteFailed.store(true, ordering: .relaxed)
            LarderLog.server.error("AOF rewrite failed: \(error)", metadata: ["event": "aof_rewrite_failed", "path": .string(directory)])
            return error
        }
        return finishRewrite(cut, outcome: Result {
            cut.isCommandBase ? try Snapshot.saveCommands(shards: shards, path: path(cut.base.name), now: now)
                : try Snapshot.save(shards: shards, path: path(cut.base.name), now: now, aofBase: true)
        })
    }

    func basePath(_ cut: RewriteCut) -> String { path(cut.base.name) }

    /// Start-up with the file on, after the load: reopens the last incr file listed (or adds
    /// one), and writes a first base when the manifest has none. Holds every shard.
    func open(after loaded: AOFManifest?, shards: [Shard], home: ShardWorker, now: Int64) throws {
        guard let loaded, loaded.base != nil else {
            if let error = rewrite(shards: shards, home: home, now: now, turningOn: true) { throw error }
            startFsyncTimer()
            return
        }
        manifest = loaded
        let f: Int32
        if let last = loaded.incrs.last {
            f = try createIncr(seq: last.seq, fresh: false)
        } else {
            let seq = 1
            f = try createIncr(seq: seq)
            try writeManifest(AOFManifest(entries: loaded.entries + [.init(name: AOFManifest.incrName(settings.filename, seq: seq), seq: seq, kind: .incr)]))
        }
        fd.store(f, ordering: .releasing)
        baseBytes.store(fileSize(loaded.base!.name), ordering: .relaxed)
        incrBytes.store(manifest.incrs.reduce(0) { $0 + fileSize($1.name) }, ordering: .relaxed)
        active.store(true, ordering: .releasing)
        startFsyncTimer()
    }

    /// CONFIG SET appendonly no (holding every shard): stops logging, fsyncs and closes.
    func turnOff() {
        fileLock.withLock {
            active.store(false, ordering: .releasing)
            let f = fd.exchange(-1, ordering: .acquiringAndReleasing)
            if f >= 0 { fdatasync(f); Glibc.close(f) }
        }
        LarderLog.server.notice("Append only file turned off", metadata: ["event": "aof_off"])
    }

    /// The loops have stopped: the last records (expiries found by the final snapshot...) go out
    /// and the file is fsynced, whatever the policy, as Redis does at shutdown.
    func close(workers: [ShardWorker]) {
        for w in workers { write(w.aofBuffer) }
        fileLock.withLock {
            fsyncTimer?.cancel()
            let f = fd.exchange(-1, ordering: .acquiringAndReleasing)
            if f >= 0 { fdatasync(f); Glibc.close(f) }
            active.store(false, ordering: .releasing)
        }
    }

    /// Removes what a rewrite or a manifest switch interrupted by a crash left in `directory`:
    /// every file named `temp-*` (the base being written, `temp-<pid>-<n>.rdb`/`.aof` from
    /// RDBFileWriter; the manifest being replaced, `temp-<manifest>`; Redis 7's own temporaries,
    /// `temp-rewriteaof-*.aof` and `temp-<name>.incr`). None is ever listed in a manifest: a
    /// temporary file is renamed before the manifest names it. Redis likewise deletes its
    /// temporaries when a rewrite ends or fails, and an unfinished base is useless: the next
    /// rewrite writes a new one. Called at start-up before the manifest is read; returns the
    /// names removed (each is logged).
    @discardableResult
    func removeLeftoverTemporaries() -> [String] {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return [] }
        var removed: [String] = []
        for name in names.sorted() where name.hasPrefix("temp-") {
            let p = path(name)
            let size = fileSizeIfAny(p)
            if unlink(p) == 0 {
                removed.append(name)
                LarderLog.server.notice("removed the temporary file \(p) (\(size) bytes) left by an interrupted append only file rewrite",
                                        metadata: ["event": "aof_temp_removed", "path": .string(p), "bytes": .stringConvertible(size)])
            } else {
                LarderLog.server.warning("cannot remove the temporary file \(p) left by an interrupted append only file rewrite: \(String(cString: strerror(errno)))",
                                         metadata: ["event": "aof_temp_remove_failed", "path": .string(p)])
            }
        }
        return removed
    }

    private func fileSizeIfAny(_ p: String) -> Int {
        var st = stat()
        return stat(p, &st) == 0 ? Int(st.st_size) : 0
    }

    /// The manifest in `directory`, nil when there is none.
    func readManifest() throws -> AOFManifest? {
        let p = manifestPath
        guard FileManager.default.fileExists(atPath: p) else { return nil }
        guard let data = FileManager.default.contents(atPath: p) else {
            throw AOFError(file: p, offset: 0, message: "cannot be read")
        }
        return try AOFManifest.parse(String(decoding: data, as: UTF8.self), file: p)
    }

    func filePath(_ name: String) -> String { path(name) }

    /// INFO persistence's aof_* fields, as Redis prints them.
    func infoFields(_ snapshots: SnapshotState) -> [(String, String)] {
        let on = settings.enabled.load(ordering: .relaxed)
        let rewriting = snapshots.rewriteRunning
        let since = Int(Date().timeIntervalSince1970) - snapshots.backgroundStartedAt.load(ordering: .relaxed)
        var f: [(String, String)] = [
            ("aof_enabled", on ? "1" : "0"),
            ("aof_rewrite_in_progress", rewriting ? "1" : "0"),
            ("aof_rewrite_scheduled", snapshots.rewriteScheduled.load(ordering: .relaxed) ? "1" : "0"),
            ("aof_last_rewrite_time_sec", { let ms = lastRewriteMilliseconds.load(ordering: .relaxed); return ms < 0 ? "-1" : String(ms / 1000) }()),
            ("aof_current_rewrite_time_sec", rewriting ? String(max(0, since)) : "-1"),
            ("aof_last_bgrewrite_status", lastRewriteFailed.load(ordering: .relaxed) ? "err" : "ok"),
            ("aof_rewrites", String(rewrites.load(ordering: .relaxed))),
            ("aof_last_write_status", lastWriteFailed.load(ordering: .relaxed) ? "err" : "ok"),
        ]
        if active.load(ordering: .relaxed) {
            let base = baseBytes.load(ordering: .relaxed)
            f += [("aof_current_size", String(base + incrBytes.load(ordering: .relaxed))),
                  ("aof_base_size", String(base)),
                  ("aof_pending_rewrite", "0"),
                  ("aof_buffer_length", "0"),
                  ("aof_pending_bio_fsync", "0"),
                  ("aof_delayed_fsync", String(delayedFsyncs.load(ordering: .relaxed)))]
        }
        return f
    }
}

extension ShardWorker {
    /// Writes this thread's AOF records, if any (see AOFBuffer for when). `sync`: with
    /// `always`, fsync now too (for acknowledgements that do not go through afterAOFWrite).
    @inline(__always) func flushAOF(sync: Bool = false) {
        if !aofBuffer.bytes.isEmpty, let aof { aof.write(aofBuffer) }
        if sync && aofBuffer.fsyncOwed { aof?.sync(aofBuffer) }
    }

    /// Replies wait for this loop turn's AOF write: when this thread has records not yet written
    /// (or, with `always`, written but not fsynced), `work` (sending replies) is queued and true
    /// is returned. One task queued on this loop, which NIO runs after the I/O events of the
    /// current turn, writes the buffer once (and fsyncs once with `always`), then runs what
    /// waited: every client served in the turn shares one write() and one fsync, as Redis
    /// writes and fsyncs once in beforeSleep. Measured before this, with one write (and with
    /// `always` one fsync) per client read: 156 us of server CPU per SET at 50 clients with
    /// `always`, against redis' 24 (bench/aof/run.py).
    /// Whether `afterAOFWrite` would hold replies now; tested before making its closure, which
    /// otherwise retained and released the connection on every flush (engine.md, stop 26).
    @inline(__always) var aofWriteOwed: Bool {
        let b = aofBuffer
        return !b.bytes.isEmpty || b.fsyncOwed
    }

    @inline(__always) func afterAOFWrite(_ work: @escaping () -> Void) -> Bool {
        let b = aofBuffer
        guard !b.bytes.isEmpty || b.fsyncOwed else { return false }
        b.waitingForSync.append(work)
        if !b.syncScheduled {
            b.syncScheduled = true
            loop.execute { [self] in
                b.syncScheduled = false
                flushAOF(sync: true)
                let waiting = b.waitingForSync
                b.waitingForSync.removeAll(keepingCapacity: true)
                for w in waiting { w() }
            }
        }
        return true
    }
}

extension ServerState {
    /// The worker whose loop is the current thread (nil off the loops).
    func currentWorker() -> ShardWorker? { workers.first { $0.loop.inEventLoop } }

    /// A key deleted because its TTL passed, logged as DEL on the thread that deleted it (off
    /// the loops, e.g. a snapshot's helper threads, nothing is logged: that key is in no base).
    func logExpiry(db: Int, key: UnsafeRawBufferPointer) {
        guard aof.active.load(ordering: .relaxed), let w = currentWorker() else { return }
        w.aofBuffer.startRecord(db: db, argc: 2)
        w.aofBuffer.arg("DEL"); w.aofBuffer.arg(key)
    }

    /// Hash fields deleted because their TTL passed, logged as HDEL (Redis 7.4 propagates the
    /// same), so the replay meets the hash as it was.
    func logFieldExpiry(db: Int, key: UnsafeRawBufferPointer, fields: [[UInt8]]) {
        guard aof.active.load(ordering: .relaxed), let w = currentWorker() else { return }
        w.aofBuffer.startRecord(db: db, argc: 2 + fields.count)
        w.aofBuffer.arg("HDEL"); w.aofBuffer.arg(key)
        for f in fields { w.aofBuffer.arg(f) }
    }

    /// Writes the current loop thread's AOF records (work run through `runOnShard` that replies
    /// from elsewhere calls it before handing its result over).
    public func flushAppendOnlyHere() { currentWorker()?.flushAOF(sync: true) }

    /// Logs a hash write done outside a command (FEATURES.PUSH, the HTTP push, the embedded
    /// bulk load) on the current loop thread: HSET key field value ..., then PEXPIREAT when the
    /// key got a TTL. Call it on the thread that wrote, after the write.
    public func propagateHashWrite(db: Int, key: UnsafeRawBufferPointer, fields: [[UInt8]], values: [[UInt8]], expireAt: Int64?) {
        guard aof.active.load(ordering: .relaxed), let w = currentWorker() else { return }
        let b = w.aofBuffer
        b.startRecord(db: db, argc: 2 + 2 * fields.count)
        b.arg("HSET"); b.arg(key)
        for (f, v) in zip(fields, values) { b.arg(f); b.arg(v) }
        if let expireAt {
            b.startRecord(db: db, argc: 3)
            b.arg("PEXPIREAT"); b.arg(key); b.arg(Int(expireAt))
        }
    }

    /// Once a second (shard 0's loop): turns the file on or off when CONFIG SET asked for it.
    /// On: a rewrite holding every shard writes the first base and opens the incr file, as
    /// Redis' CONFIG SET appendonly yes starts a rewrite; logging starts when it is done.
    func reconcileAppendOnly(home: ShardWorker) {
        let wanted = settings.aof.enabled.load(ordering: .relaxed)
        // Not while a rewrite writes its base: its end switches the manifest this would change.
        guard wanted != aof.active.load(ordering: .relaxed), !aof.switching.load(ordering: .relaxed), !snapshots.rewriteRunning else { return }
        aof.switching.store(true, ordering: .relaxed)
        let workers = self.workers
        let borrow = ShardBorrow(shards: Array(0..<workers.count), home: home.loop, workers: workers) { [self] held in
            defer { aof.switching.store(false, ordering: .relaxed) }
            if wanted {
                do {
                    try aof.open(after: nil, shards: held.compactMap { $0 }, home: home, now: Clock.nowMilliseconds())
                } catch {
                    LarderLog.server.error("cannot turn the append only file on: \(error)", metadata: ["event": "aof_on_failed"])
                    settings.aof.enabled.store(false, ordering: .relaxed)
                }
            } else {
                home.flushAOF()
                aof.turnOff()
            }
        }
        borrow.start()
    }
}
