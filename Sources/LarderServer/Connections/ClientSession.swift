import Atomics
import LarderRESP
import LarderStore
import NIOConcurrencyHelpers
import NIOCore

/// A command queued inside MULTI: its arguments copied out of the read buffer.
struct QueuedCommand {
    let spec: CommandSpec
    let arguments: [[UInt8]]
}

/// The state of one client connection. Owned by the connection's event loop; the few fields
/// other threads read (CLIENT LIST, INFO) are atomics or sit behind the registry lock.
public final class ClientSession {
    public let id: Int
    public let address: String
    public let localAddress: String
    public let createdAt: Int64
    /// The connection (any thread: CLIENT KILL, MONITOR, shutdown) and the handler serving this
    /// client (pub/sub commands). Strong, under `lock`, and cleared when the connection closes
    /// (`disconnect()`): the handler owns the transport and this session, so a reference back
    /// that outlived the connection made every closed connection a retain cycle (~150 KB
    /// leaked each). Not weak: a weak reference gives its object a side table, and every
    /// retain and release of the handler and the connection then takes the runtime's slow
    /// path (incrementSlow / doDecrementSlow): ~6 of each per request, ~700 user instructions
    /// per unpipelined GET on io_uring under callgrind (bench/results/engine.md, "Fewer
    /// instructions per request").
    private var _transport: ConnectionTransport?
    private var _connection: ConnectionHandler?
    var transport: ConnectionTransport? {
        get { lock.withLock { _transport } }
        set { lock.withLock { _transport = newValue } }
    }
    var connection: ConnectionHandler? {
        get { lock.withLock { _connection } }
        set { lock.withLock { _connection = newValue } }
    }

    /// The connection closed: drops the references back to it.
    func disconnect() {
        lock.withLock {
            _transport = nil
            _connection = nil
        }
    }

    // Touched only on the connection's loop.
    public var version: RESPVersion = .resp2
    public var authenticated: Bool
    var inMulti = false
    var multiQueue: [QueuedCommand] = []
    var multiFailed = false
    /// READONLY was sent (until READWRITE): a replica serves this client's reads of its shard.
    var clusterReadOnly = false
    /// CLUSTER LARDER.IMPORT was sent: this is a migration source's link, whose records for the
    /// slots this node imports run although the topology does not give it those slots yet.
    var clusterImportLink = false
    var watchFlag: WatchFlag? = nil
    var watchedKeys: [(shard: Int, db: Int, key: [UInt8])] = []
    var closeAfterReply = false
    /// Set by RESET: the handler drops watches (they live in shards).
    var resetRequested = false
    var noEvict = false, noTouch = false
    /// Set by WAIT when it must block: its deadline in ms (0 = forever); the connection then
    /// waits (ConnectionHandler.waitForReplicas).
    var waitDeadline: Int64? = nil
    /// CLIENT REPLY: `.skipArmed` is set by SKIP and becomes `.skipNext` for the next command.
    enum ReplyMode { case on, off, skipArmed, skipNext }
    var replyMode = ReplyMode.on
    /// The user's permissions as of `aclEpoch` (ACLState.epoch); refreshed by dispatch after a
    /// change, so the per-command check reads no lock.
    var acl: ACLPermissions
    var aclEpoch: Int
    /// `acl.unrestricted`, copied so the common case reads one Bool of the session.
    var aclUnrestricted: Bool

