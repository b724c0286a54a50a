import LarderRESP

/// FUNCTION, for the one library set Larder has: the empty one. Larder embeds no Lua (no EVAL,
/// no FUNCTION LOAD, no FCALL: those stay unknown commands and subcommands, see
/// docs/compatibility.md), so no function can ever exist; FLUSH and LIST answer exactly what
/// Redis answers for an empty library set. They exist because clients and Redis' own test
/// suite flush functions when they start (its external-server mode sends FUNCTION FLUSH before
/// every test file).
enum FunctionFamily {
    static let spec = CommandSpec(
        "function", arity: -2, flags: [], group: "scripting",
        subcommands: subcommands.map { $0.name }) { ctx, args in
        Subcommands.dispatch("function", subcommands, &ctx, args)
    }

    static let subcommands: [Subcommand] = [
        Subcommand("flush", arity: -2, flags: [.write, .noscript], handler: flush),
        Subcommand("list", arity: -2, flags: [.noscript], handler: list),
        Subcommand("help", arity: 2, flags: [.loading, .stale], handler: help),
    ]

    /// FUNCTION FLUSH [ASYNC | SYNC]: nothing to free; Redis' argument checks and errors.
    static func flush(_ ctx: inout CommandContext, _ args: Arguments) {
        guard args.count <= 3 else {
            ctx.out.error("ERR unknown subcommand or wrong number of arguments for '\(args.string(1))'. Try FUNCTION HELP.")
            return
        }
        guard args.count == 2 || args.equalsKeyword(2, "SYNC") || args.equalsKeyword(2, "ASYNC") else {
            ctx.out.error("ERR FUNCTION FLUSH only supports SYNC|ASYNC option" as StaticString); return
        }
        ctx.out.ok()
    }

    /// FUNCTION LIST [WITHCODE] [LIBRARYNAME pattern]: no library matches any pattern.
    static func list(_ ctx: inout CommandContext, _ args: Arguments) {
        var withCode = false, libraryName = false
        var i = 2
        while i < args.count {
            if !withCode && args.equalsKeyword(i, "WITHCODE") {
                withCode = true
            } else if !libraryName && args.equalsKeyword(i, "LIBRARYNAME") {
                guard i + 1 < args.count else { ctx.out.error("ERR library name argument was not given" as StaticString); return }
                libraryName = true
                i += 1
            } else {
                ctx.out.error("ERR Unknown argument \(args.string(i))"); return
            }
            i += 1
        }
        ctx.out.arrayHeader(0)
    }

    static func help(_ ctx: inout CommandContext, _ args: Arguments) {
        Subcommands.help(&ctx, "FUNCTION", [
            "LIST [LIBRARYNAME <pattern>] [WITHCODE]",
            "    Return general information on all the libraries:",
            "    * Library name",
            "    * The engine used to run the Library",
            "    * Library description",
            "    * Functions list",
            "    * Library code (if WITHCODE is given)",
            "    It also possible to get only function that matches a pattern using LIBRARYNAME argument.",
            "FLUSH [ASYNC|SYNC]",
            "    Deletes all the libraries.",
            "    When called without the optional mode argument, the behavior is determined by the",
            "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
            "    * ASYNC: Asynchronously flush the libraries.",
            "    * SYNC: Synchronously flush the libraries.",
        ])
    }
}
