import LarderPersistence
import LarderRESP

/// How a write command is logged in the append-only file: in its effective form, as Redis 7.0
/// propagates it (checked against what redis-server 7.0.15 writes with --appendonly yes), so a
/// replay gives the same keyspace however late it runs: relative TTLs become absolute
/// (SET PXAT, PEXPIREAT), a TTL already in the past becomes DEL, results that depend on the
/// value become the value (INCRBYFLOAT -> SET ... KEEPTTL, HINCRBYFLOAT -> HSET). The reply
/// tells whether something changed where Redis would not propagate (DEL of nothing, EXPIRE of a
/// missing key). A command that replied an error changed nothing and is not logged.
///
/// One rule per command, resolved once by name into a table indexed by CommandSpec.id, so the
/// data path pays one array read per write.
enum AOFPropagation {
    enum Rule {
        /// Logged as received.
        case asIs
        /// Logged as received when the integer reply is not 0 (DEL, HDEL, PERSIST, SETNX...).
        case ifChanged
        /// Not logged here: the command logs its own effect (FEATURES.PUSH writes HSET/PEXPIREAT).
        case skip
        case set
        case setex(seconds: Bool)
        case expire(seconds: Bool, relative: Bool)
        case getex, getdel, getset, incrbyfloat, hincrbyfloat
        case hashFieldExpire(seconds: Bool, relative: Bool)
        /// BLPOP, BRPOP, BLMOVE, BRPOPLPUSH, BLMPOP that found an element at once: logged as the
        /// non-blocking pop (a blocked one is logged when served: `servedBlock`).
        case blocking(name: StaticString)
        /// SORT: logged only with STORE (an integer reply); without it, it only read.
        case sortStore
        /// RESTORE: a relative TTL is logged as an absolute one with ABSTTL, as Redis rewrites it.
        case restore
    }

    static func rule(for name: String) -> Rule {
        switch name {
        case "set": return .set
        case "setex": return .setex(seconds: true)
        case "psetex": return .setex(seconds: false)
        case "expire": return .expire(seconds: true, relative: true)
        case "pexpire": return .expire(seconds: false, relative: true)
        case "expireat": return .expire(seconds: true, relative: false)
        case "pexpireat": return .expire(seconds: false, relative: false)
        case "getex": return .getex
        case "getdel": return .getdel
        case "getset": return .getset
        case "incrbyfloat": return .incrbyfloat
        case "hincrbyfloat": return .hincrbyfloat
        case "hexpire": return .hashFieldExpire(seconds: true, relative: true)
        case "hpexpire": return .hashFieldExpire(seconds: false, relative: true)
        case "hexpireat": return .hashFieldExpire(seconds: true, relative: false)
        case "hpexpireat": return .hashFieldExpire(seconds: false, relative: false)
        case "del", "unlink", "hdel", "persist", "setnx", "hsetnx", "msetnx", "renamenx", "copy", "move": return .ifChanged
        case "features.push": return .skip
        case "blpop": return .blocking(name: "LPOP")
        case "brpop": return .blocking(name: "RPOP")
        case "blmove": return .blocking(name: "LMOVE")
        case "brpoplpush": return .blocking(name: "RPOPLPUSH")
        case "blmpop": return .blocking(name: "LMPOP")
        case "sort": return .sortStore
        case "restore": return .restore
        case "bzpopmin": return .blocking(name: "ZPOPMIN")
        case "bzpopmax": return .blocking(name: "ZPOPMAX")
        case "bzmpop": return .blocking(name: "ZMPOP")
        default: return .asIs
        }
    }

