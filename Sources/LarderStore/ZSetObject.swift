import Foundation

/// A sorted set, in Redis 7.0's two encodings. Small ones are *packed* (Redis' listpack): one
/// byte buffer of exactly its size (`ExactBytes`) of entries in (score, member) order, each a
/// varint `member length << 2 | kind`, the member bytes and the score in `1 << kind` bytes: an
/// integral score within Int32 as an Int8, Int16 or Int32 (a timestamp in seconds takes 4
/// bytes), any other as its 8 bytes, as Redis' listpack stores integral scores as integers.
/// Fixed widths, not varints: a lookup steps over scores without decoding them (a varint score
/// doubled ZADD's instructions in callgrind). Lookups scan it, which for at most
/// `zset-max-listpack-entries` (128) entries of at most `zset-max-listpack-value` (64) bytes is
/// as fast as a tree and costs 2-9 bytes a member. Past either limit it becomes a
/// *skiplist* with spans (Redis' zskiplist: rank and by-rank access in O(log n)) plus a
/// member -> node dictionary for O(1) scores. Like Redis, a set never goes back to packed form
/// in place; results built from scratch (ZUNIONSTORE, ZRANGESTORE...) pick the form by size.
public final class ZSetObject {
    /// `zset-max-listpack-entries`.
    nonisolated(unsafe) public static var maxListpackEntries = 128
    /// `zset-max-listpack-value`.
    nonisolated(unsafe) public static var maxListpackValue = 64

    /// The buffer's 32-bit length and `packedCount` share a word: the object is 40 bytes (a
    /// 48-byte malloc chunk). The member -> node dictionary of the skiplist form lives in the
    /// `ZSkipList`, so a packed set does not pay for it.
    private var packed = ExactBytes()
    private var packedCount: UInt32 = 0
    private var list: ZSkipList? = nil

    public init() {}

    /// An empty set already in the form `count` members of at most `longestMember` bytes need.
    public init(expecting count: Int, longestMember: Int) {
        if count > Self.maxListpackEntries || longestMember > Self.maxListpackValue { convertToSkiplist() }
    }

    public var isPacked: Bool { list == nil }
    public var count: Int { list?.length ?? Int(packedCount) }

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

    /// Decodes the packed entry at `i` and moves `i` past it.
    @inline(__always)
    private static func entry(_ base: UnsafeRawPointer, _ i: inout Int) -> (UnsafeRawBufferPointer, Double) {
        let head = Varint.read(base, &i)
        let len = head >> 2
        let member = UnsafeRawBufferPointer(start: base + i, count: len)
        i += len
        let score = Self.score(base, at: i, kind: head & 3)
        i += 1 << (head & 3)
        return (member, score)
    }

    /// The score of kind `kind` (the entry head's low 2 bits: Int8, Int16, Int32, Double) at `i`.
    @inline(__always)
    private static func score(_ base: UnsafeRawPointer, at i: Int, kind: Int) -> Double {
        switch kind {
        case 0: return Double(base.load(fromByteOffset: i, as: Int8.self))
        case 1: return Double(Int16(littleEndian: base.loadUnaligned(fromByteOffset: i, as: Int16.self)))
        case 2: return Double(Int32(littleEndian: base.loadUnaligned(fromByteOffset: i, as: Int32.self)))
        default: return Double(bitPattern: UInt64(littleEndian: base.loadUnaligned(fromByteOffset: i, as: UInt64.self)))
        }
    }

    /// Scores stored as an integer: integral and within Int32 (a timestamp in seconds fits).
    /// -0 is stored as 0, as Redis' listpack keeps it as the integer 0.
    @inline(__always)
    private static func integralScore(_ s: Double) -> Int32? {
        s >= -2_147_483_648 && s <= 2_147_483_647 && s == s.rounded(.towardZero) ? Int32(s) : nil
    }

    /// Calls `body(index, entryStart, member, score, entryEnd)` on each packed entry in order
    /// until it returns true.
    @inline(__always)
    private func scanPacked(_ body: (Int, Int, UnsafeRawBufferPointer, Double, Int) -> Bool) {
        packed.withUnsafeBytes { b in
            guard let base = b.baseAddress else { return }
            var i = 0, index = 0
            while i < b.count {
                let start = i
                let (member, score) = Self.entry(base, &i)
                if body(index, start, member, score, i) { return }
                index += 1
            }
        }
    }

