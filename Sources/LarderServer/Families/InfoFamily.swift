import Foundation
import LarderRESP
import LarderStore
#if canImport(Glibc)
import Glibc
#endif

/// INFO [section ...], with Redis 7.0's section names, field names and layout. It borrows every
/// shard (route `.allShards`) so the keyspace counts are exact.
enum InfoFamily {
    static let spec = CommandSpec(
        "info", arity: -1, flags: [.loading, .stale], route: .allShards, group: "server",
        handler: info)

    /// The sections of a plain INFO (Redis' "default"), in Redis' order.
    static let defaultSections = ["server", "clients", "memory", "persistence", "stats", "replication",
                                  "cpu", "modules", "errorstats", "cluster", "keyspace"]
    static let allSections = ["server", "clients", "memory", "persistence", "stats", "replication",
                              "cpu", "modules", "commandstats", "errorstats", "latencystats", "cluster", "keyspace"]

    /// The engine that runs (after any fallback): Redis names its event library here (epoll, kqueue).
    static func multiplexingAPI(_ engine: IOEngine) -> String {
        switch engine {
        case .uring: return "io_uring"
        case .epoll: return "epoll"
        case .nio:
            #if os(Linux)
            return "epoll"
            #else
            return "kqueue"
            #endif
        }
    }

    static func info(_ ctx: inout CommandContext, _ args: Arguments) {
        var wanted = Set<String>()
        var everything = false
        if args.count == 1 { wanted = Set(defaultSections) }
        for i in 1..<args.count {
            let s = args.string(i).lowercased()
            switch s {
            case "default": wanted.formUnion(defaultSections)
            case "all": wanted.formUnion(allSections)
            case "everything": wanted.formUnion(allSections); everything = true
            default: wanted.insert(s)
            }
        }
        var text = ""
        for name in allSections where wanted.contains(name) {
            if !text.isEmpty { text += "\r\n" }
            text += section(name, ctx)
        }
        // Module sections: as Redis, by name or with `everything`, not in the default or `all`.
        for (name, fields) in ctx.server.moduleInfoSections where everything || wanted.contains(name) {
            if !text.isEmpty { text += "\r\n" }
            text += "# \(name.prefix(1).uppercased() + name.dropFirst())\r\n"
            for (k, v) in fields() { text += "\(k):\(v)\r\n" }
        }
        ctx.out.verbatim(text)
    }

    static func section(_ name: String, _ ctx: CommandContext) -> String {
        let fields: [(String, String)]
        switch name {
        case "server": fields = server(ctx)
        case "clients": fields = clients(ctx)
        case "memory": fields = memory(ctx)
        case "persistence": fields = persistence(ctx)
        case "stats": fields = stats(ctx)
        case "replication": fields = replication(ctx)
        case "cpu": fields = cpu()
        case "commandstats": fields = commandstats(ctx)
        case "cluster":
            // Larder's: the slot migration this node runs or ran last (CLUSTER LARDER.MIGRATION).
            fields = [("cluster_enabled", ctx.server.cluster.enabled ? "1" : "0")] + (ctx.server.cluster.enabled
                ? ClusterFamily.migrationFields(ctx.server.cluster).map { ("cluster_\($0.0)", $0.1) } : [])
        case "keyspace": fields = keyspace(ctx)
        case "errorstats": fields = errorstats(ctx)
        default: fields = []  // modules, latencystats: nothing to report
        }
        var s = "# \(name == "cpu" ? "CPU" : name.prefix(1).uppercased() + name.dropFirst())\r\n"
        for (k, v) in fields { s += "\(k):\(v)\r\n" }
        return s
    }

    static func server(_ ctx: CommandContext) -> [(String, String)] {
        let uptime = Int(Date().timeIntervalSince(ctx.server.startedAt))
        var uts = utsname()
        uname(&uts)
        let sysname = withUnsafeBytes(of: uts.sysname) { String(cString: $0.bindMemory(to: CChar.self).baseAddress!) }
        let release = withUnsafeBytes(of: uts.release) { String(cString: $0.bindMemory(to: CChar.self).baseAddress!) }
        let machine = withUnsafeBytes(of: uts.machine) { String(cString: $0.bindMemory(to: CChar.self).baseAddress!) }
        let hz = ctx.server.settings.hz.load(ordering: .relaxed)
        // Redis' build fields (redis_git_sha1, redis_build_id, gcc_version, atomicvar_api) describe
        // a Redis build and are left out: larder_version / larder_git_sha1 say what was built.
        return [
            ("redis_version", ConnectionFamily.redisVersion),
            ("larder_version", ctx.server.settings.build.version), ("larder_git_sha1", ctx.server.settings.build.commit),
            ("redis_mode", "standalone"),
            ("os", "\(sysname) \(release) \(machine)"), ("arch_bits", String(MemoryLayout<Int>.size * 8)),
            ("monotonic_clock", "POSIX clock_gettime"), ("multiplexing_api", Self.multiplexingAPI(ctx.server.settings.ioEngine)),
            ("process_id", String(getpid())), ("process_supervised", "no"), ("run_id", ctx.server.runId),
            ("tcp_port", String(ctx.server.boundPort)), ("server_time_usec", String(Clock.nowMicroseconds())),
            ("uptime_in_seconds", String(uptime)), ("uptime_in_days", String(uptime / 86400)),
            ("hz", String(hz)), ("configured_hz", String(hz)),
            ("lru_clock", String((Clock.nowMilliseconds() / 1000) & ((1 << 24) - 1))),
            ("executable", executablePath), ("config_file", ctx.server.settings.configFile),
            ("io_threads_active", "0"),
            // Not in Redis: how many shard threads serve this instance.
            ("larder_shards", String(ctx.server.shardCount)),
        ]
    }

