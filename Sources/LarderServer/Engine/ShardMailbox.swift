import Atomics
import CLarderSupport
import NIOConcurrencyHelpers

/// What one shard thread sends another (docs/ARCHITECTURE.md "A pipelined batch and the shard
/// hop"). A batch and its replies travel as the batch's reference: no closure is allocated for
/// the hop. Anything else a shard thread sends another (`EventLoop.execute`: borrows, pub/sub,
/// unwatch...) is a `.task`, on the same ring, so a pair of threads sees all of it in order.
enum HopMessage {
    /// Run these commands on the receiving thread's shard (RemoteBatch.arrived).
    case batch(RemoteBatch)
    /// Their replies, back on the sending connection's thread (RemoteBatch.repliesArrived).
    case replies(RemoteBatch)
    case task(() -> Void)
    /// Where, in this pair's order, an ordered message (pub/sub) the sender put in the
    /// receiver's `LoopInbox` belongs (LoopInbox: cross-sender order). Delivers nothing itself.
    case mark

    @inline(__always)
    func deliver() {
        switch self {
        case .batch(let b): b.arrived()
        case .replies(let b): b.repliesArrived()
        case .task(let t): t()
        case .mark: break
        }
    }

    @inline(__always)
    var isMark: Bool {
        if case .mark = self { return true }
        return false
    }
}

typealias HopMailbox = ShardMailbox<HopMessage>

/// A loop that a mailbox wakes when a message arrives while it sleeps (the epoll loop writes its
/// eventfd; an io_uring loop can do the same or use IORING_OP_MSG_RING).
protocol MailboxWaker: AnyObject {
    func wakeFromMailbox()
}

/// One direction between two threads: a fixed ring of `capacity` (a power of two) slots that
/// one thread pushes to and one pops from, lock-free. When it is full the producer does not
/// wait: the message goes to a locked `spill` list, and so do all later ones until the consumer
/// has taken the spilled ones, so the order is kept (never blocks, never drops).
///
/// The producer's index (`tail`, with its cached copy of `head`) and the consumer's (`head`)
/// sit on separate 128-byte blocks (two cache lines: the adjacent-line prefetcher pairs them),
/// so a push and a pop do not bounce one line between the cores; the spill count has its own.
final class SPSCLane<Element>: @unchecked Sendable {
    let capacity: Int
    private let mask: Int
    private let slots: UnsafeMutablePointer<Element>
    private let control: UnsafeMutableRawPointer
    private let tail: UnsafeAtomic<Int>        // producer's block
    private let cachedHead: UnsafeMutablePointer<Int>  // producer's block, producer only
    private let sentCount: UnsafeMutablePointer<Int>   // producer's block, producer only
    private let head: UnsafeAtomic<Int>        // consumer's block
    private let receivedCount: UnsafeMutablePointer<Int>  // consumer's block, consumer only
    /// Messages in `spill` not delivered yet: while it is not 0 the producer spills too.
    private let spilled: UnsafeAtomic<Int>
    private let spillLock = NIOLock()
    private var spill: [Element] = []
    private static var block: Int { 128 }

    init(capacity: Int) {
        precondition(capacity > 0 && capacity & (capacity - 1) == 0, "lane capacity \(capacity) is not a power of two")
        self.capacity = capacity
        mask = capacity - 1
        slots = .allocate(capacity: capacity)
        let control = UnsafeMutableRawPointer.allocate(byteCount: 3 * Self.block, alignment: Self.block)
        self.control = control
        tail = Self.atomic(control, at: 0)
        let cached = (control + 8).bindMemory(to: Int.self, capacity: 1)
        cached.initialize(to: 0)
        cachedHead = cached
        let sent = (control + 16).bindMemory(to: Int.self, capacity: 1)
        sent.initialize(to: 0)
        sentCount = sent
        head = Self.atomic(control, at: Self.block)
        let received = (control + Self.block + 8).bindMemory(to: Int.self, capacity: 1)
        received.initialize(to: 0)
        receivedCount = received
        spilled = Self.atomic(control, at: 2 * Self.block)
    }

    private static func atomic(_ base: UnsafeMutableRawPointer, at offset: Int) -> UnsafeAtomic<Int> {
        let p = (base + offset).bindMemory(to: UnsafeAtomic<Int>.Storage.self, capacity: 1)
        p.initialize(to: .init(0))
        return UnsafeAtomic(at: p)
    }

