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
                    handler: { incrDecr(&$0, $1[1], by: 1) }),
        CommandSpec("decr", arity: 2, flags: [.write, .denyoom, .fast], keys: .one, group: "string",
                    handler: { incrDecr(&$0, $1[1], by: -1) }),
        CommandSpec("incrby", arity: 3, flags: [.write, .denyoom, .fast], keys: .one, group: "string",
                    handler: incrby),
        CommandSpec("decrby", arity: 3, flags: [.write, .denyoom, .fast], keys: .one, group: "string",
                    handler: decrby),
        CommandSpec("incrbyfloat", arity: 3, flags: [.write, .denyoom, .fast], keys: .one, group: "string",
                    handler: incrbyfloat),
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
            guard let parsed = d.withString(at: s, { RESPParser.parseInteger($0, from: 0, to: $0.count) }),
                  let v = parsed else {
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
        ctx.notify(.string, "incrby", key)
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
        let stored: Int
        if let slot { db.replaceValue(at: slot, with: .string(text)); stored = slot }
        else { stored = db.set(args[1], hash: ByteHash.hash(args[1]), value: .string(text), expireAt: 0, now: ctx.now) }
        // Redis stores the text as made (createStringObjectFromLongDouble): never "int".
        db.markStringEncoding(at: stored, .notInteger)
        ctx.out.bulk(text)
        ctx.notify(.string, "incrbyfloat", args[1])
    }
}

// Redis computes INCRBYFLOAT in C `long double`: 80-bit extended precision on x86-64. Swift's
// Float80 is that type, so sums and their printed digits match Redis exactly there.
#if arch(x86_64) || arch(i386)
typealias LongDouble = Float80
#else
typealias LongDouble = Double
#endif
