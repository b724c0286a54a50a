#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import LarderRESP
import LarderStore

/// Sorted-set commands (Redis' t_zset.c). Sorted sets are `ZSetObject`s: packed while small
/// (`zset-max-listpack-entries` / `-value`), else a skiplist with spans plus a dictionary.
/// Multi-key commands (ZUNIONSTORE, ZINTER, ZDIFF, ZRANGESTORE, ZMPOP...) borrow their keys'
/// shards when the keys live on several, as the set commands do.
enum ZSetFamily {
    static let commands: [CommandSpec] = [
        CommandSpec("zadd", arity: -4, flags: [.write, .denyoom, .fast], keys: .one, group: "sorted_set", handler: zadd),
        CommandSpec("zincrby", arity: 4, flags: [.write, .denyoom, .fast], keys: .one, group: "sorted_set", handler: zincrby),
        CommandSpec("zrem", arity: -3, flags: [.write, .fast], keys: .one, group: "sorted_set", handler: zrem),
        CommandSpec("zremrangebyscore", arity: 4, flags: [.write], keys: .one, group: "sorted_set",
                    handler: { zremrange(&$0, $1, .score) }),
        CommandSpec("zremrangebyrank", arity: 4, flags: [.write], keys: .one, group: "sorted_set",
                    handler: { zremrange(&$0, $1, .rank) }),
        CommandSpec("zremrangebylex", arity: 4, flags: [.write], keys: .one, group: "sorted_set",
                    handler: { zremrange(&$0, $1, .lex) }),
        CommandSpec("zunionstore", arity: -4, flags: [.write, .denyoom, .movableKeys], keys: .counted(at: 2, after: 1),
                    group: "sorted_set", handler: { algebra(&$0, $1, .union, store: true) }),
        CommandSpec("zinterstore", arity: -4, flags: [.write, .denyoom, .movableKeys], keys: .counted(at: 2, after: 1),
                    group: "sorted_set", handler: { algebra(&$0, $1, .inter, store: true) }),
        CommandSpec("zdiffstore", arity: -4, flags: [.write, .denyoom, .movableKeys], keys: .counted(at: 2, after: 1),
                    group: "sorted_set", handler: { algebra(&$0, $1, .diff, store: true) }),
        CommandSpec("zunion", arity: -3, flags: [.readonly, .movableKeys], keys: .counted(at: 1), group: "sorted_set",
                    handler: { algebra(&$0, $1, .union, store: false) }),
        CommandSpec("zinter", arity: -3, flags: [.readonly, .movableKeys], keys: .counted(at: 1), group: "sorted_set",
                    handler: { algebra(&$0, $1, .inter, store: false) }),
        CommandSpec("zdiff", arity: -3, flags: [.readonly, .movableKeys], keys: .counted(at: 1), group: "sorted_set",
                    handler: { algebra(&$0, $1, .diff, store: false) }),
        CommandSpec("zintercard", arity: -3, flags: [.readonly, .movableKeys], keys: .counted(at: 1), group: "sorted_set",
                    handler: zintercard),
        CommandSpec("zrange", arity: -4, flags: [.readonly], keys: .one, group: "sorted_set",
                    handler: { zrange(&$0, $1, first: 1, store: false, .auto, reverse: false) }),
        CommandSpec("zrangestore", arity: -5, flags: [.write, .denyoom], keys: .range(1, 2, 1), group: "sorted_set",
                    handler: { zrange(&$0, $1, first: 2, store: true, .auto, reverse: false) }),
        CommandSpec("zrangebyscore", arity: -4, flags: [.readonly], keys: .one, group: "sorted_set",
                    handler: { zrange(&$0, $1, first: 1, store: false, .score, reverse: false) }),
        CommandSpec("zrevrangebyscore", arity: -4, flags: [.readonly], keys: .one, group: "sorted_set",
                    handler: { zrange(&$0, $1, first: 1, store: false, .score, reverse: true) }),
        CommandSpec("zrangebylex", arity: -4, flags: [.readonly], keys: .one, group: "sorted_set",
                    handler: { zrange(&$0, $1, first: 1, store: false, .lex, reverse: false) }),
        CommandSpec("zrevrangebylex", arity: -4, flags: [.readonly], keys: .one, group: "sorted_set",
                    handler: { zrange(&$0, $1, first: 1, store: false, .lex, reverse: true) }),
        CommandSpec("zrevrange", arity: -4, flags: [.readonly], keys: .one, group: "sorted_set",
                    handler: { zrange(&$0, $1, first: 1, store: false, .rank, reverse: true) }),
        CommandSpec("zcount", arity: 4, flags: [.readonly, .fast], keys: .one, group: "sorted_set",
                    handler: { zcount(&$0, $1, lex: false) }),
        CommandSpec("zlexcount", arity: 4, flags: [.readonly, .fast], keys: .one, group: "sorted_set",
                    handler: { zcount(&$0, $1, lex: true) }),
        CommandSpec("zcard", arity: 2, flags: [.readonly, .fast], keys: .one, group: "sorted_set", handler: zcard),
        CommandSpec("zscore", arity: 3, flags: [.readonly, .fast], keys: .one, group: "sorted_set", handler: zscore),
        CommandSpec("zmscore", arity: -3, flags: [.readonly, .fast], keys: .one, group: "sorted_set", handler: zmscore),
        CommandSpec("zrank", arity: 3, flags: [.readonly, .fast], keys: .one, group: "sorted_set",
                    handler: { zrank(&$0, $1, reverse: false) }),
        CommandSpec("zrevrank", arity: 3, flags: [.readonly, .fast], keys: .one, group: "sorted_set",
                    handler: { zrank(&$0, $1, reverse: true) }),
        CommandSpec("zscan", arity: -3, flags: [.readonly, .random], keys: .one, group: "sorted_set", handler: zscan),
        CommandSpec("zpopmin", arity: -2, flags: [.write, .fast], keys: .one, group: "sorted_set",
                    handler: { zpop(&$0, $1, max: false) }),
        CommandSpec("zpopmax", arity: -2, flags: [.write, .fast], keys: .one, group: "sorted_set",
                    handler: { zpop(&$0, $1, max: true) }),
        CommandSpec("bzpopmin", arity: -3, flags: [.write, .noscript, .fast, .blocking], keys: .range(1, -2, 1),
                    group: "sorted_set", handler: { bzpop(&$0, $1, max: false) }),
        CommandSpec("bzpopmax", arity: -3, flags: [.write, .noscript, .fast, .blocking], keys: .range(1, -2, 1),
                    group: "sorted_set", handler: { bzpop(&$0, $1, max: true) }),
        CommandSpec("zmpop", arity: -4, flags: [.write, .movableKeys], keys: .counted(at: 1), group: "sorted_set",
                    handler: { zmpop(&$0, $1, blocking: false) }),
        CommandSpec("bzmpop", arity: -5, flags: [.write, .blocking, .movableKeys], keys: .counted(at: 2), group: "sorted_set",
                    handler: { zmpop(&$0, $1, blocking: true) }),
        CommandSpec("zrandmember", arity: -2, flags: [.readonly, .random], keys: .one, group: "sorted_set",
                    handler: zrandmember),
    ]

