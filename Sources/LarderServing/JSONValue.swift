import Foundation
import LarderFeatures

/// A parsed JSON document. Numbers keep their text so int64 values stay exact; objects keep
/// their key order (Feast's column order is the order of `entities` / `df`).
// Not `indirect`: arrays and objects are heap storage already, so boxing every value (a
// malloc per string, number and bool of a request) bought nothing.
public enum JSONValue: Equatable, Sendable {
    case null
    case bool(Bool)
    case number(String)
    case string(String)
    case array([JSONValue])
    case object([(String, JSONValue)])

    public static func == (a: JSONValue, b: JSONValue) -> Bool {
        switch (a, b) {
        case (.null, .null): return true
        case let (.bool(x), .bool(y)): return x == y
        case let (.number(x), .number(y)): return x == y
        case let (.string(x), .string(y)): return x == y
        case let (.array(x), .array(y)): return x == y
        case let (.object(x), .object(y)): return x.count == y.count && zip(x, y).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        default: return false
        }
    }

    public subscript(key: String) -> JSONValue? {
        if case .object(let pairs) = self { return pairs.first { $0.0 == key }?.1 }
        return nil
    }

    public struct ParseError: Error, CustomStringConvertible {
        public let offset: Int
        public let reason: String
        public var description: String { "\(reason) at byte \(offset)" }
    }

    public static func parse(_ bytes: [UInt8]) throws -> JSONValue {
        var p = JSONParser(bytes: bytes)
        p.skipSpace()
        let v = try p.value(depth: 0)
        p.skipSpace()
        guard p.i == bytes.count else { throw ParseError(offset: p.i, reason: "Extra data") }
        return v
    }
}

struct JSONParser {
    let bytes: [UInt8]
    var i = 0

    mutating func skipSpace() {
        while i < bytes.count, bytes[i] == 32 || bytes[i] == 9 || bytes[i] == 10 || bytes[i] == 13 { i += 1 }
    }

    func fail(_ reason: String) -> JSONValue.ParseError { JSONValue.ParseError(offset: i, reason: reason) }

    mutating func literal(_ word: StaticString, _ v: JSONValue) throws -> JSONValue {
        let n = word.utf8CodeUnitCount, w = word.utf8Start
        guard i + n <= bytes.count else { throw fail("Expecting value") }
        for k in 0..<n where bytes[i + k] != w[k] { throw fail("Expecting value") }
        i += n
        return v
    }

    mutating func value(depth: Int) throws -> JSONValue {
        guard depth < 128 else { throw fail("Nesting too deep") }
        guard i < bytes.count else { throw fail("Expecting value") }
        switch bytes[i] {
        case UInt8(ascii: "n"): return try literal("null", .null)
        case UInt8(ascii: "t"): return try literal("true", .bool(true))
        case UInt8(ascii: "f"): return try literal("false", .bool(false))
        case UInt8(ascii: "\""): return .string(try string())
        case UInt8(ascii: "["):
            i += 1; skipSpace()
            var items: [JSONValue] = []
            if i < bytes.count && bytes[i] == UInt8(ascii: "]") { i += 1; return .array(items) }
            while true {
                skipSpace()
                items.append(try value(depth: depth + 1))
                skipSpace()
                guard i < bytes.count else { throw fail("Expecting ',' delimiter") }
                if bytes[i] == UInt8(ascii: ",") { i += 1; continue }
                if bytes[i] == UInt8(ascii: "]") { i += 1; return .array(items) }
                throw fail("Expecting ',' delimiter")
            }
        case UInt8(ascii: "{"):
            i += 1; skipSpace()
            var pairs: [(String, JSONValue)] = []
            if i < bytes.count && bytes[i] == UInt8(ascii: "}") { i += 1; return .object(pairs) }
            while true {
                skipSpace()
                guard i < bytes.count, bytes[i] == UInt8(ascii: "\"") else { throw fail("Expecting property name enclosed in double quotes") }
                let k = try string()
                skipSpace()
                guard i < bytes.count, bytes[i] == UInt8(ascii: ":") else { throw fail("Expecting ':' delimiter") }
                i += 1; skipSpace()
                pairs.append((k, try value(depth: depth + 1)))
                skipSpace()
                guard i < bytes.count else { throw fail("Expecting ',' delimiter") }
                if bytes[i] == UInt8(ascii: ",") { i += 1; continue }
                if bytes[i] == UInt8(ascii: "}") { i += 1; return .object(pairs) }
                throw fail("Expecting ',' delimiter")
            }
        default:
            let start = i
            if bytes[i] == UInt8(ascii: "-") { i += 1 }
            var digits = 0
            while i < bytes.count, (bytes[i] >= 48 && bytes[i] <= 57) || bytes[i] == 46 || bytes[i] == 101 || bytes[i] == 69
                    || ((bytes[i] == 43 || bytes[i] == 45) && i > start && (bytes[i - 1] == 101 || bytes[i - 1] == 69)) {
                i += 1; digits += 1
            }
            guard digits > 0 else { i = start; throw fail("Expecting value") }
            let text = String(decoding: bytes[start..<i], as: UTF8.self)
            guard Double(text) != nil else { i = start; throw fail("Expecting value") }
            return .number(text)
        }
    }

