import Foundation

/// A Redis Cluster layout given from outside (Dragonfly's managed cluster mode): shards, each
/// with its slot ranges, one primary and its replicas. Nodes hold no consensus protocol: every
/// node is handed the same topology (`--cluster-config FILE` at start-up, CLUSTER
/// LARDER.SETTOPOLOGY at run time) and answers clients from it. The JSON form is Dragonfly's
/// `DFLYCLUSTER CONFIG` one (docs/cluster.md):
///
///     [{"slot_ranges": [{"start": 0, "end": 5460}],
///       "master": {"id": "<id>", "ip": "10.0.0.1", "port": 6379},
///       "replicas": [{"id": "<id>", "ip": "10.0.0.2", "port": 6379}]}, ...]
public struct ClusterTopology: Equatable, Sendable {
    public struct Node: Equatable, Sendable {
        public var id: String
        public var ip: String
        public var port: Int
        public init(id: String, ip: String, port: Int) { self.id = id; self.ip = ip; self.port = port }
        public var address: String { "\(ip):\(port)" }
    }

    public struct SlotRange: Equatable, Sendable {
        public var start: Int
        public var end: Int
        public init(_ start: Int, _ end: Int) { self.start = start; self.end = end }
    }

    public struct Shard: Equatable, Sendable {
        public var slotRanges: [SlotRange]
        public var primary: Node
        public var replicas: [Node]
        public init(slotRanges: [SlotRange], primary: Node, replicas: [Node] = []) {
            self.slotRanges = slotRanges; self.primary = primary; self.replicas = replicas
        }
    }

    public static let slotCount = 16384

    public var shards: [Shard]
    public init(shards: [Shard]) { self.shards = shards }

    /// A refused topology: what is wrong and where (shard index, node id, slot).
    public struct Invalid: Error, CustomStringConvertible, Equatable {
        public let description: String
        init(_ d: String) { description = d }
    }

    /// Every node, primaries first in shard order, then each shard's replicas.
    public var nodes: [Node] { shards.map { $0.primary } + shards.flatMap { $0.replicas } }

    /// Checks the layout on its own: slots 0...16383 each served by exactly one shard, node ids
    /// unique and well formed, addresses valid and unique. `myId`: also require that node to be
    /// in it (a node must never serve a topology that does not name it).
    public func validate(myId: String? = nil) throws {
        guard !shards.isEmpty else { throw Invalid("topology has no shards") }
        var owner = [Int](repeating: -1, count: Self.slotCount)
        var ids: [String: String] = [:]
        var addresses: [String: String] = [:]
        for (s, shard) in shards.enumerated() {
            for (role, node) in [("master", shard.primary)] + shard.replicas.enumerated().map({ ("replica \($0.offset)", $0.element) }) {
                let place = "shard \(s) \(role)"
                try Self.check(node, place)
                if let other = ids[node.id] { throw Invalid("\(place): node id '\(node.id)' is also \(other)") }
                ids[node.id] = place
                if let other = addresses[node.address] { throw Invalid("\(place): address \(node.address) is also \(other)") }
                addresses[node.address] = place
            }
            for r in shard.slotRanges {
                guard r.start >= 0, r.end < Self.slotCount, r.start <= r.end else {
                    throw Invalid("shard \(s): slot range \(r.start)-\(r.end) is not within 0-\(Self.slotCount - 1) with start <= end")
                }
                for slot in r.start...r.end {
                    if owner[slot] >= 0 {
                        throw Invalid("shard \(s): slot \(slot) (range \(r.start)-\(r.end)) overlaps shard \(owner[slot])")
                    }
                    owner[slot] = s
                }
            }
        }
        let missing = Self.ranges(of: (0..<Self.slotCount).filter { owner[$0] < 0 })
        if !missing.isEmpty {
            let shown = missing.prefix(4).map { $0.start == $0.end ? "\($0.start)" : "\($0.start)-\($0.end)" }
            throw Invalid("slots not served by any shard: \(shown.joined(separator: ", "))\(missing.count > 4 ? ", ..." : "")")
        }
        if let myId, ids[myId] == nil {
            throw Invalid("this node (id \(myId)) is not in the topology")
        }
    }

