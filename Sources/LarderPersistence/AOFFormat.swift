import Foundation

/// Redis 7's multi-part append-only file: a directory holding a manifest, one base file (an
/// RDB file, `aof-use-rdb-preamble yes`) and incr files of commands in RESP multibulk form.
/// The manifest lists them, one per line: `file appendonly.aof.1.base.rdb seq 1 type b`
/// (type b = base, i = incr, h = history, kept by Redis only until it deletes the file).
public struct AOFManifest: Equatable {
    public enum Kind: String { case base = "b", incr = "i", history = "h" }
    public struct Entry: Equatable {
        public var name: String; public var seq: Int; public var kind: Kind
        public init(name: String, seq: Int, kind: Kind) { self.name = name; self.seq = seq; self.kind = kind }
    }
    public var entries: [Entry]
    public init(entries: [Entry]) { self.entries = entries }

    public var base: Entry? { entries.first { $0.kind == .base } }
    /// Replayed in this order after the base (Redis keeps them sorted by seq).
    public var incrs: [Entry] { entries.filter { $0.kind == .incr }.sorted { $0.seq < $1.seq } }

    public static func manifestName(_ filename: String) -> String { filename + ".manifest" }
    public static func baseName(_ filename: String, seq: Int) -> String { "\(filename).\(seq).base.rdb" }
    public static func incrName(_ filename: String, seq: Int) -> String { "\(filename).\(seq).incr.aof" }

    /// Redis' aofLoadManifestFromFile: `key value` pairs per line, `#` comments, blank lines.
    public static func parse(_ text: String, file: String) throws -> AOFManifest {
        var entries: [Entry] = []
        for (n, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") { continue }
            let words = line.split(separator: " ").map(String.init)
            guard words.count % 2 == 0 else { throw AOFError(file: file, offset: n + 1, message: "invalid manifest line (odd number of words): \(line)", unit: "line") }
            var name: String?, seq: Int?, kind: Kind?
            for i in stride(from: 0, to: words.count, by: 2) {
                switch words[i] {
                case "file": name = words[i + 1]
                case "seq": seq = Int(words[i + 1])
                case "type": kind = Kind(rawValue: words[i + 1])
                default: break  // Redis ignores keys it does not know (forward compatibility)
                }
            }
            guard let name, let seq, let kind, !name.contains("/") else {
                throw AOFError(file: file, offset: n + 1, message: "invalid manifest line: \(line)", unit: "line")
            }
            entries.append(Entry(name: name, seq: seq, kind: kind))
        }
        let manifest = AOFManifest(entries: entries)
        if entries.filter({ $0.kind == .base }).count > 1 {
            throw AOFError(file: file, offset: 0, message: "more than one base file in the manifest", unit: "line")
        }
        if manifest.base == nil && manifest.incrs.isEmpty {
            throw AOFError(file: file, offset: 0, message: "the manifest lists no base and no incr file", unit: "line")
        }
        return manifest
    }

    public func render() -> String {
        entries.map { "file \($0.name) seq \($0.seq) type \($0.kind.rawValue)\n" }.joined()
    }
}

public struct AOFError: Error, CustomStringConvertible {
    public var file: String
    public var offset: Int
    public var message: String
    public var unit = "offset"
    public init(file: String, offset: Int, message: String, unit: String = "offset") {
        self.file = file; self.offset = offset; self.message = message; self.unit = unit
    }
    public var description: String { "\(file), \(unit) \(offset): \(message)" }
}

/// Appends commands in RESP multibulk form, as Redis' catAppendOnlyGenericCommand writes them.
public enum AOFEncoder {
    @inline(__always)
    static func appendDecimal(_ v: Int, to out: inout [UInt8]) {
        if v >= 0 && v < 10 { out.append(UInt8(48 + v)); return }
        var digits: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
                     UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) =
            (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        var n = 0
        var x = v.magnitude
        withUnsafeMutableBytes(of: &digits) { d in
            while x > 0 { d[n] = UInt8(48 + x % 10); x /= 10; n += 1 }
            if v < 0 { out.append(UInt8(ascii: "-")) }
            while n > 0 { n -= 1; out.append(d[n]) }
        }
    }

