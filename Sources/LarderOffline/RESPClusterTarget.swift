import Glibc
import LarderRESP
import LarderStore

/// Materializes into a Redis Cluster (redis-server nodes, or Larder nodes speaking cluster):
/// the same commands as `RESPTarget` (`HMGET key _ts:<view>`, `HSET key _ts ts f v ...`,
/// `EXPIRE`), each sent to the primary owning the key's slot (`ClusterHashSlot`: CRC16 of
/// the key or its `{hash tag}`), as redis-py's `RedisCluster` pipeline does for Feast's
/// `redis_type: redis_cluster`.
///
/// * The slot map comes from `CLUSTER SLOTS`, asked of the seed nodes in order.
/// * A batch is split by node; every node's part is encoded and sent before any reply is
///   read, so the nodes execute their pipelines at the same time (one client thread: the
///   client only encodes and parses, the nodes do the work).
/// * `MOVED slot host:port` (the slot changed owner, a resharding or failover): the map is
///   asked again and the redirected records are sent again to their new owner. `ASK slot
///   host:port` (the slot is migrating and this key is already on the target): `ASKING`
///   then the same command, to the named node, without changing the map.
/// * A node whose connection drops is reconnected with backoff (`reconnectAttempts`,
///   `backoffSeconds` doubling), the map asked again and its part resent (resending is safe,
///   see `RESPTarget`); a node that stays unreachable fails the run with an error naming the
///   node, its slots and the view.
public final class RESPClusterTarget: MaterializationSink {
    /// Auth, TLS and timeouts of every node; `hosts` are the seeds.
    public let template: RESPEndpoint
    public let options: RESPClientOptions
    /// Told about each reconnect and map refresh.
    public var onReconnect: ((String) -> Void)?
    /// The view being written (named by errors).
    private var view = ""

    /// Primary of each slot: an index into `nodes`, -1 for an unserved slot.
    private var slotOwner = [Int32](repeating: -1, count: 16384)
    /// The primaries of the current map, and their connections (opened on first use).
    private var nodes: [RESPEndpoint.HostPort] = []
    private var clients: [String: RESPClient] = [:]
    private var bytesSentByClosed = 0
    /// Redirections followed so far (MOVED, ASK), for the summary and tests.
    public private(set) var movedCount = 0
    public private(set) var askCount = 0

    /// Rounds of redirection one batch may take before the run fails (a slot bouncing
    /// between nodes means a broken cluster, not a migration).
    static let maxRedirectRounds = 16

    public init(endpoint: RESPEndpoint, options: RESPClientOptions = .fromEnvironment()) throws {
        guard endpoint.db == 0 else {
            throw RESPClientError("\(endpoint.clusterDescription): a Redis Cluster has only database 0 (the target names db \(endpoint.db))")
        }
        template = endpoint
        self.options = options
        try refreshSlots()
    }

    public var bytesSent: Int { clients.values.reduce(bytesSentByClosed) { $0 + $1.bytesSent } }

    /// The primaries and the slot ranges they serve, as error messages and the summary name them.
    public var layout: String {
        (0 ..< nodes.count).map { "\(nodes[$0]) (slots \(slotRanges(of: $0)))" }.joined(separator: ", ")
    }

    public func begin(view: String) { self.view = view }

    // MARK: - Slot map

    /// Asks `CLUSTER SLOTS` of the nodes of the current map, then of the seeds, and takes the
    /// first answer. Every slot must be served: a partial map (slots without a primary) is an error.
    public func refreshSlots() throws {
        var failures: [String] = []
        var asked = Set<String>()
        for node in nodes + template.hosts where asked.insert(node.description).inserted {
            do {
                let client = try self.client(for: node)
                let reply = try client.call([Array("CLUSTER".utf8), Array("SLOTS".utf8)])
                if case .error(let message) = reply {
                    failures.append("\(node): CLUSTER SLOTS: \(message)")
                    continue
                }
                let map = try RESPClusterTarget.parseSlots(reply, askedHost: node.host)
                var owner = [Int32](repeating: -1, count: 16384)
                var primaries: [RESPEndpoint.HostPort] = []
                for (range, primary) in map {
                    let index: Int
                    if let known = primaries.firstIndex(of: primary) { index = known } else { primaries.append(primary); index = primaries.count - 1 }
                    for slot in range { owner[slot] = Int32(index) }
                }
                if let hole = owner.firstIndex(of: -1) {
                    failures.append("\(node): slot \(hole) has no primary in CLUSTER SLOTS (the cluster does not cover every slot)")
                    continue
                }
                slotOwner = owner
                nodes = primaries
                return
            } catch let error as RESPClientError {
                dropClient(for: node)
                failures.append(error.message)
            }
        }
        throw RESPClientError("\(template.clusterDescription): no node gave the cluster's slot map (CLUSTER SLOTS)\(view.isEmpty ? "" : " while writing view \(view)"): "
                              + failures.joined(separator: "; "), kind: .cannotConnect)
    }

