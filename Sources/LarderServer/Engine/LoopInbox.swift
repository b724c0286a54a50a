import Atomics
import NIOConcurrencyHelpers

/// Everything a shard thread of the epoll or io_uring engine receives, drained once per loop
/// turn (docs/ARCHITECTURE.md "Hop rings" and "Order of pub/sub across senders"): its
/// `ShardMailbox` rings (one per other shard thread, FIFO per pair) and one locked FIFO queue,
/// which carries the work of non-shard threads (HTTP, TLS, snapshot, main), the thread's work for
/// itself, and every **ordered** message: pub/sub deliveries and keyspace notifications.
///
/// Why the ordered messages go through the locked queue: the rings are FIFO per pair only, so
/// a message X from thread A and a later Y from thread B (sent after B heard from A) could be
/// drained Y first. The locked queue is linearizable: if X's send happens before Y's, X is
/// ahead of Y in it, whatever threads sent them. NIO's one queue per loop gave that for free.
///
/// Per-pair order with the ring is kept too (a notification from A goes after A's earlier
/// replies and before its later ones): a shard thread that queues an ordered message records
/// how many messages it had sent on its ring to this thread (`after`) and then sends a `.mark`
/// on that ring. The entry is delivered only once the ring from A has been taken up to `after`,
/// and the ring stops at a mark until its entry was delivered. Each wait is on a message that is
/// already visible (sent before what was seen), so a turn never blocks; it takes more passes.
///
/// A publication delivered directly on this thread (PUBLISH's and a notification's own-loop
/// subscribers) first delivers the ordered entries already queued here (`catchUp`), so it never
/// overtakes one that happened before it. Those are taken out of the ring order (the ring is
/// not run in the middle of a command); the per-pair order with the sender's other messages then
/// gives way to the order across senders.
final class LoopInbox: @unchecked Sendable {
    private struct Entry {
        var task: (() -> Void)?
        /// The sending shard thread of an ordered entry, or -1 (plain task, or a non-shard sender).
        let from: Int
        /// Messages `from` had sent to this thread over its ring before this entry's mark.
        let after: Int
        let ordered: Bool
    }

    let index: Int
    let mailbox: HopMailbox
    private let lock = NIOLock()
    private var queue: [Entry] = []
    /// `queue.count`, readable without the lock: a turn with nothing queued (the common case on
    /// a loop that only serves its connections and hops) does not take the mutex. On its own
    /// 128-byte block: senders write it, the loop reads it every turn.
    private let queued: UnsafeAtomic<Int>
    private let queuedBlock: UnsafeMutableRawPointer
    /// Ordered entries queued and not delivered yet: `catchUp` costs one load when 0.
    private let orderedPending = ManagedAtomic<Int>(0)
    // The consumer's (this loop's thread) state.
    private var pending: [Entry] = []
    private var head = 0
    /// Per sending thread: its ordered entries delivered, and its marks passed on its ring.
    private var orderedTaken: [Int]
    private var marksPassed: [Int]

    init(index: Int, mailbox: HopMailbox) {
        self.index = index
        self.mailbox = mailbox
        orderedTaken = [Int](repeating: 0, count: mailbox.threads)
        marksPassed = [Int](repeating: 0, count: mailbox.threads)
        queuedBlock = .allocate(byteCount: 128, alignment: 128)
        let p = queuedBlock.bindMemory(to: UnsafeAtomic<Int>.Storage.self, capacity: 1)
        p.initialize(to: .init(0))
        queued = UnsafeAtomic(at: p)
    }

    deinit { queuedBlock.deallocate() }

    // MARK: senders (any thread)

    /// A plain task (a non-shard thread's, or this thread's own): FIFO with the other queued ones.
    func enqueue(_ task: @escaping () -> Void) {
        lock.withLock {
            queue.append(Entry(task: task, from: -1, after: 0, ordered: false))
            queued.store(queue.count, ordering: .releasing)
        }
        mailbox.wakeIfSleeping(index)  // its fence orders the store above before the flag's read
    }

