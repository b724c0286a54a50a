import Foundation
import LarderRESP
import LarderStore

/// ACL subcommands (Redis 7.0's acl.c aclCommand), with Redis' replies and errors. The users
/// live in `ACLState`; the per-command check is in ConnectionHandler.dispatch.
enum ACLFamily {
    static let spec = CommandSpec("acl", arity: -2, flags: [], group: "server",
                                  subcommands: subcommands.map { $0.name }) { ctx, args in
        Subcommands.dispatch("acl", subcommands, &ctx, args)
    }

    private static let adminFlags: CommandFlags = [.admin, .noscript, .loading, .stale]
    static let subcommands: [Subcommand] = [
        Subcommand("cat", arity: -2, flags: [.noscript, .loading, .stale], handler: cat),
        Subcommand("deluser", arity: -3, flags: adminFlags, handler: deluser),
        Subcommand("dryrun", arity: -4, flags: adminFlags, handler: dryrun),
        Subcommand("genpass", arity: -2, flags: [.noscript, .loading, .stale], handler: genpass),
        Subcommand("getuser", arity: 3, flags: adminFlags, handler: getuser),
        Subcommand("list", arity: 2, flags: adminFlags, handler: list),
        Subcommand("load", arity: 2, flags: adminFlags, handler: load),
        Subcommand("log", arity: -2, flags: adminFlags, handler: log),
        Subcommand("save", arity: 2, flags: adminFlags, handler: save),
        Subcommand("setuser", arity: -3, flags: adminFlags, handler: setuser),
        Subcommand("users", arity: 2, flags: adminFlags, handler: users),
        Subcommand("whoami", arity: 2, flags: [.noscript, .loading, .stale], handler: whoami),
        Subcommand("help", arity: 2, flags: [.loading, .stale], handler: help),
    ]

    /// ACL SETUSER username rule...
    static func setuser(_ ctx: inout CommandContext, _ args: Arguments) {
        let name = args.bytes(2)
        if ACLUser.hasSpaces(name) {
            ctx.out.error("ERR Usernames can't contain spaces or null characters" as StaticString); return
        }
        let rules = (3..<args.count).map { args.bytes($0) }
        do {
            try ctx.server.acl.setUser(String(decoding: name, as: UTF8.self), rules: rules)
            ctx.out.ok()
        } catch let e as ACLState.SetUserError {
            // Redis prints the rule with %s: it ends at its first NUL byte.
            let rule = rules[e.rule].prefix { $0 != 0 }
            ctx.out.error("ERR Error in ACL SETUSER modifier '\(String(decoding: rule, as: UTF8.self))': \(e.error.message)")
        } catch {
            ctx.out.error("ERR \(error)")
        }
    }

    /// ACL DELUSER username...: the users' clients are closed, as Redis'
    /// ACLFreeUserAndKillClients does (the caller's own connection after this reply).
    static func deluser(_ ctx: inout CommandContext, _ args: Arguments) {
        let names = (2..<args.count).map { args.string($0) }
        if names.contains("default") {
            ctx.out.error("ERR The 'default' user cannot be removed" as StaticString); return
        }
        let n = ctx.server.acl.deleteUsers(names)
        closeClients(ctx, where: { names.contains($0.userName) })
        ctx.out.integer(n)
    }

    /// Closes the clients `matching` (they run as a user that is gone or was replaced).
    static func closeClients(_ ctx: CommandContext, where matching: (ClientSession) -> Bool) {
        for c in ctx.server.clients.all where matching(c) {
            if c === ctx.session {
                c.closeAfterReply = true
            } else {
                ctx.server.clients.remove(c)
                _ = c.transport?.closeFromAnyThread()
            }
        }
    }

    /// ACL GETUSER username: flags, password hashes, commands, keys, channels, selectors.
    static func getuser(_ ctx: inout CommandContext, _ args: Arguments) {
        guard let u = ctx.server.acl.user(args.string(2)) else { ctx.out.null(); return }
        let out = ctx.out
        out.mapHeader(6)
        out.bulk("flags" as StaticString)
        let flags = u.flagNames
        out.setHeader(flags.count); for f in flags { out.bulk(f) }
        out.bulk("passwords" as StaticString)
        out.arrayHeader(u.passwords.count); for p in u.passwords { out.bulk(p) }
        out.bulk("commands" as StaticString); out.bulk(u.describeCommandRules(index: ctx.server.acl.index))
        out.bulk("keys" as StaticString); out.bulk(u.keysDescription)
        out.bulk("channels" as StaticString); out.bulk(u.channelsDescription)
        out.bulk("selectors" as StaticString); out.arrayHeader(0)
    }