    /// (entry start, entry end, score) of `member` in the packed form. Compares lengths, then
    /// bytes, and steps over scores without decoding them (the head gives their width).
    private func packedFind(_ member: UnsafeRawBufferPointer) -> (Int, Int, Double)? {
        packed.withUnsafeBytes { b -> (Int, Int, Double)? in
            guard let base = b.baseAddress else { return nil }
            var i = 0
            let end = b.count, want = member.count
            while i < end {
                let start = i
                // One byte for members under 32 bytes: skip the varint loop.
                let first = Int(base.load(fromByteOffset: i, as: UInt8.self))
                let head: Int
                if first < 0x80 { head = first; i += 1 } else { head = Varint.read(base, &i) }
                let len = head >> 2
                let at = i
                i += len
                let scoreAt = i
                i += 1 << (head & 3)
                if len == want && (len == 0 || memcmp(base + at, member.baseAddress!, len) == 0) {
                    return (start, i, Self.score(base, at: scoreAt, kind: head & 3))
                }
            }
            return nil
        }
    }

    private func packedInsert(_ member: UnsafeRawBufferPointer, _ score: Double) {
        var at = packed.count
        scanPacked { _, start, m, s, _ in
            if Self.precedes(score, member, s, m) { at = start; return true }
            return false
        }
        let integral = Self.integralScore(score)
        let kind: Int
        if let v = integral { kind = Int8(exactly: v) != nil ? 0 : Int16(exactly: v) != nil ? 1 : 2 } else { kind = 3 }
        let head = member.count << 2 | kind
        let size = Varint.size(head) + member.count + (1 << kind)
        withUnsafeTemporaryAllocation(byteCount: size, alignment: 8) { e in
            let p = e.baseAddress!
            var i = 0
            Varint.write(p, &i, head)
            if member.count > 0 { (p + i).copyMemory(from: member.baseAddress!, byteCount: member.count) }
            i += member.count
            switch kind {
            case 0: p.storeBytes(of: Int8(integral!), toByteOffset: i, as: Int8.self)
            case 1: p.storeBytes(of: Int16(integral!).littleEndian, toByteOffset: i, as: Int16.self)
            case 2: p.storeBytes(of: integral!.littleEndian, toByteOffset: i, as: Int32.self)
            default: p.storeBytes(of: score.bitPattern.littleEndian, toByteOffset: i, as: UInt64.self)
            }
            packed.insert(UnsafeRawBufferPointer(e), at: at)
        }
        packedCount += 1
    }

    private func convertToSkiplist() {
        let l = ZSkipList()
        l.table.reserve(Int(packedCount))
        scanPacked { _, _, m, s, _ in
            l.add(score: s, member: m)
            return false
        }
        list = l
        packed.removeAll()
        packedCount = 0
    }

    // MARK: operations

    /// The score of `member`, nil when absent.
    public func score(_ member: UnsafeRawBufferPointer) -> Double? {
        if let l = list { return l.find(member)?.score }
        return packedFind(member)?.2
    }

    /// Sets `member`'s score, adding it when absent. Returns true when it was added.
    @discardableResult
    public func set(_ member: UnsafeRawBufferPointer, score: Double) -> Bool {
        if let l = list {
            if let node = l.find(member) {
                if node.score != score { l.update(node, score: score) }
                return false
            }
            l.add(score: score, member: member)
            return true
        }
        if let (start, end, old) = packedFind(member) {
            if old == score { return false }
            packed.removeSubrange(start..<end)
            packedCount -= 1
            packedInsert(member, score)
            return false
        }
        if Int(packedCount) + 1 > Self.maxListpackEntries || member.count > Self.maxListpackValue {
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
            guard let node = l.find(member) else { return false }
            l.remove(node)
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
            guard let node = l.find(member) else { return nil }
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
        var rank = Int(packedCount)
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
                    if !body(x.member, x.score) { return }
                    node = x.backward; n -= 1
                }
            } else {
                var node = l.node(atRank: ranks.lowerBound + 1)
                var n = ranks.count
                while let x = node, n > 0 {
                    if !body(x.member, x.score) { return }
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
                    let (m, s) = Self.entry(b.baseAddress!, &i)
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
        packedCount -= UInt32(ranks.count)
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
            var total = 48 + 64 + 48 + l.table.capacity * 9 + usableSize(Unmanaged.passUnretained(l.header).toOpaque())
            var node = l.header.levels[0].next
            while let x = node {
                total += usableSize(Unmanaged.passUnretained(x).toOpaque()) + 8
                node = x.levels[0].next
            }
            return total
        }
        return 48 + packed.allocatedBytes
    }

    public func copy() -> ZSetObject {
        let c = ZSetObject()
        if list != nil {
            c.convertToSkiplist()
            forEach { m, s in _ = c.set(m, score: s) }
        } else {
            c.packed = packed.copy()
            c.packedCount = packedCount
        }
        return c
    }

    /// The skiplist's level count (1 when packed), for tests of the order statistics.
    public var skiplistLevel: Int { list?.level ?? 1 }
}

