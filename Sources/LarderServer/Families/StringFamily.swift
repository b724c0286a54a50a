import Atomics
import LarderRESP
import LarderStore

/// String commands (Redis' t_string.c). Counters (INCR...) are in StringCounters.swift.
/// Replies and errors follow Redis 7.0 word for word, including the order in which errors
/// are detected (argument parsing first, then the key's type).
enum StringFamily {
    static let commands: [CommandSpec] = [
        CommandSpec("get", arity: 2, flags: [.readonly, .fast], keys: .one, group: "string",
                    handler: get),
        CommandSpec("set", arity: -3, flags: [.write, .denyoom], keys: .one, group: "string",
                    handler: set),
        CommandSpec("setnx", arity: 3, flags: [.write, .denyoom, .fast], keys: .one, group: "string",
                    handler: setnx),
        CommandSpec("setex", arity: 4, flags: [.write, .denyoom], keys: .one, group: "string",
                    handler: { setWithTTL(&$0, $1, unit: .seconds, name: "setex") }),
        CommandSpec("psetex", arity: 4, flags: [.write, .denyoom], keys: .one, group: "string",
                    handler: { setWithTTL(&$0, $1, unit: .milliseconds, name: "psetex") }),
        CommandSpec("getset", arity: 3, flags: [.write, .denyoom, .fast], keys: .one, group: "string",
                    handler: getset),
        CommandSpec("getdel", arity: 2, flags: [.write, .fast], keys: .one, group: "string",
                    handler: getdel),
        CommandSpec("getex", arity: -2, flags: [.write, .fast], keys: .one, group: "string",
                    handler: getex),
        CommandSpec("mget", arity: -2, flags: [.readonly, .fast], keys: .range(1, -1, 1), group: "string",
                    handler: mget),
        CommandSpec("mset", arity: -3, flags: [.write, .denyoom], keys: .range(1, -1, 2), group: "string",
                    handler: mset),
        CommandSpec("msetnx", arity: -3, flags: [.write, .denyoom], keys: .range(1, -1, 2), group: "string",
                    handler: msetnx),
        CommandSpec("append", arity: 3, flags: [.write, .denyoom, .fast], keys: .one, group: "string",
                    handler: append),
        CommandSpec("strlen", arity: 2, flags: [.readonly, .fast], keys: .one, group: "string",
                    handler: strlen),
        CommandSpec("getrange", arity: 4, flags: [.readonly], keys: .one, group: "string",
                    handler: getrange),
        CommandSpec("substr", arity: 4, flags: [.readonly], keys: .one, group: "string",
                    handler: getrange),
        CommandSpec("setrange", arity: 4, flags: [.write, .denyoom], keys: .one, group: "string",
                    handler: setrange),
    ] + counterCommands + lcsCommands + bitCommands

    // MARK: helpers

    /// The string at `key`: `.missing`, `.wrongType` (after replying WRONGTYPE) or its slot.
    enum StringLookup { case missing, wrongType, found(Keyspace, Int) }

    @inline(__always)
    static func stringAt(_ ctx: inout CommandContext, _ key: UnsafeRawBufferPointer, read: Bool = false) -> StringLookup {
        let (db, _, slot) = ctx.lookup(key, read: read)
        guard let slot else { return .missing }
        guard db.isString(at: slot) else { ctx.wrongType(); return .wrongType }
        return .found(db, slot)
    }

    /// Redis' getGenericCommand: replies the value (or null); false after WRONGTYPE.
    static func replyValue(_ ctx: inout CommandContext, _ key: UnsafeRawBufferPointer) -> Bool {
        let (db, _, slot) = ctx.lookup(key, read: true)
        guard let slot else { ctx.out.null(); return true }
        let out = ctx.out
        guard db.withString(at: slot, { out.bulk($0) }) != nil else { ctx.wrongType(); return false }
        return true
    }

    /// Redis' checkStringLength: `size + append` bytes may not exceed proto-max-bulk-len
    /// (nor overflow: SETRANGE takes any offset).
    static func checkLength(_ ctx: inout CommandContext, _ size: Int, _ append: Int) -> Bool {
        let (total, overflow) = size.addingReportingOverflow(append)
        if overflow || total > ctx.server.settings.protoMaxBulkLength.load(ordering: .relaxed) {
            ctx.out.error("ERR string exceeds maximum allowed size (proto-max-bulk-len)" as StaticString)
            return false
        }
        return true
    }

    // MARK: GET / SET family

    static func get(_ ctx: inout CommandContext, _ args: Arguments) {
        _ = replyValue(&ctx, args[1])
    }

