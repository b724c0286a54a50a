import Foundation
import LarderLog
import LarderRESP
import LarderStore

/// Resharding (docs/cluster.md "Resharding"): CLUSTER LARDER.MIGRATE starts moving slot ranges
/// of this node to another primary (Cluster/SlotMigration.swift), LARDER.MIGRATION shows its
/// state, LARDER.IMPORT is what the source sends the target first.
extension ClusterFamily {
    static let migrationSubcommands: [Subcommand] = [
        Subcommand("larder.migrate", arity: -5, flags: [.admin, .stale, .noscript],
                   summary: "Starts moving slot ranges of this node to another primary of the topology (keys streamed, writes forwarded, then handover).",
                   since: "0.1.0", handler: migrate),
        Subcommand("larder.migration", arity: 2, flags: [.admin, .stale, .noscript],
                   summary: "Returns the state of this node's running or last slot migration.",
                   since: "0.1.0", handler: migrationStatus),
        Subcommand("larder.import", arity: -5, flags: [.admin, .stale, .noscript],
                   summary: "Marks this connection as a migration source's link for slot ranges, after deleting this node's stale keys in them.",
                   since: "0.1.0", handler: importSlots),
    ]

    /// Slot ranges from `args[from...]` as start/end pairs, each within 0-16383, start <= end;
    /// nil after replying the error.
    static func parseRanges(_ ctx: inout CommandContext, _ args: Arguments, from: Int) -> [ClusterTopology.SlotRange]? {
        guard (args.count - from) % 2 == 0 else {
            ctx.out.error("ERR slot ranges must be given as <start> <end> pairs"); return nil
        }
        var ranges: [ClusterTopology.SlotRange] = []
        var seen = [Bool](repeating: false, count: slotCount)
        var i = from
        while i < args.count {
            guard let start = RESPParser.parseInteger(args[i], from: 0, to: args[i].count),
                  let end = RESPParser.parseInteger(args[i + 1], from: 0, to: args[i + 1].count) else {
                ctx.out.error("ERR slot range \(args.string(i)) \(args.string(i + 1)): not integers"); return nil
            }
            guard start >= 0, end < slotCount, start <= end else {
                ctx.out.error("ERR slot range \(start)-\(end) is not within 0-\(slotCount - 1) with start <= end"); return nil
            }
            for s in start...end {
                guard !seen[s] else { ctx.out.error("ERR slot \(s) is given twice"); return nil }
                seen[s] = true
            }
            ranges.append(.init(start, end))
            i += 2
        }
        return ranges
    }

    /// CLUSTER LARDER.MIGRATE <target-node-id> <start> <end> [<start> <end> ...]
    static func migrate(_ ctx: inout CommandContext, _ args: Arguments) {
        let state = ctx.server.cluster
        guard state.enabled else { ctx.out.error(disabledError); return }
        let routing = state.routing
        guard let topology = routing.topology else { ctx.out.error("ERR no cluster topology: nothing to migrate"); return }
        guard routing.isPrimary else { ctx.out.error("ERR this node is not a master of the topology: only a master migrates its slots"); return }
        let targetId = args.string(2)
        guard let t = topology.shards.firstIndex(where: { $0.primary.id == targetId }) else {
            let replica = topology.shards.contains { $0.replicas.contains { $0.id == targetId } }
            ctx.out.error(replica ? "ERR target node \(targetId) is a replica: slots can only move to a master"
                                  : "ERR unknown target node id '\(targetId)': not a master of this node's topology")
            return
        }
        guard t != routing.myShard else { ctx.out.error("ERR target node \(targetId) is this node"); return }
        guard let ranges = parseRanges(&ctx, args, from: 3) else { return }
        for r in ranges {
            for s in r.start...r.end where Int(routing.owner[s]) != routing.myShard {
                ctx.out.error("ERR slot range \(r.start)-\(r.end): slot \(s) is not served by this node (its master is \(topology.shards[Int(routing.owner[s])].primary.id))")
                return
            }
        }
        // The topology after the handover: the slots leave this shard for the target's.
        var moved = [Bool](repeating: false, count: slotCount)
        for r in ranges { for s in r.start...r.end { moved[s] = true } }
        var next = topology
        let mine = routing.myShard
        next.shards[mine].slotRanges = ClusterTopology.ranges(of: (0..<slotCount).filter { Int(routing.owner[$0]) == mine && !moved[$0] })
        next.shards[t].slotRanges = ClusterTopology.ranges(of: (0..<slotCount).filter { Int(routing.owner[$0]) == t || moved[$0] })
        do { try next.validate(myId: state.myId) } catch {
            ctx.out.error("ERR the topology after this migration would be refused: \(error)"); return
        }
        let migration = SlotMigration(target: topology.shards[t].primary, ranges: ranges, newTopology: next,
                                      shards: ctx.server.workers.map { $0.shard })
        let workers = ctx.server.workers
        guard state.begin(migration, workers: workers) else {
            ctx.out.error("ERR a slot migration is already running (CLUSTER LARDER.MIGRATION)"); return
        }
        let (user, password) = (ctx.server.settings.clusterMigrationUser, ctx.server.settings.clusterMigrationPassword)
        let myId = state.myId
        LarderLog.server.notice("slot migration started",
                                metadata: ["event": "cluster_migration", "target": .string(migration.target.address),
                                           "slots": .string(SlotMigration.rangesText(ranges))])
        let thread = Thread {
            migration.run(state: state, workers: workers, myId: myId, user: user, password: password)
        }
        thread.name = "larder-migration"
        thread.start()
        ctx.out.ok()
    }

