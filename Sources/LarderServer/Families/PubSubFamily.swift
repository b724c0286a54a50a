import LarderRESP
import LarderStore

/// Pub/sub commands (Redis' pubsub.c). All run on the connection's thread (route
/// `.connection`): subscriptions live in that loop's registry, and PUBLISH reaches the other
/// loops by message (PubSub.swift, ConnectionHandler+PubSub.swift).
enum PubSubFamily {
    static let commands: [CommandSpec] = [
        CommandSpec("subscribe", arity: -2, flags: [.pubsub, .noscript, .loading, .stale, .allowedInPubSub], group: "pubsub") { ctx, args in
            withConnection(ctx) { $0.subscribe(.channel, args, out: ctx.out) }
        },
        CommandSpec("psubscribe", arity: -2, flags: [.pubsub, .noscript, .loading, .stale, .allowedInPubSub], group: "pubsub") { ctx, args in
            withConnection(ctx) { $0.subscribe(.pattern, args, out: ctx.out) }
        },
        // SSUBSCRIBE/SUNSUBSCRIBE/SPUBLISH: Redis' key specs name the channel (for cluster slots);
        // with one node every shard channel is served here, so they run as connection commands.
        CommandSpec("ssubscribe", arity: -2, flags: [.pubsub, .noscript, .loading, .stale, .allowedInPubSub],
                    keys: .range(1, -1, 1), route: .connection, group: "pubsub") { ctx, args in
            withConnection(ctx) { $0.subscribe(.shard, args, out: ctx.out) }
        },
        CommandSpec("unsubscribe", arity: -1, flags: [.pubsub, .noscript, .loading, .stale, .allowedInPubSub], group: "pubsub") { ctx, args in
            withConnection(ctx) { $0.unsubscribe(.channel, args, out: ctx.out) }
        },
        CommandSpec("punsubscribe", arity: -1, flags: [.pubsub, .noscript, .loading, .stale, .allowedInPubSub], group: "pubsub") { ctx, args in
            withConnection(ctx) { $0.unsubscribe(.pattern, args, out: ctx.out) }
        },
        CommandSpec("sunsubscribe", arity: -1, flags: [.pubsub, .noscript, .loading, .stale, .allowedInPubSub],
                    keys: .range(1, -1, 1), route: .connection, group: "pubsub") { ctx, args in
            withConnection(ctx) { $0.unsubscribe(.shard, args, out: ctx.out) }
        },
        CommandSpec("publish", arity: 3, flags: [.pubsub, .loading, .stale, .fast, .mayReplicate], group: "pubsub") { ctx, args in
            withConnection(ctx) { $0.publish(channel: args[1], message: args[2], sharded: false, out: ctx.out) }
        },
        CommandSpec("spublish", arity: 3, flags: [.pubsub, .loading, .stale, .fast, .mayReplicate], keys: .one, route: .connection,
                    group: "pubsub") { ctx, args in
            withConnection(ctx) { $0.publish(channel: args[1], message: args[2], sharded: true, out: ctx.out) }
        },
        CommandSpec("pubsub", arity: -2, flags: [], group: "pubsub", subcommands: subcommands.map { $0.name }) { ctx, args in
            Subcommands.dispatch("pubsub", subcommands, &ctx, args)
        },
    ]

    static let subcommands: [Subcommand] = [
        Subcommand("channels", arity: -2, flags: [.pubsub, .loading, .stale]) { ctx, args in
            names(ctx, .channel, args)
        },
        Subcommand("numpat", arity: 2, flags: [.pubsub, .loading, .stale]) { ctx, _ in
            ctx.out.integer(ctx.server.pubsub.count(.pattern))
        },
        Subcommand("numsub", arity: -2, flags: [.pubsub, .loading, .stale]) { ctx, args in
            counts(ctx, .channel, args)
        },
        Subcommand("shardchannels", arity: -2, flags: [.pubsub, .loading, .stale]) { ctx, args in
            names(ctx, .shard, args)
        },
        Subcommand("shardnumsub", arity: -2, flags: [.pubsub, .loading, .stale]) { ctx, args in
            counts(ctx, .shard, args)
        },
        Subcommand("help", arity: 2, flags: [.loading, .stale]) { ctx, _ in
            Subcommands.help(&ctx, "PUBSUB", [
                "CHANNELS [<pattern>]",
                "    Return the currently active channels matching a <pattern> (default: '*').",
                "NUMPAT",
                "    Return number of subscriptions to patterns.",
                "NUMSUB [<channel> ...]",
                "    Return the number of subscribers for the specified channels, excluding",
                "    pattern subscriptions(default: no channels).",
                "SHARDCHANNELS [<pattern>]",
                "    Return the currently active shard level channels matching a <pattern> (default: '*').",
                "SHARDNUMSUB [<shardchannel> ...]",
                "    Return the number of subscribers for the specified shard level channel(s)",
            ])
        },
    ]

    /// The connection handler behind `ctx` (pub/sub commands run on the connection's thread).
    private static func withConnection(_ ctx: CommandContext, _ body: (ConnectionHandler) -> Void) {
        guard let c = ctx.session?.connection else { return }
        body(c)
    }

    /// PUBSUB CHANNELS / SHARDCHANNELS [pattern]: Redis' reply has too many arguments past one.
    private static func names(_ ctx: CommandContext, _ kind: PubSubKind, _ args: Arguments) {
        guard args.count <= 3 else {
            ctx.out.error("ERR unknown subcommand or wrong number of arguments for '\(args.string(1))'. Try PUBSUB HELP.")
            return
        }
        let list = ctx.server.pubsub.names(kind, matching: args.count == 3 ? args.bytes(2) : nil)
        ctx.out.arrayHeader(list.count)
        for n in list { ctx.out.bulk(n) }
    }

    /// PUBSUB NUMSUB / SHARDNUMSUB channel...: a flat array of name, count (in RESP3 too, as 7.0).
    private static func counts(_ ctx: CommandContext, _ kind: PubSubKind, _ args: Arguments) {
        ctx.out.arrayHeader((args.count - 2) * 2)
        for i in 2..<args.count {
            ctx.out.bulk(args[i])
            ctx.out.integer(ctx.server.pubsub.subscribers(kind, args.bytes(i)))
        }
    }
}
