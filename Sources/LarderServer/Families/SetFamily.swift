import LarderRESP
import LarderStore

/// Set commands (Redis' t_set.c). Sets are `SetObject`s: an intset while all members are
/// integers (up to `set-max-intset-entries`), else a hash table. Multi-key commands (SINTER,
/// SUNION, SDIFF and their STORE forms, SMOVE, SINTERCARD) borrow their keys' shards when the
/// keys live on several.
enum SetFamily {
    static let commands: [CommandSpec] = [
        CommandSpec("sadd", arity: -3, flags: [.write, .denyoom, .fast], keys: .one, group: "set", handler: sadd),
        CommandSpec("srem", arity: -3, flags: [.write, .fast], keys: .one, group: "set", handler: srem),
        CommandSpec("smembers", arity: 2, flags: [.readonly], keys: .one, group: "set", handler: smembers),
        CommandSpec("sismember", arity: 3, flags: [.readonly, .fast], keys: .one, group: "set", handler: sismember),
        CommandSpec("smismember", arity: -3, flags: [.readonly, .fast], keys: .one, group: "set", handler: smismember),
        CommandSpec("scard", arity: 2, flags: [.readonly, .fast], keys: .one, group: "set", handler: scard),
        CommandSpec("spop", arity: -2, flags: [.write, .random, .fast], keys: .one, group: "set", handler: spop),
        CommandSpec("srandmember", arity: -2, flags: [.readonly, .random], keys: .one, group: "set", handler: srandmember),
        CommandSpec("smove", arity: 4, flags: [.write, .fast], keys: .range(1, 2, 1), group: "set", handler: smove),
        CommandSpec("sinter", arity: -2, flags: [.readonly], keys: .range(1, -1, 1), group: "set", handler: sinter),
        CommandSpec("sinterstore", arity: -3, flags: [.write, .denyoom], keys: .range(1, -1, 1), group: "set",
                    handler: sinterstore),
        CommandSpec("sunion", arity: -2, flags: [.readonly], keys: .range(1, -1, 1), group: "set", handler: sunion),
        CommandSpec("sunionstore", arity: -3, flags: [.write, .denyoom], keys: .range(1, -1, 1), group: "set",
                    handler: sunionstore),
        CommandSpec("sdiff", arity: -2, flags: [.readonly], keys: .range(1, -1, 1), group: "set", handler: sdiff),
        CommandSpec("sdiffstore", arity: -3, flags: [.write, .denyoom], keys: .range(1, -1, 1), group: "set",
                    handler: sdiffstore),
        CommandSpec("sintercard", arity: -3, flags: [.readonly], keys: .counted(at: 1), group: "set",
                    handler: sintercard),
        CommandSpec("sscan", arity: -3, flags: [.readonly, .random], keys: .one, group: "set", handler: sscan),
    ]

    /// `set-max-intset-entries`: how many integers a set keeps packed before it becomes a table.
    static let configParameters: [ConfigFamily.Parameter] = [
        ConfigFamily.integer("set-max-intset-entries", min: 0, max: Int.max, { _ in SetObject.maxIntsetEntries },
                             { _, v in SetObject.maxIntsetEntries = v }),
    ]

    enum Found {
        case set(SetObject, db: Keyspace, slot: Int)
        case missing(db: Keyspace, keyHash: UInt64)
        case wrongType
    }

    @inline(__always)
    static func find(_ ctx: inout CommandContext, _ key: UnsafeRawBufferPointer) -> Found {
        let (db, keyHash, slot) = ctx.lookup(key)
        guard let slot else { return .missing(db: db, keyHash: keyHash) }
        guard case .set(let s) = db.value(at: slot) else { ctx.wrongType(); return .wrongType }
        // Sets change in place: a running point-in-time snapshot writes this one first.
        db.willChange(slot)
        return .set(s, db: db, slot: slot)
    }

    /// After members were removed: deletes the emptied set, and publishes `event` (and "del"
    /// when emptied) as Redis' set commands do.
    @inline(__always) static func changed(_ ctx: CommandContext, _ s: SetObject, db: Keyspace, slot: Int,
                                          key: UnsafeRawBufferPointer, event: StaticString) {
        if s.count == 0 { db.remove(at: slot) } else { db.touch(slot) }
        ctx.notify(.set, event, key)
        if s.count == 0 { ctx.notify(.generic, "del", key) }
    }