    /// SET key value [NX | XX] [GET] [EX s | PX ms | EXAT ts | PXAT ms-ts | KEEPTTL]
    static func set(_ ctx: inout CommandContext, _ args: Arguments) {
        guard let opts = SetOptions.parse(&ctx, args, from: 3, forGetex: false) else { return }
        var expireAt: Int64 = 0
        if let unit = opts.expiry {
            guard let at = unit.parseDeadline(&ctx, args[opts.expiryArgument], command: "set") else { return }
            expireAt = at
        }
        if opts.get && !replyValue(&ctx, args[1]) { return }
        if !opts.nx && !opts.xx && !opts.keepTTL {
            // Unconditional: one probe, overwriting whatever is there (expired or not).
            let (db, hash) = ctx.db(for: args[1])
            db.setString(args[1], hash: hash, bytes: args[2], expireAt: expireAt, now: ctx.now)
            if !opts.get { ctx.out.ok() }
            notifySet(ctx, args[1], expires: expireAt != 0)
            return
        }
        let (db, hash, slot) = ctx.lookup(args[1])
        if (opts.nx && slot != nil) || (opts.xx && slot == nil) {
            if !opts.get { ctx.out.null() }
            return
        }
        if opts.keepTTL, let slot { expireAt = db.expireAt(slot) }
        db.setString(args[1], hash: hash, bytes: args[2], expireAt: expireAt, now: ctx.now)
        if !opts.get { ctx.out.ok() }
        notifySet(ctx, args[1], expires: opts.expiry != nil)
    }

    static func setnx(_ ctx: inout CommandContext, _ args: Arguments) {
        let (db, hash, slot) = ctx.lookup(args[1])
        if slot != nil { ctx.out.integer(0); return }
        db.setString(args[1], hash: hash, bytes: args[2], expireAt: 0, now: ctx.now)
        ctx.out.integer(1)
        ctx.notify(.string, "set", args[1])
    }

    /// Redis' setGenericCommand events: "set", then "expire" when it gave a TTL.
    @inline(__always)
    static func notifySet(_ ctx: CommandContext, _ key: UnsafeRawBufferPointer, expires: Bool) {
        ctx.notify(.string, "set", key)
        if expires { ctx.notify(.generic, "expire", key) }
    }

    /// SETEX key seconds value / PSETEX key milliseconds value.
    static func setWithTTL(_ ctx: inout CommandContext, _ args: Arguments, unit: ExpiryOption, name: String) {
        guard let at = unit.parseDeadline(&ctx, args[2], command: name) else { return }
        let (db, hash) = ctx.db(for: args[1])
        db.setString(args[1], hash: hash, bytes: args[3], expireAt: at, now: ctx.now)
        ctx.out.ok()
        notifySet(ctx, args[1], expires: true)
    }

    static func getset(_ ctx: inout CommandContext, _ args: Arguments) {
        guard replyValue(&ctx, args[1]) else { return }
        let (db, hash) = ctx.db(for: args[1])
        db.setString(args[1], hash: hash, bytes: args[2], expireAt: 0, now: ctx.now)
        ctx.notify(.string, "set", args[1])
    }

    static func getdel(_ ctx: inout CommandContext, _ args: Arguments) {
        switch stringAt(&ctx, args[1], read: true) {
        case .missing: ctx.out.null()
        case .wrongType: return
        case .found(let db, let slot):
            let out = ctx.out
            _ = db.withString(at: slot) { out.bulk($0) }
            db.remove(at: slot)
            ctx.notify(.generic, "del", args[1])
        }
    }

    /// GETEX key [EX s | PX ms | EXAT ts | PXAT ms-ts | PERSIST]. The expiry value is checked
    /// only once the key is known to exist, as Redis does.
    static func getex(_ ctx: inout CommandContext, _ args: Arguments) {
        guard let opts = SetOptions.parse(&ctx, args, from: 2, forGetex: true) else { return }
        let db: Keyspace, slot: Int
        switch stringAt(&ctx, args[1], read: true) {
        case .missing: ctx.out.null(); return
        case .wrongType: return
        case .found(let d, let s): db = d; slot = s
        }
        var deadline: Int64 = 0
        if let unit = opts.expiry {
            guard let at = unit.parseDeadline(&ctx, args[opts.expiryArgument], command: "getex") else { return }
            deadline = at
        }
        let out = ctx.out
        _ = db.withString(at: slot) { out.bulk($0) }
        if let unit = opts.expiry {
            if (unit == .exat || unit == .pxat) && deadline <= ctx.now {
                db.remove(at: slot)
                ctx.notify(.generic, "del", args[1])
            } else {
                db.setExpire(slot: slot, deadline)
                db.touch(slot)
                ctx.notify(.generic, "expire", args[1])
            }
        } else if opts.persist && db.expireAt(slot) != 0 {
            db.setExpire(slot: slot, 0)
            db.touch(slot)
            ctx.notify(.generic, "persist", args[1])
        }
    }