/// One level of a skiplist node: the next node at that level and how many level-0 steps the
/// link skips (which gives ranks).
struct ZSkipLevel {
    var next: ZSkipNode?
    var span: Int
}

struct ZSkipNodeHeader {
    var score: Double
    /// Owned by the previous node's level-0 link: not retained.
    unowned(unsafe) var backward: ZSkipNode?
    let levelCount: UInt32
    let memberCount: UInt32
}

/// A skiplist node in one allocation, as Redis' zskiplistNode with its sds: the score, a
/// backward link, then (tail-allocated) its `levelCount` levels and the member's bytes. A node
/// of one level with a 16-byte member is an 80-byte malloc chunk, where an object holding an
/// `[UInt8]` and an array of upper levels took 80 + 64 (+ 64 for the levels of a quarter of
/// the nodes). The member dictionary indexes the nodes themselves (`ZNodeTable`), so the
/// member is stored once.
final class ZSkipNode: ManagedBuffer<ZSkipNodeHeader, ZSkipLevel> {
    static func make(member: UnsafeRawBufferPointer, score: Double, level: Int) -> ZSkipNode {
        let units = level + (member.count + MemoryLayout<ZSkipLevel>.stride - 1) / MemoryLayout<ZSkipLevel>.stride
        let buffer = ZSkipNode.create(minimumCapacity: units) { _ in
            ZSkipNodeHeader(score: score, backward: nil, levelCount: UInt32(level), memberCount: UInt32(member.count))
        }
        let node = unsafeDowncast(buffer, to: ZSkipNode.self)
        node.withUnsafeMutablePointerToElements { p in
            p.initialize(repeating: ZSkipLevel(next: nil, span: 0), count: level)
            if member.count > 0 { UnsafeMutableRawPointer(p + level).copyMemory(from: member.baseAddress!, byteCount: member.count) }
        }
        return node
    }

    deinit {
        withUnsafeMutablePointerToElements { _ = $0.deinitialize(count: Int(header.levelCount)) }
    }

    /// The object's storage does not move while it lives, so these pointers stay valid as
    /// long as the node does (the list keeps it alive).
    @inline(__always) private var head: UnsafeMutablePointer<ZSkipNodeHeader> { withUnsafeMutablePointerToHeader { $0 } }
    @inline(__always) var levels: UnsafeMutablePointer<ZSkipLevel> { withUnsafeMutablePointerToElements { $0 } }
    @inline(__always) var levelCount: Int { Int(head.pointee.levelCount) }
    @inline(__always) var score: Double {
        get { head.pointee.score }
        set { head.pointee.score = newValue }
    }
    @inline(__always) var backward: ZSkipNode? {
        get { head.pointee.backward }
        set { head.pointee.backward = newValue }
    }
    @inline(__always) var member: UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: UnsafeRawPointer(levels + levelCount), count: Int(head.pointee.memberCount))
    }
}

/// Member -> node index of a skiplist: open addressing (`ProbeControl`) over unretained node
/// pointers, compared and rehashed by the node's own member bytes (9 bytes a slot, where a
/// `[[UInt8]: ZSkipNode]` took 16 bytes a bucket). The list's level-0 links own the nodes;
/// a node leaves this table before it leaves the list.
final class ZNodeTable {
    private var probe: ProbeControl
    private var slots: UnsafeMutablePointer<Unmanaged<ZSkipNode>?>

    init(capacity: Int = 16) {
        probe = ProbeControl(capacity: capacity)
        slots = .allocate(capacity: probe.capacity)
        slots.initialize(repeating: nil, count: probe.capacity)
    }

    deinit { slots.deallocate() }

    var capacity: Int { probe.capacity }

    @inline(__always) private func slot(of m: UnsafeRawBufferPointer, hash: UInt64) -> Int? {
        probe.find(hash: hash) { ZSetObject.compare(slots[$0]!.takeUnretainedValue().member, m) == 0 }
    }

    func find(_ m: UnsafeRawBufferPointer) -> ZSkipNode? {
        slot(of: m, hash: ByteHash.hash(m)).map { slots[$0]!.takeUnretainedValue() }
    }

    /// Indexes a node whose member is known to be absent.
    func insert(_ node: ZSkipNode) {
        if probe.isFull { resize(probe.grownCapacity) }
        slots[probe.claim(hash: ByteHash.hash(node.member))] = Unmanaged.passUnretained(node)
    }

    func remove(_ m: UnsafeRawBufferPointer) {
        guard let i = slot(of: m, hash: ByteHash.hash(m)) else { return }
        slots[i] = nil
        probe.release(i)
        if capacity > 64 && probe.count * 8 < capacity { resize(max(16, probe.count * 2)) }
    }

