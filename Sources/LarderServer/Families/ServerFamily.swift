import LarderRESP
import LarderStore

/// Server commands: keyspace-wide and administrative.
enum ServerFamily {
    static let commands: [CommandSpec] = [
        CommandSpec("dbsize", arity: 1, flags: [.readonly, .fast], route: .allShards, group: "server",
                    summary: "Returns the number of keys in the database.", handler: dbsize),
        CommandSpec("flushall", arity: -1, flags: [.write], route: .allShards, group: "server",
                    summary: "Removes all keys from all databases.", handler: flushall),
        CommandSpec("flushdb", arity: -1, flags: [.write], route: .allShards, group: "server",
                    summary: "Remove all keys from the current database.", handler: flushdb),
    ]

    static func dbsize(_ ctx: inout CommandContext, _ args: Arguments) {
        ctx.out.integer(ctx.heldDatabases.reduce(0) { $0 + $1.count })
    }

    static func flushall(_ ctx: inout CommandContext, _ args: Arguments) {
        for s in ctx.heldShards { for db in s.databases { db.removeAll() } }
        ctx.out.ok()
    }

    static func flushdb(_ ctx: inout CommandContext, _ args: Arguments) {
        for db in ctx.heldDatabases { db.removeAll() }
        ctx.out.ok()
    }
}