    /// `zset-max-listpack-entries` / `-value`, and the `-ziplist-` names Redis 7.0 still answers to.
    static let configParameters: [ConfigFamily.Parameter] = [
        ConfigFamily.integer("zset-max-listpack-entries", min: 0, max: Int.max, { _ in ZSetObject.maxListpackEntries },
                             { _, v in ZSetObject.maxListpackEntries = v }),
        ConfigFamily.integer("zset-max-ziplist-entries", min: 0, max: Int.max, { _ in ZSetObject.maxListpackEntries },
                             { _, v in ZSetObject.maxListpackEntries = v }),
        ConfigFamily.integer("zset-max-listpack-value", min: 0, max: Int.max, { _ in ZSetObject.maxListpackValue },
                             { _, v in ZSetObject.maxListpackValue = v }),
        ConfigFamily.integer("zset-max-ziplist-value", min: 0, max: Int.max, { _ in ZSetObject.maxListpackValue },
                             { _, v in ZSetObject.maxListpackValue = v }),
    ]

    enum Found {
        case zset(ZSetObject, db: Keyspace, slot: Int)
        case missing(db: Keyspace, keyHash: UInt64)
        case wrongType
    }

    @inline(__always)
    static func find(_ ctx: inout CommandContext, _ key: UnsafeRawBufferPointer) -> Found {
        let (db, keyHash, slot) = ctx.lookup(key)
        guard let slot else { return .missing(db: db, keyHash: keyHash) }
        guard case .zset(let z) = db.value(at: slot) else { ctx.wrongType(); return .wrongType }
        // Sorted sets change in place: a running point-in-time snapshot writes this one first.
        db.willChange(slot)
        return .zset(z, db: db, slot: slot)
    }

    @inline(__always) static func changed(_ z: ZSetObject, db: Keyspace, slot: Int) {
        if z.count == 0 { db.remove(at: slot) } else { db.touch(slot) }
    }

    /// Redis' events after a removal: `event` for the sorted set, then `del` when it emptied.
    @inline(__always) static func notifyRemoved(_ ctx: inout CommandContext, _ event: StaticString, _ key: UnsafeRawBufferPointer, _ z: ZSetObject) {
        ctx.notify(.zset, event, key)
        if z.count == 0 { ctx.notify(.generic, "del", key) }
    }

    /// Stores a new sorted set at `key` and wakes the clients blocked on it.
    static func create(_ ctx: inout CommandContext, _ key: UnsafeRawBufferPointer, db: Keyspace, hash: UInt64, _ z: ZSetObject) {
        db.set(key, hash: hash, value: .zset(z), expireAt: 0, now: ctx.now)
        ctx.signalListReady(key, hash: hash)
    }

    // MARK: parsing

    /// `body` on a NUL-terminated copy of `b` (strtod needs one).
    static func withCString<T>(_ b: UnsafeRawBufferPointer, _ body: (UnsafePointer<CChar>) -> T) -> T {
        withUnsafeTemporaryAllocation(of: CChar.self, capacity: b.count + 1) { p in
            if b.count > 0 { UnsafeMutableRawPointer(p.baseAddress!).copyMemory(from: b.baseAddress!, byteCount: b.count) }
            p[b.count] = 0
            return body(p.baseAddress!)
        }
    }

    /// Redis' getDoubleFromObject: all of it a strtod number, no leading space, no overflow,
    /// not NaN ("inf", "-inf" are scores).
    static func parseDouble(_ b: UnsafeRawBufferPointer) -> Double? {
        guard b.count > 0 else { return nil }
        return withCString(b) { s -> Double? in
            if isspace(Int32(UInt8(bitPattern: s[0]))) != 0 { return nil }
            var end: UnsafeMutablePointer<CChar>? = nil
            errno = 0
            let v = strtod(s, &end)
            guard let end, end == s + b.count else { return nil }
            if errno == ERANGE && (v.isInfinite || v == 0) { return nil }
            return v.isNaN ? nil : v
        }
    }

    struct ScoreRange {
        var min: Double, max: Double
        var minExclusive: Bool, maxExclusive: Bool
        /// Redis' zslValueGteMin / zslValueLteMax.
        func aboveMin(_ v: Double) -> Bool { minExclusive ? v > min : v >= min }
        func belowMax(_ v: Double) -> Bool { maxExclusive ? v < max : v <= max }
        var isEmpty: Bool { min > max || (min == max && (minExclusive || maxExclusive)) }
    }

    /// One bound of a score range: "(" for exclusive, then a strtod number (zslParseRange).
    static func parseScoreBound(_ b: UnsafeRawBufferPointer) -> (Double, Bool)? {
        let exclusive = b.first == UInt8(ascii: "(")
        let text = exclusive ? UnsafeRawBufferPointer(rebasing: b[1...]) : b
        return withCString(text) { s -> (Double, Bool)? in
            var end: UnsafeMutablePointer<CChar>? = nil
            let v = strtod(s, &end)
            guard let end, end.pointee == 0, end == s + text.count, !v.isNaN else { return nil }
            return (v, exclusive)
        }
    }

