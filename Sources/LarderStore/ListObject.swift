/// A list: Redis' quicklist idea. Elements are packed back to back in nodes of
/// `[varint length][bytes]` entries; a node grows until it would pass `ListObject.nodeLimit`
/// (Redis' `list-max-listpack-size`: negative = a byte size of 4 KB << (-n - 1), positive = an
/// entry count), then a new node starts. An element larger than the byte limit gets a node of
/// its own (Redis' plain node). So a queue of small items costs ~1 byte of overhead per element
/// plus one array header per ~8 KB, and pushes and pops at either end move at most one node's
/// bytes. Redis 7.0 reports every list as `quicklist`, whatever its size; so does Larder.
///
/// Operations in the middle that Redis also does in O(N) (LSET, LINSERT, LREM) rebuild the
/// nodes from the element list: simpler, and the same complexity.
public final class ListObject {
    struct Node {
        var bytes: [UInt8] = []
        var count = 0
    }

    /// `list-max-listpack-size` (Redis' default -2: 8 KB nodes). Set by CONFIG SET on every
    /// thread's lists at once; read when a node is about to grow.
    nonisolated(unsafe) public static var fill = -2

    var nodes: [Node] = []
    public private(set) var count = 0

    public init() {}

    public init(elements: [[UInt8]]) {
        for e in elements { e.withUnsafeBytes { push($0, left: false) } }
    }

    public var nodeCount: Int { nodes.count }

    /// Whether a node of `bytes` bytes and `entries` entries may take one more of `size` bytes.
    @inline(__always) static func fits(bytes: Int, entries: Int, adding size: Int) -> Bool {
        let f = fill
        if f >= 0 { return entries < max(f, 1) && bytes + size <= 8192 }
        let limit = 4096 << min(-f - 1, 4)
        return bytes + size <= limit
    }

    // MARK: ends

    public func push(_ e: UnsafeRawBufferPointer, left: Bool) {
        let size = Varint.size(e.count) + e.count
        if nodes.isEmpty || !Self.fits(bytes: nodes[left ? 0 : nodes.count - 1].bytes.count,
                                       entries: nodes[left ? 0 : nodes.count - 1].count, adding: size) {
            var n = Node()
            n.bytes.reserveCapacity(size)
            if left { nodes.insert(n, at: 0) } else { nodes.append(n) }
        }
        let ni = left ? 0 : nodes.count - 1
        var header = (UInt64(0), UInt64(0))   // a varint is at most 10 bytes
        let hn = withUnsafeMutableBytes(of: &header) { h -> Int in
            var i = 0
            Varint.write(h.baseAddress!, &i, e.count)
            return i
        }
        withUnsafeBytes(of: &header) { h in
            let hb = UnsafeRawBufferPointer(rebasing: h[0..<hn])
            if left {
                nodes[ni].bytes.insert(contentsOf: hb, at: 0)
                nodes[ni].bytes.insert(contentsOf: e, at: hn)
            } else {
                nodes[ni].bytes.append(contentsOf: hb)
                nodes[ni].bytes.append(contentsOf: e)
            }
        }
        nodes[ni].count += 1
        count += 1
    }

    public func push(_ e: [UInt8], left: Bool) { e.withUnsafeBytes { push($0, left: left) } }

    /// Removes and returns the first (`left`) or last element.
    public func pop(left: Bool) -> [UInt8]? {
        guard count > 0 else { return nil }
        let ni = left ? 0 : nodes.count - 1
        let result: [UInt8]
        if left {
            let (start, len) = nodes[ni].bytes.withUnsafeBytes { b -> (Int, Int) in
                var i = 0
                let l = Varint.read(b.baseAddress!, &i)
                return (i, l)
            }
            result = Array(nodes[ni].bytes[start..<start + len])
            nodes[ni].bytes.removeSubrange(0..<start + len)
        } else {
            let (start, len) = lastEntry(nodes[ni])
            result = Array(nodes[ni].bytes[start..<start + len])
            nodes[ni].bytes.removeSubrange(Self.headerStart(nodes[ni], entryStart: start)..<nodes[ni].bytes.count)
        }
        nodes[ni].count -= 1
        count -= 1
        if nodes[ni].count == 0 { nodes.remove(at: ni) }
        return result
    }

