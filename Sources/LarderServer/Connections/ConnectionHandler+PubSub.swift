import LarderRESP
import LarderStore
import NIOCore

/// A connection's side of pub/sub (PubSub.swift): its subscriptions live in its loop's
/// registry; its PUBLISH replies wait for the other loops' counts.
extension ConnectionHandler {
    private var registry: PubSubRegistry { worker.pubsub }

    /// SUBSCRIBE / PSUBSCRIBE / SSUBSCRIBE: one confirmation per name, as Redis.
    func subscribe(_ kind: PubSubKind, _ args: Arguments, out: ReplyWriter) {
        let s = subscriber ?? PubSubSubscriber(connection: self, session: session)
        subscriber = s
        for i in 1..<args.count {
            let name = args.bytes(i)
            switch kind {
            case .channel:
                if !s.channels.contains(name) { s.channels.append(name); added(kind, name) }
            case .pattern:
                if !s.patterns.contains(name) { s.patterns.append(name); added(kind, name) }
            case .shard:
                if !s.shardChannels.contains(name) { s.shardChannels.append(name); added(kind, name) }
            }
            confirmation(out, kind, subscribing: true, name: name, count: kind == .shard ? s.shardChannels.count : s.count)
        }
        updateCounts()
    }

    /// UNSUBSCRIBE / PUNSUBSCRIBE / SUNSUBSCRIBE: the names given, or every one of the kind
    /// (in subscription order); with none at all, one confirmation with a null name.
    func unsubscribe(_ kind: PubSubKind, _ args: Arguments, out: ReplyWriter) {
        let s = subscriber
        var names: [[UInt8]]
        if args.count > 1 { names = (1..<args.count).map { args.bytes($0) } } else {
            switch kind {
            case .channel: names = s?.channels ?? []
            case .pattern: names = s?.patterns ?? []
            case .shard: names = s?.shardChannels ?? []
            }
        }
        if names.isEmpty {
            confirmation(out, kind, subscribing: false, name: nil, count: kind == .shard ? (s?.shardChannels.count ?? 0) : (s?.count ?? 0))
        }
        for name in names {
            if let s { removeSubscription(s, kind, name) }
            confirmation(out, kind, subscribing: false, name: name,
                         count: kind == .shard ? (s?.shardChannels.count ?? 0) : (s?.count ?? 0))
        }
        updateCounts()
    }

    private func removeSubscription(_ s: PubSubSubscriber, _ kind: PubSubKind, _ name: [UInt8]) {
        func drop(_ list: inout [[UInt8]]) -> Bool {
            guard let i = list.firstIndex(of: name) else { return false }
            list.remove(at: i)
            return true
        }
        let removed: Bool
        switch kind {
        case .channel: removed = drop(&s.channels)
        case .pattern: removed = drop(&s.patterns)
        case .shard: removed = drop(&s.shardChannels)
        }
        if removed {
            registry.remove(kind, name, s)
            server.pubsub.removed(kind, name)
        }
    }

    private func added(_ kind: PubSubKind, _ name: [UInt8]) {
        registry.add(kind, name, subscriber!)
        server.pubsub.added(kind, name)
    }

    private func updateCounts() {
        guard let s = subscriber else { return }
        session.subscribedChannels.store(s.channels.count, ordering: .relaxed)
        session.subscribedPatterns.store(s.patterns.count, ordering: .relaxed)
        session.subscribedShardChannels.store(s.shardChannels.count, ordering: .relaxed)
        session.inPubSubMode = s.total > 0
    }

    /// Connection closed, or RESET: every subscription goes.
    func unsubscribeAll() {
        guard let s = subscriber else { return }
        for c in s.channels { registry.remove(.channel, c, s); server.pubsub.removed(.channel, c) }
        for p in s.patterns { registry.remove(.pattern, p, s); server.pubsub.removed(.pattern, p) }
        for c in s.shardChannels { registry.remove(.shard, c, s); server.pubsub.removed(.shard, c) }
        s.channels = []; s.patterns = []; s.shardChannels = []
        updateCounts()
        subscriber = nil
    }

