import LarderRESP
import LarderStore
import NIOCore

/// CLIENT subcommands (Redis' networking.c clientCommand), with Redis 7.0's replies and errors.
/// SETINFO and NO-TOUCH come from Redis 7.2: clients send SETINFO on every connection.
enum ClientFamily {
    static let subcommands: [Subcommand] = [
        Subcommand("id", arity: 2, flags: [.noscript, .loading, .stale],
                   handler: id),
        Subcommand("info", arity: 2, flags: [.noscript, .loading, .stale],
                   handler: info),
        Subcommand("list", arity: -2, flags: [.admin, .noscript, .loading, .stale],
                   handler: list),
        Subcommand("setname", arity: 3, flags: [.noscript, .loading, .stale],
                   handler: setname),
        Subcommand("getname", arity: 2, flags: [.noscript, .loading, .stale],
                   handler: getname),
        Subcommand("setinfo", arity: 4, flags: [.noscript, .loading, .stale],
                   summary: "Set client or connection specific info", since: "7.2.0", handler: setinfo),
        Subcommand("kill", arity: -3, flags: [.admin, .noscript, .loading, .stale],
                   handler: kill),
        Subcommand("unblock", arity: -3, flags: [.admin, .noscript, .loading, .stale],
                   handler: unblock),
        Subcommand("pause", arity: -3, flags: [.admin, .noscript, .loading, .stale],
                   handler: pause),
        Subcommand("unpause", arity: 2, flags: [.admin, .noscript, .loading, .stale],
                   handler: unpause),
        Subcommand("reply", arity: 3, flags: [.noscript, .loading, .stale],
                   handler: reply),
        Subcommand("no-evict", arity: 3, flags: [.admin, .noscript, .loading, .stale],
                   handler: noEvict),
        Subcommand("no-touch", arity: 3, flags: [.noscript, .loading, .stale],
                   summary: "Controls whether commands sent by the client will alter the LRU/LFU of the keys they access.",
                   since: "7.2.0", handler: noTouch),
        Subcommand("help", arity: 2, flags: [.loading, .stale],
                   handler: help),
    ]

    // MARK: names

    /// Redis allows only the printable ASCII range '!'...'~' in client names and library info.
    static func isValidName(_ s: String) -> Bool { s.utf8.allSatisfy { $0 >= 33 && $0 <= 126 } }

    static func invalidName(_ ctx: inout CommandContext) {
        ctx.out.error("ERR Client names cannot contain spaces, newlines or special characters." as StaticString)
    }

    /// CLIENT PAUSE timeout [WRITE|ALL] (Redis 7.0: the mode is checked before the timeout;
    /// a timeout of 0 pauses nothing).
    static func pause(_ ctx: inout CommandContext, _ args: Arguments) {
        guard args.count <= 4 else {  // Redis' clientCommand falls through to its last branch
            ctx.out.error("ERR unknown subcommand or wrong number of arguments for '\(args.string(1))'. Try CLIENT HELP.")
            return
        }
        var mode = ClientPause.Mode.all
        if args.count == 4 {
            if args.equalsKeyword(3, "WRITE") { mode = .write }
            else if !args.equalsKeyword(3, "ALL") {
                ctx.out.error("ERR CLIENT PAUSE mode must be WRITE or ALL" as StaticString); return
            }
        }
        guard let timeout = RESPParser.parseInteger(args[2], from: 0, to: args[2].count) else {
            ctx.out.error("ERR timeout is not an integer or out of range" as StaticString); return
        }
        guard timeout >= 0 else { ctx.out.error("ERR timeout is negative" as StaticString); return }
        let now = Clock.nowMilliseconds()
        guard timeout <= Int(Int64.max - now) else { ctx.out.error("ERR timeout is out of range" as StaticString); return }
        let pause = ctx.server.clientPause
        pause.pause(until: timeout > 0 ? now + Int64(timeout) : 0, mode: mode)
        // Someone must notice the end even if no command arrives: expiry resumes then.
        if timeout > 0, let loop = ctx.server.workers.first?.loop {
            loop.scheduleTask(in: .milliseconds(Int64(timeout) + 1)) { _ = pause.current(now: Clock.nowMilliseconds()) }
        } else {
            _ = pause.current(now: now)
        }
        ctx.out.ok()
    }