    // Read by other threads.
    // The six read or stored on every request or read are UnsafeAtomics over one allocation
    // of this session, freed by deinit: a ManagedAtomic reached through the session cost a
    // retain, a release and an out-of-line `_ptr` call per access (~35 user instructions each,
    // six to seven per unpipelined GET under callgrind; bench/results/engine.md, stop 26).
    let dbIndex: UnsafeAtomic<Int>
    let lastInteraction: UnsafeAtomic<Int>
    let lastCommandId: UnsafeAtomic<Int>
    /// Index into the last command's `subcommands` (-1 = none), for CLIENT LIST's `cmd=`.
    let lastSubcommandIndex = ManagedAtomic<Int>(-1)
    let commandCount: UnsafeAtomic<Int>
    let isMonitor = ManagedAtomic<Bool>(false)
    /// The connection's query buffer: bytes in it (the whole read while its commands run, as
    /// Redis' qbuf, then what is kept of a partial command; 0 when nothing is kept) and its
    /// unused capacity (qbuf-free). Stored once per read.
    let queryBufferBytes: UnsafeAtomic<Int>
    let queryBufferFree: UnsafeAtomic<Int>
    private let perRequestAtomics: UnsafeMutablePointer<UnsafeAtomic<Int>.Storage>
    private static let perRequestAtomicCount = 6
    /// Reply bytes queued in the channel beyond Redis' 16 KB reply chunk, and the writes that
    /// queued them since the socket last drained (CLIENT LIST omem / oll, events=rw). Stored
    /// only while the channel is over its write mark (ConnectionHandler.noteOutputQueued), so
    /// a client that reads its replies costs nothing here.
    let outputQueuedBytes = ManagedAtomic<Int>(0)
    let outputQueuedWrites = ManagedAtomic<Int>(0)
    /// Blocked in BLPOP & co. (CLIENT LIST flag b, INFO blocked_clients).
    let isBlocked = ManagedAtomic<Bool>(false)
    /// Channels, patterns and shard channels subscribed (CLIENT LIST sub= psub= ssub=, flag P).
    let subscribedChannels = ManagedAtomic<Int>(0)
    let subscribedPatterns = ManagedAtomic<Int>(0)
    let subscribedShardChannels = ManagedAtomic<Int>(0)
    /// In Redis' pub/sub mode (any subscription): a RESP2 client may only (un)subscribe, PING,
    /// QUIT and RESET. Touched only on the connection's loop.
    var inPubSubMode = false
    var blocked: Bool {
        get { isBlocked.load(ordering: .relaxed) }
        set { isBlocked.store(newValue, ordering: .relaxed) }
    }
    private let lock = NIOLock()
    private var _name = "", _libName = "", _libVersion = "", _userName = "default"
    private var _blockedClient: BlockedClient? = nil

    /// The wait of this client while it is blocked (BLPOP...), for CLIENT UNBLOCK from any thread.
    var blockedClient: BlockedClient? {
        get { lock.withLock { _blockedClient } }
        set { lock.withLock { _blockedClient = newValue } }
    }

    init(id: Int, transport: ConnectionTransport, authenticated: Bool, acl: ACLPermissions, aclEpoch: Int) {
        self.acl = acl
        self.aclEpoch = aclEpoch
        self.aclUnrestricted = acl.unrestricted
        self.id = id
        self._transport = transport
        self.address = transport.remoteAddress.map(Self.describe) ?? "?:0"
        self.localAddress = transport.localAddress.map(Self.describe) ?? "?:0"
        self.authenticated = authenticated
        let now = Clock.nowMilliseconds()
        self.createdAt = now
        let storage = UnsafeMutablePointer<UnsafeAtomic<Int>.Storage>.allocate(capacity: Self.perRequestAtomicCount)
        for (i, initial) in [Int(now), -1, 0, 0, 0, 0].enumerated() { (storage + i).initialize(to: .init(initial)) }
        self.perRequestAtomics = storage
        self.lastInteraction = UnsafeAtomic(at: storage)
        self.lastCommandId = UnsafeAtomic(at: storage + 1)
        self.commandCount = UnsafeAtomic(at: storage + 2)
        self.queryBufferBytes = UnsafeAtomic(at: storage + 3)
        self.queryBufferFree = UnsafeAtomic(at: storage + 4)
        self.dbIndex = UnsafeAtomic(at: storage + 5)
    }

    deinit {
        perRequestAtomics.deinitialize(count: Self.perRequestAtomicCount)
        perRequestAtomics.deallocate()
    }

    static func describe(_ a: SocketAddress) -> String {
        "\(a.ipAddress ?? "?"):\(a.port ?? 0)"
    }

    public var name: String {
        get { lock.withLock { _name } }
        set { lock.withLock { _name = newValue } }
    }
    /// The ACL user this client runs as (CLIENT LIST's `user=`, ACL WHOAMI).
    public var userName: String {
        get { lock.withLock { _userName } }
        set { lock.withLock { _userName = newValue } }
    }
    /// Runs as `permissions`' user from now on (AUTH, HELLO AUTH, RESET).
    func become(_ permissions: ACLPermissions, epoch: Int) {
        acl = permissions
        aclEpoch = epoch
        aclUnrestricted = permissions.unrestricted
        userName = permissions.userName
    }
    public var libName: String {
        get { lock.withLock { _libName } }
        set { lock.withLock { _libName = newValue } }
    }
    public var libVersion: String {
        get { lock.withLock { _libVersion } }
        set { lock.withLock { _libVersion = newValue } }
    }

    public var db: Int {
        get { dbIndex.load(ordering: .relaxed) }
        set { dbIndex.store(newValue, ordering: .relaxed) }
    }

