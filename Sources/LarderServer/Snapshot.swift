import Foundation
import LarderLog
import LarderPersistence
import LarderStore

/// SAVE: writes every database of every shard as one Redis RDB file at `dir/dbfilename`,
/// crash-safely (temporary file, fsync, rename, fsync of the directory; see RDBFileWriter).
///
/// It runs while the calling execution holds every shard (route `.allShards`, or a borrow of
/// all shards), so the image is a consistent point in time across shards and the server does
/// not change while it is written, as Redis' SAVE. The shards are encoded in parallel, one task
/// each (DispatchQueue.concurrentPerform: nobody else touches a held shard), into 1 MiB chunks
/// that each start with SELECTDB, written in the order they complete under one lock. The file
/// therefore interleaves the shards' keys, which also lets the start-up load keep every shard
/// thread busy (measured: one shard at a time when the keys came shard by shard, 8.9 s vs 5.0 s
/// for 1M Feast entities). Every non-empty database is announced first with its total size
/// (RESIZEDB), so a loader sizes its tables once; RDB allows a database to be selected again.
enum Snapshot {
    struct Outcome { var keys: Int; var bytes: Int; var seconds: Double; var version: Int }

    /// Where the shards' chunks go: one writer, the first error kept, the keys counted.
    final class ChunkSink: @unchecked Sendable {
        let writer: RDBFileWriter
        private let lock = NSLock()
        private(set) var error: Error?
        private(set) var keys = 0
        init(_ writer: RDBFileWriter) { self.writer = writer }
        var failed: Bool { lock.withLock { error != nil } }
        func write(_ bytes: [UInt8]) {
            lock.withLock {
                guard error == nil else { return }
                do { try writer.write(bytes) } catch { self.error = error }
            }
        }
        func add(keys n: Int) { lock.withLock { keys += n } }
    }

    static let chunkBytes = 1 << 20

    /// What every snapshot (SAVE, BGSAVE, the AOF base) starts with: the header, the AUX fields
    /// and each non-empty database's SELECTDB + RESIZEDB over all shards, so a loader sizes each
    /// shard's table once before its keys arrive (see Keyspace.reserve).
    /// `aofBase`: the base of an append-only file (AUX aof-base 1, as Redis marks its preamble).
    static func preamble(shards: [Shard], version: Int, aofBase: Bool = false) -> [UInt8] {
        var enc = RDBEncoder(reservingCapacity: 1 << 12)
        enc.header(version: version)
        enc.aux("redis-ver", "7.0.0")
        enc.aux("redis-bits", String(MemoryLayout<Int>.size * 8))
        enc.aux("ctime", String(Int(Date().timeIntervalSince1970)))
        enc.aux("aof-base", aofBase ? "1" : "0")
        for db in 0..<Shard.databaseCount {
            let spaces = shards.map { $0.databases[db] }
            let count = spaces.reduce(0) { $0 + $1.count }
            guard count > 0 else { continue }
            enc.selectDB(db)
            enc.resizeDB(keys: count, expires: spaces.reduce(0) { $0 + $1.expiresCount })
        }
        return enc.bytes
    }

