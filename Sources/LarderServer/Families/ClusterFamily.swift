import LarderLog
import LarderRESP
import LarderStore
import Logging
import NIOCore

/// Redis Cluster, two ways (docs/cluster.md):
/// - Emulated single node (the default, as Dragonfly's `--cluster_mode=emulated`): this server
///   answers the CLUSTER commands as one master that owns all 16384 slots, at the address the
///   client reached it on. Cluster clients (redis-py's `RedisCluster`, Feast's
///   `redis_type: redis_cluster`) then work against it unchanged; nothing is redirected.
/// - Cluster mode (`--cluster-enabled yes` / `--cluster-config FILE`, as Dragonfly's managed
///   mode): the replies come from the topology given to the node (Cluster/ClusterTopology.swift)
///   and dispatch redirects keys of other nodes' slots (ClusterRouting). There is no cluster
///   bus and no gossip: an operator or `larder cluster push` gives every node the topology.
/// READONLY / READWRITE set whether a replica may serve this client's reads; ASKING is
/// accepted (a slot migration answers -TRYAGAIN then -MOVED, never -ASK: docs/cluster.md).
enum ClusterFamily {
    static let commands: [CommandSpec] = [
        // `.allShards`: COUNTKEYSINSLOT and GETKEYSINSLOT look at every key. The other
        // subcommands are only asked when a client connects, so borrowing costs nothing that matters.
        CommandSpec("cluster", arity: -2, flags: [], route: .allShards, group: "cluster",
                    subcommands: subcommands.map { $0.name }, handler: cluster),
        CommandSpec("readonly", arity: 1, flags: [.loading, .stale, .fast], group: "cluster",
                    handler: { ctx, _ in ctx.session?.clusterReadOnly = true; ctx.out.ok() }),
        CommandSpec("readwrite", arity: 1, flags: [.loading, .stale, .fast], group: "cluster",
                    handler: { ctx, _ in ctx.session?.clusterReadOnly = false; ctx.out.ok() }),
        CommandSpec("asking", arity: 1, flags: [.fast], group: "cluster",
                    handler: ok),
    ]

    static let slotCount = 16384

    /// Arity, flags, summaries and versions as Redis 7.0's COMMAND INFO / DOCS give them.
    static let subcommands: [Subcommand] = [
        Subcommand("slots", arity: 2, flags: [.stale], since: "3.0.0") { ctx, _ in
            if let r = routing(ctx) { slots(ctx.out, r) } else { slots(ctx.out, Node(ctx)) }
        },
        Subcommand("shards", arity: 2, flags: [.stale], since: "7.0.0") { ctx, _ in
            if let r = routing(ctx) { shards(ctx.out, r, Node(ctx)) } else { shards(ctx.out, Node(ctx)) }
        },
        Subcommand("nodes", arity: 2, flags: [.stale], since: "3.0.0") { ctx, _ in
            if let r = routing(ctx) { ctx.out.verbatim(nodesText(r, Node(ctx))) } else { ctx.out.verbatim(Node(ctx).nodesLine) }
        },
        Subcommand("info", arity: 2, flags: [.stale], since: "3.0.0") { ctx, _ in
            if let r = routing(ctx) { ctx.out.verbatim(infoText(r)) } else { ctx.out.verbatim(info) }
        },
        Subcommand("myid", arity: 2, flags: [.stale], since: "3.0.0") { ctx, _ in
            ctx.out.bulk(ctx.server.cluster.enabled ? ctx.server.cluster.myId : ctx.server.runId)
        },
        Subcommand("keyslot", arity: 3, flags: [.stale], since: "3.0.0") { ctx, args in ctx.out.integer(ClusterHashSlot.slot(of: args[2])) },
        Subcommand("countkeysinslot", arity: 3, flags: [.stale],
                   handler: countKeysInSlot),
        Subcommand("getkeysinslot", arity: 4, flags: [.stale],
                   handler: getKeysInSlot),
        // No peers, so no links.
        Subcommand("links", arity: 2, flags: [.stale],
                   since: "7.0.0") { ctx, _ in ctx.out.arrayHeader(0) },
        Subcommand("help", arity: 2, flags: [.loading, .stale],
                   handler: help),
        // Larder's own: the managed topology (Dragonfly's DFLYCLUSTER CONFIG / GETSLOTINFO role).
        Subcommand("larder.settopology", arity: 3, flags: [.admin, .stale, .noscript],
                   summary: "Installs a cluster topology (JSON: shards with slot ranges, master and replicas) on this node.",
                   since: "0.1.0", handler: setTopology),
        Subcommand("larder.topology", arity: 2, flags: [.admin, .stale, .noscript],
                   summary: "Returns this node's cluster topology as JSON, or nil when none was given.",
                   since: "0.1.0", handler: getTopology),
    ] + migrationSubcommands

