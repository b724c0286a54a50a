import Foundation
import LarderLog
import LarderPersistence
import LarderRESP
import LarderStore

/// The server did not start because its append-only file cannot be loaded.
public struct AOFLoadError: Error, CustomStringConvertible {
    public var reason: String
    public var description: String { "cannot load the append only file: \(reason)" }
}

extension LarderServer {
    /// Start-up with `appendonly yes`, while clients get -LOADING: the base of the manifest
    /// (an RDB file, loaded as a snapshot; or, as Redis writes it with aof-use-rdb-preamble no,
    /// commands), then every incr file in order, then the file is opened for appending. With no
    /// manifest yet, the snapshot `dir/dbfilename` is loaded when there is one and becomes the
    /// first base (Redis 7 would start empty and ignore it: a dataset must not vanish because
    /// the operator turned the AOF on).
    ///
    /// The replay runs with expiry suspended (handlers see time 0), as Redis' loader does: every
    /// expiry the server saw was logged as a DEL where it happened, so each command meets the
    /// keyspace it met when it first ran; keys whose TTL passed meanwhile go afterwards.
    func loadAppendOnly() throws {
        let aof = state.aof
        aof.switching.store(true, ordering: .relaxed)  // no CONFIG-driven switch during the start
        defer { aof.switching.store(false, ordering: .relaxed) }
        aof.removeLeftoverTemporaries()
        let manifest: AOFManifest?
        do { manifest = try aof.readManifest() } catch { throw AOFLoadError(reason: "\(error)") }
        if let manifest {
            let files = (manifest.base.map { [$0] } ?? []) + manifest.incrs
            let total = files.reduce(0) { $0 + fileSize(aof.filePath($1.name)) }
            LarderLog.server.notice("loading the append only file \(aof.directory) (\(files.count) file(s), \(total) bytes); clients get -LOADING until it is loaded",
                                    metadata: ["event": "aof_loading", "path": .string(aof.directory), "bytes": .stringConvertible(total)])
            state.loading.begin(totalBytes: total)
            let started = Date()
            var done = 0, commands = 0, keys = 0
            do {
                if let base = manifest.base {
                    let p = aof.filePath(base.name)
                    guard FileManager.default.fileExists(atPath: p) else { throw AOFError(file: p, offset: 0, message: "the base file listed in the manifest does not exist") }
                    if isRDB(p) {
                        let o = try Snapshot.load(path: p, into: state.workers, progress: state.loading, now: 0)
                        keys = o?.keys ?? 0
                    } else {
                        commands += try replay(path: p, isLast: false, offset: done)
                    }
                    done += fileSize(p)
                }
                let incrs = manifest.incrs
                for (i, incr) in incrs.enumerated() {
                    let p = aof.filePath(incr.name)
                    // Redis tolerates a missing incr file only when it is the last (created lazily).
                    guard FileManager.default.fileExists(atPath: p) else {
                        if i == incrs.count - 1 { continue }
                        throw AOFError(file: p, offset: 0, message: "the incr file listed in the manifest does not exist")
                    }
                    commands += try replay(path: p, isLast: i == incrs.count - 1, offset: done)
                    done += fileSize(p)
                }
            } catch let e as SnapshotLoadError {
                throw AOFLoadError(reason: e.reason)
            } catch {
                throw AOFLoadError(reason: "\(error)")
            }
            state.snapshots.loadedKeys.store(keys, ordering: .relaxed)
            let seconds = Date().timeIntervalSince(started)
            LarderLog.server.notice("DB loaded from append only file: \(keys) key(s) from the base, \(commands) command(s) replayed, \(String(format: "%.3f", seconds)) s",
                                    metadata: ["event": "aof_loaded", "path": .string(aof.directory), "keys": .stringConvertible(keys),
                                               "commands": .stringConvertible(commands), "seconds": .stringConvertible(seconds)])
        } else {
            try loadSnapshot(keepLoadingState: true)
        }
        var openError: Error?
        withEveryShardHeld { held, home in
            do { try aof.open(after: manifest, shards: held.compactMap { $0 }, home: home, now: Clock.nowMilliseconds()) } catch { openError = error }
        }
        if let openError { throw AOFLoadError(reason: "\(openError)") }
        if !keepLoading { state.loading.end() }
    }

    private func fileSize(_ p: String) -> Int {
        ((try? FileManager.default.attributesOfItem(atPath: p))?[.size] as? Int) ?? 0
    }

    private func isRDB(_ p: String) -> Bool {
        guard let h = FileHandle(forReadingAtPath: p) else { return false }
        defer { try? h.close() }
        return (try? h.read(upToCount: 5)) == Data("REDIS".utf8)
    }

