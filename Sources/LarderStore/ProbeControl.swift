/// The probing half of the store's open-addressing tables (the keyspace's `KeyTable` and a
/// large hash's `HashFieldTable`): one control byte per slot, linear probing from the home
/// slot `hash & mask`, tombstones for deletions, a load factor of at most 0.75. Each table
/// keeps its own payload arrays at the same slot positions and decides how to compare keys.
///
/// Control byte: 0 empty, 1 deleted, else `0x80 | flag 0x40 | 6 hash bits` (`tag`). The 0x40
/// bit belongs to the owner (KeyTable: "has a TTL", so the expiry sweep reads control bytes
/// only); probes compare the tag with it masked out.
struct ProbeControl {
    static let empty: UInt8 = 0, deleted: UInt8 = 1
    static let ownerBit: UInt8 = 0x40

    private(set) var control: [UInt8]
    private(set) var mask: Int
    private(set) var count = 0
    private var tombstones = 0

    /// `capacity` rounded up to a power of two (at least 16).
    init(capacity: Int) {
        var cap = 16
        while cap < capacity { cap <<= 1 }
        control = [UInt8](repeating: Self.empty, count: cap)
        mask = cap - 1
    }

    var capacity: Int { control.count }

    @inline(__always) static func tag(_ hash: UInt64) -> UInt8 { UInt8(truncatingIfNeeded: hash >> 58) | 0x80 }

    @inline(__always) func isOccupied(_ i: Int) -> Bool { control[i] >= 0x80 }

    @inline(__always) func ownerBit(_ i: Int) -> Bool { control[i] & 0xC0 == 0xC0 }

    @inline(__always) mutating func setOwnerBit(_ i: Int, _ on: Bool) {
        if on { control[i] |= Self.ownerBit } else { control[i] &= ~Self.ownerBit }
    }

    /// The slot whose tag matches and for which `matches` says the key is the one sought.
    @inline(__always)
    func find(hash: UInt64, _ matches: (Int) -> Bool) -> Int? {
        let tag = Self.tag(hash)
        var i = Int(truncatingIfNeeded: hash) & mask
        return control.withUnsafeBufferPointer { ctrl in
            while true {
                let c = ctrl[i]
                if c == Self.empty { return nil }
                if c & ~Self.ownerBit == tag && matches(i) { return i }
                i = (i + 1) & mask
            }
        }
    }

    /// Whether one more insert would pass the load limit; the owner then rebuilds at
    /// `grownCapacity` (twice as large, or the same size when tombstones are most of the load).
    @inline(__always) var isFull: Bool { (count + tombstones + 1) * 4 > capacity * 3 }
    var grownCapacity: Int { count * 2 + 16 > capacity ? capacity * 2 : capacity }

    /// Takes the first free slot of `hash`'s probe run for a key known to be absent.
    @inline(__always)
    mutating func claim(hash: UInt64, ownerBit: Bool = false) -> Int {
        var i = Int(truncatingIfNeeded: hash) & mask
        while control[i] >= 0x80 { i = (i + 1) & mask }
        if control[i] == Self.deleted { tombstones -= 1 }
        control[i] = Self.tag(hash) | (ownerBit ? Self.ownerBit : 0)
        count += 1
        return i
    }

    mutating func release(_ i: Int) {
        control[i] = Self.deleted
        count -= 1
        tombstones += 1
        // A run of tombstones followed by an empty slot can become empty again, keeping probes short.
        if control[(i + 1) & mask] == Self.empty {
            var j = i
            while control[j] == Self.deleted {
                control[j] = Self.empty; tombstones -= 1
                j = (j - 1) & mask
            }
        }
    }

    /// Every occupied slot whose home slot is `home`. Linear probing puts such a key in the run
    /// of non-empty slots that starts at `home` (tombstones keep runs intact), and the load
    /// limit guarantees the run ends at an empty slot.
    func forEachSlot(homeBucket home: Int, hashAt: (Int) -> UInt64, _ body: (Int) -> Void) {
        var i = home & mask
        while control[i] != Self.empty {
            if control[i] >= 0x80 && Int(truncatingIfNeeded: hashAt(i)) & mask == home & mask { body(i) }
            i = (i + 1) & mask
        }
    }

    /// Redis' dictScan cursor step over home slots: increment the reversed bits of the cursor
    /// masked to the table size. 0 after the last one.
    func nextCursor(after cursor: UInt64) -> UInt64 {
        var v = (cursor | ~UInt64(mask)).bitReversed
        v &+= 1
        return v.bitReversed
    }
}

extension UInt64 {
    /// The bits in reverse order (Redis' `rev`).
    @inline(__always) var bitReversed: UInt64 {
        var v = self
        v = ((v >> 1) & 0x5555_5555_5555_5555) | ((v & 0x5555_5555_5555_5555) << 1)
        v = ((v >> 2) & 0x3333_3333_3333_3333) | ((v & 0x3333_3333_3333_3333) << 2)
        v = ((v >> 4) & 0x0F0F_0F0F_0F0F_0F0F) | ((v & 0x0F0F_0F0F_0F0F_0F0F) << 4)
        return v.byteSwapped
    }
}
