import Atomics
import LarderRESP
import LarderStore
import LarderTLS
import NIOConcurrencyHelpers

/// Server-wide settings that CONFIG GET/SET reads and changes at run time. Numbers are atomics
/// so the data path reads them without a lock; strings sit behind a lock (rarely read).
public final class ServerSettings: @unchecked Sendable {
    public let port: Int
    public let bind: String
    public let threads: Int
    public let pinThreads: Bool
    /// false: no plaintext listener (`--port 0` beside `--tls-port`, as Redis).
    public let listenPlain: Bool
    /// The I/O engine under the RESP connections (`--io`; docs/ARCHITECTURE.md "I/O engine").
    public var ioEngine: IOEngine = .platformDefault
    /// Where the engine choice came from (said in the start-up log line).
    public var ioEngineOrigin: IOEngine.Origin = .platformDefault
    /// Why io_uring was asked for (`uring`) but epoll runs instead (said in the start-up log line).
    public var ioEngineFallback: String? = nil
    /// The TLS listener's port (`tls-port`); nil: no TLS listener.
    public let tlsPort: Int?
    /// Milliseconds a client may take to finish its TLS handshake before it is closed
    /// (`tls-handshake-timeout`, Larder's addition: Redis has none).
    public let tlsHandshakeTimeout: ManagedAtomic<Int>

    /// UnsafeAtomics (as notifyKeyspaceEvents): read on every read from a client.
    public let protoMaxBulkLength: UnsafeAtomic<Int>
    public let protoMaxMultibulkLength: UnsafeAtomic<Int>
    public let clientQueryBufferLimit: ManagedAtomic<Int>
    public let maxClients: ManagedAtomic<Int>
    /// Seconds of client inactivity before the server closes it (0 = never), like Redis' `timeout`.
    public let idleTimeout: ManagedAtomic<Int>
    public let tcpKeepalive: ManagedAtomic<Int>
    public let hz: ManagedAtomic<Int>
    /// notify-keyspace-events as KeyspaceEventFlags bits (--notify-keyspace-events, CONFIG SET);
    /// ServerState.keyspaceEvents is this same atomic.
    /// An UnsafeAtomic (a bare pointer): reading it through `server` retains nothing, where a
    /// ManagedAtomic (a class) would (ACL's epoch measured ~60 instructions a command that way).
    public let notifyKeyspaceEvents = UnsafeAtomic<Int>.create(0)

    deinit {
        notifyKeyspaceEvents.destroy()
        protoMaxBulkLength.destroy(); protoMaxMultibulkLength.destroy(); maxMemory.destroy()
    }
    /// Redis' `protected-mode`: while on and the default user has no password, only clients
    /// from loopback addresses are served (see `ConnectionHandler.channelActive`).
    public let protectedMode: ManagedAtomic<Bool>
    /// Redis' `enable-debug-command`: who may run DEBUG (no by default, as Redis 7). Set at
    /// start only (a protected config in Redis).
    public var enableDebugCommand: ProtectedConfig = .no
    public enum ProtectedConfig: String, Sendable { case no, yes, local }
    /// Redis' `stop-writes-on-bgsave-error`: while save points are set and the last snapshot
    /// failed, write commands (and PING) get -MISCONF instead of changes that would not persist.
    public let stopWritesOnSaveError: ManagedAtomic<Bool>
    /// Redis' `maxmemory` in bytes (0 = no limit) and what happens over it (MemoryLimit.swift):
    /// `maxmemory-policy` (an `EvictionPolicy` raw value), `maxmemory-samples`,
    /// `maxmemory-eviction-tenacity`. The LFU parameters are KeyAccess's (process-wide).
    /// An UnsafeAtomic (as notifyKeyspaceEvents): read by every write that may add data.
    public let maxMemory: UnsafeAtomic<Int>
    public let maxMemoryPolicy = ManagedAtomic<Int>(EvictionPolicy.noeviction.rawValue)
    public let maxMemorySamples = ManagedAtomic<Int>(5)
    public let evictionTenacity = ManagedAtomic<Int>(10)

