#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A set, in Redis 7.0's two encodings: an *intset* while every member is a canonical integer
/// and there are at most `SetObject.maxIntsetEntries` (Redis' `set-max-intset-entries`, 512) of
/// them: sorted integers packed at the narrowest width that holds them all (2, 4 or 8 bytes,
/// as Redis' intset.c), so a set of small ids costs 2 bytes a member; otherwise a hash table
/// of byte strings (`SetMemberTable`). Like Redis, a set never goes back from the table to the intset.
public final class SetObject {
    /// `set-max-intset-entries`.
    nonisolated(unsafe) public static var maxIntsetEntries = 512

    /// One word for both forms, so the object is 24 bytes (a 32-byte malloc chunk, as small as
    /// a Swift object gets): 0 for an empty intset; a malloc'd intset block (low bit 0), laid
    /// out as Redis' intset: `[UInt32 width][UInt32 count][count little-endian integers of
    /// width bytes, ascending]`, exactly that size (realloc'd on every add and removal, as
    /// intset.c does); or a retained `SetMemberTable` with the low bit set.
    private var bits: UInt = 0

    public init() {}

    deinit {
        if bits & 1 == 1 { Unmanaged<SetMemberTable>.fromOpaque(UnsafeRawPointer(bitPattern: bits & ~1)!).release() }
        else { free(intset) }
    }

    @inline(__always) private var intset: UnsafeMutableRawPointer? {
        bits & 1 == 0 ? UnsafeMutableRawPointer(bitPattern: bits) : nil
    }

    @inline(__always) private var table: SetMemberTable? {
        bits & 1 == 1 ? Unmanaged<SetMemberTable>.fromOpaque(UnsafeRawPointer(bitPattern: bits & ~1)!).takeUnretainedValue() : nil
    }

    public var isIntset: Bool { bits & 1 == 0 }
    public var count: Int { table?.count ?? packedCount }
    @inline(__always) private var width: Int { intset.map { Int($0.load(as: UInt32.self)) } ?? 2 }
    @inline(__always) private var packedCount: Int { intset.map { Int($0.load(fromByteOffset: 4, as: UInt32.self)) } ?? 0 }

    // MARK: intset

    private static let headerSize = 8

    @inline(__always) private func integer(at i: Int) -> Int64 {
        let p = intset! + Self.headerSize
        switch width {
        case 2: return Int64(Int16(littleEndian: p.loadUnaligned(fromByteOffset: i * 2, as: Int16.self)))
        case 4: return Int64(Int32(littleEndian: p.loadUnaligned(fromByteOffset: i * 4, as: Int32.self)))
        default: return Int64(littleEndian: p.loadUnaligned(fromByteOffset: i * 8, as: Int64.self))
        }
    }

    /// Index of `v`, or where it would go (found false).
    private func search(_ v: Int64) -> (Int, Bool) {
        var lo = 0, hi = packedCount - 1
        while lo <= hi {
            let mid = (lo + hi) >> 1
            let m = integer(at: mid)
            if m == v { return (mid, true) }
            if m < v { lo = mid + 1 } else { hi = mid - 1 }
        }
        return (lo, false)
    }

    private static func widthFor(_ v: Int64) -> Int {
        if v >= Int64(Int16.min) && v <= Int64(Int16.max) { return 2 }
        if v >= Int64(Int32.min) && v <= Int64(Int32.max) { return 4 }
        return 8
    }

    /// Stores `v` at `p` in `w` bytes.
    @inline(__always) private static func store(_ v: Int64, width w: Int, at p: UnsafeMutableRawPointer) {
        switch w {
        case 2: p.storeBytes(of: Int16(v).littleEndian, toByteOffset: 0, as: Int16.self)
        case 4: p.storeBytes(of: Int32(v).littleEndian, toByteOffset: 0, as: Int32.self)
        default: p.storeBytes(of: v.littleEndian, toByteOffset: 0, as: Int64.self)
        }
    }

    @inline(__always) private static func setHeader(_ p: UnsafeMutableRawPointer, width: Int, count: Int) {
        p.storeBytes(of: UInt32(width), toByteOffset: 0, as: UInt32.self)
        p.storeBytes(of: UInt32(count), toByteOffset: 4, as: UInt32.self)
    }

    /// Inserts `v` (absent, fitting `w`, the block's width or wider) at index `i`.
    private func intsetInsert(_ v: Int64, at i: Int, width w: Int) {
        let n = packedCount, old = width
        let p: UnsafeMutableRawPointer
        if w > old || intset == nil {
            // Widen (intsetUpgradeAndAdd): a new block, every integer rewritten.
            p = malloc(Self.headerSize + (n + 1) * w)!
            let d = p + Self.headerSize
            for j in 0..<n { Self.store(integer(at: j), width: w, at: d + (j < i ? j : j + 1) * w) }
            free(intset)
        } else {
            guard let q = realloc(intset, Self.headerSize + (n + 1) * w) else { fatalError("out of memory growing an intset") }
            p = q
            let d = p + Self.headerSize
            if i < n { memmove(d + (i + 1) * w, d + i * w, (n - i) * w) }
        }
        Self.store(v, width: w, at: p + Self.headerSize + i * w)
        Self.setHeader(p, width: w, count: n + 1)
        bits = UInt(bitPattern: p)
    }