    static func sadd(_ ctx: inout CommandContext, _ args: Arguments) {
        switch find(&ctx, args[1]) {
        case .wrongType: return
        case .missing(let db, let keyHash):
            let s = SetObject()
            var added = 0
            for i in 2..<args.count where s.add(args[i]) { added += 1 }
            db.set(args[1], hash: keyHash, value: .set(s), expireAt: 0, now: ctx.now)
            ctx.out.integer(added)
            ctx.notify(.set, "sadd", args[1])
        case .set(let s, let db, let slot):
            var added = 0
            for i in 2..<args.count where s.add(args[i]) { added += 1 }
            if added > 0 { db.touch(slot) }
            ctx.out.integer(added)
            if added > 0 { ctx.notify(.set, "sadd", args[1]) }
        }
    }

    static func srem(_ ctx: inout CommandContext, _ args: Arguments) {
        switch find(&ctx, args[1]) {
        case .wrongType: return
        case .missing: ctx.out.integer(0)
        case .set(let s, let db, let slot):
            var removed = 0
            for i in 2..<args.count where s.remove(args[i]) { removed += 1 }
            if removed > 0 { changed(ctx, s, db: db, slot: slot, key: args[1], event: "srem") }
            ctx.out.integer(removed)
        }
    }

    static func smembers(_ ctx: inout CommandContext, _ args: Arguments) {
        switch find(&ctx, args[1]) {
        case .wrongType: return
        case .missing: ctx.out.setHeader(0)
        case .set(let s, _, _):
            ctx.out.setHeader(s.count)
            let out = ctx.out
            s.forEach { out.bulk($0) }
        }
    }

    static func sismember(_ ctx: inout CommandContext, _ args: Arguments) {
        switch find(&ctx, args[1]) {
        case .wrongType: return
        case .missing: ctx.out.integer(0)
        case .set(let s, _, _): ctx.out.integer(s.contains(args[2]) ? 1 : 0)
        }
    }

    static func smismember(_ ctx: inout CommandContext, _ args: Arguments) {
        let found = find(&ctx, args[1])
        if case .wrongType = found { return }
        ctx.out.arrayHeader(args.count - 2)
        for i in 2..<args.count {
            if case .set(let s, _, _) = found { ctx.out.integer(s.contains(args[i]) ? 1 : 0) } else { ctx.out.integer(0) }
        }
    }

    static func scard(_ ctx: inout CommandContext, _ args: Arguments) {
        switch find(&ctx, args[1]) {
        case .wrongType: return
        case .missing: ctx.out.integer(0)
        case .set(let s, _, _): ctx.out.integer(s.count)
        }
    }

    /// SPOP key [count]
    static func spop(_ ctx: inout CommandContext, _ args: Arguments) {
        guard args.count <= 3 else { ctx.syntaxError(); return }
        if args.count == 2 {
            switch find(&ctx, args[1]) {
            case .wrongType: return
            case .missing: ctx.out.null()
            case .set(let s, let db, let slot):
                ctx.out.bulk(s.popRandom()!)
                changed(ctx, s, db: db, slot: slot, key: args[1], event: "spop")
            }
            return
        }
        guard let n = RESPParser.parseInteger(args[2], from: 0, to: args[2].count), n >= 0 else {
            ctx.out.error("ERR value is out of range, must be positive" as StaticString); return
        }
        switch find(&ctx, args[1]) {
        case .wrongType: return
        case .missing: ctx.out.setHeader(0)
        case .set(let s, let db, let slot):
            let k = min(n, s.count)
            ctx.out.setHeader(k)
            for _ in 0..<k { ctx.out.bulk(s.popRandom()!) }
            if k > 0 { changed(ctx, s, db: db, slot: slot, key: args[1], event: "spop") }
        }
    }