    /// `CLUSTER SLOTS`: `[[start, end, [host, port, id...], replicas...], ...]` → (slots, primary).
    /// An empty or `?` host means "the address you reached me on" (Redis 7's unknown endpoint).
    static func parseSlots(_ reply: RESPReply, askedHost: String) throws -> [(ClosedRange<Int>, RESPEndpoint.HostPort)] {
        guard case .array(let ranges) = reply else { throw RESPClientError("CLUSTER SLOTS did not return an array") }
        return try ranges.map { item in
            guard case .array(let fields) = item, fields.count >= 3,
                  case .integer(let start) = fields[0], case .integer(let end) = fields[1], 0 <= start, start <= end, end < 16384,
                  case .array(let primary) = fields[2], primary.count >= 2,
                  case .bulk(let hostBytes) = primary[0], case .integer(let port) = primary[1], (1 ... 65535).contains(port) else {
                throw RESPClientError("CLUSTER SLOTS returned an entry that is not [start, end, [host, port, ...], ...]")
            }
            var host = String(decoding: hostBytes, as: UTF8.self)
            if host.isEmpty || host == "?" { host = askedHost }
            return (Int(start) ... Int(end), RESPEndpoint.HostPort(host: host, port: Int(port)))
        }
    }

    /// `slots 0-5460` or `slots 0-99,200-300` of node `index`.
    func slotRanges(of index: Int) -> String {
        var parts: [String] = []
        var slot = 0
        while slot < 16384 {
            guard slotOwner[slot] == Int32(index) else { slot += 1; continue }
            let first = slot
            while slot < 16384 && slotOwner[slot] == Int32(index) { slot += 1 }
            parts.append(first == slot - 1 ? "\(first)" : "\(first)-\(slot - 1)")
        }
        return parts.joined(separator: ",")
    }

    private func client(for node: RESPEndpoint.HostPort) throws -> RESPClient {
        if let open = clients[node.description] { return open }
        var endpoint = template
        endpoint.host = node.host
        endpoint.port = node.port
        endpoint.hosts = [node]
        let client = try RESPClient(endpoint: endpoint, options: options)
        clients[node.description] = client
        return client
    }

    private func dropClient(for node: RESPEndpoint.HostPort) {
        if let closed = clients.removeValue(forKey: node.description) { bytesSentByClosed += closed.bytesSent }
    }

    // MARK: - Pipelines across nodes