    static func unpause(_ ctx: inout CommandContext, _ args: Arguments) {
        ctx.server.clientPause.unpause(workers: ctx.server.workers)
        ctx.out.ok()
    }

    static func id(_ ctx: inout CommandContext, _ args: Arguments) {
        ctx.out.integer(ctx.session?.id ?? 0)
    }

    static func setname(_ ctx: inout CommandContext, _ args: Arguments) {
        let name = args.string(2)
        guard isValidName(name) else { invalidName(&ctx); return }
        ctx.session?.name = name
        ctx.out.ok()
    }

    static func getname(_ ctx: inout CommandContext, _ args: Arguments) {
        let name = ctx.session?.name ?? ""
        if name.isEmpty { ctx.out.null() } else { ctx.out.bulk(name) }
    }

    /// CLIENT SETINFO LIB-NAME|LIB-VER value (Redis 7.2).
    static func setinfo(_ ctx: inout CommandContext, _ args: Arguments) {
        guard let session = ctx.session else { return }
        let value = args.string(3)
        let isName = args.equalsKeyword(2, "LIB-NAME")
        guard isName || args.equalsKeyword(2, "LIB-VER") else {
            ctx.out.error("ERR Unrecognized option '\(args.string(2))'"); return
        }
        guard isValidName(value) else {
            ctx.out.error("ERR \(args.string(2)) cannot contain spaces, newlines or special characters."); return
        }
        if isName { session.libName = value } else { session.libVersion = value }
        ctx.out.ok()
    }

    static func onOff(_ args: Arguments, _ i: Int) -> Bool? {
        if args.equalsKeyword(i, "ON") { return true }
        if args.equalsKeyword(i, "OFF") { return false }
        return nil
    }

    static func noEvict(_ ctx: inout CommandContext, _ args: Arguments) {
        guard let on = onOff(args, 2) else { ctx.syntaxError(); return }
        ctx.session?.noEvict = on
        ctx.out.ok()
    }

    /// CLIENT REPLY ON|OFF|SKIP: OFF and SKIP reply nothing; the connection drops the replies
    /// of the commands that follow (OFF) or of the next one (SKIP), pushes excepted
    /// (`ConnectionHandler.dispatchSilenced`).
    static func reply(_ ctx: inout CommandContext, _ args: Arguments) {
        guard let session = ctx.session else { return }
        if args.equalsKeyword(2, "ON") { session.replyMode = .on; ctx.out.ok() }
        else if args.equalsKeyword(2, "OFF") { session.replyMode = .off }
        else if args.equalsKeyword(2, "SKIP") { if session.replyMode != .off { session.replyMode = .skipArmed } }
        else { ctx.syntaxError() }
    }

    static func noTouch(_ ctx: inout CommandContext, _ args: Arguments) {
        guard let on = onOff(args, 2) else { ctx.syntaxError(); return }
        ctx.session?.noTouch = on
        ctx.out.ok()
    }

    // MARK: listing

    /// Redis' client types. Every client here is a normal one (MONITOR clients count as
    /// replicas in Redis' getClientType, as they do here).
    enum ClientType { case normal, replica, pubsub, master }

    static func clientType(named s: String) -> ClientType? {
        switch s.lowercased() {
        case "normal": return .normal
        case "slave", "replica": return .replica
        case "pubsub": return .pubsub
        case "master": return .master
        default: return nil
        }
    }

    static func type(of c: ClientSession) -> ClientType {
        if c.isMonitor.load(ordering: .relaxed) { return .replica }
        // Redis' getClientType: pubsub when subscribed to anything (read from another thread:
        // the counts are atomics).
        if c.subscribedChannels.load(ordering: .relaxed) + c.subscribedPatterns.load(ordering: .relaxed)
            + c.subscribedShardChannels.load(ordering: .relaxed) > 0 { return .pubsub }
        return .normal
    }