    /// A node id is what CLUSTER NODES prints first: no spaces, as Redis' 40 hex characters
    /// are; any 1 to 64 letters, digits, '-' or '_' are taken.
    public static func check(_ node: Node, _ place: String) throws {
        let idOK = (1...64).contains(node.id.utf8.count) && node.id.utf8.allSatisfy {
            ($0 >= 48 && $0 <= 57) || ($0 >= 65 && $0 <= 90) || ($0 >= 97 && $0 <= 122) || $0 == 45 || $0 == 95
        }
        guard idOK else { throw Invalid("\(place): node id '\(node.id)' must be 1 to 64 letters, digits, '-' or '_'") }
        guard (1...65535).contains(node.port) else { throw Invalid("\(place) \(node.id): port \(node.port) is not within 1-65535") }
        guard isValidHost(node.ip) else {
            throw Invalid("\(place) \(node.id): address '\(node.ip)' is not an IPv4/IPv6 address or host name")
        }
    }

    /// An IPv4 or IPv6 literal, or a DNS host name (Kubernetes pod names: `larder-0.larder`).
    static func isValidHost(_ host: String) -> Bool {
        guard !host.isEmpty, host.utf8.count <= 253 else { return false }
        var v4 = in_addr(), v6 = in6_addr()
        if inet_pton(AF_INET, host, &v4) == 1 || inet_pton(AF_INET6, host, &v6) == 1 { return true }
        // Not all digits and dots: "10.0.0.300" is a bad address, not a name.
        if host.utf8.allSatisfy({ ($0 >= 48 && $0 <= 57) || $0 == 46 }) { return false }
        return host.split(separator: ".", omittingEmptySubsequences: false).allSatisfy { label in
            !label.isEmpty && label.utf8.count <= 63 && label.first != "-" && label.last != "-" &&
                label.utf8.allSatisfy { ($0 >= 48 && $0 <= 57) || ($0 >= 65 && $0 <= 90) || ($0 >= 97 && $0 <= 122) || $0 == 45 }
        }
    }

    /// Sorted slots as contiguous ranges.
    public static func ranges(of slots: [Int]) -> [SlotRange] {
        var out: [SlotRange] = []
        for s in slots {
            if let last = out.last, last.end == s - 1 { out[out.count - 1].end = s } else { out.append(SlotRange(s, s)) }
        }
        return out
    }

    /// N primaries, the slots split in order exactly as `redis-cli --cluster create` splits
    /// them (a float step, rounded: 3 nodes get 0-5460, 5461-10922, 10923-16383).
    public static func evenlySplit(_ nodes: [Node]) -> ClusterTopology {
        let n = nodes.count
        let step = Float(slotCount) / Float(n)
        var cursor: Float = 0
        var first = 0
        var shards: [Shard] = []
        for (i, node) in nodes.enumerated() {
            var last = Int((cursor + step - 1).rounded())
            if last > slotCount || i == n - 1 { last = slotCount - 1 }
            if last < first { last = first }
            shards.append(Shard(slotRanges: [SlotRange(first, last)], primary: node))
            first = last + 1
            cursor += step
        }
        return ClusterTopology(shards: shards)
    }

    /// A deterministic 40-hex-digit node id (Redis' id shape) from a name such as the pod
    /// name or "ip:port", so a StatefulSet or `larder cluster make` gives a restarted node
    /// the id it had.
    public static func nodeId(for name: String) -> String {
        var h: UInt64 = 0xcbf29ce484222325
        for b in name.utf8 { h = (h ^ UInt64(b)) &* 0x100000001b3 }
        var out = ""
        for _ in 0..<3 {
            h = h &+ 0x9E3779B97F4A7C15
            var z = h
            z = (z ^ (z >> 30)) &* 0xBF58476D1CE4E5B9
            z = (z ^ (z >> 27)) &* 0x94D049BB133111EB
            z = z ^ (z >> 31)
            out += String(z, radix: 16).leftPadded(to: 16)
        }
        return String(out.prefix(40))
    }

