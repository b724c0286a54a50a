#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The RESP version a connection speaks; replies whose encoding differs (null, map, set,
/// double, boolean, verbatim, push) consult it.
public enum RESPVersion: Int, Sendable { case resp2 = 2, resp3 = 3 }

/// Appends RESP replies to a growable byte buffer that is reused across requests, so writing a
/// reply allocates nothing once the buffer has grown to the connection's working size.
public final class ReplyWriter {
    public private(set) var storage: UnsafeMutableRawPointer
    public private(set) var count = 0
    public private(set) var capacity: Int
    public var version: RESPVersion
    /// Error replies written so far, and where the last one starts (its `-`): the server counts
    /// failed calls and INFO errorstats from these, comparing before and after a command, so
    /// the path without errors costs nothing here.
    public private(set) var errorCount = 0
    public private(set) var lastErrorOffset = 0

    public init(capacity: Int = 16 * 1024, version: RESPVersion = .resp2) {
        self.capacity = max(capacity, 64)
        self.storage = UnsafeMutableRawPointer.allocate(byteCount: self.capacity, alignment: 16)
        self.version = version
    }

    deinit { storage.deallocate() }

    public var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: storage, count: count) }

    /// Drops the contents; keeps the memory unless it grew far beyond the usual size.
    public func clear() {
        count = 0
        if capacity > 4 * 1024 * 1024 {
            storage.deallocate()
            capacity = 16 * 1024
            storage = UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: 16)
        }
    }

    /// The code of the last error reply (its first word, e.g. `ERR`, `WRONGTYPE`), as Redis
    /// names INFO errorstats' lines; nil when no error was written or it was truncated away.
    public var lastErrorCode: String? {
        guard errorCount > 0, lastErrorOffset < count else { return nil }
        var end = lastErrorOffset + 1
        while end < count {
            let c = storage.load(fromByteOffset: end, as: UInt8.self)
            if c == 0x20 || c == 0x0D { break }
            end += 1
        }
        return String(decoding: UnsafeRawBufferPointer(start: storage + lastErrorOffset + 1, count: end - lastErrorOffset - 1), as: UTF8.self)
    }

    /// Truncates back to `mark` (used to replace a partially written reply).
    public func truncate(to mark: Int) { count = min(count, mark) }

    @inline(__always) public func reserve(_ n: Int) {
        if count + n > capacity { grow(count + n) }
    }

    private func grow(_ needed: Int) {
        var newCap = capacity * 2
        while newCap < needed { newCap *= 2 }
        let p = UnsafeMutableRawPointer.allocate(byteCount: newCap, alignment: 16)
        p.copyMemory(from: storage, byteCount: count)
        storage.deallocate()
        storage = p
        capacity = newCap
    }

    // MARK: raw appends

    @inline(__always) public func appendByte(_ b: UInt8) {
        reserve(1)
        storage.storeBytes(of: b, toByteOffset: count, as: UInt8.self)
        count += 1
    }

    @inline(__always) public func append(_ raw: UnsafeRawBufferPointer) {
        guard raw.count > 0 else { return }
        reserve(raw.count)
        (storage + count).copyMemory(from: raw.baseAddress!, byteCount: raw.count)
        count += raw.count
    }

    /// Two pieces with one capacity check (FEATURES.GET's previous status tail and the next
    /// cell's head, where the value is not written in place).
    public func append(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) {
        reserve(a.count + b.count)
        if a.count > 0 { (storage + count).copyMemory(from: a.baseAddress!, byteCount: a.count) }
        if b.count > 0 { (storage + count + a.count).copyMemory(from: b.baseAddress!, byteCount: b.count) }
        count += a.count + b.count
    }

    /// Room for `n` more bytes at the end of the reply, to be written in place and then kept
    /// with `advance` (at most `n`): one capacity check for several pieces whose longest form
    /// is known (FEATURES.GET's cell: status tail, head and a number).
    public func tail(reserving n: Int) -> UnsafeMutablePointer<UInt8> {
        reserve(n)
        return (storage + count).assumingMemoryBound(to: UInt8.self)
    }

    /// Keeps `n` bytes written at `tail(reserving:)`.
    public func advance(_ n: Int) {
        precondition(count + n <= capacity, "ReplyWriter.advance past the reserved room")
        count += n
    }

    @inline(__always) public func append(_ s: StaticString) {
        append(UnsafeRawBufferPointer(start: s.utf8Start, count: s.utf8CodeUnitCount))
    }

    public func append(_ bytes: [UInt8]) { bytes.withUnsafeBytes { append($0) } }

    public func append(_ s: String) {
        var s = s
        s.withUTF8 { append(UnsafeRawBufferPointer($0)) }
    }

    @inline(__always) func crlf() {
        reserve(2)
        storage.storeBytes(of: 0x0A0D as UInt16, toByteOffset: count, as: UInt16.self)
        count += 2
    }

    /// Decimal digits of `v`, written without going through String.
    public func appendDecimal(_ v: Int) {
        reserve(21)
        count += RESPNumberFormat.writeDecimal(v, to: (storage + count).assumingMemoryBound(to: UInt8.self))
    }

    /// `<type><n>\r\n` (integers and aggregate headers) with one capacity check. Measured reason:
    /// a type byte, the digits and CRLF each checked capacity in its own call: ~107 instructions
    /// per small integer of a FEATURES.GET reply, ~66 now (callgrind, 1 x 10, epoll).
    @inline(__always) func header(_ type: UInt8, _ n: Int) {
        reserve(24)
        let p = (storage + count).assumingMemoryBound(to: UInt8.self)
        p[0] = type
        let len = RESPNumberFormat.writeDecimal(n, to: p + 1)
        UnsafeMutableRawPointer(p + 1 + len).storeBytes(of: 0x0A0D as UInt16, as: UInt16.self)
        count += len + 3
    }

    // MARK: replies

    public func simple(_ s: StaticString) { appendByte(UInt8(ascii: "+")); append(s); crlf() }
    public func simple(_ s: String) { appendByte(UInt8(ascii: "+")); append(s); crlf() }
    public func ok() { append("+OK\r\n" as StaticString) }

    /// An error reply. `message` starts with its code (`ERR`, `WRONGTYPE`, ...); CR and LF in it
    /// are replaced by spaces, as Redis does, so a reply can never break the framing.
    public func error(_ message: String) {
        errorCount &+= 1
        lastErrorOffset = count
        appendByte(UInt8(ascii: "-"))
        var m = message
        m.withUTF8 { u in
            reserve(u.count)
            for c in u { appendByte(c == 0x0D || c == 0x0A ? 0x20 : c) }
        }
        crlf()
    }
    public func error(_ message: StaticString) {
        errorCount &+= 1
        lastErrorOffset = count
        appendByte(UInt8(ascii: "-")); append(message); crlf()
    }

    public func integer(_ v: Int) { header(UInt8(ascii: ":"), v) }

    public func bulk(_ data: UnsafeRawBufferPointer) {
        let n = data.count
        guard n < 100 else {
            reserve(n + 16)
            header(UInt8(ascii: "$"), n)
            append(data)
            crlf()
            return
        }
        // Feature values and field names are short: one reserve, the one or two length digits
        // written directly (this is most of an HMGET/HGETALL reply).
        reserve(n + 7)
        var p = storage + count
        p.storeBytes(of: UInt8(ascii: "$"), as: UInt8.self)
        if n < 10 {
            (p + 1).storeBytes(of: UInt8(truncatingIfNeeded: 48 + n), as: UInt8.self)
            p += 2
        } else {
            (p + 1).storeBytes(of: UInt8(truncatingIfNeeded: 48 + n / 10), as: UInt8.self)
            (p + 2).storeBytes(of: UInt8(truncatingIfNeeded: 48 + n % 10), as: UInt8.self)
            p += 3
        }
        p.storeBytes(of: 0x0A0D as UInt16, as: UInt16.self)
        p += 2
        if n > 0 { p.copyMemory(from: data.baseAddress!, byteCount: n) }
        (p + n).storeBytes(of: 0x0A0D as UInt16, as: UInt16.self)
        count = (p + n + 2) - storage
    }
    public func bulk(_ data: [UInt8]) { data.withUnsafeBytes { bulk($0) } }
    public func bulk(_ s: String) { var s = s; s.withUTF8 { bulk(UnsafeRawBufferPointer($0)) } }
    public func bulk(_ s: StaticString) { bulk(UnsafeRawBufferPointer(start: s.utf8Start, count: s.utf8CodeUnitCount)) }

    /// A missing value: `$-1` in RESP2, `_` in RESP3.
    public func null() {
        if version == .resp3 { append("_\r\n" as StaticString) } else { append("$-1\r\n" as StaticString) }
    }
    /// A missing aggregate (EXEC aborted by WATCH, ...): `*-1` in RESP2, `_` in RESP3.
    public func nullArray() {
        if version == .resp3 { append("_\r\n" as StaticString) } else { append("*-1\r\n" as StaticString) }
    }

    public func arrayHeader(_ n: Int) { header(UInt8(ascii: "*"), n) }
    /// A map of `n` pairs: `%n` in RESP3, a flat array of 2n elements in RESP2.
    public func mapHeader(_ n: Int) {
        if version == .resp3 { header(UInt8(ascii: "%"), n) } else { header(UInt8(ascii: "*"), 2 * n) }
    }
    public func setHeader(_ n: Int) {
        header(version == .resp3 ? UInt8(ascii: "~") : UInt8(ascii: "*"), n)
    }
    public func pushHeader(_ n: Int) {
        header(version == .resp3 ? UInt8(ascii: ">") : UInt8(ascii: "*"), n)
    }

    /// A double: `,1.5` in RESP3, a bulk string in RESP2 (as Redis' addReplyDouble).
    /// The digits go straight into the buffer (RESPNumberFormat.writeG17): formatting through
    /// a String and vsnprintf (withVaList's dynamic casts, an array, a String) cost ~7,500
    /// instructions per double, 30% of a 1 x 10 FEATURES.GET under callgrind.
    public func double(_ v: Double) {
        reserve(48)
        if version == .resp3 {
            let p = (storage + count).assumingMemoryBound(to: UInt8.self)
            p[0] = UInt8(ascii: ",")
            let n = RESPNumberFormat.writeDouble(v, to: p + 1)
            (storage + count + 1 + n).storeBytes(of: 0x0A0D as UInt16, as: UInt16.self)
            count += n + 3
        } else {
            withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 40) { t in
                let n = RESPNumberFormat.writeDouble(v, to: t.baseAddress!)
                bulk(UnsafeRawBufferPointer(start: t.baseAddress!, count: n))
            }
        }
    }

    /// `#t`/`#f` in RESP3; integer 1/0 in RESP2.
    public func boolean(_ v: Bool) {
        if version == .resp3 { append(v ? "#t\r\n" as StaticString : "#f\r\n" as StaticString) }
        else { integer(v ? 1 : 0) }
    }

    /// Verbatim text (`=len\r\ntxt:...` in RESP3; bulk in RESP2), as INFO and CLIENT LIST reply.
    public func verbatim(_ text: String) {
        if version == .resp3 {
            let utf8 = text.utf8.count
            header(UInt8(ascii: "="), utf8 + 4)
            append("txt:" as StaticString)
            append(text)
            crlf()
        } else {
            bulk(text)
        }
    }
}