    mutating func string() throws -> String {
        i += 1
        // No escape and no control character up to the closing quote (refs, join keys, names):
        // the String is made from the bytes at once. Measured reason: building it byte by byte
        // through an array was 31,700 of the 371,000 instructions of a 1 x 10 HTTP request.
        let start = i
        let (end, closed) = bytes.withUnsafeBufferPointer { b -> (Int, Bool) in
            var end = start
            while end < b.count {
                let c = b[end]
                if c == UInt8(ascii: "\"") { return (end, true) }
                if c == UInt8(ascii: "\\") || c < 0x20 { break }
                end += 1
            }
            return (end, false)
        }
        if closed {
            i = end + 1
            return bytes.withUnsafeBufferPointer { String(decoding: UnsafeBufferPointer(rebasing: $0[start..<end]), as: UTF8.self) }
        }
        var out: [UInt8] = Array(bytes[i..<end])
        i = end
        while i < bytes.count {
            let c = bytes[i]
            if c == UInt8(ascii: "\"") { i += 1; return String(decoding: out, as: UTF8.self) }
            if c < 0x20 { throw fail("Invalid control character") }
            if c == UInt8(ascii: "\\") {
                i += 1
                guard i < bytes.count else { break }
                switch bytes[i] {
                case UInt8(ascii: "\""): out.append(34)
                case UInt8(ascii: "\\"): out.append(92)
                case UInt8(ascii: "/"): out.append(47)
                case UInt8(ascii: "b"): out.append(8)
                case UInt8(ascii: "f"): out.append(12)
                case UInt8(ascii: "n"): out.append(10)
                case UInt8(ascii: "r"): out.append(13)
                case UInt8(ascii: "t"): out.append(9)
                case UInt8(ascii: "u"):
                    guard var code = hex4(i + 1) else { throw fail("Invalid \\uXXXX escape") }
                    i += 4
                    if code >= 0xD800 && code < 0xDC00, i + 6 < bytes.count, bytes[i + 1] == 92, bytes[i + 2] == 117,
                       let low = hex4(i + 3), low >= 0xDC00 && low < 0xE000 {
                        code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                        i += 6
                    }
                    let scalar = Unicode.Scalar(code) ?? "\u{FFFD}"
                    out.append(contentsOf: Array(String(Character(scalar)).utf8))
                default: throw fail("Invalid \\escape")
                }
                i += 1
            } else {
                out.append(c); i += 1
            }
        }
        throw fail("Unterminated string starting")
    }

    func hex4(_ at: Int) -> UInt32? {
        guard at + 4 <= bytes.count else { return nil }
        var v: UInt32 = 0
        for b in bytes[at..<(at + 4)] {
            let d: UInt32
            switch b {
            case 48...57: d = UInt32(b - 48)
            case 65...70: d = UInt32(b - 55)
            case 97...102: d = UInt32(b - 87)
            default: return nil
            }
            v = v * 16 + d
        }
        return v
    }
}

