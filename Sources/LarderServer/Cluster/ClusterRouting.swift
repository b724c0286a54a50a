import Foundation
import LarderRESP
import NIOConcurrencyHelpers

/// One topology compiled for this node: who owns each slot, which shard this node is in.
/// Immutable: a new topology makes a new one, handed to every worker thread (each reads its
/// own reference, `ShardWorker.cluster`, so dispatch takes no lock and no atomic).
final class ClusterRouting: @unchecked Sendable {
    /// nil: cluster mode is on but no topology was given yet (every keyed command gets
    /// -CLUSTERDOWN with the reason).
    let topology: ClusterTopology?
    let myId: String
    /// Slot -> index of the owning shard in `topology.shards`.
    let owner: [UInt16]
    /// The shard this node is the primary or a replica of.
    let myShard: Int
    let isPrimary: Bool
    /// Per shard, its primary's "ip:port", the tail of a -MOVED.
    let primaryAddress: [String]

    static let notConfiguredError = "CLUSTERDOWN Cluster is not yet configured: no topology (start with --cluster-config FILE or push one with CLUSTER LARDER.SETTOPOLOGY)"
    static let crossSlotError: StaticString = "CROSSSLOT Keys in request don't hash to the same slot"

    init(unconfigured myId: String) {
        topology = nil; self.myId = myId; owner = []; myShard = -1; isPrimary = false; primaryAddress = []
    }

    /// `topology` must have passed `validate(myId:)`.
    init(_ topology: ClusterTopology, myId: String) {
        self.topology = topology
        self.myId = myId
        var owner = [UInt16](repeating: 0, count: ClusterTopology.slotCount)
        var mine = -1, primary = false
        for (i, shard) in topology.shards.enumerated() {
            for r in shard.slotRanges { for s in r.start...r.end { owner[s] = UInt16(i) } }
            if shard.primary.id == myId { mine = i; primary = true }
            if shard.replicas.contains(where: { $0.id == myId }) { mine = i }
        }
        self.owner = owner
        self.myShard = mine
        self.isPrimary = primary
        self.primaryAddress = topology.shards.map { $0.primary.address }
    }

    /// Redis' getNodeByQuery for one command: nil when this node serves it, else the error
    /// to reply (-MOVED, -CROSSSLOT, -CLUSTERDOWN). Commands without keys always run here.
    /// `readOnlyClient`: the connection sent READONLY, so a replica serves its shard's reads.
    func refusal(_ spec: CommandSpec, _ args: Arguments, readOnlyClient: Bool) -> String? {
        var slot = -1
        var crossSlot = false
        var firstKey = 0
        spec.keys.forEach(args) { i in
            if slot < 0 {
                slot = ClusterHashSlot.slot(of: args[i]); firstKey = i
            } else if !crossSlot && ClusterHashSlot.slot(of: args[i]) != slot && !Self.equal(args[i], args[firstKey]) {
                crossSlot = true
            }
        }
        if slot < 0 { return nil }
        if crossSlot { return String(describing: Self.crossSlotError) }
        return refusal(slot: slot, writes: spec.flags.contains(.write), readOnlyClient: readOnlyClient)
    }

    /// Whether `slot` is served here: nil, or the -MOVED / -CLUSTERDOWN to reply.
    func refusal(slot: Int, writes: Bool, readOnlyClient: Bool) -> String? {
        guard topology != nil else { return Self.notConfiguredError }
        let o = Int(owner[slot])
        if o == myShard && (isPrimary || (readOnlyClient && !writes)) { return nil }
        return "MOVED \(slot) \(primaryAddress[o])"
    }

    private static func equal(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Bool {
        a.count == b.count && (a.count == 0 || memcmp(a.baseAddress!, b.baseAddress!, a.count) == 0)
    }
}

/// The node's cluster state: whether cluster mode is on, its id, the current topology.
/// Changes are rare (a push from an operator) and take the lock; dispatch reads the
/// per-worker copy instead.
public final class ClusterState: @unchecked Sendable {
    /// false: the emulated single node of before (all slots here, no redirection).
    public let enabled: Bool
    public let myId: String
    /// Where a pushed topology is saved, so a restart keeps it (Redis rewrites nodes.conf).
    let configFile: String?
    private let lock = NIOLock()
    private var _routing: ClusterRouting

    init(enabled: Bool, myId: String, configFile: String?) {
        self.enabled = enabled; self.myId = myId; self.configFile = configFile
        _routing = ClusterRouting(unconfigured: myId)
    }

    var routing: ClusterRouting { lock.withLock { _routing } }

    /// Validates `topology` against this node and installs it on every worker; a refused one
    /// leaves the current topology serving. `save`: also write it to --cluster-config.
    func install(_ topology: ClusterTopology, workers: [ShardWorker], save: Bool) throws {
        try topology.validate(myId: myId)
        if save, let configFile {
            // Written aside then renamed: a crash leaves the old file or the new, never half.
            let tmp = configFile + ".tmp"
            do {
                try Data(topology.json.utf8).write(to: URL(fileURLWithPath: tmp))
                guard rename(tmp, configFile) == 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
            } catch {
                throw ClusterTopology.Invalid("cannot save the topology to \(configFile): \(error)")
            }
        }
        let routing = ClusterRouting(topology, myId: myId)
        lock.withLock { _routing = routing }
        publish(routing, to: workers)
    }

    func publish(_ routing: ClusterRouting, to workers: [ShardWorker]) {
        for w in workers {
            if w.loop.inEventLoop { w.cluster = routing } else { w.loop.execute { w.cluster = routing } }
        }
    }

    /// At start-up: the unconfigured state on every worker, then the file's topology if any.
    func start(workers: [ShardWorker]) throws {
        guard enabled else { return }
        // Before the listener opens: these tasks run before any connection's first read.
        guard let configFile, FileManager.default.fileExists(atPath: configFile) else {
            publish(_routing, to: workers); return
        }
        let bytes: [UInt8]
        do { bytes = Array(try Data(contentsOf: URL(fileURLWithPath: configFile))) } catch {
            throw ClusterTopology.Invalid("--cluster-config \(configFile): \(error.localizedDescription)")
        }
        do {
            let topology = try ClusterTopology.parse(json: bytes)
            try topology.validate(myId: myId)
            let routing = ClusterRouting(topology, myId: myId)
            lock.withLock { _routing = routing }
            publish(routing, to: workers)
        } catch let e as ClusterTopology.Invalid {
            throw ClusterTopology.Invalid("--cluster-config \(configFile): \(e.description)")
        }
    }
}
