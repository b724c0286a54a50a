import LarderRESP
import LarderStore

/// MEMORY USAGE / STATS / DOCTOR. MEMORY borrows every shard (route `.allShards`) because
/// USAGE names its key after the subcommand, where key routing does not look; it is rare.
enum MemoryFamily {
    static let spec = CommandSpec(
        "memory", arity: -2, flags: [], route: .allShards, group: "server",
        subcommands: subcommands.map { $0.name }) { ctx, args in
        Subcommands.dispatch("memory", subcommands, &ctx, args)
    }

    static let subcommands: [Subcommand] = [
        Subcommand("usage", arity: -3, flags: [.readonly], keys: .range(2, 2, 1),
                   handler: usage),
        Subcommand("stats", arity: 2, flags: [],
                   handler: stats),
        Subcommand("doctor", arity: 2, flags: [],
                   handler: doctor),
        Subcommand("help", arity: 2, flags: [.loading, .stale],
                   handler: help),
    ]

    /// MEMORY USAGE key [SAMPLES count]: the store's estimate for the key and its value (hash
    /// fields are all counted, so SAMPLES is checked but changes nothing); nil when missing.
    static func usage(_ ctx: inout CommandContext, _ args: Arguments) {
        var j = 3
        while j < args.count {
            guard args.equalsKeyword(j, "SAMPLES") && j + 1 < args.count else { ctx.syntaxError(); return }
            guard let n = RESPParser.parseInteger(args[j + 1], from: 0, to: args[j + 1].count) else { ctx.notInteger(); return }
            guard n >= 0 else { ctx.syntaxError(); return }
            j += 2
        }
        ctx.touchesKeys = false
        let (db, _, slot) = ctx.lookup(args[2])
        guard let slot else { ctx.out.null(); return }
        ctx.out.integer(db.memoryUsage(at: slot))
    }

    static func stats(_ ctx: inout CommandContext, _ args: Arguments) {
        let keys = ctx.heldShards.reduce(0) { total, shard in total + shard.databases.reduce(0) { $0 + $1.count } }
        let allocated = ProcessMemory.allocatedBytes()
        let fields: [(String, Int)] = [
            ("total.allocated", allocated),
            ("keys.count", keys),
            ("keys.bytes-per-key", keys > 0 ? allocated / keys : 0),
            ("allocator.resident", ProcessMemory.residentBytes()),
        ]
        ctx.out.mapHeader(fields.count)
        for (k, v) in fields { ctx.out.bulk(k); ctx.out.integer(v) }
    }

    /// Redis' report texts. This server has none of Redis' detectors (fragmentation, peak,
    /// big client buffers), so a non-empty instance gets the no-issue text.
    static func doctor(_ ctx: inout CommandContext, _ args: Arguments) {
        let empty = ctx.heldShards.allSatisfy { $0.databases.allSatisfy { $0.count == 0 } }
        ctx.out.verbatim(empty
            ? "Hi Sam, this instance is empty or is using very little memory, my issues detector can't be used in these conditions. Please, leave for your mission on Earth and fill it with some data. The new Sam and I will be back to our programming as soon as I finished rebooting.\n"
            : "Hi Sam, I can't find any memory issue in your instance. I can only account for what occurs on this base.\n")
    }

    static func help(_ ctx: inout CommandContext, _ args: Arguments) {
        Subcommands.help(&ctx, "MEMORY", [
            "DOCTOR",
            "    Return memory problems reports.",
            "STATS",
            "    Return information about the memory usage of the server.",
            "USAGE <key> [SAMPLES <count>]",
            "    Return memory in bytes used by <key> and its value. Nested values are",
            "    sampled up to <count> times (default: 5, 0 means sample all).",
        ])
    }
}
