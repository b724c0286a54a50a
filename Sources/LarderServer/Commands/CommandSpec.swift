import LarderRESP
import LarderStore

/// Command flags, named as in Redis' COMMAND INFO output.
public struct CommandFlags: OptionSet, Sendable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    public static let write = CommandFlags(rawValue: 1 << 0)
    public static let readonly = CommandFlags(rawValue: 1 << 1)
    public static let denyoom = CommandFlags(rawValue: 1 << 2)
    public static let admin = CommandFlags(rawValue: 1 << 3)
    public static let noscript = CommandFlags(rawValue: 1 << 4)
    public static let loading = CommandFlags(rawValue: 1 << 5)
    public static let stale = CommandFlags(rawValue: 1 << 6)
    public static let fast = CommandFlags(rawValue: 1 << 7)
    public static let noAuth = CommandFlags(rawValue: 1 << 8)
    public static let skipMonitor = CommandFlags(rawValue: 1 << 9)
    public static let random = CommandFlags(rawValue: 1 << 10)
    /// Not allowed inside MULTI (it is handled by the transaction machinery itself).
    public static let noMulti = CommandFlags(rawValue: 1 << 11)
    public static let allowBusy = CommandFlags(rawValue: 1 << 12)
    public static let noAsyncLoading = CommandFlags(rawValue: 1 << 13)
    public static let skipSlowlog = CommandFlags(rawValue: 1 << 14)
    /// May block the client (BLPOP...): it waits on its keys' shards (Families/Blocking.swift).
    public static let blocking = CommandFlags(rawValue: 1 << 15)
    /// The command finds its keys itself (as a Redis command with a getkeys_proc). COMMAND INFO
    /// also reports it for every command whose key specs are not fixed
    /// (CommandDescription.withMovableKeys), which is how every row here gets it today.
    public static let movableKeys = CommandFlags(rawValue: 1 << 16)
    /// Larder's own (not in COMMAND INFO): allowed to a RESP2 client in pub/sub mode
    /// ((P|S)SUBSCRIBE, (P|S)UNSUBSCRIBE, PING, QUIT, RESET), as Redis 7.0's processCommand.
    public static let allowedInPubSub = CommandFlags(rawValue: 1 << 17)
    public static let pubsub = CommandFlags(rawValue: 1 << 18)
    /// Redis' may_replicate: not a write, but propagated (PUBLISH): CLIENT PAUSE WRITE holds it.
    /// Redis 7.0's COMMAND INFO does not print it, so it is not in `names`.
    public static let mayReplicate = CommandFlags(rawValue: 1 << 19)

    /// In the order Redis prints them in COMMAND INFO.
    static let names: [(CommandFlags, String)] = [
        (.write, "write"), (.readonly, "readonly"), (.denyoom, "denyoom"), (.admin, "admin"), (.pubsub, "pubsub"),
        (.noscript, "noscript"), (.blocking, "blocking"), (.random, "random"), (.loading, "loading"), (.stale, "stale"),
        (.skipMonitor, "skip_monitor"), (.skipSlowlog, "skip_slowlog"), (.fast, "fast"),
        (.noAuth, "no_auth"), (.noAsyncLoading, "no_async_loading"), (.noMulti, "no_multi"),
        (.movableKeys, "movablekeys"), (.allowBusy, "allow_busy"),
    ]
    public var names: [String] { Self.names.filter { contains($0.0) }.map { $0.1 } }
}

/// Where a command's keys are, Redis' (first, last, step) convention: `last` -1 means the last
/// argument, -2 the one before it. A command with no keys has first = 0.
public struct KeyPositions: Sendable {
    public let first: Int, last: Int, step: Int
    /// Movable keys (LMPOP numkeys key...): the index of the count argument, the keys follow it;
    /// 0 when the keys are at fixed positions. Such a command reports (0, 0, 0) in COMMAND INFO,
    /// as Redis does, and its keys are read from the arguments (`forEach(_:count:_:)`).
    public var keyCountIndex = 0
    /// SORT's optional STORE key, found by skipping SORT's options (SortFamily.storeKeyIndex),
    /// after the fixed positions.
    public var sortStoreKey = false
    public static let none = KeyPositions(first: 0, last: 0, step: 0)
    public static let one = KeyPositions(first: 1, last: 1, step: 1)
    public static func range(_ f: Int, _ l: Int, _ s: Int) -> KeyPositions { KeyPositions(first: f, last: l, step: s) }
    public static func counted(at index: Int) -> KeyPositions {
        var k = KeyPositions(first: 0, last: 0, step: 0)
        k.keyCountIndex = index
        return k
    }
    /// A fixed key at `fixed` followed by counted keys (ZUNIONSTORE destination numkeys key...):
    /// COMMAND INFO reports (fixed, fixed, 1), as Redis does.
    public static func counted(at index: Int, after fixed: Int) -> KeyPositions {
        var k = KeyPositions(first: fixed, last: fixed, step: 1)
        k.keyCountIndex = index
        return k
    }

    /// SORT key [... STORE destination].
    public static let sortKeys: KeyPositions = {
        var k = KeyPositions.one
        k.sortStoreKey = true
        return k
    }()