    /// One CLIENT LIST / CLIENT INFO line, with Redis' field names and order.
    /// `own` is true when the client describes itself: only then is its MULTI queue (owned by
    /// its thread) read; other clients in MULTI show `multi=0`.
    /// `fd`: the connection's descriptor (SocketDescriptors), -1 when unknown.
    /// `argvBytes`: the arguments of the command running for this client (the CLIENT LIST or
    /// INFO call itself when it describes its own client; 0 for the others, which run nothing
    /// at that instant), Redis' argv-mem.
    /// `replyBytes`: replies to earlier commands of the same read not yet handed to the socket
    /// (Redis' obl: its 16 KB static buffer holds them until the loop writes), own client only.
    func describeLine(now: Int64, own: Bool = true, fd: Int = -1, argvBytes: Int = 0, replyBytes: Int = 0,
                      commandName: (Int) -> String) -> String {
        let age = (now - createdAt) / 1000
        let idle = (now - Int64(lastInteraction.load(ordering: .relaxed))) / 1000
        var flags = ""
        if isMonitor.load(ordering: .relaxed) { flags += "O" }
        if subscribedChannels.load(ordering: .relaxed) + subscribedPatterns.load(ordering: .relaxed)
            + subscribedShardChannels.load(ordering: .relaxed) > 0 { flags += "P" }
        if blocked { flags += "b" }
        if inMulti { flags += "x" }
        if flags.isEmpty { flags = "N" }
        let lastId = lastCommandId.load(ordering: .relaxed)
        let cmd = lastId >= 0 ? commandName(lastId) : "NULL"
        let qbuf = queryBufferBytes.load(ordering: .relaxed), qbufFree = queryBufferFree.load(ordering: .relaxed)
        let omem = outputQueuedBytes.load(ordering: .relaxed), oll = outputQueuedWrites.load(ordering: .relaxed)
        let events = oll + omem > 0 ? "rw" : "r"
        return "id=\(id) addr=\(address) laddr=\(localAddress) fd=\(fd) name=\(name) age=\(age) idle=\(idle) flags=\(flags) db=\(db) sub=\(subscribedChannels.load(ordering: .relaxed)) psub=\(subscribedPatterns.load(ordering: .relaxed)) ssub=\(subscribedShardChannels.load(ordering: .relaxed)) multi=\(inMulti ? (own ? multiQueue.count : 0) : -1) qbuf=\(qbuf) qbuf-free=\(qbufFree) argv-mem=\(argvBytes) multi-mem=0 rbs=16384 rbp=0 obl=\(replyBytes) oll=\(oll) omem=\(omem) tot-mem=\(qbuf + qbufFree + argvBytes + replyBytes + omem) events=\(events) cmd=\(cmd) user=\(userName) redir=-1 resp=\(version.rawValue) lib-name=\(libName) lib-ver=\(libVersion)"
    }
}

/// Every connected client, for CLIENT LIST/KILL, INFO clients, maxclients and MONITOR.
/// Connect and disconnect take the lock; the per-command path does not.
public final class ClientRegistry: @unchecked Sendable {
    private let lock = NIOLock()
    private var clients: [Int: ClientSession] = [:]
    private var monitors: [Int: ClientSession] = [:]
    private let nextId = ManagedAtomic<Int>(1)
    /// An UnsafeAtomic: dispatch reads it per command.
    let monitorCount = UnsafeAtomic<Int>.create(0)
    deinit { monitorCount.destroy() }
    let connectedCount = ManagedAtomic<Int>(0)
    let totalConnections = ManagedAtomic<Int>(0)
    let rejectedConnections = ManagedAtomic<Int>(0)

    func makeId() -> Int { nextId.loadThenWrappingIncrement(ordering: .relaxed) }

    func add(_ c: ClientSession) {
        lock.withLock { clients[c.id] = c }
        connectedCount.wrappingIncrement(ordering: .relaxed)
        totalConnections.wrappingIncrement(ordering: .relaxed)
    }

    func remove(_ c: ClientSession) {
        lock.withLock {
            if clients.removeValue(forKey: c.id) != nil { connectedCount.wrappingDecrement(ordering: .relaxed) }
            if monitors.removeValue(forKey: c.id) != nil { monitorCount.wrappingDecrement(ordering: .relaxed) }
        }
    }

    var all: [ClientSession] { lock.withLock { clients.values.sorted { $0.id < $1.id } } }

    func client(id: Int) -> ClientSession? { lock.withLock { clients[id] } }

    func addMonitor(_ c: ClientSession) {
        lock.withLock {
            if monitors.updateValue(c, forKey: c.id) == nil { monitorCount.wrappingIncrement(ordering: .relaxed) }
        }
        c.isMonitor.store(true, ordering: .relaxed)
    }

    func removeMonitor(_ c: ClientSession) {
        lock.withLock {
            if monitors.removeValue(forKey: c.id) != nil { monitorCount.wrappingDecrement(ordering: .relaxed) }
        }
        c.isMonitor.store(false, ordering: .relaxed)
    }

    var currentMonitors: [ClientSession] { lock.withLock { Array(monitors.values) } }
}