    /// The configured topology, or nil in the emulated single-node mode.
    static func routing(_ ctx: CommandContext) -> ClusterRouting? {
        ctx.server.cluster.enabled ? ctx.server.cluster.routing : nil
    }

    static let disabledError: StaticString = "ERR This instance has cluster support disabled (start it with --cluster-enabled yes or --cluster-config FILE)"

    /// CLUSTER LARDER.SETTOPOLOGY <json>: validated against this node before anything
    /// changes; a refused topology leaves the current one serving.
    static func setTopology(_ ctx: inout CommandContext, _ args: Arguments) {
        let state = ctx.server.cluster
        guard state.enabled else { ctx.out.error(disabledError); return }
        do {
            let topology = try ClusterTopology.parse(json: args.bytes(2))
            try state.install(topology, workers: ctx.server.workers, save: true)
            LarderLog.server.notice("cluster topology installed",
                                    metadata: ["event": "cluster_topology", "shards": .stringConvertible(topology.shards.count),
                                               "nodes": .stringConvertible(topology.nodes.count)])
            ctx.out.ok()
        } catch let e as ClusterTopology.Invalid {
            ctx.out.error("ERR invalid cluster topology, the current one is kept: \(e.description)")
        } catch {
            ctx.out.error("ERR invalid cluster topology, the current one is kept: \(error)")
        }
    }

    static func getTopology(_ ctx: inout CommandContext, _ args: Arguments) {
        guard ctx.server.cluster.enabled else { ctx.out.error(disabledError); return }
        if let t = ctx.server.cluster.routing.topology { ctx.out.bulk(t.json) } else { ctx.out.null() }
    }

    static func ok(_ ctx: inout CommandContext, _ args: Arguments) { ctx.out.ok() }

    static func cluster(_ ctx: inout CommandContext, _ args: Arguments) {
        Subcommands.dispatch("cluster", subcommands, &ctx, args)
    }

    static func countKeysInSlot(_ ctx: inout CommandContext, _ args: Arguments) {
        guard let slot = parseSlot(&ctx, args, 2) else { return }
        var n = 0
        forEachKey(inSlot: slot, &ctx) { _ in n += 1; return true }
        ctx.out.integer(n)
    }

    static func getKeysInSlot(_ ctx: inout CommandContext, _ args: Arguments) {
        guard let slot = RESPParser.parseInteger(args[2], from: 0, to: args[2].count),
              let limit = RESPParser.parseInteger(args[3], from: 0, to: args[3].count) else {
            ctx.notInteger(); return
        }
        guard limit >= 0 && slot >= 0 && slot < slotCount else {
            ctx.out.error("ERR Invalid slot or number of keys" as StaticString); return
        }
        var keys: [[UInt8]] = []
        if limit > 0 { forEachKey(inSlot: slot, &ctx) { keys.append($0); return keys.count < limit } }
        ctx.out.arrayHeader(keys.count)
        for k in keys { ctx.out.bulk(k) }
    }