    /// Appends the record of a write that just ran (`reply` is its reply, `now` the time its
    /// handler used) to `b`.
    static func log(_ rule: Rule, _ args: Arguments, db: Int, now: Int64, reply: UnsafeRawBufferPointer, into b: AOFBuffer) {
        switch rule {
        case .skip:
            return
        case .blocking(let name):
            blocking(name, args, db: db, reply: reply, into: b)
        case .asIs:
            asIs(args, db: db, into: b)
        case .sortStore:
            if integerReply(reply) == nil { return }
            asIs(args, db: db, into: b)
        case .restore:
            guard let ttl = integer(args[2]), ttl > 0, !hasKeyword(args, from: 4, "ABSTTL") else { asIs(args, db: db, into: b); return }
            b.startRecord(db: db, argc: args.count + 1)
            for i in 0..<args.count { if i == 2 { b.arg(Int(now + ttl)) } else { b.arg(args[i]) } }
            b.arg("ABSTTL")
        case .ifChanged:
            if let n = integerReply(reply), n == 0 { return }
            asIs(args, db: db, into: b)
        case .set:
            // SET key value [NX|XX] [GET] [EX s|PX ms|EXAT s|PXAT ms|KEEPTTL]
            if isNull(reply) && !hasKeyword(args, from: 3, "GET") { return }  // NX/XX: not set
            var at: Int64? = nil
            var condition: StaticString? = nil
            var i = 3
            while i < args.count {
                if args.equalsKeyword(i, "NX") { condition = "NX" }
                else if args.equalsKeyword(i, "XX") { condition = "XX" }
                else if i + 1 < args.count, let t = integer(args[i + 1]) {
                    if args.equalsKeyword(i, "EX") { at = now + t * 1000; i += 1 }
                    else if args.equalsKeyword(i, "PX") { at = now + t; i += 1 }
                    else if args.equalsKeyword(i, "EXAT") { at = t * 1000; i += 1 }
                    else if args.equalsKeyword(i, "PXAT") { at = t; i += 1 }
                }
                i += 1
            }
            guard let at else { asIs(args, db: db, into: b); return }
            // Redis 7.0: SET key value PXAT ms (the condition kept: the replay meets the same key).
            b.startRecord(db: db, argc: condition == nil ? 5 : 6)
            b.arg("SET"); b.arg(args[1]); b.arg(args[2]); b.arg("PXAT"); b.arg(Int(at))
            if let condition { b.arg(condition) }
        case .setex(let seconds):
            guard let t = integer(args[2]) else { return }
            b.startRecord(db: db, argc: 5)
            b.arg("SET"); b.arg(args[1]); b.arg(args[3]); b.arg("PXAT"); b.arg(Int(now + (seconds ? t * 1000 : t)))
        case .expire(let seconds, let relative):
            guard integerReply(reply) == 1, let t = integer(args[2]) else { return }
            expireAt(args[1], at: (relative ? now : 0) + (seconds ? t * 1000 : t), now: now, db: db, into: b)
        case .getex:
            if isNull(reply) || args.count < 3 { return }
            if args.equalsKeyword(2, "PERSIST") {
                b.startRecord(db: db, argc: 2); b.arg("PERSIST"); b.arg(args[1]); return
            }
            guard args.count >= 4, let t = integer(args[3]) else { return }
            let at: Int64
            if args.equalsKeyword(2, "EX") { at = now + t * 1000 }
            else if args.equalsKeyword(2, "PX") { at = now + t }
            else if args.equalsKeyword(2, "EXAT") { at = t * 1000 }
            else { at = t }
            expireAt(args[1], at: at, now: now, db: db, into: b)
        case .getdel:
            if isNull(reply) { return }
            b.startRecord(db: db, argc: 2); b.arg("DEL"); b.arg(args[1])
        case .getset:
            b.startRecord(db: db, argc: 3); b.arg("SET"); b.arg(args[1]); b.arg(args[2])
        case .incrbyfloat:
            guard let value = bulkReply(reply) else { return }
            b.startRecord(db: db, argc: 4); b.arg("SET"); b.arg(args[1]); b.arg(value); b.arg("KEEPTTL")
        case .hincrbyfloat:
            guard let value = bulkReply(reply) else { return }
            b.startRecord(db: db, argc: 4); b.arg("HSET"); b.arg(args[1]); b.arg(args[2]); b.arg(value)
        case .hashFieldExpire(let seconds, let relative):
            // H[P]EXPIRE[AT] key time [NX|XX|GT|LT] FIELDS n field...: per field, 1 = TTL set,
            // 2 = deleted (time in the past); Redis 7.4 propagates HPEXPIREAT and HDEL.
            guard let t = integer(args[2]), let codes = integerArrayReply(reply) else { return }
            let first = args.count - codes.count
            guard first > 3 else { return }
            let at = (relative ? now : 0) + (seconds ? t * 1000 : t)
            let set = codes.indices.filter { codes[$0] == 1 }, deleted = codes.indices.filter { codes[$0] == 2 }
            if !set.isEmpty {
                b.startRecord(db: db, argc: 5 + set.count)
                b.arg("HPEXPIREAT"); b.arg(args[1]); b.arg(Int(at)); b.arg("FIELDS"); b.arg(set.count)
                for i in set { b.arg(args[first + i]) }
            }
            if !deleted.isEmpty {
                b.startRecord(db: db, argc: 2 + deleted.count)
                b.arg("HDEL"); b.arg(args[1])
                for i in deleted { b.arg(args[first + i]) }
            }
        }
    }

