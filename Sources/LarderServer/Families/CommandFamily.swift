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
        Subcommand("getkeysandflags", arity: -4, flags: [.loading, .stale],
                   handler: getkeysandflags),
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
    /// COMMAND GETKEYS: the keys of a full call.
    static func getkeys(_ ctx: inout CommandContext, _ args: Arguments) {
        guard let (call, found) = keysOfCall(&ctx, args) else { return }
        ctx.out.arrayHeader(found.count)
        for k in found { ctx.out.bulk(call[k.position]) }
    }

    /// COMMAND GETKEYSANDFLAGS: each key with its key spec's flags.
    static func getkeysandflags(_ ctx: inout CommandContext, _ args: Arguments) {
        guard let (call, found) = keysOfCall(&ctx, args) else { return }
        ctx.out.arrayHeader(found.count)
        for k in found {
            ctx.out.arrayHeader(2)
            ctx.out.bulk(call[k.position])
            ctx.out.setHeader(k.flags.count)
            for f in k.flags { ctx.out.simple(f) }
        }
    }

    /// The keys of the call in `args[2...]`, as Redis finds them: by its key specs (KeySpecSearch)
    /// where Redis documents the command or subcommand; otherwise (HEXPIRE...) by the family
    /// table's positions, flagged RW or RO from the command's flags. nil after replying Redis'
    /// error (unknown command, wrong arity, no keys).
    static func keysOfCall(_ ctx: inout CommandContext, _ args: Arguments) -> ([[UInt8]], [KeySpecSearch.Found])? {
        guard let spec = ctx.server.commands.lookup(args[2]) else {
            ctx.out.error("ERR Invalid command specified" as StaticString); return nil
        }
        let argc = args.count - 2
        let call = (2..<args.count).map { args.bytes($0) }
        var docName = spec.name, keys = spec.keys, arityOK = spec.arityOK(argc), isWrite = spec.flags.contains(.write)
        if let subs = Subcommands.byContainer[spec.name], call.count > 1,
           let sub = subs.first(where: { $0.name == String(decoding: call[1], as: UTF8.self).lowercased() }) {
            docName += "|" + sub.name
            keys = sub.keys
            arityOK = sub.arityOK(argc)
            isWrite = sub.flags.contains(.write)
        }
        guard arityOK else {
            ctx.out.error("ERR Invalid number of arguments specified for command" as StaticString); return nil
        }
        var found: [KeySpecSearch.Found] = []
        let doc = RedisCommandDocs.byName[docName]
        if keys.sortStoreKey || (doc?.keySpecs.contains(" unknown ") ?? false) {
            // A key spec of unknown position (SORT's BY/GET/STORE): Redis asks the command's own
            // key finder (sortGetKeys), which the row's positions are: the sorted key is read,
            // the STORE key overwritten.
            let store = keys.sortStoreKey ? SortFamily.storeKeyIndex(argc: argc, argument: { args[$0 + 2] }) : nil
            keys.forEach(argc: argc, argument: { args[$0 + 2] }) {
                found.append(KeySpecSearch.Found(position: $0, flags: $0 == store ? ["OW", "update"] : ["RO", "access"]))
            }
        } else if let doc, !doc.keySpecs.isEmpty {
            guard let f = KeySpecSearch.keys(command: docName, specs: doc.keySpecs, args: call) else {
                ctx.out.error("ERR Invalid arguments specified for command" as StaticString); return nil
            }
            found = f
        } else {
            let flags = isWrite ? ["RW", "access", "update"] : ["RO", "access"]
            keys.forEach(argc: argc, argument: { args[$0 + 2] }) { found.append(KeySpecSearch.Found(position: $0, flags: flags)) }
        }
        guard !found.isEmpty else { ctx.out.error("ERR The command has no key arguments" as StaticString); return nil }
        return (call, found)
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
            "GETKEYSANDFLAGS <full-command>",
            "    Return the keys and the access flags from a full Redis command.",
        ])
    }
}