    /// The running binary's absolute path, as Redis reports it (argv[0] can be relative).
    static let executablePath: String = {
        (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments.first ?? ""
    }()

    static func clients(_ ctx: CommandContext) -> [(String, String)] {
        let clients = ctx.server.clients.all
        let maxInput = clients.map { $0.queryBufferBytes.load(ordering: .relaxed) }.max() ?? 0
        let blocked = clients.filter { $0.blocked }.count
        return [
            ("connected_clients", String(ctx.server.clients.connectedCount.load(ordering: .relaxed))),
            ("cluster_connections", "0"),
            ("maxclients", String(ctx.server.settings.maxClients.load(ordering: .relaxed))),
            ("client_recent_max_input_buffer", String(maxInput)),
            ("blocked_clients", String(blocked)),
            ("tracking_clients", "0"), ("clients_in_timeout_table", String(blocked)),
        ]
    }

    static func memory(_ ctx: CommandContext) -> [(String, String)] {
        let used = ProcessMemory.allocatedBytes()
        let rss = ProcessMemory.residentBytes()
        let total = ProcessMemory.totalSystemBytes()
        let ratio = used > 0 ? Double(rss) / Double(used) : 0
        let peak = ctx.server.memoryLimit.notePeak(used)
        return [
            ("used_memory", String(used)), ("used_memory_human", human(used)),
            ("used_memory_rss", String(rss)), ("used_memory_rss_human", human(rss)),
            ("used_memory_peak", String(peak)), ("used_memory_peak_human", human(peak)),
            ("used_memory_peak_perc", String(format: "%.2f%%", peak > 0 ? Double(used) * 100 / Double(peak) : 0)),
            ("total_system_memory", String(total)), ("total_system_memory_human", human(total)),
            ("maxmemory", String(ctx.server.settings.maxMemory.load(ordering: .relaxed))),
            ("maxmemory_human", human(ctx.server.settings.maxMemory.load(ordering: .relaxed))), ("maxmemory_policy", ctx.server.settings.evictionPolicy.name),
            ("mem_fragmentation_ratio", String(format: "%.2f", ratio)),
            ("mem_fragmentation_bytes", String(rss - used)),
            ("mem_not_counted_for_evict", "0"),
            ("mem_allocator", "libc"),
        ]
    }

    static func persistence(_ ctx: CommandContext) -> [(String, String)] {
        // Only what Larder has: no fork, so no copy-on-write fields.
        let s = ctx.server.snapshots
        let bgsave = s.rdbBackgroundRunning
        let lastSeconds = s.lastSaveMilliseconds.load(ordering: .relaxed)
        let loading = ctx.server.loading.isActive
        return [("loading", loading ? "1" : "0"), ("async_loading", "0")]
            + (loading ? ctx.server.loading.infoFields() : []) + [
            ("rdb_changes_since_last_save", String(ctx.server.changesSinceLastSave)),
            ("rdb_bgsave_in_progress", bgsave ? "1" : "0"),
            ("rdb_last_save_time", String(s.lastSave.load(ordering: .relaxed))),
            ("rdb_last_bgsave_status", s.lastBackgroundFailed.load(ordering: .relaxed) ? "err" : "ok"),
            ("rdb_last_bgsave_time_sec", lastSeconds < 0 ? "-1" : String(lastSeconds / 1000)),
            ("rdb_current_bgsave_time_sec", bgsave ? String(max(0, Int(Date().timeIntervalSince1970) - s.backgroundStartedAt.load(ordering: .relaxed))) : "-1"),
            ("rdb_saves", String(s.saves.load(ordering: .relaxed))),
            ("rdb_last_load_keys_expired", String(s.loadedExpiredKeys.load(ordering: .relaxed))),
            ("rdb_last_load_keys_loaded", String(s.loadedKeys.load(ordering: .relaxed))),
        ] + ctx.server.aof.infoFields(s)
    }

    static func stats(_ ctx: CommandContext) -> [(String, String)] {
        let c = ctx.server.clients
        return [
            ("total_connections_received", String(c.totalConnections.load(ordering: .relaxed))),
            ("total_commands_processed", String(ServerStats.totalCommands(ctx.server))),
            ("instantaneous_ops_per_sec", String(ctx.server.opsSampler.opsPerSecond)),
            ("total_net_input_bytes", String(ServerStats.netInputBytes(ctx.server))),
            ("total_net_output_bytes", String(ServerStats.netOutputBytes(ctx.server))),
            ("rejected_connections", String(c.rejectedConnections.load(ordering: .relaxed))),
            ("expired_keys", String(ctx.heldShards.reduce(0) { total, shard in
                total + shard.expiredKeys + shard.databases.reduce(0) { $0 + $1.lazilyExpiredKeys } })),
            ("evicted_keys", String(ctx.heldShards.reduce(0) { $0 + $1.eviction.evictedKeys })),
            ("keyspace_hits", String(ctx.heldShards.reduce(0) { t, s in t + s.databases.reduce(0) { $0 + $1.hits } })),
            ("keyspace_misses", String(ctx.heldShards.reduce(0) { t, s in t + s.databases.reduce(0) { $0 + $1.misses } })),
            ("pubsub_channels", String(ctx.server.pubsub.count(.channel))),
            ("pubsub_patterns", String(ctx.server.pubsub.count(.pattern))),
            ("pubsubshard_channels", String(ctx.server.pubsub.count(.shard))),
            ("total_error_replies", String(ServerStats.totalErrorReplies(ctx.server))),
        ]
    }

    static func replication(_ ctx: CommandContext) -> [(String, String)] {
        [
            ("role", "master"), ("connected_slaves", "0"), ("master_failover_state", "no-failover"),
            ("master_replid", ctx.server.runId),
            ("master_replid2", String(repeating: "0", count: 40)), ("master_repl_offset", "0"),
            ("second_repl_offset", "-1"), ("repl_backlog_active", "0"),
        ]
    }

    static func cpu() -> [(String, String)] {
        var self_ = rusage(), children = rusage()
        getrusage(RUSAGE_SELF.rawValue, &self_)
        getrusage(RUSAGE_CHILDREN.rawValue, &children)
        func seconds(_ t: timeval) -> String { String(format: "%d.%06d", Int(t.tv_sec), Int(t.tv_usec)) }
        return [
            ("used_cpu_sys", seconds(self_.ru_stime)), ("used_cpu_user", seconds(self_.ru_utime)),
            ("used_cpu_sys_children", seconds(children.ru_stime)),
            ("used_cpu_user_children", seconds(children.ru_utime)),
        ]
    }

    /// One line per command called at least once; usec as `ServerStats.commandTime` measures it.
    static func commandstats(_ ctx: CommandContext) -> [(String, String)] {
        var rows: [(String, String)] = []
        for spec in ctx.server.commands.specs {
            let (calls, usec) = ServerStats.commandTime(ctx.server, spec.id)
            let (rejected, failed) = ServerStats.commandErrors(ctx.server, spec.id)
            guard calls > 0 || rejected > 0 || failed > 0 else { continue }
            let perCall = String(format: "%.2f", calls > 0 ? Double(usec) / Double(calls) : 0)
            rows.append(("cmdstat_\(spec.name)", "calls=\(calls),usec=\(usec),usec_per_call=\(perCall),rejected_calls=\(rejected),failed_calls=\(failed)"))
        }
        return rows
    }

    /// One line per error code replied since start or RESETSTAT (Redis 7's errorstats).
    static func errorstats(_ ctx: CommandContext) -> [(String, String)] {
        ServerStats.errorCodes(ctx.server).map { ("errorstat_\($0.code)", "count=\($0.count)") }
    }

    static func keyspace(_ ctx: CommandContext) -> [(String, String)] {
        var rows: [(String, String)] = []
        for db in 0..<Shard.databaseCount {
            var keys = 0, expires = 0
            // Each shard's sweep estimate, weighted by that shard's keys with a TTL.
            var ttlWeighted = 0.0, ttlWeight = 0
            for shard in ctx.heldShards {
                let ks = shard.databases[db]
                keys += ks.count
                expires += ks.expiresCount
                if ks.averageTTL > 0 { ttlWeighted += Double(ks.averageTTL) * Double(ks.expiresCount); ttlWeight += ks.expiresCount }
            }
            let avgTTL = ttlWeight > 0 ? Int(ttlWeighted / Double(ttlWeight)) : 0
            if keys > 0 { rows.append(("db\(db)", "keys=\(keys),expires=\(expires),avg_ttl=\(avgTTL)")) }
        }
        return rows
    }

    /// Redis' bytesToHuman: B, K, M, G, T with two decimals.
    static func human(_ n: Int) -> String {
        let d = Double(n)
        if n < 1024 { return "\(n)B" }
        let units = ["K", "M", "G", "T", "P"]
        var v = d / 1024, i = 0
        while v >= 1024 && i < units.count - 1 { v /= 1024; i += 1 }
        return String(format: "%.2f", v) + units[i]
    }
}
