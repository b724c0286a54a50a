import LarderRESP
import LarderStore

/// LATENCY LATEST / HISTORY / RESET / HELP (Redis 7.0's latency monitor) for the events
/// "command" and "fast-command": calls of at least `latency-monitor-threshold` ms (0: off).
/// Each shard thread keeps its own series (`ShardWorker.latency`); LATENCY merges them per
/// second (the largest latency of each second over all threads). DOCTOR reads the merged
/// series; GRAPH and HISTOGRAM are not implemented (unknown subcommands).
enum LatencyFamily {
    static let spec = CommandSpec(
        "latency", arity: -2, flags: [], group: "server",
        subcommands: subcommands.map { $0.name }) { ctx, args in
        Subcommands.dispatch("latency", subcommands, &ctx, args)
    }

    static let subcommands: [Subcommand] = [
        Subcommand("latest", arity: 2, flags: [.admin, .noscript, .loading, .stale], handler: latest),
        Subcommand("history", arity: 3, flags: [.admin, .noscript, .loading, .stale], handler: history),
        Subcommand("doctor", arity: 2, flags: [.admin, .noscript, .loading, .stale], handler: doctor),
        Subcommand("reset", arity: -2, flags: [.admin, .noscript, .loading, .stale], handler: reset),
        Subcommand("help", arity: 2, flags: [.loading, .stale], handler: help),
    ]

    /// Every thread's series of each event merged: per second the largest latency, the last
    /// 160 seconds that have one, and the largest ever.
    static func merged(_ server: ServerState) -> [(event: String, history: [(time: Int, latency: Int)], max: Int)] {
        var byEvent: [String: (perSecond: [Int: Int], max: Int)] = [:]
        for w in server.workers {
            for (event, series) in w.latency.snapshot {
                var e = byEvent[event] ?? ([:], 0)
                for s in series.history { e.perSecond[s.time] = Swift.max(e.perSecond[s.time] ?? 0, s.latency) }
                e.max = Swift.max(e.max, series.max)
                byEvent[event] = e
            }
        }
        return byEvent.keys.sorted().map { event in
            let e = byEvent[event]!
            let history = e.perSecond.sorted { $0.key < $1.key }.suffix(LatencyMonitor.samples).map { (time: $0.key, latency: $0.value) }
            return (event, Array(history), e.max)
        }
    }

    /// LATENCY LATEST: [event, time of the latest sample, its latency, the largest] per event.
    static func latest(_ ctx: inout CommandContext, _ args: Arguments) {
        let events = merged(ctx.server)
        ctx.out.arrayHeader(events.count)
        for e in events {
            ctx.out.arrayHeader(4)
            ctx.out.bulk(e.event)
            ctx.out.integer(e.history.last?.time ?? 0)
            ctx.out.integer(e.history.last?.latency ?? 0)
            ctx.out.integer(e.max)
        }
    }

    /// LATENCY HISTORY event: [time, latency] per second, oldest first; empty for an event
    /// that has no samples.
    static func history(_ ctx: inout CommandContext, _ args: Arguments) {
        let name = args.string(2)
        let samples = merged(ctx.server).first { $0.event == name }?.history ?? []
        ctx.out.arrayHeader(samples.count)
        for s in samples {
            ctx.out.arrayHeader(2)
            ctx.out.integer(s.time)
            ctx.out.integer(s.latency)
        }
    }

    /// LATENCY RESET [event ...]: how many events were reset.
    static func reset(_ ctx: inout CommandContext, _ args: Arguments) {
        let names: [String]? = args.count > 2 ? (2..<args.count).map { args.string($0) } : nil
        var had = Set<String>()
        for w in ctx.server.workers { had.formUnion(w.latency.reset(names)) }
        ctx.out.integer(had.count)
    }

    /// LATENCY DOCTOR: a report an operator reads (Redis' is the model): each event's spikes
    /// with average, mean absolute deviation, period and worst, then what to look at. A verbatim
    /// string in RESP3, a bulk string in RESP2, as Redis.
    static func doctor(_ ctx: inout CommandContext, _ args: Arguments) {
        let report = LatencyDoctor.report(events: merged(ctx.server).map { ($0.event, $0.history.map(\.latency),
                                                                           $0.history.first?.time ?? 0, $0.max) },
                                          threshold: ctx.server.monitoring.latencyThreshold.load(ordering: .relaxed),
                                          slowlogSlowerThan: ctx.server.monitoring.slowlogSlowerThan.load(ordering: .relaxed),
                                          now: Int(Clock.nowMilliseconds() / 1000))
        ctx.out.verbatim(report)
    }

    static func help(_ ctx: inout CommandContext, _ args: Arguments) {
        Subcommands.help(&ctx, "LATENCY", [
            "DOCTOR",
            "    Return a human readable latency analysis report.",
            "HISTORY <event>",
            "    Return time-latency samples for the <event> class.",
            "LATEST",
            "    Return the latest latency samples for all events.",
            "RESET [<event> ...]",
            "    Reset latency data of one or more <event> classes.",
            "    (default: reset all data for all event classes)",
        ])
    }
}

/// CONFIG latency-monitor-threshold (see ConfigFamily.parameters).
extension ConfigFamily {
    static let latencyParameters: [Parameter] = [
        // Redis 7.0's bounds: 0 (off) ... LLONG_MAX milliseconds.
        integer("latency-monitor-threshold", min: 0, max: Int.max, { $0.monitoring.latencyThreshold.load(ordering: .relaxed) },
                { $0.monitoring.latencyThreshold.store($1, ordering: .relaxed) }),
    ]
}