    // MARK: multi-key (atomic across shards: routing holds every involved shard)

    static func mget(_ ctx: inout CommandContext, _ args: Arguments) {
        ctx.out.arrayHeader(args.count - 1)
        for i in 1..<args.count {
            let (db, _, slot) = ctx.lookup(args[i])
            let out = ctx.out
            if let slot, db.withString(at: slot, { out.bulk($0) }) != nil {} else { out.null() }
        }
    }

    static func mset(_ ctx: inout CommandContext, _ args: Arguments) {
        guard args.count % 2 == 1 else { ctx.wrongArity("mset"); return }
        setPairs(&ctx, args)
        ctx.out.ok()
    }

    static func msetnx(_ ctx: inout CommandContext, _ args: Arguments) {
        guard args.count % 2 == 1 else { ctx.wrongArity("msetnx"); return }
        var i = 1
        while i < args.count {
            if ctx.lookup(args[i]).slot != nil { ctx.out.integer(0); return }
            i += 2
        }
        setPairs(&ctx, args)
        ctx.out.integer(1)
    }

    private static func setPairs(_ ctx: inout CommandContext, _ args: Arguments) {
        var i = 1
        while i < args.count {
            let (db, hash) = ctx.db(for: args[i])
            db.setString(args[i], hash: hash, bytes: args[i + 1], expireAt: 0, now: ctx.now)
            ctx.notify(.string, "set", args[i])
            i += 2
        }
    }

    // MARK: partial reads and writes

    static func append(_ ctx: inout CommandContext, _ args: Arguments) {
        switch stringAt(&ctx, args[1]) {
        case .wrongType: return
        case .missing:
            let (db, hash) = ctx.db(for: args[1])
            db.set(args[1], hash: hash, value: .string(args.bytes(2)), expireAt: 0, now: ctx.now)
            ctx.out.integer(args[2].count)
            ctx.notify(.string, "append", args[1])
        case .found(let db, let slot):
            guard case .string(let old) = db.value(at: slot), checkLength(&ctx, old.count, args[2].count) else { return }
            let length = db.updateValue(at: slot) { v -> Int in
                guard case .string(var s) = v else { return 0 }
                v = .string([])  // drop the table's reference so `s` grows in place
                s.append(contentsOf: args[2])
                v = .string(s)
                return s.count
            }
            db.markStringEncoding(at: slot, .raw)  // Redis' dbUnshareStringValue makes it "raw"
            ctx.out.integer(length)
            ctx.notify(.string, "append", args[1])
        }
    }

    static func strlen(_ ctx: inout CommandContext, _ args: Arguments) {
        switch stringAt(&ctx, args[1]) {
        case .missing: ctx.out.integer(0)
        case .wrongType: return
        case .found(let db, let slot):
            if let n = db.withString(at: slot, { $0.count }) { ctx.out.integer(n) }
        }
    }

    /// GETRANGE key start end (also SUBSTR): inclusive, negative indexes count from the end.
    static func getrange(_ ctx: inout CommandContext, _ args: Arguments) {
        guard var start = RESPParser.parseInteger(args[2], from: 0, to: args[2].count),
              var end = RESPParser.parseInteger(args[3], from: 0, to: args[3].count) else { ctx.notInteger(); return }
        let s: [UInt8]
        switch stringAt(&ctx, args[1]) {
        case .missing: ctx.out.bulk([]); return
        case .wrongType: return
        case .found(let db, let slot):
            guard case .string(let v) = db.value(at: slot) else { return }
            s = v
        }
        let n = s.count
        if start < 0 && end < 0 && start > end { ctx.out.bulk([]); return }
        if start < 0 { start = n + start }
        if end < 0 { end = n + end }
        if start < 0 { start = 0 }
        if end < 0 { end = 0 }
        if end >= n { end = n - 1 }
        if start > end || n == 0 { ctx.out.bulk([]); return }
        s.withUnsafeBytes { ctx.out.bulk(UnsafeRawBufferPointer(rebasing: $0[start...end])) }
    }

