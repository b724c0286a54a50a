import LarderRESP
import LarderStore

/// Hash commands (Redis' t_hash.c). Feature-store reads and writes are HSET / HMGET / HGETALL
/// on small hashes, which the store keeps packed. Numeric, sampling/scanning and field-expiry
/// commands live in HashFamily+Numeric.swift, HashFamily+Scan.swift and HashFamily+FieldExpiry.swift.
enum HashFamily {
    static let commands: [CommandSpec] = [
        CommandSpec("hset", arity: -4, flags: [.write, .denyoom, .fast], keys: .one, group: "hash",
                    handler: hset),
        CommandSpec("hsetnx", arity: 4, flags: [.write, .denyoom, .fast], keys: .one, group: "hash",
                    handler: hsetnx),
        CommandSpec("hmset", arity: -4, flags: [.write, .denyoom, .fast], keys: .one, group: "hash",
                    handler: hmset),
        CommandSpec("hget", arity: 3, flags: [.readonly, .fast], keys: .one, group: "hash",
                    handler: hget),
        CommandSpec("hmget", arity: -3, flags: [.readonly, .fast], keys: .one, group: "hash",
                    handler: hmget),
        CommandSpec("hgetall", arity: 2, flags: [.readonly], keys: .one, group: "hash",
                    handler: hgetall),
        CommandSpec("hdel", arity: -3, flags: [.write, .fast], keys: .one, group: "hash",
                    handler: hdel),
        CommandSpec("hlen", arity: 2, flags: [.readonly, .fast], keys: .one, group: "hash",
                    handler: hlen),
        CommandSpec("hkeys", arity: 2, flags: [.readonly], keys: .one, group: "hash",
                    handler: hkeys),
        CommandSpec("hvals", arity: 2, flags: [.readonly], keys: .one, group: "hash",
                    handler: hvals),
        CommandSpec("hexists", arity: 3, flags: [.readonly, .fast], keys: .one, group: "hash",
                    handler: hexists),
        CommandSpec("hstrlen", arity: 3, flags: [.readonly, .fast], keys: .one, group: "hash",
                    handler: hstrlen),
    ] + numericCommands + scanCommands + fieldExpiryCommands

    /// What a hash command finds at its key.
    enum Found {
        case hash(HashObject, db: Keyspace, slot: Int)
        case missing(db: Keyspace, keyHash: UInt64)
        /// The key holds another type; WRONGTYPE has been replied.
        case wrongType
    }

    /// Looks `key` up (expiring the key or its fields lazily) and checks its type.
    @inline(__always)
    static func find(_ ctx: inout CommandContext, _ key: UnsafeRawBufferPointer) -> Found {
        let (db, keyHash, slot) = ctx.lookup(key)
        guard let slot else { return .missing(db: db, keyHash: keyHash) }
        guard case .hash(let h) = db.value(at: slot) else { ctx.wrongType(); return .wrongType }
        return .hash(h, db: db, slot: slot)
    }

    /// What a read-only hash command finds: a view that leaves a bare hash bare (no object is
    /// made for it, nothing is allocated; see KeyTable.isBare).
    enum FoundView {
        case hash(HashView)
        case missing
        case wrongType
    }

    @inline(__always)
    static func findView(_ ctx: inout CommandContext, _ key: UnsafeRawBufferPointer) -> FoundView {
        let (db, _, slot) = ctx.lookup(key)
        guard let slot else { return .missing }
        guard let h = db.hashView(at: slot) else { ctx.wrongType(); return .wrongType }
        return .hash(h)
    }

    /// Stores a new, filled hash at a missing key.
    static func insert(_ ctx: inout CommandContext, _ h: HashObject, at key: UnsafeRawBufferPointer,
                       db: Keyspace, keyHash: UInt64) {
        db.set(key, hash: keyHash, value: .hash(h), expireAt: 0, now: ctx.now)
    }

    /// Sets the field/value pairs from argument 2 on; returns how many fields were new.
    static func setPairs(_ ctx: inout CommandContext, _ args: Arguments) -> Int? {
        let key = args[1]
        let (db, keyHash) = ctx.db(for: key)
        let pairs = (args.count - 2) / 2
        let spans = UnsafeRawPointer(args.spanPointer)
        let stride = MemoryLayout<ArgumentSpan>.stride
        let fields = ByteSpans(base: args.base, spans: spans + 2 * stride, count: pairs, spanStride: 2)
        let values = ByteSpans(base: args.base, spans: spans + 3 * stride, count: pairs, spanStride: 2)
        switch db.setHashFields(key, hash: keyHash, fields: fields, values: values, now: ctx.now) {
        case .wrongType: ctx.wrongType(); return nil
        case .written(let added, _):
            ctx.notify(.hash, "hset", key)
            return added
        }
    }

