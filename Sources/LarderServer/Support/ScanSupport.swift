#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import LarderRESP
import LarderStore

/// SCAN over a sharded keyspace. The cursor a client sees is `bucketCursor * shards + shard`:
/// the shard being iterated and Redis' reverse-binary bucket cursor within that shard's table
/// (see Keyspace.scanBucket). Shards are visited in order, each from bucket cursor 0 until its
/// own iteration ends, so a full iteration returns every key exactly once when nothing changes
/// and every key present throughout at least once when tables grow meanwhile.
enum ScanSupport {
    struct Options {
        var count = 10
        var pattern: [UInt8]? = nil
        var type: [UInt8]? = nil
    }

    /// Redis' parseScanCursorOrReply: strtoul semantics (an empty cursor is 0, "-1" wraps
    /// around) but no leading space, nothing after the number, nothing out of range.
    static func parseCursor(_ arg: UnsafeRawBufferPointer) -> UInt64? {
        var text = [CChar](repeating: 0, count: arg.count + 1)
        text.withUnsafeMutableBytes { $0.copyMemory(from: arg) }
        return text.withUnsafeBufferPointer { p -> UInt64? in
            let start = p.baseAddress!
            if isspace(Int32(UInt8(bitPattern: start[0]))) != 0 { return nil }
            var end: UnsafeMutablePointer<CChar>? = nil
            errno = 0
            let v = strtoul(start, &end, 10)
            guard let end, end.pointee == 0, errno != ERANGE else { return nil }
            return UInt64(v)
        }
    }

    /// COUNT n | MATCH pattern | TYPE type, from argument `first` (Redis' scanGenericCommand).
    /// `allowType` is false for HSCAN/SSCAN/ZSCAN. Replies the error and returns nil if invalid.
    static func parseOptions(_ ctx: inout CommandContext, _ args: Arguments, from first: Int, allowType: Bool) -> Options? {
        var o = Options()
        var i = first
        while i < args.count {
            let hasValue = i + 1 < args.count
            if hasValue && args.equalsKeyword(i, "COUNT") {
                guard let n = RESPParser.parseInteger(args[i + 1], from: 0, to: args[i + 1].count) else {
                    ctx.notInteger(); return nil
                }
                guard n >= 1 else { ctx.syntaxError(); return nil }
                o.count = n
            } else if hasValue && args.equalsKeyword(i, "MATCH") {
                let p = args[i + 1]
                o.pattern = (p.count == 1 && p[0] == UInt8(ascii: "*")) ? nil : Array(p)
            } else if hasValue && allowType && args.equalsKeyword(i, "TYPE") {
                o.type = args.bytes(i + 1)
            } else {
                ctx.syntaxError(); return nil
            }
            i += 2
        }
        return o
    }

    /// SCAN cursor [MATCH pattern] [COUNT count] [TYPE type]
    static func scan(_ ctx: inout CommandContext, _ args: Arguments) {
        guard let cursor = parseCursor(args[1]) else { ctx.out.error("ERR invalid cursor" as StaticString); return }
        guard let options = parseOptions(&ctx, args, from: 2, allowType: true) else { return }
        let shards = ctx.heldShards
        let n = UInt64(shards.count)
        var shard = Int(cursor % n)
        var bucket = cursor / n
        var keys: [[UInt8]] = []
        // Bounded work per call, as Redis' count * 10 dictScan steps.
        var steps = options.count.multipliedReportingOverflow(by: 10).overflow ? Int.max : options.count * 10
        var next: UInt64 = 0
        while true {
            let db = shards[shard].databases[ctx.dbIndex]
            if db.count == 0 {
                bucket = 0
            } else {
                bucket = db.scanBucket(cursor: bucket, now: ctx.now) { slot in
                    keys.append(db.key(at: slot))
                    if let type = options.type, !typeMatches(type, db.typeName(at: slot)) { keys.removeLast() }
                }
            }
            if bucket == 0 {
                shard += 1
                if shard == shards.count { next = 0; break }
            }
            steps -= 1
            if keys.count >= options.count || steps <= 0 {
                next = bucket * n + UInt64(shard)
                break
            }
        }
        if let pattern = options.pattern {
            keys.removeAll { key in !pattern.withUnsafeBytes { p in key.withUnsafeBytes { Glob.match(p, $0) } } }
        }
        ctx.out.arrayHeader(2)
        ctx.out.bulk(String(next))
        ctx.out.arrayHeader(keys.count)
        for k in keys { ctx.out.bulk(k) }
    }

    /// TYPE filter: Redis compares the names case-insensitively; an unknown name matches nothing.
    static func typeMatches(_ wanted: [UInt8], _ name: StaticString) -> Bool {
        guard wanted.count == name.utf8CodeUnitCount else { return false }
        for i in 0..<wanted.count {
            var c = wanted[i]
            if c >= 65 && c <= 90 { c += 32 }
            if c != name.utf8Start[i] { return false }
        }
        return true
    }
}