    /// ACL LIST: every user as the `user` line that recreates it.
    static func list(_ ctx: inout CommandContext, _ args: Arguments) {
        let users = ctx.server.acl.sortedUsers
        ctx.out.arrayHeader(users.count)
        for u in users { ctx.out.bulk("user \(u.name) \(u.describe(index: ctx.server.acl.index))") }
    }

    static func users(_ ctx: inout CommandContext, _ args: Arguments) {
        let users = ctx.server.acl.sortedUsers
        ctx.out.arrayHeader(users.count)
        for u in users { ctx.out.bulk(u.name) }
    }

    static func whoami(_ ctx: inout CommandContext, _ args: Arguments) {
        guard let s = ctx.session else { ctx.out.null(); return }
        ctx.out.bulk(s.userName)
    }

    static let noACLFile: StaticString = "ERR This Redis instance is not configured to use an ACL file. You may want to specify users via the ACL SETUSER command and then issue a CONFIG REWRITE (assuming you have a Redis configuration file set) in order to store users in the Redis configuration."

    /// ACL LOAD: the file replaces every user, or nothing changes when a line is bad. Clients
    /// of users other than `default` are closed, as Redis frees every old user.
    static func load(_ ctx: inout CommandContext, _ args: Arguments) {
        let acl = ctx.server.acl
        guard let file = acl.aclFile else { ctx.out.error(noACLFile); return }
        switch acl.parseFile(file) {
        case .success(let users):
            acl.replaceUsers(users)
            closeClients(ctx, where: { $0.userName != "default" })
            ctx.out.ok()
        case .failure(let e):
            ctx.out.error("ERR \(e.description)")
        }
    }

    static func save(_ ctx: inout CommandContext, _ args: Arguments) {
        let acl = ctx.server.acl
        guard let file = acl.aclFile else { ctx.out.error(noACLFile); return }
        if acl.save(to: file) { ctx.out.ok() } else {
            ctx.out.error("ERR There was an error trying to save the ACLs. Please check the server logs for more information" as StaticString)
        }
    }

    /// ACL CAT [category]
    static func cat(_ ctx: inout CommandContext, _ args: Arguments) {
        if args.count == 2 {
            ctx.out.arrayHeader(ACLCategory.names.count)
            for n in ACLCategory.names { ctx.out.bulk(n) }
            return
        }
        guard args.count == 3 else { subcommandSyntaxError(&ctx, args); return }
        guard let bit = ACLCategory.bit(args.string(2)) else {
            ctx.out.error("ERR Unknown category '\(String(args.string(2).prefix(128)))'"); return
        }
        let names = ctx.server.acl.index.names(inCategory: bit)
        ctx.out.arrayHeader(names.count)
        for n in names { ctx.out.bulk(n) }
    }

    /// ACL GENPASS [bits]: hex digits from the system's secure random source.
    static func genpass(_ ctx: inout CommandContext, _ args: Arguments) {
        guard args.count <= 3 else { subcommandSyntaxError(&ctx, args); return }
        var bits = 256
        if args.count == 3 {
            guard let b = RESPParser.parseInteger(args[2], from: 0, to: args[2].count) else { ctx.notInteger(); return }
            bits = b
        }
        guard bits > 0 && bits <= 4096 else {
            ctx.out.error("ERR ACL GENPASS argument must be the number of bits for the output password, a positive number up to 4096" as StaticString)
            return
        }
        var rng = SystemRandomNumberGenerator()
        let digits = Array("0123456789abcdef".utf8)
        let chars = (bits + 3) / 4
        ctx.out.bulk((0..<chars).map { _ in digits[Int(rng.next() & 15)] })
    }

