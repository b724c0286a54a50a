import LarderRESP
import LarderStore

/// Generic key commands (Redis' db.c and object.c). TTL commands are in KeyExpiry.swift,
/// SCAN in ScanSupport.swift. Multi-key commands are atomic across shards: routing holds
/// every shard their keys live in while they run.
enum KeyFamily {
    static let commands: [CommandSpec] = [
        CommandSpec("del", arity: -2, flags: [.write], keys: .range(1, -1, 1), group: "generic",
                    handler: del),
        CommandSpec("unlink", arity: -2, flags: [.write, .fast], keys: .range(1, -1, 1), group: "generic",
                    handler: del),
        CommandSpec("exists", arity: -2, flags: [.readonly, .fast], keys: .range(1, -1, 1), group: "generic",
                    handler: exists),
        CommandSpec("type", arity: 2, flags: [.readonly, .fast], keys: .one, group: "generic",
                    handler: type),
        CommandSpec("rename", arity: 3, flags: [.write], keys: .range(1, 2, 1), group: "generic",
                    handler: { rename(&$0, $1, onlyIfNew: false) }),
        CommandSpec("copy", arity: -3, flags: [.write, .denyoom], keys: .range(1, 2, 1), group: "generic",
                    handler: copy),
        CommandSpec("renamenx", arity: 3, flags: [.write, .fast], keys: .range(1, 2, 1), group: "generic",
                    handler: { rename(&$0, $1, onlyIfNew: true) }),
        CommandSpec("move", arity: 3, flags: [.write, .fast], keys: .one, group: "generic",
                    handler: move),
        CommandSpec("touch", arity: -2, flags: [.readonly, .fast], keys: .range(1, -1, 1), group: "generic",
                    handler: touch),
        CommandSpec("swapdb", arity: 3, flags: [.write, .fast], route: .allShards, group: "server",
                    handler: swapdb),
        CommandSpec("keys", arity: 2, flags: [.readonly], route: .allShards, group: "generic",
                    handler: keys),
        CommandSpec("randomkey", arity: 1, flags: [.readonly], route: .allShards, group: "generic",
                    handler: randomkey),
        CommandSpec("scan", arity: -2, flags: [.readonly], route: .allShards, group: "generic",
                    handler: ScanSupport.scan),
        // Redis declares no keys on the OBJECT container (its subcommands have them), so
        // COMMAND shows none here either; OBJECT is a rare debugging command, so it simply
        // holds every shard rather than routing by its subcommand's key.
        CommandSpec("object", arity: -2, flags: [], route: .allShards, group: "generic",
                    subcommands: objectSubcommands.map { $0.name }) { ctx, args in
            Subcommands.dispatch("object", objectSubcommands, &ctx, args)
        },
    ] + expiryCommands

    static let objectSubcommands: [Subcommand] = [
        Subcommand("encoding", arity: 3, flags: [.readonly], keys: .range(2, 2, 1), handler: objectEncoding),
        Subcommand("freq", arity: 3, flags: [.readonly], keys: .range(2, 2, 1), handler: objectFreq),
        Subcommand("idletime", arity: 3, flags: [.readonly], keys: .range(2, 2, 1), handler: objectIdletime),
        Subcommand("refcount", arity: 3, flags: [.readonly], keys: .range(2, 2, 1), handler: objectRefcount),
        Subcommand("help", arity: 2, flags: [.loading, .stale], handler: { ctx, _ in
            ctx.out.arrayHeader(objectHelp.count)
            for line in objectHelp { ctx.out.simple(line) }
        }),
    ]

    /// DEL and UNLINK (values are freed on the spot either way); a repeated key counts once.
    static func del(_ ctx: inout CommandContext, _ args: Arguments) {
        var n = 0
        for i in 1..<args.count {
            let (db, _, slot) = ctx.lookup(args[i])
            if let slot { db.remove(at: slot); n += 1; ctx.notify(.generic, "del", args[i]) }
        }
        ctx.out.integer(n)
    }

    /// A repeated key counts each time, as in Redis.
    static func exists(_ ctx: inout CommandContext, _ args: Arguments) {
        ctx.touchesKeys = false
        var n = 0
        for i in 1..<args.count where ctx.lookup(args[i]).slot != nil { n += 1 }
        ctx.out.integer(n)
    }

    static func type(_ ctx: inout CommandContext, _ args: Arguments) {
        ctx.touchesKeys = false
        let (db, _, slot) = ctx.lookup(args[1])
        guard let slot else { ctx.out.simple("none" as StaticString); return }
        ctx.out.simple(db.typeName(at: slot))   // no object made for a bare hash
    }

