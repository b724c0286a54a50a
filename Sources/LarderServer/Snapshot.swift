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

}