    deinit {
        var h = head.load(ordering: .relaxed)
        let t = tail.load(ordering: .relaxed)
        while h != t { (slots + (h & mask)).deinitialize(count: 1); h &+= 1 }
        slots.deallocate()
        control.deallocate()
    }

    // MARK: producer

    /// Into the ring if it has room; false when it is full.
    @inline(__always)
    func push(_ e: Element) -> Bool {
        let t = tail.load(ordering: .relaxed)
        if t &- cachedHead.pointee == capacity {
            // Only when the ring looks full is the consumer's line read.
            cachedHead.pointee = head.load(ordering: .acquiring)
            if t &- cachedHead.pointee == capacity { return false }
        }
        (slots + (t & mask)).initialize(to: e)
        tail.store(t &+ 1, ordering: .releasing)
        return true
    }

    /// Sends `e`: into the ring, or, when it is full or earlier messages are still spilled,
    /// into the spill list. Returns false when it spilled.
    @inline(__always)
    @discardableResult
    func send(_ e: Element) -> Bool {
        sentCount.pointee &+= 1
        if spilled.load(ordering: .acquiring) == 0 && push(e) { return true }
        spillLock.withLock {
            spill.append(e)
            spilled.wrappingIncrement(ordering: .releasing)
        }
        return false
    }

    /// Messages sent so far (ring and spill). Producer only.
    var sent: Int { sentCount.pointee }

    // MARK: consumer

    /// Messages taken so far (`sent` counts the same sequence). Consumer only.
    var received: Int { receivedCount.pointee }

    /// Pops what is in the ring now, in order, until `accept` refuses one (left in place);
    /// returns how many it took and whether it stopped at a refused one.
    @inline(__always)
    private func popAll(_ accept: (UnsafePointer<Element>) -> Bool, _ body: (Element) -> Void) -> (Int, Bool) {
        var h = head.load(ordering: .relaxed)
        let t = tail.load(ordering: .acquiring)
        var n = 0
        while h != t {
            let slot = slots + (h & mask)
            if !accept(slot) { return (n, true) }
            let e = slot.move()
            h &+= 1
            n &+= 1
            receivedCount.pointee &+= 1
            head.store(h, ordering: .releasing)  // the slot is free before the message runs
            body(e)
        }
        return (n, false)
    }

    /// Delivers every message sent so far, in the order they were sent; returns how many.
    @inline(__always)
    func drain(_ body: (Element) -> Void) -> Int {
        drain({ _ in true }, body).taken
    }

    /// Delivers the messages sent so far, in order, up to the first one `accept` refuses (which
    /// stays first); `stopped` says whether one was refused. `accept` looks at the message where
    /// it lies (a copy of it would cost a retain and a release of its payload).
    @inline(__always)
    func drain(_ accept: (UnsafePointer<Element>) -> Bool, _ body: (Element) -> Void) -> (taken: Int, stopped: Bool) {
        var (n, stopped) = popAll(accept, body)
        if !stopped && spilled.load(ordering: .acquiring) != 0 {
            let (m, s) = drainSpill(accept, body)
            n += m
            stopped = s
        }
        return (n, stopped)
    }

    @inline(never)
    private func drainSpill(_ accept: (UnsafePointer<Element>) -> Bool, _ body: (Element) -> Void) -> (Int, Bool) {
        let taken: [Element] = spillLock.withLock {
            let s = spill
            spill = []
            return s
        }
        // The lock made every push before the first spilled message visible: those go first.
        // Nothing is pushed after them while `spilled` is not 0.
        var (n, stopped) = popAll(accept, body)
        var i = 0
        if !stopped {
            while i < taken.count {
                if !taken.withUnsafeBufferPointer({ accept($0.baseAddress! + i) }) { stopped = true; break }
                receivedCount.pointee &+= 1
                body(taken[i])
                i += 1
            }
        }
        if i < taken.count {
            // Refused (or the ring refused first): the rest goes back in front of what was
            // spilled since, still counted in `spilled`, so the order is kept.
            let rest = taken[i...]
            spillLock.withLock { spill.insert(contentsOf: rest, at: 0) }
        }
        n += i
        if i > 0 { spilled.wrappingDecrement(by: i, ordering: .releasing) }
        return (n, stopped)
    }

    /// Consumer's check before it sleeps (after the mailbox's fence): anything sent?
    @inline(__always)
    var hasMessages: Bool {
        head.load(ordering: .relaxed) != tail.load(ordering: .acquiring) || spilled.load(ordering: .acquiring) != 0
    }
}