    /// Sends `commandsPerItem` commands per item (encoded by `encode`, which puts `ASKING`
    /// before each command when told to: ASKING covers the next command only) to the owner of its
    /// slot, all nodes' pipelines before any reply is read, and gives each item's replies to
    /// `accept`. Redirected items are sent again (MOVED: after asking for the map again; ASK:
    /// `ASKING` first, to the named node); a node whose connection drops is reconnected with
    /// backoff and its items resent.
    func pipeline(slots: [Int], commandsPerItem: Int, doing what: String,
                  encode: (RESPClient, Int, _ asking: Bool) -> Void, accept: (Int, ArraySlice<RESPReply>) throws -> Void) throws {
        var pending = Array(slots.indices)
        var asks: [(item: Int, node: RESPEndpoint.HostPort)] = []
        var failures = 0
        var rounds = 0
        while !pending.isEmpty || !asks.isEmpty {
            rounds += 1
            guard rounds <= RESPClusterTarget.maxRedirectRounds else {
                throw RESPClientError("\(template.clusterDescription): still redirected after \(RESPClusterTarget.maxRedirectRounds) rounds while \(what) of view \(view) (the slot map keeps changing)")
            }
            // Group by node: the slot map's owner, or the node an ASK named.
            var groups: [String: (node: RESPEndpoint.HostPort, items: [Int], asking: Bool)] = [:]
            for item in pending {
                let node = nodes[Int(slotOwner[slots[item]])]
                groups[node.description, default: (node, [], false)].items.append(item)
            }
            for (item, node) in asks {
                groups["ASK " + node.description, default: (node, [], true)].items.append(item)
            }
            pending.removeAll(keepingCapacity: true)
            asks.removeAll(keepingCapacity: true)
            var moved = false
            var lost: [(node: RESPEndpoint.HostPort, error: RESPClientError)] = []
            var sent: [(node: RESPEndpoint.HostPort, client: RESPClient, items: [Int], asking: Bool)] = []
            // Send every node's part first: the nodes then work while the others are sent to.
            for (_, group) in groups.sorted(by: { $0.key < $1.key }) {
                do {
                    let client = try self.client(for: group.node)
                    for item in group.items { encode(client, item, group.asking) }
                    try client.flush()
                    sent.append((group.node, client, group.items, group.asking))
                } catch let error as RESPClientError where error.kind == .connectionLost || error.kind == .cannotConnect {
                    lost.append((group.node, error))
                    pending.append(contentsOf: group.items)
                }
            }
            for part in sent {
                do {
                    var replies: [RESPReply] = []
                    replies.reserveCapacity(commandsPerItem * (part.asking ? 2 : 1))
                    for item in part.items {
                        replies.removeAll(keepingCapacity: true)
                        var redirect: (ask: Bool, node: RESPEndpoint.HostPort)?
                        for _ in 0 ..< commandsPerItem {
                            if part.asking { _ = try part.client.readReply() }  // +OK of ASKING
                            let reply = try part.client.readReply()
                            if case .error(let message) = reply, let target = RESPClusterTarget.redirection(message, from: part.node) {
                                redirect = redirect ?? target
                            }
                            replies.append(reply)
                        }
                        if let redirect {
                            if redirect.ask {
                                askCount += 1
                                asks.append((item, redirect.node))
                            } else {
                                movedCount += 1
                                moved = true
                                pending.append(item)
                            }
                            continue
                        }
                        try accept(item, replies[...])
                    }
                } catch let error as RESPClientError where error.kind == .connectionLost {
                    // The whole part is resent: accepting a reply twice stores the same value,
                    // and writing a record twice sets the same bytes.
                    lost.append((part.node, error))
                    pending.append(contentsOf: part.items)
                }
            }
            if !lost.isEmpty {
                failures += 1
                let names = lost.map { "\($0.node) (slots \(nodes.firstIndex(of: $0.node).map(slotRanges) ?? "none"))" }.joined(separator: ", ")
                let cause = lost.map(\.error.message).joined(separator: "; ")
                guard failures <= options.reconnectAttempts else {
                    throw RESPClientError("redis-cluster node \(names) unreachable while \(what) of view \(view): \(cause)"
                                          + (options.reconnectAttempts == 0 ? " (no reconnect: --retries 0)"
                                             : "; gave up after \(options.reconnectAttempts) reconnect attempt\(options.reconnectAttempts == 1 ? "" : "s")"),
                                          kind: lost[0].error.kind)
                }
                for (node, _) in lost { dropClient(for: node) }
                let wait = options.backoffSeconds * Double(1 << min(failures - 1, 20))
                onReconnect?("\(cause) while \(what) of view \(view); asking the cluster for its slot map again in \(RESPClientOptions.seconds(wait)) (attempt \(failures) of \(options.reconnectAttempts))")
                if wait > 0 { usleep(UInt32(min(wait, 3600) * 1e6)) }
                moved = true
            }
            if moved {
                do { try refreshSlots() } catch let error as RESPClientError where !lost.isEmpty {
                    // Keep the old map: the next round's connect names the node that is down.
                    onReconnect?(error.message)
                }
            }
        }
    }