    /// SETRANGE key offset value: zero-pads as needed; replies the new length.
    static func setrange(_ ctx: inout CommandContext, _ args: Arguments) {
        guard let offset = RESPParser.parseInteger(args[2], from: 0, to: args[2].count) else { ctx.notInteger(); return }
        guard offset >= 0 else { ctx.out.error("ERR offset is out of range" as StaticString); return }
        let value = args[3]
        switch stringAt(&ctx, args[1]) {
        case .wrongType: return
        case .missing:
            if value.count == 0 { ctx.out.integer(0); return }
            guard checkLength(&ctx, offset, value.count) else { return }
            var s = [UInt8](repeating: 0, count: offset + value.count)
            s.withUnsafeMutableBytes { $0.baseAddress!.advanced(by: offset).copyMemory(from: value.baseAddress!, byteCount: value.count) }
            let (db, hash) = ctx.db(for: args[1])
            let slot = db.set(args[1], hash: hash, value: .string(s), expireAt: 0, now: ctx.now)
            db.markStringEncoding(at: slot, .raw)  // Redis builds it with createObject: "raw"
            ctx.out.integer(s.count)
            ctx.notify(.string, "setrange", args[1])
        case .found(let db, let slot):
            guard case .string(let old) = db.value(at: slot) else { return }
            if value.count == 0 { ctx.out.integer(old.count); return }
            guard checkLength(&ctx, offset, value.count) else { return }
            let length = db.updateValue(at: slot) { v -> Int in
                guard case .string(var s) = v else { return 0 }
                v = .string([])  // unique reference: write in place
                if s.count < offset + value.count { s.append(contentsOf: repeatElement(0, count: offset + value.count - s.count)) }
                s.withUnsafeMutableBytes { $0.baseAddress!.advanced(by: offset).copyMemory(from: value.baseAddress!, byteCount: value.count) }
                v = .string(s)
                return s.count
            }
            db.markStringEncoding(at: slot, .raw)  // Redis' dbUnshareStringValue makes it "raw"
            ctx.out.integer(length)
            ctx.notify(.string, "setrange", args[1])
        }
    }
}

/// The options of SET (from argument 3) and GETEX (from argument 2), parsed with Redis'
/// parseExtendedStringArgumentsOrReply rules: NX/XX exclude each other, the expiry forms
/// exclude each other and KEEPTTL/PERSIST, but the same form may repeat (the last wins).
struct SetOptions {
    var nx = false, xx = false, get = false, keepTTL = false, persist = false
    var expiry: ExpiryOption? = nil
    var expiryArgument = 0

    static func parse(_ ctx: inout CommandContext, _ args: Arguments, from first: Int, forGetex: Bool) -> SetOptions? {
        var o = SetOptions()
        var j = first
        while j < args.count {
            let hasNext = j + 1 < args.count
            if !forGetex && args.equalsKeyword(j, "NX") && !o.xx { o.nx = true }
            else if !forGetex && args.equalsKeyword(j, "XX") && !o.nx { o.xx = true }
            else if !forGetex && args.equalsKeyword(j, "GET") { o.get = true }
            else if !forGetex && args.equalsKeyword(j, "KEEPTTL") && !o.persist && o.expiry == nil { o.keepTTL = true }
            else if forGetex && args.equalsKeyword(j, "PERSIST") && o.expiry == nil && !o.keepTTL { o.persist = true }
            else if let unit = ExpiryOption.parse(args, j), hasNext, !o.keepTTL, !o.persist,
                    o.expiry == nil || o.expiry == unit {
                o.expiry = unit
                o.expiryArgument = j + 1
                j += 1
            } else {
                ctx.syntaxError()
                return nil
            }
            j += 1
        }
        return o
    }
}

/// The EX/PX/EXAT/PXAT options shared by SET and GETEX (and the units of SETEX/PSETEX).
enum ExpiryOption: Equatable {
    case ex, px, exat, pxat
    static let seconds = ExpiryOption.ex
    static let milliseconds = ExpiryOption.px

    static func parse(_ args: Arguments, _ i: Int) -> ExpiryOption? {
        if args.equalsKeyword(i, "EX") { return .ex }
        if args.equalsKeyword(i, "PX") { return .px }
        if args.equalsKeyword(i, "EXAT") { return .exat }
        if args.equalsKeyword(i, "PXAT") { return .pxat }
        return nil
    }

    /// Absolute unix ms, or nil when Redis rejects the value (non-positive or overflowing).
    /// Mirrors getExpireMillisecondsOrReply: relative forms add the clock with C's wrapping
    /// arithmetic and reject a result <= 0.
    func absoluteMilliseconds(_ v: Int, now: Int64) -> Int64? {
        let inSeconds = self == .ex || self == .exat
        guard v > 0, !(inSeconds && v > Int.max / 1000) else { return nil }
        var ms = Int64(v) * (inSeconds ? 1000 : 1)
        if self == .ex || self == .px { ms = ms &+ now }
        return ms > 0 ? ms : nil
    }

    /// Parses an expiry argument and replies Redis' error when it is not acceptable.
    func parseDeadline(_ ctx: inout CommandContext, _ arg: UnsafeRawBufferPointer, command: String) -> Int64? {
        guard let v = RESPParser.parseInteger(arg, from: 0, to: arg.count) else { ctx.notInteger(); return nil }
        guard let at = absoluteMilliseconds(v, now: ctx.now) else {
            ctx.out.error("ERR invalid expire time in '\(command)' command")
            return nil
        }
        return at
    }
}