    /// A blocking pop that found its element at once (its reply is not null): the non-blocking
    /// command Redis propagates in its place. Replaying the blocking form could wait, or pop an
    /// element that a later record pops.
    static func blocking(_ name: StaticString, _ args: Arguments, db: Int, reply: UnsafeRawBufferPointer, into b: AOFBuffer) {
        guard let first = reply.first, first == UInt8(ascii: "*") || first == UInt8(ascii: "$") else { return }
        if reply.starts(with: "*-1".utf8) || reply.starts(with: "$-1".utf8) || first == UInt8(ascii: "_") { return }
        switch name.description {
        case "LMOVE":         // BLMOVE src dst from to timeout
            b.startRecord(db: db, argc: 5); b.arg(name); for i in 1...4 { b.arg(args[i]) }
        case "RPOPLPUSH":     // BRPOPLPUSH src dst timeout
            b.startRecord(db: db, argc: 3); b.arg(name); b.arg(args[1]); b.arg(args[2])
        default:
            // [key, element] (BLPOP/BRPOP) or [key, [elements]] (BLMPOP): the key, and the count.
            guard let (key, rest) = bulk(after: reply, skipping: 1) else { return }
            if name.description == "ZMPOP" {
                guard let count = arrayLength(rest) else { return }
                // BZMPOP timeout numkeys key [key ...] MIN|MAX [COUNT n]: Redis 7.0 logs ZPOPMIN/ZPOPMAX key n.
                guard args.count > 3, let n = integer(args[2]), 3 + Int(n) < args.count else { return }
                let min = args.equalsKeyword(3 + Int(n), "MIN")
                b.startRecord(db: db, argc: 3); b.arg(min ? "ZPOPMIN" : "ZPOPMAX"); b.arg(key); b.arg(count)
            } else if name.description == "LMPOP" {
                guard let count = arrayLength(rest) else { return }
                // BLMPOP timeout numkeys key [key ...] LEFT|RIGHT [COUNT n]
                guard args.count > 3, let n = integer(args[2]), 3 + Int(n) < args.count else { return }
                let left = args.equalsKeyword(3 + Int(n), "LEFT")
                b.startRecord(db: db, argc: 3); b.arg(left ? "LPOP" : "RPOP"); b.arg(key); b.arg(count)
            } else {
                b.startRecord(db: db, argc: 2); b.arg(name); b.arg(key)
            }
        }
    }

    /// A blocked list command served by a push: the pop it made, as Redis propagates it.
    static func servedBlock(_ op: BlockedClient.Operation, key: UnsafeRawBufferPointer, db: Int, popped: Int, into b: AOFBuffer) {
        switch op {
        case .pop(let left):
            b.startRecord(db: db, argc: 2); b.arg(left ? "LPOP" : "RPOP"); b.arg(key)
        case .popMany(let left, _):
            guard popped > 0 else { return }
            b.startRecord(db: db, argc: 3); b.arg(left ? "LPOP" : "RPOP"); b.arg(key); b.arg(popped)
        case .move(let fromLeft, let toLeft, let destination):
            b.startRecord(db: db, argc: 5); b.arg("LMOVE"); b.arg(key); b.arg(destination)
            b.arg(fromLeft ? "LEFT" : "RIGHT"); b.arg(toLeft ? "LEFT" : "RIGHT")
        case .zpop(let max):
            b.startRecord(db: db, argc: 2); b.arg(max ? "ZPOPMAX" : "ZPOPMIN"); b.arg(key)
        case .zpopMany(let max, _):
            guard popped > 0 else { return }
            b.startRecord(db: db, argc: 3); b.arg(max ? "ZPOPMAX" : "ZPOPMIN"); b.arg(key); b.arg(popped)
        }
    }