    /// Sets `maxmemory-policy`, and with it whether keys keep an LRU clock or an LFU counter.
    public func setMaxMemoryPolicy(_ policy: EvictionPolicy) {
        maxMemoryPolicy.store(policy.rawValue, ordering: .relaxed)
        KeyAccess.lfuMode.store(policy.isLFU, ordering: .relaxed)
    }
    public var evictionPolicy: EvictionPolicy { EvictionPolicy(rawValue: maxMemoryPolicy.load(ordering: .relaxed)) ?? .noeviction }
    /// SLOWLOG / LATENCY settings (Stats/Slowlog.swift).
    public let monitoring = MonitoringSettings()
    /// The absolute path of the configuration file the server was started with, "" without
    /// one (INFO server's config_file). Set once before the server starts.
    public var configFile = ""
    /// What was built (`larder --version`'s version and commit), for INFO server. Set once before
    /// the server starts, by the CLI, which knows the build (LarderBuildInfo).
    public var build = (version: "", commit: "")
    /// The settings given on the command line beside the configuration file, in order, as
    /// (name, values): CONFIG REWRITE writes the running configuration, flags included, as
    /// Redis does. Set once before the server starts.
    public var commandLineSettings: [(name: String, values: [String])] = []
    /// Names CONFIG SET changed since start (CONFIG REWRITE writes them even when the file has
    /// no line for them).
    public var configSetNames: [String] { lock.withLock { _configSetNames } }
    private var _configSetNames: [String] = []
    func noteConfigSet(_ names: [String]) {
        lock.withLock { for n in names where !_configSetNames.contains(n) { _configSetNames.append(n) } }
    }
    /// Redis Cluster mode (docs/cluster.md). Off: the emulated single node owning every slot
    /// (CLUSTER answers for one master, no redirection). On: this node serves the slots a
    /// topology gives it (`--cluster-config FILE`, CLUSTER LARDER.SETTOPOLOGY) and redirects
    /// the rest. Set once before the server starts.
    public var clusterEnabled = false
    /// This node's id in the topology (`--cluster-node-id`); nil: the run id (random each start,
    /// so only for topologies pushed after start-up).
    public var clusterNodeId: String? = nil
    /// The topology file read at start-up and rewritten by each accepted push.
    public var clusterConfigFile: String? = nil
    /// AUTH of a migration source on its target (`--cluster-migration-user/-password`): nil
    /// when the target requires no password.
    public var clusterMigrationUser: String? = nil
    public var clusterMigrationPassword: String? = nil
    /// appendonly, appendfsync, appenddirname, ... (AppendOnlyFile.swift).
    public let aof = AOFSettings()
    private let lock = NIOLock()
    private var _savePoints: [SavePoint]
    private var _requirePass: String?
    private var _dir: String
    private var _dbFilename: String
    /// Redis' `aclfile` (fixed after start) and the config file's `user` lines, each the
    /// user name then its rules separated by spaces; Redis refuses both at once, so does Larder.
    public let aclFile: String?
    public let configUsers: [String]
    /// Called after `requirepass` changes: the default user's password follows it (ACLState).
    var requirePassChanged: ((String?) -> Void)? = nil
    private var _tls: TLSConfiguration