/// JSON text, written directly (no intermediate tree for responses).
public struct JSONWriter: TextOutputStream {
    public var bytes: [UInt8] = []
    public init() { bytes.reserveCapacity(1024) }
    /// Writes into `buffer`'s storage (emptied, capacity kept; `buffer` is left empty): a
    /// response written into a reused buffer allocates nothing. Swap `bytes` back when done.
    init(reusing buffer: inout [UInt8]) {
        swap(&bytes, &buffer)
        bytes.removeAll(keepingCapacity: true)
    }

    /// A quoted RFC 3339 timestamp appended to `out`.
    static func appendTimestamp(_ ts: ProtoTimestamp, to out: inout [UInt8]) {
        out.append(34)
        RFC3339.append(ts, to: &out)
        out.append(34)
    }

    /// Through withUTF8 (a small string's bytes copied to the stack once), not the UTF8View's
    /// element-wise append.
    public mutating func raw(_ s: String) {
        var s = s
        s.withUTF8 { bytes.append(contentsOf: $0) }
    }
    public mutating func raw(_ c: UInt8) { bytes.append(c) }
    /// TextOutputStream: what a value's `write(to:)` writes, unescaped (numbers only here).
    public mutating func write(_ string: String) { raw(string) }
    public mutating func _writeASCII(_ buffer: UnsafeBufferPointer<UInt8>) { bytes.append(contentsOf: buffer) }
    public mutating func raw(_ s: StaticString) {
        bytes.append(contentsOf: UnsafeBufferPointer(start: s.utf8Start, count: s.utf8CodeUnitCount))
    }
    public mutating func raw(_ b: UnsafeRawBufferPointer) { bytes.append(contentsOf: b) }

    /// A decimal integer written digit by digit (string interpolation built a String per value).
    public mutating func integer(_ v: Int64) {
        // Digits backwards into a stack buffer, appended at once (two divisions and an append
        // per digit before: 340K of a 100 x 50 HTTP request's 13.8M instructions).
        var d = (UInt64(0), UInt64(0), UInt64(0))
        withUnsafeMutableBytes(of: &d) { b in
            var m = v.magnitude, k = 24
            repeat { k -= 1; b[k] = UInt8(truncatingIfNeeded: m % 10) + 48; m /= 10 } while m > 0
            if v < 0 { k -= 1; b[k] = 45 }
            bytes.append(contentsOf: UnsafeRawBufferPointer(rebasing: b[k...]))
        }
    }

    /// An RFC 3339 timestamp in quotes, as Feast's feature server writes event times.
    public mutating func timestamp(_ ts: ProtoTimestamp) {
        bytes.append(34)
        RFC3339.append(ts, to: &bytes)
        bytes.append(34)
    }

    public mutating func string(_ s: String) {
        var s = s
        s.withUTF8 { string(utf8: UnsafeRawBufferPointer($0)) }
    }

    /// A JSON string of UTF-8 bytes: runs without anything to escape are appended at once
    /// (measured reason: the byte-by-byte append was 3.2M of the 33.7M instructions of a
    /// 100 x 50 HTTP request, most of it the statuses).
    public mutating func string(utf8 u: UnsafeRawBufferPointer) {
        // Nothing to escape (names, most values), checked 8 bytes at a time: one append
        // (measured reason: 757 -> 650 instructions per 1 x 10 request under callgrind).
        if let base = u.baseAddress {
            let ones: UInt64 = 0x0101_0101_0101_0101, highs: UInt64 = 0x8080_8080_8080_8080
            var k = 0, plain = true
            while k + 8 <= u.count {
                let w = UInt64(littleEndian: (base + k).loadUnaligned(as: UInt64.self))
                let quote = w ^ (0x22 &* ones), backslash = w ^ (0x5C &* ones)
                if (((quote &- ones) & ~quote) | ((backslash &- ones) & ~backslash) | ((w &- 0x20 &* ones) & ~w)) & highs != 0 {
                    plain = false
                    break
                }
                k += 8
            }
            while plain && k < u.count {
                let c = u[k]
                if c < 0x20 || c == 34 || c == 92 { plain = false }
                k += 1
            }
            if plain {
                bytes.append(34)
                bytes.append(contentsOf: u)
                bytes.append(34)
                return
            }
        }
        bytes.append(34)
        var run = 0
        for (k, c) in u.enumerated() where c < 0x20 || c == 34 || c == 92 {
            if k > run { bytes.append(contentsOf: UnsafeRawBufferPointer(rebasing: u[run..<k])) }
            run = k + 1
            escape(c)
        }
        if u.count > run { bytes.append(contentsOf: UnsafeRawBufferPointer(rebasing: u[run...])) }
        bytes.append(34)
    }