    /// The bytes of the first bulk string after an array header (`*N\r\n$L\r\n<bytes>\r\n`), and
    /// what follows it.
    private static func bulk(after reply: UnsafeRawBufferPointer, skipping: Int) -> ([UInt8], UnsafeRawBufferPointer)? {
        guard let headerEnd = lineEnd(reply, from: 0), headerEnd + 2 < reply.count, reply[headerEnd + 2] == UInt8(ascii: "$"),
              let lengthEnd = lineEnd(reply, from: headerEnd + 2),
              let length = RESPParser.parseInteger(reply, from: headerEnd + 3, to: lengthEnd), length >= 0,
              lengthEnd + 2 + length + 2 <= reply.count else { return nil }
        let start = lengthEnd + 2
        return (Array(reply[start..<start + length]), UnsafeRawBufferPointer(rebasing: reply[(start + length + 2)...]))
    }

    private static func arrayLength(_ r: UnsafeRawBufferPointer) -> Int? {
        guard r.first == UInt8(ascii: "*"), let end = lineEnd(r, from: 0) else { return nil }
        return RESPParser.parseInteger(r, from: 1, to: end)
    }

    private static func lineEnd(_ r: UnsafeRawBufferPointer, from: Int) -> Int? {
        var i = from
        while i + 1 < r.count { if r[i] == 13 && r[i + 1] == 10 { return i }; i += 1 }
        return nil
    }

    static func asIs(_ args: Arguments, db: Int, into b: AOFBuffer) {
        b.startRecord(db: db, argc: args.count)
        for i in 0..<args.count { b.arg(args[i]) }
    }

    /// PEXPIREAT key ms, or DEL key when that time has passed (Redis deletes the key at once).
    static func expireAt(_ key: UnsafeRawBufferPointer, at: Int64, now: Int64, db: Int, into b: AOFBuffer) {
        if at <= now {
            b.startRecord(db: db, argc: 2); b.arg("DEL"); b.arg(key)
        } else {
            b.startRecord(db: db, argc: 3); b.arg("PEXPIREAT"); b.arg(key); b.arg(Int(at))
        }
    }

    static func integer(_ a: UnsafeRawBufferPointer) -> Int64? {
        RESPParser.parseInteger(a, from: 0, to: a.count).map(Int64.init)
    }

    static func hasKeyword(_ args: Arguments, from: Int, _ word: StaticString) -> Bool {
        (from..<args.count).contains { args.equalsKeyword($0, word) }
    }

    // MARK: reading the command's own reply (RESP2 or RESP3)

    static func isNull(_ r: UnsafeRawBufferPointer) -> Bool {
        r.count >= 3 && (r[0] == UInt8(ascii: "_") || ((r[0] == UInt8(ascii: "$") || r[0] == UInt8(ascii: "*")) && r[1] == UInt8(ascii: "-")))
    }

    /// The number after a type byte up to CR, and where the CRLF ends.
    static func header(_ r: UnsafeRawBufferPointer, at: Int, type: UInt8) -> (Int, Int)? {
        guard at < r.count, r[at] == type else { return nil }
        var i = at + 1
        while i < r.count && r[i] != 13 { i += 1 }
        guard i + 1 < r.count, let v = RESPParser.parseInteger(r, from: at + 1, to: i) else { return nil }
        return (v, i + 2)
    }

    static func integerReply(_ r: UnsafeRawBufferPointer) -> Int? { header(r, at: 0, type: UInt8(ascii: ":"))?.0 }

    static func bulkReply(_ r: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer? {
        guard let (len, start) = header(r, at: 0, type: UInt8(ascii: "$")), len >= 0, start + len <= r.count else { return nil }
        return UnsafeRawBufferPointer(rebasing: r[start..<(start + len)])
    }

    static func integerArrayReply(_ r: UnsafeRawBufferPointer) -> [Int]? {
        guard let (n, start) = header(r, at: 0, type: UInt8(ascii: "*")), n >= 0 else { return nil }
        var out: [Int] = [], at = start
        for _ in 0..<n {
            guard let (v, next) = header(r, at: at, type: UInt8(ascii: ":")) else { return nil }
            out.append(v); at = next
        }
        return out
    }
}