    static func parseScoreRange(_ ctx: inout CommandContext, _ minArg: UnsafeRawBufferPointer,
                                _ maxArg: UnsafeRawBufferPointer) -> ScoreRange? {
        guard let (mn, mnx) = parseScoreBound(minArg), let (mx, mxx) = parseScoreBound(maxArg) else {
            ctx.out.error("ERR min or max is not a float" as StaticString); return nil
        }
        return ScoreRange(min: mn, max: mx, minExclusive: mnx, maxExclusive: mxx)
    }

    /// A lex bound: "-" / "+" (the ends), "[x" inclusive, "(x" exclusive (zslParseLexRangeItem).
    enum LexBound {
        case minusInfinity, plusInfinity
        case value([UInt8], exclusive: Bool)

        init?(_ b: UnsafeRawBufferPointer) {
            guard let c = b.first else { return nil }
            switch c {
            case UInt8(ascii: "+") where b.count == 1: self = .plusInfinity
            case UInt8(ascii: "-") where b.count == 1: self = .minusInfinity
            case UInt8(ascii: "["): self = .value(Array(b[1...]), exclusive: false)
            case UInt8(ascii: "("): self = .value(Array(b[1...]), exclusive: true)
            default: return nil
            }
        }
    }

    struct LexRange {
        var min: LexBound, max: LexBound
        func aboveMin(_ m: UnsafeRawBufferPointer) -> Bool {
            switch min {
            case .minusInfinity: return true
            case .plusInfinity: return false
            case .value(let v, let ex):
                let c = v.withUnsafeBytes { ZSetObject.compare(m, $0) }
                return ex ? c > 0 : c >= 0
            }
        }
        func belowMax(_ m: UnsafeRawBufferPointer) -> Bool {
            switch max {
            case .minusInfinity: return false
            case .plusInfinity: return true
            case .value(let v, let ex):
                let c = v.withUnsafeBytes { ZSetObject.compare(m, $0) }
                return ex ? c < 0 : c <= 0
            }
        }
    }

    static func parseLexRange(_ ctx: inout CommandContext, _ minArg: UnsafeRawBufferPointer,
                              _ maxArg: UnsafeRawBufferPointer) -> LexRange? {
        guard let mn = LexBound(minArg), let mx = LexBound(maxArg) else {
            ctx.out.error("ERR min or max not valid string range item" as StaticString); return nil
        }
        return LexRange(min: mn, max: mx)
    }

    /// The ranks (0-based, ascending) of the entries in a score range.
    static func ranks(_ z: ZSetObject, _ r: ScoreRange) -> Range<Int> {
        if r.isEmpty { return 0..<0 }
        let lo = z.firstRank { s, _ in r.aboveMin(s) }
        let hi = z.firstRank { s, _ in !r.belowMax(s) }
        return lo < hi ? lo..<hi : 0..<0
    }

    /// The ranks of the entries in a lex range (meaningful when all scores are equal, as in Redis).
    static func ranks(_ z: ZSetObject, _ r: LexRange) -> Range<Int> {
        let lo = z.firstRank { _, m in r.aboveMin(m) }
        let hi = z.firstRank { _, m in !r.belowMax(m) }
        return lo < hi ? lo..<hi : 0..<0
    }

    /// Redis' rank sanitizing (start/end may be negative, from the end): nil when empty.
    static func ranks(start: Int, end: Int, count: Int) -> Range<Int>? {
        var start = start, end = end
        if start < 0 { start = count + start }
        if end < 0 { end = count + end }
        if start < 0 { start = 0 }
        if start > end || start >= count { return nil }
        if end >= count { end = count - 1 }
        return start..<end + 1
    }

    static func integer(_ b: UnsafeRawBufferPointer) -> Int? { RESPParser.parseInteger(b, from: 0, to: b.count) }

    // MARK: replies

    /// `n` entries, with scores: RESP2 a flat array, RESP3 an array of [member, score] pairs.
    @inline(__always) static func entriesHeader(_ out: ReplyWriter, _ n: Int, withScores: Bool) {
        if !withScores { out.arrayHeader(n) }
        else if out.version == .resp3 { out.arrayHeader(n) }
        else { out.arrayHeader(2 * n) }
    }

    @inline(__always) static func entry(_ out: ReplyWriter, _ m: UnsafeRawBufferPointer, _ s: Double, withScores: Bool) {
        if !withScores { out.bulk(m); return }
        if out.version == .resp3 { out.arrayHeader(2) }
        out.bulk(m)
        out.double(s)
    }

    // MARK: ZADD / ZINCRBY

    struct AddFlags {
        var nx = false, xx = false, gt = false, lt = false, ch = false, incr = false
    }

    static func zadd(_ ctx: inout CommandContext, _ args: Arguments) {
        var f = AddFlags()
        var i = 2
        while i < args.count {
            if args.equalsKeyword(i, "NX") { f.nx = true }
            else if args.equalsKeyword(i, "XX") { f.xx = true }
            else if args.equalsKeyword(i, "GT") { f.gt = true }
            else if args.equalsKeyword(i, "LT") { f.lt = true }
            else if args.equalsKeyword(i, "CH") { f.ch = true }
            else if args.equalsKeyword(i, "INCR") { f.incr = true }
            else { break }
            i += 1
        }
        let elements = args.count - i
        if elements % 2 != 0 || elements == 0 { ctx.syntaxError(); return }
        if f.nx && f.xx { ctx.out.error("ERR XX and NX options at the same time are not compatible" as StaticString); return }
        if (f.gt && f.nx) || (f.lt && f.nx) || (f.gt && f.lt) {
            ctx.out.error("ERR GT, LT, and/or NX options at the same time are not compatible" as StaticString); return
        }
        if f.incr && elements > 2 {
            ctx.out.error("ERR INCR option supports a single increment-element pair" as StaticString); return
        }
        // Every score is checked before anything changes, as Redis does.
        for j in stride(from: i, to: args.count, by: 2) where parseDouble(args[j]) == nil { ctx.notFloat(); return }
        add(&ctx, args, f, first: i)
    }

