import Foundation
import LarderRESP
import LarderStore
import LarderTLS

/// CONFIG GET / SET / RESETSTAT over the settings this server has (ServerSettings), with the
/// names, value formats, bounds and error texts of Redis 7.0.
enum ConfigFamily {
    static let spec = CommandSpec(
        "config", arity: -2, flags: [], group: "server",
        subcommands: subcommands.map { $0.name }) { ctx, args in
        Subcommands.dispatch("config", subcommands, &ctx, args)
    }

    static let subcommands: [Subcommand] = [
        Subcommand("get", arity: -3, flags: [.admin, .noscript, .loading, .stale],
                   handler: get),
        Subcommand("set", arity: -4, flags: [.admin, .noscript, .loading, .stale],
                   handler: set),
        Subcommand("resetstat", arity: 2, flags: [.admin, .noscript, .loading, .stale],
                   handler: resetstat),
        Subcommand("rewrite", arity: 2, flags: [.admin, .noscript, .loading, .stale],
                   handler: rewrite),  // ConfigFamily+Rewrite.swift
        Subcommand("help", arity: 2, flags: [.loading, .stale],
                   handler: help),
    ]

    /// Why a value was refused: the text after "CONFIG SET failed (...) - ".
    typealias Apply = (ServerSettings) -> Void

    struct Parameter {
        let name: String
        let get: (ServerState) -> String
        /// Validates a value and returns how to apply it, or Redis' reason for refusing it.
        /// nil for parameters that cannot change while the server runs (see `unchangeable`).
        let check: ((String) -> Result<Apply, ConfigRefusal>)?
        /// How a setting without `check` refuses. `.whileRunning`: Redis can change it at run
        /// time (port, bind, dir), Larder cannot, so setting it to its current value is accepted,
        /// as Redis accepts it (its test suite sets every setting to its own value); `.immutable`
        /// and `.protected` refuse even that, with Redis' texts.
        var unchangeable: Unchangeable = .immutable

        enum Unchangeable { case whileRunning, immutable, `protected` }
        /// For `tls-*`: changes the pending TLS configuration; CONFIG SET makes a new TLS
        /// context from it (files read again) before anything is applied.
        var tls: ((inout TLSConfiguration, String) -> ConfigRefusal?)? = nil
    }

    struct ConfigRefusal: Error { let reason: String }

    static let immutable = ConfigRefusal(reason: "can't set immutable config")

    /// A whole-number parameter (Redis' numericConfig with a plain integer).
    static func integer(_ name: String, min: Int, max: Int, _ value: @escaping (ServerSettings) -> Int,
                        _ store: @escaping (ServerSettings, Int) -> Void) -> Parameter {
        Parameter(name: name, get: { String(value($0.settings)) }, check: { text in
            guard let v = parseInteger(text) else { return .failure(ConfigRefusal(reason: "argument couldn't be parsed into an integer")) }
            guard v >= min && v <= max else { return .failure(ConfigRefusal(reason: "argument must be between \(min) and \(max) inclusive")) }
            return .success { store($0, v) }
        })
    }

    /// A byte-size parameter accepting Redis' memory units (1k, 1kb, 1m, 1mb, 1g, 1gb).
    static func memory(_ name: String, min: Int, _ value: @escaping (ServerSettings) -> Int,
                       _ store: @escaping (ServerSettings, Int) -> Void) -> Parameter {
        Parameter(name: name, get: { String(value($0.settings)) }, check: { text in
            guard let v = parseMemory(text) else { return .failure(ConfigRefusal(reason: "argument must be a memory value")) }
            guard v >= min else { return .failure(ConfigRefusal(reason: "argument must be between \(min) and \(Int.max) inclusive")) }
            return .success { store($0, v) }
        })
    }

