import Atomics
import Foundation
import LarderPersistence
import LarderRESP
import LarderStore

/// DEBUG (Redis' debug.c), the subcommands that make sense for Larder: SLEEP, RELOAD,
/// SET-ACTIVE-EXPIRE, OBJECT, HELP. Refused unless `--enable-debug-command yes|local`, as Redis
/// 7's `enable-debug-command no` default. It holds every shard (`.allShards`): SLEEP then stalls
/// the whole server as Redis' does, RELOAD replaces the whole dataset, OBJECT finds any key.
/// Subcommands Redis has for its own internals (JMAP, DIGEST, POPULATE, QUICKLIST-PACKED-THRESHOLD,
/// ...) are refused as unknown subcommands.
enum DebugFamily {
    static let spec = CommandSpec("debug", arity: -2, flags: [.admin, .noscript, .loading, .stale], route: .allShards,
                                  group: "server", handler: debug)

    /// Redis' active_expire_enabled: process-wide, as in Redis (DEBUG SET-ACTIVE-EXPIRE).
    static let activeExpire = ManagedAtomic<Bool>(true)

    static let notAllowed: StaticString = "ERR DEBUG command not allowed. If the enable-debug-command option is set to \"local\", you can run it from a local connection, otherwise you need to set this option in the configuration file, and then restart the server."

    static func allowed(_ ctx: CommandContext) -> Bool {
        switch ctx.server.settings.enableDebugCommand {
        case .yes: return true
        case .no: return false
        case .local:
            guard let address = ctx.session?.transport?.remoteAddress else { return false }
            return ConnectionHandler.isLoopback(address)
        }
    }

    static func debug(_ ctx: inout CommandContext, _ args: Arguments) {
        guard allowed(ctx) else { ctx.out.error(notAllowed); return }
        if args.equalsKeyword(1, "HELP") && args.count == 2 {
            help(&ctx)
        } else if args.equalsKeyword(1, "SLEEP") && args.count == 3 {
            sleep(&ctx, args)
        } else if args.equalsKeyword(1, "RELOAD") {
            reload(&ctx, args)
        } else if args.equalsKeyword(1, "SET-ACTIVE-EXPIRE") && args.count == 3 {
            activeExpire.store(atoi(args.string(2)) != 0, ordering: .relaxed)  // Redis reads it with atoi
            ctx.out.ok()
        } else if args.equalsKeyword(1, "OBJECT") && args.count == 3 {
            object(&ctx, args)
        } else {
            // Redis' addReplySubcommandSyntaxError.
            ctx.out.error("ERR unknown subcommand or wrong number of arguments for '\(String(args.string(1).prefix(128)))'. Try DEBUG HELP.")
        }
    }

    /// DEBUG SLEEP seconds (fractions allowed; read with strtod, as Redis, so text is 0): the
    /// thread sleeps while holding every shard.
    static func sleep(_ ctx: inout CommandContext, _ args: Arguments) {
        let seconds = strtod(args.string(2), nil)
        if seconds > 0 && seconds.isFinite { usleep(UInt32(min(seconds, 4000) * 1_000_000)) }
        ctx.out.ok()
    }

    /// DEBUG RELOAD [NOSAVE]: saves the snapshot (unless NOSAVE), empties every database and
    /// loads the snapshot file back, all while holding every shard, as Redis' rdbSave +
    /// emptyData + rdbLoad. MERGE and NOFLUSH are not supported and say so.
    static func reload(_ ctx: inout CommandContext, _ args: Arguments) {
        var save = true
        for i in 2..<args.count {
            if args.equalsKeyword(i, "NOSAVE") { save = false; continue }
            if args.equalsKeyword(i, "MERGE") || args.equalsKeyword(i, "NOFLUSH") {
                ctx.out.error("ERR DEBUG RELOAD \(args.string(i).uppercased()) is not supported by Larder"); return
            }
            ctx.out.error("ERR DEBUG RELOAD only supports the MERGE, NOFLUSH and NOSAVE options." as StaticString); return
        }
        let shards = ctx.heldShards
        if save, let error = ctx.server.takeSnapshot(of: shards, trigger: .save, now: ctx.now) {
            ctx.out.error("ERR Error trying to save the DB: \(error)"); return
        }
        let path = ctx.server.settings.snapshotPath
        for s in shards { for db in s.databases { db.removeAll() } }
        do {
            _ = try RDBReader.read(path: path) { e in
                let hash = e.key.withUnsafeBytes { ByteHash.hash($0) }
                let s = shards.count == 1 ? 0 : ServerState.shardIndex(hash: hash, count: shards.count)
                _ = StoreSnapshot.insert(e, hash: hash, into: shards[s].databases[e.db], now: ctx.now)
            }
        } catch {
            ctx.out.error("ERR Error trying to load the RDB dump: \(error)"); return
        }
        ctx.out.ok()
    }

    /// DEBUG OBJECT key: Redis' line without the address, refcount and LRU fields, which have
    /// no meaning here (no shared objects, no access clock): encoding and serializedlength
    /// (the value's RDB length, as Redis' rdbSavedObjectLen), plus a list's node figures.
    static func object(_ ctx: inout CommandContext, _ args: Arguments) {
        let (db, _, slot) = ctx.lookup(args[2])
        guard let slot else { ctx.out.error("ERR no such key" as StaticString); return }
        let value = db.value(at: slot)
        let serialized = StoreSnapshot.dumpValue(db, slot).bytes.count - 1  // without the type byte
        var line = "encoding:\(KeyFamily.encodingName(db, at: slot)) serializedlength:\(serialized)"
        if case .list(let l) = value {
            let nodes = l.nodeCount
            let average = nodes == 0 ? 0 : Double(l.count) / Double(nodes)
            line += " ql_nodes:\(nodes) ql_avg_node:\(String(format: "%.2f", average)) ql_listpack_max:\(ListObject.fill) ql_compressed:0"
        }
        ctx.out.simple(line)
    }

    static func help(_ ctx: inout CommandContext) {
        Subcommands.help(&ctx, "DEBUG", [
            "OBJECT <key>",
            "    Show low level info about the key and associated value.",
            "RELOAD [NOSAVE]",
            "    Save the RDB on disk and reload it back to memory. With NOSAVE, load the",
            "    existing RDB file without saving first.",
            "SET-ACTIVE-EXPIRE <0|1>",
            "    Setting it to 0 disables expiring keys in background when they are not",
            "    accessed (otherwise the Redis behavior). Setting it to 1 reenables back the",
            "    default.",
            "SLEEP <seconds>",
            "    Stop the server for <seconds>. Decimals allowed.",
        ])
    }
}