/// Number formatting that matches Redis' replies.
public enum RESPNumberFormat {
    /// Redis formats doubles with "%.17g" and then `inf`/`-inf`/`nan`; INCRBYFLOAT uses
    /// long-double "%.17Lg" and strips trailing zeros. Both use the shortest exact form in
    /// practice for values Swift prints exactly, so we mirror "%.17g".
    public static func double(_ v: Double) -> String {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 40) { t in
            let n = writeDouble(v, to: t.baseAddress!)
            return String(decoding: UnsafeBufferPointer(start: t.baseAddress!, count: n), as: UTF8.self)
        }
    }

    /// `double(v)`'s text written at `p` (at most 32 bytes); returns its length.
    public static func writeDouble(_ v: Double, to p: UnsafeMutablePointer<UInt8>) -> Int {
        if v.isNaN { return copy("nan", p) }
        if v.isInfinite { return copy(v > 0 ? "inf" : "-inf", p) }
        if let n = writeG17(v, to: p) { return n }
        var buf = [CChar](repeating: 0, count: 64)
        _ = withVaList([v]) { vsnprintf(&buf, 64, "%.17g", $0) }
        var n = 0
        while buf[n] != 0 { p[n] = UInt8(bitPattern: buf[n]); n += 1 }
        return n
    }

    private static func copy(_ s: StaticString, _ p: UnsafeMutablePointer<UInt8>) -> Int {
        p.update(from: s.utf8Start, count: s.utf8CodeUnitCount)
        return s.utf8CodeUnitCount
    }

    private static let powersOfTen: [UInt128] = {
        var t: [UInt128] = [1]
        for _ in 1...22 { t.append(t.last! * 10) }
        return t
    }()

    /// printf's "%.17g" for finite doubles whose 17 significant digits are an exact integer
    /// computation in 128 bits (measured reason: vsnprintf through withVaList and a String was
    /// ~7,500 instructions per double under callgrind), for v = m * 2^e with e <= 0 and
    /// 10^-6 <= |v| < 10^17 (every
    /// feature value in practice); nil otherwise (the caller asks vsnprintf). The digits are
    /// v * 10^p rounded half to even, as glibc rounds the exact binary value;
    /// Tests/LarderRESPTests compare it with vsnprintf on random and edge values.
    static func writeG17(_ v: Double, to p: UnsafeMutablePointer<UInt8>) -> Int? {
        var at = 0
        if v.sign == .minus { p[0] = UInt8(ascii: "-"); at = 1 }
        if v == 0 { p[at] = UInt8(ascii: "0"); return at + 1 }
        guard v.isNormal else { return nil }
        let a = v.magnitude
        let m = UInt128(a.significandBitPattern | (1 << 52))
        let e2 = Int(a.exponentBitPattern) - 1075
        guard e2 <= 0 else { return nil }
        let shift = -e2
        // floor(log10(2^(e2 + 52))): the decimal exponent, or one less (the loop corrects it).
        var x = ((e2 + 52) * 78913) >> 18
        var q: UInt128 = 0, num: UInt128 = 0
        var tries = 0
        while true {
            let pw = 16 - x
            guard pw >= 0, pw <= 22, tries < 3, shift < 128 else { return nil }
            tries += 1
            num = m * powersOfTen[pw]
            q = num >> UInt128(shift)
            if q >= powersOfTen[17] { x += 1; continue }
            if q < powersOfTen[16] { x -= 1; continue }
            break
        }
        if shift > 0 {
            let rem = num & ((UInt128(1) << UInt128(shift)) - 1)
            let half = UInt128(1) << UInt128(shift - 1)
            if rem > half || (rem == half && q & 1 == 1) { q += 1 }
        }
        if q == powersOfTen[17] { q = powersOfTen[16]; x += 1 }
        // The 17 digits go where the format puts most of them, then are moved around by a byte
        // at most; %g drops trailing zeros of the fraction (and the point with them).
        if x < -4 || x >= 17 {
            digits17(UInt64(q), p + at + 1)
            p[at] = p[at + 1]
            let last = lastNonZero(p + at + 1, from: 16, downTo: 1)
            if last >= 1 { p[at + 1] = UInt8(ascii: "."); at += 2 + last } else { at += 1 }
            p[at] = UInt8(ascii: "e"); p[at + 1] = x < 0 ? UInt8(ascii: "-") : UInt8(ascii: "+"); at += 2
            let ex = abs(x)
            if ex >= 100 { p[at] = UInt8(ex / 100) + 48; at += 1 }
            p[at] = UInt8(ex / 10 % 10) + 48; p[at + 1] = UInt8(ex % 10) + 48
            return at + 2
        }
        if x >= 0 {
            digits17(UInt64(q), p + at)
            let last = lastNonZero(p + at, from: 16, downTo: x + 1)
            guard last > x else { return at + x + 1 }
            for k in stride(from: last, through: x + 1, by: -1) { p[at + k + 1] = p[at + k] }
            p[at + x + 1] = UInt8(ascii: ".")
            return at + last + 2
        }
        let zeros = -x - 1
        p[at] = UInt8(ascii: "0"); p[at + 1] = UInt8(ascii: ".")
        for k in 0..<zeros { p[at + 2 + k] = UInt8(ascii: "0") }
        digits17(UInt64(q), p + at + 2 + zeros)
        return at + 2 + zeros + lastNonZero(p + at + 2 + zeros, from: 16, downTo: 0) + 1
    }

    /// The decimal digits of `v` (with `-` when negative) at `p` (at most 20 bytes); returns
    /// their length. Two digits per division, from a pair table, written in place from the end.
    @inline(__always)
    public static func writeDecimal(_ v: Int, to p: UnsafeMutablePointer<UInt8>) -> Int {
        var at = 0
        if v < 0 { p[0] = UInt8(ascii: "-"); at = 1 }
        var n = v.magnitude
        if n < 10 { p[at] = UInt8(truncatingIfNeeded: n) &+ 48; return at + 1 }
        var digits = 2
        var t = n / 100
        while t != 0 { digits += t < 10 ? 1 : 2; t /= 100 }
        let pairs = digitPairs.utf8Start
        var i = at + digits - 1
        while n >= 100 {
            let r = Int(truncatingIfNeeded: n % 100)
            n /= 100
            p[i] = pairs[2 * r + 1]; p[i - 1] = pairs[2 * r]
            i -= 2
        }
        if n >= 10 {
            let r = Int(truncatingIfNeeded: n)
            p[i] = pairs[2 * r + 1]; p[i - 1] = pairs[2 * r]
        } else {
            p[i] = UInt8(truncatingIfNeeded: n) &+ 48
        }
        return at + digits
    }

    private static let digitPairs: StaticString = "00010203040506070809101112131415161718192021222324252627282930313233343536373839404142434445464748495051525354555657585960616263646566676869707172737475767778798081828384858687888990919293949596979899"

    /// The 17 decimal digits of `n` (< 10^17) at `p`, two per division.
    @inline(__always)
    private static func digits17(_ n: UInt64, _ p: UnsafeMutablePointer<UInt8>) {
        let t = digitPairs.utf8Start
        var n = n
        var i = 16
        while i >= 1 {
            let r = Int(n % 100)
            n /= 100
            p[i] = t[2 * r + 1]; p[i - 1] = t[2 * r]
            i -= 2
        }
        p[0] = UInt8(truncatingIfNeeded: n) + 48
    }

    @inline(__always)
    private static func lastNonZero(_ p: UnsafeMutablePointer<UInt8>, from: Int, downTo: Int) -> Int {
        var k = from
        while k >= downTo && p[k] == UInt8(ascii: "0") { k -= 1 }
        return k
    }
}
