import LarderRESP
import LarderStore

/// Bitmap commands over strings (Redis' bitops.c): SETBIT, GETBIT, BITCOUNT, BITPOS, BITOP,
/// BITFIELD, BITFIELD_RO. Bits are numbered from the most significant bit of the first byte;
/// a missing key reads as an endless run of zero bits. Arguments are checked, and errors
/// raised, in the order Redis 7.0 checks them (some ranges are read only after the key is
/// found to exist), since clients and Redis' tests see that order.
extension StringFamily {
    static let bitCommands: [CommandSpec] = [
        CommandSpec("setbit", arity: 4, flags: [.write, .denyoom], keys: .one, group: "bitmap", handler: setbit),
        CommandSpec("getbit", arity: 3, flags: [.readonly, .fast], keys: .one, group: "bitmap", handler: getbit),
        CommandSpec("bitcount", arity: -2, flags: [.readonly], keys: .one, group: "bitmap", handler: bitcount),
        CommandSpec("bitpos", arity: -3, flags: [.readonly], keys: .one, group: "bitmap", handler: bitpos),
        CommandSpec("bitop", arity: -4, flags: [.write, .denyoom], keys: .range(2, -1, 1), group: "bitmap", handler: bitop),
        CommandSpec("bitfield", arity: -2, flags: [.write, .denyoom], keys: .one, group: "bitmap",
                    handler: { bitfield(&$0, $1, readOnlyCommand: false) }),
        CommandSpec("bitfield_ro", arity: -2, flags: [.readonly, .fast], keys: .one, group: "bitmap",
                    handler: { bitfield(&$0, $1, readOnlyCommand: true) }),
    ]

    // MARK: arguments

    /// A bit offset: a non-negative integer (`#N` = N x `bits` where allowed) whose byte lies
    /// below proto-max-bulk-len. nil after Redis' error.
    static func bitOffset(_ ctx: inout CommandContext, _ arg: UnsafeRawBufferPointer, hashMultiplier bits: Int = 0) -> Int? {
        let useHash = bits > 0 && arg.count > 0 && arg[0] == UInt8(ascii: "#")
        let from = useHash ? 1 : 0
        guard var offset = RESPParser.parseInteger(arg, from: from, to: arg.count) else {
            ctx.out.error("ERR bit offset is not an integer or out of range" as StaticString); return nil
        }
        if useHash { offset = offset.multipliedReportingOverflow(by: bits).overflow ? -1 : offset * bits }
        guard offset >= 0, offset >> 3 < ctx.server.settings.protoMaxBulkLength.load(ordering: .relaxed) else {
            ctx.out.error("ERR bit offset is not an integer or out of range" as StaticString); return nil
        }
        return offset
    }

    static func integer(_ ctx: inout CommandContext, _ arg: UnsafeRawBufferPointer) -> Int? {
        guard let v = RESPParser.parseInteger(arg, from: 0, to: arg.count) else { ctx.notInteger(); return nil }
        return v
    }

    /// The string at `key` grown with zero bytes to hold bit `maxBit` (created when missing),
    /// changed by `body`, and stored back. nil (no call) after WRONGTYPE. `created` tells
    /// `body` whether the key was new.
    static func withBitString<R>(_ ctx: inout CommandContext, _ key: UnsafeRawBufferPointer, maxBit: Int,
                                 _ body: (inout [UInt8], _ created: Bool) -> R) -> R? {
        let length = maxBit >> 3 + 1
        switch stringAt(&ctx, key) {
        case .wrongType:
            return nil
        case .missing:
            var s = [UInt8](repeating: 0, count: length)
            let r = body(&s, true)
            let (db, hash) = ctx.db(for: key)
            db.set(key, hash: hash, value: .string(s), expireAt: 0, now: ctx.now)
            return r
        case .found(let db, let slot):
            return db.updateValue(at: slot) { v -> R in
                guard case .string(var s) = v else { var none: [UInt8] = []; return body(&none, false) }
                v = .string([])  // unique reference: change in place
                if s.count < length { s.append(contentsOf: repeatElement(0, count: length - s.count)) }
                let r = body(&s, false)
                v = .string(s)
                return r
            }
        }
    }

    // MARK: SETBIT / GETBIT

