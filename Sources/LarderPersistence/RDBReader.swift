import Foundation

/// One key read from a snapshot.
public struct RDBEntry {
    public var db: Int
    public var key: [UInt8]
    /// Absolute expiry in unix ms, 0 when the key has none.
    public var expireAt: Int64
    public var value: RDBValue
    /// The file offset just after this key: how far a load has come (INFO loading_loaded_bytes).
    public var endOffset: Int = 0
}

public enum RDBValue: Equatable {
    case string([UInt8])
    case hash([RDBHashField])
    /// A list's elements, head first.
    case list([[UInt8]])
    /// A set's members.
    case set([[UInt8]])
    /// A sorted set's members and their scores (in no particular order).
    case zset(members: [[UInt8]], scores: [Double])
}

public struct RDBHashField: Equatable {
    public var field: [UInt8]
    public var value: [UInt8]
    /// Absolute expiry of the field in unix ms (Redis 7.4 HEXPIRE), 0 when it has none.
    public var expireAt: Int64

    public init(field: [UInt8], value: [UInt8], expireAt: Int64 = 0) {
        self.field = field; self.value = value; self.expireAt = expireAt
    }
}

/// A key the reading thread only delimited, not decoded (`RDBReader.read(bytes:raw:)`): its
/// key and value stay in the file's bytes and the loader decodes them where they are stored
/// (`StoreSnapshot.insertRaw`, on the owning shard's thread). Why: perf of a 1M-entity load
/// (190 MB, 2 shards) had the one reading thread busy for the whole load allocating an array for
/// every key, field and value (~22 per Feast entity) that the shard thread then copied again and
/// the reading thread freed; the shards waited on it. Offsets are into the file's bytes.
public struct RDBRawEntry {
    public var db: Int
    /// The RDB type byte (RDB.TypeCode.string or .hash).
    public var type: UInt8
    /// Absolute expiry in unix ms, 0 when the key has none.
    public var expireAt: Int64
    public var keyStart: Int
    public var keyCount: Int
    /// Where the value starts (just after the key).
    public var valueStart: Int
    /// The file offset just after this key.
    public var endOffset: Int
}

/// What a complete read found.
public struct RDBReadSummary {
    public var version = 0
    public var aux: [(String, [UInt8])] = []
    public var keys = 0
    public var bytes = 0
    /// False when the file's stored checksum is 0 (Redis' "checksum disabled") or it predates
    /// checksums (version < 5).
    public var checksumVerified = false
}

/// Reads Redis RDB files, versions 1 to 12, holding strings (raw, integer-encoded,
/// LZF-compressed) and hashes (plain, ziplist, listpack, and Redis 7.4's hashes with field
/// TTLs). lists (plain, ziplist, quicklist with
/// ziplist or listpack nodes). sets (plain, intset, listpack), sorted sets (plain, ZSET_2,
/// ziplist, listpack). Any other type is refused naming the key and its type: Larder has no
/// streams or modules, and skipping them would silently lose data.
///
/// The whole file's CRC64 is checked before any key is handed out, so a corrupt file is never
/// half loaded; a truncated one fails at the offset where its data ran out.
public struct RDBReader {
    let bytes: UnsafeRawBufferPointer
    let file: String
    var pos = 0
    var db = 0

    init(bytes: UnsafeRawBufferPointer, file: String) {
        self.bytes = bytes
        self.file = file
    }