    static func save(shards: [Shard], path: String, now: Int64, aofBase: Bool = false) throws -> Outcome {
        let started = Date()
        let all = shards.flatMap { $0.databases }
        let version = StoreSnapshot.requiredVersion(all)
        let writer = try RDBFileWriter(path: path)
        let sink = ChunkSink(writer)
        do {
            try writer.write(preamble(shards: shards, version: version, aofBase: aofBase))
            DispatchQueue.concurrentPerform(iterations: shards.count) { s in
                var chunk = RDBEncoder(reservingCapacity: chunkBytes + (1 << 16))
                var keys = 0
                var stop = false  // another shard's write failed: the snapshot is lost anyway
                for db in 0..<Shard.databaseCount where !stop {
                    let space = shards[s].databases[db]
                    guard space.count > 0 else { continue }
                    chunk.bytes.removeAll(keepingCapacity: true)
                    chunk.selectDB(db)
                    let header = chunk.bytes.count
                    space.forEachLive(now: now) { slot in
                        guard !stop else { return }
                        StoreSnapshot.encodeSlot(space, slot, into: &chunk)
                        keys += 1
                        if chunk.bytes.count >= chunkBytes {
                            sink.write(chunk.bytes)
                            stop = sink.failed
                            chunk.bytes.removeAll(keepingCapacity: true)
                            chunk.selectDB(db)
                        }
                    }
                    if chunk.bytes.count > header { sink.write(chunk.bytes) }
                }
                sink.add(keys: keys)
            }
            if let error = sink.error { throw error }
            var enc = RDBEncoder()
            enc.eof()
            try writer.write(enc.bytes)
            try writer.commit()
        } catch {
            writer.abort()
            throw error
        }
        return Outcome(keys: sink.keys, bytes: writer.bytesWritten, seconds: Date().timeIntervalSince(started), version: version)
    }

    /// An append-only file's base as commands (aof-use-rdb-preamble no), written while the
    /// caller holds every shard (turning the file on); same crash safety as `save`, no checksum.
    static func saveCommands(shards: [Shard], path: String, now: Int64) throws -> Outcome {
        let started = Date()
        let writer = try RDBFileWriter(path: path)
        var keys = 0
        do {
            var out: [UInt8] = []
            out.reserveCapacity(chunkBytes + (1 << 16))
            for shard in shards {
                for db in 0..<Shard.databaseCount where shard.databases[db].count > 0 {
                    let space = shard.databases[db]
                    StoreCommands.select(db, into: &out)
                    var failure: Error?
                    space.forEachLive(now: now) { slot in
                        guard failure == nil else { return }
                        StoreCommands.encodeSlot(space, slot, into: &out)
                        keys += 1
                        if out.count >= chunkBytes {
                            do { try writer.write(out) } catch { failure = error }
                            out.removeAll(keepingCapacity: true)
                            StoreCommands.select(db, into: &out)
                        }
                    }
                    if let failure { throw failure }
                    try writer.write(out)
                    out.removeAll(keepingCapacity: true)
                }
            }
            try writer.commit(checksum: false)
        } catch {
            writer.abort()
            throw error
        }
        return Outcome(keys: keys, bytes: writer.bytesWritten, seconds: Date().timeIntervalSince(started), version: 0)
    }

    struct LoadOutcome { var keys: Int; var expired: Int; var bytes: Int; var seconds: Double; var version: Int }

    /// Start-up: loads the snapshot at `path` into the shards while their loops run (the port
    /// is open; clients get -LOADING). This thread reads and decodes the file; each key goes,
    /// in batches, to the loop of the shard that owns it, which inserts it on its own thread
    /// (`ShardWorker.submit`, so a borrow such as INFO's is respected). At most
    /// `batchesInFlight` batches wait per shard: memory stays bounded whatever the file size.
    /// nil when there is no file. A corrupt, truncated or unsupported file throws the reader's
    /// error (file, offset, what) and the server does not start: a half-loaded store would serve
    /// silently wrong answers. Keys already expired are skipped, as a Redis master does.
    /// Must not run on a shard thread.
    static func load(path: String, into workers: [ShardWorker], progress: LoadingState, now: Int64) throws -> LoadOutcome? {
        do { return try loadFile(path: path, into: workers, progress: progress, now: now) } catch { throw SnapshotLoadError(reason: "\(error)") }
    }

    static let batchSize = 2048
    static let batchesInFlight = 4

    /// A key read from the file with the hash that routed it to its shard: decoded by the
    /// reading thread, or (strings and plain hashes, all Larder writes for a Feast store) only
    /// delimited, for the shard to decode from the file's bytes (`StoreSnapshot.insertRaw`).
    enum RoutedEntry {
        case decoded(RDBEntry, UInt64)
        case raw(RDBRawEntry, UInt64)
    }