    static func zincrby(_ ctx: inout CommandContext, _ args: Arguments) {
        guard parseDouble(args[2]) != nil else { ctx.notFloat(); return }
        var f = AddFlags()
        f.incr = true
        add(&ctx, args, f, first: 2)
    }

    /// The pairs (score, member) from `first`, scores already validated.
    static func add(_ ctx: inout CommandContext, _ args: Arguments, _ f: AddFlags, first: Int) {
        let z: ZSetObject
        var created: (Keyspace, UInt64)? = nil
        var existing: (Keyspace, Int)? = nil
        switch find(&ctx, args[1]) {
        case .wrongType: return
        case .missing(let db, let hash):
            if f.xx { if f.incr { ctx.out.null() } else { ctx.out.integer(0) }; return }
            z = ZSetObject()
            created = (db, hash)
        case .zset(let found, let db, let slot):
            z = found
            existing = (db, slot)
        }
        var added = 0, updated = 0, processed = 0
        var lastScore = 0.0
        for j in stride(from: first, to: args.count, by: 2) {
            var score = parseDouble(args[j])!
            let member = args[j + 1]
            if let current = z.score(member) {
                if f.nx { continue }
                if f.incr {
                    score += current
                    if score.isNaN {
                        ctx.out.error("ERR resulting score is not a number (NaN)" as StaticString)
                        finish(&ctx, args, z, created: created, existing: existing, changed: added + updated > 0)
                        if added + updated > 0 { ctx.notify(.zset, "zincr", args[1]) }
                        return
                    }
                }
                if (f.lt && score >= current) || (f.gt && score <= current) { continue }
                if score != current { z.set(member, score: score); updated += 1 }
            } else if !f.xx {
                z.set(member, score: score)
                added += 1
            } else {
                continue
            }
            processed += 1
            lastScore = score
        }
        finish(&ctx, args, z, created: created, existing: existing, changed: added + updated > 0)
        if added + updated > 0 { ctx.notify(.zset, f.incr ? "zincr" : "zadd", args[1]) }
        if f.incr {
            if processed > 0 { ctx.out.double(lastScore) } else { ctx.out.null() }
        } else {
            ctx.out.integer(f.ch ? added + updated : added)
        }
    }

    private static func finish(_ ctx: inout CommandContext, _ args: Arguments, _ z: ZSetObject, created: (Keyspace, UInt64)?,
                               existing: (Keyspace, Int)?, changed: Bool) {
        if let (db, hash) = created, z.count > 0 { create(&ctx, args[1], db: db, hash: hash, z) }
        if let (db, slot) = existing, changed { db.touch(slot) }
    }

    // MARK: single-key reads and removals

    static func zrem(_ ctx: inout CommandContext, _ args: Arguments) {
        switch find(&ctx, args[1]) {
        case .wrongType: return
        case .missing: ctx.out.integer(0)
        case .zset(let z, let db, let slot):
            var removed = 0
            for i in 2..<args.count where z.remove(args[i]) {
                removed += 1
                if z.count == 0 { break }
            }
            if removed > 0 { changed(z, db: db, slot: slot); notifyRemoved(&ctx, "zrem", args[1], z) }
            ctx.out.integer(removed)
        }
    }

    static func zcard(_ ctx: inout CommandContext, _ args: Arguments) {
        switch find(&ctx, args[1]) {
        case .wrongType: return
        case .missing: ctx.out.integer(0)
        case .zset(let z, _, _): ctx.out.integer(z.count)
        }
    }

    static func zscore(_ ctx: inout CommandContext, _ args: Arguments) {
        switch find(&ctx, args[1]) {
        case .wrongType: return
        case .missing: ctx.out.null()
        case .zset(let z, _, _):
            if let s = z.score(args[2]) { ctx.out.double(s) } else { ctx.out.null() }
        }
    }

    static func zmscore(_ ctx: inout CommandContext, _ args: Arguments) {
        let found = find(&ctx, args[1])
        if case .wrongType = found { return }
        ctx.out.arrayHeader(args.count - 2)
        for i in 2..<args.count {
            if case .zset(let z, _, _) = found, let s = z.score(args[i]) { ctx.out.double(s) } else { ctx.out.null() }
        }
    }

    static func zrank(_ ctx: inout CommandContext, _ args: Arguments, reverse: Bool) {
        switch find(&ctx, args[1]) {
        case .wrongType: return
        case .missing: ctx.out.null()
        case .zset(let z, _, _):
            if let r = z.rank(args[2]) { ctx.out.integer(reverse ? z.count - 1 - r : r) } else { ctx.out.null() }
        }
    }

    static func zcount(_ ctx: inout CommandContext, _ args: Arguments, lex: Bool) {
        var scoreRange: ScoreRange? = nil
        var lexRange: LexRange? = nil
        if lex { guard let r = parseLexRange(&ctx, args[2], args[3]) else { return }; lexRange = r }
        else { guard let r = parseScoreRange(&ctx, args[2], args[3]) else { return }; scoreRange = r }
        switch find(&ctx, args[1]) {
        case .wrongType: return
        case .missing: ctx.out.integer(0)
        case .zset(let z, _, _):
            ctx.out.integer(lexRange.map { ranks(z, $0).count } ?? ranks(z, scoreRange!).count)
        }
    }

    enum RangeKind { case auto, rank, score, lex }

