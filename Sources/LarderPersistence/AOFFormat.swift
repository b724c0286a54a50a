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
    /// `rdb`: an RDB base (aof-use-rdb-preamble yes); else a base of commands, `.base.aof`.
    public static func baseName(_ filename: String, seq: Int, rdb: Bool = true) -> String { "\(filename).\(seq).base.\(rdb ? "rdb" : "aof")" }
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
        try b.withUnsafeBytes { raw in
            var i = 0
            while i < raw.count {
                guard let (args, end) = try command(raw, at: i, file: file, fileOffset: 0) else { p.truncatedAt = i; return }
                p.commands.append(args)
                p.ends.append(end)
                i = end
            }
        }
        return p
    }

    /// The command starting at `start` of `b` and the index just past it; nil when `b` ends
    /// inside it (a torn tail, or a command not read whole yet). `fileOffset`: where `b` starts
    /// in the file, for the offsets of errors.
    static func command(_ b: UnsafeRawBufferPointer, at start: Int, file: String, fileOffset: Int) throws -> ([[UInt8]], Int)? {
        struct Torn: Error {}
        // A decimal after a type byte, through its CRLF; Torn at the end of the bytes.
        func number(_ at: inout Int, what: String) throws -> Int {
            var v = 0, digits = 0
            while at < b.count, b[at] >= 48, b[at] <= 57 {
                v = v * 10 + Int(b[at] - 48); at += 1; digits += 1
                if digits > 18 { throw AOFError(file: file, offset: fileOffset + at, message: "\(what) is too large") }
            }
            if at >= b.count { throw Torn() }
            guard digits > 0, b[at] == 13 else { throw AOFError(file: file, offset: fileOffset + at, message: "invalid \(what): expected digits then CRLF, found \(describe(b[at]))") }
            if at + 1 >= b.count { throw Torn() }
            guard b[at + 1] == 10 else { throw AOFError(file: file, offset: fileOffset + at + 1, message: "expected LF after CR, found \(describe(b[at + 1]))") }
            at += 2
            return v
        }
        var i = start
        do {
            guard b[i] == UInt8(ascii: "*") else {
                throw AOFError(file: file, offset: fileOffset + i, message: "expected '*' (the start of a command), found \(describe(b[i]))")
            }
            i += 1
            let argc = try number(&i, what: "argument count")
            guard argc >= 1 else { throw AOFError(file: file, offset: fileOffset + start, message: "a command with no arguments") }
            var args: [[UInt8]] = []
            args.reserveCapacity(argc)
            for _ in 0..<argc {
                if i >= b.count { throw Torn() }
                guard b[i] == UInt8(ascii: "$") else {
                    throw AOFError(file: file, offset: fileOffset + i, message: "expected '$' (a bulk argument), found \(describe(b[i]))")
                }
                i += 1
                let len = try number(&i, what: "bulk length")
                if i + len + 2 > b.count { throw Torn() }
                args.append(Array(UnsafeRawBufferPointer(rebasing: b[i..<(i + len)])))
                i += len
                guard b[i] == 13, b[i + 1] == 10 else {
                    throw AOFError(file: file, offset: fileOffset + i, message: "expected CRLF after a \(len)-byte argument, found \(describe(b[i]))")
                }
                i += 2
            }
            return (args, i)
        } catch is Torn {
            return nil
        }
    }

    /// An incr file read in windows of `windowBytes` (Redis reads its AOF through a stdio
    /// buffer the same way): memory is one window plus the commands of one batch, whatever the
    /// file's size. A command longer than the window grows it to that command's size.
    public final class Stream {
        public let path: String
        private let fd: Int32
        /// The window: `count` bytes read, from file offset `bufferOffset`; `position` indexes
        /// the next command. Raw memory, not an array: nothing is zero-filled or trimmed per read
        /// (an [UInt8] grown and cut by 8 MiB per window cost ~20 s for a 10 KB file in a debug build).
        private var storage: UnsafeMutableRawPointer
        private var capacity: Int
        private var count = 0
        private var bufferOffset = 0
        private var position = 0
        private var endOfFile = false
        public let windowBytes: Int
        /// After the last batch: the file ends inside a command starting here (a torn tail).
        public private(set) var truncatedAt: Int? = nil
        /// The file's size when opened.
        public let bytes: Int

        public init(path: String, windowBytes: Int = 8 << 20) throws {
            self.path = path
            self.windowBytes = windowBytes
            fd = open(path, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { throw AOFError(file: path, offset: 0, message: "cannot be read: \(String(cString: strerror(errno)))") }
            var st = stat()
            bytes = fstat(fd, &st) == 0 ? Int(st.st_size) : 0
            capacity = Swift.max(16, Swift.min(windowBytes, bytes + 1))
            storage = UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: 16)
        }

        deinit { close(fd); storage.deallocate() }

        /// Up to `max` complete commands and the file offset just past each; none at the end of
        /// the file (then `truncatedAt` tells whether it ended inside a command).
        public func next(max: Int) throws -> (commands: [[[UInt8]]], ends: [Int]) {
            var commands: [[[UInt8]]] = [], ends: [Int] = []
            while commands.count < max {
                if position < count {
                    let window = UnsafeRawBufferPointer(start: storage, count: count)
                    if let (args, end) = try AOFReader.command(window, at: position, file: path, fileOffset: bufferOffset) {
                        commands.append(args)
                        ends.append(bufferOffset + end)
                        position = end
                        continue
                    }
                }
                if endOfFile {
                    if position < count { truncatedAt = bufferOffset + position }
                    break
                }
                try refill()
            }
            return (commands, ends)
        }

        /// Drops what was consumed and reads up to the window's size; a command longer than the
        /// window (nothing consumed, the window full) doubles it, so it is read whole.
        private func refill() throws {
            let left = count - position
            if position > 0 {
                if left > 0 { memmove(storage, storage + position, left) }
                bufferOffset += position
                position = 0
                count = left
            }
            if count == capacity {
                let bigger = UnsafeMutableRawPointer.allocate(byteCount: capacity * 2, alignment: 16)
                bigger.copyMemory(from: storage, byteCount: count)
                storage.deallocate()
                storage = bigger
                capacity *= 2
            }
            while count < capacity {
                let n = Glibc.read(fd, storage + count, capacity - count)
                if n < 0 {
                    if errno == EINTR { continue }
                    throw AOFError(file: path, offset: bufferOffset + count, message: "read failed: \(String(cString: strerror(errno)))")
                }
                if n == 0 { endOfFile = true; break }
                count += n
            }
        }
    }

    static func describe(_ c: UInt8) -> String {
        c >= 32 && c < 127 ? "'\(Character(UnicodeScalar(c)))'" : String(format: "byte 0x%02x", c)
    }
}
