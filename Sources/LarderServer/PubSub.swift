import Atomics
import LarderRESP
import LarderStore
import NIOConcurrencyHelpers
import NIOCore

/// Pub/sub, shared-nothing (Redis' pubsub.c spread over the loops).
///
/// Each event loop keeps its own `PubSubRegistry` (one per `ShardWorker`) of the subscriptions
/// of the connections it serves; only that loop touches it. A PUBLISH delivers at once to the
/// subscribers of its own loop and sends the message, batched per read (`PublishFanout`), to
/// every other loop that has any subscription (`PubSubRegistry.active`, one relaxed load per
/// loop); each of those delivers to its own subscribers and sends back how many received it. The
/// publisher's reply waits in its reply stream like a remote command's, so the count is the
/// number of clients that got the message, as Redis replies.
///
/// Order across senders (docs/ARCHITECTURE.md "Pub/sub"): every delivery to another loop goes
/// with `ShardWorker.sendOrdered`, and every delivery on the publishing loop itself is preceded
/// by `catchUpOrdered`, so if one publication happens before another (whatever threads made
/// them) a subscriber receives the first one's message first, as on Redis' one thread.
///
/// `PubSubDirectory` is the one shared table, behind a lock, and only SUBSCRIBE/UNSUBSCRIBE and
/// the introspection (PUBSUB CHANNELS/NUMSUB/NUMPAT, INFO) take it: publishing never does.

/// The subscriptions of one client; lives on (and only touched by) the client's loop.
final class PubSubSubscriber {
    weak var connection: ConnectionHandler?
    let session: ClientSession
    /// In subscription order (UNSUBSCRIBE without arguments replies in this order).
    var channels: [[UInt8]] = []
    var patterns: [[UInt8]] = []
    var shardChannels: [[UInt8]] = []

    init(connection: ConnectionHandler, session: ClientSession) {
        self.connection = connection
        self.session = session
    }

    /// Redis' clientSubscriptionsCount: the count SUBSCRIBE/PSUBSCRIBE replies.
    var count: Int { channels.count + patterns.count }
    var total: Int { channels.count + patterns.count + shardChannels.count }
}

enum PubSubKind: Int {
    case channel = 0, pattern = 1, shard = 2
}

/// Every subscription of the connections of one loop. Touched only on that loop.
final class PubSubRegistry {
    private var channels: [[UInt8]: [PubSubSubscriber]] = [:]
    private var shardChannels: [[UInt8]: [PubSubSubscriber]] = [:]
    private var patterns: [[UInt8]: [PubSubSubscriber]] = [:]
    /// Subscriptions of every kind on this loop, read by publishers on other loops (and by
    /// keyspace notifications) to skip a loop nobody listens on: one relaxed load.
    let active = ManagedAtomic<Int>(0)
    /// Connections that received a message and are flushed once at the end of this loop turn.
    private var toFlush: [ConnectionHandler] = []
    private var flushScheduled = false
    /// Bytes of messages a connection may have handed to the kernel's way and not yet written
    /// before it is closed (Redis' `client-output-buffer-limit pubsub` hard limit, 32 MB).
    static let outputHardLimit = 32 * 1024 * 1024

    func add(_ kind: PubSubKind, _ name: [UInt8], _ s: PubSubSubscriber) {
        switch kind {
        case .channel: channels[name, default: []].append(s)
        case .pattern: patterns[name, default: []].append(s)
        case .shard: shardChannels[name, default: []].append(s)
        }
        active.wrappingIncrement(ordering: .relaxed)
    }

    func remove(_ kind: PubSubKind, _ name: [UInt8], _ s: PubSubSubscriber) {
        func drop(_ table: inout [[UInt8]: [PubSubSubscriber]]) {
            guard var list = table[name], let i = list.firstIndex(where: { $0 === s }) else { return }
            list.remove(at: i)
            table[name] = list.isEmpty ? nil : list
            active.wrappingDecrement(ordering: .relaxed)
        }
        switch kind {
        case .channel: drop(&channels)
        case .pattern: drop(&patterns)
        case .shard: drop(&shardChannels)
        }
    }

    /// Delivers one message to this loop's subscribers; returns how many received it (a client
    /// subscribed to the channel and to a matching pattern receives it twice, as in Redis).
    func deliver(channel: UnsafeRawBufferPointer, message: UnsafeRawBufferPointer, sharded: Bool, loop: EventLoop) -> Int {
        if active.load(ordering: .relaxed) == 0 { return 0 }
        var receivers = 0
        let key = [UInt8](channel)
        if sharded {
            for s in shardChannels[key] ?? [] where push(s, loop: loop, 3, { w in
                w.bulk("smessage" as StaticString); w.bulk(channel); w.bulk(message)
            }) { receivers += 1 }
            return receivers
        }
        for s in channels[key] ?? [] where push(s, loop: loop, 3, { w in
            w.bulk("message" as StaticString); w.bulk(channel); w.bulk(message)
        }) { receivers += 1 }
        for (pattern, list) in patterns where pattern.withUnsafeBytes({ Glob.match($0, channel) }) {
            for s in list where push(s, loop: loop, 4, { w in
                w.bulk("pmessage" as StaticString); w.bulk(pattern); w.bulk(channel); w.bulk(message)
            }) { receivers += 1 }
        }
        return receivers
    }

