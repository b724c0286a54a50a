import Foundation

/// A sorted set, in Redis 7.0's two encodings. Small ones are *packed* (Redis' listpack): one
/// byte buffer of entries in (score, member) order, each a varint member length, the member
/// bytes and the score's 8 bytes; lookups scan it, which for at most
/// `zset-max-listpack-entries` (128) entries of at most `zset-max-listpack-value` (64) bytes is
/// as fast as a tree and costs ~10 bytes of overhead a member. Past either limit it becomes a
/// *skiplist* with spans (Redis' zskiplist: rank and by-rank access in O(log n)) plus a
/// member -> node dictionary for O(1) scores. Like Redis, a set never goes back to packed form
/// in place; results built from scratch (ZUNIONSTORE, ZRANGESTORE...) pick the form by size.
public final class ZSetObject {
    /// `zset-max-listpack-entries`.
    nonisolated(unsafe) public static var maxListpackEntries = 128
    /// `zset-max-listpack-value`.
    nonisolated(unsafe) public static var maxListpackValue = 64

    private var packed: [UInt8] = []
    private var packedCount = 0
    private var list: ZSkipList? = nil
    private var dict: [[UInt8]: ZSkipNode] = [:]

    public init() {}

    /// An empty set already in the form `count` members of at most `longestMember` bytes need.
    public init(expecting count: Int, longestMember: Int) {
        if count > Self.maxListpackEntries || longestMember > Self.maxListpackValue { convertToSkiplist() }
    }

    public var isPacked: Bool { list == nil }
    public var count: Int { list?.length ?? packedCount }

    // MARK: ordering