    /// `MOVED slot host:port` / `ASK slot host:port` → where to go; nil for any other error.
    /// An empty host (Redis 7 with an unknown endpoint) is the host of the node that answered.
    static func redirection(_ message: String, from node: RESPEndpoint.HostPort) -> (ask: Bool, node: RESPEndpoint.HostPort)? {
        let ask = message.hasPrefix("ASK ")
        guard ask || message.hasPrefix("MOVED ") else { return nil }
        let parts = message.split(separator: " ")
        guard parts.count >= 3, let colon = parts[2].lastIndex(of: ":"), let port = Int(parts[2][parts[2].index(after: colon)...]) else { return nil }
        var host = String(parts[2][..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        return (ask, RESPEndpoint.HostPort(host: host.isEmpty ? node.host : host, port: port))
    }

    // MARK: - MaterializationSink

    public func readField(_ field: [UInt8], keys: ArraySlice<[UInt8]>) throws -> [[UInt8]?] {
        let batchKeys = Array(keys)
        let slots = batchKeys.map { ClusterHashSlot.slot(of: $0) }
        var out = [[UInt8]?](repeating: nil, count: batchKeys.count)
        let hmget: [UInt8] = Array("HMGET".utf8)
        try pipeline(slots: slots, commandsPerItem: 1, doing: "reading \(String(decoding: field, as: UTF8.self)) of \(keys.count) keys (HMGET)",
                     encode: { client, item, asking in
                         if asking { client.append([askingCommand]) }
                         client.appendHeader(count: 3)
                         client.appendArgument(hmget)
                         client.appendArgument(batchKeys[item])
                         client.appendArgument(field)
                     },
                     accept: { item, replies in
                         switch replies[replies.startIndex] {
                         case .array(let values):
                             if case .bulk(let bytes)? = values.first { out[item] = bytes }
                         case .error(let message):
                             throw RESPClientError("\(self.nodeOf(slots[item])): HMGET failed: \(message)")
                         default:
                             throw RESPClientError("\(self.nodeOf(slots[item])): HMGET returned something other than an array")
                         }
                     })
        return out
    }

    public func write(_ batch: HashWriteBatch) throws {
        let slots = (0 ..< batch.count).map { ClusterHashSlot.slot(of: batch.keys[$0]) }
        let hset: [UInt8] = Array("HSET".utf8)
        let expire: [UInt8] = Array("EXPIRE".utf8)
        let ttlText = batch.ttlSeconds.map { Array(String($0).utf8) }
        var firstError: String?
        try pipeline(slots: slots, commandsPerItem: ttlText == nil ? 1 : 2, doing: "writing a batch of \(batch.count) entities (HSET)",
                     encode: { client, record, asking in
                         if asking { client.append([askingCommand]) }
                         client.appendHeader(count: 2 + 2 * batch.fields.count)
                         client.appendArgument(hset)
                         client.appendArgument(batch.keys[record])
                         for (f, field) in batch.fields.enumerated() {
                             client.appendArgument(field)
                             client.appendArgument(batch.value(record: record, field: f))
                         }
                         if let ttlText {
                             if asking { client.append([askingCommand]) }
                             client.appendHeader(count: 3)
                             client.appendArgument(expire)
                             client.appendArgument(batch.keys[record])
                             client.appendArgument(ttlText)
                         }
                     },
                     accept: { record, replies in
                         for reply in replies {
                             if case .error(let message) = reply, firstError == nil { firstError = "\(self.nodeOf(slots[record])): write failed: \(message)" }
                         }
                     })
        if let firstError { throw RESPClientError(firstError) }
    }

    public func finish() throws {}

    private let askingCommand: [UInt8] = Array("ASKING".utf8)

    private func nodeOf(_ slot: Int) -> String {
        let owner = Int(slotOwner[slot])
        return owner >= 0 && owner < nodes.count ? "redis-cluster node \(nodes[owner])" : "redis-cluster slot \(slot)"
    }
}

extension RESPEndpoint {
    /// `redis-cluster://h1:p1,h2:p2` (or `rediss-cluster://`), as messages name a cluster target.
    public var clusterDescription: String {
        "\(tls == nil ? "redis" : "rediss")-cluster://" + hosts.map(\.description).joined(separator: ",")
    }
}