    /// This node as clients should see it: its id, and the address and port the client
    /// connected to (so a server bound to 0.0.0.0 still names an address the client can reach,
    /// and `--port 0` names the port actually bound).
    struct Node {
        let id: String
        let ip: String
        let port: Int

        init(_ ctx: CommandContext) {
            id = ctx.server.cluster.enabled ? ctx.server.cluster.myId : ctx.server.runId
            let local = ctx.session?.transport?.localAddress
            ip = local?.ipAddress ?? ctx.server.settings.bind
            port = local?.port ?? ctx.server.settings.port
        }

        /// CLUSTER NODES: `<id> <ip>:<port>@<bus port> <flags> <master> <ping> <pong> <epoch>
        /// <link> <slots>`. There is no cluster bus; like Dragonfly we name the client port.
        var nodesLine: String {
            "\(id) \(ip):\(port)@\(port) myself,master - 0 0 0 connected 0-\(ClusterFamily.slotCount - 1)\n"
        }
    }

    /// CLUSTER SLOTS: one range, 0-16383, served by this master with no replicas. The node
    /// entry is [ip, port, id, {networking metadata}] as in Redis 7.
    static func slots(_ out: ReplyWriter, _ me: Node) {
        out.arrayHeader(1)
        out.arrayHeader(3)
        out.integer(0)
        out.integer(slotCount - 1)
        out.arrayHeader(4)
        out.bulk(me.ip)
        out.integer(me.port)
        out.bulk(me.id)
        out.mapHeader(0)
    }

    /// CLUSTER SHARDS (Redis 7): one shard with the slot range and its one node.
    static func shards(_ out: ReplyWriter, _ me: Node, slots: [Int] = [0, slotCount - 1]) {
        out.arrayHeader(1)
        out.mapHeader(2)
        out.bulk("slots" as StaticString)
        out.arrayHeader(slots.count)
        for s in slots { out.integer(s) }
        out.bulk("nodes" as StaticString)
        out.arrayHeader(1)
        out.mapHeader(7)
        out.bulk("id" as StaticString); out.bulk(me.id)
        out.bulk("port" as StaticString); out.integer(me.port)
        out.bulk("ip" as StaticString); out.bulk(me.ip)
        out.bulk("endpoint" as StaticString); out.bulk(me.ip)
        out.bulk("role" as StaticString); out.bulk("master" as StaticString)
        out.bulk("replication-offset" as StaticString); out.integer(0)
        out.bulk("health" as StaticString); out.bulk("online" as StaticString)
    }

    // MARK: replies from a topology (cluster mode)

    /// A node entry of CLUSTER SLOTS: [ip, port, id, {networking metadata}] as Redis 7.0
    /// (the map is empty: no hostnames are announced).
    static func slotsNode(_ out: ReplyWriter, _ n: ClusterTopology.Node) {
        out.arrayHeader(4)
        out.bulk(n.ip)
        out.integer(n.port)
        out.bulk(n.id)
        out.mapHeader(0)
    }

    /// Each shard's ranges, merged and sorted (a file may list 0-99 and 100-199 apart: Redis
    /// prints contiguous slots of a node as one range).
    static func ranges(_ shard: ClusterTopology.Shard) -> [ClusterTopology.SlotRange] {
        ClusterTopology.ranges(of: shard.slotRanges.flatMap { Array($0.start...$0.end) }.sorted())
    }

    /// CLUSTER SLOTS: per contiguous range, [start, end, master, replicas...], ranges in slot
    /// order. Unconfigured: no ranges, as a Redis node with no slots.
    static func slots(_ out: ReplyWriter, _ r: ClusterRouting) {
        guard let t = r.topology else { out.arrayHeader(0); return }
        var rows: [(ClusterTopology.SlotRange, ClusterTopology.Shard)] = []
        for shard in t.shards { for range in ranges(shard) { rows.append((range, shard)) } }
        rows.sort { $0.0.start < $1.0.start }
        out.arrayHeader(rows.count)
        for (range, shard) in rows {
            out.arrayHeader(3 + shard.replicas.count)
            out.integer(range.start)
            out.integer(range.end)
            slotsNode(out, shard.primary)
            for rep in shard.replicas { slotsNode(out, rep) }
        }
    }