    /// A boolean parameter (Redis' boolConfig): yes or no, any case.
    static func yesNo(_ name: String, _ value: @escaping (ServerSettings) -> Bool,
                      _ store: @escaping (ServerSettings, Bool) -> Void) -> Parameter {
        Parameter(name: name, get: { value($0.settings) ? "yes" : "no" }, check: { text in
            switch text.lowercased() {
            case "yes": return .success { store($0, true) }
            case "no": return .success { store($0, false) }
            default: return .failure(ConfigRefusal(reason: "argument must be 'yes' or 'no'"))
            }
        })
    }

    /// A parameter that only accepts its current (fixed) value, so clients that turn
    /// persistence off (`CONFIG SET save ""`) keep working.
    static func fixed(_ name: String, _ value: String, yesNo: Bool = false) -> Parameter {
        Parameter(name: name, get: { _ in value }, check: { text in
            if yesNo && text.lowercased() != "yes" && text.lowercased() != "no" {
                return .failure(ConfigRefusal(reason: "argument must be 'yes' or 'no'"))
            }
            return text.lowercased() == value ? .success { _ in } : .failure(immutable)
        })
    }

    static let parameters: [Parameter] = [
        memory("proto-max-bulk-len", min: 1024 * 1024, { $0.protoMaxBulkLength.load(ordering: .relaxed) },
               { $0.protoMaxBulkLength.store($1, ordering: .relaxed) }),
        memory("client-query-buffer-limit", min: 1024 * 1024, { $0.clientQueryBufferLimit.load(ordering: .relaxed) },
               { $0.clientQueryBufferLimit.store($1, ordering: .relaxed) }),
        integer("maxclients", min: 1, max: Int(UInt32.max), { $0.maxClients.load(ordering: .relaxed) },
                { $0.maxClients.store($1, ordering: .relaxed) }),
        integer("timeout", min: 0, max: Int(Int32.max), { $0.idleTimeout.load(ordering: .relaxed) },
                { $0.idleTimeout.store($1, ordering: .relaxed) }),
        integer("tcp-keepalive", min: 0, max: Int(Int32.max), { $0.tcpKeepalive.load(ordering: .relaxed) },
                { $0.tcpKeepalive.store($1, ordering: .relaxed) }),
        // Redis keeps hz within 1...500 whatever is asked.
        integer("hz", min: 0, max: Int(Int32.max), { $0.hz.load(ordering: .relaxed) },
                { $0.hz.store(Swift.min(500, Swift.max(1, $1)), ordering: .relaxed) }),
        Parameter(name: "requirepass", get: { $0.settings.requirePass ?? "" },
                  check: { text in .success { $0.requirePass = text } }),
        Parameter(name: "aclfile", get: { $0.settings.aclFile ?? "" }, check: nil),
        integer("acllog-max-len", min: 0, max: Int(Int32.max), { $0.aclLogMaxLength.load(ordering: .relaxed) },
                { $0.aclLogMaxLength.store($1, ordering: .relaxed) }),
        yesNo("protected-mode", { $0.protectedMode.load(ordering: .relaxed) }, { $0.protectedMode.store($1, ordering: .relaxed) }),
        Parameter(name: "port", get: { String($0.boundPort) }, check: nil, unchangeable: .whileRunning),
        Parameter(name: "bind", get: { $0.settings.bind }, check: nil, unchangeable: .whileRunning),
        Parameter(name: "databases", get: { _ in String(Shard.databaseCount) }, check: nil),
        Parameter(name: "dir", get: { absolutePath($0.settings.dir) }, check: nil, unchangeable: .whileRunning),
        Parameter(name: "dbfilename", get: { $0.settings.dbFilename }, check: nil, unchangeable: .protected),
        Parameter(name: "daemonize", get: { _ in "no" }, check: nil),
        Parameter(name: "enable-debug-command", get: { $0.settings.enableDebugCommand.rawValue }, check: nil),
        Parameter(name: "save", get: { SavePoint.format($0.settings.savePoints) }, check: { text in
            guard let points = SavePoint.parse(text) else { return .failure(ConfigRefusal(reason: "Invalid save parameters")) }
            return .success { $0.savePoints = points }
        }),
        memory("maxmemory", min: 0, { $0.maxMemory.load(ordering: .relaxed) }, { $0.maxMemory.store($1, ordering: .relaxed) }),
        Parameter(name: "maxmemory-policy", get: { $0.settings.evictionPolicy.name }, check: { text in
            guard let policy = EvictionPolicy(name: text) else {
                return .failure(ConfigRefusal(reason: "argument(s) must be one of the following: "
                                              + EvictionPolicy.allCases.map(\.name).joined(separator: ", ")))
            }
            return .success { $0.setMaxMemoryPolicy(policy) }
        }),
        integer("maxmemory-samples", min: 1, max: Int(Int32.max), { $0.maxMemorySamples.load(ordering: .relaxed) },
                { $0.maxMemorySamples.store($1, ordering: .relaxed) }),
        integer("maxmemory-eviction-tenacity", min: 0, max: 100, { $0.evictionTenacity.load(ordering: .relaxed) },
                { $0.evictionTenacity.store($1, ordering: .relaxed) }),
        integer("lfu-log-factor", min: 0, max: Int(Int32.max), { _ in KeyAccess.lfuLogFactor.load(ordering: .relaxed) },
                { KeyAccess.lfuLogFactor.store($1, ordering: .relaxed); _ = $0 }),
        integer("lfu-decay-time", min: 0, max: Int(Int32.max), { _ in KeyAccess.lfuDecayTime.load(ordering: .relaxed) },
                { KeyAccess.lfuDecayTime.store($1, ordering: .relaxed); _ = $0 }),
        yesNo("stop-writes-on-bgsave-error", { $0.stopWritesOnSaveError.load(ordering: .relaxed) },
              { $0.stopWritesOnSaveError.store($1, ordering: .relaxed) }),
        // The switch happens within a second, holding every shard (ServerState.reconcileAppendOnly),
        // as Redis' CONFIG SET appendonly yes replies at once and rewrites in the background.
        yesNo("appendonly", { $0.aof.enabled.load(ordering: .relaxed) }, { $0.aof.enabled.store($1, ordering: .relaxed) }),
        Parameter(name: "appendfsync", get: { $0.settings.aof.fsync.name }, check: { text in
            guard let f = AppendFsync(name: text) else {
                return .failure(ConfigRefusal(reason: "argument(s) must be one of the following: always, everysec, no"))
            }
            return .success { $0.aof.fsync = f }
        }),
        Parameter(name: "appenddirname", get: { $0.settings.aof.dirname }, check: nil),
        Parameter(name: "appendfilename", get: { $0.settings.aof.filename }, check: nil),
        yesNo("aof-load-truncated", { $0.aof.loadTruncated.load(ordering: .relaxed) }, { $0.aof.loadTruncated.store($1, ordering: .relaxed) }),
        yesNo("aof-use-rdb-preamble", { $0.aof.useRDBPreamble.load(ordering: .relaxed) }, { $0.aof.useRDBPreamble.store($1, ordering: .relaxed) }),
        Parameter(name: "notify-keyspace-events",
                  get: { KeyspaceEventFlags(rawValue: $0.keyspaceEvents.load(ordering: .relaxed)).text }, check: { text in
            guard let f = KeyspaceEventFlags(text: text) else {
                return .failure(ConfigRefusal(reason: "Invalid event class character. Use 'Ag$lshzxeKEtmdn'."))
            }
            return .success { $0.notifyKeyspaceEvents.store(f.rawValue, ordering: .relaxed) }
        }),
    ] + monitoringParameters + latencyParameters  // SLOWLOG / LATENCY: Families/SlowlogFamily.swift, LatencyFamily.swift
        + packedEncodingParameters + ListFamily.configParameters + SetFamily.configParameters + ZSetFamily.configParameters
      + tlsParameters  // ConfigFamily+TLS.swift

