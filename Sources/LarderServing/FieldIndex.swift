import Foundation
import LarderStore

/// The hash fields one selection group reads (its features' fields, then `_ts:<view>`) in a
/// small open-addressed table, built once per selection, so a packed row hash is read in one
/// pass with one probe per stored entry. `HashObject.lookupMany`, which HMGET uses, compares
/// every stored entry with every requested field (it cannot know the fields before the
/// request): 51 x 51 compares for a 50-feature row, 48,000 of the 127,700 instructions of a
/// 1 x 50 FEATURES.GET under callgrind.
struct FieldIndex: Sendable {
    /// Per slot: the field's first (up to) 8 bytes as a word, its length (-1: empty slot) and
    /// its number in the group (the position in `fieldStarts`).
    private let words: [UInt64]
    private let lengths: [Int]
    private let targets: [Int]
    private let shift: UInt64
    /// False when two of the fields are equal (two features hashing to the same mmh3 field):
    /// each must get its answer, so the reader falls back to `lookupMany`.
    let usable: Bool

    init(fieldBytes: [UInt8], starts: [Int]) {
        let n = starts.count - 1
        var bits: UInt64 = 3
        while (1 << bits) < 2 * n { bits += 1 }   // at most half full: short probe runs
        let size = 1 << Int(bits)
        var words = [UInt64](repeating: 0, count: size)
        var lengths = [Int](repeating: -1, count: size)
        var targets = [Int](repeating: 0, count: size)
        var usable = true
        fieldBytes.withUnsafeBytes { fb in
            for i in 0..<n {
                let length = starts[i + 1] - starts[i]
                let word = length == 0 ? 0 : Self.prefixWord(fb.baseAddress! + starts[i], length)
                var s = Self.slot(word, length, 64 - bits)
                while lengths[s] >= 0 {
                    let j = targets[s]
                    if lengths[s] == length && words[s] == word
                        && (length <= 8 || memcmp(fb.baseAddress! + starts[i] + 8, fb.baseAddress! + starts[j] + 8, length - 8) == 0) {
                        usable = false
                    }
                    s = (s + 1) & (size - 1)
                }
                words[s] = word; lengths[s] = length; targets[s] = i
            }
        }
        self.words = words; self.lengths = lengths; self.targets = targets
        self.shift = 64 - bits; self.usable = usable
    }

    @inline(__always)
    static func slot(_ word: UInt64, _ length: Int, _ shift: UInt64) -> Int {
        Int(truncatingIfNeeded: ((word ^ UInt64(truncatingIfNeeded: length)) &* 0x9E37_79B9_7F4A_7C15) >> shift)
    }

    /// Up to the first 8 bytes of a field, zero-padded (a 4-byte mmh3 field is one load).
    @inline(__always)
    static func prefixWord(_ p: UnsafeRawPointer, _ length: Int) -> UInt64 {
        if length >= 8 { return p.loadUnaligned(as: UInt64.self) }
        if length == 4 { return UInt64(p.loadUnaligned(as: UInt32.self)) }
        var w: UInt64 = 0
        for j in 0..<length { w |= UInt64(p.load(fromByteOffset: j, as: UInt8.self)) << (8 * UInt64(j)) }
        return w
    }

    /// The number of `field` among the group's fields, or nil.
    func find(_ field: UnsafeRawBufferPointer, fieldBytes: UnsafeRawPointer, starts: UnsafePointer<Int>) -> Int? {
        words.withUnsafeBufferPointer { w in
            lengths.withUnsafeBufferPointer { l in
                targets.withUnsafeBufferPointer { t in
                    Self.probe(field.baseAddress, field.count, w, l, t, shift, fieldBytes, starts)
                }
            }
        }
    }

    @inline(__always)
    static func probe(_ field: UnsafeRawPointer?, _ length: Int, _ w: UnsafeBufferPointer<UInt64>, _ l: UnsafeBufferPointer<Int>,
                      _ t: UnsafeBufferPointer<Int>, _ shift: UInt64, _ fieldBytes: UnsafeRawPointer, _ starts: UnsafePointer<Int>) -> Int? {
        let word = length == 0 ? 0 : prefixWord(field!, length)
        let mask = w.count - 1
        var s = slot(word, length, shift)
        while l[s] >= 0 {
            if l[s] == length && w[s] == word {
                let target = t[s]
                if length <= 8 || memcmp(field! + 8, fieldBytes + starts[target] + 8, length - 8) == 0 { return target }
            }
            s = (s + 1) & mask
        }
        return nil
    }

    /// `raw[i]` = the value of field i of the group in `hash` (nil when absent), as
    /// `hash.lookupMany` would answer: one pass over a packed hash's entries, stopping when all
    /// are found; a table hash (big values or many fields) is looked up field by field, each an
    /// O(1) probe there. Measured reason for reading the entries in place rather than through
    /// HashView.forEach: its closure call per entry cost 140 instructions per entry, 7,000 of
    /// a 1 x 10 request (callgrind).
    static func lookUp(_ hash: HashView, _ group: FeatureSelection.Group,
                       into raw: UnsafeMutableBufferPointer<UnsafeRawBufferPointer?>) {
        let count = group.fieldStarts.count - 1
        raw.initialize(repeating: nil)
        let index = group.fieldIndex
        group.fieldBytes.withUnsafeBytes { base in
            group.fieldStarts.withUnsafeBufferPointer { starts in
                guard let p = hash.packedEntries, index.usable else {
                    hash.lookupMany(count, field: { UnsafeRawBufferPointer(rebasing: base[starts[$0]..<starts[$0 + 1]]) }) { i, v in
                        raw[i] = v
                    }
                    return
                }
                guard let entries = p.baseAddress else { return }
                index.words.withUnsafeBufferPointer { w in
                    index.lengths.withUnsafeBufferPointer { l in
                        index.targets.withUnsafeBufferPointer { t in
                            @inline(__always) func varint(_ at: inout Int) -> Int {
                                // Fields and values under 128 bytes (all of Feast's but long
                                // strings and lists) have a one-byte length.
                                let first = entries.load(fromByteOffset: at, as: UInt8.self)
                                at += 1
                                if first < 0x80 { return Int(first) }
                                var v = Int(first & 0x7F), shift = 7
                                while true {
                                    let b = entries.load(fromByteOffset: at, as: UInt8.self); at += 1
                                    v |= Int(b & 0x7F) << shift
                                    if b < 0x80 { return v }
                                    shift += 7
                                }
                            }
                            var remaining = count
                            var at = 0
                            while at < p.count && remaining > 0 {
                                let fl = varint(&at); let fs = at; at += fl
                                let vl = varint(&at); let vs = at; at += vl
                                if let i = probe(entries + fs, fl, w, l, t, index.shift, base.baseAddress!, starts.baseAddress!), raw[i] == nil {
                                    raw[i] = UnsafeRawBufferPointer(start: entries + vs, count: vl)
                                    remaining -= 1
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}
