import Foundation
import LarderRESP
import LarderStore

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
        CommandSpec("save", arity: 1, flags: [.admin, .noscript, .noAsyncLoading, .noMulti], group: "server",
                    handler: save),
        CommandSpec("bgsave", arity: -1, flags: [.admin, .noscript, .noAsyncLoading], group: "server",
                    handler: bgsave),
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

    /// There is no persistence: the data set lives in memory only. SAVE and BGSAVE succeed as
    /// Redis' do (clients and tools call them), having nothing to write.
    static func save(_ ctx: inout CommandContext, _ args: Arguments) {
        ctx.server.lastSave.store(Int(Date().timeIntervalSince1970), ordering: .relaxed)
        ctx.out.ok()
    }

    static func bgsave(_ ctx: inout CommandContext, _ args: Arguments) {
        guard args.count == 1 || (args.count == 2 && args.equalsKeyword(1, "SCHEDULE")) else { ctx.syntaxError(); return }
        ctx.server.lastSave.store(Int(Date().timeIntervalSince1970), ordering: .relaxed)
        ctx.out.simple("Background saving started" as StaticString)
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
