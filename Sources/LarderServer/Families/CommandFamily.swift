import LarderRESP
import LarderStore

/// COMMAND [COUNT | LIST | INFO | DOCS | GETKEYS | HELP], generated from the command table.
enum CommandFamily {
    static let spec = CommandSpec(
        "command", arity: -1, flags: [.loading, .stale], group: "server",
        subcommands: subcommands.map { $0.name }) { ctx, args in
        if args.count == 1 { all(&ctx, args) } else { Subcommands.dispatch("command", subcommands, &ctx, args) }
    }

    static let subcommands: [Subcommand] = [
        Subcommand("count", arity: 2, flags: [.loading, .stale],
                   handler: count),
        Subcommand("list", arity: -2, flags: [.loading, .stale],
                   handler: list),
        Subcommand("info", arity: -2, flags: [.loading, .stale],
                   handler: info),
        Subcommand("docs", arity: -2, flags: [.loading, .stale],
                   handler: docs),
        Subcommand("getkeys", arity: -4, flags: [.loading, .stale],
                   handler: getkeys),
        Subcommand("help", arity: 2, flags: [.loading, .stale],
                   handler: help),
    ]

    static func descriptions(_ ctx: CommandContext) -> [CommandDescription] {
        ctx.server.commands.specs.map { CommandDescription($0) }
    }

    /// A command or subcommand by name ("get", "client|list"), case-insensitively.
    static func find(_ ctx: CommandContext, _ name: String) -> CommandDescription? {
        let parts = name.lowercased().split(separator: "|", omittingEmptySubsequences: false).map(String.init)
        guard let spec = ctx.server.commands.lookup(parts[0]) else { return nil }
        let d = CommandDescription(spec)
        if parts.count == 1 { return d }
        guard parts.count == 2 else { return nil }
        return d.subcommands.first { $0.name == "\(parts[0])|\(parts[1])" }
    }

    static func all(_ ctx: inout CommandContext, _ args: Arguments) {
        let all = descriptions(ctx)
        ctx.out.arrayHeader(all.count)
        for d in all { d.writeInfo(ctx.out) }
    }

    static func count(_ ctx: inout CommandContext, _ args: Arguments) {
        ctx.out.integer(ctx.server.commands.count)
    }

    /// COMMAND INFO [name ...]: one entry per name, nil for unknown ones; every command when
    /// no name is given.
    static func info(_ ctx: inout CommandContext, _ args: Arguments) {
        if args.count == 2 { all(&ctx, args); return }
        ctx.out.arrayHeader(args.count - 2)
        for i in 2..<args.count {
            if let d = find(ctx, args.string(i)) { d.writeInfo(ctx.out) } else { ctx.out.null() }
        }
    }

    /// COMMAND DOCS [name ...]: a map from name to docs; unknown names are left out.
    static func docs(_ ctx: inout CommandContext, _ args: Arguments) {
        let chosen: [CommandDescription] = args.count == 2
            ? descriptions(ctx)
            : (2..<args.count).compactMap { find(ctx, args.string($0)) }
        ctx.out.mapHeader(chosen.count)
        for d in chosen {
            ctx.out.bulk(d.name)
            d.writeDocs(ctx.out)
        }
    }

    /// COMMAND LIST [FILTERBY MODULE name | ACLCAT category | PATTERN pattern]: every command
    /// and subcommand name.
    static func list(_ ctx: inout CommandContext, _ args: Arguments) {
        var names: [CommandDescription] = []
        for d in descriptions(ctx) { names.append(d); names.append(contentsOf: d.subcommands) }
        if args.count == 5 && args.equalsKeyword(2, "FILTERBY") {
            let value = args.string(4)
            if args.equalsKeyword(3, "MODULE") {
                names = []  // no modules
            } else if args.equalsKeyword(3, "ACLCAT") {
                names = names.filter { $0.aclCategories.contains("@" + value.lowercased()) }
            } else if args.equalsKeyword(3, "PATTERN") {
                let pattern = Array(value.utf8)
                names = names.filter { d in
                    let n = Array(d.name.utf8)
                    return pattern.withUnsafeBytes { p in n.withUnsafeBytes { Glob.match(p, $0, nocase: true) } }
                }
            } else {
                ctx.syntaxError(); return
            }
        } else if args.count != 2 {
            ctx.syntaxError(); return
        }
        ctx.out.arrayHeader(names.count)
        for d in names { ctx.out.bulk(d.name) }
    }

    /// COMMAND GETKEYS command arg...: the key arguments, from the command's key positions.
    static func getkeys(_ ctx: inout CommandContext, _ args: Arguments) {
        guard let spec = ctx.server.commands.lookup(args[2]) else {
            ctx.out.error("ERR Invalid command specified" as StaticString); return
        }
        let argc = args.count - 2
        guard spec.arityOK(argc) else {
            ctx.out.error("ERR Invalid number of arguments specified for command" as StaticString); return
        }
        var keys: [Int] = []
        spec.keys.forEach(argc: argc, argument: { args[$0 + 2] }) { keys.append($0 + 2) }
        guard !keys.isEmpty else { ctx.out.error("ERR The command has no key arguments" as StaticString); return }
        ctx.out.arrayHeader(keys.count)
        for k in keys { ctx.out.bulk(args[k]) }
    }

    static func help(_ ctx: inout CommandContext, _ args: Arguments) {
        Subcommands.help(&ctx, "COMMAND", [
            "(no subcommand)",
            "    Return details about all Redis commands.",
            "COUNT",
            "    Return the total number of commands in this Redis server.",
            "LIST",
            "    Return a list of all commands in this Redis server.",
            "INFO [<command-name> ...]",
            "    Return details about multiple Redis commands.",
            "    If no command names are given, documentation details for all",
            "    commands are returned.",
            "DOCS [<command-name> ...]",
            "    Return documentation details about multiple Redis commands.",
            "    If no command names are given, documentation details for all",
            "    commands are returned.",
            "GETKEYS <full-command>",
            "    Return the keys from a full Redis command.",
        ])
    }
}
