import LarderRESP
import LarderStore

/// String commands (Redis' t_string.c).
enum StringFamily {
    static let commands: [CommandSpec] = [
        CommandSpec("get", arity: 2, flags: [.readonly, .fast], keys: .one, group: "string",
                    summary: "Returns the string value of a key.", handler: get),
        CommandSpec("set", arity: -3, flags: [.write, .denyoom], keys: .one, group: "string",
                    summary: "Sets the string value of a key, ignoring its type. The key is created if it doesn't exist.",
                    handler: set),
    ]

    static func get(_ ctx: inout CommandContext, _ args: Arguments) {
        let (db, _, slot) = ctx.lookup(args[1])
        guard let slot else { ctx.out.null(); return }
        switch db.value(at: slot) {
        case .string(let s): ctx.out.bulk(s)
        default: ctx.wrongType()
        }
    }

    /// SET key value [NX | XX] [GET] [EX s | PX ms | EXAT ts | PXAT ms-ts | KEEPTTL]
    static func set(_ ctx: inout CommandContext, _ args: Arguments) {
        var nx = false, xx = false, get = false, keepTTL = false
        var expireAt: Int64 = 0
        var i = 3
        var sawExpiry = false
        while i < args.count {
            if args.equalsKeyword(i, "NX") && !xx { nx = true }
            else if args.equalsKeyword(i, "XX") && !nx { xx = true }
            else if args.equalsKeyword(i, "GET") { get = true }
            else if args.equalsKeyword(i, "KEEPTTL") && !sawExpiry { keepTTL = true; sawExpiry = true }
            else if !keepTTL && !sawExpiry && i + 1 < args.count,
                    let unit = ExpiryOption.parse(args, i) {
                guard let v = RESPParser.parseInteger(args[i + 1], from: 0, to: args[i + 1].count) else {
                    ctx.notInteger(); return
                }
                guard let at = unit.absoluteMilliseconds(v, now: ctx.now) else {
                    ctx.out.error("ERR invalid expire time in 'set' command"); return
                }
                expireAt = at
                sawExpiry = true
                i += 1
            } else { ctx.syntaxError(); return }
            i += 1
        }
        let (db, hash, slot) = ctx.lookup(args[1])
        if get, let slot {
            guard case .string = db.value(at: slot) else { ctx.wrongType(); return }
        }
        let old: [UInt8]? = slot.flatMap { s in if case .string(let v) = db.value(at: s) { return v }; return nil }
        if (nx && slot != nil) || (xx && slot == nil) {
            if get { if let old { ctx.out.bulk(old) } else { ctx.out.null() } } else { ctx.out.null() }
            return
        }
        if keepTTL, let slot { expireAt = db.expireAt(slot) }
        db.set(args[1], hash: hash, value: .string(args.bytes(2)), expireAt: expireAt, now: ctx.now)
        if get { if let old { ctx.out.bulk(old) } else { ctx.out.null() } } else { ctx.out.ok() }
    }
}

/// The EX/PX/EXAT/PXAT options shared by SET and GETEX.
enum ExpiryOption {
    case ex, px, exat, pxat

    static func parse(_ args: Arguments, _ i: Int) -> ExpiryOption? {
        if args.equalsKeyword(i, "EX") { return .ex }
        if args.equalsKeyword(i, "PX") { return .px }
        if args.equalsKeyword(i, "EXAT") { return .exat }
        if args.equalsKeyword(i, "PXAT") { return .pxat }
        return nil
    }

    /// Absolute unix ms, or nil when Redis rejects the value (non-positive or overflowing).
    func absoluteMilliseconds(_ v: Int, now: Int64) -> Int64? {
        guard v > 0 else { return nil }
        switch self {
        case .ex:
            let (ms, o) = Int64(v).multipliedReportingOverflow(by: 1000)
            if o { return nil }
            let (at, o2) = ms.addingReportingOverflow(now)
            return o2 ? nil : at
        case .px:
            let (at, o) = Int64(v).addingReportingOverflow(now)
            return o ? nil : at
        case .exat:
            let (ms, o) = Int64(v).multipliedReportingOverflow(by: 1000)
            return o ? nil : ms
        case .pxat:
            return Int64(v)
        }
    }
}