    /// `fds`: SocketDescriptors.byConnection(), read once per CLIENT LIST / CLIENT INFO.
    static func line(_ ctx: CommandContext, _ c: ClientSession, fds: [SocketDescriptors.Connection: Int], args: Arguments) -> String {
        let own = c === ctx.session
        var argvBytes = 0
        if own { for i in 0..<args.count { argvBytes += args[i].count } }
        return line(server: ctx.server, c, own: own, fds: fds, argvBytes: argvBytes, replyBytes: own ? ctx.out.count : 0) + "\n"
    }

    /// One CLIENT LIST line without its newline (also ACL LOG's client-info, which does not
    /// read the descriptor tables: fd=-1 there).
    static func line(server: ServerState, _ c: ClientSession, own: Bool, fds: [SocketDescriptors.Connection: Int] = [:],
                     argvBytes: Int = 0, replyBytes: Int = 0) -> String {
        let specs = server.commands.specs
        let sub = c.lastSubcommandIndex.load(ordering: .relaxed)
        let fd = fds[SocketDescriptors.Connection(local: c.localAddress, remote: c.address)] ?? -1
        return c.describeLine(now: Clock.nowMilliseconds(), own: own, fd: fd, argvBytes: argvBytes, replyBytes: replyBytes) { i in
            guard i < specs.count else { return "NULL" }
            // Container commands show as "client|list", as in Redis 7.
            let subs = specs[i].subcommands
            return sub >= 0 && sub < subs.count ? "\(specs[i].name)|\(subs[sub])" : specs[i].name
        }
    }

    static func info(_ ctx: inout CommandContext, _ args: Arguments) {
        guard let session = ctx.session else { return }
        ctx.out.verbatim(line(ctx, session, fds: SocketDescriptors.byConnection(), args: args))
    }

    /// CLIENT LIST [TYPE NORMAL|MASTER|REPLICA|PUBSUB] [ID id [id ...]]
    static func list(_ ctx: inout CommandContext, _ args: Arguments) {
        var text = ""
        let fds = SocketDescriptors.byConnection()
        if args.count == 2 {
            for c in ctx.server.clients.all { text += line(ctx, c, fds: fds, args: args) }
        } else if args.count == 4 && args.equalsKeyword(2, "TYPE") {
            guard let t = clientType(named: args.string(3)) else {
                ctx.out.error("ERR Unknown client type '\(args.string(3))'"); return
            }
            for c in ctx.server.clients.all where type(of: c) == t { text += line(ctx, c, fds: fds, args: args) }
        } else if args.count > 3 && args.equalsKeyword(2, "ID") {
            var ids: [Int] = []
            for i in 3..<args.count {
                guard let id = RESPParser.parseInteger(args[i], from: 0, to: args[i].count), id >= 1 else {
                    ctx.out.error("ERR Invalid client ID" as StaticString); return
                }
                ids.append(id)
            }
            for id in ids { if let c = ctx.server.clients.client(id: id) { text += line(ctx, c, fds: fds, args: args) } }
        } else {
            ctx.syntaxError(); return
        }
        ctx.out.verbatim(text)
    }

    // MARK: kill

