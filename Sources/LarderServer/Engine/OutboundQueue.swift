#if os(Linux)
import NIOCore

/// The replies of one engine connection (EpollConnection, UringConnection) that the handler
/// wrote and the kernel has not taken yet, in order, with the backpressure both engines share:
/// unwritable above the high mark, writable again below the low mark, the same 16 KB / 8 KB as
/// the NIO listener's write marks, so CLIENT LIST omem/oll, the output-buffer limits, MONITOR
/// and pub/sub read the same on every engine. Only the bookkeeping lives here; each engine
/// decides when and how the bytes go to its socket, and tells the handler what flipped.
///
/// The head entry is kept inline (`first`) and only later ones go into the array: a client
/// that waits for each reply (P=1, the common case) has at most one reply queued, and the
/// array's append, removal and tuple copies were ~75 user instructions per request under
/// callgrind on io_uring (bench/results/engine.md, "Fewer instructions per request").
struct OutboundQueue {
    struct Entry {
        var bytes: ByteBuffer
        let onWritten: (() -> Void)?
    }

    /// Redis' reply chunk (PROTO_REPLY_CHUNK_BYTES), as the NIO listener's write marks.
    static let highMark = 16 * 1024, lowMark = 8 * 1024

    /// The oldest entry, set while `count > 0` (then `rest[restHead...]` follows it). Plain
    /// fields, not an optional tuple: copying one went through the runtime's generic tuple
    /// copy, ~50 instructions per request.
    private var head: ByteBuffer? = nil
    private var headOnWritten: (() -> Void)? = nil
    private var rest: [Entry] = []
    private var restHead = 0
    private(set) var count = 0
    /// Bytes queued: written by the handler, not yet taken by the kernel (CLIENT LIST omem).
    private(set) var bytes = 0
    private(set) var isWritable = true
    /// A close waits for the queue to drain (writeThenClose): graceful or not.
    var closeWhenDrained: Bool? = nil

    var isEmpty: Bool { count == 0 }

    /// Queues `bytes` at the end; true if that took the queue over the high mark (tell the handler).
    mutating func append(_ bytes: ByteBuffer, onWritten: (() -> Void)?) -> Bool {
        if count == 0 {
            head = bytes
            headOnWritten = onWritten
        } else {
            rest.append(Entry(bytes: bytes, onWritten: onWritten))
        }
        count += 1
        self.bytes += bytes.readableBytes
        if isWritable && self.bytes > Self.highMark {
            isWritable = false
            return true
        }
        return false
    }

    /// The readable bytes of the `i`th queued entry (0: the oldest).
    func withReadableBytes<R>(_ i: Int, _ body: (UnsafeRawBufferPointer) -> R) -> R {
        i == 0 ? head!.withUnsafeReadableBytes(body) : rest[restHead + i - 1].bytes.withUnsafeReadableBytes(body)
    }

    /// The kernel took `sent` bytes from the front. Fully sent entries leave the queue; their
    /// callbacks are returned in order, for the caller to run once its own state is settled.
    mutating func consume(_ sent: Int) -> [() -> Void] {
        if count == 1 && sent == bytes && headOnWritten == nil {
            // One reply, all of it taken, no one waiting on it: the P=1 case.
            head = nil
            count = 0
            bytes = 0
            return []
        }
        var left = sent
        var done: [() -> Void] = []
        while count > 0 {
            let readable = head!.readableBytes
            let take = min(left, readable)
            bytes -= take
            left -= take
            if take < readable {
                head!.moveReaderIndex(forwardBy: take)
                break
            }
            if let w = headOnWritten { done.append(w) }
            popHead()
        }
        return done
    }

    /// True once, when the queue fell under the low mark after being over the high one.
    mutating func becameWritable() -> Bool {
        guard !isWritable && bytes < Self.lowMark else { return false }
        isWritable = true
        return true
    }

    /// The buffers still queued (a send in flight may read them after a close).
    var buffers: [ByteBuffer] {
        guard count > 0 else { return [] }
        return [head!] + rest[restHead...].map(\.bytes)
    }

    /// Empties the queue (a close): the callbacks of what never left, in order.
    mutating func removeAll() -> [() -> Void] {
        var waiting: [() -> Void] = []
        if count > 0, let w = headOnWritten { waiting.append(w) }
        for e in rest[restHead...] { if let w = e.onWritten { waiting.append(w) } }
        head = nil
        headOnWritten = nil
        rest.removeAll()
        restHead = 0
        count = 0
        bytes = 0
        return waiting
    }

    private mutating func popHead() {
        count -= 1
        if restHead < rest.count {
            head = rest[restHead].bytes
            headOnWritten = rest[restHead].onWritten
            restHead += 1
            if restHead == rest.count {
                rest.removeAll(keepingCapacity: rest.capacity <= 64)
                restHead = 0
            }
        } else {
            // Drops the sent buffer at once: the handler reuses its reply buffer, which must be
            // unshared by then or its next write copies it.
            head = nil
            headOnWritten = nil
        }
    }
}
#endif