    /// ACL LOG [count | RESET]
    static func log(_ ctx: inout CommandContext, _ args: Arguments) {
        guard args.count <= 3 else { subcommandSyntaxError(&ctx, args); return }
        var count = 10
        if args.count == 3 {
            if args.equalsKeyword(2, "RESET") { ctx.server.acl.resetLog(); ctx.out.ok(); return }
            guard let c = RESPParser.parseInteger(args[2], from: 0, to: args[2].count) else { ctx.notInteger(); return }
            count = max(0, c)
        }
        let entries = ctx.server.acl.logEntries.prefix(count)
        let now = Clock.nowMilliseconds()
        let out = ctx.out
        out.arrayHeader(entries.count)
        for e in entries {
            out.mapHeader(7)
            out.bulk("count" as StaticString); out.integer(e.count)
            out.bulk("reason" as StaticString); out.bulk(e.reason.rawValue)
            out.bulk("context" as StaticString); out.bulk(e.context.rawValue)
            out.bulk("object" as StaticString); out.bulk(e.object)
            out.bulk("username" as StaticString); out.bulk(e.username)
            out.bulk("age-seconds" as StaticString); out.double(Double(now - e.createdAt) / 1000)
            out.bulk("client-info" as StaticString); out.bulk(e.clientInfo)
        }
    }

    /// ACL DRYRUN username command [arg...]: whether the user could run it, without running it.
    static func dryrun(_ ctx: inout CommandContext, _ args: Arguments) {
        let acl = ctx.server.acl
        guard let p = acl.permissions(for: args.string(2)) else {
            ctx.out.error("ERR User '\(args.string(2))' not found"); return
        }
        guard let spec = ctx.server.commands.lookup(args[3]) else {
            ctx.out.error("ERR Command '\(args.string(3))' not found"); return
        }
        // The command's own arguments, as a call of it would have them.
        let own = (3..<args.count).map { args.bytes($0) }
        ConnectionHandler.withArguments(own) { call in
            var sub = -1
            if !spec.subcommands.isEmpty && call.count > 1 {
                sub = ConnectionHandler.subcommandIndex(spec, call)
                if sub < 0 { ctx.out.error("ERR Command '\(args.string(3))' not found"); return }
            }
            let id = acl.index.id(spec: spec, subcommandIndex: sub)
            let arityOK: Bool
            if sub >= 0, let s = Subcommands.byContainer[spec.name]?[sub] { arityOK = s.arityOK(call.count) } else { arityOK = spec.arityOK(call.count) }
            guard arityOK else { ctx.wrongArity(acl.index.entries[id].fullName); return }
            switch p.check(id: id, noAuth: acl.index.entries[id].noAuth, args: call, index: acl.index) {
            case nil: ctx.out.ok()
            case .command?: ctx.out.bulk("This user has no permissions to run the '\(acl.index.entries[id].fullName)' command")
            case .key(let i)?: ctx.out.bulk("This user has no permissions to access the '\(call.string(i))' key")
            case .channel(let i)?: ctx.out.bulk("This user has no permissions to access the '\(call.string(i))' channel")
            }
        }
    }

    /// Redis' addReplySubcommandSyntaxError, for argument counts the arity allows but the
    /// subcommand does not take.
    static func subcommandSyntaxError(_ ctx: inout CommandContext, _ args: Arguments) {
        ctx.out.error("ERR unknown subcommand or wrong number of arguments for '\(String(args.string(1).prefix(128)))'. Try ACL HELP.")
    }

    static func help(_ ctx: inout CommandContext, _ args: Arguments) {
        Subcommands.help(&ctx, "ACL", [
            "CAT [<category>]",
            "    List all commands that belong to <category>, or all command categories",
            "    when no category is specified.",
            "DELUSER <username> [<username> ...]",
            "    Delete a list of users.",
            "DRYRUN <username> <command> [<arg> ...]",
            "    Returns whether the user can execute the given command without executing the command.",
            "GETUSER <username>",
            "    Get the user's details.",
            "GENPASS [<bits>]",
            "    Generate a secure 256-bit user password. The optional `bits` argument can",
            "    be used to specify a different size.",
            "LIST",
            "    Show users details in config file format.",
            "LOAD",
            "    Reload users from the ACL file.",
            "LOG [<count> | RESET]",
            "    Show the ACL log entries.",
            "SAVE",
            "    Save the current config to the ACL file.",
            "SETUSER <username> <attribute> [<attribute> ...]",
            "    Create or modify a user with the specified attributes.",
            "USERS",
            "    List all the registered usernames.",
            "WHOAMI",
            "    Return the current connection username.",
        ])
    }
}
