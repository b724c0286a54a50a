#if os(Linux)
import Atomics
import CLarderSupport
import CLiburing
import Dispatch
import Foundation
import Glibc
import NIOConcurrencyHelpers
import NIOCore

/// The owner of a descriptor's requests on a `UringEventLoop`: told of their completions, on the loop.
protocol UringHandler: AnyObject {
    func completion(_ op: UringEventLoop.Op, result: Int32, flags: UInt32)
}

/// One worker thread of the io_uring engine (`--io uring`; docs/ARCHITECTURE.md "I/O engine"):
/// an io_uring over the RESP connections it owns, plus the work other threads send it. Like
/// `EpollEventLoop` it conforms to NIO's `EventLoop`, so hops, borrows, bulk loads, HTTP's
/// runOnShard, timers and futures run on it unchanged.
///
/// One turn: the work other threads sent (the group's `ShardMailbox` rings and the `LoopInbox`
/// queue, as on epoll), the timers that are due, then ONE `io_uring_enter` that submits every
/// request prepared since the last turn (the replies of the whole turn, re-armed receives) and
/// waits for completions. Connections receive with a multishot recv into the loop's provided
/// buffer ring, so a request costs no system call of its own. `execute` from another shard
/// thread goes over its ring; the eventfd (a read of it is always armed on the ring) is written
/// only when the loop is asleep or about to be (`ShardMailbox`: flag, fence, re-check).
final class UringEventLoop: EventLoop, MailboxWaker, @unchecked Sendable {
    /// What a request was, in its user_data's top byte.
    enum Op: UInt8 {
        case wake = 1, accept, recv, send, cancel
    }

    let index: Int
    let mailbox: HopMailbox
    let inbox: LoopInbox
    /// Made on the loop's thread (single issuer), in setUp.
    private var ring: OpaquePointer? = nil
    private let wakeFd: Int32
    private let wakeValue: UnsafeMutablePointer<UInt64>
    private let lock = NIOLock()
    private var running = true
    private var thread: pthread_t? = nil
    private var timers = LoopTimers()
    private var nextTimerId: UInt64 = 0
    private let stopped = DispatchSemaphore(value: 0)
    /// LARDER_URING_WAIT_POLL: wait in poll(2) on the ring instead of in io_uring_enter, for
    /// bench/instr_per_op.sh under valgrind 3.19 (which stalls every thread while one is in
    /// io_uring_enter). Same user-space path otherwise; one more system call per idle turn.
    private static let waitInPoll = ProcessInfo.processInfo.environment["LARDER_URING_WAIT_POLL"].map { !$0.isEmpty } ?? false

    /// Per-descriptor owners and a generation each (bumped at every registration), indexed by
    /// descriptor: a completion whose generation is not the slot's is stale and dropped.
    private var slots: [(gen: UInt32, handler: UringHandler?)] = []
    private var cqes: UnsafeMutablePointer<larder_cqe>
    private static let reapBatch = 256
    static let ringEntries: UInt32 = 1024

    /// The provided buffer ring (group 0): `bufferCount` buffers of `bufferSize` bytes. Memory
    /// from mmap, like the kernel's socket buffers it replaces, so it is not counted as the
    /// allocator's used_memory (maxmemory).
    static let bufferCount: UInt32 = 128, bufferSize: UInt32 = 16 * 1024
    private var bufferBase: UnsafeMutablePointer<UInt8>? = nil
    private var bufferRing: UnsafeMutableRawPointer? = nil

    /// The read buffer shared by this thread's connections: a received chunk is copied into it
    /// and handed to the handler, which keeps only a partial command.
    var readBuffer: ByteBuffer?
    let allocator = ByteBufferAllocator()
    /// Connections with replies queued and no send in flight: sent (one request each) just
    /// before the turn's io_uring_enter, so a turn's replies go in one system call.
    private var toFlush: [UringConnection] = []
    /// Connections whose multishot recv stopped (the buffer ring ran dry): re-armed before the enter.
    private var toRearm: [UringConnection] = []