    public init(port: Int = 6379, bind: String = "127.0.0.1", threads: Int = System.coreCount,
                pinThreads: Bool = true, requirePass: String? = nil,
                protoMaxBulkLength: Int = 512 * 1024 * 1024,
                protoMaxMultibulkLength: Int = Int(Int32.max),
                clientQueryBufferLimit: Int = 1024 * 1024 * 1024,
                maxClients: Int = 10000, idleTimeout: Int = 0, tcpKeepalive: Int = 300,
                protectedMode: Bool = true, dir: String = ".", dbFilename: String = "dump.rdb",
                savePoints: [SavePoint] = [], stopWritesOnSaveError: Bool = true, maxMemory: Int = 0,
                aclFile: String? = nil, configUsers: [String] = [], aclLogMaxLength: Int = 128,
                listenPlain: Bool = true, tlsPort: Int? = nil, tls: TLSConfiguration = TLSConfiguration(),
                tlsHandshakeTimeout: Int = 10_000) {
        self.aclFile = (aclFile?.isEmpty ?? true) ? nil : aclFile
        self.configUsers = configUsers
        self.aclLogMaxLength = ManagedAtomic(aclLogMaxLength)
        self.listenPlain = listenPlain; self.tlsPort = tlsPort; self._tls = tls
        self.tlsHandshakeTimeout = ManagedAtomic(tlsHandshakeTimeout)
        self.maxMemory = .create(maxMemory)
        self._dir = dir; self._dbFilename = dbFilename; self._savePoints = savePoints
        self.stopWritesOnSaveError = ManagedAtomic(stopWritesOnSaveError)
        self.port = port; self.bind = bind; self.threads = max(1, threads); self.pinThreads = pinThreads
        self._requirePass = requirePass
        self.protoMaxBulkLength = .create(protoMaxBulkLength)
        self.protoMaxMultibulkLength = .create(protoMaxMultibulkLength)
        self.clientQueryBufferLimit = ManagedAtomic(clientQueryBufferLimit)
        self.maxClients = ManagedAtomic(maxClients)
        self.idleTimeout = ManagedAtomic(idleTimeout)
        self.tcpKeepalive = ManagedAtomic(tcpKeepalive)
        self.hz = ManagedAtomic(10)
        self.protectedMode = ManagedAtomic(protectedMode)
    }

    public var requirePass: String? {
        get { lock.withLock { _requirePass } }
        set {
            let value = (newValue?.isEmpty ?? true) ? nil : newValue
            lock.withLock { _requirePass = value }
            requirePassChanged?(value)
        }
    }
    /// Redis' `acllog-max-len`: entries ACL LOG keeps.
    public let aclLogMaxLength: ManagedAtomic<Int>

    /// Where SAVE writes its snapshot (Redis' `dir` and `dbfilename`).
    public var dir: String { lock.withLock { _dir } }
    public var dbFilename: String { lock.withLock { _dbFilename } }
    public var snapshotPath: String { lock.withLock { (_dir.hasSuffix("/") ? _dir : _dir + "/") + _dbFilename } }

    /// Redis' `save` points; empty: no automatic snapshots, and none at SHUTDOWN/SIGTERM
    /// unless asked (`SHUTDOWN SAVE`).
    public var savePoints: [SavePoint] {
        get { lock.withLock { _savePoints } }
        set { lock.withLock { _savePoints = newValue } }
    }

    /// The `tls-*` settings the current TLS context was made from (CONFIG GET); changed only
    /// through `ServerState.configureTLS`, which makes the new context first.
    public internal(set) var tls: TLSConfiguration {
        get { lock.withLock { _tls } }
        set { lock.withLock { _tls = newValue } }
    }

    public var limits: RESPLimits {
        var l = RESPLimits()
        l.maxBulkLength = protoMaxBulkLength.load(ordering: .relaxed)
        l.maxMultibulkLength = protoMaxMultibulkLength.load(ordering: .relaxed)
        return l
    }
}

import NIOCore

/// Which I/O engine runs the shard threads and the plain RESP port.
public enum IOEngine: String, CaseIterable, Sendable {
    /// SwiftNIO's event loops and channel pipeline: only where Larder has no engine of its own
    /// (not Linux). On Linux it left the RESP path once the engine served everything it did.
    case nio
    /// Larder's own epoll loop per shard thread (Engine/); the TLS port stays on a NIO thread.
    case epoll
    /// Larder's own io_uring loop per shard thread (Engine/Uring*), where the kernel runs it:
    /// epoll otherwise, saying why. The TLS port stays on a NIO thread, as under epoll.
    case uring

    /// io_uring (epoll where the kernel refuses it) on Linux; NIO elsewhere.
    public static var platformDefault: IOEngine {
        #if os(Linux)
        return .uring
        #else
        return .nio
        #endif
    }

    /// The engines `--io` and `$LARDER_IO` accept on this platform: each one CI runs the whole
    /// conformance suite on (scripts/test.sh).
    public static var selectable: [IOEngine] {
        #if os(Linux)
        return [.uring, .epoll]
        #else
        return [.nio]
        #endif
    }

    /// Who chose the engine: the start-up log line says it.
    public enum Origin: Sendable {
        case platformDefault, flag, environment
    }
}