    static func setbit(_ ctx: inout CommandContext, _ args: Arguments) {
        guard let offset = bitOffset(&ctx, args[2]) else { return }
        guard let on = RESPParser.parseInteger(args[3], from: 0, to: args[3].count), on & ~1 == 0 else {
            ctx.out.error("ERR bit is not an integer or out of range" as StaticString); return
        }
        let old = withBitString(&ctx, args[1], maxBit: offset) { s, _ -> Int in
            let mask = UInt8(0x80) >> UInt8(offset & 7)
            let was = s[offset >> 3] & mask != 0 ? 1 : 0
            if on == 1 { s[offset >> 3] |= mask } else { s[offset >> 3] &= ~mask }
            return was
        }
        if let old { ctx.out.integer(old); ctx.notify(.string, "setbit", args[1]) }
    }

    static func getbit(_ ctx: inout CommandContext, _ args: Arguments) {
        guard let offset = bitOffset(&ctx, args[2]) else { return }
        switch stringAt(&ctx, args[1], read: true) {
        case .wrongType: return
        case .missing: ctx.out.integer(0)
        case .found(let db, let slot):
            let bit = db.withString(at: slot) { s in offset >> 3 < s.count && s[offset >> 3] & (UInt8(0x80) >> UInt8(offset & 7)) != 0 } ?? false
            ctx.out.integer(bit ? 1 : 0)
        }
    }

    // MARK: BITCOUNT / BITPOS

    /// A BYTE|BIT range over a string of `length` bytes, as bitcount/bitpos normalize it: byte
    /// indices `start...end` plus, in BIT mode, masks of the bits of the first and last byte that
    /// lie outside the range.
    struct BitRange {
        var start: Int, end: Int
        var firstOutside: UInt8 = 0, lastOutside: UInt8 = 0

        init(start: Int, end: Int, length: Int, bits: Bool) {
            let total = bits ? length << 3 : length
            var s = start < 0 ? total + start : start
            var e = end < 0 ? total + end : end
            s = max(0, s); e = max(0, e)
            if e >= total { e = total - 1 }
            if bits && s <= e {
                firstOutside = ~UInt8(truncatingIfNeeded: (1 << (8 - (s & 7))) - 1)
                lastOutside = UInt8(truncatingIfNeeded: (1 << (7 - (e & 7))) - 1)
                s >>= 3; e >>= 3
            }
            self.start = s; self.end = e
        }
    }

    /// BYTE or BIT (any case); nil after a syntax error.
    static func rangeUnit(_ ctx: inout CommandContext, _ args: Arguments, _ i: Int) -> Bool? {
        if args.equalsKeyword(i, "BIT") { return true }
        if args.equalsKeyword(i, "BYTE") { return false }
        ctx.syntaxError(); return nil
    }

    static func bitcount(_ ctx: inout CommandContext, _ args: Arguments) {
        let (db, _, slot) = ctx.lookup(args[1], read: true)
        guard let slot else { ctx.out.integer(0); return }
        guard db.isString(at: slot) else { ctx.wrongType(); return }
        let bytes = db.withString(at: slot) { Array($0) } ?? []
        var range: BitRange
        if args.count == 4 || args.count == 5 {
            guard let start = integer(&ctx, args[2]), let end = integer(&ctx, args[3]) else { return }
            if start < 0 && end < 0 && start > end { ctx.out.integer(0); return }
            var bits = false
            if args.count == 5 { guard let unit = rangeUnit(&ctx, args, 4) else { return }; bits = unit }
            range = BitRange(start: start, end: end, length: bytes.count, bits: bits)
        } else if args.count == 2 {
            range = BitRange(start: 0, end: bytes.count - 1, length: bytes.count, bits: false)
        } else {
            ctx.syntaxError(); return
        }
        guard range.start <= range.end else { ctx.out.integer(0); return }
        var count = bytes[range.start...range.end].reduce(0) { $0 + $1.nonzeroBitCount }
        count -= (bytes[range.start] & range.firstOutside).nonzeroBitCount
        count -= (bytes[range.end] & range.lastOutside).nonzeroBitCount
        ctx.out.integer(count)
    }