    /// CLUSTER SHARDS (Redis 7.0.15's fields): per shard its slots as a flat start,end list
    /// and its nodes. Unconfigured: one shard of this node alone, with no slots.
    static func shards(_ out: ReplyWriter, _ r: ClusterRouting, _ me: Node) {
        guard let t = r.topology else {
            shards(out, me, slots: [])
            return
        }
        out.arrayHeader(t.shards.count)
        for shard in t.shards {
            let rs = ranges(shard)
            out.mapHeader(2)
            out.bulk("slots" as StaticString)
            out.arrayHeader(rs.count * 2)
            for x in rs { out.integer(x.start); out.integer(x.end) }
            out.bulk("nodes" as StaticString)
            out.arrayHeader(1 + shard.replicas.count)
            shardNode(out, shard.primary, role: "master")
            for rep in shard.replicas { shardNode(out, rep, role: "replica") }
        }
    }

    static func shardNode(_ out: ReplyWriter, _ n: ClusterTopology.Node, role: String) {
        out.mapHeader(7)
        out.bulk("id" as StaticString); out.bulk(n.id)
        out.bulk("port" as StaticString); out.integer(n.port)
        out.bulk("ip" as StaticString); out.bulk(n.ip)
        out.bulk("endpoint" as StaticString); out.bulk(n.ip)
        out.bulk("role" as StaticString); out.bulk(role)
        // No replication stream between Larder nodes yet: nothing to count.
        out.bulk("replication-offset" as StaticString); out.integer(0)
        out.bulk("health" as StaticString); out.bulk("online" as StaticString)
    }

    /// CLUSTER NODES: one line per node, `<id> <ip>:<port>@<bus port> <flags> <master>
    /// <ping-sent> <pong-recv> <config-epoch> <link-state> <slots...>`. There is no bus (the
    /// client port is named, as Dragonfly), no pings (0), and the epoch is the shard's number
    /// (1-based, as redis-cli --cluster create numbers its masters).
    static func nodesText(_ r: ClusterRouting, _ me: Node) -> String {
        guard let t = r.topology else {
            return "\(r.myId) \(me.ip):\(me.port)@\(me.port) myself,master - 0 0 0 connected\n"
        }
        var text = ""
        for (i, shard) in t.shards.enumerated() {
            let slotList = ranges(shard).map { $0.start == $0.end ? " \($0.start)" : " \($0.start)-\($0.end)" }.joined()
            for (n, primary) in [(shard.primary, true)] + shard.replicas.map({ ($0, false) }) {
                let myself = n.id == r.myId ? "myself," : ""
                let flags = myself + (primary ? "master" : "slave")
                let master = primary ? "-" : shard.primary.id
                text += "\(n.id) \(n.ip):\(n.port)@\(n.port) \(flags) \(master) 0 0 \(i + 1) connected\(primary ? slotList : "")\n"
            }
        }
        return text
    }