    static func zremrange(_ ctx: inout CommandContext, _ args: Arguments, _ kind: RangeKind) {
        var scoreRange: ScoreRange? = nil
        var lexRange: LexRange? = nil
        var start = 0, end = 0
        switch kind {
        case .rank:
            guard let s = integer(args[2]), let e = integer(args[3]) else { ctx.notInteger(); return }
            start = s; end = e
        case .lex:
            guard let r = parseLexRange(&ctx, args[2], args[3]) else { return }
            lexRange = r
        default:
            guard let r = parseScoreRange(&ctx, args[2], args[3]) else { return }
            scoreRange = r
        }
        switch find(&ctx, args[1]) {
        case .wrongType: return
        case .missing: ctx.out.integer(0)
        case .zset(let z, let db, let slot):
            let r: Range<Int>
            switch kind {
            case .rank: r = ranks(start: start, end: end, count: z.count) ?? 0..<0
            case .lex: r = ranks(z, lexRange!)
            default: r = ranks(z, scoreRange!)
            }
            let n = z.removeRanks(r)
            if n > 0 {
                changed(z, db: db, slot: slot)
                switch kind {
                case .rank: notifyRemoved(&ctx, "zremrangebyrank", args[1], z)
                case .lex: notifyRemoved(&ctx, "zremrangebylex", args[1], z)
                default: notifyRemoved(&ctx, "zremrangebyscore", args[1], z)
                }
            }
            ctx.out.integer(n)
        }
    }

    // MARK: ZRANGE and its older forms

    /// ZRANGE key min max [BYSCORE|BYLEX] [REV] [LIMIT offset count] [WITHSCORES], and the
    /// fixed-kind forms (ZRANGEBYSCORE...: `kind` given, `reverse` for the ZREV ones, which take
    /// max before min), and ZRANGESTORE dst src ... (`store`, `first` 2). Redis' zrangeGenericCommand.
    static func zrange(_ ctx: inout CommandContext, _ args: Arguments, first: Int, store: Bool, _ fixedKind: RangeKind,
                       reverse fixedReverse: Bool) {
        var kind = fixedKind, reverse = fixedReverse
        var withScores = false, limited = false
        var offset = 0, limit = -1
        var i = first + 3
        while i < args.count {
            let left = args.count - i - 1
            if !store && args.equalsKeyword(i, "WITHSCORES") { withScores = true }
            else if left >= 2 && args.equalsKeyword(i, "LIMIT") {
                guard let o = integer(args[i + 1]), let c = integer(args[i + 2]) else { ctx.notInteger(); return }
                offset = o; limit = c; limited = true
                i += 2
            } else if fixedKind == .auto && args.equalsKeyword(i, "BYSCORE") { kind = .score }
            else if fixedKind == .auto && args.equalsKeyword(i, "BYLEX") { kind = .lex }
            else if fixedKind == .auto && args.equalsKeyword(i, "REV") { reverse = true }
            else { ctx.syntaxError(); return }
            i += 1
        }
        if kind == .auto { kind = .rank }
        // Redis checks the count, not the keyword: LIMIT <offset> -1 passes with a rank range
        // (and is ignored there).
        if limit != -1 && kind == .rank {
            ctx.out.error("ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX" as StaticString)
            return
        }
        if withScores && kind == .lex {
            ctx.out.error("ERR syntax error, WITHSCORES not supported in combination with BYLEX" as StaticString)
            return
        }
        // The reverse score and lex forms take max first.
        let minArg = (reverse && kind != .rank) ? args[first + 2] : args[first + 1]
        let maxArg = (reverse && kind != .rank) ? args[first + 1] : args[first + 2]
        var scoreRange: ScoreRange? = nil
        var lexRange: LexRange? = nil
        var start = 0, end = 0
        switch kind {
        case .rank:
            guard let s = integer(minArg), let e = integer(maxArg) else { ctx.notInteger(); return }
            start = s; end = e
        case .lex:
            guard let r = parseLexRange(&ctx, minArg, maxArg) else { return }
            lexRange = r
        default:
            guard let r = parseScoreRange(&ctx, minArg, maxArg) else { return }
            scoreRange = r
        }
        let source = args[first]
        var z: ZSetObject? = nil
        if store {
            // The source is read (no in-place change): a plain lookup, then the type.
            let (db, _, slot) = ctx.lookup(source, read: true)
            if let slot {
                guard case .zset(let found) = db.value(at: slot) else { ctx.wrongType(); return }
                z = found
            }
        } else {
            switch find(&ctx, source) {
            case .wrongType: return
            case .missing: break
            case .zset(let found, _, _): z = found
            }
        }
        var selected: Range<Int> = 0..<0
        if let z {
            switch kind {
            case .rank: selected = ranks(start: start, end: end, count: z.count) ?? 0..<0
            case .lex: selected = ranks(z, lexRange!)
            default: selected = ranks(z, scoreRange!)
            }
            if kind == .rank && reverse && !selected.isEmpty {
                // Ranks count from the top in ZREVRANGE.
                selected = z.count - selected.upperBound..<z.count - selected.lowerBound
            }
            if limited && kind != .rank && !selected.isEmpty {
                // A negative offset selects nothing; a negative count means all (Redis' loops).
                if offset < 0 || offset >= selected.count { selected = 0..<0 }
                else {
                    let n = limit < 0 ? selected.count - offset : min(limit, selected.count - offset)
                    selected = reverse ? selected.upperBound - offset - n..<selected.upperBound - offset
                                       : selected.lowerBound + offset..<selected.lowerBound + offset + n
                }
            }
        }
        if store {
            let (db, hash, slot) = ctx.lookup(args[1])
            guard let z, !selected.isEmpty else {
                if let slot { db.remove(at: slot); ctx.notify(.generic, "del", args[1]) }
                ctx.out.integer(0)
                return
            }
            var longest = 0
            z.forEach(ranks: selected) { m, _ in longest = max(longest, m.count); return true }
            let result = ZSetObject(expecting: selected.count, longestMember: longest)
            z.forEach(ranks: selected) { m, s in result.set(m, score: s); return true }
            if let slot { db.remove(at: slot) }
            create(&ctx, args[1], db: db, hash: hash, result)
            ctx.notify(.zset, "zrangestore", args[1])
            ctx.out.integer(result.count)
            return
        }
        guard let z else { ctx.out.arrayHeader(0); return }
        entriesHeader(ctx.out, selected.count, withScores: withScores)
        let out = ctx.out
        z.forEach(ranks: selected, reverse: reverse) { m, s in entry(out, m, s, withScores: withScores); return true }
    }

    // MARK: pops

