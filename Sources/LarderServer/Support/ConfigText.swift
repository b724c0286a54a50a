import Foundation

/// The text of a Redis-style configuration line: split as Redis' sdssplitargs reads it, and
/// values quoted so that it reads them back (shared by `larder serve CONFIGFILE` and CONFIG
/// REWRITE, so the file is written the way it is read).
public enum ConfigText {
    /// Redis' sdssplitargs: nil when quotes are unbalanced or a closing quote is not followed
    /// by a space.
    public static func splitArguments(_ line: String) -> [String]? {
        let b = Array(line.utf8)
        var i = 0
        var words: [String] = []
        func isSpace(_ c: UInt8) -> Bool { c == 32 || c == 9 || c == 10 || c == 13 || c == 11 || c == 12 }
        func hex(_ c: UInt8) -> UInt8? {
            switch c {
            case 48...57: return c - 48
            case 97...102: return c - 87
            case 65...70: return c - 55
            default: return nil
            }
        }
        while true {
            while i < b.count && isSpace(b[i]) { i += 1 }
            if i >= b.count { return words }
            var word: [UInt8] = []
            var inDouble = false, inSingle = false
            var done = false
            while !done {
                if inDouble {
                    guard i < b.count else { return nil }
                    if b[i] == 92 && i + 3 < b.count && b[i + 1] == 120, let h = hex(b[i + 2]), let l = hex(b[i + 3]) {
                        word.append(h * 16 + l); i += 3
                    } else if b[i] == 92 && i + 1 < b.count {
                        i += 1
                        switch b[i] {
                        case 110: word.append(10)
                        case 114: word.append(13)
                        case 116: word.append(9)
                        case 98: word.append(8)
                        case 97: word.append(7)
                        default: word.append(b[i])
                        }
                    } else if b[i] == 34 {
                        if i + 1 < b.count && !isSpace(b[i + 1]) { return nil }
                        done = true
                    } else {
                        word.append(b[i])
                    }
                } else if inSingle {
                    guard i < b.count else { return nil }
                    if b[i] == 92 && i + 1 < b.count && b[i + 1] == 39 {
                        i += 1; word.append(39)
                    } else if b[i] == 39 {
                        if i + 1 < b.count && !isSpace(b[i + 1]) { return nil }
                        done = true
                    } else {
                        word.append(b[i])
                    }
                } else if i >= b.count || isSpace(b[i]) {
                    done = true
                } else if b[i] == 34 {
                    inDouble = true
                } else if b[i] == 39 {
                    inSingle = true
                } else {
                    word.append(b[i])
                }
                if i < b.count { i += 1 }
            }
            words.append(String(decoding: word, as: UTF8.self))
        }
    }

    /// `value` as one word of a configuration line: bare when that reads back as itself,
    /// else double-quoted with Redis' escapes (sdscatrepr).
    public static func quoted(_ value: String) -> String {
        let bytes = Array(value.utf8)
        let plain = !bytes.isEmpty && bytes.allSatisfy { c in c > 32 && c < 127 && c != 34 && c != 39 && c != 92 }
        if plain { return value }
        var out = "\""
        for c in bytes {
            switch c {
            case 92: out += "\\\\"
            case 34: out += "\\\""
            case 10: out += "\\n"
            case 13: out += "\\r"
            case 9: out += "\\t"
            case 7: out += "\\a"
            case 8: out += "\\b"
            case 32...126: out.unicodeScalars.append(Unicode.Scalar(c))
            default: out += "\\x" + String(format: "%02x", c)
            }
        }
        return out + "\""
    }
}