    /// The packed-hash thresholds (Redis' hash-max-listpack-*, and the -ziplist-* names Redis
    /// 7.0 still answers to). Lowering works as in Redis (hashes written from then on convert
    /// past it); the packed form cannot hold more than its ceiling, so a higher value is refused.
    static let packedEncodingParameters: [Parameter] = {
        let entries: (get: () -> Int, set: (Int) -> Void) = (
            { HashObject.packedEntriesLimit.load(ordering: .relaxed) }, { HashObject.packedEntriesLimit.store($0, ordering: .relaxed) })
        let value: (get: () -> Int, set: (Int) -> Void) = (
            { HashObject.packedValueLimit.load(ordering: .relaxed) }, { HashObject.packedValueLimit.store($0, ordering: .relaxed) })
        return [
            ("hash-max-listpack-entries", entries, HashObject.maxPackedEntries, "entries"),
            ("hash-max-ziplist-entries", entries, HashObject.maxPackedEntries, "entries"),
            ("hash-max-listpack-value", value, HashObject.maxPackedValueLength, "bytes per field or value"),
            ("hash-max-ziplist-value", value, HashObject.maxPackedValueLength, "bytes per field or value"),
        ].map { name, limit, ceiling, unit in
            Parameter(name: name, get: { _ in String(limit.get()) }, check: { text in
                guard let v = parseInteger(text), v >= 0 else {
                    return .failure(ConfigRefusal(reason: "argument couldn't be parsed into an integer"))
                }
                guard v <= ceiling else {
                    return .failure(ConfigRefusal(reason: "Larder's packed hashes hold at most \(ceiling) \(unit)"))
                }
                return .success { _ in limit.set(v) }
            })
        }
    }()

