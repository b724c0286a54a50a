// Request formatting (hiredis), the pre-formatted command pool, and the two per-connection
// queues of the send path: the outgoing byte buffer and the send-time FIFO.
import CHiredis
import Glibc

/// One command in RESP multibulk form, formatted by hiredis' redisFormatCommandArgv.
func formatCommand(_ args: [[UInt8]]) -> [UInt8] {
    var flat: [UInt8] = []
    flat.reserveCapacity(args.reduce(1) { $0 + $1.count })
    var offsets: [Int] = [], lengths: [Int] = []
    for a in args {
        offsets.append(flat.count)
        lengths.append(a.count)
        flat += a
    }
    flat.append(0)  // never empty, so baseAddress is never nil
    return flat.withUnsafeBufferPointer { fb -> [UInt8] in
        let base = UnsafeRawPointer(fb.baseAddress!).assumingMemoryBound(to: CChar.self)
        var argv: [UnsafePointer<CChar>?] = offsets.map { base + $0 }
        var target: UnsafeMutablePointer<CChar>?
        let n = redisFormatCommandArgv(&target, Int32(args.count), &argv, lengths)
        guard n > 0, let target else { fatalError("redisFormatCommandArgv failed") }
        defer { redisFreeCommand(target) }
        return [UInt8](UnsafeRawBufferPointer(start: target, count: Int(n)))
    }
}

/// Where the engine gets request bytes: each call appends exactly one command.
protocol RequestSource: AnyObject {
    func appendNext(to out: OutBuffer)
}

/// Pre-formatted commands back to back in one allocation, handed out in a cycle: the send path
/// only copies bytes.
final class CommandPool: RequestSource {
    private let storage: UnsafeMutablePointer<UInt8>
    private let offsets: [Int]  // count + 1 entries
    private var cursor = 0
    let count: Int
    let bytes: Int

    init(commands: [[UInt8]]) {
        precondition(!commands.isEmpty)
        var offs = [0]
        offs.reserveCapacity(commands.count + 1)
        for c in commands { offs.append(offs.last! + c.count) }
        bytes = offs.last!
        let mem = UnsafeMutablePointer<UInt8>.allocate(capacity: Swift.max(bytes, 1))
        for (i, c) in commands.enumerated() {
            c.withUnsafeBufferPointer { (mem + offs[i]).update(from: $0.baseAddress!, count: c.count) }
        }
        storage = mem
        offsets = offs
        count = commands.count
    }

    deinit { storage.deallocate() }

    func command(_ i: Int) -> UnsafeBufferPointer<UInt8> {
        UnsafeBufferPointer(start: storage + offsets[i], count: offsets[i + 1] - offsets[i])
    }

    func appendNext(to out: OutBuffer) {
        let i = cursor
        cursor = i + 1 == count ? 0 : i + 1
        out.append(storage + offsets[i], offsets[i + 1] - offsets[i])
    }
}

/// Commands made on demand from an index (preloading: each key exactly once, in order).
final class GeneratedSource: RequestSource {
    private let make: (Int) -> [UInt8]
    private(set) var next = 0

    init(_ make: @escaping (Int) -> [UInt8]) { self.make = make }

    func appendNext(to out: OutBuffer) {
        let cmd = make(next)
        next += 1
        cmd.withUnsafeBufferPointer { out.append($0.baseAddress!, $0.count) }
    }
}

/// Bytes waiting to be written to a socket. Grows to the high-water mark, then never allocates.
final class OutBuffer {
    private(set) var base: UnsafeMutablePointer<UInt8>
    private var capacity: Int
    private var head = 0, tail = 0

    init(capacity: Int = 16 * 1024) {
        self.capacity = capacity
        base = .allocate(capacity: capacity)
    }

    deinit { base.deallocate() }

    var count: Int { tail - head }
    var readPointer: UnsafeMutablePointer<UInt8> { base + head }

    func append(_ p: UnsafePointer<UInt8>, _ n: Int) {
        if tail + n > capacity {
            if head > 0 {  // compact first
                let live = tail - head
                base.update(from: base + head, count: live)
                head = 0; tail = live
            }
            if tail + n > capacity {
                var newCap = capacity * 2
                while tail + n > newCap { newCap *= 2 }
                let nb = UnsafeMutablePointer<UInt8>.allocate(capacity: newCap)
                nb.update(from: base, count: tail)
                base.deallocate()
                base = nb; capacity = newCap
            }
        }
        (base + tail).update(from: p, count: n)
        tail += n
    }

    func consume(_ n: Int) {
        head += n
        if head == tail { head = 0; tail = 0 }
    }
}

/// FIFO of nanosecond timestamps, one per request in flight on a connection (replies arrive in
/// request order). A power-of-two ring that doubles when full.
struct TimeQueue {
    private var ring: [UInt64] = Array(repeating: 0, count: 64)
    private var head = 0
    private(set) var count = 0

    var isEmpty: Bool { count == 0 }

    mutating func push(_ t: UInt64) {
        if count == ring.count {
            var bigger = [UInt64](repeating: 0, count: ring.count * 2)
            for i in 0..<count { bigger[i] = ring[(head + i) & (ring.count - 1)] }
            ring = bigger; head = 0
        }
        ring[(head + count) & (ring.count - 1)] = t
        count += 1
    }

    mutating func pop() -> UInt64? {
        guard count > 0 else { return nil }
        let t = ring[head]
        head = (head + 1) & (ring.count - 1)
        count -= 1
        return t
    }
}

@inline(__always) func monotonicNanos() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
}
