/// Redis' glob matching (`stringmatchlen` in util.c), binary-safe: `*`, `?`, `[abc]`, `[^a]`,
/// `[a-z]`, and `\` escapes. Used by KEYS, SCAN MATCH and HSCAN MATCH.
public enum Glob {
    public static func match(_ pattern: UnsafeRawBufferPointer, _ string: UnsafeRawBufferPointer,
                             nocase: Bool = false) -> Bool {
        var skipLongerMatches = false
        return matchImpl(pattern, 0, string, 0, nocase, &skipLongerMatches, nesting: 0)
    }

    public static func match(_ pattern: [UInt8], _ string: [UInt8]) -> Bool {
        pattern.withUnsafeBytes { p in string.withUnsafeBytes { s in match(p, s) } }
    }

    @inline(__always) static func lower(_ c: UInt8) -> UInt8 { (c >= 65 && c <= 90) ? c + 32 : c }
    @inline(__always) static func signed(_ c: UInt8) -> Int { Int(Int8(bitPattern: c)) }
    @inline(__always) static func lowerSigned(_ c: Int) -> Int { (c >= 65 && c <= 90) ? c + 32 : c }

    private static func matchImpl(_ pat: UnsafeRawBufferPointer, _ pStart: Int,
                                  _ str: UnsafeRawBufferPointer, _ sStart: Int, _ nocase: Bool,
                                  _ skipLongerMatches: inout Bool, nesting: Int) -> Bool {
        // Redis bounds recursion to protect the stack from hostile patterns.
        if nesting > 1000 { return false }
        var p = pStart, s = sStart
        let pl = pat.count, sl = str.count
        while p < pl && s < sl {
            switch pat[p] {
            case UInt8(ascii: "*"):
                while p + 1 < pl && pat[p + 1] == UInt8(ascii: "*") { p += 1 }
                if p + 1 == pl { return true }
                while s < sl {
                    if matchImpl(pat, p + 1, str, s, nocase, &skipLongerMatches, nesting: nesting + 1) { return true }
                    if skipLongerMatches { return false }
                    s += 1
                }
                skipLongerMatches = true
                return false
            case UInt8(ascii: "?"):
                s += 1
            case UInt8(ascii: "["):
                p += 1
                let not = p < pl && pat[p] == UInt8(ascii: "^")
                if not { p += 1 }
                var matched = false
                while true {
                    if p < pl && pat[p] == UInt8(ascii: "\\") && p + 1 < pl {
                        p += 1
                        if pat[p] == str[s] { matched = true }
                    } else if p < pl && pat[p] == UInt8(ascii: "]") {
                        break
                    } else if p >= pl {
                        p -= 1
                        break
                    } else if p + 2 < pl && pat[p + 1] == UInt8(ascii: "-") {
                        // Redis compares `char`s, signed on x86-64 (where the reference
                        // server runs): bytes >= 0x80 sort below ASCII in ranges.
                        var start = signed(pat[p]), end = signed(pat[p + 2])
                        var c = signed(str[s])
                        if start > end { swap(&start, &end) }
                        if nocase { start = lowerSigned(start); end = lowerSigned(end); c = lowerSigned(c) }
                        p += 2
                        if c >= start && c <= end { matched = true }
                    } else {
                        if nocase ? lower(pat[p]) == lower(str[s]) : pat[p] == str[s] { matched = true }
                    }
                    p += 1
                }
                if not { matched = !matched }
                if !matched { return false }
                s += 1
            case UInt8(ascii: "\\"):
                if p + 1 < pl { p += 1 }
                fallthrough
            default:
                if nocase ? lower(pat[p]) != lower(str[s]) : pat[p] != str[s] { return false }
                s += 1
            }
            p += 1
            if s == sl {
                while p < pl && pat[p] == UInt8(ascii: "*") { p += 1 }
                break
            }
        }
        return p == pl && s == sl
    }
}