    static func absolutePath(_ dir: String) -> String {
        if dir.hasPrefix("/") { return dir }
        let cwd = FileManager.default.currentDirectoryPath
        return dir == "." || dir == "./" ? cwd : cwd + "/" + dir
    }

    /// A configuration file line for a setting CONFIG SET knows (and `serve` has no option
    /// for): how to apply it, Redis' reason for refusing the value, or nil for a name CONFIG
    /// does not know. Settings CONFIG cannot change while running have options of their own.
    static func startupSetting(_ name: String, _ value: String) -> Result<RuntimeSetting, RuntimeSettingRefusal>? {
        guard let p = parameter(named: name), let check = p.check else { return nil }
        switch check(value) {
        case .success(let apply): return .success(RuntimeSetting(name: p.name, apply: apply))
        case .failure(let refusal): return .failure(RuntimeSettingRefusal(reason: refusal.reason))
        }
    }

    static func parameter(named name: String) -> Parameter? {
        let lower = name.lowercased()
        return parameters.first { $0.name == lower }
    }

    /// Redis' string2ll: no spaces, no '+', no leading zeros.
    static func parseInteger(_ s: String) -> Int? {
        let bytes = Array(s.utf8)
        return bytes.withUnsafeBytes { RESPParser.parseInteger($0, from: 0, to: $0.count) }
    }

    /// Redis' memtoull: digits then an optional unit b, k, kb, m, mb, g, gb (any case).
    static func parseMemory(_ s: String) -> Int? {
        let digits = s.prefix { $0.isASCII && $0.isNumber }
        let unit = s.dropFirst(digits.count).lowercased()
        let multipliers: [String: Int] = ["": 1, "b": 1, "k": 1000, "kb": 1024, "m": 1_000_000,
                                          "mb": 1024 * 1024, "g": 1_000_000_000, "gb": 1024 * 1024 * 1024]
        guard let mul = multipliers[unit], let v = Int(digits) else { return nil }
        let (r, overflow) = v.multipliedReportingOverflow(by: mul)
        return overflow ? nil : r
    }