    /// Runs `body` on shard 0's loop while every shard is held; blocks until it ran. Must not
    /// be called on a loop thread.
    func withEveryShardHeld(_ body: @escaping ([Shard?], ShardWorker) -> Void) {
        let workers = state.workers
        let home = workers[0]
        let ran = DispatchSemaphore(value: 0)
        let borrow = ShardBorrow(shards: Array(0..<workers.count), home: home.loop, workers: workers) { held in
            body(held, home)
            ran.signal()
        }
        home.loop.execute { borrow.start() }
        ran.wait()
    }

    /// Replays the commands of one file (Redis' loadSingleAppendOnlyFile), streamed: the file
    /// is read in windows (AOFReader.Stream) and replayed `chunk` commands at a time, so memory
    /// stays bounded for a multi-GB incr file. A torn tail (a command cut off by the end of the
    /// file, or a MULTI without its EXEC) is cut off with a warning when this is the last file
    /// and aof-load-truncated is yes, as Redis does; a transaction's commands run only at its
    /// EXEC, so a torn one never ran. Anything else that is not a command, or a command Larder
    /// does not know, stops the start with the file, offset and reason. Returns the number of
    /// commands replayed.
    private func replay(path: String, isLast: Bool, offset: Int) throws -> Int {
        let stream = try AOFReader.Stream(path: path)
        let chunk = 10_000  // commands per hold of the shards: INFO etc. get a turn in between
        var db = 0
        var queued: [([[UInt8]], CommandSpec, Int)]? = nil
        var multiStart = 0  // the offset of the open MULTI
        var lastEnd = 0
        let scratch = ReplyWriter(capacity: 4096)
        var failure: Error? = nil
        var count = 0
        while failure == nil {
            let batch = try stream.next(max: chunk)
            if batch.commands.isEmpty { break }
            let firstStart = lastEnd
            withEveryShardHeld { [state] held, _ in
                func run(_ args: [[UInt8]], _ spec: CommandSpec, _ db: Int) {
                    ConnectionHandler.withArguments(args) { a in
                        var ctx = CommandContext(out: scratch, dbIndex: db, now: 0, shards: held, session: nil, server: state)
                        spec.handler(&ctx, a)
                    }
                    scratch.clear()  // a replayed command's reply (even an error) is dropped, as Redis' fake client does
                }
                for (i, args) in batch.commands.enumerated() {
                    let start = i == 0 ? firstStart : batch.ends[i - 1]
                    let name = String(decoding: args[0], as: UTF8.self).lowercased()
                    if name == "select" {
                        guard args.count == 2, let n = Int(String(decoding: args[1], as: UTF8.self)), n >= 0, n < Shard.databaseCount else {
                            failure = AOFError(file: path, offset: start, message: "invalid SELECT"); return
                        }
                        db = n
                    } else if name == "multi" {
                        queued = []
                        multiStart = start
                    } else if name == "exec" {
                        for (a, s, d) in queued ?? [] { run(a, s, d) }
                        queued = nil
                    } else {
                        guard let spec = state.commands.lookup(name), spec.route != .connection || name == "ping" else {
                            failure = AOFError(file: path, offset: start, message: "unknown command '\(name)' reading the append only file"); return
                        }
                        guard spec.arityOK(args.count) else {
                            failure = AOFError(file: path, offset: start, message: "wrong number of arguments for '\(name)'"); return
                        }
                        if queued != nil { queued!.append((args, spec, db)) } else { run(args, spec, db) }
                    }
                }
            }
            lastEnd = batch.ends.last!
            count += batch.commands.count
            state.loading.loadedBytes.store(offset + lastEnd, ordering: .relaxed)
        }
        if let failure { throw failure }
        // A MULTI whose EXEC never came is torn as well: the file is cut where it starts.
        let cut: Int? = queued != nil ? multiStart : stream.truncatedAt
        if let cut {
            guard isLast else {
                throw AOFError(file: path, offset: cut, message: "unexpected end of file (a command or transaction is cut off) in a file that is not the last")
            }
            guard state.settings.aof.loadTruncated.load(ordering: .relaxed) else {
                throw AOFError(file: path, offset: cut, message: "unexpected end of file (a command or transaction is cut off); aof-load-truncated is no: fix it with redis-check-aof --fix or set aof-load-truncated yes")
            }
            LarderLog.server.warning("!!! Warning: short read while loading the AOF file \(path)!!! AOF loaded anyway because aof-load-truncated is enabled: the file is truncated to its last complete command at offset \(cut) (\(stream.bytes - cut) byte(s) dropped)",
                                     metadata: ["event": "aof_truncated", "path": .string(path), "offset": .stringConvertible(cut)])
            if truncate(path, off_t(cut)) != 0 {
                throw AOFError(file: path, offset: cut, message: "cannot truncate the torn tail: \(String(cString: strerror(errno)))")
            }
            if queued != nil { count -= 1 + queued!.count }  // the torn transaction did not run
        }
        return count
    }

    private func equalsLower(_ a: [UInt8], _ word: String) -> Bool {
        a.count == word.utf8.count && zip(a, word.utf8).allSatisfy { ($0 | 0x20) == $1 }
    }
}