    /// Writes one message frame (a push in RESP3, an array in RESP2) into the client's reply
    /// stream and schedules one flush for this loop turn.
    private func push(_ s: PubSubSubscriber, loop: EventLoop, _ elements: Int, _ body: (ReplyWriter) -> Void) -> Bool {
        guard let c = s.connection, c.session != nil, !c.channelClosed else { return false }
        if c.pubsubBytesInFlight > Self.outputHardLimit {
            // The client does not read: close it rather than buffer without bound (Redis'
            // client-output-buffer-limit pubsub 32mb hard limit). Redis counts it as received.
            c.closeForOutputLimit()
            return true
        }
        c.emit { w in
            if w.version == .resp3 { w.pushHeader(elements) } else { w.arrayHeader(elements) }
            body(w)
        }
        toFlush.append(c)
        if !flushScheduled {
            flushScheduled = true
            loop.execute { [self] in
                flushScheduled = false
                let list = toFlush
                toFlush.removeAll(keepingCapacity: true)
                var seen = Set<ObjectIdentifier>()
                for c in list where seen.insert(ObjectIdentifier(c)).inserted { c.flush() }
            }
        }
        return true
    }
}

/// The messages one connection published during one read, for the other loops: sent as one
/// task per loop that has subscribers, whose counts come back and are added to the local ones.
final class PublishFanout {
    struct Message {
        let channel: [UInt8]
        let message: [UInt8]
        let sharded: Bool
    }
    var messages: [Message] = []
    /// Receivers of each message; starts with the publisher's own loop's count.
    var counts: [Int] = []
    /// Loops whose counts have not come back yet; 1 until sent (set by `send`).
    var outstanding = 1
    var isDone: Bool { outstanding == 0 }

    func add(_ channel: UnsafeRawBufferPointer, _ message: UnsafeRawBufferPointer, sharded: Bool, localCount: Int) -> Int {
        messages.append(Message(channel: [UInt8](channel), message: [UInt8](message), sharded: sharded))
        counts.append(localCount)
        return counts.count - 1
    }
}

/// Which channels and patterns have subscribers anywhere, with how many: the answer to PUBSUB
/// CHANNELS/NUMSUB/NUMPAT/SHARDCHANNELS/SHARDNUMSUB and INFO's pubsub_*. Changed only by
/// (un)subscribing; publishing never reads it (except inside EXEC, see `ConnectionHandler.publish`).
final class PubSubDirectory: @unchecked Sendable {
    private let lock = NIOLock()
    private var tables: [[[UInt8]: Int]] = [[:], [:], [:]]

    func added(_ kind: PubSubKind, _ name: [UInt8]) {
        lock.withLock { tables[kind.rawValue][name, default: 0] += 1 }
    }

    func removed(_ kind: PubSubKind, _ name: [UInt8]) {
        lock.withLock {
            let n = (tables[kind.rawValue][name] ?? 1) - 1
            tables[kind.rawValue][name] = n > 0 ? n : nil
        }
    }

    func count(_ kind: PubSubKind) -> Int { lock.withLock { tables[kind.rawValue].count } }

    func subscribers(_ kind: PubSubKind, _ name: [UInt8]) -> Int { lock.withLock { tables[kind.rawValue][name] ?? 0 } }

    /// Names with subscribers, optionally matching a glob pattern.
    func names(_ kind: PubSubKind, matching pattern: [UInt8]?) -> [[UInt8]] {
        let all = lock.withLock { Array(tables[kind.rawValue].keys) }
        guard let pattern else { return all }
        return all.filter { name in pattern.withUnsafeBytes { p in name.withUnsafeBytes { Glob.match(p, $0) } } }
    }

    /// How many clients a message to `channel` reaches now: its subscribers plus those of every
    /// matching pattern (PUBLISH inside EXEC, where the reply cannot wait for the other loops).
    func receivers(channel: [UInt8], sharded: Bool) -> Int {
        lock.withLock {
            if sharded { return tables[PubSubKind.shard.rawValue][channel] ?? 0 }
            var n = tables[PubSubKind.channel.rawValue][channel] ?? 0
            for (p, c) in tables[PubSubKind.pattern.rawValue] {
                if p.withUnsafeBytes({ pp in channel.withUnsafeBytes { Glob.match(pp, $0) } }) { n += c }
            }
            return n
        }
    }
}

extension ShardWorker {
    /// Sends a pub/sub delivery to this worker's loop from another thread: after every one whose
    /// send happened before it (LoopInbox on the engines; NIO's one FIFO queue per loop).
    func sendOrdered(_ task: @escaping @Sendable () -> Void) {
        if let inbox { inbox.enqueueOrdered(task) } else { loop.execute(task) }
    }

    /// On this worker's loop, before it delivers a publication directly: the deliveries other
    /// threads already sent it go first. One atomic load when there are none; nothing on NIO,
    /// whose queue runs them before whatever came after them.
    @inline(__always)
    func catchUpOrdered() { inbox?.catchUp() }
}

extension ServerState {
    /// Publishes from whatever thread runs (keyspace notifications: the shard's loop, or the
    /// loop holding it in a borrow): this loop's subscribers now, the other loops' by one task
    /// each, only to loops with subscriptions. No count is needed.
    func publishEverywhere(channel: [UInt8], message: [UInt8]) {
        for w in workers where w.pubsub.active.load(ordering: .relaxed) > 0 {
            if w.loop.inEventLoop {
                w.catchUpOrdered()
                channel.withUnsafeBytes { c in message.withUnsafeBytes { m in
                    _ = w.pubsub.deliver(channel: c, message: m, sharded: false, loop: w.loop)
                } }
            } else {
                let loop = w.loop
                w.sendOrdered {
                    channel.withUnsafeBytes { c in message.withUnsafeBytes { m in
                        _ = w.pubsub.deliver(channel: c, message: m, sharded: false, loop: loop)
                    } }
                }
            }
        }
    }
}