    /// Redis' addReplyPubsubSubscribed / Unsubscribed: a push frame in RESP3, an array in RESP2.
    private func confirmation(_ out: ReplyWriter, _ kind: PubSubKind, subscribing: Bool, name: [UInt8]?, count: Int) {
        if session.version == .resp3 { out.pushHeader(3) } else { out.arrayHeader(3) }
        switch (kind, subscribing) {
        case (.channel, true): out.bulk("subscribe" as StaticString)
        case (.channel, false): out.bulk("unsubscribe" as StaticString)
        case (.pattern, true): out.bulk("psubscribe" as StaticString)
        case (.pattern, false): out.bulk("punsubscribe" as StaticString)
        case (.shard, true): out.bulk("ssubscribe" as StaticString)
        case (.shard, false): out.bulk("sunsubscribe" as StaticString)
        }
        if let name { out.bulk(name) } else { out.null() }
        out.integer(count)
    }

    /// PUBLISH / SPUBLISH: delivers on this loop now; when another loop has subscribers, the
    /// message joins this read's fan-out and the reply waits for their counts.
    func publish(channel: UnsafeRawBufferPointer, message: UnsafeRawBufferPointer, sharded: Bool, out: ReplyWriter) {
        worker.catchUpOrdered()  // deliveries that happened before this one go first
        let local = registry.deliver(channel: channel, message: message, sharded: sharded, loop: worker.loop)
        var remote = false
        for w in server.workers where w !== worker && w.pubsub.active.load(ordering: .relaxed) > 0 { remote = true; break }
        if !remote { out.integer(local); return }
        if inExecBody {
            // EXEC's reply is one array built now: count from the directory, deliver by message.
            let ch = [UInt8](channel), msg = [UInt8](message)
            out.integer(server.pubsub.receivers(channel: ch, sharded: sharded))
            let fanout = PublishFanout()
            _ = fanout.add(channel, message, sharded: sharded, localCount: local)
            send(fanout, reply: false)
            return
        }
        let fanout = openFanout ?? PublishFanout()
        openFanout = fanout
        let i = fanout.add(channel, message, sharded: sharded, localCount: local)
        pieces.append(.published(fanout, i))
    }

    /// Sends this read's published messages to every other loop with subscribers (one task per
    /// loop) and, when `reply`, adds their counts and flushes once the last one is back.
    func sendOpenFanout() {
        guard let fanout = openFanout else { return }
        openFanout = nil
        send(fanout, reply: true)
    }

    private func send(_ fanout: PublishFanout, reply: Bool) {
        let home = worker.loop
        let targets = server.workers.filter { $0 !== worker && $0.pubsub.active.load(ordering: .relaxed) > 0 }
        fanout.outstanding = targets.count
        if targets.isEmpty { if reply { flush() }; return }
        for w in targets {
            let loop = w.loop
            w.sendOrdered {
                var counts = [Int](repeating: 0, count: fanout.messages.count)
                for (i, m) in fanout.messages.enumerated() {
                    counts[i] = m.channel.withUnsafeBytes { c in m.message.withUnsafeBytes { msg in
                        w.pubsub.deliver(channel: c, message: msg, sharded: m.sharded, loop: loop)
                    } }
                }
                guard reply else { return }
                home.execute { [self] in
                    for i in counts.indices { fanout.counts[i] += counts[i] }
                    fanout.outstanding -= 1
                    if fanout.isDone { flush() }
                }
            }
        }
    }

    /// The pub/sub output limit was passed: Redis closes such a client (and logs it).
    func closeForOutputLimit() {
        guard !closeWhenFlushed, let transport else { return }
        ServerLog.pubsubOutputLimit(peer: session?.address ?? "?", bytes: pubsubBytesInFlight)
        closeWhenFlushed = true
        transport.close()
    }
}
