import LarderRESP
import LarderStore

/// List commands (Redis' t_list.c). Lists are `ListObject`s (packed nodes, Redis' quicklist
/// idea). The blocking forms (BLPOP, BRPOP, BLMOVE, BRPOPLPUSH, BLMPOP) reply at once when they
/// can, else ask the connection to block them (Blocking.swift); inside MULTI they never block.
enum ListFamily {
    static let commands: [CommandSpec] = [
        CommandSpec("lpush", arity: -3, flags: [.write, .denyoom, .fast], keys: .one, group: "list", handler: lpush),
        CommandSpec("rpush", arity: -3, flags: [.write, .denyoom, .fast], keys: .one, group: "list", handler: rpush),
        CommandSpec("lpushx", arity: -3, flags: [.write, .denyoom, .fast], keys: .one, group: "list", handler: lpushx),
        CommandSpec("rpushx", arity: -3, flags: [.write, .denyoom, .fast], keys: .one, group: "list", handler: rpushx),
        CommandSpec("lpop", arity: -2, flags: [.write, .fast], keys: .one, group: "list", handler: lpop),
        CommandSpec("rpop", arity: -2, flags: [.write, .fast], keys: .one, group: "list", handler: rpop),
        CommandSpec("llen", arity: 2, flags: [.readonly, .fast], keys: .one, group: "list", handler: llen),
        CommandSpec("lrange", arity: 4, flags: [.readonly], keys: .one, group: "list", handler: lrange),
        CommandSpec("lindex", arity: 3, flags: [.readonly], keys: .one, group: "list", handler: lindex),
        CommandSpec("lset", arity: 4, flags: [.write, .denyoom], keys: .one, group: "list", handler: lset),
        CommandSpec("linsert", arity: 5, flags: [.write, .denyoom], keys: .one, group: "list", handler: linsert),
        CommandSpec("lrem", arity: 4, flags: [.write], keys: .one, group: "list", handler: lrem),
        CommandSpec("ltrim", arity: 4, flags: [.write], keys: .one, group: "list", handler: ltrim),
        CommandSpec("lpos", arity: -3, flags: [.readonly], keys: .one, group: "list", handler: lpos),
        CommandSpec("lmove", arity: 5, flags: [.write, .denyoom], keys: .range(1, 2, 1), group: "list", handler: lmove),
        CommandSpec("rpoplpush", arity: 3, flags: [.write, .denyoom], keys: .range(1, 2, 1), group: "list",
                    handler: rpoplpush),
        CommandSpec("lmpop", arity: -4, flags: [.write], keys: .counted(at: 1), group: "list", handler: lmpop),
        CommandSpec("blpop", arity: -3, flags: [.write, .noscript, .blocking], keys: .range(1, -2, 1), group: "list",
                    handler: blpop),
        CommandSpec("brpop", arity: -3, flags: [.write, .noscript, .blocking], keys: .range(1, -2, 1), group: "list",
                    handler: brpop),
        CommandSpec("blmove", arity: 6, flags: [.write, .denyoom, .noscript, .blocking], keys: .range(1, 2, 1),
                    group: "list", handler: blmove),
        CommandSpec("brpoplpush", arity: 4, flags: [.write, .denyoom, .noscript, .blocking], keys: .range(1, 2, 1),
                    group: "list", handler: brpoplpush),
        CommandSpec("blmpop", arity: -5, flags: [.write, .blocking], keys: .counted(at: 2), group: "list",
                    handler: blmpop),
    ]