    public static func arrayHeader(_ n: Int, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "*")); appendDecimal(n, to: &out); out.append(13); out.append(10)
    }

    public static func bulk(_ bytes: UnsafeRawBufferPointer, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "$")); appendDecimal(bytes.count, to: &out); out.append(13); out.append(10)
        out.append(contentsOf: bytes)
        out.append(13); out.append(10)
    }

    public static func bulk(_ s: StaticString, to out: inout [UInt8]) {
        bulk(UnsafeRawBufferPointer(start: s.utf8Start, count: s.utf8CodeUnitCount), to: &out)
    }

    public static func bulk(_ bytes: [UInt8], to out: inout [UInt8]) { bytes.withUnsafeBytes { bulk($0, to: &out) } }

    /// A number as a bulk argument, without building its text first (no allocation).
    public static func bulkDecimal(_ v: Int, to out: inout [UInt8]) {
        var digits = v < 0 ? 2 : 1
        var x = v.magnitude
        while x >= 10 { x /= 10; digits += 1 }
        out.append(UInt8(ascii: "$")); appendDecimal(digits, to: &out); out.append(13); out.append(10)
        appendDecimal(v, to: &out); out.append(13); out.append(10)
    }
}

/// Reads an incr file: every complete command with the offset where it ends. A command cut off
/// by the end of the file is a torn tail (`truncatedAt`: where the last complete command ends);
/// anything that is not RESP multibulk where a command must start is garbage and throws with
/// the offset and what was found.
public enum AOFReader {
    public struct Parsed {
        /// Each command's arguments; `ends[i]` is the offset just past command i.
        public var commands: [[[UInt8]]] = []
        public var ends: [Int] = []
        /// The file ends inside a command: the offset of the last complete one's end.
        public var truncatedAt: Int? = nil
        public var bytes = 0
    }

    public static func read(path: String) throws -> Parsed {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw AOFError(file: path, offset: 0, message: "cannot be read: \(String(cString: strerror(errno)))")
        }
        return try data.withUnsafeBytes { try parse(Array($0), file: path) }
    }

    /// `*<n>\r\n` then n times `$<len>\r\n<bytes>\r\n`, n >= 1.
    public static func parse(_ b: [UInt8], file: String) throws -> Parsed {
        var p = Parsed()
        p.bytes = b.count
        var i = 0
        struct Torn: Error {}
        // A decimal after a type byte, through its CRLF; Torn at the end of the file.
        func number(_ at: inout Int, what: String) throws -> Int {
            var v = 0, digits = 0
            while at < b.count, b[at] >= 48, b[at] <= 57 {
                v = v * 10 + Int(b[at] - 48); at += 1; digits += 1
                if digits > 18 { throw AOFError(file: file, offset: at, message: "\(what) is too large") }
            }
            if at >= b.count { throw Torn() }
            guard digits > 0, b[at] == 13 else { throw AOFError(file: file, offset: at, message: "invalid \(what): expected digits then CRLF, found \(describe(b[at]))") }
            if at + 1 >= b.count { throw Torn() }
            guard b[at + 1] == 10 else { throw AOFError(file: file, offset: at + 1, message: "expected LF after CR, found \(describe(b[at + 1]))") }
            at += 2
            return v
        }
        while i < b.count {
            let start = i
            do {
                guard b[i] == UInt8(ascii: "*") else {
                    throw AOFError(file: file, offset: i, message: "expected '*' (the start of a command), found \(describe(b[i]))")
                }
                i += 1
                let argc = try number(&i, what: "argument count")
                guard argc >= 1 else { throw AOFError(file: file, offset: start, message: "a command with no arguments") }
                var args: [[UInt8]] = []
                args.reserveCapacity(argc)
                for _ in 0..<argc {
                    if i >= b.count { throw Torn() }
                    guard b[i] == UInt8(ascii: "$") else {
                        throw AOFError(file: file, offset: i, message: "expected '$' (a bulk argument), found \(describe(b[i]))")
                    }
                    i += 1
                    let len = try number(&i, what: "bulk length")
                    if i + len + 2 > b.count { throw Torn() }
                    args.append(Array(b[i..<(i + len)]))
                    i += len
                    guard b[i] == 13, b[i + 1] == 10 else {
                        throw AOFError(file: file, offset: i, message: "expected CRLF after a \(len)-byte argument, found \(describe(b[i]))")
                    }
                    i += 2
                }
                p.commands.append(args)
                p.ends.append(i)
            } catch is Torn {
                p.truncatedAt = start
                return p
            }
        }
        return p
    }

    static func describe(_ c: UInt8) -> String {
        c >= 32 && c < 127 ? "'\(Character(UnicodeScalar(c)))'" : String(format: "byte 0x%02x", c)
    }
}
