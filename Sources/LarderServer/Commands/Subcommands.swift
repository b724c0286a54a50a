import LarderRESP

/// One subcommand of a container command (CLIENT LIST, CONFIG GET, ...). Its arity counts the
/// container and the subcommand name, as Redis' `client|list` entry does.
struct Subcommand {
    let name: String        // lower case, without the container: "list"
    let arity: Int
    let flags: CommandFlags
    /// Only for subcommands Redis 7.0 does not document (see CommandSpec.ownSummary).
    let ownSummary: String?
    let ownSince: String?
    /// Where keys are, counting the container (MEMORY USAGE key: 2).
    let keys: KeyPositions
    let handler: DataHandler

    init(_ name: String, arity: Int, flags: CommandFlags, keys: KeyPositions = .none, summary: String? = nil, since: String? = nil,
         handler: @escaping DataHandler) {
        self.name = name; self.arity = arity; self.flags = flags; self.keys = keys
        self.ownSummary = summary; self.ownSince = since; self.handler = handler
    }

    func arityOK(_ argc: Int) -> Bool { arity >= 0 ? argc == arity : argc >= -arity }
}

/// The subcommands of every container command, for dispatch and for COMMAND INFO / DOCS / LIST.
enum Subcommands {
    static let byContainer: [String: [Subcommand]] = [
        "acl": ACLFamily.subcommands,
        "client": ClientFamily.subcommands,
        "cluster": ClusterFamily.subcommands,
        "command": CommandFamily.subcommands,
        "config": ConfigFamily.subcommands,
        "memory": MemoryFamily.subcommands,
        "slowlog": SlowlogFamily.subcommands,
        "latency": LatencyFamily.subcommands,
        "function": FunctionFamily.subcommands,
        "object": KeyFamily.objectSubcommands,
        "pubsub": PubSubFamily.subcommands,
    ]

    /// Runs `args[1]` of container `parent` with Redis' errors for an unknown subcommand and
    /// for a wrong argument count.
    static func dispatch(_ parent: String, _ table: [Subcommand], _ ctx: inout CommandContext, _ args: Arguments) {
        let name = args.string(1).lowercased()
        guard let sub = table.first(where: { $0.name == name }) else {
            ctx.out.error("ERR unknown subcommand '\(String(args.string(1).prefix(128)))'. Try \(parent.uppercased()) HELP.")
            return
        }
        guard sub.arityOK(args.count) else {
            ctx.out.error("ERR wrong number of arguments for '\(parent)|\(sub.name)' command")
            return
        }
        sub.handler(&ctx, args)
    }

    /// A HELP reply: the heading line, the caller's lines, then HELP's own two lines, each a
    /// status reply (Redis' addReplyHelp).
    static func help(_ ctx: inout CommandContext, _ parent: String, _ lines: [String]) {
        let all = ["\(parent) <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"] + lines +
            ["HELP", "    Prints this help."]
        ctx.out.arrayHeader(all.count)
        for l in all { ctx.out.simple(l) }
    }
}
