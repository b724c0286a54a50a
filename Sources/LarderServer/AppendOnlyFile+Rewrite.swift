import Foundation
import LarderLog
import LarderPersistence
import LarderStore

/// How BGREWRITEAOF's request went (Redis' three replies).
enum RewriteStart {
    case started, scheduled, alreadyRunning
    case failed(Error)
}

extension ServerState {
    /// BGREWRITEAOF, fork-less: the caller holds every shard (`shards`), which is the cut. A new
    /// incr file takes every write from now on (AppendOnlyFile.beginRewrite), and the new base,
    /// the keyspace at this instant, is written by the point-in-time walk of BGSAVE
    /// (BackgroundSnapshot: each shard writes its keys on its own loop between client work, a
    /// key about to change is written first) into `appendonlydir`; when it is committed (fsync,
    /// rename, fsync of the directory) the manifest switches to it and the old parts go.
    /// While a BGSAVE runs the rewrite is scheduled and starts when it ends, as Redis does
    /// while its RDB child runs (the tables have one snapshot cursor, as Redis one child).
    func startBackgroundRewrite(holding shards: [Shard], home: ShardWorker, now: Int64) -> RewriteStart {
        if snapshots.rewriteRunning || aof.switching.load(ordering: .relaxed) { return .alreadyRunning }
        guard snapshots.beginBackground(rewrite: true) else {
            snapshots.rewriteScheduled.store(true, ordering: .relaxed)
            return .scheduled
        }
        snapshots.rewriteScheduled.store(false, ordering: .relaxed)
        let cut: AppendOnlyFile.RewriteCut
        let writer: RDBFileWriter
        do {
            cut = try aof.beginRewrite(home: home)
            do { writer = try RDBFileWriter(path: aof.basePath(cut)) } catch {
                aof.finishRewrite(cut, outcome: .failure(error))
                throw error
            }
        } catch {
            snapshots.endBackground(nil)
            aof.lastRewriteFailed.store(true, ordering: .relaxed)
            return .failed(error)
        }
        let bg = BackgroundSnapshot(trigger: .aofRewrite, writer: writer, cutNow: now, writesAtCut: ServerStats.writeCommands(self),
                                    version: StoreSnapshot.requiredVersion(shards.flatMap { $0.databases }),
                                    shards: shards.count, aofBase: true, commandForm: cut.isCommandBase) { [self] bg, result in
            // On the snapshot's writer thread, the base committed (or not): the switch happens
            // before the flag drops, so whoever sees aof_rewrite_in_progress:0 sees the outcome.
            aof.finishRewrite(cut, outcome: result ?? .failure(BackgroundSaveCancelled()))
            snapshots.endBackground(nil)
            startScheduledBackgroundWork()
        }
        snapshots.setBackground(bg)
        bg.begin(shards: shards)
        LarderLog.server.notice("Background append only file rewriting started (base \(cut.base.name))",
                                metadata: ["event": "aof_rewrite_started", "path": .string(aof.directory)])
        for w in workers { w.loop.execute { bg.runSlice(on: w) } }
        return .started
    }

    /// Once a second: a rewrite scheduled while something else ran (BGREWRITEAOF inside
    /// MULTI/EXEC, or one whose scheduled start lost a race) starts when nothing runs.
    func startScheduledRewriteIfIdle() {
        guard snapshots.rewriteScheduled.load(ordering: .relaxed), !snapshots.backgroundRunning.load(ordering: .relaxed),
              !aof.switching.load(ordering: .relaxed) else { return }
        startScheduledBackgroundWork()
    }
}