    /// Pops up to `count` entries from the low (or, `max`, the high) end.
    static func popEntries(_ z: ZSetObject, max: Bool, count: Int) -> [([UInt8], Double)] {
        let n = min(count, z.count)
        let r = max ? z.count - n..<z.count : 0..<n
        let popped = z.entries(ranks: r, reverse: max)
        z.removeRanks(r)
        return popped
    }

    /// ZPOPMIN / ZPOPMAX key [count]
    static func zpop(_ ctx: inout CommandContext, _ args: Arguments, max: Bool) {
        guard args.count <= 3 else { ctx.syntaxError(); return }
        var count = 1
        if args.count == 3 {
            guard let c = integer(args[2]), c >= 0 else {
                ctx.out.error("ERR value is out of range, must be positive" as StaticString); return
            }
            count = c
        }
        switch find(&ctx, args[1]) {
        case .wrongType: return
        case .missing: ctx.out.arrayHeader(0)
        case .zset(let z, let db, let slot):
            let popped = popEntries(z, max: max, count: count)
            // Pairs are nested in RESP3 only when a count was given (Redis' use_nested_array).
            let nested = args.count == 3 && ctx.out.version == .resp3
            ctx.out.arrayHeader(nested ? popped.count : 2 * popped.count)
            for (m, s) in popped {
                if nested { ctx.out.arrayHeader(2) }
                ctx.out.bulk(m); ctx.out.double(s)
            }
            if !popped.isEmpty { changed(z, db: db, slot: slot); notifyRemoved(&ctx, max ? "zpopmax" : "zpopmin", args[1], z) }
        }
    }

    /// BZPOPMIN / BZPOPMAX key... timeout: [key, member, score] from the first non-empty key.
    static func bzpop(_ ctx: inout CommandContext, _ args: Arguments, max: Bool) {
        guard let deadline = ctx.blockDeadline(args[args.count - 1]) else { return }
        for k in 1..<args.count - 1 {
            switch find(&ctx, args[k]) {
            case .wrongType: return
            case .missing: continue
            case .zset(let z, let db, let slot):
                let (m, s) = popEntries(z, max: max, count: 1)[0]
                ctx.out.arrayHeader(3)
                ctx.out.bulk(args[k]); ctx.out.bulk(m); ctx.out.double(s)
                changed(z, db: db, slot: slot)
                notifyRemoved(&ctx, max ? "zpopmax" : "zpopmin", args[k], z)
                return
            }
        }
        if ctx.mayBlock {
            ctx.blockRequest = BlockRequest(keys: (1..<args.count - 1).map { args.bytes($0) }, operation: .zpop(max: max),
                                            deadline: deadline)
            return
        }
        ctx.out.nullArray()
    }

    /// ZMPOP numkeys key... MIN|MAX [COUNT n] and BZMPOP timeout numkeys ...: [key, [[member, score]...]].
    static func zmpop(_ ctx: inout CommandContext, _ args: Arguments, blocking: Bool) {
        var deadline: Int64? = nil
        if blocking {
            guard let d = ctx.blockDeadline(args[1]) else { return }
            deadline = d
        }
        let first = blocking ? 2 : 1
        guard let n = integer(args[first]), n > 0 else {
            ctx.out.error("ERR numkeys should be greater than 0" as StaticString); return
        }
        let whereIndex = first + 1 + n
        guard n <= args.count - first - 1, whereIndex < args.count else { ctx.syntaxError(); return }
        let max: Bool
        if args.equalsKeyword(whereIndex, "MIN") { max = false }
        else if args.equalsKeyword(whereIndex, "MAX") { max = true }
        else { ctx.syntaxError(); return }
        var count = 1
        var i = whereIndex + 1
        var sawCount = false
        while i < args.count {
            guard args.equalsKeyword(i, "COUNT"), !sawCount, i + 1 < args.count else { ctx.syntaxError(); return }
            guard let c = integer(args[i + 1]), c > 0 else {
                ctx.out.error("ERR count should be greater than 0" as StaticString); return
            }
            count = c; sawCount = true
            i += 2
        }
        for k in first + 1..<whereIndex {
            switch find(&ctx, args[k]) {
            case .wrongType: return
            case .missing: continue
            case .zset(let z, let db, let slot):
                let popped = popEntries(z, max: max, count: count)
                writeMultiPop(ctx.out, key: args[k], popped)
                changed(z, db: db, slot: slot)
                notifyRemoved(&ctx, max ? "zpopmax" : "zpopmin", args[k], z)
                return
            }
        }
        if let deadline, ctx.mayBlock {
            ctx.blockRequest = BlockRequest(keys: (first + 1..<whereIndex).map { args.bytes($0) },
                                            operation: .zpopMany(max: max, count: count), deadline: deadline)
            return
        }
        ctx.out.nullArray()
    }

    static func writeMultiPop(_ out: ReplyWriter, key: UnsafeRawBufferPointer, _ popped: [([UInt8], Double)]) {
        out.arrayHeader(2)
        out.bulk(key)
        out.arrayHeader(popped.count)
        for (m, s) in popped { out.arrayHeader(2); out.bulk(m); out.double(s) }
    }

    /// Serves one blocked BZPOPMIN/BZPOPMAX/BZMPOP client from the non-empty `z` at `key`.
    /// Returns how many entries it popped.
    static func serveBlocked(_ op: BlockedClient.Operation, key: UnsafeRawBufferPointer, zset z: ZSetObject, db: Keyspace,
                             now: Int64, out: ReplyWriter) -> Int {
        var popped: [([UInt8], Double)] = []
        switch op {
        case .zpop(let max):
            popped = popEntries(z, max: max, count: 1)
            out.arrayHeader(3)
            out.bulk(key); out.bulk(popped[0].0); out.double(popped[0].1)
        case .zpopMany(let max, let count):
            popped = popEntries(z, max: max, count: count)
            writeMultiPop(out, key: key, popped)
        default:
            return 0
        }
        if let slot = db.lookup(key, hash: ByteHash.hash(key), now: now, counted: false) { changed(z, db: db, slot: slot) }
        return popped.count
    }

    // MARK: ZRANDMEMBER / ZSCAN