    /// CONFIG GET pattern [pattern ...]: a name without glob characters is echoed as given.
    static func get(_ ctx: inout CommandContext, _ args: Arguments) {
        var pairs: [(String, String)] = []
        var seen = Set<String>()
        for i in 2..<args.count {
            let pattern = args.string(i)
            if !pattern.contains(where: { $0 == "*" || $0 == "?" || $0 == "[" }) {
                if let p = parameter(named: pattern), !seen.contains(p.name) {
                    seen.insert(p.name); pairs.append((pattern, p.get(ctx.server)))
                }
                continue
            }
            for p in parameters where !seen.contains(p.name) {
                let matched = Array(pattern.utf8).withUnsafeBytes { pat in
                    Array(p.name.utf8).withUnsafeBytes { Glob.match(pat, $0, nocase: true) }
                }
                if matched { seen.insert(p.name); pairs.append((p.name, p.get(ctx.server))) }
            }
        }
        ctx.out.mapHeader(pairs.count)
        for (k, v) in pairs { ctx.out.bulk(k); ctx.out.bulk(v) }
    }

    /// CONFIG SET name value [name value ...]: all or nothing.
    static func set(_ ctx: inout CommandContext, _ args: Arguments) {
        guard args.count % 2 == 0 else { ctx.out.error("ERR wrong number of arguments for 'config|set' command" as StaticString); return }
        var changes: [Apply] = []
        var seen = Set<String>()
        var tls = ctx.server.settings.tls
        var tlsChanged: String? = nil
        var i = 2
        while i < args.count {
            let given = args.string(i)
            guard let p = parameter(named: given) else {
                ctx.out.error("ERR Unknown option or number of arguments for CONFIG SET - '\(given)'"); return
            }
            func refuse(_ reason: String) {
                ctx.out.error("ERR CONFIG SET failed (possibly related to argument '\(given)') - \(reason)")
            }
            if seen.contains(p.name) { refuse("duplicate parameter"); return }
            seen.insert(p.name)
            if let change = p.tls {
                if let refusal = change(&tls, args.string(i + 1)) { refuse(refusal.reason); return }
                tlsChanged = tlsChanged ?? given
                i += 2
                continue
            }
            guard let check = p.check else {
                switch p.unchangeable {
                case .immutable: refuse(immutable.reason); return
                case .protected: refuse("can't set protected config"); return
                case .whileRunning:
                    guard args.string(i + 1) == p.get(ctx.server) else {
                        refuse("Larder cannot change '\(p.name)' while it runs: restart with the new value"); return
                    }
                    i += 2
                    continue
                }
            }
            switch check(args.string(i + 1)) {
            case .success(let apply): changes.append(apply)
            case .failure(let refusal): refuse(refusal.reason); return
            }
            i += 2
        }
        if let name = tlsChanged, let refusal = applyTLS(ctx.server, tls) {
            ctx.out.error("ERR CONFIG SET failed (possibly related to argument '\(name)') - \(refusal.reason)")
            return
        }
        for apply in changes { apply(ctx.server.settings) }
        ctx.server.settings.noteConfigSet(Array(seen))
        ctx.server.updateWriteRefusal()
        ctx.out.ok()
    }

    static func resetstat(_ ctx: inout CommandContext, _ args: Arguments) {
        ServerStats.reset(ctx.server)
        ctx.out.ok()
    }

    static func help(_ ctx: inout CommandContext, _ args: Arguments) {
        Subcommands.help(&ctx, "CONFIG", [
            "GET <pattern>",
            "    Return parameters matching the glob-like <pattern> and their values.",
            "SET <directive> <value>",
            "    Set the configuration <directive> to <value>.",
            "RESETSTAT",
            "    Reset statistics reported by the INFO command.",
            "REWRITE",
            "    Rewrite the configuration file.",
        ])
    }
}