    static func hset(_ ctx: inout CommandContext, _ args: Arguments) {
        guard args.count % 2 == 0 else { ctx.wrongArity("hset"); return }
        if let added = setPairs(&ctx, args) { ctx.out.integer(added) }
    }

    static func hmset(_ ctx: inout CommandContext, _ args: Arguments) {
        guard args.count % 2 == 0 else { ctx.wrongArity("hmset"); return }
        if setPairs(&ctx, args) != nil { ctx.out.ok() }
    }

    static func hsetnx(_ ctx: inout CommandContext, _ args: Arguments) {
        switch find(&ctx, args[1]) {
        case .wrongType: return
        case .hash(let h, let db, let slot):
            if h.contains(args[2]) { ctx.out.integer(0); return }
            db.willChange(slot)
            h.set(args[2], args[3])
            db.touch(slot)
        case .missing(let db, let keyHash):
            let h = HashObject()
            h.set(args[2], args[3])
            insert(&ctx, h, at: args[1], db: db, keyHash: keyHash)
        }
        ctx.out.integer(1)
        ctx.notify(.hash, "hset", args[1])
    }

    static func hget(_ ctx: inout CommandContext, _ args: Arguments) {
        switch findView(&ctx, args[1]) {
        case .wrongType: return
        case .missing: ctx.out.null()
        case .hash(let h):
            let out = ctx.out
            h.withValue(args[2]) { v in if let v { out.bulk(v) } else { out.null() } }
        }
    }

    static func hmget(_ ctx: inout CommandContext, _ args: Arguments) {
        let n = args.count - 2
        switch findView(&ctx, args[1]) {
        case .wrongType: return
        case .missing:
            ctx.out.arrayHeader(n)
            for _ in 0..<n { ctx.out.null() }
        case .hash(let h):
            ctx.out.arrayHeader(n)
            let out = ctx.out
            h.lookupMany(n, field: { args[$0 + 2] }) { _, v in
                if let v { out.bulk(v) } else { out.null() }
            }
        }
    }

    static func hgetall(_ ctx: inout CommandContext, _ args: Arguments) {
        switch findView(&ctx, args[1]) {
        case .wrongType: return
        case .missing: ctx.out.mapHeader(0)
        case .hash(let h):
            ctx.out.mapHeader(h.count)
            let out = ctx.out
            h.forEach { f, v in out.bulk(f); out.bulk(v) }
        }
    }

    static func hkeys(_ ctx: inout CommandContext, _ args: Arguments) { listing(&ctx, args, fields: true) }
    static func hvals(_ ctx: inout CommandContext, _ args: Arguments) { listing(&ctx, args, fields: false) }

    static func listing(_ ctx: inout CommandContext, _ args: Arguments, fields: Bool) {
        switch findView(&ctx, args[1]) {
        case .wrongType: return
        case .missing: ctx.out.arrayHeader(0)
        case .hash(let h):
            ctx.out.arrayHeader(h.count)
            let out = ctx.out
            h.forEach { f, v in out.bulk(fields ? f : v) }
        }
    }

    static func hdel(_ ctx: inout CommandContext, _ args: Arguments) {
        switch find(&ctx, args[1]) {
        case .wrongType: return
        case .missing: ctx.out.integer(0)
        case .hash(let h, let db, let slot):
            var removed = 0
            db.willChange(slot)
            for i in 2..<args.count where h.remove(args[i]) { removed += 1 }
            if h.count == 0 { db.remove(at: slot) } else if removed > 0 { db.touch(slot) }
            ctx.out.integer(removed)
            if removed > 0 {
                ctx.notify(.hash, "hdel", args[1])
                if h.count == 0 { ctx.notify(.generic, "del", args[1]) }
            }
        }
    }

    static func hlen(_ ctx: inout CommandContext, _ args: Arguments) {
        switch findView(&ctx, args[1]) {
        case .wrongType: return
        case .missing: ctx.out.integer(0)
        case .hash(let h): ctx.out.integer(h.count)
        }
    }

    static func hexists(_ ctx: inout CommandContext, _ args: Arguments) {
        switch findView(&ctx, args[1]) {
        case .wrongType: return
        case .missing: ctx.out.integer(0)
        case .hash(let h): ctx.out.integer(h.contains(args[2]) ? 1 : 0)
        }
    }

    static func hstrlen(_ ctx: inout CommandContext, _ args: Arguments) {
        switch findView(&ctx, args[1]) {
        case .wrongType: return
        case .missing: ctx.out.integer(0)
        case .hash(let h): ctx.out.integer(h.withValue(args[2]) { $0?.count ?? 0 })
        }
    }
}
