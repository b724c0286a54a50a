#if os(Linux)
import Atomics
import CLarderSupport
import CLiburing
import Dispatch
import Foundation
import Glibc
import NIOConcurrencyHelpers
import NIOCore

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
/// only when the loop is asleep or about to be (`ShardMailbox`: flag, fence, re-check). A peer
/// loop's hops wake it once per turn, by an IORING_OP_MSG_RING in the peer's own submission
/// (`wakePeer`, `ShardMailbox.flushWakes`).
final class UringEventLoop: EngineEventLoop, MailboxWaker, @unchecked Sendable {
    /// What a request was, in its user_data's top byte.
    enum Op: UInt8 {
        case wake = 1, accept, recv, send, cancel
        /// A peer loop's IORING_OP_MSG_RING (its hops of a turn are on our rings): nothing to do.
        case peerWake
        /// Our IORING_OP_MSG_RING to peer `fd` failed (its ring is gone, or refused): the eventfd.
        case peerWakeFailed
    }

    let index: Int
    let mailbox: HopMailbox
    let inbox: LoopInbox
    /// Made on the loop's thread (single issuer), in setUp.
    private var ring: OpaquePointer? = nil
    private let wakeFd: Int32
    /// The ring's descriptor, for the peers' IORING_OP_MSG_RING wake-ups (-1 before setUp).
    private(set) var ringFd: Int32 = -1
    /// Whether this kernel has IORING_OP_MSG_RING; the peers' descriptors, learnt at first use.
    private var msgRing = false
    private var peerRingFds: [Int32] = []
    private let wakeValue: UnsafeMutablePointer<UInt64>
    private let lock = NIOLock()
    private var running = true
    private(set) var thread: pthread_t? = nil
    var timers = LoopTimers()
    let timerIds = ManagedAtomic<UInt64>(0)
    let stopped = DispatchSemaphore(value: 0)
    /// LARDER_URING_WAIT_POLL: wait in poll(2) on the ring instead of in io_uring_enter, for
    /// bench/instr_per_op.sh under valgrind 3.19 (which stalls every thread while one is in
    /// io_uring_enter). Same user-space path otherwise; one more system call per idle turn.
    private static let waitInPoll = ProcessInfo.processInfo.environment["LARDER_URING_WAIT_POLL"].map { !$0.isEmpty } ?? false

    /// Per-descriptor owners and a generation each (bumped at every registration), indexed by
    /// descriptor: a completion whose generation is not the slot's is stale and dropped.
    /// The owner is a concrete class picked by the completion's tag (accept: the listener; recv,
    /// send: a connection), called without an existential, and the slot holds the connection
    /// as an unmanaged +1 so the call needs no retain/release of its own: the two retains of
    /// the connection around each request's completions were ~150 user instructions per
    /// unpipelined GET under callgrind (bench/results/engine.md, "Fewer instructions per request").
    private struct Slot {
        var gen: UInt32 = 0
        var connection: Unmanaged<UringConnection>? = nil
        var listener: UringListener? = nil
    }
    private var slots: [Slot] = []
    /// Connections unregistered during this reap: released after it, as one of them may be
    /// the one whose completion is running (the slot's reference may be its last).
    private var released: [Unmanaged<UringConnection>] = []
    private var cqes: UnsafeMutablePointer<larder_cqe>
    private static let reapBatch = 256
    static let ringEntries: UInt32 = 1024

    /// The provided buffer ring (group 0): `bufferCount` buffers of `bufferSize` bytes. Memory
    /// from mmap, like the kernel's socket buffers it replaces, so it is not counted as the
    /// allocator's used_memory (maxmemory). 64 rather than 128: the kernel takes the ring's
    /// buffers in turn, so every one ends up resident (128 x 16 KB was 2 MB of RSS per loop, the
    /// whole of uring's RSS margin over epoll in bench/memory.sh); a turn rarely holds more than
    /// 64 reads, and one that does re-arms its recvs (ENOBUFS) once the buffers are back.
    static let bufferCount: UInt32 = 64, bufferSize: UInt32 = 16 * 1024
    private var bufferBase: UnsafeMutablePointer<UInt8>? = nil
    private var bufferRing: UnsafeMutableRawPointer? = nil

    let allocator = ByteBufferAllocator()
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
        let started = DispatchSemaphore(value: 0)
        var failure: Error? = nil
        mailbox.attach(index, waker: self)
        let t = Thread { [self] in
            lock.withLock { thread = pthread_self() }
            mailbox.enterThread(index)
            mailbox.deferWakes(index)
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
        ringFd = larder_uring_fd(ring)
        msgRing = larder_uring_has_msg_ring(ring) != 0
        armWake()
    }

    private func armWake() {
        larder_uring_prep_read(ring, wakeFd, wakeValue, 8, UInt64(Op.wake.rawValue) << 56)
    }

    // MARK: EventLoop

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

    /// At the end of a turn, peer `to` (asleep, and owed a wake-up by this turn's hops): a
    /// completion posted on its ring (IORING_OP_MSG_RING) in the submission this turn's wait
    /// makes anyway, instead of a write(2) of its eventfd of its own: no system call, and the
    /// peer needs no read re-armed. The eventfd where the kernel lacks it or it fails.
    private func wakePeer(_ to: Int) {
        if msgRing {
            if peerRingFds.isEmpty { peerRingFds = [Int32](repeating: -1, count: mailbox.threads) }
            var fd = peerRingFds[to]
            if fd < 0, let peer = mailbox.waker(to) as? UringEventLoop {
                fd = peer.ringFd
                peerRingFds[to] = fd
            }
            if fd >= 0 {
                larder_uring_prep_msg_ring(ring, fd, UInt64(Op.peerWake.rawValue) << 56,
                                           Self.userData(.peerWakeFailed, fd: Int32(to), gen: 0))
                return
            }
        }
        mailbox.waker(to)?.wakeFromMailbox()
    }

