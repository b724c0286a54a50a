import Atomics
import Foundation
import LarderStore
import NIOCore

/// State shared by every thread of one server: settings, the shard workers, the command table,
/// the clients. Nothing here is touched per command except through atomics.
public final class ServerState: @unchecked Sendable {
    public let settings: ServerSettings
    public internal(set) var workers: [ShardWorker] = [] {
        didSet {
            for w in workers { w.monitoring = monitoring }
            workers.first?.cron = { [unowned self] now in self.opsSampler.tick(self, nowMilliseconds: now) }
        }
    }
    /// INFO instantaneous_ops_per_sec.
    let opsSampler = OpsPerSecondSampler()
    /// SLOWLOG / LATENCY settings (CONFIG slowlog-*), read by every worker's `runTimed`.
    public var monitoring: MonitoringSettings { settings.monitoring }
    public let commands: CommandTable
    public let clients = ClientRegistry()
    public let startedAt = Date()
    public let runId: String = (0..<40).map { _ in String("0123456789abcdef".randomElement()!) }.joined()
    let totalCommands = ManagedAtomic<Int>(0)
    let statsResetAt = ManagedAtomic<Int>(0)
    /// Set by the bootstrap: stops the server (SHUTDOWN, SIGTERM); `finalSnapshot` says whether
    /// to write one more snapshot once nothing runs any more, if writes came in meanwhile.
    var requestShutdown: (_ finalSnapshot: Bool) -> Void = { _ in }
    /// The port actually listened on (settings.port may be 0 = ephemeral); CONFIG GET port, INFO.
    public internal(set) var boundPort = 0
    /// The TLS port actually listened on (0: none); CONFIG GET tls-port, INFO.
    public internal(set) var boundTLSPort = 0
    /// The context new TLS connections are made from; CONFIG SET tls-* and SIGHUP replace it.
    let tlsContexts = TLSContextStore()
    /// Snapshots: LASTSAVE, INFO persistence, save points, -MISCONF.
    let snapshots = SnapshotState()
    /// maxmemory reached (-OOM for denyoom commands).
    let memoryLimit = MemoryLimit()
    /// A start-up load in progress (-LOADING, INFO loading:1).
    public let loading = LoadingState()

    init(settings: ServerSettings, commands: CommandTable = .standard) {
        self.settings = settings
        self.commands = commands
    }

    public var shardCount: Int { workers.count }

    /// Which shard owns a key hash. The table uses the low bits for slots; shards use the high
    /// bits so the two choices are independent.
    @inline(__always) public static func shardIndex(hash: UInt64, count: Int) -> Int {
        Int(truncatingIfNeeded: (hash >> 32) % UInt64(count))
    }
}