/// The hop channels of a group of shard threads, engine-neutral (the epoll loop and an io_uring
/// loop drain it the same way): one `SPSCLane` per ordered pair of threads, and per thread a
/// `sleeping` flag that decides whether a sender must wake it.
///
/// Wake-up, Dekker-style, so a busy thread is never woken and a sleeping one never missed:
/// - the receiver, before it blocks: sets `sleeping`, full fence, checks its lanes (and the
///   loop its own queue) again; if anything is there it clears the flag and does not block.
/// - a sender: pushes, full fence, reads the flag; only if it is set (and this sender is the
///   one that clears it) does it call the loop's `wakeFromMailbox` (a system call).
/// Either the receiver's re-check sees the message or the sender sees the flag.
///
/// Order: FIFO per ordered pair (one lane), not across pairs; nothing in Larder relies on
/// more (each shard gets a client's commands in order because they come from the client's one
/// thread, docs/ARCHITECTURE.md).
final class ShardMailbox<Element>: @unchecked Sendable {
    let threads: Int
    /// [from * threads + to]; nil on the diagonal (a thread's work for itself is its loop's).
    private let lanes: [SPSCLane<Element>?]
    private let flags: UnsafeMutableRawPointer
    private let wakers: UnsafeMutablePointer<Weak>
    private struct Weak { weak var waker: MailboxWaker? }
    /// Per sending thread, a stride of a multiple of 128 bytes that only that thread touches:
    /// [0] whether it defers the wake-ups of `post` to the end of its loop turn, [1] how many
    /// peers it owes one, [2 + peer] 1 if it owes that peer one.
    private let owed: UnsafeMutablePointer<Int>
    private let owedStride: Int

    /// `capacity` messages per lane (a power of two); beyond it a lane spills (see SPSCLane).
    init(threads: Int, capacity: Int = 256) {
        precondition(threads > 0)
        self.threads = threads
        var lanes: [SPSCLane<Element>?] = []
        for from in 0..<threads {
            for to in 0..<threads { lanes.append(from == to ? nil : SPSCLane(capacity: capacity)) }
        }
        self.lanes = lanes
        let flags = UnsafeMutableRawPointer.allocate(byteCount: threads * 128, alignment: 128)
        for i in 0..<threads {
            (flags + i * 128).bindMemory(to: UnsafeAtomic<Int>.Storage.self, capacity: 1).initialize(to: .init(0))
        }
        self.flags = flags
        let wakers = UnsafeMutablePointer<Weak>.allocate(capacity: threads)
        wakers.initialize(repeating: Weak(), count: threads)
        self.wakers = wakers
        owedStride = (threads + 2 + 15) / 16 * 16
        owed = .allocate(capacity: threads * owedStride)
        owed.initialize(repeating: 0, count: threads * owedStride)
    }

    deinit {
        owed.deallocate()
        flags.deallocate()
        wakers.deinitialize(count: threads)
        wakers.deallocate()
    }

    /// Called by thread `index`'s loop before its thread starts.
    func attach(_ index: Int, waker: MailboxWaker) { wakers[index].waker = waker }

    /// Marks the calling thread as endpoint `index` of this mailbox (`senderIndex`).
    func enterThread(_ index: Int) {
        larder_set_thread_mailbox(Unmanaged.passUnretained(self).toOpaque(), Int32(index))
    }

    /// The calling thread is no longer any mailbox's endpoint. A thread that outlives a mailbox
    /// it entered must call it: the thread-local holds only the address, and a later mailbox at
    /// the same address would take the stale index for the thread's own (seen in the unit
    /// tests, whose main thread plays endpoints and then starts servers).
    static func leaveThread() {
        larder_set_thread_mailbox(nil, -1)
    }

    /// The calling thread's index in this mailbox, or nil when it is not one of its threads.
    @inline(__always)
    var senderIndex: Int? {
        larder_thread_mailbox() == Unmanaged.passUnretained(self).toOpaque() ? Int(larder_thread_mailbox_index()) : nil
    }

    @inline(__always)
    private func sleeping(_ i: Int) -> UnsafeAtomic<Int> {
        UnsafeAtomic(at: (flags + i * 128).assumingMemoryBound(to: UnsafeAtomic<Int>.Storage.self))
    }

    @inline(__always)
    func lane(from: Int, to: Int) -> SPSCLane<Element> { lanes[from &* threads &+ to].unsafelyUnwrapped }