    /// RENAME / RENAMENX. Source and destination may live on different shards (both are held):
    /// the value object moves, with its TTL.
    static func rename(_ ctx: inout CommandContext, _ args: Arguments, onlyIfNew: Bool) {
        let (source, sourceHash, sourceSlot) = ctx.lookup(args[1])
        guard let sourceSlot else { ctx.out.error("ERR no such key" as StaticString); return }
        if args[1].elementsEqual(args[2]) {
            if onlyIfNew { ctx.out.integer(0) } else { ctx.out.ok() }
            return
        }
        let value = source.value(at: sourceSlot)
        let expireAt = source.expireAt(sourceSlot)
        let marks = source.stringEncodingMarks(at: sourceSlot)
        let (target, targetHash, targetSlot) = ctx.lookup(args[2])
        if targetSlot != nil && onlyIfNew { ctx.out.integer(0); return }
        // Look the source up again: the destination lookup may have deleted an expired key
        // in the same keyspace, and slots are not held across removals.
        if let slot = source.lookup(args[1], hash: sourceHash, now: ctx.now, counted: false) { source.remove(at: slot) }
        let slot = target.set(args[2], hash: targetHash, value: value, expireAt: expireAt, now: ctx.now)
        copyStringEncodingMarks(marks, to: target, at: slot)
        if case .list = value { ctx.signalListReady(args[2], hash: targetHash) }  // wakes BLPOP & co., as Redis' dbAdd
        if onlyIfNew { ctx.out.integer(1) } else { ctx.out.ok() }
        ctx.notify(.generic, "rename_from", args[1])
        ctx.notify(.generic, "rename_to", args[2])
    }

    /// RENAME, COPY and MOVE keep a string's encoding as Redis keeps the object (dupStringObject
    /// copies a "raw" string as "raw").
    static func copyStringEncodingMarks(_ marks: (raw: Bool, notInteger: Bool), to db: Keyspace, at slot: Int) {
        if marks.raw { db.markStringEncoding(at: slot, .raw) }
        if marks.notInteger { db.markStringEncoding(at: slot, .notInteger) }
    }

    /// COPY source destination [DB destination-db] [REPLACE]: a deep copy, TTL included.
    static func copy(_ ctx: inout CommandContext, _ args: Arguments) {
        var replace = false
        var targetDb = ctx.dbIndex
        var i = 3
        while i < args.count {
            if args.equalsKeyword(i, "REPLACE") {
                replace = true
            } else if args.equalsKeyword(i, "DB") && i + 1 < args.count {
                guard let n = RESPParser.parseInteger(args[i + 1], from: 0, to: args[i + 1].count),
                      n >= Int(Int32.min) && n <= Int(Int32.max) else { ctx.notInteger(); return }
                guard n >= 0 && n < Shard.databaseCount else {
                    ctx.out.error("ERR DB index is out of range" as StaticString); return
                }
                targetDb = n
                i += 1
            } else { ctx.syntaxError(); return }
            i += 1
        }
        if targetDb == ctx.dbIndex && args[1].elementsEqual(args[2]) {
            ctx.out.error("ERR source and destination objects are the same" as StaticString); return
        }
        let (source, _, sourceSlot) = ctx.lookup(args[1], read: true)  // Redis' lookupKeyRead
        guard let sourceSlot else { ctx.out.integer(0); return }
        var value = source.value(at: sourceSlot)
        let expireAt = source.expireAt(sourceSlot)
        let marks = source.stringEncodingMarks(at: sourceSlot)
        if case .hash(let h) = value { value = .hash(h.copy()) }
        if case .list(let l) = value { value = .list(l.copy()) }
        if case .set(let s) = value { value = .set(s.copy()) }
        if case .zset(let z) = value { value = .zset(z.copy()) }
        let sourceDb = ctx.dbIndex
        ctx.dbIndex = targetDb
        defer { ctx.dbIndex = sourceDb }
        let (target, targetHash, targetSlot) = ctx.lookup(args[2])
        if let targetSlot {
            guard replace else { ctx.out.integer(0); return }
            target.remove(at: targetSlot)
        }
        let slot = target.set(args[2], hash: targetHash, value: value, expireAt: expireAt, now: ctx.now)
        copyStringEncodingMarks(marks, to: target, at: slot)
        if case .list = value { ctx.signalListReady(args[2], hash: targetHash) }  // wakes BLPOP & co., as Redis' dbAdd
        ctx.out.integer(1)
        ctx.notify(.generic, "copy_to", args[2])
    }