    /// CLUSTER INFO with Redis 7.0's fields. No node is probed (no bus): every assigned slot
    /// counts as ok; a node that is down shows to its clients as a refused connection.
    static func infoText(_ r: ClusterRouting) -> String {
        let t = r.topology
        let assigned = t == nil ? 0 : slotCount
        let size = t?.shards.filter { !$0.slotRanges.isEmpty }.count ?? 0
        let known = t?.nodes.count ?? 1
        let epoch = t?.shards.count ?? 0
        let mine = t == nil ? 0 : r.myShard + 1
        return """
            cluster_state:\(t == nil ? "fail" : "ok")\r
            cluster_slots_assigned:\(assigned)\r
            cluster_slots_ok:\(assigned)\r
            cluster_slots_pfail:0\r
            cluster_slots_fail:0\r
            cluster_known_nodes:\(known)\r
            cluster_size:\(size)\r
            cluster_current_epoch:\(epoch)\r
            cluster_my_epoch:\(mine)\r
            cluster_stats_messages_sent:0\r
            cluster_stats_messages_received:0\r
            total_cluster_links_buffer_limit_exceeded:0\r

            """
    }

    // MARK: the emulated single node

    /// CLUSTER INFO with Redis 7.0's fields, for a healthy one-node cluster.
    static let info = """
        cluster_state:ok\r
        cluster_slots_assigned:16384\r
        cluster_slots_ok:16384\r
        cluster_slots_pfail:0\r
        cluster_slots_fail:0\r
        cluster_known_nodes:1\r
        cluster_size:1\r
        cluster_current_epoch:0\r
        cluster_my_epoch:0\r
        cluster_stats_messages_sent:0\r
        cluster_stats_messages_received:0\r
        total_cluster_links_buffer_limit_exceeded:0\r

        """

    static func parseSlot(_ ctx: inout CommandContext, _ args: Arguments, _ i: Int) -> Int? {
        guard let slot = RESPParser.parseInteger(args[i], from: 0, to: args[i].count) else {
            ctx.notInteger(); return nil
        }
        guard slot >= 0 && slot < slotCount else { ctx.out.error("ERR Invalid slot" as StaticString); return nil }
        return slot
    }

    /// Visits the live keys of the selected database whose hash slot is `slot`, until `body`
    /// returns false. A scan of every key: this server does not index keys by slot.
    static func forEachKey(inSlot slot: Int, _ ctx: inout CommandContext, _ body: ([UInt8]) -> Bool) {
        var going = true
        for db in ctx.heldDatabases where going {
            db.forEachLive(now: ctx.now) { i in
                guard going else { return }
                let key = db.key(at: i)
                let s = key.withUnsafeBytes { ClusterHashSlot.slot(of: $0) }
                if s == slot { going = body(key) }
            }
        }
    }

    static func help(_ ctx: inout CommandContext, _ args: Arguments) {
        Subcommands.help(&ctx, "CLUSTER", [
            "COUNTKEYSINSLOT <slot>", "    Return the number of keys in <slot>.",
            "GETKEYSINSLOT <slot> <count>", "    Return key names stored by current node in a slot.",
            "INFO", "    Return information about the cluster.",
            "KEYSLOT <key>", "    Return the hash slot for <key>.",
            "LINKS", "    Return information about all network links between this node and its peers.",
            "    Output format is an array where each array element is a map containing attributes of a link",
            "MYID", "    Return the node id.",
            "NODES", "    Return cluster configuration seen by node. Output format:",
            "    <id> <ip:port> <flags> <master> <pings> <pongs> <epoch> <link> <slot> ...",
            "SHARDS", "    Return information about slot range mappings and the nodes associated with them.",
            "SLOTS", "    Return information about slots range mappings. Each range is made of:",
            "    start, end, master and replicas IP addresses, ports and ids",
            "LARDER.SETTOPOLOGY <json>", "    Install a cluster topology on this node (Larder's; docs/cluster.md).",
            "LARDER.TOPOLOGY", "    Return this node's cluster topology as JSON.",
            "LARDER.MIGRATE <target-node-id> <start> <end> [<start> <end> ...]", "    Move slot ranges of this node to another master (Larder's; docs/cluster.md).",
            "LARDER.MIGRATION", "    Return the state of this node's running or last slot migration.",
            "LARDER.IMPORT <source-node-id> <start> <end> [...]", "    Sent by a migration source to its target (Larder's).",
        ])
    }
}
