import LarderRESP
import LarderStore

/// Generic key commands (Redis' db.c / expire.c).
enum KeyFamily {
    static let commands: [CommandSpec] = [
        CommandSpec("del", arity: -2, flags: [.write], keys: .range(1, -1, 1), group: "generic",
                    summary: "Deletes one or more keys.", handler: del),
        CommandSpec("exists", arity: -2, flags: [.readonly, .fast], keys: .range(1, -1, 1), group: "generic",
                    summary: "Determines whether one or more keys exist.", handler: exists),
    ]

    static func del(_ ctx: inout CommandContext, _ args: Arguments) {
        var n = 0
        for i in 1..<args.count {
            let (db, _, slot) = ctx.lookup(args[i])
            if let slot { db.remove(at: slot); n += 1 }
        }
        ctx.out.integer(n)
    }

    static func exists(_ ctx: inout CommandContext, _ args: Arguments) {
        var n = 0
        for i in 1..<args.count where ctx.lookup(args[i]).slot != nil { n += 1 }
        ctx.out.integer(n)
    }
}