    /// `list-max-listpack-size` (and its 6.2 name) sizes the packed nodes of lists built from now
    /// on; `list-compress-depth` only takes 0: nodes are never LZF-compressed here, so any other
    /// value is refused rather than accepted and ignored.
    static let configParameters: [ConfigFamily.Parameter] = {
        let size = { (name: String) in
            ConfigFamily.integer(name, min: Int(Int32.min), max: Int(Int32.max), { _ in ListObject.fill }, { _, v in ListObject.fill = v })
        }
        return [
            size("list-max-listpack-size"), size("list-max-ziplist-size"),
            ConfigFamily.Parameter(name: "list-compress-depth", get: { _ in "0" }, check: { text in
                guard let v = ConfigFamily.parseInteger(text) else {
                    return .failure(ConfigFamily.ConfigRefusal(reason: "argument couldn't be parsed into an integer"))
                }
                return v == 0 ? .success { _ in }
                    : .failure(ConfigFamily.ConfigRefusal(reason: "list compression is not supported by Larder (only 0)"))
            }),
        ]
    }()

    /// What a list command finds at its key.
    enum Found {
        case list(ListObject, db: Keyspace, slot: Int, keyHash: UInt64)
        case missing(db: Keyspace, keyHash: UInt64)
        /// The key holds another type; WRONGTYPE has been replied.
        case wrongType
    }

    @inline(__always)
    static func find(_ ctx: inout CommandContext, _ key: UnsafeRawBufferPointer) -> Found {
        let (db, keyHash, slot) = ctx.lookup(key)
        guard let slot else { return .missing(db: db, keyHash: keyHash) }
        guard case .list(let l) = db.value(at: slot) else { ctx.wrongType(); return .wrongType }
        // Lists change in place: a running point-in-time snapshot writes this one first.
        db.willChange(slot)
        return .list(l, db: db, slot: slot, keyHash: keyHash)
    }

    /// Deletes the key when its list became empty (Redis never keeps an empty list), else
    /// marks watchers dirty.
    /// After elements were removed: deletes the emptied list, and publishes `event` (and "del"
    /// when emptied) as Redis' list commands do.
    @inline(__always) static func changed(_ ctx: CommandContext, _ l: ListObject, db: Keyspace, slot: Int,
                                          key: UnsafeRawBufferPointer, event: StaticString) {
        if l.count == 0 { db.remove(at: slot) } else { db.touch(slot) }
        ctx.notify(.list, event, key)
        if l.count == 0 { ctx.notify(.generic, "del", key) }
    }

    // MARK: push

    static func lpush(_ ctx: inout CommandContext, _ args: Arguments) { push(&ctx, args, left: true, onlyIfExists: false) }
    static func rpush(_ ctx: inout CommandContext, _ args: Arguments) { push(&ctx, args, left: false, onlyIfExists: false) }
    static func lpushx(_ ctx: inout CommandContext, _ args: Arguments) { push(&ctx, args, left: true, onlyIfExists: true) }
    static func rpushx(_ ctx: inout CommandContext, _ args: Arguments) { push(&ctx, args, left: false, onlyIfExists: true) }

    static func push(_ ctx: inout CommandContext, _ args: Arguments, left: Bool, onlyIfExists: Bool) {
        let key = args[1]
        switch find(&ctx, key) {
        case .wrongType: return
        case .missing(let db, let keyHash):
            if onlyIfExists { ctx.out.integer(0); return }
            let l = ListObject()
            for i in 2..<args.count { l.push(args[i], left: left) }
            db.set(key, hash: keyHash, value: .list(l), expireAt: 0, now: ctx.now)
            ctx.out.integer(l.count)
            ctx.signalListReady(key, hash: keyHash)
            ctx.notify(.list, left ? "lpush" : "rpush", key)
        case .list(let l, let db, let slot, let keyHash):
            for i in 2..<args.count { l.push(args[i], left: left) }
            db.touch(slot)
            ctx.out.integer(l.count)
            ctx.signalListReady(key, hash: keyHash)
            ctx.notify(.list, left ? "lpush" : "rpush", key)
        }
    }

    // MARK: pop

    static func lpop(_ ctx: inout CommandContext, _ args: Arguments) { pop(&ctx, args, left: true) }
    static func rpop(_ ctx: inout CommandContext, _ args: Arguments) { pop(&ctx, args, left: false) }