    /// The first bit equal to `bit` in `bytes`, counting from 0; bytes past the end read as
    /// zeros, so a search for 0 in all-ones bytes answers the first bit after them, one for 1
    /// answers -1 (Redis' redisBitpos).
    static func firstBit(_ bytes: ArraySlice<UInt8>, _ bit: Int) -> Int {
        for (i, b) in bytes.enumerated() {
            let v = bit == 1 ? b : ~b
            if v != 0 { return i * 8 + v.leadingZeroBitCount }
        }
        return bit == 1 ? -1 : bytes.count * 8
    }

    static func bitpos(_ ctx: inout CommandContext, _ args: Arguments) {
        guard let bit = integer(&ctx, args[2]) else { return }
        guard bit == 0 || bit == 1 else { ctx.out.error("ERR The bit argument must be 1 or 0." as StaticString); return }
        let (db, _, slot) = ctx.lookup(args[1], read: true)
        guard let slot else { ctx.out.integer(bit == 1 ? -1 : 0); return }
        guard db.isString(at: slot) else { ctx.wrongType(); return }
        let bytes = db.withString(at: slot) { Array($0) } ?? []
        var range: BitRange
        var endGiven = false
        if (4...6).contains(args.count) {
            guard let start = integer(&ctx, args[3]) else { return }
            var bits = false
            if args.count == 6 { guard let unit = rangeUnit(&ctx, args, 5) else { return }; bits = unit }
            var end = bits ? (bytes.count << 3) + 7 : bytes.count - 1
            if args.count >= 5 { guard let e = integer(&ctx, args[4]) else { return }; end = e; endGiven = true }
            range = BitRange(start: start, end: end, length: bytes.count, bits: bits)
        } else if args.count == 3 {
            range = BitRange(start: 0, end: bytes.count - 1, length: bytes.count, bits: false)
        } else {
            ctx.syntaxError(); return
        }
        guard range.start <= range.end else { ctx.out.integer(-1); return }
        // Bits outside a BIT range are made to never match: cleared when looking for 1, set for 0.
        var window = Array(bytes[range.start...range.end])
        func exclude(_ i: Int, _ mask: UInt8) { window[i] = bit == 1 ? window[i] & ~mask : window[i] | mask }
        exclude(0, range.firstOutside)
        exclude(window.count - 1, range.lastOutside)
        var pos = firstBit(window[...], bit)
        // With an explicit end, the bits after the range are not zero padding: no 0 found is -1.
        if endGiven && bit == 0 && pos == window.count * 8 { pos = -1 }
        ctx.out.integer(pos == -1 ? -1 : pos + range.start * 8)
    }

    // MARK: BITOP

    static func bitop(_ ctx: inout CommandContext, _ args: Arguments) {
        enum Op { case and, or, xor, not }
        let op: Op
        if args.equalsKeyword(1, "AND") { op = .and } else if args.equalsKeyword(1, "OR") { op = .or }
        else if args.equalsKeyword(1, "XOR") { op = .xor } else if args.equalsKeyword(1, "NOT") { op = .not }
        else { ctx.syntaxError(); return }
        if op == .not && args.count != 4 {
            ctx.out.error("ERR BITOP NOT must be called with a single source key." as StaticString); return
        }
        var sources: [[UInt8]] = []
        for i in 3..<args.count {
            let (db, _, slot) = ctx.lookup(args[i], read: true)
            guard let slot else { sources.append([]); continue }
            guard let s = db.withString(at: slot, { Array($0) }) else { ctx.wrongType(); return }
            sources.append(s)
        }
        let length = sources.map(\.count).max() ?? 0
        var result = [UInt8](repeating: 0, count: length)
        for j in 0..<length {
            func byte(_ k: Int) -> UInt8 { j < sources[k].count ? sources[k][j] : 0 }
            var r = byte(0)
            switch op {
            case .not: r = ~r
            case .and: for k in 1..<sources.count { r &= byte(k) }
            case .or: for k in 1..<sources.count { r |= byte(k) }
            case .xor: for k in 1..<sources.count { r ^= byte(k) }
            }
            result[j] = r
        }
        let (db, hash, slot) = ctx.lookup(args[2])
        if length > 0 {
            db.set(args[2], hash: hash, value: .string(result), expireAt: 0, now: ctx.now)
            ctx.notify(.string, "set", args[2])
        } else if let slot {
            db.remove(at: slot)
            ctx.notify(.generic, "del", args[2])
        }
        ctx.out.integer(length)
    }

