import LarderPersistence
import LarderRESP
import LarderStore

/// DUMP and RESTORE (Redis' cluster.c): a key's value as an RDB payload (LarderPersistence's
/// `DumpPayload`, written by the snapshot's own serializer), and back.
extension KeyFamily {
    static let dumpCommands: [CommandSpec] = [
        CommandSpec("dump", arity: 2, flags: [.readonly], keys: .one, group: "generic", handler: dump),
        CommandSpec("restore", arity: -4, flags: [.write, .denyoom], keys: .one, group: "generic", handler: restore),
    ]

    /// DUMP key: the payload, or nil for a missing key.
    static func dump(_ ctx: inout CommandContext, _ args: Arguments) {
        let (db, _, slot) = ctx.lookup(args[1])
        guard let slot else { ctx.out.null(); return }
        let (value, version) = StoreSnapshot.dumpValue(db, slot)
        ctx.out.bulk(DumpPayload.wrap(value, version: version))
    }

    /// RESTORE key ttl payload [REPLACE] [ABSTTL] [IDLETIME seconds] [FREQ frequency]: checks
    /// in Redis' order (options, BUSYKEY, TTL, footer, value). IDLETIME and FREQ are checked and
    /// then have nothing to set: Larder keeps no access time or frequency per key.
    static func restore(_ ctx: inout CommandContext, _ args: Arguments) {
        var replace = false, absoluteTTL = false
        var idle = -1, frequency = -1
        var j = 4
        while j < args.count {
            let more = args.count - j - 1
            if args.equalsKeyword(j, "REPLACE") {
                replace = true
            } else if args.equalsKeyword(j, "ABSTTL") {
                absoluteTTL = true
            } else if args.equalsKeyword(j, "IDLETIME") && more >= 1 && frequency == -1 {
                guard let v = RESPParser.parseInteger(args[j + 1], from: 0, to: args[j + 1].count) else { ctx.notInteger(); return }
                guard v >= 0 else { ctx.out.error("ERR Invalid IDLETIME value, must be >= 0" as StaticString); return }
                idle = v
                j += 1
            } else if args.equalsKeyword(j, "FREQ") && more >= 1 && idle == -1 {
                guard let v = RESPParser.parseInteger(args[j + 1], from: 0, to: args[j + 1].count) else { ctx.notInteger(); return }
                guard v >= 0 && v <= 255 else { ctx.out.error("ERR Invalid FREQ value, must be >= 0 and <= 255" as StaticString); return }
                frequency = v
                j += 1
            } else {
                ctx.syntaxError(); return
            }
            j += 1
        }
        let key = args[1]
        let (db, hash, slot) = ctx.lookup(key)
        if !replace && slot != nil { ctx.out.error("BUSYKEY Target key name already exists." as StaticString); return }
        guard var ttl = RESPParser.parseInteger(args[2], from: 0, to: args[2].count) else { ctx.notInteger(); return }
        guard ttl >= 0 else { ctx.out.error("ERR Invalid TTL value, must be >= 0" as StaticString); return }
        let value: RDBValue
        do {
            value = try DumpPayload.value(args[3])
        } catch DumpPayload.Failure.versionOrChecksum {
            ctx.out.error("ERR DUMP payload version or checksum are wrong" as StaticString); return
        } catch {
            ctx.out.error("ERR Bad data format" as StaticString); return
        }
        if replace, let slot { db.remove(at: slot) }
        if ttl > 0 && !absoluteTTL { ttl += Int(ctx.now) }
        // A TTL already past: the key is not created (after REPLACE deleted the old one), OK.
        if ttl > 0 && Int64(ttl) <= ctx.now { ctx.out.ok(); return }
        let entry = RDBEntry(db: ctx.dbIndex, key: Array(key), expireAt: Int64(ttl), value: value)
        _ = StoreSnapshot.insert(entry, hash: hash, into: db, now: ctx.now)
        if case .list = value { ctx.signalListReady(key, hash: hash) }  // a new list wakes BLPOP & co. (dbAdd)
        ctx.out.ok()
    }
}
