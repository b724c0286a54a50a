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
    /// The slot migration this node runs as the source, if any (SlotMigration.swift): while
    /// streaming, commands on its slots forward their keys; after the handover it answers
    /// -MOVED for them even to commands routed by an older table.
    let migration: SlotMigration?

    static let notConfiguredError = "CLUSTERDOWN Cluster is not yet configured: no topology (start with --cluster-config FILE or push one with CLUSTER LARDER.SETTOPOLOGY)"
    static let crossSlotError: StaticString = "CROSSSLOT Keys in request don't hash to the same slot"

    init(unconfigured myId: String) {
        topology = nil; self.myId = myId; owner = []; myShard = -1; isPrimary = false; primaryAddress = []; migration = nil
    }

    /// `topology` must have passed `validate(myId:)`.
    init(_ topology: ClusterTopology, myId: String, migration: SlotMigration? = nil) {
        self.topology = topology
        self.migration = migration
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
    /// `migration`: the handover of that migration (it keeps answering -MOVED for its slots).
    func install(_ topology: ClusterTopology, workers: [ShardWorker], save: Bool, migration: SlotMigration? = nil) throws {
        try topology.validate(myId: myId)
        if migration == nil, let m = lastMigration, m.isRunning {
            throw ClusterTopology.Invalid("a slot migration to \(m.target.id) is running (CLUSTER LARDER.MIGRATION); push the topology after it ends")
        }
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
        let routing = ClusterRouting(topology, myId: myId, migration: migration)
        lock.withLock {
            _routing = routing
            if let migration { _lastMigration = migration }
        }
        publish(routing, to: workers)
    }

    func publish(_ routing: ClusterRouting, to workers: [ShardWorker]) {
        for w in workers {
            if w.loop.inEventLoop {
                w.cluster = routing; w.migration = routing.migration
            } else {
                w.loop.execute { w.cluster = routing; w.migration = routing.migration }
            }
        }
    }

    /// The running migration, or the last one (for its status); nil before the first.
    var lastMigration: SlotMigration? { lock.withLock { _lastMigration } }
    private var _lastMigration: SlotMigration?

    /// Starts routing with `migration` (the topology unchanged) unless one is already running;
    /// false when one is.
    func begin(_ migration: SlotMigration, workers: [ShardWorker]) -> Bool {
        let routing: ClusterRouting? = lock.withLock {
            if let m = _lastMigration, m.isRunning { return nil }
            guard let topology = _routing.topology else { return nil }
            _lastMigration = migration
            _routing = ClusterRouting(topology, myId: myId, migration: migration)
            return _routing
        }
        guard let routing else { return false }
        publish(routing, to: workers)
        return true
    }

    /// A failed migration: the current topology (which still gives this node the slots) routes
    /// without it.
    func dropMigration(_ migration: SlotMigration, workers: [ShardWorker]) {
        let routing: ClusterRouting? = lock.withLock {
            guard _routing.migration === migration, let topology = _routing.topology else { return nil }
            _routing = ClusterRouting(topology, myId: myId)
            return _routing
        }
        if let routing { publish(routing, to: workers) }
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