    /// ZRANDMEMBER key [count [WITHSCORES]]
    static func zrandmember(_ ctx: inout CommandContext, _ args: Arguments) {
        guard args.count <= 4 else { ctx.syntaxError(); return }
        if args.count == 2 {
            switch find(&ctx, args[1]) {
            case .wrongType: return
            case .missing: ctx.out.null()
            case .zset(let z, _, _): ctx.out.bulk(z.randomEntry()!.0)
            }
            return
        }
        guard let l = integer(args[2]) else { ctx.notInteger(); return }
        var withScores = false
        if args.count == 4 {
            guard args.equalsKeyword(3, "WITHSCORES") else { ctx.syntaxError(); return }
            withScores = true
        }
        if l == Int.min {
            ctx.out.error("ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807" as StaticString)
            return
        }
        if (l < 0 && -l > HashFamily.maxRepeatedPicks) || (withScores && (l < -(Int.max / 2) || l > Int.max / 2)) {
            ctx.out.error("ERR value is out of range" as StaticString); return
        }
        switch find(&ctx, args[1]) {
        case .wrongType: return
        case .missing: ctx.out.arrayHeader(0)
        case .zset(let z, _, _):
            let out = ctx.out
            if l < 0 {
                entriesHeader(out, -l, withScores: withScores)
                for _ in 0..<(-l) { let (m, s) = z.randomEntry()!; m.withUnsafeBytes { entry(out, $0, s, withScores: withScores) } }
            } else if l >= z.count {
                // The whole set, highest first: Redis' iterator starts at the tail.
                entriesHeader(out, z.count, withScores: withScores)
                z.forEach(ranks: 0..<z.count, reverse: true) { m, s in entry(out, m, s, withScores: withScores); return true }
            } else {
                // Distinct picks: selection sampling (Knuth's algorithm S) in one pass.
                entriesHeader(out, l, withScores: withScores)
                var remaining = z.count, picks = l
                z.forEach { m, s in
                    if picks > 0 && Int.random(in: 0..<remaining) < picks { entry(out, m, s, withScores: withScores); picks -= 1 }
                    remaining -= 1
                }
            }
        }
    }

    /// ZSCAN key cursor [MATCH pattern] [COUNT count]: the whole set in one reply (cursor 0),
    /// which SCAN's contract allows (COUNT is a hint); Redis does the same for listpacks.
    /// Scores are bulk strings in both protocols, as in Redis.
    static func zscan(_ ctx: inout CommandContext, _ args: Arguments) {
        guard ScanSupport.parseCursor(args[2]) != nil else { ctx.out.error("ERR invalid cursor" as StaticString); return }
        guard let options = ScanSupport.parseOptions(&ctx, args, from: 3, allowType: false) else { return }
        let z: ZSetObject
        switch find(&ctx, args[1]) {
        case .wrongType: return
        case .missing:
            ctx.out.arrayHeader(2); ctx.out.bulk("0" as StaticString); ctx.out.arrayHeader(0); return
        case .zset(let found, _, _): z = found
        }
        var found: [([UInt8], Double)] = []
        z.forEach { m, s in
            if let p = options.pattern, !p.withUnsafeBytes({ Glob.match($0, m) }) { return }
            found.append((Array(m), s))
        }
        ctx.out.arrayHeader(2)
        ctx.out.bulk("0" as StaticString)
        ctx.out.arrayHeader(2 * found.count)
        let packed = z.isPacked
        for (m, s) in found { ctx.out.bulk(m); ctx.out.bulk(packed ? listpackScoreText(s) : RESPNumberFormat.double(s)) }
    }

    /// A score as Redis' listpack holds it, which ZSCAN of a listpack answers as is: d2string,
    /// an integer (double2ll: integral and within +-LLONG_MAX/2) in decimal, otherwise %.17g.
    /// So 123456789012345678 reads back "123456789012345680" from a listpack but
    /// "1.2345678901234568e+17" from a skiplist (%.17Lg).
    static func listpackScoreText(_ s: Double) -> String {
        let limit = Double(Int64.max / 2)
        if s >= -limit && s <= limit, s == s.rounded(.towardZero) { return String(Int64(s)) }
        return RESPNumberFormat.double(s)
    }

    // MARK: union, intersection, difference

    enum Operation { case union, inter, diff }
    enum Aggregate { case sum, min, max }

    /// An input of ZUNION & co: sets count as sorted sets whose scores are all 1.
    enum Input {
        case zset(ZSetObject)
        case set(SetObject)
        case missing

        var count: Int {
            switch self { case .zset(let z): return z.count; case .set(let s): return s.count; case .missing: return 0 }
        }
        func score(_ m: UnsafeRawBufferPointer) -> Double? {
            switch self {
            case .zset(let z): return z.score(m)
            case .set(let s): return s.contains(m) ? 1 : nil
            case .missing: return nil
            }
        }
        func forEach(_ body: (UnsafeRawBufferPointer, Double) -> Void) {
            switch self {
            case .zset(let z): z.forEach(body)
            case .set(let s): s.forEach { m in m.withUnsafeBytes { body($0, 1) } }
            case .missing: break
            }
        }
    }

    /// The inputs at `keys`, nil (WRONGTYPE replied) when one holds neither a set nor a zset.
    static func inputs(_ ctx: inout CommandContext, _ args: Arguments, _ keys: Range<Int>) -> [Input]? {
        var out: [Input] = []
        out.reserveCapacity(keys.count)
        for k in keys {
            let (db, _, slot) = ctx.lookup(args[k], read: true)
            guard let slot else { out.append(.missing); continue }
            switch db.value(at: slot) {
            case .zset(let z): out.append(.zset(z))
            case .set(let s): out.append(.set(s))
            default: ctx.wrongType(); return nil
            }
        }
        return out
    }

    @inline(__always) static func aggregate(_ a: Double, _ b: Double, _ how: Aggregate) -> Double {
        switch how {
        case .sum:
            let s = a + b
            return s.isNaN ? 0 : s   // inf + -inf: Redis makes it 0
        // Redis' comparisons: a NaN `b` (0 * inf in ZINTER) keeps `a`.
        case .min: return b < a ? b : a
        case .max: return b > a ? b : a
        }
    }

