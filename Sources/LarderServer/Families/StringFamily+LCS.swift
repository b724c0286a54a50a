import LarderRESP
import LarderStore

/// LCS key1 key2 [LEN] [IDX] [MINMATCHLEN len] [WITHMATCHLEN] (Redis 7.0): the longest common
/// subsequence of two strings by the textbook dynamic programme, walked back from the end. The
/// walk's tie-break (on equal lengths, step in the second string) decides which of several
/// longest subsequences is returned and where the IDX ranges fall: it is Redis', so both servers
/// return the same string and ranges. A missing key is an empty string. The keys may live on two
/// shards: routing holds both.
extension StringFamily {
    static let lcsCommands: [CommandSpec] = [
        CommandSpec("lcs", arity: -3, flags: [.readonly], keys: .range(1, 2, 1), group: "string", handler: lcs),
    ]

    static func lcs(_ ctx: inout CommandContext, _ args: Arguments) {
        var strings: [[UInt8]] = []
        var wrongType = false
        for k in 1...2 {
            let (db, _, slot) = ctx.lookup(args[k], read: true)
            guard let slot else { strings.append([]); continue }
            guard let bytes = db.withString(at: slot, { Array($0) }) else { wrongType = true; continue }
            strings.append(bytes)
        }
        if wrongType { ctx.out.error("ERR The specified keys must contain string values" as StaticString); return }
        var getLength = false, getIndexes = false, withMatchLength = false
        var minMatchLength = 0
        var i = 3
        while i < args.count {
            if args.equalsKeyword(i, "IDX") {
                getIndexes = true
            } else if args.equalsKeyword(i, "LEN") {
                getLength = true
            } else if args.equalsKeyword(i, "WITHMATCHLEN") {
                withMatchLength = true
            } else if args.equalsKeyword(i, "MINMATCHLEN") && i + 1 < args.count {
                guard let n = RESPParser.parseInteger(args[i + 1], from: 0, to: args[i + 1].count) else { ctx.notInteger(); return }
                minMatchLength = max(0, n)
                i += 1
            } else {
                ctx.syntaxError(); return
            }
            i += 1
        }
        if getLength && getIndexes {
            ctx.out.error("ERR If you want both the length and indexes, please just use IDX." as StaticString); return
        }
        let a = strings[0], b = strings[1]
        // The table is (|a|+1) x (|b|+1) UInt32s; Redis refuses one larger than proto-max-bulk-len.
        let cells = (a.count + 1).multipliedReportingOverflow(by: b.count + 1)
        guard !cells.overflow, cells.partialValue <= ctx.server.settings.protoMaxBulkLength.load(ordering: .relaxed) / 4 else {
            ctx.out.error("ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len" as StaticString); return
        }
        let width = b.count + 1
        var table = [UInt32](repeating: 0, count: cells.partialValue)
        if !a.isEmpty && !b.isEmpty {
            for x in 1...a.count {
                for y in 1...b.count {
                    table[x * width + y] = a[x - 1] == b[y - 1]
                        ? table[(x - 1) * width + y - 1] + 1
                        : max(table[(x - 1) * width + y], table[x * width + y - 1])
                }
            }
        }
        let length = Int(table[a.count * width + b.count])
        if getLength { ctx.out.integer(length); return }

        // Walk back from the end, collecting the subsequence and, for IDX, the runs of matches
        // that are contiguous in both strings (each emitted when the run ends).
        var result = [UInt8](repeating: 0, count: length)
        var ranges: [(a: (Int, Int), b: (Int, Int), length: Int)] = []
        var run: (aStart: Int, aEnd: Int, bStart: Int, bEnd: Int)?
        var x = a.count, y = b.count, filled = length
        while x > 0 && y > 0 {
            var endRun = false
            if a[x - 1] == b[y - 1] {
                result[filled - 1] = a[x - 1]
                if var r = run {
                    r.aStart -= 1; r.bStart -= 1      // a match after a match extends the run backward
                    run = r
                } else {
                    run = (x - 1, x - 1, y - 1, y - 1)
                }
                if run!.aStart == 0 || run!.bStart == 0 { endRun = true }
                filled -= 1; x -= 1; y -= 1
            } else {
                if table[(x - 1) * width + y] > table[x * width + y - 1] { x -= 1 } else { y -= 1 }
                if run != nil { endRun = true }
            }
            if endRun, let r = run {
                let matchLength = r.aEnd - r.aStart + 1
                if minMatchLength == 0 || matchLength >= minMatchLength {
                    ranges.append(((r.aStart, r.aEnd), (r.bStart, r.bEnd), matchLength))
                }
                run = nil
            }
        }
        guard getIndexes else { ctx.out.bulk(result); return }
        ctx.out.mapHeader(2)
        ctx.out.bulk("matches")
        ctx.out.arrayHeader(ranges.count)
        for r in ranges {
            ctx.out.arrayHeader(withMatchLength ? 3 : 2)
            ctx.out.arrayHeader(2); ctx.out.integer(r.a.0); ctx.out.integer(r.a.1)
            ctx.out.arrayHeader(2); ctx.out.integer(r.b.0); ctx.out.integer(r.b.1)
            if withMatchLength { ctx.out.integer(r.length) }
        }
        ctx.out.bulk("len")
        ctx.out.integer(length)
    }
}