    /// Sets the loop up on its own thread (the ring is single-issuer: the thread that submits
    /// is the one that made it). Fails if the ring or its buffer ring cannot be made.
    init(index: Int, name: String, mailbox: HopMailbox) throws {
        self.index = index
        self.mailbox = mailbox
        inbox = LoopInbox(index: index, mailbox: mailbox)
        wakeValue = .allocate(capacity: 1)
        cqes = .allocate(capacity: Self.reapBatch)
        wakeFd = eventfd(0, Int32(EFD_CLOEXEC))
        guard wakeFd >= 0 else { throw IOError(errnoCode: errno, reason: "eventfd") }
        readBuffer = allocator.buffer(capacity: Int(Self.bufferSize))
        let started = DispatchSemaphore(value: 0)
        var failure: Error? = nil
        mailbox.attach(index, waker: self)
        let t = Thread { [self] in
            lock.withLock { thread = pthread_self() }
            mailbox.enterThread(index)
            do {
                try setUp()
            } catch {
                failure = error
                started.signal()
                return
            }
            started.signal()
            run()
        }
        t.name = name
        t.stackSize = 8 << 20
        t.start()
        started.wait()
        if let failure { throw failure }  // deinit closes the eventfd
    }

    deinit {
        cqes.deallocate()
        wakeValue.deallocate()
        Glibc.close(wakeFd)
    }

    private func setUp() throws {
        var rc: Int32 = 0
        guard let made = larder_uring_create(Self.ringEntries, &rc) else { throw IOError(errnoCode: -rc, reason: "io_uring_queue_init") }
        ring = made
        let bytes = Int(Self.bufferCount * Self.bufferSize)
        guard let mem = mmap(nil, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), Int(bitPattern: mem) != -1 else {
            larder_uring_destroy(ring)
            ring = nil
            throw IOError(errnoCode: errno, reason: "mmap of the provided buffers")
        }
        bufferBase = mem.assumingMemoryBound(to: UInt8.self)
        var err: Int32 = 0
        guard let br = larder_uring_buf_ring_setup(ring, Self.bufferCount, 0, bufferBase, Self.bufferSize, &err) else {
            munmap(mem, bytes)
            larder_uring_destroy(ring)
            ring = nil
            throw IOError(errnoCode: -err, reason: "io_uring_register_buf_ring")
        }
        bufferRing = br
        armWake()
    }

    private func armWake() {
        larder_uring_prep_read(ring, wakeFd, wakeValue, 8, UInt64(Op.wake.rawValue) << 56)
    }

    // MARK: EventLoop

    var inEventLoop: Bool {
        guard let thread else { return false }
        return pthread_equal(thread, pthread_self()) != 0
    }

    func execute(_ task: @escaping @Sendable () -> Void) {
        if let from = mailbox.senderIndex, from != index {
            mailbox.send(.task(task), from: from, to: index)
            return
        }
        inbox.enqueue(task)
    }

    /// Only called when the loop is asleep or about to be: the armed read of the eventfd
    /// completes and ends its io_uring_enter.
    func wakeFromMailbox() {
        var one: UInt64 = 1
        _ = write(wakeFd, &one, 8)
    }

    func scheduleTask<T>(deadline: NIODeadline, _ task: @escaping @Sendable () throws -> T) -> Scheduled<T> {
        let promise: EventLoopPromise<T> = makePromise()
        let id: UInt64 = lock.withLock { nextTimerId += 1; return nextTimerId }
        let at = deadline.uptimeNanoseconds
        let insert = { [self] in
            timers.add(LoopTimers.Timer(deadline: at, id: id, run: {
                do { promise.succeed(try task()) } catch { promise.fail(error) }
            }, fail: { promise.fail($0) }))
        }
        if inEventLoop { insert() } else { execute(insert) }
        return Scheduled(promise: promise) { [self] in
            let cancel = { [self] in
                if timers.cancel(id: id) { promise.fail(EventLoopError.cancelled) }
            }
            if inEventLoop { cancel() } else { execute(cancel) }
        }
    }

    func scheduleTask<T>(in delay: TimeAmount, _ task: @escaping @Sendable () throws -> T) -> Scheduled<T> {
        scheduleTask(deadline: .now() + delay, task)
    }

    func preconditionInEventLoop(file: StaticString, line: UInt) {
        precondition(inEventLoop, "not on the io_uring loop \(index)", file: file, line: line)
    }

    func preconditionNotInEventLoop(file: StaticString, line: UInt) {
        precondition(!inEventLoop, "on the io_uring loop \(index)", file: file, line: line)
    }

    func shutdownGracefully(queue callbackQueue: DispatchQueue, _ callback: @escaping @Sendable (Error?) -> Void) {
        execute { [self] in running = false }
        DispatchQueue.global().async { [self] in
            stopped.wait(); stopped.signal()
            callbackQueue.async { callback(nil) }
        }
    }

    // MARK: descriptors and requests (on the loop)

