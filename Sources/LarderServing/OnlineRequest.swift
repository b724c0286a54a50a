import Foundation
import LarderFeatures
import Synchronization

/// The body of POST /get-online-features as the read needs it, read in one pass from the body's
/// bytes: byte ranges of the feature refs or service name (the plan cache compares them in
/// place), the entity columns with their values as tokens (typed once the plan gives the join
/// keys' types), and the flags. Measured reason: JSONValue.parse (a String per token, an array
/// per list) was 13,500 of the 93,000 instructions of a 1 x 10 request under callgrind, and
/// destroying the tree several thousand more; this scan is ~3,300.
///
/// Ranges index `source`: the body itself (OnlineBodyScanner), or, for a body the scanner leaves
/// to JSONValue (escapes in a string, a syntax error), a text buffer the tree was copied into.
struct OnlineRequest {
    enum Kind: UInt8 { case string, number, other }
    /// An entity value: a string's content, a number's text, or any other value's JSON text.
    struct Token { var kind: Kind; var range: Range<Int> }
    struct Column { var name: Range<Int>; var isList: Bool; var values: Range<Int> }   // values: indexes into tokens
    enum Flag: UInt8 { case absent, yes, no, other }

    var entitiesIsObject = false
    var fullNames = Flag.absent
    var enforceTTL = Flag.absent
    var service: Range<Int>?
    var featuresIsList = false          // a non-empty list
    var refs: [Range<Int>] = []
    var columns: [Column] = []
    var tokens: [Token] = []

    mutating func reset() {
        entitiesIsObject = false
        fullNames = .absent
        enforceTTL = .absent
        service = nil
        featuresIsList = false
        refs.removeAll(keepingCapacity: true)
        columns.removeAll(keepingCapacity: true)
        tokens.removeAll(keepingCapacity: true)
    }

    /// The same request from a parsed tree (the JSONValue path), its strings copied into `text`.
    /// The first of repeated names wins, as before; a ref that is not a string is "", which the
    /// catalog refuses as a malformed ref.
    mutating func fill(from fields: [(String, JSONValue)], text: inout [UInt8]) {
        reset()
        func add(_ s: String) -> Range<Int> { let a = text.count; text.append(contentsOf: s.utf8); return a..<text.count }
        func field(_ name: String) -> JSONValue? { fields.first { $0.0 == name }?.1 }
        func flag(_ v: JSONValue?) -> Flag {
            switch v { case nil: return .absent; case .bool(true)?: return .yes; case .bool(false)?: return .no; default: return .other }
        }
        if case .object(let entities)? = field("entities") {
            entitiesIsObject = true
            for (name, v) in entities {
                let n = add(name)
                guard case .array(let items) = v else { columns.append(Column(name: n, isList: false, values: 0..<0)); continue }
                let first = tokens.count
                for item in items {
                    switch item {
                    case .string(let s): tokens.append(Token(kind: .string, range: add(s)))
                    case .number(let x): tokens.append(Token(kind: .number, range: add(x)))
                    default:
                        var w = JSONWriter()
                        w.value(item)
                        let a = text.count
                        text.append(contentsOf: w.bytes)
                        tokens.append(Token(kind: .other, range: a..<text.count))
                    }
                }
                columns.append(Column(name: n, isList: true, values: first..<tokens.count))
            }
        }
        fullNames = flag(field("full_feature_names"))
        enforceTTL = flag(field("enforce_ttl"))
        if case .string(let s)? = field("feature_service") { service = add(s) }
        if case .array(let items)? = field("features"), !items.isEmpty {
            featuresIsList = true
            for item in items { if case .string(let s) = item { refs.append(add(s)) } else { refs.append(add("")) } }
        }
    }
}

/// Reads a request body into an OnlineRequest without a tree, or gives up (false) and leaves
/// it to JSONValue: on any syntax error (so malformed JSON gets JSONValue's exact reason and
/// offset), on a string with an escape, and on a ref that is not a string. Never accepts what
/// JSONValue refuses: its number grammar is JSON's, stricter than JSONValue's.
struct OnlineBodyScanner {
    private let b: UnsafeRawBufferPointer
    private var i = 0
    private struct GiveUp: Error {}

    private init(_ b: UnsafeRawBufferPointer) { self.b = b }

    static func scan(_ body: UnsafeRawBufferPointer, into r: inout OnlineRequest) -> Bool {
        guard body.count > 0 else { return false }
        var s = OnlineBodyScanner(body)
        r.reset()
        do { try s.request(&r) } catch { return false }
        return true
    }