    /// The whole file, mapped read-only (MAP_PRIVATE), shared by the reading thread and the
    /// shards that decode raw entries from it; unmapped when the last batch referring to it is
    /// gone. Mapped rather than read into a buffer: perf of a 1M-entity load (190 MB) showed the
    /// read's copy and the zeroing of 190 MB of fresh anonymous pages (clear_page) next to the
    /// parse. Snapshots are replaced by rename, never rewritten in place, so the mapping stays
    /// whole while the load runs.
    final class FileBytes: @unchecked Sendable {
        let bytes: UnsafeRawBufferPointer
        private let mapped: Bool
        init(path: String) throws {
            let fd = open(path, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { throw RDBError(file: path, offset: 0, message: "cannot read the file (\(String(cString: strerror(errno))))") }
            defer { close(fd) }
            var st = stat()
            guard fstat(fd, &st) == 0 else { throw RDBError(file: path, offset: 0, message: "cannot read the file (\(String(cString: strerror(errno))))") }
            let size = Int(st.st_size)
            if size > 0, let p = mmap(nil, size, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0), p != MAP_FAILED {
                madvise(p, size, MADV_SEQUENTIAL)
                bytes = UnsafeRawBufferPointer(start: p, count: size)
                mapped = true
                return
            }
            // Not mappable (an empty file, or a file system without mmap): read it.
            let p = malloc(max(size, 1))!
            var off = 0
            while off < size {
                let n = read(fd, p + off, size - off)
                if n < 0 && errno == EINTR { continue }
                if n <= 0 {
                    let reason = n == 0 ? "the file shrank while being read" : String(cString: strerror(errno))
                    free(p)
                    throw RDBError(file: path, offset: off, message: "cannot read the file (\(reason))")
                }
                off += n
            }
            bytes = UnsafeRawBufferPointer(start: p, count: size)
            mapped = false
        }
        deinit {
            let p = UnsafeMutableRawPointer(mutating: bytes.baseAddress!)
            if mapped { munmap(p, bytes.count) } else { free(p) }
        }
    }

    /// Inserted batches go back to the reading thread to be freed there: the entries' arrays were
    /// allocated by that thread, and glibc frees a block from another thread under its arena's
    /// lock (perf of a 300k-key load: malloc_consolidate / unlink_chunk on the shard threads).
    final class DoneBatches: @unchecked Sendable {
        private let lock = NSLock()
        private var batches: [[RoutedEntry]] = []
        func put(_ b: [RoutedEntry]) { lock.lock(); batches.append(b); lock.unlock() }
        func drain() {
            lock.lock(); let b = batches; batches = []; lock.unlock()
            _ = b  // released here, on the reading thread
        }
    }

    /// What one shard's inserts found; written only on that shard's loop, read after all ended.
    final class ShardLoadCounts: @unchecked Sendable {
        var keys = 0, expired = 0
        var duplicates: [String] = []
        /// The first malformed value a shard met decoding a raw entry.
        var error: Error?
    }

