/// A value in the keyspace. Strings are byte arrays; hashes are `HashObject`s (a reference, so
/// a hash is changed in place without copying the table slot); lists are `ListObject`s, sets
/// `SetObject`s, sorted sets `ZSetObject`s.
public enum StoredValue {
    case string([UInt8])
    case hash(HashObject)
    case list(ListObject)
    case set(SetObject)
    case zset(ZSetObject)

    public var typeName: StaticString {
        switch self {
        case .string: return "string"
        case .hash: return "hash"
        case .list: return "list"
        case .set: return "set"
        case .zset: return "zset"
        }
    }

    public var memoryUsage: Int {
        switch self {
        case .string(let s): return 16 + s.capacity + 32
        case .hash(let h): return h.memoryUsage
        case .list(let l): return l.memoryUsage
        case .set(let s): return s.memoryUsage
        case .zset(let z): return z.memoryUsage
        }
    }
}

/// Watchers registered by WATCH on a key; a write to the key marks them dirty so a later EXEC
/// aborts. Shared by the connection and the shard: it is only read by the connection after a
/// shard hop, which orders the accesses.
public final class WatchFlag {
    public var dirty = false
    public init() {}
}