    /// memcmp order, shorter first on a common prefix (Redis' sdscmp).
    @inline(__always)
    public static func compare(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Int {
        let n = min(a.count, b.count)
        if n > 0 {
            let c = memcmp(a.baseAddress!, b.baseAddress!, n)
            if c != 0 { return c < 0 ? -1 : 1 }
        }
        return a.count == b.count ? 0 : (a.count < b.count ? -1 : 1)
    }

    /// True when (s1, m1) sorts before (s2, m2).
    @inline(__always)
    public static func precedes(_ s1: Double, _ m1: UnsafeRawBufferPointer, _ s2: Double, _ m2: UnsafeRawBufferPointer) -> Bool {
        s1 < s2 || (s1 == s2 && compare(m1, m2) < 0)
    }

    // MARK: packed form

    /// Calls `body(index, entryStart, member, score, entryEnd)` on each packed entry in order
    /// until it returns true.
    @inline(__always)
    private func scanPacked(_ body: (Int, Int, UnsafeRawBufferPointer, Double, Int) -> Bool) {
        packed.withUnsafeBytes { b in
            guard let base = b.baseAddress else { return }
            var i = 0, index = 0
            while i < b.count {
                let start = i
                let len = Varint.read(base, &i)
                let member = UnsafeRawBufferPointer(start: base + i, count: len)
                i += len
                let score = Double(bitPattern: UInt64(littleEndian: b.loadUnaligned(fromByteOffset: i, as: UInt64.self)))
                i += 8
                if body(index, start, member, score, i) { return }
                index += 1
            }
        }
    }

    /// (entry start, entry end, score) of `member` in the packed form.
    private func packedFind(_ member: UnsafeRawBufferPointer) -> (Int, Int, Double)? {
        var found: (Int, Int, Double)? = nil
        scanPacked { _, start, m, score, end in
            if Self.compare(m, member) == 0 { found = (start, end, score); return true }
            return false
        }
        return found
    }

    private func packedInsert(_ member: UnsafeRawBufferPointer, _ score: Double) {
        var at = packed.count
        scanPacked { _, start, m, s, _ in
            if Self.precedes(score, member, s, m) { at = start; return true }
            return false
        }
        var entry: [UInt8] = []
        entry.reserveCapacity(Varint.size(member.count) + member.count + 8)
        Varint.append(&entry, member.count)
        entry.append(contentsOf: member)
        // Redis' listpack keeps a score as d2string text, which writes -0 as "0": so do we.
        let stored = score == 0 ? 0 : score
        withUnsafeBytes(of: stored.bitPattern.littleEndian) { entry.append(contentsOf: $0) }
        packed.insert(contentsOf: entry, at: at)
        packedCount += 1
    }

    private func convertToSkiplist() {
        let l = ZSkipList()
        var d: [[UInt8]: ZSkipNode] = [:]
        d.reserveCapacity(packedCount)
        scanPacked { _, _, m, s, _ in
            let node = l.insert(score: s, member: Array(m))
            d[node.member] = node
            return false
        }
        list = l
        dict = d
        packed = []
        packedCount = 0
    }

    // MARK: operations

    /// The score of `member`, nil when absent.
    public func score(_ member: UnsafeRawBufferPointer) -> Double? {
        if list != nil { return dict[Array(member)]?.score }
        return packedFind(member)?.2
    }

    /// Sets `member`'s score, adding it when absent. Returns true when it was added.
    @discardableResult
    public func set(_ member: UnsafeRawBufferPointer, score: Double) -> Bool {
        if let l = list {
            let key = Array(member)
            if let node = dict[key] {
                if node.score != score {
                    _ = l.delete(score: node.score, member: member)
                    dict[key] = l.insert(score: score, member: key)
                }
                return false
            }
            dict[key] = l.insert(score: score, member: key)
            return true
        }
        if let (start, end, old) = packedFind(member) {
            if old == score { return false }
            packed.removeSubrange(start..<end)
            packedCount -= 1
            packedInsert(member, score)
            return false
        }
        if packedCount + 1 > Self.maxListpackEntries || member.count > Self.maxListpackValue {
            convertToSkiplist()
            return set(member, score: score)
        }
        packedInsert(member, score)
        return true
    }

    @discardableResult
    public func set(_ member: [UInt8], score: Double) -> Bool { member.withUnsafeBytes { set($0, score: score) } }

    /// Removes `member`; false when absent.
    @discardableResult
    public func remove(_ member: UnsafeRawBufferPointer) -> Bool {
        if let l = list {
            guard let node = dict.removeValue(forKey: Array(member)) else { return false }
            _ = l.delete(score: node.score, member: member)
            return true
        }
        guard let (start, end, _) = packedFind(member) else { return false }
        packed.removeSubrange(start..<end)
        packedCount -= 1
        return true
    }

    /// The 0-based ascending rank of `member`, nil when absent.
    public func rank(_ member: UnsafeRawBufferPointer) -> Int? {
        if let l = list {
            guard let node = dict[Array(member)] else { return nil }
            return l.rank(score: node.score, member: member) - 1
        }
        var rank: Int? = nil
        scanPacked { i, _, m, _, _ in
            if Self.compare(m, member) == 0 { rank = i; return true }
            return false
        }
        return rank
    }

    /// The 0-based rank of the first entry for which `isPast` is true; `isPast` must be false
    /// then true along the order (a score or lex lower bound). `count` when there is none.
    public func firstRank(where isPast: (Double, UnsafeRawBufferPointer) -> Bool) -> Int {
        if let l = list { return l.firstRank(where: isPast) }
        var rank = packedCount
        scanPacked { i, _, m, s, _ in
            if isPast(s, m) { rank = i; return true }
            return false
        }
        return rank
    }

    /// Visits the entries with ranks in `ranks` (0-based), ascending or, when `reverse`,
    /// descending, until `body` returns false.
    public func forEach(ranks: Range<Int>, reverse: Bool = false, _ body: (UnsafeRawBufferPointer, Double) -> Bool) {
        let ranks = ranks.clamped(to: 0..<count)
        guard !ranks.isEmpty else { return }
        if let l = list {
            if reverse {
                var node = l.node(atRank: ranks.upperBound)
                var n = ranks.count
                while let x = node, n > 0 {
                    if !x.member.withUnsafeBytes({ body($0, x.score) }) { return }
                    node = x.backward; n -= 1
                }
            } else {
                var node = l.node(atRank: ranks.lowerBound + 1)
                var n = ranks.count
                while let x = node, n > 0 {
                    if !x.member.withUnsafeBytes({ body($0, x.score) }) { return }
                    node = x.levels[0].next; n -= 1
                }
            }
            return
        }
        if reverse {
            // Packed entries are reachable forwards only: note the starts, then walk back.
            var starts: [(Int, Int)] = []
            starts.reserveCapacity(ranks.count)
            scanPacked { i, start, _, _, end in
                if i >= ranks.upperBound { return true }
                if i >= ranks.lowerBound { starts.append((start, end)) }
                return false
            }
            packed.withUnsafeBytes { b in
                for (start, _) in starts.reversed() {
                    var i = start
                    let len = Varint.read(b, &i)
                    let m = UnsafeRawBufferPointer(rebasing: b[i..<i + len])
                    let s = Double(bitPattern: UInt64(littleEndian: b.loadUnaligned(fromByteOffset: i + len, as: UInt64.self)))
                    if !body(m, s) { return }
                }
            }
            return
        }
        scanPacked { i, _, m, s, _ in
            if i >= ranks.upperBound { return true }
            if i >= ranks.lowerBound { return !body(m, s) }
            return false
        }
    }

    /// Every entry in ascending order.
    public func forEach(_ body: (UnsafeRawBufferPointer, Double) -> Void) {
        forEach(ranks: 0..<count) { m, s in body(m, s); return true }
    }

    /// The entries with ranks in `ranks`, ascending, as arrays.
    public func entries(ranks: Range<Int>, reverse: Bool = false) -> [([UInt8], Double)] {
        var out: [([UInt8], Double)] = []
        out.reserveCapacity(ranks.clamped(to: 0..<count).count)
        forEach(ranks: ranks, reverse: reverse) { m, s in out.append((Array(m), s)); return true }
        return out
    }

    /// Removes the entries with ranks in `ranks`; returns how many.
    @discardableResult
    public func removeRanks(_ ranks: Range<Int>) -> Int {
        let ranks = ranks.clamped(to: 0..<count)
        guard !ranks.isEmpty else { return 0 }
        if list != nil {
            for (m, _) in entries(ranks: ranks) { m.withUnsafeBytes { _ = remove($0) } }
            return ranks.count
        }
        var from = packed.count, to = packed.count
        scanPacked { i, start, _, _, end in
            if i == ranks.lowerBound { from = start }
            if i == ranks.upperBound - 1 { to = end; return true }
            return false
        }
        packed.removeSubrange(from..<to)
        packedCount -= ranks.count
        return ranks.count
    }

    /// A uniformly random entry (nil when empty).
    public func randomEntry() -> ([UInt8], Double)? {
        guard count > 0 else { return nil }
        return entries(ranks: Int.random(in: 0..<count)..<count).first
    }

    /// Heap bytes: the packed buffer, or the nodes, their members and the dictionary.
    public var memoryUsage: Int {
        if let l = list {
            var total = 48 + 64 + dict.capacity * 16
            var node = l.header.levels[0].next
            while let x = node {
                total += 64 + (x.levels.count > 1 ? 32 + (x.levels.count - 1) * 16 : 0) + 32 + ((x.member.count + 15) & ~15)
                node = x.levels[0].next
            }
            return total
        }
        return 48 + 32 + packed.capacity
    }

    public func copy() -> ZSetObject {
        let c = ZSetObject()
        if list != nil {
            c.convertToSkiplist()
            forEach { m, s in _ = c.set(m, score: s) }
        } else {
            c.packed = packed
            c.packedCount = packedCount
        }
        return c
    }

    /// The skiplist's level count (1 when packed), for tests of the order statistics.
    public var skiplistLevel: Int { list?.level ?? 1 }
}

/// A skiplist node: its member, score, a backward link and one (next, span) pair per level;
/// `span` counts the level-0 steps that link skips, which gives ranks.
final class ZSkipNode {
    struct Level {
        var next: ZSkipNode?
        var span: Int
    }
    /// Level 0 inline, the higher ones (a quarter of the nodes have any) in an array: one
    /// allocation less for most nodes (bench/memory.sh bigzsets: 233.7 -> 195.6 B a member).
    struct Levels {
        var first: Level
        var upper: ContiguousArray<Level>?
        var count: Int { 1 + (upper?.count ?? 0) }
        subscript(i: Int) -> Level {
            @inline(__always) get { i == 0 ? first : upper![i - 1] }
            @inline(__always) set { if i == 0 { first = newValue } else { upper![i - 1] = newValue } }
        }
    }
    let member: [UInt8]
    var score: Double
    var levels: Levels
    /// Owned by the previous node's level-0 link: not retained.
    unowned(unsafe) var backward: ZSkipNode? = nil

