import LarderRESP
import LarderStore

/// Per-field expiry, Redis 7.4: HEXPIRE / HPEXPIRE / HEXPIREAT / HPEXPIREAT set a TTL on some
/// fields, HTTL / HPTTL / HEXPIRETIME / HPEXPIRETIME read it, HPERSIST removes it. Replies
/// and error texts follow Redis 7.4's t_hash.c (redis-server 7.0 has none of these).
/// Expired fields are dropped when their key is looked up and by the shard's active sweep.
extension HashFamily {
    static let fieldExpiryCommands: [CommandSpec] = [
        setter("hexpire", "Set expiry for hash field using relative time to expire (seconds)", seconds: true, relative: true),
        setter("hpexpire", "Set expiry for hash field using relative time to expire (milliseconds)", seconds: false, relative: true),
        setter("hexpireat", "Set expiry for hash field using an absolute Unix timestamp (seconds)", seconds: true, relative: false),
        setter("hpexpireat", "Set expiry for hash field using an absolute Unix timestamp (milliseconds)", seconds: false, relative: false),
        reader("httl", "Returns the TTL in seconds of a hash field.", seconds: true, relative: true),
        reader("hpttl", "Returns the TTL in milliseconds of a hash field.", seconds: false, relative: true),
        reader("hexpiretime", "Returns the expiration time of a hash field as a Unix timestamp, in seconds.", seconds: true, relative: false),
        reader("hpexpiretime", "Returns the expiration time of a hash field as a Unix timestamp, in msec.", seconds: false, relative: false),
        CommandSpec("hpersist", arity: -5, flags: [.write, .fast], keys: .one, group: "hash",
                    summary: "Removes the expiration time for each specified field", since: "7.4.0", handler: hpersist),
    ]

    /// Redis' HFE_MAX_ABS_TIME_MSEC (EB_EXPIRE_TIME_MAX >> 2 = 2^46 - 1).
    static let maxAbsoluteMilliseconds: Int = (1 << 46) - 1

    /// Per-field reply codes.
    static let noField = -2, conditionNotMet = 0, set = 1, deletedInPast = 2, noTTL = -1, persisted = 1

    enum Condition { case none, nx, xx, gt, lt }

    static func setter(_ name: String, _ summary: String, seconds: Bool, relative: Bool) -> CommandSpec {
        CommandSpec(name, arity: -6, flags: [.write, .denyoom, .fast], keys: .one, group: "hash", summary: summary,
                    since: "7.4.0") { ctx, args in expire(&ctx, args, name: name, seconds: seconds, relative: relative) }
    }

    static func reader(_ name: String, _ summary: String, seconds: Bool, relative: Bool) -> CommandSpec {
        CommandSpec(name, arity: -5, flags: [.readonly, .fast], keys: .one, group: "hash", summary: summary,
                    since: "7.4.0") { ctx, args in ttl(&ctx, args, seconds: seconds, relative: relative) }
    }

    /// Checks `FIELDS numfields field...` with the keyword at `at`; returns the index of the
    /// first field, or nil after replying the error Redis gives.
    static func parseFields(_ ctx: inout CommandContext, _ args: Arguments, at: Int, numFieldsError: StaticString) -> Int? {
        guard args.equalsKeyword(at, "FIELDS") else {
            ctx.out.error("ERR Mandatory argument FIELDS is missing or not at the right position" as StaticString)
            return nil
        }
        guard let n = RESPParser.parseInteger(args[at + 1], from: 0, to: args[at + 1].count), n >= 1 else {
            ctx.out.error(numFieldsError); return nil
        }
        guard n == args.count - at - 2 else {
            ctx.out.error("ERR The `numfields` parameter must match the number of arguments" as StaticString)
            return nil
        }
        return at + 2
    }

    /// Replies `code` for every field (a missing key has none of them).
    static func replyForEachField(_ ctx: inout CommandContext, _ args: Arguments, from first: Int, _ code: Int) {
        ctx.out.arrayHeader(args.count - first)
        for _ in first..<args.count { ctx.out.integer(code) }
    }