    /// Offset and length of the last entry of a node (a walk: entries have no back length).
    private func lastEntry(_ n: Node) -> (Int, Int) {
        n.bytes.withUnsafeBytes { b in
            var i = 0, start = 0, len = 0
            for _ in 0..<n.count {
                len = Varint.read(b.baseAddress!, &i)
                start = i
                i += len
            }
            return (start, len)
        }
    }

    private static func headerStart(_ n: Node, entryStart: Int) -> Int {
        // The varint before `entryStart`: walk again (nodes are small).
        n.bytes.withUnsafeBytes { b in
            var i = 0, prev = 0
            while i < entryStart {
                prev = i
                let l = Varint.read(b.baseAddress!, &i)
                if i == entryStart { return prev }
                i += l
            }
            return prev
        }
    }

    // MARK: reading

    /// Calls `body` with each element from index `from` to `to` (inclusive, both in range),
    /// in order, without copying.
    public func forEach(from: Int, to: Int, _ body: (UnsafeRawBufferPointer) -> Void) {
        guard from <= to, from >= 0, to < count else { return }
        var index = 0
        for n in nodes {
            if index + n.count <= from { index += n.count; continue }
            n.bytes.withUnsafeBytes { b in
                var i = 0
                for _ in 0..<n.count {
                    let len = Varint.read(b.baseAddress!, &i)
                    if index >= from && index <= to { body(UnsafeRawBufferPointer(rebasing: b[i..<i + len])) }
                    i += len
                    index += 1
                    if index > to { return }
                }
            }
            if index > to { return }
        }
    }

    public func forEach(_ body: (UnsafeRawBufferPointer) -> Void) { forEach(from: 0, to: count - 1, body) }

    /// The element at a non-negative index in range.
    public func element(at index: Int) -> [UInt8]? {
        guard index >= 0 && index < count else { return nil }
        var r: [UInt8]? = nil
        forEach(from: index, to: index) { r = Array($0) }
        return r
    }

    public var elements: [[UInt8]] {
        var all: [[UInt8]] = []
        all.reserveCapacity(count)
        forEach { all.append(Array($0)) }
        return all
    }

    /// The elements node by node (a snapshot writes one listpack per node, as Redis' quicklist).
    public var nodeElements: [[[UInt8]]] {
        nodes.map { n in
            var out: [[UInt8]] = []
            out.reserveCapacity(n.count)
            n.bytes.withUnsafeBytes { b in
                var i = 0
                for _ in 0..<n.count {
                    let len = Varint.read(b.baseAddress!, &i)
                    out.append(Array(b[i..<i + len]))
                    i += len
                }
            }
            return out
        }
    }

    /// Replaces every element (the O(N) middle operations).
    public func replaceAll(_ elements: [[UInt8]]) {
        nodes = []
        count = 0
        for e in elements { push(e, left: false) }
    }

    // MARK: changes in the middle

    public func set(_ e: [UInt8], at index: Int) {
        var all = elements
        all[index] = e
        replaceAll(all)
    }

    /// Removes `n` elements from the front (`left`) or the back, dropping whole nodes where
    /// it can (LTRIM of a capped list touches one node).
    public func remove(_ n: Int, left: Bool) {
        var left_ = n
        while left_ > 0 && !nodes.isEmpty {
            let ni = left ? 0 : nodes.count - 1
            if nodes[ni].count <= left_ {
                left_ -= nodes[ni].count
                count -= nodes[ni].count
                nodes.remove(at: ni)
            } else {
                _ = pop(left: left)
                left_ -= 1
            }
        }
    }

    // MARK: memory

    /// Heap bytes: the object, the node array and each node's buffer.
    public var memoryUsage: Int {
        var total = 48 + 32 + nodes.capacity * MemoryLayout<Node>.stride
        for n in nodes { total += 32 + n.bytes.capacity }
        return total
    }

    public func copy() -> ListObject {
        let c = ListObject()
        c.nodes = nodes
        c.count = count
        return c
    }
}