    static var engineName: String { "io_uring" }

    func stopRunning() { running = false }

    // MARK: descriptors and requests (on the loop)

    /// Makes `connection` the owner of `fd`'s completions; returns the generation its requests carry.
    func register(fd: Int32, connection: UringConnection) -> UInt32 {
        let gen = nextGeneration(fd)
        slots[Int(fd)].connection = Unmanaged.passRetained(connection)
        return gen
    }

    /// Makes `listener` the owner of `fd`'s accepts; returns the generation they carry.
    func register(fd: Int32, listener: UringListener) -> UInt32 {
        let gen = nextGeneration(fd)
        slots[Int(fd)].listener = listener
        return gen
    }

    private func nextGeneration(_ fd: Int32) -> UInt32 {
        let i = Int(fd)
        if i >= slots.count { slots.append(contentsOf: repeatElement(Slot(), count: i + 64 - slots.count)) }
        let gen = (slots[i].gen &+ 1) & 0xff_ffff
        slots[i].gen = gen
        return gen
    }

    /// Drops `fd`'s owner: later completions of its requests are stale. Call only once none is in
    /// flight (or they were cancelled), before the descriptor is closed and its number reused.
    func unregister(fd: Int32) {
        guard Int(fd) < slots.count else { return }
        if let c = slots[Int(fd)].connection { released.append(c) }
        slots[Int(fd)].connection = nil
        slots[Int(fd)].listener = nil
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

    func needsRearm(_ c: UringConnection) { toRearm.append(c) }

    /// A received chunk where the kernel put it (provided buffer `flags`' id, `count` bytes):
    /// valid until that buffer is recycled.
    func receivedBytes(flags: UInt32, count: Int) -> UnsafeMutableRawBufferPointer {
        let bid = larder_uring_cqe_bid(flags)
        return UnsafeMutableRawBufferPointer(start: bufferBase! + Int(bid) * Int(Self.bufferSize), count: count)
    }

    /// Gives back the provided buffer a completion carries, if it carries one.
    func recycle(flags: UInt32) {
        guard larder_uring_cqe_has_buffer(flags) != 0 else { return }
        larder_uring_buf_return(bufferRing, Self.bufferCount, bufferBase, Self.bufferSize,
                                larder_uring_cqe_bid(flags))
    }

    // MARK: the loop

    private func run() {
        // Held once for the loop's life: reaching them through `self` each turn cost a retain
        // and a release per call.
        let inbox = self.inbox, mailbox = self.mailbox
        while running {
            // Work sent by other threads: the queue and the hop rings (LoopInbox: the orders kept).
            inbox.drain()
            // Timers that are due.
            if !timers.isEmpty {
                let now = DispatchTime.now().uptimeNanoseconds
                while let t = timers.popDue(now: now) { t.run() }
            }
            guard running else { break }
            // Receives to re-arm (replies were prepared as they were written).
            if !toRearm.isEmpty {
                for c in toRearm { c.rearm() }
                toRearm.removeAll(keepingCapacity: true)
            }
            // The peers this turn's hops went to, woken once each if they sleep.
            mailbox.flushWakes(index, self) { $0.wakePeer($1) }
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
        failTimersAtStop()
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
                let tag = UInt8(truncatingIfNeeded: c.user_data >> 56)
                let fd = Int(Int32(bitPattern: UInt32(truncatingIfNeeded: c.user_data)))
                let gen = UInt32(truncatingIfNeeded: c.user_data >> 32) & 0xff_ffff
                let current = fd >= 0 && fd < slots.count && slots[fd].gen == gen
                switch tag {
                case Op.recv.rawValue, Op.send.rawValue:
                    if current, let conn = slots[fd].connection {
                        if tag == Op.recv.rawValue {
                            conn._withUnsafeGuaranteedRef { $0.received(c.res, flags: c.flags) }
                        } else {
                            conn._withUnsafeGuaranteedRef { $0.sent(c.res) }
                        }
                    } else {
                        recycle(flags: c.flags)  // a stale receive still holds a buffer
                    }
                case Op.accept.rawValue:
                    if current, let l = slots[fd].listener {
                        l.completion(.accept, result: c.res, flags: c.flags)
                    } else if c.res >= 0 {
                        Glibc.close(c.res)  // accepted as the listener closed
                    }
                case Op.wake.rawValue:
                    armWake()
                case Op.peerWakeFailed.rawValue:
                    mailbox.waker(fd)?.wakeFromMailbox()
                default:
                    break  // a cancel's own completion
                }
            }
            if !released.isEmpty {
                for c in released { c.release() }
                released.removeAll(keepingCapacity: true)
            }
            if n < Self.reapBatch { return }
        }
    }
}

/// The threads of the io_uring engine, one per shard.
final class UringEventLoopGroup: EngineEventLoopGroup, @unchecked Sendable {
    let loops: [UringEventLoop]
    let nextIndex = ManagedAtomic<Int>(0)

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
}
#endif
