import Foundation
import LarderLog
import LarderPersistence
import LarderStore

/// SAVE: writes every database of every shard as one Redis RDB file at `dir/dbfilename`,
/// crash-safely (temporary file, fsync, rename, fsync of the directory; see RDBFileWriter).
///
/// It runs on the calling connection's thread while that execution holds every shard (route
/// `.allShards`), so the image is a consistent point in time across shards and the server does
/// not change while it is written, as Redis' SAVE. Shards are encoded one after the other on
/// that thread (not yet in parallel on their own threads).
enum Snapshot {
    struct Outcome { var keys: Int; var bytes: Int; var seconds: Double; var version: Int }

    static func save(shards: [Shard], path: String, now: Int64) throws -> Outcome {
        let started = Date()
        let all = shards.flatMap { $0.databases }
        let version = StoreSnapshot.requiredVersion(all)
        let writer = try RDBFileWriter(path: path)
        var keys = 0
        do {
            var enc = RDBEncoder(reservingCapacity: 1 << 16)
            enc.header(version: version)
            enc.aux("redis-ver", "7.0.0")
            enc.aux("redis-bits", String(MemoryLayout<Int>.size * 8))
            enc.aux("ctime", String(Int(Date().timeIntervalSince1970)))
            enc.aux("aof-base", "0")
            try writer.write(enc.bytes)
            for db in 0..<Shard.databaseCount {
                let spaces = shards.map { $0.databases[db] }
                let count = spaces.reduce(0) { $0 + $1.count }
                guard count > 0 else { continue }
                enc = RDBEncoder(reservingCapacity: 1 << 16)
                enc.selectDB(db)
                enc.resizeDB(keys: count, expires: spaces.reduce(0) { $0 + $1.expiresCount })
                var writeError: Error?
                for space in spaces {
                    space.forEachLive(now: now) { slot in
                        guard writeError == nil else { return }
                        StoreSnapshot.encodeSlot(space, slot, into: &enc)
                        keys += 1
                        if enc.bytes.count >= 1 << 20 {
                            // The walk cannot throw: a failed write is rethrown after it.
                            do { try writer.write(enc.bytes) } catch { writeError = error }
                            enc.bytes.removeAll(keepingCapacity: true)
                        }
                    }
                }
                if let writeError { throw writeError }
                try writer.write(enc.bytes)
            }
            enc = RDBEncoder()
            enc.eof()
            try writer.write(enc.bytes)
            try writer.commit()
        } catch {
            writer.abort()
            throw error
        }
        return Outcome(keys: keys, bytes: writer.bytesWritten, seconds: Date().timeIntervalSince(started), version: version)
    }

    struct LoadOutcome { var keys: Int; var expired: Int; var bytes: Int; var seconds: Double; var version: Int }

    /// Start-up: loads the snapshot at `path` into the shards (each key into the shard that
    /// owns it), before the listener opens, so no client ever sees a half-loaded store; clients
    /// that connect meanwhile wait in the kernel's backlog. nil when there is no file (a first
    /// start). A corrupt, truncated or unsupported file throws the reader's error (file,
    /// offset, what) and the server does not start: a half-loaded store would serve
    /// silently wrong answers. Keys already expired are skipped, as a Redis master does.
    /// Runs on the starting thread before any loop touches a shard; one thread, not yet in
    /// parallel per shard.
    static func load(path: String, into shards: [Shard], now: Int64) throws -> LoadOutcome? {
        do { return try loadFile(path: path, into: shards, now: now) } catch { throw SnapshotLoadError(reason: "\(error)") }
    }

    private static func loadFile(path: String, into shards: [Shard], now: Int64) throws -> LoadOutcome? {
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        let started = Date()
        var keys = 0, expired = 0, duplicates: [String] = []
        let summary = try RDBReader.read(path: path) { entry in
            guard entry.db >= 0 && entry.db < Shard.databaseCount else {
                throw RDBError(file: path, offset: 0, message: "database \(entry.db) is out of range (0-\(Shard.databaseCount - 1))")
            }
            let hash = entry.key.withUnsafeBytes { ByteHash.hash($0) }
            let shard = shards[ServerState.shardIndex(hash: hash, count: shards.count)]
            switch StoreSnapshot.insert(entry, into: shard.databases[entry.db], now: now) {
            case .inserted: keys += 1
            case .expired: expired += 1
            case .duplicate: if duplicates.count < 3 { duplicates.append(String(decoding: entry.key, as: UTF8.self)) }
            }
        }
        if !duplicates.isEmpty {
            throw RDBError(file: path, offset: 0, message: "the same key appears twice in one database (\(duplicates.joined(separator: ", ")))")
        }
        return LoadOutcome(keys: keys, expired: expired, bytes: summary.bytes,
                           seconds: Date().timeIntervalSince(started), version: summary.version)
    }
}

/// The server did not start because its snapshot cannot be loaded.
public struct SnapshotLoadError: Error, CustomStringConvertible {
    public var reason: String
    public var description: String { "cannot load the snapshot: \(reason) (the server does not start on a damaged snapshot; move the file away to start empty)" }
}