    private mutating func escape(_ c: UInt8) {
        switch c {
        case 34: bytes.append(92); bytes.append(34)
        case 92: bytes.append(92); bytes.append(92)
        case 10: bytes.append(92); bytes.append(110)
        case 13: bytes.append(92); bytes.append(114)
        case 9: bytes.append(92); bytes.append(116)
        case 0..<0x20: raw(String(format: "\\u%04x", Int(c)))
        default: bytes.append(c)
        }
    }

    /// Standard base64 with padding, as Data.base64EncodedString() (written here: Data and a
    /// String per bytes value otherwise).
    public mutating func base64String(_ b: UnsafeRawBufferPointer) {
        let table: StaticString = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
        let t = table.utf8Start
        bytes.append(34)
        var k = 0
        while k + 3 <= b.count {
            let v = UInt32(b[k]) << 16 | UInt32(b[k + 1]) << 8 | UInt32(b[k + 2])
            bytes.append(t[Int(v >> 18)]); bytes.append(t[Int(v >> 12 & 63)])
            bytes.append(t[Int(v >> 6 & 63)]); bytes.append(t[Int(v & 63)])
            k += 3
        }
        if b.count - k == 1 {
            let v = UInt32(b[k]) << 16
            bytes.append(t[Int(v >> 18)]); bytes.append(t[Int(v >> 12 & 63)]); bytes.append(61); bytes.append(61)
        } else if b.count - k == 2 {
            let v = UInt32(b[k]) << 16 | UInt32(b[k + 1]) << 8
            bytes.append(t[Int(v >> 18)]); bytes.append(t[Int(v >> 12 & 63)]); bytes.append(t[Int(v >> 6 & 63)]); bytes.append(61)
        }
        bytes.append(34)
    }

    /// Python's float repr is the shortest text that round-trips, as Swift's description;
    /// non-finite values become the protobuf JSON strings, as Feast's convert_response_to_dict.
    /// The finite text goes through Double's TextOutputStreamable, whose digits reach
    /// `_writeASCII` from a stack buffer: the same text as `description` without a String (a
    /// double of 16 or more characters allocated one). Measured reason: JSONWriter.double went
    /// from 4,670 to 2,730 instructions per 1 x 10 request under callgrind.
    public mutating func double(_ v: Double) {
        if v.isNaN { string("NaN") } else if v.isInfinite { string(v > 0 ? "Infinity" : "-Infinity") } else { v.write(to: &self) }
    }

    public mutating func value(_ v: JSONValue) {
        switch v {
        case .null: raw("null")
        case .bool(let b): raw(b ? "true" : "false")
        case .number(let n): raw(n)
        case .string(let s): string(s)
        case .array(let items):
            raw(91)
            for (i, x) in items.enumerated() { if i > 0 { raw(44) }; value(x) }
            raw(93)
        case .object(let pairs):
            raw(123)
            for (i, (k, x)) in pairs.enumerated() { if i > 0 { raw(44) }; string(k); raw(58); value(x) }
            raw(125)
        }
    }

    /// A feature value as Feast's `_value_to_native`: lists stay lists, bytes in base64.
    public mutating func feast(_ v: FeastValue) {
        func list<T>(_ xs: [T], _ each: (inout JSONWriter, T) -> Void) {
            raw(91)
            for (i, x) in xs.enumerated() { if i > 0 { raw(44) }; each(&self, x) }
            raw(93)
        }
        switch v {
        case .null: raw("null")
        case .bytes(let b): b.withUnsafeBytes { base64String($0) }
        case .string(let s): string(s)
        case .int32(let x): integer(Int64(x))
        case .int64(let x): integer(x)
        case .unixTimestamp(let x): integer(x)
        case .double(let x): double(x)
        case .float(let x): double(Double(x))
        case .bool(let b): raw(b ? "true" : "false")
        case .bytesList(let xs): list(xs) { w, x in x.withUnsafeBytes { w.base64String($0) } }
        case .stringList(let xs): list(xs) { $0.string($1) }
        case .int32List(let xs): list(xs) { $0.integer(Int64($1)) }
        case .int64List(let xs): list(xs) { $0.integer($1) }
        case .unixTimestampList(let xs): list(xs) { $0.integer($1) }
        case .doubleList(let xs): list(xs) { $0.double($1) }
        case .floatList(let xs): list(xs) { $0.double(Double($1)) }
        case .boolList(let xs): list(xs) { $0.raw($1 ? "true" : "false") }
        }
    }
}

