import LarderRESP
import LarderStore
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// HRANDFIELD and HSCAN.
extension HashFamily {
    static let scanCommands: [CommandSpec] = [
        CommandSpec("hrandfield", arity: -2, flags: [.readonly], keys: .one, group: "hash",
                    handler: hrandfield),
        CommandSpec("hscan", arity: -3, flags: [.readonly], keys: .one, group: "hash",
                    handler: hscan),
    ]

    /// A negative count asks for that many picks with repeats; Redis would try to build any
    /// size of reply. Past this many we refuse rather than exhaust memory (Larder's choice).
    static let maxRepeatedPicks = 1 << 27

    /// HRANDFIELD key [count [WITHVALUES]]
    static func hrandfield(_ ctx: inout CommandContext, _ args: Arguments) {
        guard args.count >= 3 else {
            switch HashFamily.find(&ctx, args[1]) {
            case .wrongType: return
            case .missing: ctx.out.null()
            case .hash(let h, _, _):
                let out = ctx.out
                h.withRandomEntry { f, _ in out.bulk(f) }
            }
            return
        }
        guard let l = RESPParser.parseInteger(args[2], from: 0, to: args[2].count) else { ctx.notInteger(); return }
        if args.count > 4 || (args.count == 4 && !args.equalsKeyword(3, "WITHVALUES")) { ctx.syntaxError(); return }
        let withValues = args.count == 4
        if withValues && (l < -(Int.max / 2) || l > Int.max / 2) {
            ctx.out.error("ERR value is out of range" as StaticString); return
        }
        if l == Int.min || (l < 0 && -l > maxRepeatedPicks) {
            ctx.out.error("ERR value is out of range" as StaticString); return
        }
        let h: HashObject
        switch HashFamily.find(&ctx, args[1]) {
        case .wrongType: return
        case .missing: ctx.out.arrayHeader(0); return
        case .hash(let found, _, _): h = found
        }
        let count = l.magnitude
        if count == 0 { ctx.out.arrayHeader(0); return }
        let out = ctx.out
        let pairs = withValues && out.version == .resp3  // RESP3: each pick is a [field, value] array
        let emit = { (f: UnsafeRawBufferPointer, v: UnsafeRawBufferPointer) in
            if pairs { out.arrayHeader(2) }
            out.bulk(f)
            if withValues { out.bulk(v) }
        }
        let header = { (n: Int) in out.arrayHeader(withValues && !pairs ? n * 2 : n) }

        if l < 0 || count == 1 {
            // Picks with repeats, in random order.
            header(Int(count))
            for _ in 0..<Int(count) { h.withRandomEntry(emit) }
        } else if Int(count) >= h.count {
            header(h.count)
            h.forEach(emit)
        } else {
            // Distinct picks: selection sampling (Knuth's algorithm S) in one pass, no copies.
            let wanted = Int(count)
            header(wanted)
            var remainingEntries = h.count
            var remainingPicks = wanted
            h.forEachUntil { f, v in
                if Int.random(in: 0..<remainingEntries) < remainingPicks {
                    emit(f, v)
                    remainingPicks -= 1
                }
                remainingEntries -= 1
                return remainingPicks > 0
            }
        }
    }

    /// HSCAN key cursor [MATCH pattern] [COUNT count]
    static func hscan(_ ctx: inout CommandContext, _ args: Arguments) {
        guard let cursor = parseCursor(args[2]) else { ctx.out.error("ERR invalid cursor" as StaticString); return }
        let h: HashObject
        switch HashFamily.find(&ctx, args[1]) {
        case .wrongType: return
        case .missing:
            // Redis answers a missing key before it reads the options.
            ctx.out.arrayHeader(2); ctx.out.bulk("0" as StaticString); ctx.out.arrayHeader(0); return
        case .hash(let found, _, _): h = found
        }
        var count = 10
        var pattern: UnsafeRawBufferPointer? = nil
        var i = 3
        while i < args.count {
            let hasValue = args.count - i >= 2
            if hasValue && args.equalsKeyword(i, "COUNT") {
                guard let n = RESPParser.parseInteger(args[i + 1], from: 0, to: args[i + 1].count) else { ctx.notInteger(); return }
                guard n >= 1 else { ctx.syntaxError(); return }
                count = n
            } else if hasValue && args.equalsKeyword(i, "MATCH") {
                let p = args[i + 1]
                pattern = (p.count == 1 && p[0] == UInt8(ascii: "*")) ? nil : p
            } else {
                ctx.syntaxError(); return
            }
            i += 2
        }
        // The reply's length is known only after filtering, so matches are gathered first.
        var found: [[UInt8]] = []
        let next = h.scan(cursor: cursor, count: count) { f, v in
            if let pattern, !Glob.match(pattern, f) { return }
            found.append(Array(f)); found.append(Array(v))
        }
        ctx.out.arrayHeader(2)
        ctx.out.bulk(String(next))
        ctx.out.arrayHeader(found.count)
        for e in found { ctx.out.bulk(e) }
    }

    /// Redis 7.0's `parseScanCursorOrReply`: strtoul, no leading space, nothing after the
    /// number, no overflow (so "-1" means the largest cursor, as it does in Redis).
    static func parseCursor(_ bytes: UnsafeRawBufferPointer) -> UInt64? {
        if bytes.count > 0 && LongDoubleText.isSpaceByte(bytes[0]) { return nil }
        return withUnsafeTemporaryAllocation(of: CChar.self, capacity: bytes.count + 1) { buf -> UInt64? in
            for i in 0..<bytes.count { buf[i] = CChar(bitPattern: bytes[i]) }
            buf[bytes.count] = 0
            var end: UnsafeMutablePointer<CChar>? = nil
            errno = 0
            let v = strtoul(buf.baseAddress!, &end, 10)
            guard let end, end.pointee == 0, errno != ERANGE else { return nil }
            return UInt64(v)
        }
    }
}