    /// LPOP/RPOP key [count]: one element as a bulk, or with a count an array (nil for a
    /// missing key, as Redis 7.0).
    static func pop(_ ctx: inout CommandContext, _ args: Arguments, left: Bool) {
        guard args.count <= 3 else { ctx.wrongArity(left ? "lpop" : "rpop"); return }
        var count: Int? = nil
        if args.count == 3 {
            guard let n = RESPParser.parseInteger(args[2], from: 0, to: args[2].count), n >= 0 else {
                ctx.out.error("ERR value is out of range, must be positive" as StaticString); return
            }
            count = n
        }
        switch find(&ctx, args[1]) {
        case .wrongType: return
        case .missing:
            if count == nil { ctx.out.null() } else { ctx.out.nullArray() }
        case .list(let l, let db, let slot, _):
            guard let count else {
                ctx.out.bulk(l.pop(left: left)!)
                changed(ctx, l, db: db, slot: slot, key: args[1], event: left ? "lpop" : "rpop")
                return
            }
            let n = min(count, l.count)
            ctx.out.arrayHeader(n)
            for _ in 0..<n { ctx.out.bulk(l.pop(left: left)!) }
            if n > 0 { changed(ctx, l, db: db, slot: slot, key: args[1], event: left ? "lpop" : "rpop") }
        }
    }

    // MARK: reading

    static func llen(_ ctx: inout CommandContext, _ args: Arguments) {
        switch find(&ctx, args[1]) {
        case .wrongType: return
        case .missing: ctx.out.integer(0)
        case .list(let l, _, _, _): ctx.out.integer(l.count)
        }
    }

    static func integer(_ ctx: inout CommandContext, _ arg: UnsafeRawBufferPointer) -> Int? {
        guard let v = RESPParser.parseInteger(arg, from: 0, to: arg.count) else { ctx.notInteger(); return nil }
        return v
    }

    static func lrange(_ ctx: inout CommandContext, _ args: Arguments) {
        guard let start = integer(&ctx, args[2]), let stop = integer(&ctx, args[3]) else { return }
        switch find(&ctx, args[1]) {
        case .wrongType: return
        case .missing: ctx.out.arrayHeader(0)
        case .list(let l, _, _, _):
            guard let (from, to) = range(start, stop, count: l.count) else { ctx.out.arrayHeader(0); return }
            ctx.out.arrayHeader(to - from + 1)
            let out = ctx.out
            l.forEach(from: from, to: to) { out.bulk($0) }
        }
    }

    /// Redis' start/stop normalization (negative from the end, clamped); nil when empty.
    static func range(_ start: Int, _ stop: Int, count: Int) -> (Int, Int)? {
        var s = start < 0 ? count + start : start
        var e = stop < 0 ? count + stop : stop
        if s < 0 { s = 0 }
        if s > e || s >= count { return nil }
        if e >= count { e = count - 1 }
        return (s, e)
    }

    static func lindex(_ ctx: inout CommandContext, _ args: Arguments) {
        guard let index = integer(&ctx, args[2]) else { return }
        switch find(&ctx, args[1]) {
        case .wrongType: return
        case .missing: ctx.out.null()
        case .list(let l, _, _, _):
            let i = index < 0 ? l.count + index : index
            if let e = l.element(at: i) { ctx.out.bulk(e) } else { ctx.out.null() }
        }
    }

    // MARK: changes in the middle

    static func lset(_ ctx: inout CommandContext, _ args: Arguments) {
        guard let index = integer(&ctx, args[2]) else { return }
        switch find(&ctx, args[1]) {
        case .wrongType: return
        case .missing: ctx.out.error("ERR no such key" as StaticString)
        case .list(let l, let db, let slot, _):
            let i = index < 0 ? l.count + index : index
            guard i >= 0 && i < l.count else { ctx.out.error("ERR index out of range" as StaticString); return }
            l.set(args.bytes(3), at: i)
            db.touch(slot)
            ctx.out.ok()
            ctx.notify(.list, "lset", args[1])
        }
    }