    private static func loadFile(path: String, into workers: [ShardWorker], progress: LoadingState, now: Int64) throws -> LoadOutcome? {
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        let started = Date()
        let file = try FileBytes(path: path)
        let n = workers.count
        let counts = (0..<n).map { _ in ShardLoadCounts() }
        let permits = (0..<n).map { _ in DispatchSemaphore(value: batchesInFlight) }
        let inFlight = DispatchGroup()
        var pending = [[RoutedEntry]](repeating: [], count: n)
        let done = DoneBatches()
        func send(_ s: Int) {
            let batch = pending[s]
            pending[s] = []
            pending[s].reserveCapacity(batchSize)
            permits[s].wait()
            done.drain()
            inFlight.enter()
            let worker = workers[s], c = counts[s]
            worker.loop.execute {
                worker.submit {
                    // Hoisted: per key, the array and keyspace retains showed in perf.
                    let databases = worker.shard.databases
                    let bytes = file.bytes
                    for item in batch {
                        switch item {
                        case .decoded(let entry, let hash):
                            switch StoreSnapshot.insert(entry, hash: hash, into: databases[entry.db], now: now) {
                            case .inserted: c.keys += 1
                            case .expired: c.expired += 1
                            case .duplicate: if c.duplicates.count < 3 { c.duplicates.append(String(decoding: entry.key, as: UTF8.self)) }
                            }
                        case .raw(let entry, let hash):
                            do {
                                switch try StoreSnapshot.insertRaw(entry, file: bytes, path: path, hash: hash, into: databases[entry.db], now: now) {
                                case .inserted: c.keys += 1
                                case .expired: c.expired += 1
                                case .duplicate:
                                    if c.duplicates.count < 3 {
                                        c.duplicates.append(String(decoding: UnsafeRawBufferPointer(start: bytes.baseAddress! + entry.keyStart, count: entry.keyCount), as: UTF8.self))
                                    }
                                }
                            } catch {
                                if c.error == nil { c.error = error }
                            }
                        }
                    }
                    done.put(batch)
                    permits[s].signal()
                    inFlight.leave()
                }
            }
        }
        let summary: RDBReadSummary
        do {
            // Shards hold about keys / n each; 1/8 more absorbs the spread between shards.
            let sizeHint: (Int, Int) -> Void = { db, keys in
                guard db >= 0 && db < Shard.databaseCount else { return }
                for w in workers { w.loop.execute { w.submit { w.shard.databases[db].reserve(keys: keys / n + keys / (8 * n)) } } }
            }
            func checkDB(_ db: Int) throws {
                guard db >= 0 && db < Shard.databaseCount else {
                    throw RDBError(file: path, offset: 0, message: "database \(db) is out of range (0-\(Shard.databaseCount - 1))")
                }
            }
            func route(_ item: RoutedEntry, _ s: Int, _ endOffset: Int) {
                pending[s].append(item)
                if pending[s].count >= batchSize {
                    send(s)
                    progress.loadedBytes.store(endOffset, ordering: .relaxed)
                }
            }
            let bytes = file.bytes
            // The CRC runs beside the parse (concurrentChecksum): a mismatch fails the load,
            // and a failed load stops the server's start, so keys handed out meanwhile never serve.
            summary = try RDBReader.read(bytes: bytes, file: path, sizeHint: sizeHint, raw: { entry in
                try checkDB(entry.db)
                let hash = ByteHash.hash(UnsafeRawBufferPointer(start: bytes.baseAddress! + entry.keyStart, count: entry.keyCount))
                route(.raw(entry, hash), ServerState.shardIndex(hash: hash, count: n), entry.endOffset)
            }, concurrentChecksum: true) { entry in
                try checkDB(entry.db)
                let hash = entry.key.withUnsafeBytes { ByteHash.hash($0) }
                route(.decoded(entry, hash), ServerState.shardIndex(hash: hash, count: n), entry.endOffset)
            }
            for s in 0..<n where !pending[s].isEmpty { send(s) }
        } catch {
            inFlight.wait()
            throw error
        }
        inFlight.wait()
        if let e = counts.lazy.compactMap(\.error).first { throw e }
        progress.loadedBytes.store(summary.bytes, ordering: .relaxed)
        let duplicates = counts.flatMap(\.duplicates)
        if !duplicates.isEmpty {
            throw RDBError(file: path, offset: 0, message: "the same key appears twice in one database (\(duplicates.prefix(3).joined(separator: ", ")))")
        }
        return LoadOutcome(keys: counts.reduce(0) { $0 + $1.keys }, expired: counts.reduce(0) { $0 + $1.expired },
                           bytes: summary.bytes, seconds: Date().timeIntervalSince(started), version: summary.version)
    }
}

/// The server did not start because its snapshot cannot be loaded.
public struct SnapshotLoadError: Error, CustomStringConvertible {
    public var reason: String
    public var description: String { "cannot load the snapshot: \(reason) (the server does not start on a damaged snapshot; move the file away to start empty)" }
}
