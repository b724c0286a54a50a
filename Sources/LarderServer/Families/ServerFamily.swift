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
        // Every shard: the new base is a consistent image, and the incr file switches between two
        // commands. Not in MULTI: a transaction's records must stay in one incr file.
        CommandSpec("bgrewriteaof", arity: 1, flags: [.admin, .noscript, .noAsyncLoading], route: .allShards,
                    group: "server", handler: bgrewriteaof),
        CommandSpec("role", arity: 1, flags: [.noscript, .loading, .stale, .fast], group: "server",
                    handler: role),
        CommandSpec("monitor", arity: 1, flags: [.admin, .noscript, .loading, .stale], group: "server",
                    handler: monitor),
        // Every shard, so the snapshot it may write is a consistent image (as SAVE).
        CommandSpec("shutdown", arity: -1, flags: [.admin, .noscript, .loading, .stale, .noMulti, .allowBusy],
                    route: .allShards, group: "server", handler: shutdown),
        CommandSpec("wait", arity: 3, flags: [.noscript], group: "generic", handler: wait),
        InfoFamily.spec, ConfigFamily.spec, CommandFamily.spec, MemoryFamily.spec, DebugFamily.spec,
    ]

    /// WAIT numreplicas timeout (Redis' waitCommand). Larder has no replicas, so 0 replicas
    /// acknowledge: asking for none (or running inside MULTI) replies 0 at once; asking for more
    /// blocks the client until the timeout (milliseconds, 0 = forever) and then replies 0, as a
    /// Redis without replicas does (ConnectionHandler.waitForReplicas).
    static func wait(_ ctx: inout CommandContext, _ args: Arguments) {
        guard let wanted = RESPParser.parseInteger(args[1], from: 0, to: args[1].count) else { ctx.notInteger(); return }
        guard let timeout = RESPParser.parseInteger(args[2], from: 0, to: args[2].count) else {
            ctx.out.error("ERR timeout is not an integer or out of range" as StaticString); return
        }
        guard timeout >= 0 else { ctx.out.error("ERR timeout is negative" as StaticString); return }
        guard wanted > 0, let session = ctx.session, !session.inMulti, ctx.mayBlockForReplicas else { ctx.out.integer(0); return }
        session.waitDeadline = timeout == 0 ? 0 : ctx.now + Int64(timeout)
    }

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
        ctx.out.integer(ctx.server.snapshots.lastSave.load(ordering: .relaxed))
    }

    /// SAVE: writes the snapshot (Snapshot.save) while holding every shard; OK once the file
    /// is durable and in place. LASTSAVE moves only on success; a failure is `-ERR` + reason.
    /// Refused while a background snapshot runs, with Redis' error.
    static func save(_ ctx: inout CommandContext, _ args: Arguments) {
        if let error = ctx.server.takeSnapshot(of: ctx.heldShards, trigger: .save, now: ctx.now) {
            if error is BackgroundSaveInProgress { ctx.out.error("ERR Background save already in progress" as StaticString); return }
            ctx.out.error("ERR snapshot \(ctx.server.settings.snapshotPath) not written: \(error)"); return
        }
        ctx.out.ok()
    }

    /// BGSAVE [SCHEDULE]: a background snapshot (BackgroundSnapshot.swift). This command holds
    /// every shard (route `.allShards`) only for the cut: the image is the keyspace as it is
    /// now, and it is written while the shards keep serving. Replies at once, as Redis; the
    /// outcome shows in LASTSAVE, INFO rdb_last_bgsave_status and the log. While one runs:
    /// Redis' error, or with SCHEDULE, another starts when it ends.
    static func bgsave(_ ctx: inout CommandContext, _ args: Arguments) {
        let schedule = args.count == 2 && args.equalsKeyword(1, "SCHEDULE")
        guard args.count == 1 || schedule else { ctx.syntaxError(); return }
        if schedule && ctx.server.snapshots.requestScheduled() {
            ctx.out.simple("Background saving scheduled" as StaticString); return
        }
        if ctx.server.snapshots.rewriteRunning {
            ctx.out.error("ERR Another child process is active (AOF?): can't BGSAVE right now. Use BGSAVE SCHEDULE in order to schedule a BGSAVE whenever possible." as StaticString)
            return
        }
        if let error = ctx.server.startBackgroundSnapshot(holding: ctx.heldShards, trigger: .bgsave, now: ctx.now) {
            if error is BackgroundSaveInProgress { ctx.out.error("ERR Background save already in progress" as StaticString); return }
            ctx.out.error("ERR snapshot \(ctx.server.settings.snapshotPath) not written: \(error)"); return
        }
        ctx.out.simple("Background saving started" as StaticString)
    }

    /// BGREWRITEAOF: a new incr file from this instant and a new base, the keyspace at this
    /// instant, written in the background while the shards serve (ServerState.startBackgroundRewrite);
    /// the manifest switches when the base is in place. This command holds every shard only
    /// for the cut. While a BGSAVE runs, or inside MULTI/EXEC, it is scheduled, as in Redis.
    static func bgrewriteaof(_ ctx: inout CommandContext, _ args: Arguments) {
        guard let home = ctx.server.currentWorker() else { ctx.out.error("ERR no loop thread to rewrite from" as StaticString); return }
        if home.aofBuffer.inTransaction && !ctx.server.snapshots.rewriteRunning {
            // Inside EXEC: the transaction's records must stay in one incr file.
            ctx.server.snapshots.rewriteScheduled.store(true, ordering: .relaxed)
            ctx.out.simple("Background append only file rewriting scheduled" as StaticString); return
        }
        switch ctx.server.startBackgroundRewrite(holding: ctx.heldShards, home: home, now: ctx.now) {
        case .started: ctx.out.simple("Background append only file rewriting started" as StaticString)
        case .scheduled: ctx.out.simple("Background append only file rewriting scheduled" as StaticString)
        case .alreadyRunning: ctx.out.error("ERR Background append only file rewriting already in progress" as StaticString)
        case .failed(let error):
            LarderLog.server.error("Can't rewrite append only file in background: \(error)", metadata: ["event": "aof_rewrite_failed"])
            ctx.out.error("ERR Can't execute an AOF background rewriting. Please check the server logs for more information." as StaticString)
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

    /// SHUTDOWN [NOSAVE|SAVE] [NOW] [FORCE] [ABORT], as Redis: a snapshot first when save points
    /// are set (or SAVE), written while this command holds every shard; if it fails the server
    /// keeps running and replies Redis' error, unless FORCE. Then the server stops; writes that
    /// slipped in between are caught by a last snapshot once nothing runs (`LarderServer.stop`).
    /// NOW only skips waiting for replicas in Redis: there are none. No reply on success.
    static func shutdown(_ ctx: inout CommandContext, _ args: Arguments) {
        var nosave = false, save = false, abort = false, force = false, other = false
        for i in 1..<max(args.count, 1) {
            if args.equalsKeyword(i, "NOSAVE") { nosave = true }
            else if args.equalsKeyword(i, "SAVE") { save = true }
            else if args.equalsKeyword(i, "FORCE") { force = true }
            else if args.equalsKeyword(i, "NOW") { other = true }
            else if args.equalsKeyword(i, "ABORT") { abort = true }
            else { ctx.syntaxError(); return }
        }
        if (abort && (nosave || save || other || force)) || (nosave && save) { ctx.syntaxError(); return }
        if abort { ctx.out.error("ERR No shutdown in progress." as StaticString); return }
        let snapshot = save || (!nosave && !ctx.server.settings.savePoints.isEmpty)
        if snapshot, ctx.server.takeSnapshot(of: ctx.heldShards, trigger: .shutdown, now: ctx.now) != nil, !force {
            LarderLog.server.warning("Errors trying to shut down the server: the snapshot failed; still serving (SHUTDOWN NOSAVE or FORCE stops without it)",
                                     metadata: ["event": "shutdown_refused"])
            ctx.out.error("ERR Errors trying to SHUTDOWN. Check logs." as StaticString); return
        }
        ctx.server.requestShutdown(snapshot)
    }
}