    /// CLIENT KILL ip:port (old form: replies OK or an error, may kill the caller), or
    /// CLIENT KILL [ID id] [TYPE t] [ADDR ip:port] [LADDR ip:port] [USER name] [SKIPME yes|no]
    /// (replies with the number killed; skips the caller unless SKIPME no).
    static func kill(_ ctx: inout CommandContext, _ args: Arguments) {
        guard let me = ctx.session else { return }
        var addr: String? = nil, laddr: String? = nil
        var id = 0
        var wantedType: ClientType? = nil
        var skipMe = true
        var userFilter: String? = nil
        let oldForm = args.count == 3
        if oldForm {
            addr = args.string(2)
            skipMe = false  // with the old form a client may kill itself
        } else {
            var i = 2
            while i < args.count {
                let hasValue = i + 1 < args.count
                if args.equalsKeyword(i, "ID") && hasValue {
                    guard let v = RESPParser.parseInteger(args[i + 1], from: 0, to: args[i + 1].count), v >= 1 else {
                        ctx.out.error("ERR client-id should be greater than 0" as StaticString); return
                    }
                    id = v
                } else if args.equalsKeyword(i, "TYPE") && hasValue {
                    guard let t = clientType(named: args.string(i + 1)) else {
                        ctx.out.error("ERR Unknown client type '\(args.string(i + 1))'"); return
                    }
                    wantedType = t
                } else if args.equalsKeyword(i, "ADDR") && hasValue {
                    addr = args.string(i + 1)
                } else if args.equalsKeyword(i, "LADDR") && hasValue {
                    laddr = args.string(i + 1)
                } else if args.equalsKeyword(i, "USER") && hasValue {
                    guard ctx.server.acl.user(args.string(i + 1)) != nil else {
                        ctx.out.error("ERR No such user '\(args.string(i + 1))'"); return
                    }
                    userFilter = args.string(i + 1)
                } else if args.equalsKeyword(i, "SKIPME") && hasValue {
                    if args.equalsKeyword(i + 1, "YES") { skipMe = true }
                    else if args.equalsKeyword(i + 1, "NO") { skipMe = false }
                    else { ctx.syntaxError(); return }
                } else {
                    ctx.syntaxError(); return
                }
                i += 2
            }
        }
        var killed = 0
        for c in ctx.server.clients.all {
            if let addr, c.address != addr { continue }
            if let laddr, c.localAddress != laddr { continue }
            if let wantedType, type(of: c) != wantedType { continue }
            if id != 0 && c.id != id { continue }
            if let userFilter, c.userName != userFilter { continue }
            if c === me && skipMe { continue }
            if c === me {
                me.closeAfterReply = true
            } else {
                // Channel.close is thread-safe: NIO runs it on the client's own loop. The close
                // completes later, so the client leaves the registry now, as Redis frees it at once
                // (a second KILL or a CLIENT LIST must not see it); removing twice is harmless.
                ctx.server.clients.remove(c)
                _ = c.transport?.closeFromAnyThread()
            }
            killed += 1
        }
        if oldForm {
            if killed == 0 { ctx.out.error("ERR No such client" as StaticString) } else { ctx.out.ok() }
        } else {
            ctx.out.integer(killed)
        }
    }

    /// Redis 7.2's text, without the subcommands this server does not have (tracking, pause,
    /// reply, unblock).
    static func help(_ ctx: inout CommandContext, _ args: Arguments) {
        Subcommands.help(&ctx, "CLIENT", [
            "GETNAME",
            "    Return the name of the current connection.",
            "ID",
            "    Return the ID of the current connection.",
            "INFO",
            "    Return information about the current client connection.",
            "KILL <ip:port>",
            "    Kill connection made from <ip:port>.",
            "KILL <option> <value> [<option> <value> [...]]",
            "    Kill connections. Options are:",
            "    * ADDR (<ip:port>|<unixsocket>:0)",
            "      Kill connections made from the specified address",
            "    * LADDR (<ip:port>|<unixsocket>:0)",
            "      Kill connections made to specified local address",
            "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
            "      Kill connections by type.",
            "    * USER <username>",
            "      Kill connections authenticated by <username>.",
            "    * SKIPME (YES|NO)",
            "      Skip killing current connection (default: yes).",
            "LIST [options ...]",
            "    Return information about client connections. Options:",
            "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
            "      Return clients of specified type.",
            "UNPAUSE",
            "    Stop the current client pause, resuming traffic.",
            "PAUSE <timeout> [WRITE|ALL]",
            "    Suspend all, or just write, clients for <timeout> milliseconds.",
            "REPLY (ON|OFF|SKIP)",
            "    Control the replies sent to the current connection.",
            "SETNAME <name>",
            "    Assign the name <name> to the current connection.",
            "SETINFO <option> <value>",
            "    Set client meta attr. Options are:",
            "    * LIB-NAME: the client lib name.",
            "    * LIB-VER: the client lib version.",
            "NO-EVICT (ON|OFF)",
            "    Protect current client connection from eviction.",
            "NO-TOUCH (ON|OFF)",
            "    Will not touch LRU/LFU stats when this mode is on.",
        ])
    }
}