    /// Reads a snapshot file, calling `body` with every key in file order.
    /// `sizeHint(db, keys)` is told each RESIZEDB (the number of keys the database about to be
    /// read holds), before its keys, so a loader can size its tables once.
    public static func read(path: String, sizeHint: ((Int, Int) -> Void)? = nil, _ body: (RDBEntry) throws -> Void) throws -> RDBReadSummary {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw RDBError(file: path, offset: 0, message: "cannot read the file (\(String(cString: strerror(errno))))")
        }
        return try data.withUnsafeBytes { try read(bytes: $0, file: path, sizeHint: sizeHint, body) }
    }

    /// `raw`: when given, keys with a raw (not integer- or LZF-encoded) name and a string or
    /// plain-hash value (the types Larder writes for its own strings and hashes) go to `raw`
    /// instead of `body`, checked for structure (every length within the file, every string
    /// encoding known) but not decoded; `bytes` must then outlive the decoding of those entries.
    public static func read(bytes: UnsafeRawBufferPointer, file: String, sizeHint: ((Int, Int) -> Void)? = nil,
                            raw: ((RDBRawEntry) throws -> Void)? = nil, concurrentChecksum: Bool = false,
                            _ body: (RDBEntry) throws -> Void) throws -> RDBReadSummary {
        var r = RDBReader(bytes: bytes, file: file)
        r.concurrentChecksum = concurrentChecksum
        return try r.run(sizeHint: sizeHint, raw: raw, body)
    }

    func fail(_ message: String, at offset: Int? = nil) -> RDBError {
        RDBError(file: file, offset: offset ?? pos, message: message)
    }

    // MARK: primitives

    /// `what` names the thing being read for the error message; an autoclosure because it is
    /// only needed on failure: built eagerly for every key (printable(key)), it made the
    /// start-up load spend ~60% of its time formatting strings (perf, 300k keys: 24.9 s).
    mutating func need(_ n: Int, _ what: @autoclosure () -> String) throws {
        if n < 0 || pos + n > bytes.count {
            throw fail("unexpected end of file reading \(what()) (needs \(n) byte(s), \(bytes.count - pos) left): the file is truncated")
        }
    }

    mutating func byte(_ what: @autoclosure () -> String) throws -> UInt8 {
        try need(1, what())
        defer { pos += 1 }
        return bytes[pos]
    }

    mutating func littleEndian<T: FixedWidthInteger>(_ type: T.Type, _ what: @autoclosure () -> String) throws -> T {
        try need(MemoryLayout<T>.size, what())
        defer { pos += MemoryLayout<T>.size }
        return T(littleEndian: bytes.loadUnaligned(fromByteOffset: pos, as: T.self))
    }

    mutating func bigEndian<T: FixedWidthInteger>(_ type: T.Type, _ what: @autoclosure () -> String) throws -> T {
        try need(MemoryLayout<T>.size, what())
        defer { pos += MemoryLayout<T>.size }
        return T(bigEndian: bytes.loadUnaligned(fromByteOffset: pos, as: T.self))
    }

    /// A length, or the special string encoding it announces (`encoded` set).
    mutating func length(_ what: @autoclosure () -> String) throws -> (value: UInt64, encoded: Bool) {
        let b = try byte(what())
        switch b >> 6 {
        case 0: return (UInt64(b & 0x3F), false)
        case 1: return (UInt64(b & 0x3F) << 8 | UInt64(try byte(what())), false)
        case 3: return (UInt64(b & 0x3F), true)
        default:
            if b == 0x80 { return (UInt64(try bigEndian(UInt32.self, what())), false) }
            if b == 0x81 { return (try bigEndian(UInt64.self, what()), false) }
            throw fail("bad length encoding 0x\(String(b, radix: 16)) for \(what())", at: pos - 1)
        }
    }

    mutating func plainLength(_ what: @autoclosure () -> String) throws -> Int {
        let start = pos
        let (v, encoded) = try length(what())
        if encoded { throw fail("a string encoding where a length was expected for \(what())", at: start) }
        if v > UInt64(bytes.count - pos) {
            throw fail("length \(v) for \(what()) runs past the end of the file (\(bytes.count - pos) byte(s) left): the file is truncated or corrupt", at: start)
        }
        return Int(v)
    }

    /// A string: raw, integer-encoded (as its decimal text, as Redis loads it) or LZF.
    mutating func string(_ what: @autoclosure () -> String) throws -> [UInt8] {
        let start = pos
        let (v, encoded) = try length(what())
        if !encoded {
            if v > UInt64(bytes.count - pos) { try need(Int(clamping: v), what()) }
            let n = Int(v)
            defer { pos += n }
            return Array(bytes[pos..<pos + n])
        }
        switch v {
        case 0: return Array(String(Int8(bitPattern: try byte(what()))).utf8)
        case 1: return Array(String(try littleEndian(Int16.self, what())).utf8)
        case 2: return Array(String(try littleEndian(Int32.self, what())).utf8)
        case 3:
            let compressed = try plainLength("\(what()) (compressed length)")
            let (plainLength, plainEncoded) = try length("\(what()) (uncompressed length)")
            guard !plainEncoded, plainLength <= 1 << 32 else { throw fail("bad uncompressed length for LZF-compressed \(what())", at: start) }
            let plain = Int(plainLength)
            try need(compressed, what())
            guard let out = LZF.decompress(UnsafeRawBufferPointer(rebasing: bytes[pos..<pos + compressed]), expectedLength: plain) else {
                throw fail("LZF-compressed \(what()) does not decompress to its stated \(plain) bytes", at: start)
            }
            pos += compressed
            return out
        default:
            throw fail("unknown string encoding \(v) for \(what())", at: start)
        }
    }

    /// The length of a raw string starting here, pos moved past its length prefix; nil (pos
    /// unchanged) when the string is integer- or LZF-encoded.
    mutating func rawStringLength() throws -> Int? {
        guard pos < bytes.count, bytes[pos] >> 6 != 3 else { return nil }
        let start = pos
        let (v, _) = try length("a key")
        if v > UInt64(bytes.count - pos) {
            throw fail("length \(v) for a key runs past the end of the file (\(bytes.count - pos) byte(s) left): the file is truncated or corrupt", at: start)
        }
        return Int(v)
    }

    /// Moves past a raw string with a 6- or 14-bit length (every key, field and value of a Feast
    /// store) and returns true; false, with pos unchanged, for anything else (longer lengths,
    /// encoded strings, the end of the file), which `skipString` then handles or reports. No
    /// message closure is formed: perf of a 1M-entity load had the reading thread spend ~25% of
    /// its time retaining and releasing the contexts of `skipString`'s autoclosures.
    @inline(__always) mutating func skipShortString() -> Bool {
        guard pos < bytes.count else { return false }
        let b = bytes[pos]
        let n: Int, header: Int
        switch b >> 6 {
        case 0: n = Int(b & 0x3F); header = 1
        case 1:
            guard pos + 1 < bytes.count else { return false }
            n = Int(b & 0x3F) << 8 | Int(bytes[pos + 1]); header = 2
        default: return false
        }
        guard n <= bytes.count - pos - header else { return false }
        pos += header + n
        return true
    }

    /// Moves past a string, checking what `string` would check except the LZF data itself.
    mutating func skipString(_ what: @autoclosure () -> String) throws {
        let start = pos
        let (v, encoded) = try length(what())
        if !encoded {
            if v > UInt64(bytes.count - pos) { try need(Int(clamping: v), what()) }
            pos += Int(v)
            return
        }
        switch v {
        case 0: try need(1, what()); pos += 1
        case 1: try need(2, what()); pos += 2
        case 2: try need(4, what()); pos += 4
        case 3:
            let compressed = try plainLength("\(what()) (compressed length)")
            let (plainLength, plainEncoded) = try length("\(what()) (uncompressed length)")
            guard !plainEncoded, plainLength <= 1 << 32 else { throw fail("bad uncompressed length for LZF-compressed \(what())", at: start) }
            try need(compressed, what())
            pos += compressed
        default:
            throw fail("unknown string encoding \(v) for \(what())", at: start)
        }
    }

    /// A string as a view: where a raw one lies in the file (no copy), or the decoded bytes of
    /// an integer- or LZF-encoded one.
    enum StringSpan { case file(Int, Int), owned([UInt8]) }

    mutating func stringSpan(_ what: @autoclosure () -> String) throws -> StringSpan {
        if pos < bytes.count, bytes[pos] >> 6 != 3 {
            let (v, _) = try length(what())
            if v > UInt64(bytes.count - pos) { try need(Int(clamping: v), what()) }
            let n = Int(v)
            defer { pos += n }
            return .file(pos, n)
        }
        return .owned(try string(what()))
    }

    @inline(__always)
    func withSpan<R>(_ s: StringSpan, _ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        switch s {
        case .file(let o, let n): return try body(UnsafeRawBufferPointer(start: bytes.baseAddress! + o, count: n))
        case .owned(let a): return try a.withUnsafeBytes(body)
        }
    }

    // MARK: the file

    mutating func run(sizeHint: ((Int, Int) -> Void)?, raw: ((RDBRawEntry) throws -> Void)? = nil,
                      _ body: (RDBEntry) throws -> Void) throws -> RDBReadSummary {
        do {
            return try parse(sizeHint: sizeHint, raw: raw, body)
        } catch let crc as ChecksumMismatch {
            // Tell a truncated or malformed file from one whose bytes changed: parse it without
            // loading anything; a structural error is the better message.
            var dry = RDBReader(bytes: bytes, file: file)
            dry.skipChecksum = true
            _ = try dry.parse(sizeHint: nil) { _ in }
            throw crc.error
        }
    }

    struct ChecksumMismatch: Error { var error: RDBError }
    var skipChecksum = false
    /// The checksum is computed on another thread while the keys are parsed and handed out,
    /// and checked at EOF (a mismatch is still reported as the file's first structural error,
    /// else as a CRC error). For a caller that discards everything on failure (the start-up
    /// load: the server does not start): perf of a 1M-entity load had the CRC (~12% of the
    /// reading thread) run alone before the first key while the shard threads waited.
    var concurrentChecksum = false

    mutating func parse(sizeHint: ((Int, Int) -> Void)?, raw: ((RDBRawEntry) throws -> Void)? = nil,
                        _ body: (RDBEntry) throws -> Void) throws -> RDBReadSummary {
        var summary = RDBReadSummary()
        summary.bytes = bytes.count
        if bytes.count < 9 || !bytes.starts(with: Array("REDIS".utf8)) {
            throw fail("not an RDB file (no REDIS magic header): Bad file format", at: 0)
        }
        guard let version = Int(String(decoding: bytes[5..<9], as: UTF8.self)), version >= 1 else {
            throw fail("bad RDB version field '\(String(decoding: bytes[5..<9], as: UTF8.self))'", at: 5)
        }
        if !RDB.readableVersions.contains(version) {
            throw fail("RDB version \(version) is newer than this reader supports (\(RDB.readableVersions.upperBound))", at: 5)
        }
        summary.version = version
        // Checksum first: a damaged file is refused before a single key is loaded (or, with
        // concurrentChecksum, before the read reports success).
        var pendingChecksum: (stored: UInt64, done: DispatchGroup, actual: ChecksumBox)?
        defer { pendingChecksum?.done.wait() }  // the bytes must outlive the checksum thread
        if version >= 5, !skipChecksum, bytes.count >= 18, bytes[bytes.count - 9] == RDB.Opcode.eof {
            let stored = UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: bytes.count - 8, as: UInt64.self))
            if stored != 0 {
                let region = UnsafeRawBufferPointer(rebasing: bytes[0..<bytes.count - 8])
                if concurrentChecksum {
                    let done = DispatchGroup(), box = ChecksumBox(region)
                    DispatchQueue.global().async(group: done) { box.value = CRC64.checksum(box.region) }
                    pendingChecksum = (stored, done, box)
                } else {
                    let actual = CRC64.checksum(region)
                    if actual != stored {
                        throw ChecksumMismatch(error: fail("CRC error: the file's checksum is \(hex(stored)) but its contents give \(hex(actual)) (the file is corrupt)",
                                   at: bytes.count - 8))
                    }
                    summary.checksumVerified = true
                }
            }
        }
        pos = 9
        var expireAt: Int64 = 0
        while true {
            let opStart = pos
            let op = try byte("an opcode or value type")
            switch op {
            case RDB.Opcode.eof:
                if version >= 5 {
                    try need(8, "the checksum after EOF")
                    pos += 8
                }
                if pos != bytes.count {
                    throw fail("\(bytes.count - pos) byte(s) of trailing data after the end of the snapshot")
                }
                if let (stored, done, box) = pendingChecksum {
                    done.wait()
                    pendingChecksum = nil
                    if box.value != stored {
                        throw ChecksumMismatch(error: fail("CRC error: the file's checksum is \(hex(stored)) but its contents give \(hex(box.value)) (the file is corrupt)",
                                   at: bytes.count - 8))
                    }
                    summary.checksumVerified = true
                }
                return summary
            case RDB.Opcode.selectDB:
                db = try plainLength("the SELECTDB database number")
            case RDB.Opcode.resizeDB:
                let keys = try plainLength("the RESIZEDB database size")
                _ = try plainLength("the RESIZEDB expires size")
                sizeHint?(db, keys)
            case RDB.Opcode.aux:
                let k = try string("an AUX field name")
                let v = try string("an AUX field value")
                summary.aux.append((String(decoding: k, as: UTF8.self), v))
            case RDB.Opcode.expireTimeMs:
                expireAt = try littleEndian(Int64.self, "an EXPIRETIME_MS value")
            case RDB.Opcode.expireTime:
                expireAt = Int64(try littleEndian(Int32.self, "an EXPIRETIME value")) * 1000
            case RDB.Opcode.idle:
                _ = try length("an IDLE value")
            case RDB.Opcode.freq:
                _ = try byte("a FREQ value")
            case RDB.Opcode.slotInfo:
                _ = try length("a SLOT_INFO slot")
                _ = try length("a SLOT_INFO size")
                _ = try length("a SLOT_INFO expires size")
            case RDB.Opcode.moduleAux:
                throw fail("module auxiliary data (opcode 247): Larder has no modules", at: opStart)
            case RDB.Opcode.function2, RDB.Opcode.functionPreGA:
                throw fail("a function library (opcode \(op)): Larder has no Redis functions; delete them (FUNCTION FLUSH) before SAVE", at: opStart)
            default:
                if let raw, op == RDB.TypeCode.string || op == RDB.TypeCode.hash, let keyCount = try rawStringLength() {
                    let keyStart = pos
                    pos += keyCount
                    let valueStart = pos
                    let file = bytes
                    let key = { Array(file[keyStart..<keyStart + keyCount]) }
                    if op == RDB.TypeCode.string {
                        if !skipShortString() { try skipString("the value of key \(printable(key()))") }
                    } else {
                        let n: Int
                        if pos < bytes.count, bytes[pos] >> 6 == 0 { n = Int(bytes[pos]); pos += 1 }
                        else { n = try plainLength("the field count of hash \(printable(key()))") }
                        for _ in 0..<n {
                            if !skipShortString() { try skipString("a field of hash \(printable(key()))") }
                            if !skipShortString() { try skipString("a value of hash \(printable(key()))") }
                        }
                    }
                    try raw(RDBRawEntry(db: db, type: op, expireAt: expireAt, keyStart: keyStart, keyCount: keyCount,
                                        valueStart: valueStart, endOffset: pos))
                    summary.keys += 1
                    expireAt = 0
                    continue
                }
                let keyStart = pos
                let key = try string("a key")
                let value = try self.value(type: op, key: key, keyOffset: keyStart, typeOffset: opStart)
                try body(RDBEntry(db: db, key: key, expireAt: expireAt, value: value, endOffset: pos))
                summary.keys += 1
                expireAt = 0
            }
        }
    }

    mutating func value(type: UInt8, key: [UInt8], keyOffset: Int, typeOffset: Int) throws -> RDBValue {
        switch type {
        case RDB.TypeCode.string:
            return .string(try string("the value of key \(printable(key))"))
        case RDB.TypeCode.hash:
            let n = try plainLength("the field count of hash \(printable(key))")
            var fields: [RDBHashField] = []
            fields.reserveCapacity(min(n, 1 << 16))
            for _ in 0..<n {
                let f = try string("a field of hash \(printable(key))")
                let v = try string("a value of hash \(printable(key))")
                fields.append(RDBHashField(field: f, value: v))
            }
            return .hash(fields)
        case RDB.TypeCode.hashMetadata, RDB.TypeCode.hashMetadataPreGA:
            var minExpire: Int64 = 0
            if type == RDB.TypeCode.hashMetadata { minExpire = try littleEndian(Int64.self, "the minimum field expiry of hash \(printable(key))") }
            let n = try plainLength("the field count of hash \(printable(key))")
            var fields: [RDBHashField] = []
            fields.reserveCapacity(min(n, 1 << 16))
            for _ in 0..<n {
                let (ttl, enc) = try length("a field TTL of hash \(printable(key))")
                if enc { throw fail("a string encoding where a field TTL of hash \(printable(key)) was expected") }
                let at: Int64 = ttl == 0 ? 0 : (type == RDB.TypeCode.hashMetadata ? Int64(truncatingIfNeeded: ttl) + minExpire - 1 : Int64(truncatingIfNeeded: ttl))
                let f = try string("a field of hash \(printable(key))")
                let v = try string("a value of hash \(printable(key))")
                fields.append(RDBHashField(field: f, value: v, expireAt: at))
            }
            return .hash(fields)
        case RDB.TypeCode.hashListpack, RDB.TypeCode.hashZiplist, RDB.TypeCode.hashListpackEx, RDB.TypeCode.hashListpackExPreGA:
            if type == RDB.TypeCode.hashListpackEx { _ = try littleEndian(Int64.self, "the minimum field expiry of hash \(printable(key))") }
            let blobStart = pos
            let blob = try string("the encoded value of hash \(printable(key))")
            let elements: [[UInt8]]
            do {
                elements = try blob.withUnsafeBytes { type == RDB.TypeCode.hashZiplist ? try Ziplist.elements($0) : try Listpack.elements($0) }
            } catch let e as EncodingError {
                throw fail("\(type == RDB.TypeCode.hashZiplist ? "ziplist" : "listpack") of hash \(printable(key)) is corrupt: \(e.message) (at byte \(e.offset) of it)", at: blobStart)
            }
            let withTTL = type == RDB.TypeCode.hashListpackEx || type == RDB.TypeCode.hashListpackExPreGA
            let stride = withTTL ? 3 : 2
            if elements.count % stride != 0 {
                throw fail("\(elements.count) elements in the encoded hash \(printable(key)), not a multiple of \(stride)", at: blobStart)
            }
            var fields: [RDBHashField] = []
            fields.reserveCapacity(elements.count / stride)
            var i = 0
            while i < elements.count {
                var at: Int64 = 0
                if withTTL {
                    guard let t = Int64(String(decoding: elements[i + 2], as: UTF8.self)), t >= 0 else {
                        throw fail("field TTL '\(printable(elements[i + 2]))' of hash \(printable(key)) is not an integer", at: blobStart)
                    }
                    at = t
                }
                fields.append(RDBHashField(field: elements[i], value: elements[i + 1], expireAt: at))
                i += stride
            }
            return .hash(fields)
        case RDB.TypeCode.list:
            let n = try plainLength("the length of list \(printable(key))")
            var elements: [[UInt8]] = []
            elements.reserveCapacity(min(n, 1 << 16))
            for _ in 0..<n { elements.append(try string("an element of list \(printable(key))")) }
            return .list(elements)
        case RDB.TypeCode.listZiplist:
            return .list(try packed("list", key, ziplist: true))
        case RDB.TypeCode.listQuicklist, RDB.TypeCode.listQuicklist2:
            let nodes = try plainLength("the node count of list \(printable(key))")
            var elements: [[UInt8]] = []
            for _ in 0..<nodes {
                var container = RDB.quicklistPacked
                if type == RDB.TypeCode.listQuicklist2 {
                    let (c, enc) = try length("a node container of list \(printable(key))")
                    guard !enc, c == RDB.quicklistPlain || c == RDB.quicklistPacked else {
                        throw fail("unknown quicklist node container \(c) in list \(printable(key))")
                    }
                    container = c
                }
                if container == RDB.quicklistPlain {
                    elements.append(try string("an element of list \(printable(key))"))
                } else {
                    elements += try packed("list", key, ziplist: type == RDB.TypeCode.listQuicklist)
                }
            }
            return .list(elements)
        case RDB.TypeCode.set:
            let n = try plainLength("the member count of set \(printable(key))")
            var members: [[UInt8]] = []
            members.reserveCapacity(min(n, 1 << 16))
            for _ in 0..<n { members.append(try string("a member of set \(printable(key))")) }
            return .set(members)
        case RDB.TypeCode.setListpack:
            return .set(try packed("set", key, ziplist: false))
        case RDB.TypeCode.zset, RDB.TypeCode.zset2:
            let n = try plainLength("the member count of zset \(printable(key))")
            var members: [[UInt8]] = [], scores: [Double] = []
            members.reserveCapacity(n); scores.reserveCapacity(n)
            for _ in 0..<n {
                let m = try string("a member of zset \(printable(key))")
                let s: Double
                if type == RDB.TypeCode.zset2 {
                    s = Double(bitPattern: try littleEndian(UInt64.self, "a score of zset \(printable(key))"))
                } else {
                    // RDB_TYPE_ZSET: a length byte (253 nan, 254 +inf, 255 -inf) then the text.
                    let at = pos
                    let len = try byte("a score of zset \(printable(key))")
                    switch len {
                    case 253: s = .nan
                    case 254: s = .infinity
                    case 255: s = -.infinity
                    default:
                        guard pos + Int(len) <= bytes.count else { throw fail("score of zset \(printable(key)) runs past the end", at: at) }
                        let text = String(decoding: bytes[pos..<pos + Int(len)], as: UTF8.self)
                        pos += Int(len)
                        guard let v = Double(text) else { throw fail("score \"\(text)\" of zset \(printable(key)) is not a number", at: at) }
                        s = v
                    }
                }
                if s.isNaN { throw fail("zset \(printable(key)) has a NaN score", at: pos) }
                members.append(m); scores.append(s)
            }
            return .zset(members: members, scores: scores)
        case RDB.TypeCode.zsetZiplist, RDB.TypeCode.zsetListpack:
            let at = pos
            let elements = try packed("zset", key, ziplist: type == RDB.TypeCode.zsetZiplist)
            guard elements.count % 2 == 0 else { throw fail("\(type == RDB.TypeCode.zsetZiplist ? "ziplist" : "listpack") of zset \(printable(key)) has an odd number of entries", at: at) }
            var members: [[UInt8]] = [], scores: [Double] = []
            members.reserveCapacity(elements.count / 2); scores.reserveCapacity(elements.count / 2)
            for i in stride(from: 0, to: elements.count, by: 2) {
                let text = String(decoding: elements[i + 1], as: UTF8.self)
                guard let v = Double(text), !v.isNaN else { throw fail("score \"\(text)\" of zset \(printable(key)) is not a number", at: at) }
                members.append(elements[i]); scores.append(v)
            }
            return .zset(members: members, scores: scores)
        case RDB.TypeCode.setIntset:
            let blobStart = pos
            let blob = try string("the intset of set \(printable(key))")
            return .set(try blob.withUnsafeBytes { b -> [[UInt8]] in
                guard b.count >= 8 else { throw fail("intset of set \(printable(key)) is shorter than its header", at: blobStart) }
                let width = Int(UInt32(littleEndian: b.loadUnaligned(as: UInt32.self)))
                let count = Int(UInt32(littleEndian: b.loadUnaligned(fromByteOffset: 4, as: UInt32.self)))
                guard width == 2 || width == 4 || width == 8, b.count == 8 + width * count else {
                    throw fail("intset of set \(printable(key)) is corrupt: width \(width), \(count) members in \(b.count) bytes", at: blobStart)
                }
                return (0..<count).map { i -> [UInt8] in
                    let o = 8 + i * width
                    let v: Int64 = width == 2 ? Int64(Int16(littleEndian: b.loadUnaligned(fromByteOffset: o, as: Int16.self)))
                        : width == 4 ? Int64(Int32(littleEndian: b.loadUnaligned(fromByteOffset: o, as: Int32.self)))
                        : Int64(littleEndian: b.loadUnaligned(fromByteOffset: o, as: Int64.self))
                    return Array(String(v).utf8)
                }
            })
        case RDB.TypeCode.hashZipmap:
            throw fail("key \(printable(key)) is a hash in zipmap encoding (Redis 2.4): not supported; load and re-save it with a newer Redis", at: typeOffset)
        default:
            throw fail("key \(printable(key)) has type \(RDB.typeName(type)) (RDB type \(type)): Larder stores strings, hashes, lists, sets and sorted sets only; refusing to load rather than dropping it", at: typeOffset)
        }
    }
}

