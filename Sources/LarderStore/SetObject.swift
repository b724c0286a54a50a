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

    /// Intset: little-endian integers of `width` bytes, ascending, in a buffer of exactly their
    /// size (Redis' intset reallocs on every add too). Empty when in table form. The buffer's
    /// 32-bit length and `width` share a word, so the object is 40 bytes (a 48-byte malloc
    /// chunk); the member count is the length over the width.
    private var packed = ExactBytes()
    private var width: UInt8 = 2
    private var table: SetMemberTable? = nil

    public init() {}

    public var isIntset: Bool { table == nil }
    public var count: Int { table?.count ?? packedCount }
    private var packedCount: Int { packed.count / Int(width) }

    // MARK: intset

    @inline(__always) private func integer(at i: Int) -> Int64 {
        packed.withUnsafeBytes { b in
            switch width {
            case 2: return Int64(Int16(littleEndian: b.loadUnaligned(fromByteOffset: i * 2, as: Int16.self)))
            case 4: return Int64(Int32(littleEndian: b.loadUnaligned(fromByteOffset: i * 4, as: Int32.self)))
            default: return Int64(littleEndian: b.loadUnaligned(fromByteOffset: i * 8, as: Int64.self))
            }
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

    private static func widthFor(_ v: Int64) -> UInt8 {
        if v >= Int64(Int16.min) && v <= Int64(Int16.max) { return 2 }
        if v >= Int64(Int32.min) && v <= Int64(Int32.max) { return 4 }
        return 8
    }

    /// Stores `v` at `p` in `w` bytes.
    @inline(__always) private static func store(_ v: Int64, width w: UInt8, at p: UnsafeMutableRawPointer) {
        switch w {
        case 2: p.storeBytes(of: Int16(v).littleEndian, as: Int16.self)
        case 4: p.storeBytes(of: Int32(v).littleEndian, as: Int32.self)
        default: p.storeBytes(of: v.littleEndian, as: Int64.self)
        }
    }

    private func upgrade(to w: UInt8) {
        let n = packedCount
        guard n > 0 else { width = w; return }
        let p = malloc(n * Int(w))!
        for i in 0..<n { Self.store(integer(at: i), width: w, at: p + i * Int(w)) }
        packed.adopt(p, count: n * Int(w))
        width = w
    }

    /// Moves to the table form (a non-integer member, or past `maxIntsetEntries`).
    private func convertToTable() {
        let t = SetMemberTable(capacity: (packedCount + 1) * 4 / 3 + 1)
        for i in 0..<packedCount { decimalBytes(integer(at: i)).withUnsafeBytes { _ = t.insert($0) } }
        table = t
        packed.removeAll()
    }

    // MARK: operations

    /// Adds `member`; false when it was there.
    @discardableResult
    public func add(_ member: UnsafeRawBufferPointer) -> Bool {
        if table == nil {
            if let v = canonicalInteger(member) {
                let (i, found) = search(v)
                if found { return false }
                if packedCount < Self.maxIntsetEntries {
                    let w = Self.widthFor(v)
                    if w > width { upgrade(to: w) }
                    var cell: Int64 = 0
                    withUnsafeMutableBytes(of: &cell) { c in
                        Self.store(v, width: width, at: c.baseAddress!)
                        packed.insert(UnsafeRawBufferPointer(rebasing: c[0..<Int(width)]), at: i * Int(width))
                    }
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
        packed.removeSubrange(i * Int(width)..<(i + 1) * Int(width))
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
        if let t = table { return 48 + t.memoryUsage }
        return 48 + packed.allocatedBytes
    }

    public func copy() -> SetObject {
        let c = SetObject()
        c.packed = packed.copy(); c.width = width; c.table = table?.copy()
        return c
    }

    /// The intset's width in bytes (2, 4 or 8), for a snapshot's RDB_TYPE_SET_INTSET.
    public var intsetWidth: Int { Int(width) }
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