    // MARK: JSON

    private struct NodeJSON: Decodable { let id: String; let ip: String; let port: Int }
    private struct RangeJSON: Decodable { let start: Int; let end: Int }
    private struct ShardJSON: Decodable {
        let slot_ranges: [RangeJSON]
        let master: NodeJSON
        let replicas: [NodeJSON]?
    }

    /// Reads the JSON form (JSONDecoder: strict types, so `"port": "6379"` or `true` is
    /// refused); every refusal names the place ("shard 1 master port: expected a whole number").
    public static func parse(json: [UInt8]) throws -> ClusterTopology {
        let shards: [ShardJSON]
        do {
            shards = try JSONDecoder().decode([ShardJSON].self, from: Data(json))
        } catch let e as DecodingError {
            throw Invalid(describe(e))
        }
        return ClusterTopology(shards: shards.map { s in
            Shard(slotRanges: s.slot_ranges.map { SlotRange($0.start, $0.end) },
                  primary: Node(id: s.master.id, ip: s.master.ip, port: s.master.port),
                  replicas: (s.replicas ?? []).map { Node(id: $0.id, ip: $0.ip, port: $0.port) })
        })
    }

    /// "shard 1 master port", "shard 0 slot_ranges[2] end" from a decoding path.
    private static func place(_ path: [CodingKey]) -> String {
        var text = ""
        for (i, k) in path.enumerated() {
            if let n = k.intValue { text += i == 0 ? "shard \(n)" : "[\(n)]" } else { text += " " + k.stringValue }
        }
        return text.isEmpty ? "topology" : text
    }

    private static func describe(_ e: DecodingError) -> String {
        func expected(_ t: Any.Type) -> String {
            if t == Int.self { return "a whole number" }
            if t == String.self { return "a string" }
            if t is [Any].Type || "\(t)".hasPrefix("Array") { return "an array" }
            return "an object"
        }
        switch e {
        case .typeMismatch(let t, let c):
            return c.codingPath.isEmpty ? "topology must be a JSON array of shards" : "\(place(c.codingPath)): expected \(expected(t))"
        case .valueNotFound(let t, let c):
            return "\(place(c.codingPath)): null where \(expected(t)) is expected"
        case .keyNotFound(let k, let c):
            return "\(place(c.codingPath)): missing \"\(k.stringValue)\""
        case .dataCorrupted(let c):
            return c.codingPath.isEmpty ? "topology is not valid JSON: \(c.debugDescription)"
                : "\(place(c.codingPath)): \(c.debugDescription)"
        @unknown default:
            return "topology: \(e)"
        }
    }

    /// The JSON form, one shard per line (stable: files written from it diff well).
    public var json: String {
        func node(_ n: Node) -> String { "{\"id\": \(quoted(n.id)), \"ip\": \(quoted(n.ip)), \"port\": \(n.port)}" }
        let lines = shards.map { s in
            "  {\"slot_ranges\": [" + s.slotRanges.map { "{\"start\": \($0.start), \"end\": \($0.end)}" }.joined(separator: ", ") +
                "], \"master\": " + node(s.primary) + ", \"replicas\": [" + s.replicas.map(node).joined(separator: ", ") + "]}"
        }
        return "[\n" + lines.joined(separator: ",\n") + "\n]\n"
    }

    private func quoted(_ s: String) -> String {
        var out = "\""
        for c in s.unicodeScalars {
            switch c {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case _ where c.value < 0x20: out += String(format: "\\u%04x", c.value)
            default: out.unicodeScalars.append(c)
            }
        }
        return out + "\""
    }
}

private extension String {
    func leftPadded(to n: Int) -> String { count >= n ? self : String(repeating: "0", count: n - count) + self }
}