    /// ZUNION/ZINTER/ZDIFF numkeys key... [WEIGHTS w...] [AGGREGATE SUM|MIN|MAX] [WITHSCORES],
    /// and the STORE forms (destination first, no WITHSCORES). Redis' zunionInterDiffGenericCommand.
    static func algebra(_ ctx: inout CommandContext, _ args: Arguments, _ op: Operation, store: Bool,
                        cardinalityOnly: Bool = false) {
        let numkeysIndex = store ? 2 : 1
        guard let n = integer(args[numkeysIndex]) else { ctx.notInteger(); return }
        guard n >= 1 else {
            ctx.out.error("ERR at least 1 input key is needed for '\(String(decoding: args[0], as: UTF8.self).lowercased())' command")
            return
        }
        guard n <= args.count - numkeysIndex - 1 else { ctx.syntaxError(); return }
        let keys = numkeysIndex + 1..<numkeysIndex + 1 + n
        guard let sets = inputs(&ctx, args, keys) else { return }
        var weights = [Double](repeating: 1, count: n)
        var how = Aggregate.sum
        var withScores = false
        var limit = 0
        var i = keys.upperBound
        while i < args.count {
            let remaining = args.count - i
            if cardinalityOnly {
                guard remaining >= 2, args.equalsKeyword(i, "LIMIT") else { ctx.syntaxError(); return }
                guard let l = integer(args[i + 1]), l >= 0 else {
                    ctx.out.error("ERR LIMIT can't be negative" as StaticString); return
                }
                limit = l
                i += 2
            } else if op != .diff && remaining >= n + 1 && args.equalsKeyword(i, "WEIGHTS") {
                for w in 0..<n {
                    guard let v = parseDouble(args[i + 1 + w]) else {
                        ctx.out.error("ERR weight value is not a float" as StaticString); return
                    }
                    weights[w] = v
                }
                i += n + 1
            } else if op != .diff && remaining >= 2 && args.equalsKeyword(i, "AGGREGATE") {
                if args.equalsKeyword(i + 1, "SUM") { how = .sum }
                else if args.equalsKeyword(i + 1, "MIN") { how = .min }
                else if args.equalsKeyword(i + 1, "MAX") { how = .max }
                else { ctx.syntaxError(); return }
                i += 2
            } else if !store && args.equalsKeyword(i, "WITHSCORES") {
                withScores = true
                i += 1
            } else {
                ctx.syntaxError(); return
            }
        }
        let result = compute(op, sets, weights: weights, how)
        if cardinalityOnly {
            ctx.out.integer(limit > 0 ? min(result.count, limit) : result.count)
            return
        }
        if store {
            let (db, hash, slot) = ctx.lookup(args[1])
            if let slot { db.remove(at: slot) }
            if !result.isEmpty {
                let z = ZSetObject(expecting: result.count, longestMember: result.reduce(0) { max($0, $1.0.count) })
                for (m, s) in result { z.set(m, score: s) }
                create(&ctx, args[1], db: db, hash: hash, z)
                switch op {
                case .union: ctx.notify(.zset, "zunionstore", args[1])
                case .inter: ctx.notify(.zset, "zinterstore", args[1])
                case .diff: ctx.notify(.zset, "zdiffstore", args[1])
                }
            } else if slot != nil {
                ctx.notify(.generic, "del", args[1])
            }
            ctx.out.integer(result.count)
            return
        }
        entriesHeader(ctx.out, result.count, withScores: withScores)
        for (m, s) in result { m.withUnsafeBytes { entry(ctx.out, $0, s, withScores: withScores) } }
    }

    @inline(__always) static func weighted(_ s: Double, _ w: Double) -> Double {
        let v = s * w
        return v.isNaN ? 0 : v   // 0 * inf: Redis makes it 0
    }

    /// The result entries in (score, member) order.
    static func compute(_ op: Operation, _ sets: [Input], weights: [Double], _ how: Aggregate) -> [([UInt8], Double)] {
        var scores: [[UInt8]: Double] = [:]
        var order: [[UInt8]] = []
        // Inputs smallest first, ties in argument order (Redis' qsort by cardinality): the
        // order in which float scores add up changes the last bits of a sum.
        let byCount = sets.indices.sorted { (sets[$0].count, $0) < (sets[$1].count, $1) }
        switch op {
        case .union:
            for i in byCount {
                sets[i].forEach { m, v in
                    let key = Array(m)
                    let w = weighted(v, weights[i])
                    if let old = scores[key] { scores[key] = aggregate(old, w, how) }
                    else { scores[key] = w; order.append(key) }
                }
            }
        case .inter:
            if sets.contains(where: { $0.count == 0 }) { break }
            // Walk the smallest input, probing the others.
            let smallest = byCount[0]
            sets[smallest].forEach { m, v in
                var total = weighted(v, weights[smallest])
                for j in byCount.dropFirst() {
                    guard let other = sets[j].score(m) else { return }
                    // Only the first input's product is cleared of NaN, as in Redis.
                    total = aggregate(total, other * weights[j], how)
                }
                let key = Array(m)
                scores[key] = total
                order.append(key)
            }
        case .diff:
            guard sets[0].count > 0 else { break }
            sets[0].forEach { m, v in
                for j in sets.indices.dropFirst() where sets[j].score(m) != nil { return }
                let key = Array(m)
                scores[key] = v
                order.append(key)
            }
        }
        // Sorted here rather than in a ZSetObject: a reply keeps -0, which a packed set stores as 0.
        var result = order.map { ($0, scores[$0]!) }
        result.sort { a, b in
            a.0.withUnsafeBytes { ma in b.0.withUnsafeBytes { mb in ZSetObject.precedes(a.1, ma, b.1, mb) } }
        }
        return result
    }

    /// ZINTERCARD numkeys key... [LIMIT limit]: ZINTER's parsing (its errors too) and a count.
    static func zintercard(_ ctx: inout CommandContext, _ args: Arguments) {
        algebra(&ctx, args, .inter, store: false, cardinalityOnly: true)
    }
}
