// Thrift compact protocol decoding (no message envelope), hardened for untrusted input:
// every read is bounds-checked, nesting is limited, and list sizes may not exceed the
// bytes left. Errors are thrown with the kind the caller chose (bad_footer for the
// FileMetaData, bad_page_header for page headers).

enum CompactType: UInt8 {
    case stop = 0, boolTrue = 1, boolFalse = 2, i8 = 3, i16 = 4, i32 = 5, i64 = 6
    case double = 7, binary = 8, list = 9, set = 10, map = 11, structure = 12, uuid = 13
}

struct ThriftReader {
    let base: UnsafeRawPointer
    let end: Int
    var pos: Int
    let errorKind: ParquetError.Kind
    /// File offset of `base`, only for error messages.
    let fileOffset: Int
    private var depth = 0
    static let maxDepth = 64

    init(span: ByteSpan, errorKind: ParquetError.Kind, fileOffset: Int) {
        self.base = span.base
        self.end = span.count
        self.pos = 0
        self.errorKind = errorKind
        self.fileOffset = fileOffset
    }

    func fail(_ message: String) -> ParquetError {
        ParquetError(errorKind, "Thrift decode failed: \(message) at byte \(fileOffset + pos)")
    }

    mutating func byte() throws -> UInt8 {
        guard pos < end else { throw fail("unexpected end of data") }
        let b = base.load(fromByteOffset: pos, as: UInt8.self)
        pos += 1
        return b
    }

    mutating func varint() throws -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            let b = try byte()
            if shift == 63 && b > 1 { throw fail("varint too long") }
            result |= UInt64(b & 0x7f) << shift
            if b < 0x80 { return result }
            shift += 7
            if shift > 63 { throw fail("varint too long") }
        }
    }

    mutating func zigzag() throws -> Int64 {
        let u = try varint()
        return Int64(bitPattern: (u >> 1) ^ (0 &- (u & 1)))
    }

    mutating func i32() throws -> Int32 {
        let v = try zigzag()
        guard let r = Int32(exactly: v) else { throw fail("i32 value \(v) out of range") }
        return r
    }

    mutating func binary() throws -> ByteSpan {
        let n = try varint()
        guard n <= UInt64(end - pos) else { throw fail("binary length \(n) exceeds the \(end - pos) bytes left") }
        let span = ByteSpan(base: base + pos, count: Int(n))
        pos += Int(n)
        return span
    }

    mutating func bytes() throws -> [UInt8] { Array(try binary().rawBuffer) }

    mutating func string() throws -> String {
        String(decoding: try binary().rawBuffer, as: UTF8.self)
    }

    /// Reads a field header; returns nil at the struct's stop byte.
    mutating func fieldHeader(lastID: inout Int16) throws -> (id: Int16, type: CompactType)? {
        let h = try byte()
        if h == 0 { return nil }
        guard let t = CompactType(rawValue: h & 0x0f), t != .stop else { throw fail("unknown compact type \(h & 0x0f)") }
        let delta = Int16(h >> 4)
        if delta != 0 {
            lastID = lastID &+ delta
        } else {
            let v = try zigzag()
            guard let id = Int16(exactly: v) else { throw fail("field id \(v) out of range") }
            lastID = id
        }
        return (lastID, t)
    }

    mutating func listHeader() throws -> (count: Int, elementType: CompactType) {
        let h = try byte()
        var n = UInt64(h >> 4)
        if n == 15 { n = try varint() }
        guard let t = CompactType(rawValue: h & 0x0f) else { throw fail("unknown list element type \(h & 0x0f)") }
        // Every element takes at least one byte (bools too), so larger counts are corrupt.
        guard n <= UInt64(end - pos) else { throw fail("list of \(n) elements exceeds the \(end - pos) bytes left") }
        return (Int(n), t)
    }

    // Typed field values, accepting any integer width the writer chose.
    mutating func int(_ t: CompactType) throws -> Int64 {
        switch t {
        case .i8: return Int64(Int8(bitPattern: try byte()))
        case .i16, .i32, .i64: return try zigzag()
        default: throw fail("expected an integer field, found \(t)")
        }
    }

    mutating func int32(_ t: CompactType) throws -> Int32 {
        let v = try int(t)
        guard let r = Int32(exactly: v) else { throw fail("value \(v) does not fit in i32") }
        return r
    }

    func bool(_ t: CompactType) throws -> Bool {
        switch t {
        case .boolTrue: return true
        case .boolFalse: return false
        default: throw fail("expected a bool field, found \(t)")
        }
    }

    func expect(_ t: CompactType, _ wanted: CompactType) throws {
        if t != wanted { throw fail("expected a \(wanted) field, found \(t)") }
    }

    /// Decodes a nested struct with `body` handling each field; unknown fields must be skipped by `body`.
    mutating func structure(_ body: (inout ThriftReader, Int16, CompactType) throws -> Void) throws {
        depth += 1
        defer { depth -= 1 }
        guard depth <= ThriftReader.maxDepth else { throw fail("nesting deeper than \(ThriftReader.maxDepth)") }
        var last: Int16 = 0
        while let (id, t) = try fieldHeader(lastID: &last) {
            try body(&self, id, t)
        }
    }

    /// Decodes a list of structs.
    mutating func list<T>(_ element: (inout ThriftReader) throws -> T) throws -> [T] {
        let (n, t) = try listHeader()
        guard t == .structure else { throw fail("expected a list of structs, found \(t) elements") }
        var out: [T] = []
        out.reserveCapacity(n)
        for _ in 0..<n { out.append(try element(&self)) }
        return out
    }

    mutating func skip(_ t: CompactType) throws {
        switch t {
        case .stop: throw fail("unexpected stop type")
        case .boolTrue, .boolFalse: return
        case .i8: _ = try byte()
        case .i16, .i32, .i64: _ = try varint()
        case .double:
            guard end - pos >= 8 else { throw fail("double past end") }
            pos += 8
        case .binary: _ = try binary()
        case .uuid:
            guard end - pos >= 16 else { throw fail("uuid past end") }
            pos += 16
        case .list, .set:
            let (n, et) = try listHeader()
            try nested { r in
                for _ in 0..<n {
                    if et == .boolTrue || et == .boolFalse { _ = try r.byte() } else { try r.skip(et) }
                }
            }
        case .map:
            let n = try varint()
            guard n <= UInt64(end - pos) else { throw fail("map of \(n) entries exceeds data") }
            if n == 0 { return }
            let kv = try byte()
            guard let kt = CompactType(rawValue: kv >> 4), let vt = CompactType(rawValue: kv & 0x0f) else {
                throw fail("unknown map types")
            }
            try nested { r in
                for _ in 0..<Int(n) {
                    for et in [kt, vt] {
                        if et == .boolTrue || et == .boolFalse { _ = try r.byte() } else { try r.skip(et) }
                    }
                }
            }
        case .structure:
            try structure { r, _, ft in try r.skip(ft) }
        }
    }

    private mutating func nested(_ body: (inout ThriftReader) throws -> Void) throws {
        depth += 1
        defer { depth -= 1 }
        guard depth <= ThriftReader.maxDepth else { throw fail("nesting deeper than \(ThriftReader.maxDepth)") }
        try body(&self)
    }
}