    /// CLUSTER LARDER.MIGRATION: `field:value` lines (as CLUSTER INFO), `migration_state:none`
    /// before any migration.
    static func migrationStatus(_ ctx: inout CommandContext, _ args: Arguments) {
        guard ctx.server.cluster.enabled else { ctx.out.error(disabledError); return }
        ctx.out.verbatim(migrationFields(ctx.server.cluster).map { "\($0.0):\($0.1)\r\n" }.joined())
    }

    static func migrationFields(_ state: ClusterState) -> [(String, String)] {
        state.lastMigration?.statusFields ?? [("migration_state", "none")]
    }

    /// CLUSTER LARDER.IMPORT <source-node-id> <start> <end> [...]: sent by a migration source on
    /// its link. Keys this node holds in those slots are not its own (another node serves the
    /// slots) and would outlive the migration beside the moved ones: they are deleted first.
    static func importSlots(_ ctx: inout CommandContext, _ args: Arguments) {
        let state = ctx.server.cluster
        guard state.enabled else { ctx.out.error(disabledError); return }
        let routing = state.routing
        guard let topology = routing.topology else { ctx.out.error("ERR no cluster topology: cannot import slots"); return }
        guard routing.isPrimary else { ctx.out.error("ERR this node is not a master of the topology: it cannot import slots"); return }
        let sourceId = args.string(2)
        guard let source = topology.shards.firstIndex(where: { $0.primary.id == sourceId }) else {
            ctx.out.error("ERR unknown source node id '\(sourceId)': not a master of this node's topology"); return
        }
        guard let ranges = parseRanges(&ctx, args, from: 3) else { return }
        for r in ranges {
            for s in r.start...r.end where Int(routing.owner[s]) != source {
                ctx.out.error("ERR slot \(s) is not served by the source \(sourceId) in this node's topology"); return
            }
        }
        var importing = [Bool](repeating: false, count: slotCount)
        for r in ranges { for s in r.start...r.end { importing[s] = true } }
        var stale = 0
        for shard in ctx.heldShards {
            for keyspace in shard.databases where keyspace.count > 0 {
                var keys: [[UInt8]] = []
                keyspace.forEachLive(now: ctx.now) { i in
                    let key = keyspace.keyBytes(at: i)
                    if importing[ClusterHashSlot.slot(of: key)] { keys.append(Array(key)) }
                }
                for k in keys {
                    k.withUnsafeBytes { if let slot = keyspace.lookupInternal($0, now: ctx.now) { keyspace.remove(at: slot) } }
                }
                stale += keys.count
            }
        }
        ctx.session?.clusterImportLink = true
        LarderLog.server.notice("slot import started",
                                metadata: ["event": "cluster_import", "source": .string(sourceId),
                                           "slots": .string(SlotMigration.rangesText(ranges)), "stale_keys_deleted": .stringConvertible(stale)])
        ctx.out.ok()
    }
}