    static func linsert(_ ctx: inout CommandContext, _ args: Arguments) {
        let after: Bool
        if args.equalsKeyword(2, "AFTER") { after = true } else if args.equalsKeyword(2, "BEFORE") { after = false }
        else { ctx.syntaxError(); return }
        switch find(&ctx, args[1]) {
        case .wrongType: return
        case .missing: ctx.out.integer(0)
        case .list(let l, let db, let slot, _):
            var all = l.elements
            guard let i = all.firstIndex(where: { $0.elementsEqual(args[3]) }) else { ctx.out.integer(-1); return }
            all.insert(args.bytes(4), at: after ? i + 1 : i)
            l.replaceAll(all)
            db.touch(slot)
            ctx.out.integer(l.count)
            ctx.notify(.list, "linsert", args[1])
        }
    }

    static func lrem(_ ctx: inout CommandContext, _ args: Arguments) {
        guard let count = integer(&ctx, args[2]) else { return }
        switch find(&ctx, args[1]) {
        case .wrongType: return
        case .missing: ctx.out.integer(0)
        case .list(let l, let db, let slot, _):
            var all = l.elements
            let target = args[3]
            var removed = 0
            let limit = count == 0 ? Int.max : abs(count)
            if count >= 0 {
                var kept: [[UInt8]] = []
                kept.reserveCapacity(all.count)
                for e in all {
                    if removed < limit && e.elementsEqual(target) { removed += 1 } else { kept.append(e) }
                }
                all = kept
            } else {
                var i = all.count - 1
                while i >= 0 && removed < limit {
                    if all[i].elementsEqual(target) { all.remove(at: i); removed += 1 }
                    i -= 1
                }
            }
            if removed > 0 {
                l.replaceAll(all)
                changed(ctx, l, db: db, slot: slot, key: args[1], event: "lrem")
            }
            ctx.out.integer(removed)
        }
    }

    static func ltrim(_ ctx: inout CommandContext, _ args: Arguments) {
        guard let start = integer(&ctx, args[2]), let stop = integer(&ctx, args[3]) else { return }
        switch find(&ctx, args[1]) {
        case .wrongType: return
        case .missing: ctx.out.ok()
        case .list(let l, let db, let slot, _):
            if let (from, to) = range(start, stop, count: l.count) {
                let tail = l.count - 1 - to
                l.remove(from, left: true)
                l.remove(tail, left: false)
            } else {
                l.remove(l.count, left: true)
            }
            changed(ctx, l, db: db, slot: slot, key: args[1], event: "ltrim")
            ctx.out.ok()
        }
    }

    /// LPOS key element [RANK rank] [COUNT num-matches] [MAXLEN len].
    static func lpos(_ ctx: inout CommandContext, _ args: Arguments) {
        var rank = 1, count: Int? = nil, maxLength = 0
        var i = 3
        // Redis' lposCommand: the option name first (syntax error), then its value; COUNT and
        // MAXLEN answer a non-integer with their own "can't be negative" text.
        while i < args.count {
            guard i + 1 < args.count else { ctx.syntaxError(); return }
            let v = RESPParser.parseInteger(args[i + 1], from: 0, to: args[i + 1].count)
            if args.equalsKeyword(i, "RANK") {
                guard let v else { ctx.notInteger(); return }
                guard v != Int.min else {
                    ctx.out.error("ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807" as StaticString); return
                }
                guard v != 0 else {
                    ctx.out.error("ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list" as StaticString); return
                }
                rank = v
            } else if args.equalsKeyword(i, "COUNT") {
                guard let v, v >= 0 else { ctx.out.error("ERR COUNT can't be negative" as StaticString); return }
                count = v
            } else if args.equalsKeyword(i, "MAXLEN") {
                guard let v, v >= 0 else { ctx.out.error("ERR MAXLEN can't be negative" as StaticString); return }
                maxLength = v
            } else { ctx.syntaxError(); return }
            i += 2
        }
        switch find(&ctx, args[1]) {
        case .wrongType: return
        case .missing:
            if count != nil { ctx.out.arrayHeader(0) } else { ctx.out.null() }
        case .list(let l, _, _, _):
            let all = l.elements
            let target = args[2]
            var matches: [Int] = []
            var skip = abs(rank) - 1
            let wanted = count.map { $0 == 0 ? Int.max : $0 } ?? 1
            var examined = 0
            var j = rank > 0 ? 0 : all.count - 1
            while j >= 0 && j < all.count && matches.count < wanted && (maxLength == 0 || examined < maxLength) {
                if all[j].elementsEqual(target) {
                    if skip > 0 { skip -= 1 } else { matches.append(j) }
                }
                examined += 1
                j += rank > 0 ? 1 : -1
            }
            if count != nil {
                ctx.out.arrayHeader(matches.count)
                for m in matches { ctx.out.integer(m) }
            } else if let m = matches.first { ctx.out.integer(m) } else { ctx.out.null() }
        }
    }