    /// An ordered message (pub/sub): delivered after every ordered message whose send happened
    /// before this one, from any thread, and in order with the sender's ring.
    func enqueueOrdered(_ task: @escaping () -> Void) {
        if let from = mailbox.senderIndex, from != index {
            let lane = mailbox.lane(from: from, to: index)
            let after = lane.sent
            lock.withLock {
                queue.append(Entry(task: task, from: from, after: after, ordered: true))
                queued.store(queue.count, ordering: .releasing)
                orderedPending.wrappingIncrement(ordering: .relaxed)
            }
            mailbox.send(.mark, from: from, to: index)  // wakes the loop if it sleeps
            return
        }
        lock.withLock {
            queue.append(Entry(task: task, from: -1, after: 0, ordered: true))
            queued.store(queue.count, ordering: .releasing)
            orderedPending.wrappingIncrement(ordering: .relaxed)
        }
        mailbox.wakeIfSleeping(index)
    }

    // MARK: the loop's thread

    /// Nothing queued (the loop's check before it sleeps, after `prepareToSleep`'s fence: a
    /// sender stores `queued` before its own fence, so one of the two sees the other).
    var isEmpty: Bool {
        head == pending.count && queued.load(ordering: .acquiring) == 0
    }

    @inline(__always)
    private func pull() {
        if queued.load(ordering: .acquiring) == 0 { return }
        pullLocked()
    }

    @inline(never)
    private func pullLocked() {
        lock.withLock {
            queued.store(0, ordering: .relaxed)
            if queue.isEmpty { return }
            if head == pending.count {
                pending.removeAll(keepingCapacity: true)
                head = 0
                swap(&queue, &pending)
            } else {
                pending.append(contentsOf: queue)
                queue.removeAll(keepingCapacity: true)
            }
        }
    }

    @inline(__always)
    private func taken(_ e: Entry) {
        if e.from >= 0 { orderedTaken[e.from] &+= 1 }
        orderedPending.wrappingDecrement(ordering: .relaxed)
    }

    /// One turn's work: the queue and the rings, in the orders above; returns how many messages.
    @discardableResult
    func drain() -> Int {
        var n = 0
        while true {
            pull()
            var blocked = false
            while head < pending.count {
                let e = pending[head]
                guard let task = e.task else { head += 1; continue }
                if e.from >= 0 && mailbox.lane(from: e.from, to: index).received < e.after {
                    blocked = true  // the sender's earlier ring messages go first (below)
                    break
                }
                pending[head].task = nil
                head += 1
                if e.ordered { taken(e) }
                task()
                n &+= 1
            }
            var from = 0
            while from < mailbox.threads {
                if from != index {
                    let f = from
                    let (m, stopped) = mailbox.lane(from: f, to: index).drain({ msg in
                        !msg.pointee.isMark || self.orderedTaken[f] > self.marksPassed[f]
                    }) { msg in
                        if msg.isMark { self.marksPassed[f] &+= 1 } else { msg.deliver() }
                    }
                    n &+= m
                    if stopped { blocked = true }  // its entry is queued: the next pass takes it
                }
                from &+= 1
            }
            if !blocked { break }
        }
        if head == pending.count && head > 0 {
            pending.removeAll(keepingCapacity: true)
            head = 0
        }
        return n
    }

    /// Before a publication is delivered on this thread directly: the ordered messages already
    /// queued here go first (they may have happened before it). One atomic load when none is.
    @inline(__always)
    func catchUp() {
        if orderedPending.load(ordering: .acquiring) == 0 { return }
        catchUpSlow()
    }

    @inline(never)
    private func catchUpSlow() {
        pull()
        var i = head
        while i < pending.count {
            if pending[i].ordered, let task = pending[i].task {
                let e = pending[i]
                pending[i].task = nil
                taken(e)
                task()
            }
            i += 1
        }
    }
}
