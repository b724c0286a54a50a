#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// Number and boolean parsing straight from field bytes. Numbers, booleans and timestamps
// may be padded with spaces or tabs (`1, 2, 3` is common); strings keep every byte.

enum CSVScalar {
    /// `p[start ..< end]` without leading and trailing spaces and tabs.
    @inline(__always)
    static func trim(_ p: UnsafePointer<UInt8>, _ start: Int, _ end: Int) -> (Int, Int) {
        var s = start, e = end
        while s < e && (p[s] == 0x20 || p[s] == 0x09) { s += 1 }
        while e > s && (p[e - 1] == 0x20 || p[e - 1] == 0x09) { e -= 1 }
        return (s, e)
    }

    /// A decimal integer with optional sign that fits Int64, else nil.
    @inline(__always)
    static func parseInt64(_ p: UnsafePointer<UInt8>, _ start: Int, _ end: Int) -> Int64? {
        var i = start
        guard i < end else { return nil }
        var negative = false
        if p[i] == UInt8(ascii: "-") || p[i] == UInt8(ascii: "+") {
            negative = p[i] == UInt8(ascii: "-")
            i += 1
            guard i < end else { return nil }
        }
        // Accumulate negatively so that Int64.min is representable.
        var value: Int64 = 0
        while i < end {
            let digit = Int64(p[i]) &- 48
            guard digit >= 0 && digit < 10 else { return nil }
            let (shifted, o1) = value.multipliedReportingOverflow(by: 10)
            let (next, o2) = shifted.subtractingReportingOverflow(digit)
            guard !o1 && !o2 else { return nil }
            value = next
            i += 1
        }
        if negative { return value }
        return value == Int64.min ? nil : -value
    }

    /// True when the bytes are only an optional sign and digits (an integer literal,
    /// whatever its size).
    static func isIntegerLiteral(_ p: UnsafePointer<UInt8>, _ start: Int, _ end: Int) -> Bool {
        var i = start
        if i < end && (p[i] == UInt8(ascii: "-") || p[i] == UInt8(ascii: "+")) { i += 1 }
        guard i < end else { return false }
        while i < end {
            guard p[i] >= 48 && p[i] <= 57 else { return false }
            i += 1
        }
        return true
    }

    private static let exactPowersOfTen: [Double] = (0 ... 22).map { k in
        var value = 1.0
        for _ in 0 ..< k { value *= 10 }
        return value
    }

    /// A decimal floating-point literal (`-1.5`, `.5`, `3`, `1e-7`, `nan`, `inf`,
    /// `-Infinity`), correctly rounded; nil otherwise (hex floats are rejected).
    static func parseDouble(_ p: UnsafePointer<UInt8>, _ start: Int, _ end: Int) -> Double? {
        guard start < end else { return nil }
        // Fast path: at most 19 digits, no exponent, mantissa < 2^53 and at most 22
        // fraction digits: one division of two exact doubles is correctly rounded.
        var i = start
        var negative = false
        if p[i] == UInt8(ascii: "-") || p[i] == UInt8(ascii: "+") {
            negative = p[i] == UInt8(ascii: "-")
            i += 1
        }
        var mantissa: UInt64 = 0
        var digits = 0
        var fractionDigits = 0
        var seenPoint = false
        var simple = true
        while i < end {
            let c = p[i]
            if c >= 48 && c <= 57 {
                if digits < 19 {
                    mantissa = mantissa &* 10 &+ UInt64(c &- 48)
                    if seenPoint { fractionDigits += 1 }
                } else {
                    simple = false
                }
                digits += 1
            } else if c == UInt8(ascii: ".") && !seenPoint {
                seenPoint = true
            } else {
                simple = false
                break
            }
            i += 1
        }
        if simple {
            guard digits > 0 else { return nil }
            if mantissa <= 1 << 53 && fractionDigits <= 22 {
                let value = Double(mantissa) / exactPowersOfTen[fractionDigits]
                return negative ? -value : value
            }
        }
        return parseDoubleSlowly(p, start, end)
    }

    /// Validates the literal's characters, then lets strtod do correct rounding.
    private static func parseDoubleSlowly(_ p: UnsafePointer<UInt8>, _ start: Int, _ end: Int) -> Double? {
        let length = end - start
        guard length < 512 else { return nil }
        var sawDigit = false
        var sawLetters = false
        for k in start ..< end {
            let c = p[k] | 0x20  // ASCII lower case
            if p[k] >= 48 && p[k] <= 57 {
                sawDigit = true
            } else if c == UInt8(ascii: "x") {
                return nil
            } else if c >= UInt8(ascii: "a") && c <= UInt8(ascii: "z") && c != UInt8(ascii: "e") {
                sawLetters = true
            } else if !(p[k] == UInt8(ascii: ".") || p[k] == UInt8(ascii: "+") || p[k] == UInt8(ascii: "-")
                        || c == UInt8(ascii: "e")) {
                return nil
            }
        }
        if sawLetters && !isNamedSpecialValue(p, start, end) { return nil }
        if !sawLetters && !sawDigit { return nil }
        return withUnsafeTemporaryAllocation(of: CChar.self, capacity: length + 1) { buffer -> Double? in
            guard let text = buffer.baseAddress else { return nil }
            for k in 0 ..< length { text[k] = CChar(bitPattern: p[start + k]) }
            text[length] = 0
            var stop: UnsafeMutablePointer<CChar>? = nil
            let value = strtod(text, &stop)
            guard let stop, stop == text + length else { return nil }
            return value
        }
    }

    /// `nan`, `inf`, `infinity` (any case, optional sign).
    private static func isNamedSpecialValue(_ p: UnsafePointer<UInt8>, _ start: Int, _ end: Int) -> Bool {
        var s = start
        if s < end && (p[s] == UInt8(ascii: "-") || p[s] == UInt8(ascii: "+")) { s += 1 }
        let word = (s ..< end).map { p[$0] | 0x20 }
        return word == Array("nan".utf8) || word == Array("inf".utf8) || word == Array("infinity".utf8)
    }

    /// `true` / `false` in any case; with `allowDigits` also `1` / `0` (declared columns).
    @inline(__always)
    static func parseBool(_ p: UnsafePointer<UInt8>, _ start: Int, _ end: Int, allowDigits: Bool) -> Bool? {
        let length = end - start
        if length == 4 {
            if p[start] | 0x20 == UInt8(ascii: "t") && p[start + 1] | 0x20 == UInt8(ascii: "r")
                && p[start + 2] | 0x20 == UInt8(ascii: "u") && p[start + 3] | 0x20 == UInt8(ascii: "e") {
                return true
            }
        } else if length == 5 {
            if p[start] | 0x20 == UInt8(ascii: "f") && p[start + 1] | 0x20 == UInt8(ascii: "a")
                && p[start + 2] | 0x20 == UInt8(ascii: "l") && p[start + 3] | 0x20 == UInt8(ascii: "s")
                && p[start + 4] | 0x20 == UInt8(ascii: "e") {
                return false
            }
        } else if length == 1 && allowDigits {
            if p[start] == UInt8(ascii: "1") { return true }
            if p[start] == UInt8(ascii: "0") { return false }
        }
        return nil
    }
}
