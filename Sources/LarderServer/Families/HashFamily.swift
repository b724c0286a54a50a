import LarderRESP
import LarderStore

/// Hash commands (Redis' t_hash.c). Feature-store reads and writes are HSET / HMGET / HGETALL
/// on small hashes, which the store keeps packed.
enum HashFamily {
    static let commands: [CommandSpec] = [
        CommandSpec("hset", arity: -4, flags: [.write, .denyoom, .fast], keys: .one, group: "hash",
                    summary: "Creates or modifies the value of a field in a hash.", since: "2.0.0", handler: hset),
        CommandSpec("hget", arity: 3, flags: [.readonly, .fast], keys: .one, group: "hash",
                    summary: "Returns the value of a field in a hash.", since: "2.0.0", handler: hget),
        CommandSpec("hmget", arity: -3, flags: [.readonly, .fast], keys: .one, group: "hash",
                    summary: "Returns the values of all fields in a hash.", since: "2.0.0", handler: hmget),
        CommandSpec("hgetall", arity: 2, flags: [.readonly], keys: .one, group: "hash",
                    summary: "Returns all fields and values in a hash.", since: "2.0.0", handler: hgetall),
    ]

    /// The hash at `key`, or nil after replying WRONGTYPE; `create` makes an empty one.
    static func hashAt(_ ctx: inout CommandContext, _ key: UnsafeRawBufferPointer, create: Bool) -> (HashObject?, Bool) {
        let (db, hash, slot) = ctx.lookup(key)
        if let slot {
            guard case .hash(let h) = db.value(at: slot) else { ctx.wrongType(); return (nil, false) }
            if create { db.touch(slot) }
            return (h, true)
        }
        guard create else { return (nil, true) }
        let h = HashObject()
        db.set(key, hash: hash, value: .hash(h), expireAt: 0, now: ctx.now)
        return (h, true)
    }

    static func hset(_ ctx: inout CommandContext, _ args: Arguments) {
        guard args.count % 2 == 0 else { ctx.wrongArity("hset"); return }
        let (h, ok) = hashAt(&ctx, args[1], create: true)
        guard ok, let h else { return }
        var added = 0
        var i = 2
        while i < args.count {
            if h.set(args[i], args[i + 1]) { added += 1 }
            i += 2
        }
        ctx.out.integer(added)
    }

    static func hget(_ ctx: inout CommandContext, _ args: Arguments) {
        let (h, ok) = hashAt(&ctx, args[1], create: false)
        guard ok else { return }
        guard let h, let v = h.get(args[2]) else { ctx.out.null(); return }
        v.withBytes { ctx.out.bulk($0) }
    }

    static func hmget(_ ctx: inout CommandContext, _ args: Arguments) {
        let (h, ok) = hashAt(&ctx, args[1], create: false)
        guard ok else { return }
        let n = args.count - 2
        ctx.out.arrayHeader(n)
        guard let h else { for _ in 0..<n { ctx.out.null() }; return }
        let out = ctx.out
        h.lookupMany(n, field: { args[$0 + 2] }) { _, v in
            if let v { out.bulk(v) } else { out.null() }
        }
    }

    static func hgetall(_ ctx: inout CommandContext, _ args: Arguments) {
        let (h, ok) = hashAt(&ctx, args[1], create: false)
        guard ok else { return }
        guard let h else { ctx.out.mapHeader(0); return }
        ctx.out.mapHeader(h.count)
        let out = ctx.out
        h.forEach { f, v in out.bulk(f); out.bulk(v) }
    }
}