    private mutating func request(_ r: inout OnlineRequest) throws {
        var seenEntities = false, seenFeatures = false, seenService = false
        ws()
        try expect(123)
        ws()
        if peek() == 125 { i += 1 } else {
            while true {
                ws()
                let key = try string()
                ws(); try expect(58); ws()
                if !seenEntities && equals(key, "entities") {
                    seenEntities = true
                    if peek() == 123 { r.entitiesIsObject = true; try entities(&r) } else { try skipValue(0) }
                } else if !seenFeatures && equals(key, "features") {
                    seenFeatures = true
                    if peek() == 91 { try refs(&r) } else { try skipValue(0) }
                } else if !seenService && equals(key, "feature_service") {
                    seenService = true
                    if peek() == 34 { r.service = try string() } else { try skipValue(0) }
                } else if r.fullNames == .absent && equals(key, "full_feature_names") {
                    r.fullNames = try flag()
                } else if r.enforceTTL == .absent && equals(key, "enforce_ttl") {
                    r.enforceTTL = try flag()
                } else {
                    try skipValue(0)
                }
                ws()
                if peek() == 44 { i += 1; continue }
                try expect(125)
                break
            }
        }
        ws()
        guard i == b.count else { throw GiveUp() }
    }

    private mutating func entities(_ r: inout OnlineRequest) throws {
        i += 1; ws()
        if peek() == 125 { i += 1; return }
        while true {
            ws()
            let name = try string()
            ws(); try expect(58); ws()
            if peek() == 91 {
                i += 1; ws()
                let first = r.tokens.count
                if peek() == 93 { i += 1 } else {
                    while true {
                        ws()
                        let c = peek()
                        if c == 34 {
                            r.tokens.append(OnlineRequest.Token(kind: .string, range: try string()))
                        } else if c == 45 || (c >= 48 && c <= 57) {
                            r.tokens.append(OnlineRequest.Token(kind: .number, range: try number()))
                        } else {
                            let start = i
                            try skipValue(1)
                            r.tokens.append(OnlineRequest.Token(kind: .other, range: start..<i))
                        }
                        ws()
                        if peek() == 44 { i += 1; continue }
                        try expect(93)
                        break
                    }
                }
                r.columns.append(OnlineRequest.Column(name: name, isList: true, values: first..<r.tokens.count))
            } else {
                try skipValue(1)
                r.columns.append(OnlineRequest.Column(name: name, isList: false, values: 0..<0))
            }
            ws()
            if peek() == 44 { i += 1; continue }
            try expect(125)
            return
        }
    }

    private mutating func refs(_ r: inout OnlineRequest) throws {
        i += 1; ws()
        if peek() == 93 { i += 1; return }   // empty: as if absent
        r.featuresIsList = true
        while true {
            ws()
            guard peek() == 34 else { throw GiveUp() }
            r.refs.append(try string())
            ws()
            if peek() == 44 { i += 1; continue }
            try expect(93)
            return
        }
    }

    private mutating func flag() throws -> OnlineRequest.Flag {
        if literal("true") { return .yes }
        if literal("false") { return .no }
        try skipValue(0)
        return .other
    }

    // MARK: tokens

    @inline(__always) private func peek() -> UInt8 { i < b.count ? b[i] : 0 }

    @inline(__always) private mutating func ws() {
        while i < b.count {
            let c = b[i]
            guard c == 32 || c == 10 || c == 13 || c == 9 else { return }
            i += 1
        }
    }

    @inline(__always) private mutating func expect(_ c: UInt8) throws {
        guard i < b.count, b[i] == c else { throw GiveUp() }
        i += 1
    }

    private func equals(_ r: Range<Int>, _ s: StaticString) -> Bool {
        r.count == s.utf8CodeUnitCount && memcmp(b.baseAddress! + r.lowerBound, s.utf8Start, r.count) == 0
    }

    private mutating func literal(_ s: StaticString) -> Bool {
        let n = s.utf8CodeUnitCount
        guard i + n <= b.count, memcmp(b.baseAddress! + i, s.utf8Start, n) == 0 else { return false }
        i += n
        return true
    }

    /// A string without escapes or control characters: its content's range. Eight bytes at a
    /// time up to the word holding the closing quote, a backslash or a control character
    /// (measured reason: byte by byte it was ~380 instructions per 30-byte ref, 4,200 of a
    /// 1 x 10 request's 60,000 under callgrind).
    private mutating func string() throws -> Range<Int> {
        try expect(34)
        let start = i
        if let base = b.baseAddress {
            let ones: UInt64 = 0x0101_0101_0101_0101, highs: UInt64 = 0x8080_8080_8080_8080
            while i + 8 <= b.count {
                let w = UInt64(littleEndian: (base + i).loadUnaligned(as: UInt64.self))
                let quote = w ^ (0x22 &* ones), backslash = w ^ (0x5C &* ones)
                // A high bit per byte that is 0 (quote, backslash) or below 0x20 (control); the
                // lowest one marks the first such byte exactly (a borrow only runs upwards).
                let quotes = (quote &- ones) & ~quote & highs
                let others = (((backslash &- ones) & ~backslash) | ((w &- 0x20 &* ones) & ~w)) & highs
                if quotes | others != 0 {
                    if quotes != 0 && quotes.trailingZeroBitCount < others.trailingZeroBitCount {
                        let end = i + quotes.trailingZeroBitCount / 8
                        i = end + 1
                        return start..<end
                    }
                    break
                }
                i += 8
            }
        }
        while i < b.count {
            let c = b[i]
            if c == 34 { i += 1; return start..<(i - 1) }
            if c == 92 || c < 0x20 { throw GiveUp() }
            i += 1
        }
        throw GiveUp()
    }

