#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import LarderRESP
import LarderStore

/// INCR, DECR, INCRBY, DECRBY, INCRBYFLOAT (Redis' incrDecrCommand / incrbyfloatCommand).
/// A counter keeps the key's TTL, as the value is changed in place.
extension StringFamily {
    static let counterCommands: [CommandSpec] = [
        CommandSpec("incr", arity: 2, flags: [.write, .denyoom, .fast], keys: .one, group: "string",
                    summary: "Increments the integer value of a key by one. Uses 0 as initial value if the key doesn't exist.",
                    handler: { incrDecr(&$0, $1[1], by: 1) }),
        CommandSpec("decr", arity: 2, flags: [.write, .denyoom, .fast], keys: .one, group: "string",
                    summary: "Decrements the integer value of a key by one. Uses 0 as initial value if the key doesn't exist.",
                    handler: { incrDecr(&$0, $1[1], by: -1) }),
        CommandSpec("incrby", arity: 3, flags: [.write, .denyoom, .fast], keys: .one, group: "string",
                    summary: "Increments the integer value of a key by a number. Uses 0 as initial value if the key doesn't exist.",
                    handler: incrby),
        CommandSpec("decrby", arity: 3, flags: [.write, .denyoom, .fast], keys: .one, group: "string",
                    summary: "Decrements a number from the integer value of a key. Uses 0 as initial value if the key doesn't exist.",
                    handler: decrby),
        CommandSpec("incrbyfloat", arity: 3, flags: [.write, .denyoom, .fast], keys: .one, group: "string",
                    summary: "Increment the floating point value of a key by a number. Uses 0 as initial value if the key doesn't exist.",
                    since: "2.6.0", handler: incrbyfloat),
    ]

    static func incrby(_ ctx: inout CommandContext, _ args: Arguments) {
        guard let by = RESPParser.parseInteger(args[2], from: 0, to: args[2].count) else { ctx.notInteger(); return }
        incrDecr(&ctx, args[1], by: by)
    }

    static func decrby(_ ctx: inout CommandContext, _ args: Arguments) {
        guard let by = RESPParser.parseInteger(args[2], from: 0, to: args[2].count) else { ctx.notInteger(); return }
        // Negating Int.min would overflow.
        guard by != Int.min else { ctx.out.error("ERR decrement would overflow" as StaticString); return }
        incrDecr(&ctx, args[1], by: -by)
    }

    static func incrDecr(_ ctx: inout CommandContext, _ key: UnsafeRawBufferPointer, by increment: Int) {
        var current = 0
        let db: Keyspace, slot: Int?
        switch stringAt(&ctx, key) {
        case .wrongType: return
        case .missing: db = ctx.db(for: key).db; slot = nil
        case .found(let d, let s):
            guard case .string(let bytes) = d.value(at: s),
                  let v = bytes.withUnsafeBytes({ RESPParser.parseInteger($0, from: 0, to: $0.count) }) else {
                ctx.notInteger(); return
            }
            current = v; db = d; slot = s
        }
        let (next, overflow) = current.addingReportingOverflow(increment)
        if overflow { ctx.out.error("ERR increment or decrement would overflow" as StaticString); return }
        let text = Array(String(next).utf8)
        if let slot { db.replaceValue(at: slot, with: .string(text)) }
        else { db.set(key, hash: ByteHash.hash(key), value: .string(text), expireAt: 0, now: ctx.now) }
        ctx.out.integer(next)
    }

    static func incrbyfloat(_ ctx: inout CommandContext, _ args: Arguments) {
        var current: LongDouble = 0
        var slot: Int? = nil
        let db: Keyspace
        switch stringAt(&ctx, args[1]) {
        case .wrongType: return
        case .missing: db = ctx.db(for: args[1]).db
        case .found(let d, let s):
            guard case .string(let bytes) = d.value(at: s),
                  let v = bytes.withUnsafeBytes({ LongDoubleText.parse($0) }) else { ctx.notFloat(); return }
            current = v; db = d; slot = s
        }
        guard let increment = LongDoubleText.parse(args[2]) else { ctx.notFloat(); return }
        let next = current + increment
        if next.isNaN || next.isInfinite {
            ctx.out.error("ERR increment would produce NaN or Infinity" as StaticString)
            return
        }
        let text = LongDoubleText.format(next)
        if let slot { db.replaceValue(at: slot, with: .string(text)) }
        else { db.set(args[1], hash: ByteHash.hash(args[1]), value: .string(text), expireAt: 0, now: ctx.now) }
        ctx.out.bulk(text)
    }
}

// Redis computes INCRBYFLOAT in C `long double`: 80-bit extended precision on x86-64. Swift's
// Float80 is that type, so sums and their printed digits match Redis exactly there.
#if arch(x86_64) || arch(i386)
typealias LongDouble = Float80
#else
typealias LongDouble = Double
#endif

/// Redis' string2ld and ld2string(LD_STR_HUMAN), on the C library's own strtold/snprintf.
enum LongDoubleText {
    /// Redis' MAX_LONG_DOUBLE_CHARS: longer inputs are rejected, and every formatted value fits.
    static let maxChars = 5 * 1024

    /// The whole argument must be a number: no leading space, nothing after it, no NaN, no
    /// overflow to infinity or underflow to zero ("inf" itself is accepted, as in Redis).
    static func parse(_ bytes: UnsafeRawBufferPointer) -> LongDouble? {
        let n = bytes.count
        guard n > 0 && n < maxChars else { return nil }
        var buf = [CChar](repeating: 0, count: n + 1)
        buf.withUnsafeMutableBytes { $0.copyMemory(from: bytes) }
        return buf.withUnsafeBufferPointer { p -> LongDouble? in
            let start = p.baseAddress!
            if isspace(Int32(UInt8(bitPattern: start[0]))) != 0 { return nil }
            var end: UnsafeMutablePointer<CChar>? = nil
            errno = 0
            #if arch(x86_64) || arch(i386)
            let value = strtold(start, &end)
            #else
            let value = strtod(start, &end)
            #endif
            guard let end, end - UnsafeMutablePointer(mutating: start) == n else { return nil }
            if errno == ERANGE && (value.isInfinite || value == 0) { return nil }
            if errno == EINVAL || value.isNaN { return nil }
            return value
        }
    }

    /// "%.17Lf", then trailing zeros (and a trailing '.') stripped; "-0" becomes "0".
    static func format(_ value: LongDouble) -> [UInt8] {
        if value.isInfinite { return Array((value > 0 ? "inf" : "-inf").utf8) }
        var buf = [CChar](repeating: 0, count: maxChars)
        #if arch(x86_64) || arch(i386)
        let format = "%.17Lf"
        #else
        let format = "%.17f"
        #endif
        let written = withVaList([value]) { vsnprintf(&buf, maxChars, format, $0) }
        guard written > 0 && Int(written) < maxChars else { return [] }
        var l = Int(written)
        if buf[0..<l].contains(CChar(UInt8(ascii: "."))) {
            while buf[l - 1] == CChar(UInt8(ascii: "0")) { l -= 1 }
            if buf[l - 1] == CChar(UInt8(ascii: ".")) { l -= 1 }
        }
        if l == 2 && buf[0] == CChar(UInt8(ascii: "-")) && buf[1] == CChar(UInt8(ascii: "0")) { return [UInt8(ascii: "0")] }
        return buf[0..<l].map { UInt8(bitPattern: $0) }
    }
}