/// JSON input values typed by the definitions (entity columns and pushed `df` columns).
public enum JSONFeastValue {
    public static func entity(_ v: JSONValue, type: FeastValueType, joinKey: String) throws -> FeastValue {
        switch (type, v) {
        case (.string, .string(let s)): return .string(s)
        case (.bytes, .string(let s)): return .bytes(Array(s.utf8))
        case (.int64, .number(let n)), (.int32, .number(let n)), (.unixTimestamp, .number(let n)):
            guard let x = Int64(n) else { break }
            if type == .int32 { guard let y = Int32(exactly: x) else { break }; return .int32(y) }
            return type == .int64 ? .int64(x) : .unixTimestamp(x)
        default: break
        }
        throw ServingError(.badEntity, "join key \(joinKey) is \(type.protoName): \(describe(v)) is not a valid value")
    }

    public static func feature(_ v: JSONValue, type: FeastType, name: String) throws -> FeastValue {
        if case .null = v { return .null }
        switch type {
        case .scalar(let s):
            if let x = scalar(v, s) { return x }
        case .array(let s):
            if case .array(let items) = v { return try list(items, s, name: name) }
        }
        throw ServingError(.badValue, "feature \(name) is \(type.name): \(describe(v)) is not a valid value")
    }

    static func scalar(_ v: JSONValue, _ s: FeastScalarType) -> FeastValue? {
        switch (s, v) {
        case (.string, .string(let x)): return .string(x)
        case (.bytes, .string(let x)): return Data(base64Encoded: x).map { .bytes(Array($0)) }
        case (.int64, .number(let n)): return Int64(n).map { .int64($0) }
        case (.int32, .number(let n)): return Int32(n).map { .int32($0) }
        case (.unixTimestamp, .number(let n)): return Int64(n).map { .unixTimestamp($0) }
        case (.unixTimestamp, .string(let t)): return RFC3339.parse(t).map { .unixTimestamp($0.seconds) }
        case (.float64, .number(let n)): return Double(n).map { .double($0) }
        case (.float32, .number(let n)): return Float(n).map { .float($0) }
        case (.bool, .bool(let b)): return .bool(b)
        default: return nil
        }
    }

    static func list(_ items: [JSONValue], _ s: FeastScalarType, name: String) throws -> FeastValue {
        var scalars: [FeastValue] = []
        for item in items {
            guard let x = scalar(item, s) else {
                throw ServingError(.badValue, "feature \(name) is Array(\(s.rawValue)): element \(describe(item)) is not a valid value")
            }
            scalars.append(x)
        }
        switch s {
        case .string: return .stringList(scalars.map { if case .string(let x) = $0 { return x }; return "" })
        case .bytes: return .bytesList(scalars.map { if case .bytes(let x) = $0 { return x }; return [] })
        case .int64: return .int64List(scalars.map { if case .int64(let x) = $0 { return x }; return 0 })
        case .int32: return .int32List(scalars.map { if case .int32(let x) = $0 { return x }; return 0 })
        case .unixTimestamp: return .unixTimestampList(scalars.map { if case .unixTimestamp(let x) = $0 { return x }; return 0 })
        case .float64: return .doubleList(scalars.map { if case .double(let x) = $0 { return x }; return 0 })
        case .float32: return .floatList(scalars.map { if case .float(let x) = $0 { return x }; return 0 })
        case .bool: return .boolList(scalars.map { if case .bool(let x) = $0 { return x }; return false })
        }
    }

    static func describe(_ v: JSONValue) -> String {
        var w = JSONWriter()
        w.value(v)
        let s = String(decoding: w.bytes, as: UTF8.self)
        return s.count > 60 ? String(s.prefix(60)) + "..." : s
    }
}