    func reserve(_ n: Int) { if n * 4 > capacity * 3 { resize(n * 4 / 3 + 1) } }

    private func resize(_ newCapacity: Int) {
        let old = probe, oldSlots = slots
        probe = ProbeControl(capacity: newCapacity)
        slots = .allocate(capacity: probe.capacity)
        slots.initialize(repeating: nil, count: probe.capacity)
        for i in 0..<old.capacity where old.isOccupied(i) {
            let n = oldSlots[i]!
            slots[probe.claim(hash: ByteHash.hash(n.takeUnretainedValue().member))] = n
        }
        oldSlots.deallocate()
    }
}

/// Redis' zskiplist (t_zset.c): levels drawn with p = 1/4 up to 32, plus the member index.
final class ZSkipList {
    static let maxLevel = 32
    let header = ZSkipNode.make(member: UnsafeRawBufferPointer(start: nil, count: 0), score: 0, level: ZSkipList.maxLevel)
    unowned(unsafe) var tail: ZSkipNode? = nil
    /// Member -> node, for O(1) ZSCORE and to find a node to delete.
    let table = ZNodeTable()
    var length = 0
    var level = 1

    deinit {
        // Unlink iteratively: releasing a long chain recursively would exhaust the stack.
        var node = header.levels[0].next
        for i in 0..<header.levelCount { header.levels[i].next = nil }
        while let x = node {
            node = x.levels[0].next
            for i in 0..<x.levelCount { x.levels[i].next = nil }
        }
    }

    static func randomLevel() -> Int {
        var l = 1
        while l < maxLevel && UInt32.random(in: 0...UInt32.max) & 0xFFFF < 0x4000 { l += 1 }
        return l
    }

    @inline(__always)
    static func before(_ x: ZSkipNode, _ score: Double, _ member: UnsafeRawBufferPointer) -> Bool {
        x.score < score || (x.score == score && ZSetObject.compare(x.member, member) < 0)
    }

    func find(_ member: UnsafeRawBufferPointer) -> ZSkipNode? { table.find(member) }

    /// Adds a member known to be absent.
    func add(score: Double, member: UnsafeRawBufferPointer) {
        table.insert(insert(score: score, member: member))
    }

    /// Removes `node` (found by `find`).
    func remove(_ node: ZSkipNode) {
        table.remove(node.member)
        _ = delete(score: node.score, member: node.member)
    }

    /// Moves `node` to `score` (Redis' zslUpdateScore: in place when its position holds).
    func update(_ node: ZSkipNode, score: Double) {
        let prev = node.backward, next = node.levels[0].next
        if (prev == nil || Self.before(prev!, score, node.member)) && (next == nil || !Self.before(next!, score, node.member)) {
            node.score = score
            return
        }
        let member = Array(node.member)
        remove(node)
        member.withUnsafeBytes { add(score: score, member: $0) }
    }

    /// Links a new node for a member known to be absent (the index is the caller's).
    private func insert(score: Double, member: UnsafeRawBufferPointer) -> ZSkipNode {
        var update = ContiguousArray<ZSkipNode>(repeating: header, count: Self.maxLevel)
        var rank = ContiguousArray<Int>(repeating: 0, count: Self.maxLevel)
        var x = header
        for i in stride(from: level - 1, through: 0, by: -1) {
            rank[i] = i == level - 1 ? 0 : rank[i + 1]
            while let f = x.levels[i].next, Self.before(f, score, member) {
                rank[i] += x.levels[i].span
                x = f
            }
            update[i] = x
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
        // Redis' listpack keeps a score as d2string text, which writes -0 as "0"; the skiplist
        // keeps -0, as Redis' does.
        let n = ZSkipNode.make(member: member, score: score, level: newLevel)
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

    /// Unlinks the node with this score and member; false when there is none.
    private func delete(score: Double, member: UnsafeRawBufferPointer) -> Bool {
        var update = ContiguousArray<ZSkipNode>(repeating: header, count: Self.maxLevel)
        var x = header
        for i in stride(from: level - 1, through: 0, by: -1) {
            while let f = x.levels[i].next, Self.before(f, score, member) { x = f }
            update[i] = x
        }
        guard let target = x.levels[0].next, target.score == score,
              ZSetObject.compare(target.member, member) == 0 else { return false }
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
                  f.score < score || (f.score == score && ZSetObject.compare(f.member, member) <= 0) {
                rank += x.levels[i].span
                x = f
            }
            if x !== header && ZSetObject.compare(x.member, member) == 0 { return rank }
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
            while let f = x.levels[i].next, !isPast(f.score, f.member) {
                traversed += x.levels[i].span
                x = f
            }
        }
        return traversed
    }
}