    /// JSON's number grammar: -?digits(.digits)?([eE][+-]?digits)?
    private mutating func number() throws -> Range<Int> {
        let start = i
        if peek() == 45 { i += 1 }
        func digits() throws {
            let d = i
            while i < b.count, b[i] >= 48 && b[i] <= 57 { i += 1 }
            guard i > d else { throw GiveUp() }
        }
        try digits()
        if peek() == 46 { i += 1; try digits() }
        if peek() == 101 || peek() == 69 {
            i += 1
            if peek() == 43 || peek() == 45 { i += 1 }
            try digits()
        }
        return start..<i
    }

    private mutating func skipValue(_ depth: Int) throws {
        guard depth < 100 else { throw GiveUp() }
        switch peek() {
        case 34: _ = try string()
        case 123:
            i += 1; ws()
            if peek() == 125 { i += 1; return }
            while true {
                ws(); _ = try string(); ws(); try expect(58); ws()
                try skipValue(depth + 1)
                ws()
                if peek() == 44 { i += 1; continue }
                try expect(125)
                return
            }
        case 91:
            i += 1; ws()
            if peek() == 93 { i += 1; return }
            while true {
                ws()
                try skipValue(depth + 1)
                ws()
                if peek() == 44 { i += 1; continue }
                try expect(93)
                return
            }
        case 116: guard literal("true") else { throw GiveUp() }
        case 102: guard literal("false") else { throw GiveUp() }
        case 110: guard literal("null") else { throw GiveUp() }
        default: _ = try number()
        }
    }
}

/// The resolved features of recent /get-online-features requests and their output names
/// (collisions checked), keyed by the bytes of the request's `feature_service` or `features`
/// strings and `full_feature_names`, hashed and compared where they lie in the body (no String
/// per ref; measured reason: the String key's hash(into:) alone was 2,300 of the 93,000
/// instructions of a 1 x 10 request under callgrind; this whole lookup is ~1,400). 64 slots by hash, the last request
/// of a slot wins; errors are not cached; a catalog (one definitions load) has its own.
final class HTTPPlanCache: @unchecked Sendable {
    struct Plan {
        var selection: FeatureSelection
        var names: [String]
        /// `,"name"` for each output name: the metadata's feature names, written once per plan
        /// (measured reason: escaping 50 names per request was 12,000 of 419,000 instructions).
        var namesJSON: [UInt8]

        init(selection: FeatureSelection, names: [String]) {
            self.selection = selection
            self.names = names
            var w = JSONWriter()
            for n in names { w.raw(44); w.string(n) }
            namesJSON = w.bytes
        }
    }
    private struct Entry {
        var hash: UInt64
        var key: [UInt8]
        var plan: Plan
    }
    private let slots = Mutex<[Entry?]>([Entry?](repeating: nil, count: 64))

    /// The plan for a service (when `service` is given) or for `refs`, all ranges of `source`.
    func plan(service: Range<Int>?, refs: [Range<Int>], fullNames: Bool, source: UnsafeRawBufferPointer,
              resolve: () throws -> Plan) throws -> Plan {
        let kind: UInt8 = (service == nil ? 2 : 1) | (fullNames ? 4 : 0)
        // As SelectionCache: the hash takes each string's length and its first and last 8 bytes
        // only; equality compares every byte.
        var h: UInt64 = 0xcbf2_9ce4_8422_2325 ^ UInt64(kind)
        var length = 1
        func each(_ body: (UnsafeRawBufferPointer) -> Void) {
            if let service { body(UnsafeRawBufferPointer(rebasing: source[service])) } else {
                for r in refs { body(UnsafeRawBufferPointer(rebasing: source[r])) }
            }
        }
        each { s in
            h = foldShapeHash(h, s)
            h ^= h >> 29
            length += 4 + s.count
        }
        let slot = Int(h & 63)
        let hit: Plan? = slots.withLock { slots in
            guard let e = slots[slot], e.hash == h, e.key.count == length else { return nil }
            let same = e.key.withUnsafeBytes { k -> Bool in
                guard k[0] == kind else { return false }
                var at = 1, same = true
                each { s in
                    guard same else { return }
                    let n = Int(UInt32(littleEndian: k.loadUnaligned(fromByteOffset: at, as: UInt32.self)))
                    if n != s.count || at + 4 + n > k.count || (n > 0 && memcmp(k.baseAddress! + at + 4, s.baseAddress!, n) != 0) {
                        same = false
                    }
                    at += 4 + n
                }
                return same && at == k.count
            }
            return same ? e.plan : nil
        }
        if let hit { return hit }
        let p = try resolve()
        var key: [UInt8] = [kind]
        key.reserveCapacity(length)
        // Each string as a 4-byte length then its bytes: unambiguous whatever bytes it holds.
        each { s in
            for i in 0..<4 { key.append(UInt8(truncatingIfNeeded: s.count >> (8 * i))) }
            key.append(contentsOf: s)
        }
        slots.withLock { $0[slot] = Entry(hash: h, key: key, plan: p) }
        return p
    }
}
