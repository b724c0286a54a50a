import LarderRESP
import LarderStore
import NIOCore

/// Emulated single-node Redis Cluster (as Dragonfly's `--cluster_mode=emulated`): this server
/// answers the CLUSTER commands as one master that owns all 16384 slots, at the address the
/// client reached it on. Cluster clients (redis-py's `RedisCluster`, Feast's
/// `redis_type: redis_cluster`) then work against it unchanged: they ask CLUSTER SLOTS, map
/// every slot to this node and send everything here. There is no cluster bus, no MOVED/ASK
/// redirection (there is nowhere to redirect to) and no multi-key slot check.
///
/// The mode is always on: a standalone Redis answers CLUSTER with an error, which only makes
/// cluster clients fail, so emulating is never worse for a client. READONLY and READWRITE
/// (sent by clients that read from replicas) are accepted: this node is the replica too.
enum ClusterFamily {
    static let commands: [CommandSpec] = [
        // `.allShards`: COUNTKEYSINSLOT and GETKEYSINSLOT look at every key. The other
        // subcommands are only asked when a client connects, so borrowing costs nothing that matters.
        CommandSpec("cluster", arity: -2, flags: [], route: .allShards, group: "cluster",
                    subcommands: subcommands.map { $0.name }, handler: cluster),
        CommandSpec("readonly", arity: 1, flags: [.loading, .stale, .fast], group: "cluster",
                    handler: ok),
        CommandSpec("readwrite", arity: 1, flags: [.loading, .stale, .fast], group: "cluster",
                    handler: ok),
        CommandSpec("asking", arity: 1, flags: [.fast], group: "cluster",
                    handler: ok),
    ]

    static let slotCount = 16384

    /// Arity, flags, summaries and versions as Redis 7.0's COMMAND INFO / DOCS give them.
    static let subcommands: [Subcommand] = [
        Subcommand("slots", arity: 2, flags: [.stale], since: "3.0.0") { ctx, _ in slots(ctx.out, Node(ctx)) },
        Subcommand("shards", arity: 2, flags: [.stale], since: "7.0.0") { ctx, _ in shards(ctx.out, Node(ctx)) },
        Subcommand("nodes", arity: 2, flags: [.stale], since: "3.0.0") { ctx, _ in ctx.out.verbatim(Node(ctx).nodesLine) },
        Subcommand("info", arity: 2, flags: [.stale], since: "3.0.0") { ctx, _ in ctx.out.verbatim(info) },
        Subcommand("myid", arity: 2, flags: [.stale], since: "3.0.0") { ctx, _ in ctx.out.bulk(Node(ctx).id) },
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
    ]

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
            id = ctx.server.runId
            let local = ctx.session?.channel?.localAddress
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
    static func shards(_ out: ReplyWriter, _ me: Node) {
        out.arrayHeader(1)
        out.mapHeader(2)
        out.bulk("slots" as StaticString)
        out.arrayHeader(2)
        out.integer(0)
        out.integer(slotCount - 1)
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
        ])
    }
}