    // MARK: moving between lists

    static func side(_ args: Arguments, _ i: Int) -> Bool? {
        if args.equalsKeyword(i, "LEFT") { return true }
        if args.equalsKeyword(i, "RIGHT") { return false }
        return nil
    }

    static func lmove(_ ctx: inout CommandContext, _ args: Arguments) {
        guard let from = side(args, 3), let to = side(args, 4) else { ctx.syntaxError(); return }
        move(&ctx, args, from: from, to: to, deadlineArg: nil)
    }

    static func rpoplpush(_ ctx: inout CommandContext, _ args: Arguments) {
        move(&ctx, args, from: false, to: true, deadlineArg: nil)
    }

    static func blmove(_ ctx: inout CommandContext, _ args: Arguments) {
        guard let from = side(args, 3), let to = side(args, 4) else { ctx.syntaxError(); return }
        move(&ctx, args, from: from, to: to, deadlineArg: 5)
    }

    static func brpoplpush(_ ctx: inout CommandContext, _ args: Arguments) {
        move(&ctx, args, from: false, to: true, deadlineArg: 3)
    }

    /// LMOVE and its relatives: pops from args[1], pushes to args[2] (checked to be a list or
    /// missing before anything moves, as Redis does), replies the element.
    static func move(_ ctx: inout CommandContext, _ args: Arguments, from: Bool, to: Bool, deadlineArg: Int?) {
        var deadline: Int64 = 0
        if let d = deadlineArg { guard let v = ctx.blockDeadline(args[d]) else { return }; deadline = v }
        switch find(&ctx, args[1]) {
        case .wrongType: return
        case .missing:
            if deadlineArg != nil && ctx.mayBlock {
                ctx.blockRequest = BlockRequest(keys: [args.bytes(1)],
                                                operation: .move(fromLeft: from, toLeft: to, destination: args.bytes(2)),
                                                deadline: deadline)
                return
            }
            ctx.out.null()
        case .list(let l, let db, let slot, _):
            guard let element = moveElement(&ctx, from: l, db: db, slot: slot, fromLeft: from,
                                            key: args[1], to: args[2], toLeft: to) else { return }
            ctx.out.bulk(element)
        }
    }

    /// Moves one element from the non-empty `source` to the list at `destination` (created
    /// when missing). nil, with WRONGTYPE replied, when the destination holds another type.
    static func moveElement(_ ctx: inout CommandContext, from source: ListObject, db: Keyspace, slot: Int, fromLeft: Bool,
                            key: UnsafeRawBufferPointer, to destination: UnsafeRawBufferPointer, toLeft: Bool) -> [UInt8]? {
        let (ddb, dhash, dslot) = ctx.lookup(destination)
        var target: ListObject? = nil
        if let dslot {
            guard case .list(let d) = ddb.value(at: dslot) else { ctx.wrongType(); return nil }
            ddb.willChange(dslot)
            target = d
        }
        let element = source.pop(left: fromLeft)!
        // Same key: the element goes back into the same list (a rotation); the slot stays valid.
        if let target {
            target.push(element, left: toLeft)
            if target !== source { if source.count == 0 { db.remove(at: slot) } else { db.touch(slot) } }
            if let s = ddb.lookup(destination, hash: dhash, now: ctx.now, counted: false) { ddb.touch(s) }
        } else {
            if source.count == 0 { db.remove(at: slot) } else { db.touch(slot) }
            let d = ListObject()
            d.push(element, left: toLeft)
            ddb.set(destination, hash: dhash, value: .list(d), expireAt: 0, now: ctx.now)
        }
        // Redis' lmoveGenericCommand order: the push's event, then the pop's, then "del".
        ctx.notify(.list, toLeft ? "lpush" : "rpush", destination)
        ctx.notify(.list, fromLeft ? "lpop" : "rpop", key)
        if source.count == 0 { ctx.notify(.generic, "del", key) }
        ctx.signalListReady(destination, hash: dhash)
        return element
    }