    /// From thread `from` (the caller's own index) to thread `to` (another one).
    @inline(__always)
    func send(_ e: Element, from: Int, to: Int) {
        lane(from: from, to: to).send(e)
        wakeIfSleeping(to)
    }

    /// A hop (a batch or its replies) from thread `from` to thread `to`: as `send`, except that
    /// a loop that defers its wake-ups (`deferWakes`) only notes that `to` may need one and
    /// wakes it once at the end of its turn (`flushWakes`), with every hop of the turn already
    /// on the ring. Sending wakes as they came cost, with both threads on one core, a switch to
    /// the peer and back per connection read (the woken peer preempts the sender, runs one
    /// batch, sleeps again): bench/results/engine.md "Stop 26". Only hops are deferred: a
    /// `.task` may be one that a thread waits for, and it still wakes at once.
    @inline(__always)
    func post(_ e: Element, from: Int, to: Int) {
        lane(from: from, to: to).send(e)
        let mine = owed + from &* owedStride
        if mine[0] == 0 {
            wakeIfSleeping(to)
        } else if mine[2 &+ to] == 0 {
            mine[2 &+ to] = 1
            mine[1] &+= 1
        }
    }

    /// Thread `me` (a loop, on its thread) defers the wake-ups of its `post`s to `flushWakes`,
    /// which it then calls every turn before it waits.
    func deferWakes(_ me: Int) { owed[me &* owedStride] = 1 }

    /// Thread `me`, at the end of its turn: wakes each peer it posted to this turn that is
    /// asleep or about to be, one fence for all of them. `wake(context, to)` does it (the
    /// io_uring loop queues an IORING_OP_MSG_RING in the submission its wait makes anyway; the
    /// epoll loop calls the peer's `wakeFromMailbox`). The caller passes its loop as `context`
    /// rather than capturing it: a loop is weakly referenced (its waker slot), so each retain of
    /// it takes the side table's slow path (~50 instructions, twice per hop under callgrind).
    @inline(__always)
    func flushWakes<Context: AnyObject>(_ me: Int, _ context: Context, _ wake: (Context, Int) -> Void) {
        let mine = owed + me &* owedStride
        if mine[1] == 0 { return }
        mine[1] = 0
        atomicMemoryFence(ordering: .sequentiallyConsistent)
        for to in 0..<threads where mine[2 &+ to] != 0 {
            mine[2 &+ to] = 0
            if claimSleeping(to) { wake(context, to) }
        }
    }

    /// The waker thread `i`'s loop attached, if it still exists.
    func waker(_ i: Int) -> MailboxWaker? { wakers[i].waker }

    /// After anything was queued for thread `to` (also the loop's locked queue): wakes it
    /// only if it is asleep or about to be.
    @inline(__always)
    func wakeIfSleeping(_ to: Int) {
        atomicMemoryFence(ordering: .sequentiallyConsistent)
        if claimSleeping(to) { wakers[to].waker?.wakeFromMailbox() }
    }

    /// After the fence: whether thread `to` sleeps (or is about to), clearing its flag so that
    /// only one sender wakes it. The plain load first keeps a busy peer's line shared.
    @inline(__always)
    private func claimSleeping(_ to: Int) -> Bool {
        let f = sleeping(to)
        return f.load(ordering: .relaxed) != 0 && f.exchange(0, ordering: .acquiringAndReleasing) != 0
    }

    /// Thread `me` delivers every message sent to it so far; returns how many.
    @inline(__always)
    func drain(_ me: Int, _ body: (Element) -> Void) -> Int {
        var n = 0
        var from = 0
        while from < threads {
            if from != me { n &+= lane(from: from, to: me).drain(body) }
            from &+= 1
        }
        return n
    }

    /// Thread `me` is about to block: true when it may (the flag is set; a sender will wake it),
    /// false when a message arrived meanwhile (the flag is cleared again; drain instead). The
    /// caller then checks its own other queues and calls `awake` if it does not block after all.
    func prepareToSleep(_ me: Int) -> Bool {
        let f = sleeping(me)
        f.store(1, ordering: .relaxed)
        atomicMemoryFence(ordering: .sequentiallyConsistent)
        for from in 0..<threads where from != me && lane(from: from, to: me).hasMessages {
            f.store(0, ordering: .relaxed)
            return false
        }
        return true
    }

    /// Thread `me` is running again (after its wait, or when it did not block after all).
    @inline(__always)
    func awake(_ me: Int) { sleeping(me).store(0, ordering: .relaxed) }
}