    init(member: [UInt8], score: Double, level: Int) {
        self.member = member
        self.score = score
        let empty = Level(next: nil, span: 0)
        self.levels = Levels(first: empty, upper: level > 1 ? ContiguousArray(repeating: empty, count: level - 1) : nil)
    }
}

/// Redis' zskiplist (t_zset.c): levels drawn with p = 1/4 up to 32.
final class ZSkipList {
    static let maxLevel = 32
    let header = ZSkipNode(member: [], score: 0, level: ZSkipList.maxLevel)
    unowned(unsafe) var tail: ZSkipNode? = nil
    var length = 0
    var level = 1

    deinit {
        // Unlink iteratively: releasing a long chain recursively would exhaust the stack.
        var node = header.levels[0].next
        for i in 0..<header.levels.count { header.levels[i].next = nil }
        while let x = node {
            node = x.levels[0].next
            for i in 0..<x.levels.count { x.levels[i].next = nil }
        }
    }

    static func randomLevel() -> Int {
        var l = 1
        while l < maxLevel && UInt32.random(in: 0...UInt32.max) & 0xFFFF < 0x4000 { l += 1 }
        return l
    }

    @inline(__always)
    static func before(_ x: ZSkipNode, _ score: Double, _ member: UnsafeRawBufferPointer) -> Bool {
        x.score < score || (x.score == score && x.member.withUnsafeBytes { ZSetObject.compare($0, member) < 0 })
    }