    // MARK: several keys

    /// LMPOP numkeys key... LEFT|RIGHT [COUNT count] and BLMPOP timeout numkeys ...: the
    /// arguments after the timeout (`first` is the numkeys index). nil when an error was replied.
    static func parseMultiPop(_ ctx: inout CommandContext, _ args: Arguments, first: Int) -> (keys: Range<Int>, left: Bool, count: Int)? {
        // Redis' getRangeLongFromObjectOrReply: a non-integer gets the range message too.
        guard let n = RESPParser.parseInteger(args[first], from: 0, to: args[first].count), n > 0 else { ctx.out.error("ERR numkeys should be greater than 0" as StaticString); return nil }
        let sideIndex = first + 1 + n
        guard n <= args.count - first - 1, sideIndex < args.count else { ctx.syntaxError(); return nil }
        guard let left = side(args, sideIndex) else { ctx.syntaxError(); return nil }
        var count = 1
        var i = sideIndex + 1
        var sawCount = false
        while i < args.count {
            guard args.equalsKeyword(i, "COUNT"), !sawCount, i + 1 < args.count else { ctx.syntaxError(); return nil }
            guard let c = RESPParser.parseInteger(args[i + 1], from: 0, to: args[i + 1].count), c > 0 else {
                ctx.out.error("ERR count should be greater than 0" as StaticString); return nil
            }
            count = c
            sawCount = true
            i += 2
        }
        return (first + 1..<sideIndex, left, count)
    }

    static func lmpop(_ ctx: inout CommandContext, _ args: Arguments) {
        guard let p = parseMultiPop(&ctx, args, first: 1) else { return }
        multiPop(&ctx, args, p.keys, left: p.left, count: p.count, deadline: nil)
    }

    static func blmpop(_ ctx: inout CommandContext, _ args: Arguments) {
        guard let deadline = ctx.blockDeadline(args[1]) else { return }
        guard let p = parseMultiPop(&ctx, args, first: 2) else { return }
        multiPop(&ctx, args, p.keys, left: p.left, count: p.count, deadline: deadline)
    }

    static func multiPop(_ ctx: inout CommandContext, _ args: Arguments, _ keys: Range<Int>, left: Bool, count: Int, deadline: Int64?) {
        for k in keys {
            switch find(&ctx, args[k]) {
            case .wrongType: return
            case .missing: continue
            case .list(let l, let db, let slot, _):
                let n = min(count, l.count)
                ctx.out.arrayHeader(2)
                ctx.out.bulk(args[k])
                ctx.out.arrayHeader(n)
                for _ in 0..<n { ctx.out.bulk(l.pop(left: left)!) }
                changed(ctx, l, db: db, slot: slot, key: args[k], event: left ? "lpop" : "rpop")
                return
            }
        }
        if let deadline, ctx.mayBlock {
            ctx.blockRequest = BlockRequest(keys: keys.map { args.bytes($0) }, operation: .popMany(left: left, count: count),
                                            deadline: deadline)
            return
        }
        ctx.out.nullArray()
    }

    static func blpop(_ ctx: inout CommandContext, _ args: Arguments) { blockingPop(&ctx, args, left: true) }
    static func brpop(_ ctx: inout CommandContext, _ args: Arguments) { blockingPop(&ctx, args, left: false) }