    /// MOVE key db: the key, value and TTL move to another database of the same shard (every
    /// shard holds all 16), so it never leaves its thread. 0 when the key is missing or already
    /// in the target database. Errors in Redis 7.0's order.
    static func move(_ ctx: inout CommandContext, _ args: Arguments) {
        guard let target = RESPParser.parseInteger(args[2], from: 0, to: args[2].count),
              target >= Int(Int32.min) && target <= Int(Int32.max) else { ctx.notInteger(); return }
        guard target >= 0 && target < Shard.databaseCount else {
            ctx.out.error("ERR DB index is out of range" as StaticString); return
        }
        if target == ctx.dbIndex { ctx.out.error("ERR source and destination objects are the same" as StaticString); return }
        let (source, hash, slot) = ctx.lookup(args[1])
        guard let slot else { ctx.out.integer(0); return }
        let value = source.value(at: slot)
        let expireAt = source.expireAt(slot)
        let marks = source.stringEncodingMarks(at: slot)
        let sourceDb = ctx.dbIndex
        ctx.dbIndex = target
        let (destination, _, existing) = ctx.lookup(args[1])
        ctx.dbIndex = sourceDb
        if existing != nil { ctx.out.integer(0); return }
        // Look the source up again: slots are not held across the destination's lookup.
        if let s = source.lookup(args[1], hash: hash, now: ctx.now, counted: false) { source.remove(at: s) }
        let moved = destination.set(args[1], hash: hash, value: value, expireAt: expireAt, now: ctx.now)
        copyStringEncodingMarks(marks, to: destination, at: moved)
        if case .list = value { ctx.signalListReady(args[1], hash: hash, db: target) }  // wakes BLPOP & co. there
        ctx.out.integer(1)
        ctx.notify(.generic, "move_from", args[1])
        ctx.dbIndex = target
        ctx.notify(.generic, "move_to", args[1])
        ctx.dbIndex = sourceDb
    }

    /// SWAPDB index1 index2: every shard exchanges the two databases' data (all shards are held,
    /// so clients see the swap at once). Watches stay with the database numbers (Keyspace.swapContents).
    static func swapdb(_ ctx: inout CommandContext, _ args: Arguments) {
        func index(_ i: Int, _ which: String) -> Int? {
            guard let n = RESPParser.parseInteger(args[i], from: 0, to: args[i].count),
                  n >= Int(Int32.min) && n <= Int(Int32.max) else {
                ctx.out.error("ERR invalid \(which) DB index"); return nil
            }
            return n
        }
        guard let a = index(1, "first"), let b = index(2, "second") else { return }
        guard a >= 0 && a < Shard.databaseCount && b >= 0 && b < Shard.databaseCount else {
            ctx.out.error("ERR DB index is out of range" as StaticString); return
        }
        for shard in ctx.heldShards { shard.databases[a].swapContents(with: shard.databases[b]) }
        // Clients blocked in either database may now find a list (served after this command).
        for w in ctx.server.workers { w.blocking.signalDatabases(a, b) }
        ctx.out.ok()
    }

    /// TOUCH key [key ...]: how many of the keys exist (a repeated key counts each time); the
    /// lookup records each key's access (LRU clock or LFU counter), as Redis' does.
    static func touch(_ ctx: inout CommandContext, _ args: Arguments) {
        var n = 0
        for i in 1..<args.count where ctx.lookup(args[i], read: true).slot != nil { n += 1 }
        ctx.out.integer(n)
    }

    /// KEYS pattern over every shard of the selected database; "*" skips matching.
    static func keys(_ ctx: inout CommandContext, _ args: Arguments) {
        let pattern = args[1]
        let all = pattern.count == 1 && pattern[0] == UInt8(ascii: "*")
        var found: [[UInt8]] = []
        for db in ctx.heldDatabases {
            var slots: [Int] = []
            db.forEachLive(now: ctx.now) { slots.append($0) }
            for s in slots {
                let key = db.key(at: s)
                if all || key.withUnsafeBytes({ Glob.match(pattern, $0) }) { found.append(key) }
            }
        }
        ctx.out.arrayHeader(found.count)
        for k in found { ctx.out.bulk(k) }
    }

    /// RANDOMKEY: picks a shard in proportion to its key count, then a key in it.
    static func randomkey(_ ctx: inout CommandContext, _ args: Arguments) {
        let dbs = ctx.heldDatabases
        for _ in 0..<100 {
            let total = dbs.reduce(0) { $0 + $1.count }
            guard total > 0 else { break }
            var pick = Int.random(in: 0..<total)
            for db in dbs {
                if pick >= db.count { pick -= db.count; continue }
                if let slot = db.randomSlot(now: ctx.now) { ctx.out.bulk(db.key(at: slot)); return }
                break  // every key it met had expired (and is gone now): draw again
            }
        }
        ctx.out.null()
    }