    // MARK: BITFIELD

    enum Overflow { case wrap, sat, fail }

    struct BitfieldOp {
        enum Kind { case get, set, incrby }
        let kind: Kind
        let signed: Bool
        let bits: Int
        let offset: Int
        let value: Int64
        let overflow: Overflow
    }

    static func bitfieldType(_ ctx: inout CommandContext, _ arg: UnsafeRawBufferPointer) -> (signed: Bool, bits: Int)? {
        let error: StaticString = "ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is."
        guard arg.count >= 2, arg[0] | 0x20 == UInt8(ascii: "i") || arg[0] | 0x20 == UInt8(ascii: "u"),
              let bits = RESPParser.parseInteger(arg, from: 1, to: arg.count) else { ctx.out.error(error); return nil }
        let signed = arg[0] | 0x20 == UInt8(ascii: "i")
        guard bits >= 1 && bits <= (signed ? 64 : 63) else { ctx.out.error(error); return nil }
        return (signed, bits)
    }

    static func bitfield(_ ctx: inout CommandContext, _ args: Arguments, readOnlyCommand: Bool) {
        var ops: [BitfieldOp] = []
        var overflow = Overflow.wrap
        var readOnly = true
        var highestWrite = 0
        var j = 2
        while j < args.count {
            let remaining = args.count - j - 1
            let kind: BitfieldOp.Kind
            if args.equalsKeyword(j, "GET") && remaining >= 2 { kind = .get }
            else if args.equalsKeyword(j, "SET") && remaining >= 3 { kind = .set }
            else if args.equalsKeyword(j, "INCRBY") && remaining >= 3 { kind = .incrby }
            else if args.equalsKeyword(j, "OVERFLOW") && remaining >= 1 {
                if args.equalsKeyword(j + 1, "WRAP") { overflow = .wrap }
                else if args.equalsKeyword(j + 1, "SAT") { overflow = .sat }
                else if args.equalsKeyword(j + 1, "FAIL") { overflow = .fail }
                else { ctx.out.error("ERR Invalid OVERFLOW type specified" as StaticString); return }
                j += 2
                continue
            } else { ctx.syntaxError(); return }
            guard let type = bitfieldType(&ctx, args[j + 1]),
                  let offset = bitOffset(&ctx, args[j + 2], hashMultiplier: type.bits) else { return }
            var value: Int64 = 0
            if kind != .get {
                readOnly = false
                highestWrite = max(highestWrite, offset + type.bits - 1)
                guard let v = integer(&ctx, args[j + 3]) else { return }
                value = Int64(v)
            }
            ops.append(BitfieldOp(kind: kind, signed: type.signed, bits: type.bits, offset: offset, value: value, overflow: overflow))
            j += kind == .get ? 3 : 4
        }
        if readOnly {
            var bytes: [UInt8] = []
            let (db, _, slot) = ctx.lookup(args[1], read: true)
            if let slot {
                guard let s = db.withString(at: slot, { Array($0) }) else { ctx.wrongType(); return }
                bytes = s
            }
            ctx.out.arrayHeader(ops.count)
            for op in ops { ctx.out.integer(Int(readField(bytes, op))) }
            return
        }
        if readOnlyCommand { ctx.out.error("ERR BITFIELD_RO only supports the GET subcommand" as StaticString); return }
        let replies: [Int64?]? = withBitString(&ctx, args[1], maxBit: highestWrite) { s, _ in ops.map { apply($0, to: &s) } }
        guard let replies else { return }
        ctx.notify(.string, "setbit", args[1])
        ctx.out.arrayHeader(replies.count)
        for r in replies { if let r { ctx.out.integer(Int(r)) } else { ctx.out.null() } }
    }

    /// A field's value read MSB first, sign-extended for signed types; bits past the end are 0.
    static func readField(_ s: [UInt8], _ op: BitfieldOp) -> Int64 {
        var v: UInt64 = 0
        for k in 0..<op.bits {
            let bit = op.offset + k
            let set = bit >> 3 < s.count && s[bit >> 3] & (UInt8(0x80) >> UInt8(bit & 7)) != 0
            v = v << 1 | (set ? 1 : 0)
        }
        if op.signed && op.bits < 64 && v & (1 << UInt64(op.bits - 1)) != 0 { v |= UInt64.max << UInt64(op.bits) }
        return Int64(bitPattern: v)
    }

