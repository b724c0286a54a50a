import LarderRESP
import LarderStore

/// Connection commands: they change or describe the client's session.
enum ConnectionFamily {
    static let commands: [CommandSpec] = [
        CommandSpec("ping", arity: -1, flags: [.fast], group: "connection",
                    summary: "Returns the server's liveliness response.", handler: ping),
        CommandSpec("echo", arity: 2, flags: [.fast], group: "connection",
                    summary: "Returns the given string.", handler: echo),
        CommandSpec("select", arity: 2, flags: [.loading, .stale, .fast], group: "connection",
                    summary: "Changes the selected database.", handler: select),
        CommandSpec("quit", arity: -1, flags: [.noscript, .loading, .stale, .fast, .noAuth, .allowBusy], group: "connection",
                    summary: "Closes the connection.", handler: quit),
    ]

    static func ping(_ ctx: inout CommandContext, _ args: Arguments) {
        if args.count > 2 { ctx.wrongArity("ping"); return }
        if args.count == 2 { ctx.out.bulk(args[1]) } else { ctx.out.simple("PONG" as StaticString) }
    }

    static func echo(_ ctx: inout CommandContext, _ args: Arguments) { ctx.out.bulk(args[1]) }

    static func select(_ ctx: inout CommandContext, _ args: Arguments) {
        guard let n = RESPParser.parseInteger(args[1], from: 0, to: args[1].count) else {
            ctx.out.error("ERR value is not an integer or out of range" as StaticString); return
        }
        guard n >= 0 && n < Shard.databaseCount else { ctx.out.error("ERR DB index is out of range" as StaticString); return }
        ctx.session?.db = n
        ctx.out.ok()
    }

    static func quit(_ ctx: inout CommandContext, _ args: Arguments) {
        ctx.session?.closeAfterReply = true
        ctx.out.ok()
    }
}