    /// H[P]EXPIRE[AT] key time [NX|XX|GT|LT] FIELDS numfields field...
    static func expire(_ ctx: inout CommandContext, _ args: Arguments, name: String, seconds: Bool, relative: Bool) {
        let found = HashFamily.find(&ctx, args[1])
        if case .wrongType = found { return }
        guard var at = RESPParser.parseInteger(args[2], from: 0, to: args[2].count) else { ctx.notInteger(); return }
        if at < 0 { ctx.out.error("ERR invalid expire time, must be >= 0" as StaticString); return }
        let base = relative ? Int(ctx.now) : 0
        if seconds {
            if at > maxAbsoluteMilliseconds / 1000 { invalidTime(&ctx, name); return }
            at *= 1000
        }
        if at > maxAbsoluteMilliseconds - base { invalidTime(&ctx, name); return }
        at += base

        var condition = Condition.none
        if args.equalsKeyword(3, "NX") { condition = .nx }
        else if args.equalsKeyword(3, "XX") { condition = .xx }
        else if args.equalsKeyword(3, "GT") { condition = .gt }
        else if args.equalsKeyword(3, "LT") { condition = .lt }
        let keywordAt = condition == .none ? 3 : 4
        guard let first = parseFields(&ctx, args, at: keywordAt,
                                      numFieldsError: "ERR Parameter `numFields` should be greater than 0") else { return }

        guard case .hash(let h, let db, let slot) = found else {
            replyForEachField(&ctx, args, from: first, noField); return
        }
        let expireAt = Int64(at)
        db.willChange(slot)
        var changed = false, anySet = false, anyDeleted = false
        ctx.out.arrayHeader(args.count - first)
        for i in first..<args.count {
            let field = args[i]
            guard h.contains(field) else { ctx.out.integer(noField); continue }
            let previous = h.fieldExpireAt(field)
            if !conditionHolds(condition, previous: previous, new: expireAt) { ctx.out.integer(conditionNotMet); continue }
            changed = true
            if expireAt <= ctx.now {
                h.remove(field)
                anyDeleted = true
                ctx.out.integer(deletedInPast)
            } else {
                h.setFieldExpiry(field, at: expireAt)
                anySet = true
                ctx.out.integer(set)
            }
        }
        guard changed else { return }
        // Redis 7.4's events: "hexpire" for TTLs set, "hdel" for fields a past time deleted.
        if anySet { ctx.notify(.hash, "hexpire", args[1]) }
        if anyDeleted { ctx.notify(.hash, "hdel", args[1]) }
        if h.count == 0 { db.remove(at: slot); ctx.notify(.generic, "del", args[1]); return }
        db.touch(slot)
        if anySet { db.trackFieldExpiry(args[1], h) }
    }

    /// A field without TTL counts as expiring never: LT may set it, GT and XX may not.
    static func conditionHolds(_ c: Condition, previous: Int64?, new: Int64) -> Bool {
        switch c {
        case .none: return true
        case .nx: return previous == nil
        case .xx: return previous != nil
        case .gt: return previous.map { new > $0 } ?? false
        case .lt: return previous.map { new < $0 } ?? true
        }
    }

    static func invalidTime(_ ctx: inout CommandContext, _ name: String) {
        ctx.out.error("ERR invalid expire time in '\(name)' command")
    }

    /// H[P]TTL / H[P]EXPIRETIME key FIELDS numfields field...
    static func ttl(_ ctx: inout CommandContext, _ args: Arguments, seconds: Bool, relative: Bool) {
        let found = HashFamily.find(&ctx, args[1])
        if case .wrongType = found { return }
        guard let first = parseFields(&ctx, args, at: 2,
                                      numFieldsError: "ERR Number of fields must be a positive integer") else { return }
        guard case .hash(let h, _, _) = found else { replyForEachField(&ctx, args, from: first, noField); return }
        let base = relative ? ctx.now : 0
        ctx.out.arrayHeader(args.count - first)
        for i in first..<args.count {
            guard h.contains(args[i]) else { ctx.out.integer(noField); continue }
            guard let at = h.fieldExpireAt(args[i]) else { ctx.out.integer(noTTL); continue }
            // Seconds round up, as Redis' (expire + 999 - basetime) / 1000.
            ctx.out.integer(Int(seconds ? (at + 999 - base) / 1000 : at - base))
        }
    }

    /// HPERSIST key FIELDS numfields field...
    static func hpersist(_ ctx: inout CommandContext, _ args: Arguments) {
        let found = HashFamily.find(&ctx, args[1])
        if case .wrongType = found { return }
        guard let first = parseFields(&ctx, args, at: 2,
                                      numFieldsError: "ERR Number of fields must be a positive integer") else { return }
        guard case .hash(let h, let db, let slot) = found else { replyForEachField(&ctx, args, from: first, noField); return }
        var changed = false
        db.willChange(slot)
        ctx.out.arrayHeader(args.count - first)
        for i in first..<args.count {
            guard h.contains(args[i]) else { ctx.out.integer(noField); continue }
            if h.persistField(args[i]) { changed = true; ctx.out.integer(persisted) } else { ctx.out.integer(noTTL) }
        }
        if changed { db.touch(slot); ctx.notify(.hash, "hpersist", args[1]) }
    }
}
