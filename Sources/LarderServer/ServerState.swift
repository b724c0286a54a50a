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
            for w in workers { w.monitoring = monitoring; w.aof = aof; w.loading = loading }
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
    /// CLIENT PAUSE in force, if any.
    public let clientPause = ClientPause()
    /// The append-only file (AppendOnlyFile.swift); logs nothing while `aof.active` is off.
    let aof: AppendOnlyFile

    /// Users, permissions, ACL LOG (ACL/ACLState.swift).
    public let acl: ACLState
    /// Redis Cluster mode: this node's id and topology (Cluster/).
    public let cluster: ClusterState

    /// INFO sections a module adds after Redis' own (LarderServing's `features`), as Redis
    /// modules add theirs: shown when named and by INFO everything. Set before the server starts.
    public var moduleInfoSections: [(name: String, fields: () -> [(String, String)])] = []
    /// Which channels and patterns have subscribers (PUBSUB, INFO); PubSub.swift.
    let pubsub = PubSubDirectory()
    /// notify-keyspace-events as Redis' flag bits (KeyspaceEvents.swift); 0 = off, and then
    /// a write pays one relaxed load of it. The settings' atomic (they outlive this state).
    public let keyspaceEvents: UnsafeAtomic<Int>

    init(settings: ServerSettings, commands: CommandTable = .standard) {
        self.settings = settings
        self.commands = commands
        self.aof = AppendOnlyFile(settings: settings, commands: commands)
        keyspaceEvents = settings.notifyKeyspaceEvents
        acl = ACLState(index: ACLCommandIndex(commands), aclFile: settings.aclFile, logMaxLength: settings.aclLogMaxLength)
        let id = settings.clusterNodeId ?? (0..<40).map { _ in String("0123456789abcdef".randomElement()!) }.joined()
        cluster = ClusterState(enabled: settings.clusterEnabled, myId: id, configFile: settings.clusterConfigFile)
        acl.setDefaultPassword(settings.requirePass)
        settings.requirePassChanged = { [unowned acl] in acl.setDefaultPassword($0) }
    }

    /// Redis' ACLLoadUsersAtStartup: the config file's `user` lines, or the ACL file (never
    /// both); any error stops the start with its file and line.
    func loadUsersAtStartup() throws {
        if settings.aclFile != nil && !settings.configUsers.isEmpty {
            throw ACLFileError(description: "Configuring Redis with users defined in redis.conf and at the same setting an ACL file path is invalid. This setup is very likely to lead to configuration errors and security holes, please define either an ACL file or declare users directly in your redis.conf, but not both.")
        }
        if !settings.configUsers.isEmpty {
            var users: [String: ACLUser] = [:]
            if let d = acl.user("default") { users["default"] = d }
            for line in settings.configUsers {
                let words = line.split(separator: " ").map { Array($0.utf8) }
                guard let first = words.first else { continue }
                let name = String(decoding: first, as: UTF8.self)
                // Redis: a user defined twice in the config file is an error; `default` is reset first.
                var u = name == "default" ? (users["default"] ?? ACLUser.makeDefault(index: acl.index)) : ACLUser(name: name, index: acl.index)
                if name == "default" { try! u.apply(Array("reset".utf8), index: acl.index) }
                for rule in words.dropFirst() {
                    do { try u.apply(rule, index: acl.index) } catch let e as ACLRuleError {
                        throw ACLFileError(description: "Error loading ACL rule '\(String(decoding: rule, as: UTF8.self))' for the user named '\(name)': \(e.message)")
                    }
                }
                users[name] = u
            }
            acl.replaceUsers(users)
        }
        if let file = settings.aclFile {
            switch acl.parseFile(file) {
            case .success(let users): acl.replaceUsers(users)
            case .failure(let e): throw e
            }
        }
    }

    public var shardCount: Int { workers.count }

    /// Which shard owns a key hash. The table uses the low bits for slots; shards use the high
    /// bits so the two choices are independent.
    @inline(__always) public static func shardIndex(hash: UInt64, count: Int) -> Int {
        Int(truncatingIfNeeded: (hash >> 32) % UInt64(count))
    }
}