    static func writeField(_ s: inout [UInt8], _ op: BitfieldOp, _ value: UInt64) {
        for k in 0..<op.bits {
            let bit = op.offset + k
            let mask = UInt8(0x80) >> UInt8(bit & 7)
            if (value >> UInt64(op.bits - 1 - k)) & 1 == 1 { s[bit >> 3] |= mask } else { s[bit >> 3] &= ~mask }
        }
    }

    /// SET or INCRBY one field; the reply (old value for SET, new for INCRBY), nil when the
    /// overflow policy FAIL refused the change. As Redis' bitfieldGeneric.
    static func apply(_ op: BitfieldOp, to s: inout [UInt8]) -> Int64? {
        if op.kind == .get { return readField(s, op) }
        let old = readField(s, op)
        let new: Int64, overflowed: Bool
        if op.signed {
            let (base, increment) = op.kind == .incrby ? (old, op.value) : (op.value, Int64(0))
            let checked = signedOverflow(base, increment, bits: op.bits, op.overflow)
            overflowed = checked.overflowed
            new = overflowed ? checked.limit : base &+ increment
        } else {
            let oldValue = UInt64(bitPattern: old)
            let (base, increment) = op.kind == .incrby ? (oldValue, op.value) : (UInt64(bitPattern: op.value), Int64(0))
            let checked = unsignedOverflow(base, increment, bits: op.bits, op.overflow)
            overflowed = checked.overflowed
            new = overflowed ? checked.limit : Int64(bitPattern: base &+ UInt64(bitPattern: increment))
        }
        if overflowed && op.overflow == .fail { return nil }
        writeField(&s, op, UInt64(bitPattern: new))
        return op.kind == .incrby ? new : old
    }

    /// Redis' checkUnsignedBitfieldOverflow: whether `value + incr` leaves 0...2^bits-1, and the
    /// value the policy gives then (wrapped, or saturated at the nearer end).
    static func unsignedOverflow(_ value: UInt64, _ incr: Int64, bits: Int, _ policy: Overflow) -> (overflowed: Bool, limit: Int64) {
        let max: UInt64 = (1 << UInt64(bits)) &- 1
        let maxIncrement = Int64(bitPattern: max &- value), minIncrement = Int64(bitPattern: 0 &- value)
        let wrapped = Int64(bitPattern: (value &+ UInt64(bitPattern: incr)) & max)
        if value > max || (incr > 0 && incr > maxIncrement) {
            return (true, policy == .sat ? Int64(bitPattern: max) : wrapped)
        }
        if incr < 0 && incr < minIncrement {
            return (true, policy == .sat ? 0 : wrapped)
        }
        return (false, 0)
    }

    /// Redis' checkSignedBitfieldOverflow, for -2^(bits-1)...2^(bits-1)-1.
    static func signedOverflow(_ value: Int64, _ incr: Int64, bits: Int, _ policy: Overflow) -> (overflowed: Bool, limit: Int64) {
        let max: Int64 = bits == 64 ? .max : (1 << Int64(bits - 1)) - 1
        let min = -max - 1
        let maxIncrement = Int64(bitPattern: UInt64(bitPattern: max) &- UInt64(bitPattern: value))
        let minIncrement = min &- value
        var c = UInt64(bitPattern: value) &+ UInt64(bitPattern: incr)
        if bits < 64 {
            let mask = UInt64.max << UInt64(bits)
            c = c & (1 << UInt64(bits - 1)) != 0 ? c | mask : c & ~mask
        }
        let wrapped = Int64(bitPattern: c)
        if value > max || (bits != 64 && incr > maxIncrement) || (value >= 0 && incr > 0 && incr > maxIncrement) {
            return (true, policy == .sat ? max : wrapped)
        }
        if value < min || (bits != 64 && incr < minIncrement) || (value < 0 && incr < 0 && incr < minIncrement) {
            return (true, policy == .sat ? min : wrapped)
        }
        return (false, 0)
    }
}