    /// SRANDMEMBER key [count]: a positive count gives distinct members, a negative one that
    /// many picks with repeats.
    static func srandmember(_ ctx: inout CommandContext, _ args: Arguments) {
        guard args.count <= 3 else { ctx.syntaxError(); return }
        if args.count == 2 {
            switch find(&ctx, args[1]) {
            case .wrongType: return
            case .missing: ctx.out.null()
            case .set(let s, _, _): ctx.out.bulk(s.randomMember()!)
            }
            return
        }
        guard let l = RESPParser.parseInteger(args[2], from: 0, to: args[2].count) else { ctx.notInteger(); return }
        if l == Int.min || (l < 0 && -l > HashFamily.maxRepeatedPicks) {
            ctx.out.error("ERR value is out of range" as StaticString); return
        }
        switch find(&ctx, args[1]) {
        case .wrongType: return
        case .missing: ctx.out.arrayHeader(0)
        case .set(let s, _, _):
            if l < 0 {
                ctx.out.arrayHeader(-l)
                for _ in 0..<(-l) { ctx.out.bulk(s.randomMember()!) }
            } else if l >= s.count {
                ctx.out.arrayHeader(s.count)
                let out = ctx.out
                s.forEach { out.bulk($0) }
            } else {
                // Distinct picks: selection sampling (Knuth's algorithm S) in one pass.
                ctx.out.arrayHeader(l)
                var remaining = s.count, picks = l
                let out = ctx.out
                s.forEach { m in
                    if picks > 0 && Int.random(in: 0..<remaining) < picks { out.bulk(m); picks -= 1 }
                    remaining -= 1
                }
            }
        }
    }

    /// SMOVE source destination member: a missing source answers 0 before any type check, as
    /// Redis does.
    static func smove(_ ctx: inout CommandContext, _ args: Arguments) {
        let (sdb, _, sslot) = ctx.lookup(args[1])
        let (ddb, dhash, dslot) = ctx.lookup(args[2])
        guard let sslot else { ctx.out.integer(0); return }
        guard case .set(let s) = sdb.value(at: sslot) else { ctx.wrongType(); return }
        var d: SetObject? = nil
        if let dslot {
            guard case .set(let found) = ddb.value(at: dslot) else { ctx.wrongType(); return }
            ddb.willChange(dslot)
            d = found
        }
        sdb.willChange(sslot)
        if d === s { ctx.out.integer(s.contains(args[3]) ? 1 : 0); return }
        guard s.remove(args[3]) else { ctx.out.integer(0); return }
        changed(ctx, s, db: sdb, slot: sslot, key: args[1], event: "srem")
        if let d {
            // Only an actual addition changes the destination (WATCH sees it), as in Redis.
            // Removing the source may free a slot but never moves one.
            if d.add(args[3]) { ddb.touch(dslot!); ctx.notify(.set, "sadd", args[2]) }
        } else {
            let n = SetObject()
            n.add(args[3])
            ddb.set(args[2], hash: dhash, value: .set(n), expireAt: 0, now: ctx.now)
            ctx.notify(.set, "sadd", args[2])
        }
        ctx.out.integer(1)
    }

    // MARK: algebra

    enum Operation { case inter, union, diff }

    /// The sets at `keys` (nil for a missing key, an empty set); nil overall when a key holds
    /// another type (WRONGTYPE replied): Redis 7.0 checks every key's type first.
    static func load(_ ctx: inout CommandContext, _ args: Arguments, _ keys: Range<Int>) -> [SetObject?]? {
        var sets: [SetObject?] = []
        for k in keys {
            switch find(&ctx, args[k]) {
            case .wrongType: return nil
            case .missing: sets.append(nil)
            case .set(let s, _, _): sets.append(s)
            }
        }
        return sets
    }

    static func compute(_ op: Operation, _ sets: [SetObject?]) -> [[UInt8]] {
        switch op {
        case .inter:
            if sets.contains(where: { $0 == nil }) { return [] }
            let all = sets.map { $0! }.sorted { $0.count < $1.count }
            guard let first = all.first else { return [] }
            var out: [[UInt8]] = []
            first.forEach { m in if all.dropFirst().allSatisfy({ $0.contains(m) }) { out.append(m) } }
            return out
        case .union:
            var seen = Set<[UInt8]>()
            var out: [[UInt8]] = []
            for s in sets { s?.forEach { if seen.insert($0).inserted { out.append($0) } } }
            return out
        case .diff:
            guard let first = sets.first, let base = first else { return [] }
            var out: [[UInt8]] = []
            base.forEach { m in if !sets.dropFirst().contains(where: { $0?.contains(m) ?? false }) { out.append(m) } }
            return out
        }
    }

    static func algebra(_ ctx: inout CommandContext, _ args: Arguments, _ op: Operation) {
        guard let sets = load(&ctx, args, 1..<args.count) else { return }
        let result = compute(op, sets)
        ctx.out.setHeader(result.count)
        for m in result { ctx.out.bulk(m) }
    }

