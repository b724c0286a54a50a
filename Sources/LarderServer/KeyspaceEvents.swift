import LarderRESP
import LarderStore

/// Keyspace notifications (Redis' notify.c): `notify-keyspace-events` as Redis' flag bits, and
/// the publication of one event from the thread where the change happened.
///
/// Off (the default) costs a write one relaxed load of `ServerState.keyspaceEvents`
/// (`CommandContext.notify`); on, an event is published like a PUBLISH from that thread
/// (`ServerState.publishEverywhere`): this loop's subscribers at once, each other loop with
/// subscribers by one task.
public struct KeyspaceEventFlags: OptionSet, Sendable {
    public let rawValue: Int
    public init(rawValue: Int) { self.rawValue = rawValue }
    public static let keyspace = KeyspaceEventFlags(rawValue: 1 << 0)  // K
    public static let keyevent = KeyspaceEventFlags(rawValue: 1 << 1)  // E
    public static let generic = KeyspaceEventFlags(rawValue: 1 << 2)   // g
    public static let string = KeyspaceEventFlags(rawValue: 1 << 3)    // $
    public static let list = KeyspaceEventFlags(rawValue: 1 << 4)      // l
    public static let set = KeyspaceEventFlags(rawValue: 1 << 5)       // s
    public static let hash = KeyspaceEventFlags(rawValue: 1 << 6)      // h
    public static let zset = KeyspaceEventFlags(rawValue: 1 << 7)      // z
    public static let expired = KeyspaceEventFlags(rawValue: 1 << 8)   // x
    public static let evicted = KeyspaceEventFlags(rawValue: 1 << 9)   // e
    public static let stream = KeyspaceEventFlags(rawValue: 1 << 10)   // t
    public static let keyMiss = KeyspaceEventFlags(rawValue: 1 << 11)  // m
    public static let module = KeyspaceEventFlags(rawValue: 1 << 12)   // d
    public static let newKey = KeyspaceEventFlags(rawValue: 1 << 13)   // n
    /// A: g$lshzxetd (not m, not n), as Redis' NOTIFY_ALL.
    public static let all: KeyspaceEventFlags = [.generic, .string, .list, .set, .hash, .zset, .expired, .evicted, .stream, .module]

    /// Redis' keyspaceEventsStringToFlags: nil for a character outside "Ag$lshzxeKEtmdn".
    public init?(text: String) {
        var f: KeyspaceEventFlags = []
        for c in text {
            switch c {
            case "A": f.formUnion(.all)
            case "g": f.insert(.generic)
            case "$": f.insert(.string)
            case "l": f.insert(.list)
            case "s": f.insert(.set)
            case "h": f.insert(.hash)
            case "z": f.insert(.zset)
            case "x": f.insert(.expired)
            case "e": f.insert(.evicted)
            case "K": f.insert(.keyspace)
            case "E": f.insert(.keyevent)
            case "t": f.insert(.stream)
            case "m": f.insert(.keyMiss)
            case "d": f.insert(.module)
            case "n": f.insert(.newKey)
            default: return nil
            }
        }
        self = f
    }

    /// Redis 7.0.15's keyspaceEventsFlagsToString, quirk included: with every class of A set it
    /// prints "A" and leaves out `n`.
    public var text: String {
        var s = ""
        if isSuperset(of: .all) { s = "A" } else {
            let order: [(KeyspaceEventFlags, String)] = [
                (.generic, "g"), (.string, "$"), (.list, "l"), (.set, "s"), (.hash, "h"), (.zset, "z"),
                (.expired, "x"), (.evicted, "e"), (.stream, "t"), (.module, "d"), (.newKey, "n")]
            for (flag, c) in order where contains(flag) { s += c }
        }
        if contains(.keyspace) { s += "K" }
        if contains(.keyevent) { s += "E" }
        if contains(.keyMiss) { s += "m" }
        return s
    }
}

extension ServerState {
    /// Redis' notifyKeyspaceEvent: `__keyspace@<db>__:<key>` with the event, and/or
    /// `__keyevent@<db>__:<event>` with the key. Out of line: only called when the class is on.
    @inline(never)
    func publishKeyspaceEvent(_ event: StaticString, key: UnsafeRawBufferPointer, db: Int, flags: Int) {
        let eventBytes = UnsafeRawBufferPointer(start: event.utf8Start, count: event.utf8CodeUnitCount)
        if flags & KeyspaceEventFlags.keyspace.rawValue != 0 {
            var channel = Array("__keyspace@\(db)__:".utf8)
            channel.append(contentsOf: key)
            publishEverywhere(channel: channel, message: [UInt8](eventBytes))
        }
        if flags & KeyspaceEventFlags.keyevent.rawValue != 0 {
            var channel = Array("__keyevent@\(db)__:".utf8)
            channel.append(contentsOf: eventBytes)
            publishEverywhere(channel: channel, message: [UInt8](key))
        }
    }

    /// An event from outside a command (expiry, the embedded load): one load when off.
    @inline(__always)
    func notifyKeyspace(_ type: KeyspaceEventFlags, _ event: StaticString, key: UnsafeRawBufferPointer, db: Int) {
        let flags = keyspaceEvents.load(ordering: .relaxed)
        if flags & type.rawValue != 0 { publishKeyspaceEvent(event, key: key, db: db, flags: flags) }
    }
}

extension ServerState {
    /// A Feast hash written outside a command (FEATURES.PUSH, the HTTP push, the embedded
    /// load): the "hset" event an HSET would publish.
    @inline(__always)
    public func notifyHashWritten(key: UnsafeRawBufferPointer, db: Int) {
        notifyKeyspace(.hash, "hset", key: key, db: db)
    }
}

extension CommandContext {
    /// A keyspace event for `key` in the selected database, as Redis' command code calls
    /// notifyKeyspaceEvent. Off: one relaxed load. Zsets (another branch) call it the same way:
    /// `ctx.notify(.zset, "zadd", key)`, "zincr", "zrem", "zremrangebyscore", ... (notify.c names).
    @inline(__always)
    public func notify(_ type: KeyspaceEventFlags, _ event: StaticString, _ key: UnsafeRawBufferPointer) {
        let flags = server.keyspaceEvents.load(ordering: .relaxed)
        if flags & type.rawValue != 0 { server.publishKeyspaceEvent(event, key: key, db: dbIndex, flags: flags) }
    }
}
