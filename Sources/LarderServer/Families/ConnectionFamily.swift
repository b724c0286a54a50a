import LarderRESP
import LarderStore

/// Connection commands: they change or describe the client's session. All run on the
/// connection's own thread (route `.connection`), so `ctx.session` is always set.
enum ConnectionFamily {
    /// What HELLO reports. Clients (redis-py 8) check only `proto`; tools that compare versions
    /// see the Redis release whose replies this server reproduces.
    static let redisVersion = "7.0.15"

    static let commands: [CommandSpec] = [
        CommandSpec("ping", arity: -1, flags: [.fast, .allowedInPubSub], group: "connection",
                    handler: ping),
        CommandSpec("echo", arity: 2, flags: [.loading, .stale, .fast], group: "connection",
                    handler: echo),
        CommandSpec("select", arity: 2, flags: [.loading, .stale, .fast], group: "connection",
                    handler: select),
        CommandSpec("quit", arity: -1, flags: [.noscript, .loading, .stale, .fast, .noAuth, .allowBusy, .allowedInPubSub], group: "connection",
                    handler: quit),
        CommandSpec("hello", arity: -1, flags: [.noscript, .loading, .stale, .fast, .noAuth, .allowBusy], group: "connection",
                    handler: hello),
        CommandSpec("auth", arity: -2, flags: [.noscript, .loading, .stale, .fast, .noAuth, .allowBusy], group: "connection",
                    handler: auth),
        CommandSpec("reset", arity: 1, flags: [.noscript, .loading, .stale, .fast, .noAuth, .allowBusy, .allowedInPubSub], group: "connection",
                    handler: reset),
        CommandSpec("client", arity: -2, flags: [], group: "connection",
                    subcommands: ClientFamily.subcommands.map { $0.name }) { ctx, args in
            Subcommands.dispatch("client", ClientFamily.subcommands, &ctx, args)
        },
    ]

    static func ping(_ ctx: inout CommandContext, _ args: Arguments) {
        if args.count > 2 { ctx.wrongArity("ping"); return }
        if let s = ctx.session, s.inPubSubMode && s.version == .resp2 {
            // Redis: in pub/sub mode a RESP2 PING replies ["pong", argument or ""].
            ctx.out.arrayHeader(2)
            ctx.out.bulk("pong" as StaticString)
            if args.count == 2 { ctx.out.bulk(args[1]) } else { ctx.out.bulk("" as StaticString) }
            return
        }
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

    // MARK: authentication

    static let wrongPass: StaticString = "WRONGPASS invalid username-password pair or user is disabled."

    /// Redis' ACLAuthenticateUser: on success the client runs as `user` from now on; a failure
    /// is logged in ACL LOG (reason auth, object the command name as sent, the user tried).
    static func authenticate(_ ctx: CommandContext, _ session: ClientSession, user: String, password: [UInt8],
                             commandName: String) -> Bool {
        let acl = ctx.server.acl
        let epoch = acl.epoch.load(ordering: .acquiring)
        if acl.checkCredentials(user: user, password: password), let p = acl.permissions(for: user) {
            session.authenticated = true
            session.become(p, epoch: epoch)
            return true
        }
        let now = Clock.nowMilliseconds()
        acl.addLogEntry(reason: .auth, context: session.inMulti ? .multi : .toplevel, object: commandName,
                        username: user, clientInfo: ClientFamily.line(server: ctx.server, session, own: true), now: now)
        return false
    }

    /// AUTH [username] password
    static func auth(_ ctx: inout CommandContext, _ args: Arguments) {
        guard let session = ctx.session else { return }
        if args.count > 3 { ctx.syntaxError(); return }
        let user: String
        let password: [UInt8]
        if args.count == 2 {
            guard ctx.server.acl.defaultNeedsPassword else {
                ctx.out.error("ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?" as StaticString)
                return
            }
            user = "default"; password = args.bytes(1)
        } else {
            user = args.string(1); password = args.bytes(2)
        }
        if authenticate(ctx, session, user: user, password: password, commandName: args.string(0)) { ctx.out.ok() }
        else { ctx.out.error(wrongPass) }
    }

    /// HELLO [protover [AUTH username password] [SETNAME clientname]]
    static func hello(_ ctx: inout CommandContext, _ args: Arguments) {
        guard let session = ctx.session else { return }
        var version: RESPVersion? = nil
        if args.count >= 2 {
            guard let v = RESPParser.parseInteger(args[1], from: 0, to: args[1].count) else {
                ctx.out.error("ERR Protocol version is not an integer or out of range" as StaticString); return
            }
            guard v == 2 || v == 3 else { ctx.out.error("NOPROTO unsupported protocol version" as StaticString); return }
            version = v == 3 ? .resp3 : .resp2
        }
        var credentials: (user: String, password: [UInt8])? = nil
        var clientName: String? = nil
        var i = 2
        while i < args.count {
            let more = args.count - 1 - i
            if args.equalsKeyword(i, "AUTH") && more >= 2 {
                credentials = (args.string(i + 1), args.bytes(i + 2)); i += 3
            } else if args.equalsKeyword(i, "SETNAME") && more >= 1 {
                clientName = args.string(i + 1); i += 2
            } else {
                ctx.out.error("ERR Syntax error in HELLO option '\(args.string(i))'"); return
            }
        }
        if let c = credentials {
            guard authenticate(ctx, session, user: c.user, password: c.password, commandName: args.string(0)) else {
                ctx.out.error(wrongPass); return
            }
        }
        if !session.authenticated && ctx.server.acl.defaultNeedsAuth.load(ordering: .relaxed) {
            ctx.out.error("NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time" as StaticString)
            return
        }
        if let name = clientName {
            guard ClientFamily.isValidName(name) else { ClientFamily.invalidName(&ctx); return }
            session.name = name
        }
        if let version {
            session.version = version
            ctx.out.version = version  // the HELLO reply itself is in the new protocol
        }
        let out = ctx.out
        out.mapHeader(7)
        out.bulk("server" as StaticString); out.bulk("redis" as StaticString)
        out.bulk("version" as StaticString); out.bulk(redisVersion)
        out.bulk("proto" as StaticString); out.integer(session.version.rawValue)
        out.bulk("id" as StaticString); out.integer(session.id)
        out.bulk("mode" as StaticString); out.bulk("standalone" as StaticString)
        out.bulk("role" as StaticString); out.bulk("master" as StaticString)
        out.bulk("modules" as StaticString); out.arrayHeader(0)
    }

    /// RESET: back to a fresh connection's state. WATCHes live in the shards, so the
    /// connection handler drops them after this returns (`resetRequested`).
    static func reset(_ ctx: inout CommandContext, _ args: Arguments) {
        guard let session = ctx.session else { return }
        session.inMulti = false
        session.multiQueue = []
        session.multiFailed = false
        session.resetRequested = true
        session.db = 0
        session.version = .resp2
        ctx.out.version = .resp2
        session.name = ""
        session.noEvict = false
        session.noTouch = false
        if session.isMonitor.load(ordering: .relaxed) { ctx.server.clients.removeMonitor(session) }
        // Redis' clientSetDefaultAuth: back to the default user.
        session.authenticated = !ctx.server.acl.defaultNeedsAuth.load(ordering: .relaxed)
        let epoch = ctx.server.acl.epoch.load(ordering: .acquiring)
        session.become(ctx.server.acl.defaultPermissions, epoch: epoch)
        ctx.out.simple("RESET" as StaticString)
    }
}