    /// Makes `handler` the owner of `fd`'s completions; returns the generation its requests carry.
    func register(fd: Int32, handler: UringHandler) -> UInt32 {
        let i = Int(fd)
        if i >= slots.count { slots.append(contentsOf: repeatElement((gen: UInt32(0), handler: UringHandler?.none), count: i + 64 - slots.count)) }
        let gen = (slots[i].gen &+ 1) & 0xff_ffff
        slots[i] = (gen, handler)
        return gen
    }

    /// Drops `fd`'s owner: later completions of its requests are stale. Call only once none is in
    /// flight (or they were cancelled), before the descriptor is closed and its number reused.
    func unregister(fd: Int32) {
        if Int(fd) < slots.count { slots[Int(fd)].handler = nil }
    }

    static func userData(_ op: Op, fd: Int32, gen: UInt32) -> UInt64 {
        UInt64(op.rawValue) << 56 | UInt64(gen) << 32 | UInt64(UInt32(bitPattern: fd))
    }

    func prepareAccept(fd: Int32, gen: UInt32) {
        larder_uring_prep_multishot_accept(ring, fd, Self.userData(.accept, fd: fd, gen: gen))
    }

    func prepareRecv(fd: Int32, gen: UInt32) {
        larder_uring_prep_recv_multishot(ring, fd, 0, Self.userData(.recv, fd: fd, gen: gen))
    }

    func prepareSend(fd: Int32, gen: UInt32, _ bytes: UnsafeRawBufferPointer) {
        larder_uring_prep_send(ring, fd, bytes.baseAddress, bytes.count, Self.userData(.send, fd: fd, gen: gen))
    }

    func prepareSendmsg(fd: Int32, gen: UInt32, _ msg: UnsafeMutablePointer<msghdr>) {
        larder_uring_prep_sendmsg(ring, fd, msg, Self.userData(.send, fd: fd, gen: gen))
    }

    /// Cancels `fd`'s requests of kind `op` (the cancel's own completion is ignored).
    func prepareCancel(_ op: Op, fd: Int32, gen: UInt32) {
        larder_uring_prep_cancel(ring, Self.userData(op, fd: fd, gen: gen), UInt64(Op.cancel.rawValue) << 56)
    }

    func needsFlush(_ c: UringConnection) { toFlush.append(c) }
    func needsRearm(_ c: UringConnection) { toRearm.append(c) }

    /// Copies a received chunk (provided buffer `flags`' id, `count` bytes) into the shared read
    /// buffer, and gives the provided buffer back to the kernel at once.
    func takeReceived(flags: UInt32, count: Int) -> ByteBuffer {
        var b = readBuffer ?? allocator.buffer(capacity: Int(Self.bufferSize))
        readBuffer = nil
        b.clear()
        let bid = larder_uring_cqe_bid(flags)
        b.writeBytes(UnsafeRawBufferPointer(start: bufferBase! + Int(bid) * Int(Self.bufferSize), count: count))
        recycle(flags: flags)
        return b
    }

    /// Gives back the provided buffer a completion carries, if it carries one.
    func recycle(flags: UInt32) {
        guard larder_uring_cqe_has_buffer(flags) != 0 else { return }
        larder_uring_buf_return(bufferRing, Self.bufferCount, bufferBase, Self.bufferSize,
                                larder_uring_cqe_bid(flags))
    }

    // MARK: the loop

    private func run() {
        while running {
            // Work sent by other threads: the queue and the hop rings (LoopInbox: the orders kept).
            inbox.drain()
            // Timers that are due.
            if !timers.isEmpty {
                let now = DispatchTime.now().uptimeNanoseconds
                while let t = timers.popDue(now: now) { t.run() }
            }
            guard running else { break }
            // The turn's requests: receives to re-arm, then the replies queued since the last enter.
            if !toRearm.isEmpty {
                for c in toRearm { c.rearm() }
                toRearm.removeAll(keepingCapacity: true)
            }
            if !toFlush.isEmpty {
                let flushing = toFlush
                toFlush.removeAll(keepingCapacity: true)
                for c in flushing { c.flush() }
            }
            var timeout: Int64 = -1
            if let ns = timers.nanosecondsToFirst() { timeout = Int64(min(ns, 60_000_000_000)) }
            if timeout != 0 {
                // Asleep only if nothing came meanwhile; a sender that sees the flag writes the
                // eventfd (ShardMailbox: flag, fence, re-check).
                if !mailbox.prepareToSleep(index) {
                    timeout = 0
                } else if !inbox.isEmpty {
                    mailbox.awake(index)
                    timeout = 0
                }
            }
            if Self.waitInPoll {
                _ = larder_uring_submit_then_poll(ring, timeout == 0 ? 0 : 1, timeout)
            } else {
                _ = larder_uring_submit_and_wait(ring, timeout == 0 ? 0 : 1, timeout)
            }
            if timeout != 0 { mailbox.awake(index) }
            reap()
        }
        // Stopped: what is still scheduled never runs; its futures fail, as on NIO's loops.
        // (A failure's callbacks may schedule again: those are failed in the next round.)
        while !timers.isEmpty {
            for t in timers.takeAll() { t.fail(EventLoopError.shutdown) }
        }
        // The ring goes with the loop (its requests are cancelled), then the buffers they used.
        larder_uring_destroy(ring)
        ring = nil
        if let bufferBase { munmap(bufferBase, Int(Self.bufferCount * Self.bufferSize)) }
        bufferBase = nil
        stopped.signal()
    }

