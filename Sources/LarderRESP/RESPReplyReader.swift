/// A reply as a client reads it, RESP2 or RESP3. RESP2's null bulk and null array and RESP3's
/// `_` are all `.null`.
public indirect enum RESPReply: Equatable, Sendable {
    case simple(String)
    case error(String)
    case integer(Int64)
    case bulk([UInt8])
    case array([RESPReply])
    case null
    /// RESP3 `%`: keys and values in the order sent.
    case map([RESPMapEntry])
    case set([RESPReply])
    case push([RESPReply])
    /// RESP3 `,`, as sent (`inf`, `-inf`, `nan` included).
    case double(String)
    case boolean(Bool)
    /// RESP3 `=`: a three-letter format and the text after `xxx:`.
    case verbatim(format: String, text: [UInt8])
    /// RESP3 `(`, as sent.
    case bigNumber(String)
    /// RESP3 `!`.
    case bulkError(String)

    /// The elements of an array, set or push reply, or the keys and values of a map one after
    /// the other (what a RESP2 client reads for the same command); nil for scalars.
    public var elements: [RESPReply]? {
        switch self {
        case .array(let a), .set(let a), .push(let a): return a
        case .map(let entries): return entries.flatMap { [$0.key, $0.value] }
        default: return nil
        }
    }
}

public struct RESPMapEntry: Equatable, Sendable {
    public var key: RESPReply
    public var value: RESPReply
    public init(_ key: RESPReply, _ value: RESPReply) { self.key = key; self.value = value }
}

public struct RESPReplyError: Error, Equatable, Sendable, CustomStringConvertible {
    public var message: String
    /// Byte offset of the reply element that is malformed, within the bytes given.
    public var offset: Int
    public init(message: String, offset: Int) { self.message = message; self.offset = offset }
    public var description: String { "\(message) (at byte \(offset) of the reply stream)" }
}

/// The client side of the protocol: reads replies from bytes as they arrive. Used by the
/// materialization client and by the tests' clients. Holds no state: call `parse` again with
/// more bytes appended when it returns nil.
public enum RESPReplyReader {
    /// Aggregates nested deeper than this are refused (a hostile or broken server cannot make
    /// the reader recurse without bound).
    public static let maxDepth = 128

    /// Parses one whole reply starting at `offset` and moves `offset` past it; returns nil
    /// (leaving `offset` alone) when the bytes end before the reply does.
    public static func parse(_ bytes: UnsafeRawBufferPointer, at offset: inout Int) throws -> RESPReply? {
        var cursor = offset
        guard let reply = try element(bytes, &cursor, depth: 0) else { return nil }
        offset = cursor
        return reply
    }

    /// `parse` over an array of bytes.
    public static func parse(_ bytes: [UInt8], at offset: inout Int) throws -> RESPReply? {
        try bytes.withUnsafeBytes { try parse($0, at: &offset) }
    }

    private static func element(_ b: UnsafeRawBufferPointer, _ cursor: inout Int, depth: Int) throws -> RESPReply? {
        let start = cursor
        guard start < b.count else { return nil }
        guard depth <= maxDepth else { throw RESPReplyError(message: "replies nested too deeply", offset: start) }
        guard let lineEnd = lineEnd(b, from: start + 1) else { return nil }
        let line = UnsafeRawBufferPointer(rebasing: b[(start + 1)..<lineEnd])
        let next = lineEnd + 2
        func text() -> String { String(decoding: line, as: UTF8.self) }
        func length() throws -> Int {
            guard let n = RESPParser.parseInteger(b, from: start + 1, to: lineEnd) else {
                throw RESPReplyError(message: "bad length '\(text())'", offset: start)
            }
            return n
        }
        func blob() throws -> [UInt8]?? {
            let n = try length()
            if n < 0 { cursor = next; return .some(nil) }
            guard b.count - next >= n + 2 else { return nil }
            cursor = next + n + 2
            return .some(Array(UnsafeRawBufferPointer(rebasing: b[next..<(next + n)])))
        }
        func items(_ count: Int) throws -> [RESPReply]? {
            var out: [RESPReply] = []
            out.reserveCapacity(min(count, 1024))
            var at = next
            for _ in 0..<count {
                guard let item = try element(b, &at, depth: depth + 1) else { return nil }
                out.append(item)
            }
            cursor = at
            return out
        }
        switch b[start] {
        case UInt8(ascii: "+"): cursor = next; return .simple(text())
        case UInt8(ascii: "-"): cursor = next; return .error(text())
        case UInt8(ascii: ":"):
            guard let v = RESPParser.parseInteger(b, from: start + 1, to: lineEnd) else {
                throw RESPReplyError(message: "bad integer '\(text())'", offset: start)
            }
            cursor = next; return .integer(Int64(v))
        case UInt8(ascii: "_"): cursor = next; return .null
        case UInt8(ascii: ","): cursor = next; return .double(text())
        case UInt8(ascii: "("): cursor = next; return .bigNumber(text())
        case UInt8(ascii: "#"):
            guard line.count == 1, line[0] == UInt8(ascii: "t") || line[0] == UInt8(ascii: "f") else {
                throw RESPReplyError(message: "bad boolean '\(text())'", offset: start)
            }
            cursor = next; return .boolean(line[0] == UInt8(ascii: "t"))
        case UInt8(ascii: "$"):
            guard let r = try blob() else { return nil }
            return r.map { .bulk($0) } ?? .null
        case UInt8(ascii: "!"):
            guard let r = try blob() else { return nil }
            return .bulkError(String(decoding: r ?? [], as: UTF8.self))
        case UInt8(ascii: "="):
            guard let r = try blob() else { return nil }
            guard let all = r, all.count >= 4, all[3] == UInt8(ascii: ":") else {
                throw RESPReplyError(message: "bad verbatim string", offset: start)
            }
            return .verbatim(format: String(decoding: all[0..<3], as: UTF8.self), text: Array(all[4...]))
        case UInt8(ascii: "*"), UInt8(ascii: "~"), UInt8(ascii: ">"), UInt8(ascii: "%"):
            let type = b[start]
            let n = try length()
            if n < 0 { cursor = next; return .null }
            guard let all = try items(type == UInt8(ascii: "%") ? n * 2 : n) else { return nil }
            switch type {
            case UInt8(ascii: "~"): return .set(all)
            case UInt8(ascii: ">"): return .push(all)
            case UInt8(ascii: "%"):
                return .map(stride(from: 0, to: all.count, by: 2).map { RESPMapEntry(all[$0], all[$0 + 1]) })
            default: return .array(all)
            }
        case let t:
            throw RESPReplyError(message: "unexpected byte \(t) where a reply starts", offset: start)
        }
    }

    private static func lineEnd(_ b: UnsafeRawBufferPointer, from start: Int) -> Int? {
        var i = start
        while let cr = RESPParser.find(UInt8(ascii: "\r"), in: b, from: i, to: b.count) {
            if cr + 1 >= b.count { return nil }
            if b[cr + 1] == UInt8(ascii: "\n") { return cr }
            i = cr + 1
        }
        return nil
    }
}
