import LarderRESP

/// SLOWLOG GET / LEN / RESET / HELP (Redis 7.0). Every shard thread keeps its own log of the
/// calls it ran (`ShardWorker.slowlog`, filled by `runTimed`); GET merges them, newest first by
/// id (ids are unique over the server), and the merged log holds at most `slowlog-max-len`.
enum SlowlogFamily {
    static let spec = CommandSpec(
        "slowlog", arity: -2, flags: [], group: "server",
        subcommands: subcommands.map { $0.name }) { ctx, args in
        Subcommands.dispatch("slowlog", subcommands, &ctx, args)
    }

    static let subcommands: [Subcommand] = [
        Subcommand("get", arity: -2, flags: [.admin, .loading, .stale], handler: get),
        Subcommand("len", arity: 2, flags: [.admin, .loading, .stale], handler: len),
        Subcommand("reset", arity: 2, flags: [.admin, .loading, .stale], handler: reset),
        Subcommand("help", arity: 2, flags: [.loading, .stale], handler: help),
    ]

    /// Every shard's entries, newest first, at most `slowlog-max-len`.
    static func merged(_ server: ServerState) -> [Slowlog.Entry] {
        let maxLen = max(0, server.monitoring.slowlogMaxLen.load(ordering: .relaxed))
        let all = server.workers.flatMap { $0.slowlog.snapshot }.sorted { $0.id > $1.id }
        return Array(all.prefix(maxLen))
    }

    /// SLOWLOG GET [count]: count 10 by default, -1 for all.
    static func get(_ ctx: inout CommandContext, _ args: Arguments) {
        guard args.count <= 3 else {
            ctx.out.error("ERR wrong number of arguments for 'slowlog|get' command" as StaticString); return
        }
        var count = 10
        if args.count == 3 {
            guard let n = RESPParser.parseInteger(args[2], from: 0, to: args[2].count), n >= -1 else {
                ctx.out.error("ERR count should be greater than or equal to -1" as StaticString); return
            }
            count = n == -1 ? Int.max : n
        }
        let entries = merged(ctx.server).prefix(count)
        let out = ctx.out
        out.arrayHeader(entries.count)
        for e in entries {
            out.arrayHeader(6)
            out.integer(e.id)
            out.integer(e.unixSeconds)
            out.integer(e.micros)
            out.arrayHeader(e.arguments.count)
            for a in e.arguments { a.withUnsafeBytes { out.bulk($0) } }
            out.bulk(e.clientAddress)
            out.bulk(e.clientName)
        }
    }

    static func len(_ ctx: inout CommandContext, _ args: Arguments) {
        let maxLen = max(0, ctx.server.monitoring.slowlogMaxLen.load(ordering: .relaxed))
        ctx.out.integer(min(maxLen, ctx.server.workers.reduce(0) { $0 + $1.slowlog.count }))
    }

    static func reset(_ ctx: inout CommandContext, _ args: Arguments) {
        for w in ctx.server.workers { w.slowlog.reset() }
        ctx.out.ok()
    }

    static func help(_ ctx: inout CommandContext, _ args: Arguments) {
        Subcommands.help(&ctx, "SLOWLOG", [
            "GET [<count>]",
            "    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
            "    Entries are made of:",
            "    id, timestamp, time in microseconds, arguments array, client IP and port,",
            "    client name",
            "LEN",
            "    Return the length of the slowlog.",
            "RESET",
            "    Reset the slowlog.",
        ])
    }
}

/// CONFIG parameters of the operator tools (SLOWLOG; see ConfigFamily.parameters).
extension ConfigFamily {
    static let monitoringParameters: [Parameter] = [
        // Redis 7.0's bounds: -1 (off) ... LLONG_MAX microseconds, 0 ... LONG_MAX entries.
        integer("slowlog-log-slower-than", min: -1, max: Int.max, { $0.monitoring.slowlogSlowerThan.load(ordering: .relaxed) },
                { $0.monitoring.slowlogSlowerThan.store($1, ordering: .relaxed) }),
        integer("slowlog-max-len", min: 0, max: Int.max, { $0.monitoring.slowlogMaxLen.load(ordering: .relaxed) },
                { $0.monitoring.slowlogMaxLen.store($1, ordering: .relaxed) }),
    ]
}
