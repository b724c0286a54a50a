import LarderRESP
import LarderStore

/// EXPIRE, PEXPIRE, EXPIREAT, PEXPIREAT, TTL, PTTL, EXPIRETIME, PEXPIRETIME, PERSIST
/// (Redis' expire.c). Expiry times are absolute unix milliseconds in the store.
extension KeyFamily {
    static let expiryCommands: [CommandSpec] = [
        CommandSpec("expire", arity: -3, flags: [.write, .fast], keys: .one, group: "generic",
                    handler: { expire(&$0, $1, relative: true, seconds: true, name: "expire") }),
        CommandSpec("pexpire", arity: -3, flags: [.write, .fast], keys: .one, group: "generic",
                    handler: { expire(&$0, $1, relative: true, seconds: false, name: "pexpire") }),
        CommandSpec("expireat", arity: -3, flags: [.write, .fast], keys: .one, group: "generic",
                    handler: { expire(&$0, $1, relative: false, seconds: true, name: "expireat") }),
        CommandSpec("pexpireat", arity: -3, flags: [.write, .fast], keys: .one, group: "generic",
                    handler: { expire(&$0, $1, relative: false, seconds: false, name: "pexpireat") }),
        CommandSpec("ttl", arity: 2, flags: [.readonly, .fast], keys: .one, group: "generic",
                    handler: { ttl(&$0, $1, milliseconds: false, absolute: false) }),
        CommandSpec("pttl", arity: 2, flags: [.readonly, .fast], keys: .one, group: "generic",
                    handler: { ttl(&$0, $1, milliseconds: true, absolute: false) }),
        CommandSpec("expiretime", arity: 2, flags: [.readonly, .fast], keys: .one, group: "generic",
                    handler: { ttl(&$0, $1, milliseconds: false, absolute: true) }),
        CommandSpec("pexpiretime", arity: 2, flags: [.readonly, .fast], keys: .one, group: "generic",
                    handler: { ttl(&$0, $1, milliseconds: true, absolute: true) }),
        CommandSpec("persist", arity: 2, flags: [.write, .fast], keys: .one, group: "generic",
                    handler: persist),
    ]

    struct ExpireCondition: OptionSet {
        let rawValue: UInt8
        static let nx = ExpireCondition(rawValue: 1), xx = ExpireCondition(rawValue: 2)
        static let gt = ExpireCondition(rawValue: 4), lt = ExpireCondition(rawValue: 8)
    }

    /// Redis' parseExtendedExpireArgumentsOrReply: NX | XX | GT | LT, checked for conflicts
    /// before the time argument is even parsed.
    static func parseExpireConditions(_ ctx: inout CommandContext, _ args: Arguments) -> ExpireCondition? {
        var c: ExpireCondition = []
        for j in 3..<max(3, args.count) {
            if args.equalsKeyword(j, "NX") { c.insert(.nx) }
            else if args.equalsKeyword(j, "XX") { c.insert(.xx) }
            else if args.equalsKeyword(j, "GT") { c.insert(.gt) }
            else if args.equalsKeyword(j, "LT") { c.insert(.lt) }
            else {
                // Redis prints the option as a C string: it stops at a NUL byte.
                let option = args[j].prefix { $0 != 0 }
                ctx.out.error("ERR Unsupported option \(String(decoding: option, as: UTF8.self))")
                return nil
            }
        }
        if c.contains(.nx) && !c.isDisjoint(with: [.xx, .gt, .lt]) {
            ctx.out.error("ERR NX and XX, GT or LT options at the same time are not compatible" as StaticString)
            return nil
        }
        if c.contains(.gt) && c.contains(.lt) {
            ctx.out.error("ERR GT and LT options at the same time are not compatible" as StaticString)
            return nil
        }
        return c
    }

    /// Redis' expireGenericCommand. A time at or before now deletes the key (and replies 1).
    static func expire(_ ctx: inout CommandContext, _ args: Arguments, relative: Bool, seconds: Bool, name: String) {
        guard let conditions = parseExpireConditions(&ctx, args) else { return }
        guard var when = RESPParser.parseInteger(args[2], from: 0, to: args[2].count) else { ctx.notInteger(); return }
        let invalid = "ERR invalid expire time in '\(name)' command"
        if seconds {
            if when > Int.max / 1000 || when < Int.min / 1000 { ctx.out.error(invalid); return }
            when *= 1000
        }
        let base = relative ? Int(ctx.now) : 0
        if when > Int.max - base { ctx.out.error(invalid); return }
        when += base

        let (db, _, found) = ctx.lookup(args[1])
        guard let slot = found else { ctx.out.integer(0); return }
        if !conditions.isEmpty {
            let stored = db.expireAt(slot)
            let current = stored == 0 ? -1 : Int(stored)  // -1: no TTL, an infinite one for GT/LT
            if conditions.contains(.nx) && current != -1 { ctx.out.integer(0); return }
            if conditions.contains(.xx) && current == -1 { ctx.out.integer(0); return }
            if conditions.contains(.gt) && (when <= current || current == -1) { ctx.out.integer(0); return }
            if conditions.contains(.lt) && current != -1 && when >= current { ctx.out.integer(0); return }
        }
        if when <= ctx.now {
            db.remove(at: slot)
            ctx.notify(.generic, "del", args[1])
        } else {
            db.setExpire(slot: slot, Int64(when))
            db.touch(slot)
            ctx.notify(.generic, "expire", args[1])
        }
        ctx.out.integer(1)
    }

    /// TTL / PTTL (remaining time, -1 without TTL, -2 without key) and EXPIRETIME / PEXPIRETIME
    /// (the absolute time). Seconds are rounded to the nearest, as Redis does.
    static func ttl(_ ctx: inout CommandContext, _ args: Arguments, milliseconds: Bool, absolute: Bool) {
        ctx.touchesKeys = false
        let (db, _, found) = ctx.lookup(args[1])
        guard let slot = found else { ctx.out.integer(-2); return }
        let at = db.expireAt(slot)
        guard at != 0 else { ctx.out.integer(-1); return }
        let value = max(0, absolute ? Int(at) : Int(at - ctx.now))
        // Rounded in unsigned arithmetic, as Redis' compiled code does for times near Int64.max.
        ctx.out.integer(milliseconds ? value : Int((UInt64(value) + 500) / 1000))
    }

    static func persist(_ ctx: inout CommandContext, _ args: Arguments) {
        let (db, _, found) = ctx.lookup(args[1])
        guard let slot = found, db.expireAt(slot) != 0 else { ctx.out.integer(0); return }
        db.setExpire(slot: slot, 0)
        db.touch(slot)
        ctx.out.integer(1)
        ctx.notify(.generic, "persist", args[1])
    }
}