extension RDBReader {
    /// One encoded blob (listpack, or ziplist for Redis <= 6.2 files) of a `type` value.
    mutating func packed(_ type: String, _ key: [UInt8], ziplist: Bool) throws -> [[UInt8]] {
        let blobStart = pos
        let blob = try string("the encoded value of \(type) \(printable(key))")
        do {
            return try blob.withUnsafeBytes { ziplist ? try Ziplist.elements($0) : try Listpack.elements($0) }
        } catch let e as EncodingError {
            throw fail("\(ziplist ? "ziplist" : "listpack") of \(type) \(printable(key)) is corrupt: \(e.message) (at byte \(e.offset) of it)", at: blobStart)
        }
    }
}

/// The checksum thread's result, read after its group is waited on.
/// (The region stays valid until then: `parse` waits on the group before it returns.)
final class ChecksumBox: @unchecked Sendable {
    let region: UnsafeRawBufferPointer
    var value: UInt64 = 0
    init(_ region: UnsafeRawBufferPointer) { self.region = region }
}

func hex(_ v: UInt64) -> String { "0x" + String(v, radix: 16) }

/// A key or field for a message: printable ASCII as is, other bytes as \xNN.
func printable(_ bytes: [UInt8]) -> String {
    var s = "'"
    for b in bytes.prefix(64) {
        if b >= 0x20 && b < 0x7F && b != UInt8(ascii: "'") && b != UInt8(ascii: "\\") { s.unicodeScalars.append(Unicode.Scalar(b)) }
        else { s += "\\x" + (b < 16 ? "0" : "") + String(b, radix: 16) }
    }
    if bytes.count > 64 { s += "..." }
    return s + "'"
}