    private func intsetRemove(at i: Int) {
        let n = packedCount, w = width, p = intset!
        let d = p + Self.headerSize
        if i < n - 1 { memmove(d + i * w, d + (i + 1) * w, (n - 1 - i) * w) }
        if n == 1 { free(p); bits = 0; return }
        guard let q = realloc(p, Self.headerSize + (n - 1) * w) else { fatalError("out of memory shrinking an intset") }
        Self.setHeader(q, width: w, count: n - 1)
        bits = UInt(bitPattern: q)
    }

    /// Moves to the table form (a non-integer member, or past `maxIntsetEntries`).
    private func convertToTable() {
        let t = SetMemberTable(capacity: (packedCount + 1) * 4 / 3 + 1)
        for i in 0..<packedCount { decimalBytes(integer(at: i)).withUnsafeBytes { _ = t.insert($0) } }
        free(intset)
        bits = UInt(bitPattern: Unmanaged.passRetained(t).toOpaque()) | 1
    }

    // MARK: operations

    /// Adds `member`; false when it was there.
    @discardableResult
    public func add(_ member: UnsafeRawBufferPointer) -> Bool {
        if isIntset {
            if let v = canonicalInteger(member) {
                let (i, found) = search(v)
                if found { return false }
                if packedCount < Self.maxIntsetEntries {
                    intsetInsert(v, at: i, width: max(width, Self.widthFor(v)))
                    return true
                }
            }
            convertToTable()
        }
        return table!.insert(member)
    }

    public func add(_ member: [UInt8]) -> Bool { member.withUnsafeBytes { add($0) } }

    @discardableResult
    public func remove(_ member: UnsafeRawBufferPointer) -> Bool {
        if let t = table { return t.remove(member) }
        guard let v = canonicalInteger(member) else { return false }
        let (i, found) = search(v)
        guard found else { return false }
        intsetRemove(at: i)
        return true
    }

    public func contains(_ member: UnsafeRawBufferPointer) -> Bool {
        if let t = table { return t.contains(member) }
        guard let v = canonicalInteger(member) else { return false }
        return search(v).1
    }

    public func contains(_ member: [UInt8]) -> Bool { member.withUnsafeBytes { contains($0) } }

    /// Every member (an intset in ascending order, a table in its order).
    public var members: [[UInt8]] {
        if let t = table {
            var out: [[UInt8]] = []
            out.reserveCapacity(t.count)
            t.forEach { out.append(Array($0)) }
            return out
        }
        return (0..<packedCount).map { decimalBytes(integer(at: $0)) }
    }

    public func forEach(_ body: ([UInt8]) -> Void) {
        if let t = table { t.forEach { body(Array($0)) }; return }
        for i in 0..<packedCount { body(decimalBytes(integer(at: i))) }
    }

    /// A uniformly random member (nil when empty).
    public func randomMember() -> [UInt8]? {
        guard count > 0 else { return nil }
        if let t = table { return t.randomMember() }
        return decimalBytes(integer(at: Int.random(in: 0..<packedCount)))
    }

    /// Removes and returns a random member.
    public func popRandom() -> [UInt8]? {
        guard let m = randomMember() else { return nil }
        m.withUnsafeBytes { _ = remove($0) }
        return m
    }

    /// Heap bytes: the intset buffer, or the table's storage and each member's array.
    public var memoryUsage: Int {
        if let t = table { return 32 + t.memoryUsage }
        return 32 + (intset.map { usableSize($0) + 8 } ?? 0)
    }

    public func copy() -> SetObject {
        let c = SetObject()
        if let t = table {
            c.bits = UInt(bitPattern: Unmanaged.passRetained(t.copy()).toOpaque()) | 1
        } else if let p = intset {
            let size = Self.headerSize + packedCount * width
            let q = malloc(size)!
            q.copyMemory(from: p, byteCount: size)
            c.bits = UInt(bitPattern: q)
        }
        return c
    }

    /// The intset's width in bytes (2, 4 or 8), for a snapshot's RDB_TYPE_SET_INTSET.
    public var intsetWidth: Int { width }
    /// The intset's members in ascending order.
    public var intsetValues: [Int64] { (0..<packedCount).map { integer(at: $0) } }
}

/// The Int64 that `s` spells canonically (no '+', no leading zeros, no "-0", no spaces), as
/// Redis' string2ll decides whether a member can live in an intset.
func canonicalInteger(_ s: UnsafeRawBufferPointer) -> Int64? {
    guard s.count > 0 && s.count <= 20 else { return nil }
    var i = 0, negative = false
    if s[0] == UInt8(ascii: "-") { negative = true; i = 1; if s.count == 1 { return nil } }
    if s[i] == UInt8(ascii: "0") { return s.count == 1 ? 0 : nil }
    var v: UInt64 = 0
    while i < s.count {
        let d = s[i]
        guard d >= 48 && d <= 57 else { return nil }
        let (m, o1) = v.multipliedReportingOverflow(by: 10)
        let (a, o2) = m.addingReportingOverflow(UInt64(d - 48))
        if o1 || o2 { return nil }
        v = a
        i += 1
    }
    if negative {
        if v > UInt64(Int64.max) + 1 { return nil }
        return v == UInt64(Int64.max) + 1 ? Int64.min : -Int64(v)
    }
    return v <= UInt64(Int64.max) ? Int64(v) : nil
}

func decimalBytes(_ v: Int64) -> [UInt8] { Array(String(v).utf8) }