    /// BLPOP/BRPOP key... timeout: pops from the first non-empty list, in argument order.
    static func blockingPop(_ ctx: inout CommandContext, _ args: Arguments, left: Bool) {
        guard let deadline = ctx.blockDeadline(args[args.count - 1]) else { return }
        for k in 1..<args.count - 1 {
            switch find(&ctx, args[k]) {
            case .wrongType: return
            case .missing: continue
            case .list(let l, let db, let slot, _):
                ctx.out.arrayHeader(2)
                ctx.out.bulk(args[k])
                ctx.out.bulk(l.pop(left: left)!)
                changed(ctx, l, db: db, slot: slot, key: args[k], event: left ? "lpop" : "rpop")
                return
            }
        }
        if ctx.mayBlock {
            ctx.blockRequest = BlockRequest(keys: (1..<args.count - 1).map { args.bytes($0) }, operation: .pop(left: left),
                                            deadline: deadline)
            return
        }
        ctx.out.nullArray()
    }

    // MARK: serving a blocked client (called by the shard that holds `key`)

    /// Serves one blocked client from the non-empty `list` at `key`; writes its reply to `out`.
    static func serveBlocked(_ op: BlockedClient.Operation, key: UnsafeRawBufferPointer, list: ListObject, db: Keyspace,
                             dbIndex: Int, now: Int64, out: ReplyWriter, registry: BlockingRegistry, server: ServerState) {
        let hash = ByteHash.hash(key)
        func done(_ event: StaticString, notify: Bool = true) {
            if let slot = db.lookup(key, hash: hash, now: now, counted: false) {
                if list.count == 0 { db.remove(at: slot) } else { db.touch(slot) }
            }
            if notify { popped(event) }
        }
        func popped(_ event: StaticString) {
            server.notifyKeyspace(.list, event, key: key, db: dbIndex)
            if list.count == 0 { server.notifyKeyspace(.generic, "del", key: key, db: dbIndex) }
        }
        switch op {
        case .pop(let left):
            out.arrayHeader(2)
            out.bulk(key)
            out.bulk(list.pop(left: left)!)
            done(left ? "lpop" : "rpop")
        case .popMany(let left, let count):
            let n = min(count, list.count)
            out.arrayHeader(2)
            out.bulk(key)
            out.arrayHeader(n)
            for _ in 0..<n { out.bulk(list.pop(left: left)!) }
            done(left ? "lpop" : "rpop")
        case .move(let fromLeft, let toLeft, let destination):
            // The destination is on this shard (Blocking.swift checked); a wrong type there is
            // the client's WRONGTYPE error and nothing moves, as in Redis.
            let dhash = ByteHash.hash(destination)
            let dslot = destination.withUnsafeBytes { db.lookup($0, hash: dhash, now: now, counted: false) }
            var target: ListObject? = nil
            if let dslot {
                guard case .list(let d) = db.value(at: dslot) else {
                    out.error("WRONGTYPE Operation against a key holding the wrong kind of value" as StaticString)
                    return
                }
                db.willChange(dslot)
                target = d
            }
            let element = list.pop(left: fromLeft)!
            if let target {
                target.push(element, left: toLeft)
                if target !== list { done("", notify: false) }
                if let s = destination.withUnsafeBytes({ db.lookup($0, hash: dhash, now: now, counted: false) }) { db.touch(s) }
            } else {
                done("", notify: false)
                let d = ListObject()
                d.push(element, left: toLeft)
                destination.withUnsafeBytes { _ = db.set($0, hash: dhash, value: .list(d), expireAt: 0, now: now) }
            }
            destination.withUnsafeBytes {
                registry.signal(db: dbIndex, key: $0)
                server.notifyKeyspace(.list, toLeft ? "lpush" : "rpush", key: $0, db: dbIndex)
            }
            popped(fromLeft ? "lpop" : "rpop")
            out.bulk(element)
        case .zpop, .zpopMany:
            break   // sorted-set waiters are served by ZSetFamily.serveBlocked
        }
    }
}
