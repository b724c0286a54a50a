import LarderRESP
import LarderStore
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// HINCRBY and HINCRBYFLOAT. Both keep the field's TTL, as Redis 7.4 does (HASH_SET_KEEP_TTL).
extension HashFamily {
    static let numericCommands: [CommandSpec] = [
        CommandSpec("hincrby", arity: 4, flags: [.write, .denyoom, .fast], keys: .one, group: "hash",
                    handler: hincrby),
        CommandSpec("hincrbyfloat", arity: 4, flags: [.write, .denyoom, .fast], keys: .one, group: "hash",
                    handler: hincrbyfloat),
    ]

    static func hincrby(_ ctx: inout CommandContext, _ args: Arguments) {
        // Redis parses the increment before it looks at the key.
        guard let incr = RESPParser.parseInteger(args[3], from: 0, to: args[3].count) else { ctx.notInteger(); return }
        let found = HashFamily.find(&ctx, args[1])
        var current = 0
        switch found {
        case .wrongType: return
        case .missing: break
        case .hash(let h, _, _):
            let parsed: Int?? = h.withValue(args[2]) { v in v.map { RESPParser.parseInteger($0, from: 0, to: $0.count) } }
            if case .some(let v) = parsed {
                guard let v else { ctx.out.error("ERR hash value is not an integer" as StaticString); return }
                current = v
            }
        }
        let (sum, overflow) = current.addingReportingOverflow(incr)
        if overflow { ctx.out.error("ERR increment or decrement would overflow" as StaticString); return }
        var digits = (UInt64(0), UInt64(0), UInt64(0))  // 20 digits and a sign fit in 24 bytes
        withUnsafeMutableBytes(of: &digits) { buf in
            let n = Self.formatDecimal(sum, into: buf)
            store(&ctx, found, args, UnsafeRawBufferPointer(rebasing: buf[0..<n]))
        }
        ctx.out.integer(sum)
        ctx.notify(.hash, "hincrby", args[1])
    }

    static func hincrbyfloat(_ ctx: inout CommandContext, _ args: Arguments) {
        guard let incr = LongDoubleText.parse(args[3]) else { ctx.notFloat(); return }
        if incr.isNaN || incr.isInfinite { ctx.out.error("ERR value is NaN or Infinity" as StaticString); return }
        let found = HashFamily.find(&ctx, args[1])
        var current: LongDoubleText.Value = 0
        switch found {
        case .wrongType: return
        case .missing: break
        case .hash(let h, _, _):
            let parsed: LongDoubleText.Value?? = h.withValue(args[2]) { v in v.map { LongDoubleText.parse($0) } }
            if case .some(let v) = parsed {
                guard let v else { ctx.out.error("ERR hash value is not a float" as StaticString); return }
                current = v
            }
        }
        let sum = current + incr
        if sum.isNaN || sum.isInfinite {
            ctx.out.error("ERR increment would produce NaN or Infinity" as StaticString); return
        }
        let text = LongDoubleText.format(sum)
        text.withUnsafeBytes { store(&ctx, found, args, $0) }
        ctx.out.bulk(text)
        ctx.notify(.hash, "hincrbyfloat", args[1])
    }

    /// Writes the new value of field args[2], creating the hash when missing.
    static func store(_ ctx: inout CommandContext, _ found: HashFamily.Found, _ args: Arguments,
                      _ value: UnsafeRawBufferPointer) {
        switch found {
        case .wrongType: return
        case .hash(let h, let db, let slot):
            db.willChange(slot)
            h.set(args[2], value, keepTTL: true)
            db.touch(slot)
        case .missing(let db, let keyHash):
            let h = HashObject()
            h.set(args[2], value)
            HashFamily.insert(&ctx, h, at: args[1], db: db, keyHash: keyHash)
        }
    }

    /// Decimal text of `v` into `buf` (at least 21 bytes); returns its length.
    static func formatDecimal(_ v: Int, into buf: UnsafeMutableRawBufferPointer) -> Int {
        var n = v.magnitude
        var digits = 1
        var t = n
        while t >= 10 { t /= 10; digits += 1 }
        let sign = v < 0 ? 1 : 0
        if sign == 1 { buf[0] = UInt8(ascii: "-") }
        var i = sign + digits - 1
        repeat {
            buf[i] = UInt8(truncatingIfNeeded: n % 10) + 48
            n /= 10; i -= 1
        } while n > 0
        return sign + digits
    }
}