    // MARK: OBJECT

    static func objectEncoding(_ ctx: inout CommandContext, _ args: Arguments) {
        ctx.touchesKeys = false
        let (db, _, slot) = ctx.lookup(args[2])
        guard let slot else { ctx.out.null(); return }
        ctx.out.bulk(encodingName(db, at: slot))
    }

    static func objectRefcount(_ ctx: inout CommandContext, _ args: Arguments) {
        ctx.touchesKeys = false
        let (db, _, slot) = ctx.lookup(args[2])
        guard let slot else { ctx.out.null(); return }
        // Redis shares the objects of small integers (0...9999) and reports them so.
        if case .string(let s) = db.value(at: slot), let v = s.withUnsafeBytes({ RESPParser.parseInteger($0, from: 0, to: $0.count) }),
           v >= 0 && v < 10000 {
            ctx.out.integer(Int(Int32.max))
        } else {
            ctx.out.integer(1)
        }
    }

    /// OBJECT FREQ: the key's LFU counter after decay, only under an LFU policy (Redis' texts).
    static func objectFreq(_ ctx: inout CommandContext, _ args: Arguments) {
        ctx.touchesKeys = false
        let (db, _, slot) = ctx.lookup(args[2])
        guard let slot else { ctx.out.null(); return }
        guard KeyAccess.lfuMode.load(ordering: .relaxed) else {
            ctx.out.error("ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust." as StaticString)
            return
        }
        ctx.out.integer(Int(KeyAccess.decayedCounter(db.accessWord(at: slot), now: ctx.now)))
    }

    /// OBJECT IDLETIME: seconds since the key's last access, except under an LFU policy.
    static func objectIdletime(_ ctx: inout CommandContext, _ args: Arguments) {
        ctx.touchesKeys = false
        let (db, _, slot) = ctx.lookup(args[2])
        guard let slot else { ctx.out.null(); return }
        guard !KeyAccess.lfuMode.load(ordering: .relaxed) else {
            ctx.out.error("ERR An LFU maxmemory policy is selected, idle time not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust." as StaticString)
            return
        }
        ctx.out.integer(Int(KeyAccess.idleMilliseconds(db.accessWord(at: slot), now: ctx.now) / 1000))
    }

    /// What Redis would report for the value at `slot`: judged from the bytes as SET's
    /// tryObjectEncoding does, unless the command that made the string decided (APPEND and
    /// SETRANGE: "raw"; INCRBYFLOAT: never "int"; Keyspace.markStringEncoding).
    static func encodingName(_ db: Keyspace, at slot: Int) -> StaticString {
        let value = db.value(at: slot)
        if case .string = value {
            let marks = db.stringEncodingMarks(at: slot)
            return encodingName(value, raw: marks.raw, notInteger: marks.notInteger)
        }
        return encodingName(value)
    }

    static func encodingName(_ value: StoredValue, raw: Bool = false, notInteger: Bool = false) -> StaticString {
        switch value {
        case .string(let s):
            if raw { return "raw" }
            if !notInteger, s.count <= 20, s.withUnsafeBytes({ RESPParser.parseInteger($0, from: 0, to: $0.count) }) != nil { return "int" }
            return s.count <= 44 ? "embstr" : "raw"
        case .hash(let h):
            return h.isPacked ? "listpack" : "hashtable"
        case .list:
            return "quicklist"   // Redis 7.0 reports every list so (its listpack lists are 7.2's)
        case .set(let s):
            return s.isIntset ? "intset" : "hashtable"
        case .zset(let z):
            return z.isPacked ? "listpack" : "skiplist"
        }
    }

    /// Redis' text.
    static let objectHelp: [String] = [
        "OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "ENCODING <key>",
        "    Return the kind of internal representation used in order to store the value",
        "    associated with a <key>.",
        "FREQ <key>",
        "    Return the access frequency index of the <key>. The returned integer is",
        "    proportional to the logarithm of the recent access frequency of the key.",
        "IDLETIME <key>",
        "    Return the idle time of the <key>, that is the approximated number of",
        "    seconds elapsed since the last access to the key.",
        "REFCOUNT <key>",
        "    Return the number of references of the value associated with the specified",
        "    <key>.",
        "HELP",
        "    Prints this help.",
    ]
}