    private func reap() {
        while true {
            let n = Int(larder_uring_reap(ring, cqes, UInt32(Self.reapBatch)))
            for i in 0..<n {
                let c = cqes[i]
                guard let op = Op(rawValue: UInt8(truncatingIfNeeded: c.user_data >> 56)) else { continue }
                switch op {
                case .wake:
                    armWake()
                case .cancel:
                    break
                default:
                    let fd = Int32(bitPattern: UInt32(truncatingIfNeeded: c.user_data))
                    let gen = UInt32(truncatingIfNeeded: c.user_data >> 32) & 0xff_ffff
                    if Int(fd) < slots.count, slots[Int(fd)].gen == gen, let h = slots[Int(fd)].handler {
                        h.completion(op, result: c.res, flags: c.flags)
                    } else {
                        recycle(flags: c.flags)  // a stale receive still holds a buffer
                        if op == .accept && c.res >= 0 { Glibc.close(c.res) }  // accepted as the listener closed
                    }
                }
            }
            if n < Self.reapBatch { return }
        }
    }
}

/// The threads of the io_uring engine, one per shard.
final class UringEventLoopGroup: EventLoopGroup, @unchecked Sendable {
    let loops: [UringEventLoop]
    private let nextIndex = ManagedAtomic<Int>(0)

    /// Nil if this kernel (or its settings) runs what the engine needs; else why not.
    /// `LARDER_IO_URING_PROBE_FAIL` (tests only, docs/ARCHITECTURE.md) makes it fail with that reason.
    static func unavailableReason() -> String? {
        if let forced = ProcessInfo.processInfo.environment["LARDER_IO_URING_PROBE_FAIL"], !forced.isEmpty {
            return "probe failure forced by LARDER_IO_URING_PROBE_FAIL=\(forced)"
        }
        return probeResult
    }

    /// The probe runs once per process, on a thread of its own that then exits: tearing the
    /// probe's ring down leaves task work queued on the thread that submitted to it, which marks
    /// that thread as signalled, so its next blocking call with a timeout failed with EINTR (a
    /// `recv` under SO_RCVTIMEO on the thread that started the server: seen in the unit tests).
    private static let probeResult: String? = {
        final class Box: @unchecked Sendable { var why: String? }
        let box = Box()
        let done = DispatchSemaphore(value: 0)
        Thread {
            var why = [CChar](repeating: 0, count: 256)
            box.why = larder_uring_probe(&why, why.count) == 0 ? nil : String(cString: why)
            done.signal()
        }.start()
        done.wait()
        return box.why
    }()

    init(numberOfThreads: Int) throws {
        let mailbox = HopMailbox(threads: numberOfThreads)
        var loops: [UringEventLoop] = []
        for i in 0..<numberOfThreads {
            do {
                loops.append(try UringEventLoop(index: i, name: "larder-uring-\(i)", mailbox: mailbox))
            } catch {
                for l in loops { try? l.syncShutdownGracefully() }
                throw error
            }
        }
        self.loops = loops
    }

    func next() -> EventLoop {
        loops[nextIndex.loadThenWrappingIncrement(ordering: .relaxed) % loops.count]
    }

    func makeIterator() -> EventLoopIterator { EventLoopIterator(loops) }

    func shutdownGracefully(queue: DispatchQueue, _ callback: @escaping @Sendable (Error?) -> Void) {
        let left = ManagedAtomic<Int>(loops.count)
        for loop in loops {
            loop.shutdownGracefully(queue: .global()) { _ in
                if left.wrappingDecrementThenLoad(ordering: .acquiringAndReleasing) == 0 { queue.async { callback(nil) } }
            }
        }
    }

    func _preconditionSafeToSyncShutdown(file: StaticString, line: UInt) {
        precondition(!loops.contains { $0.inEventLoop }, "shutting down the io_uring loops from one of them", file: file, line: line)
    }
}
#endif
