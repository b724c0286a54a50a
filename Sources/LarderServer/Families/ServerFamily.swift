import Foundation
import LarderRESP
import LarderStore
import LarderLog

/// Server commands: keyspace-wide and administrative. INFO, CONFIG, COMMAND and MEMORY live in
/// their own files.
enum ServerFamily {
    static let commands: [CommandSpec] = [
        CommandSpec("dbsize", arity: 1, flags: [.readonly, .fast], route: .allShards, group: "server",
                    handler: dbsize),
        CommandSpec("flushall", arity: -1, flags: [.write], route: .allShards, group: "server",
                    handler: flushall),
        CommandSpec("flushdb", arity: -1, flags: [.write], route: .allShards, group: "server",
                    handler: flushdb),
        CommandSpec("time", arity: 1, flags: [.loading, .stale, .fast], group: "server",
                    handler: time),
        CommandSpec("lastsave", arity: 1, flags: [.loading, .stale, .fast], group: "server",
                    handler: lastsave),
        CommandSpec("save", arity: 1, flags: [.admin, .noscript, .noAsyncLoading, .noMulti], route: .allShards,
                    group: "server", handler: save),
        CommandSpec("bgsave", arity: -1, flags: [.admin, .noscript, .noAsyncLoading], route: .allShards,
                    group: "server", handler: bgsave),
        CommandSpec("role", arity: 1, flags: [.noscript, .loading, .stale, .fast], group: "server",
                    handler: role),
        CommandSpec("monitor", arity: 1, flags: [.admin, .noscript, .loading, .stale], group: "server",
                    handler: monitor),
        CommandSpec("shutdown", arity: -1, flags: [.admin, .noscript, .loading, .stale, .noMulti, .allowBusy],
                    group: "server", handler: shutdown),
        InfoFamily.spec, ConfigFamily.spec, CommandFamily.spec, MemoryFamily.spec,
    ]

    static func dbsize(_ ctx: inout CommandContext, _ args: Arguments) {
        ctx.out.integer(ctx.heldDatabases.reduce(0) { $0 + $1.count })
    }

    /// FLUSHALL / FLUSHDB take an optional ASYNC or SYNC; both free at once here.
    static func flushModeOK(_ args: Arguments) -> Bool {
        args.count == 1 || (args.count == 2 && (args.equalsKeyword(1, "ASYNC") || args.equalsKeyword(1, "SYNC")))
    }

    static func flushall(_ ctx: inout CommandContext, _ args: Arguments) {
        guard flushModeOK(args) else { ctx.syntaxError(); return }
        for s in ctx.heldShards { for db in s.databases { db.removeAll() } }
        ctx.out.ok()
    }

    static func flushdb(_ ctx: inout CommandContext, _ args: Arguments) {
        guard flushModeOK(args) else { ctx.syntaxError(); return }
        for db in ctx.heldDatabases { db.removeAll() }
        ctx.out.ok()
    }

    static func time(_ ctx: inout CommandContext, _ args: Arguments) {
        let us = Clock.nowMicroseconds()
        ctx.out.arrayHeader(2)
        ctx.out.bulk(String(us / 1_000_000))
        ctx.out.bulk(String(us % 1_000_000))
    }

    static func lastsave(_ ctx: inout CommandContext, _ args: Arguments) {
        ctx.out.integer(ctx.server.lastSave.load(ordering: .relaxed))
    }

    /// SAVE: writes the snapshot (Snapshot.save) while holding every shard; OK once the file
    /// is durable and in place. LASTSAVE moves only on success; a failure is `-ERR` + reason.
    static func save(_ ctx: inout CommandContext, _ args: Arguments) {
        if let reason = writeSnapshot(&ctx) { ctx.out.error("ERR \(reason)"); return }
        ctx.out.ok()
    }

    /// BGSAVE [SCHEDULE]: there is no background (fork-less) snapshot yet, so it saves in the
    /// foreground exactly as SAVE does, and replies Redis' text only after the file is written.
    static func bgsave(_ ctx: inout CommandContext, _ args: Arguments) {
        guard args.count == 1 || (args.count == 2 && args.equalsKeyword(1, "SCHEDULE")) else { ctx.syntaxError(); return }
        if let reason = writeSnapshot(&ctx) { ctx.out.error("ERR \(reason)"); return }
        ctx.out.simple("Background saving started" as StaticString)
    }

    /// Writes the snapshot; nil on success, else why it failed.
    static func writeSnapshot(_ ctx: inout CommandContext) -> String? {
        let path = ctx.server.settings.snapshotPath
        do {
            let o = try Snapshot.save(shards: ctx.heldShards, path: path, now: ctx.now)
            ctx.server.lastSave.store(Int(Date().timeIntervalSince1970), ordering: .relaxed)
            LarderLog.server.notice("DB saved on disk: \(o.keys) key(s), \(o.bytes) bytes in \(String(format: "%.3f", o.seconds)) s",
                                    metadata: ["event": "rdb_saved", "path": .string(path), "keys": .stringConvertible(o.keys),
                                               "bytes": .stringConvertible(o.bytes), "rdb_version": .stringConvertible(o.version)])
            return nil
        } catch {
            LarderLog.server.error("SAVE failed: \(error)", metadata: ["event": "rdb_save_failed", "path": .string(path)])
            return "snapshot \(path) not written: \(error)"
        }
    }

    /// READONLY / READWRITE answer as a standalone Redis does.

    static func role(_ ctx: inout CommandContext, _ args: Arguments) {
        ctx.out.arrayHeader(3)
        ctx.out.bulk("master" as StaticString)
        ctx.out.integer(0)
        ctx.out.arrayHeader(0)
    }

    /// MONITOR: replies OK, then every command other clients run is streamed to this one
    /// (Monitor.feed). A second MONITOR is ignored without a reply, as in Redis.
    static func monitor(_ ctx: inout CommandContext, _ args: Arguments) {
        guard let session = ctx.session else { return }
        if session.isMonitor.load(ordering: .relaxed) { return }
        ctx.server.clients.addMonitor(session)
        ctx.out.ok()
    }

    /// SHUTDOWN [NOSAVE|SAVE] [NOW] [FORCE] [ABORT]. Nothing is saved (no persistence); the
    /// server closes every connection and the process exits with status 0. No reply on success.
    static func shutdown(_ ctx: inout CommandContext, _ args: Arguments) {
        var nosave = false, save = false, abort = false, other = false
        for i in 1..<max(args.count, 1) {
            if args.equalsKeyword(i, "NOSAVE") { nosave = true }
            else if args.equalsKeyword(i, "SAVE") { save = true }
            else if args.equalsKeyword(i, "NOW") || args.equalsKeyword(i, "FORCE") { other = true }
            else if args.equalsKeyword(i, "ABORT") { abort = true }
            else { ctx.syntaxError(); return }
        }
        if (abort && (nosave || save || other)) || (nosave && save) { ctx.syntaxError(); return }
        if abort { ctx.out.error("ERR No shutdown in progress." as StaticString); return }
        ctx.server.requestShutdown()
    }
}
