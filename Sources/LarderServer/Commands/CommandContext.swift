import LarderRESP
import LarderStore

/// Everything a command handler may use while it runs: where to write its reply, the keyspaces
/// it may touch, the clock, and (only on the connection's own thread) the client's session.
///
/// `out`, `session` and `server` are unowned(unsafe): a context lives only while its creator
/// runs one command, and every creator holds all three for longer (the connection handler, the
/// remote batch, the AOF loader). Strong references cost a retain each when the context is made
/// and a release each when it is dropped, once per command (engine.md, stop 26).
public struct CommandContext {
    public unowned(unsafe) let out: ReplyWriter
    public var dbIndex: Int
    /// Milliseconds since the epoch, read once per batch (as Redis caches mstime per command).
    public let now: Int64
    /// The shards this execution holds, indexed by shard number; nil = not accessible here.
    let shards: [Shard?]
    let shardCount: Int
    /// The client, when running on its own thread (connection commands, borrowed executions).
    public unowned(unsafe) let session: ClientSession?
    public unowned(unsafe) let server: ServerState
    /// The first key's hash as routing computed it, so the key is hashed once per command:
    /// `db(for:)` reuses it for that very argument (same bytes: same start and length).
    var routedKey: UnsafeRawBufferPointer? = nil
    var routedKeyHash: UInt64 = 0
    /// Whether lookups count as keyspace hits/misses: false while a `.write` command runs
    /// (Redis' lookupKeyWrite), set by the command's handler wrapper (`CommandSpec.init`).
    public var countsLookups = true
    /// Whether a lookup that finds its key records an access (the key's LRU clock or LFU
    /// counter, KeyAccess): false in the commands Redis looks up with LOOKUP_NOTOUCH (TYPE,
    /// EXISTS, TTL and its kin, OBJECT, MEMORY USAGE), so inspecting a key does not save it
    /// from eviction.
    public var touchesKeys = true
    /// Set for a blocking command run outside MULTI: when it finds nothing, it fills
    /// `blockRequest` instead of replying, and the connection blocks (Blocking.swift).
    var mayBlock = false
    var blockRequest: BlockRequest? = nil
    /// Set where WAIT may block its client (run by the connection itself, not inside EXEC).
    var mayBlockForReplicas = false

    init(out: ReplyWriter, dbIndex: Int, now: Int64, shards: [Shard?], session: ClientSession?, server: ServerState) {
        self.out = out; self.dbIndex = dbIndex; self.now = now; self.shards = shards
        self.shardCount = shards.count; self.session = session; self.server = server
    }

    /// The keyspace that owns `key` in the selected database, and the key's hash.
    @inline(__always)
    public func db(for key: UnsafeRawBufferPointer) -> (db: Keyspace, hash: UInt64) {
        let h: UInt64
        if let r = routedKey, r.baseAddress == key.baseAddress, r.count == key.count { h = routedKeyHash }
        else { h = ByteHash.hash(key) }
        let s = shardCount == 1 ? 0 : ServerState.shardIndex(hash: h, count: shardCount)
        // Routing guarantees the owning shard is held; see ConnectionHandler.route.
        return (shards[s]!.databases[dbIndex], h)
    }

    /// Looks a key up (with lazy expiry) in its keyspace. `read`: the command reads the value
    /// for the client even though it writes (GETDEL, SET GET...), so the lookup counts as a
    /// keyspace hit or miss as in a read command.
    @inline(__always)
    public func lookup(_ key: UnsafeRawBufferPointer, read: Bool = false) -> (db: Keyspace, hash: UInt64, slot: Int?) {
        let (db, h) = db(for: key)
        let slot = db.lookup(key, hash: h, now: now, counted: read || countsLookups)
        if let slot, touchesKeys { db.recordAccess(slot, now: now) }
        return (db, h, slot)
    }

    /// Every held shard (all of them for `.allShards` commands).
    public var heldShards: [Shard] { shards.compactMap { $0 } }

    /// The selected database of every held shard.
    public var heldDatabases: [Keyspace] { shards.compactMap { $0?.databases[dbIndex] } }

    // MARK: common replies (texts as Redis sends them)

    public func wrongType() {
        out.error("WRONGTYPE Operation against a key holding the wrong kind of value" as StaticString)
    }
    public func notInteger() { out.error("ERR value is not an integer or out of range" as StaticString) }
    public func notFloat() { out.error("ERR value is not a valid float" as StaticString) }
    public func syntaxError() { out.error("ERR syntax error" as StaticString) }
    public func wrongArity(_ name: String) {
        out.error("ERR wrong number of arguments for '\(name)' command")
    }
}