    static func store(_ ctx: inout CommandContext, _ args: Arguments, _ op: Operation) {
        guard let sets = load(&ctx, args, 2..<args.count) else { return }
        let result = compute(op, sets)
        let (db, hash, slot) = ctx.lookup(args[1])
        if result.isEmpty {
            if let slot { db.remove(at: slot); ctx.notify(.generic, "del", args[1]) }
            ctx.out.integer(0)
            return
        }
        let s = SetObject()
        for m in result { _ = s.add(m) }
        db.set(args[1], hash: hash, value: .set(s), expireAt: 0, now: ctx.now)
        ctx.out.integer(s.count)
        switch op {
        case .inter: ctx.notify(.set, "sinterstore", args[1])
        case .union: ctx.notify(.set, "sunionstore", args[1])
        case .diff: ctx.notify(.set, "sdiffstore", args[1])
        }
    }

    static func sinter(_ ctx: inout CommandContext, _ args: Arguments) { algebra(&ctx, args, .inter) }
    static func sunion(_ ctx: inout CommandContext, _ args: Arguments) { algebra(&ctx, args, .union) }
    static func sdiff(_ ctx: inout CommandContext, _ args: Arguments) { algebra(&ctx, args, .diff) }
    static func sinterstore(_ ctx: inout CommandContext, _ args: Arguments) { store(&ctx, args, .inter) }
    static func sunionstore(_ ctx: inout CommandContext, _ args: Arguments) { store(&ctx, args, .union) }
    static func sdiffstore(_ ctx: inout CommandContext, _ args: Arguments) { store(&ctx, args, .diff) }

    /// SINTERCARD numkeys key... [LIMIT limit]
    static func sintercard(_ ctx: inout CommandContext, _ args: Arguments) {
        // Redis' getRangeLongFromObjectOrReply: a non-integer gets the range message too.
        guard let n = RESPParser.parseInteger(args[1], from: 0, to: args[1].count), n > 0 else { ctx.out.error("ERR numkeys should be greater than 0" as StaticString); return }
        guard n <= args.count - 2 else {
            ctx.out.error("ERR Number of keys can't be greater than number of args" as StaticString); return
        }
        var limit = 0
        var i = 2 + n
        while i < args.count {
            guard args.equalsKeyword(i, "LIMIT"), i + 1 < args.count else { ctx.syntaxError(); return }
            guard let l = RESPParser.parseInteger(args[i + 1], from: 0, to: args[i + 1].count), l >= 0 else { ctx.out.error("ERR LIMIT can't be negative" as StaticString); return }
            limit = l
            i += 2
        }
        guard let sets = load(&ctx, args, 2..<2 + n) else { return }
        var count = compute(.inter, sets).count
        if limit > 0 { count = min(count, limit) }
        ctx.out.integer(count)
    }

    /// SSCAN key cursor [MATCH pattern] [COUNT count]: the whole set in one reply (cursor 0),
    /// which SCAN's contract allows (COUNT is a hint); Redis does the same for intsets.
    static func sscan(_ ctx: inout CommandContext, _ args: Arguments) {
        guard HashFamily.parseCursor(args[2]) != nil else { ctx.out.error("ERR invalid cursor" as StaticString); return }
        let s: SetObject
        switch find(&ctx, args[1]) {
        case .wrongType: return
        case .missing:
            ctx.out.arrayHeader(2); ctx.out.bulk("0" as StaticString); ctx.out.arrayHeader(0); return
        case .set(let found, _, _): s = found
        }
        var pattern: UnsafeRawBufferPointer? = nil
        var i = 3
        while i < args.count {
            let hasValue = args.count - i >= 2
            if hasValue && args.equalsKeyword(i, "COUNT") {
                guard let n = RESPParser.parseInteger(args[i + 1], from: 0, to: args[i + 1].count) else { ctx.notInteger(); return }
                guard n >= 1 else { ctx.syntaxError(); return }
            } else if hasValue && args.equalsKeyword(i, "MATCH") {
                let p = args[i + 1]
                pattern = (p.count == 1 && p[0] == UInt8(ascii: "*")) ? nil : p
            } else {
                ctx.syntaxError(); return
            }
            i += 2
        }
        var found: [[UInt8]] = []
        s.forEach { m in
            if let pattern, !m.withUnsafeBytes({ Glob.match(pattern, $0) }) { return }
            found.append(m)
        }
        ctx.out.arrayHeader(2)
        ctx.out.bulk("0" as StaticString)
        ctx.out.arrayHeader(found.count)
        for m in found { ctx.out.bulk(m) }
    }
}