    /// Inserts a member known to be absent.
    func insert(score: Double, member: [UInt8]) -> ZSkipNode {
        var update = ContiguousArray<ZSkipNode>(repeating: header, count: Self.maxLevel)
        var rank = ContiguousArray<Int>(repeating: 0, count: Self.maxLevel)
        var x = header
        member.withUnsafeBytes { m in
            for i in stride(from: level - 1, through: 0, by: -1) {
                rank[i] = i == level - 1 ? 0 : rank[i + 1]
                while let f = x.levels[i].next, Self.before(f, score, m) {
                    rank[i] += x.levels[i].span
                    x = f
                }
                update[i] = x
            }
        }
        let newLevel = Self.randomLevel()
        if newLevel > level {
            for i in level..<newLevel {
                rank[i] = 0
                update[i] = header
                header.levels[i].span = length
            }
            level = newLevel
        }
        let n = ZSkipNode(member: member, score: score, level: newLevel)
        for i in 0..<newLevel {
            n.levels[i].next = update[i].levels[i].next
            update[i].levels[i].next = n
            n.levels[i].span = update[i].levels[i].span - (rank[0] - rank[i])
            update[i].levels[i].span = rank[0] - rank[i] + 1
        }
        if newLevel < level { for i in newLevel..<level { update[i].levels[i].span += 1 } }
        n.backward = update[0] === header ? nil : update[0]
        if let f = n.levels[0].next { f.backward = n } else { tail = n }
        length += 1
        return n
    }

    /// Deletes the node with this score and member; false when there is none.
    func delete(score: Double, member: UnsafeRawBufferPointer) -> Bool {
        var update = ContiguousArray<ZSkipNode>(repeating: header, count: Self.maxLevel)
        var x = header
        for i in stride(from: level - 1, through: 0, by: -1) {
            while let f = x.levels[i].next, Self.before(f, score, member) { x = f }
            update[i] = x
        }
        guard let target = x.levels[0].next, target.score == score,
              target.member.withUnsafeBytes({ ZSetObject.compare($0, member) == 0 }) else { return false }
        for i in 0..<level {
            if update[i].levels[i].next === target {
                update[i].levels[i].span += target.levels[i].span - 1
                update[i].levels[i].next = target.levels[i].next
            } else {
                update[i].levels[i].span -= 1
            }
        }
        if let f = target.levels[0].next { f.backward = target.backward } else { tail = target.backward }
        while level > 1 && header.levels[level - 1].next == nil { level -= 1 }
        length -= 1
        return true
    }

    /// The 1-based rank of the node with this score and member, 0 when absent.
    func rank(score: Double, member: UnsafeRawBufferPointer) -> Int {
        var rank = 0
        var x = header
        for i in stride(from: level - 1, through: 0, by: -1) {
            while let f = x.levels[i].next,
                  f.score < score || (f.score == score && f.member.withUnsafeBytes({ ZSetObject.compare($0, member) <= 0 })) {
                rank += x.levels[i].span
                x = f
            }
            if x !== header && x.member.withUnsafeBytes({ ZSetObject.compare($0, member) == 0 }) { return rank }
        }
        return 0
    }

    /// The node at 1-based `rank`.
    func node(atRank rank: Int) -> ZSkipNode? {
        var traversed = 0
        var x = header
        for i in stride(from: level - 1, through: 0, by: -1) {
            while let f = x.levels[i].next, traversed + x.levels[i].span <= rank {
                traversed += x.levels[i].span
                x = f
            }
            if traversed == rank { return x === header ? nil : x }
        }
        return nil
    }

    /// How many nodes come before the first one for which `isPast` holds.
    func firstRank(where isPast: (Double, UnsafeRawBufferPointer) -> Bool) -> Int {
        var traversed = 0
        var x = header
        for i in stride(from: level - 1, through: 0, by: -1) {
            while let f = x.levels[i].next, !f.member.withUnsafeBytes({ isPast(f.score, $0) }) {
                traversed += x.levels[i].span
                x = f
            }
        }
        return traversed
    }
}