    /// The index of the first key, the routed one (0 when there is none).
    @inline(__always) public var firstKeyIndex: Int { keyCountIndex > 0 ? (first > 0 ? first : keyCountIndex + 1) : first }

    /// The argument indexes of the keys of one call, movable keys included: `argument(i)` gives
    /// the bytes of argument i. A count that is not a positive integer, or names more keys than
    /// there are arguments, gives no keys (the command then replies its error without touching
    /// any key).
    @inline(__always) public func forEach(argc: Int, argument: (Int) -> UnsafeRawBufferPointer, _ body: (Int) -> Void) {
        guard keyCountIndex > 0 else {
            forEach(argc: argc, body)
            if sortStoreKey, let i = SortFamily.storeKeyIndex(argc: argc, argument: argument) { body(i) }
            return
        }
        guard keyCountIndex < argc else { return }
        if first > 0 { body(first) }
        let a = argument(keyCountIndex)
        guard let n = RESPParser.parseInteger(a, from: 0, to: a.count), n > 0, n <= argc - keyCountIndex - 1 else { return }
        for i in keyCountIndex + 1...keyCountIndex + n { body(i) }
    }

    public func forEach(_ args: Arguments, _ body: (Int) -> Void) {
        forEach(argc: args.count, argument: { args[$0] }, body)
    }

    /// The argument indexes of the keys in a call with `argc` arguments.
    @inline(__always) public func forEach(argc: Int, _ body: (Int) -> Void) {
        guard first > 0 else { return }
        let lastIndex = last < 0 ? argc + last : last
        var i = first
        while i <= lastIndex && i < argc { body(i); i += max(step, 1) }
    }
}

/// How a command is routed to the thread that runs it.
public enum CommandRoute: Sendable {
    /// Touches no keyspace; runs on the connection's thread with its state.
    case connection
    /// Touches the keys at its key positions; runs on the owning shard's thread, or borrows
    /// every involved shard when its keys span several.
    case keys
    /// Needs every shard (DBSIZE, KEYS, SCAN, FLUSHALL, INFO...): borrows all of them and runs
    /// on the connection's thread.
    case allShards
    /// Like `.keys`, but must run on the connection's thread because it also changes the
    /// client's session (WATCH): the involved shards are borrowed even when there is one.
    case keysWithSession
    /// MULTI, EXEC, DISCARD: handled by the connection's transaction logic, never queued.
    case transaction
}

/// Runs a data command. `ctx` resolves keys to the keyspaces this execution may touch.
public typealias DataHandler = (inout CommandContext, Arguments) -> Void

/// One row of the command table: COMMAND, dispatch and routing all read from here.
/// A class: dispatch hands it around once per command, and copying a struct of five strings,
/// an array and a closure cost seven retain/release pairs each time.
public final class CommandSpec {
    public let name: String          // lower case, as COMMAND reports it
    public let arity: Int            // Redis convention: n exact, -n at least n
    public let flags: CommandFlags
    public let keys: KeyPositions
    public let route: CommandRoute
    public let group: String         // COMMAND DOCS group: string, hash, generic, connection, server, transactions
    /// Documentation given here only for commands Redis 7.0 does not document; every other
    /// command's docs come from RedisCommandDocs (generated), so each fact has one source.
    public let ownSummary: String?
    public let ownSince: String?
    public let handler: DataHandler
    /// For a call that reads keys its key positions do not list (SORT's BY/GET patterns):
    /// routing then borrows every shard for it. nil for every other command.
    public let namesUnlistedKeys: ((Arguments) -> Bool)?
    public let subcommands: [String]
    /// Index in the table, used by per-command statistics.
    public internal(set) var id: Int = 0

    public init(_ name: String, arity: Int, flags: CommandFlags, keys: KeyPositions = .none,
                route: CommandRoute? = nil, group: String, summary: String? = nil, since: String? = nil,
                subcommands: [String] = [], namesUnlistedKeys: ((Arguments) -> Bool)? = nil,
                handler: @escaping DataHandler) {
        self.namesUnlistedKeys = namesUnlistedKeys
        self.name = name; self.arity = arity; self.flags = flags; self.keys = keys
        self.route = route ?? (keys.firstKeyIndex > 0 ? .keys : .connection)
        self.group = group; self.ownSummary = summary; self.ownSince = since
        self.subcommands = subcommands
        // A write command's lookups are not keyspace hits or misses (CommandContext.countsLookups).
        let counted: DataHandler = flags.contains(.write) ? { ctx, args in ctx.countsLookups = false; handler(&ctx, args) } : handler
        // maxmemory: a write that may add data counts what it adds and, over the limit, evicts
        // first or is refused (MemoryLimit.swift); one relaxed load when no limit is set.
        self.handler = flags.contains(.denyoom) ? { ctx, args in
            guard ctx.makeRoomForWrite(args) else { ctx.out.error(MemoryLimit.oomError); return }
            counted(&ctx, args)
        } : counted
    }

    @inline(__always) public func arityOK(_ argc: Int) -> Bool {
        arity >= 0 ? argc == arity : argc >= -arity
    }
}
