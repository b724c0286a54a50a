import Dispatch
import Foundation
@testable import LarderServer
import XCTest

/// The hop rings between shard threads (Engine/ShardMailbox.swift): order, wrap-around, the
/// full-ring fallback that never blocks and never drops, and the sleep / wake handshake under two
/// threads.
final class ShardMailboxTests: XCTestCase {
    private func drained(_ lane: SPSCLane<Int>) -> [Int] {
        var got: [Int] = []
        _ = lane.drain { got.append($0) }
        return got
    }

    func testMessagesComeOutInOrderAcrossManyWrapArounds() {
        let lane = SPSCLane<Int>(capacity: 4)
        var next = 0
        for round in 0..<50 {
            let k = round % 4 + 1  // 1...4 messages per round: the indexes wrap at every offset
            for i in 0..<k { XCTAssertTrue(lane.push(next + i), "round \(round): ring of 4 refused message \(i + 1) of \(k)") }
            XCTAssertEqual(drained(lane), Array(next..<next + k))
            next += k
        }
        XCTAssertFalse(lane.hasMessages)
        XCTAssertEqual(drained(lane), [])
    }

    func testAFullRingSpillsInOrderAndRecovers() {
        let lane = SPSCLane<Int>(capacity: 4)
        for i in 0..<4 { XCTAssertTrue(lane.send(i)) }
        XCTAssertFalse(lane.push(4), "a full ring takes no more")
        // Full: the next ones spill, and keep spilling while spilled ones wait, even once the
        // consumer has made room, so a later message can never overtake a spilled one.
        for i in 4..<10 { XCTAssertFalse(lane.send(i), "message \(i) should spill") }
        XCTAssertTrue(lane.hasMessages)
        var got: [Int] = []
        var firstOnly = true
        _ = lane.drain { v in
            got.append(v)
            if firstOnly {
                firstOnly = false
                // Room in the ring now, but 4...9 still wait in the spill: 10 must go after them.
                XCTAssertFalse(lane.send(10))
            }
        }
        XCTAssertEqual(got, Array(0...10))
        XCTAssertFalse(lane.hasMessages)
        XCTAssertTrue(lane.send(11), "with the spill delivered, messages use the ring again")
        XCTAssertEqual(drained(lane), [11])
    }

    func testLeftoverMessagesAreReleasedWithTheLane() {
        final class Counted { static var alive = 0; init() { Self.alive += 1 }; deinit { Self.alive -= 1 } }
        do {
            let lane = SPSCLane<Counted>(capacity: 2)
            for _ in 0..<5 { lane.send(Counted()) }  // 2 in the ring, 3 spilled
            XCTAssertEqual(Counted.alive, 5)
        }
        XCTAssertEqual(Counted.alive, 0)
    }

    /// Two producer threads, one consumer that sleeps whenever it finds nothing: every message
    /// arrives exactly once, in order per sender, and no wake-up is lost (a lost one would leave
    /// the consumer waiting out its 5 s timeout).
    func testTwoThreadsUnderStressLoseNothingAndKeepOrder() {
        let perSender = 150_000
        let mailbox = ShardMailbox<Int>(threads: 3, capacity: 64)  // small: the spill path runs too
        let waker = SemaphoreWaker()
        mailbox.attach(2, waker: waker)
        let group = DispatchGroup()
        for sender in 0..<2 {
            group.enter()
            Thread.detachNewThread {
                mailbox.enterThread(sender)
                for seq in 0..<perSender {
                    mailbox.send(sender << 32 | seq, from: sender, to: 2)
                    if seq % 4096 == 0 { usleep(50) }  // let the consumer fall asleep now and then
                }
                group.leave()
            }
        }
        let got = consumeFromTwoSenders(mailbox, waker: waker, perSender: perSender,
                                        lostWakeUp: "a message was sent while the consumer slept and no wake-up came")
        group.wait()
        let want = (0..<2).reduce(0) { acc, s in (0..<perSender).reduce(acc) { $0 &+ (s << 32 | $1) } }
        XCTAssertEqual(got.received, [perSender, perSender])
        XCTAssertEqual(got.outOfOrder, 0)
        XCTAssertEqual(got.checksum, want)
        XCTAssertGreaterThan(got.sleeps, 0, "the consumer never slept: the wake-up path was not exercised")
        XCTAssertGreaterThan(waker.wakes.value, 0)
    }
}

/// Hops whose wake-ups wait for the end of the sender's loop turn (`post`, `flushWakes`): a
/// peer is woken once per turn however many hops went to it, only if it sleeps, and never missed.
final class ShardMailboxDeferredWakeTests: XCTestCase {
    override func tearDown() { ShardMailbox<Int>.leaveThread() }

    func testATurnsHopsWakeEachSleepingPeerOnceAtTheFlush() {
        final class Counting: MailboxWaker { var n = 0; func wakeFromMailbox() { n += 1 } }
        let mailbox = ShardMailbox<Int>(threads: 3)
        let wakers = [Counting(), Counting(), Counting()]
        for i in 0..<3 { mailbox.attach(i, waker: wakers[i]) }
        mailbox.deferWakes(0)
        XCTAssertTrue(mailbox.prepareToSleep(1))
        XCTAssertTrue(mailbox.prepareToSleep(2))
        for i in 0..<5 { mailbox.post(i, from: 0, to: 1) }
        for i in 0..<3 { mailbox.post(10 + i, from: 0, to: 2) }
        XCTAssertEqual(wakers.map(\.n), [0, 0, 0], "a deferring sender wakes nobody while its turn runs")
        var woken: [Int] = []
        mailbox.flushWakes(0, mailbox) { _, to in woken.append(to) }
        XCTAssertEqual(woken, [1, 2], "one wake-up per sleeping peer for the whole turn")
        woken = []
        mailbox.flushWakes(0, mailbox) { _, to in woken.append(to) }
        XCTAssertEqual(woken, [], "nothing posted since: nothing owed")
        // A peer that is awake gets the hop and no wake-up.
        mailbox.awake(1)
        mailbox.post(5, from: 0, to: 1)
        mailbox.flushWakes(0, mailbox) { _, to in woken.append(to) }
        XCTAssertEqual(woken, [])
        var got: [Int] = []
        _ = mailbox.drain(1) { got.append($0) }
        XCTAssertEqual(got, [0, 1, 2, 3, 4, 5])
        // `send` (a task another thread may wait for) still wakes at once, deferring or not.
        XCTAssertTrue(mailbox.prepareToSleep(1))
        mailbox.send(6, from: 0, to: 1)
        XCTAssertEqual(wakers[1].n, 1)
        // A sender that does not defer (no loop: a test thread, say) wakes at once on `post` too.
        XCTAssertTrue(mailbox.prepareToSleep(0))
        mailbox.post(7, from: 2, to: 0)
        XCTAssertEqual(wakers[0].n, 1)
    }

    /// Two deferring senders that flush every few hops, one consumer that sleeps whenever it
    /// finds nothing: every message arrives, in order per sender, and no wake-up is lost (a lost
    /// one leaves the consumer waiting out its 5 s timeout).
    func testDeferredWakeUpsAreNeverLostUnderTwoThreads() {
        let perSender = 100_000
        let mailbox = ShardMailbox<Int>(threads: 3, capacity: 64)
        let waker = SemaphoreWaker()
        mailbox.attach(2, waker: waker)
        let group = DispatchGroup()
        for sender in 0..<2 {
            group.enter()
            Thread.detachNewThread {
                mailbox.enterThread(sender)
                mailbox.deferWakes(sender)
                for seq in 0..<perSender {
                    mailbox.post(sender << 32 | seq, from: sender, to: 2)
                    if seq % (7 + sender) == 0 { mailbox.flushWakes(sender, mailbox) { $0.waker($1)?.wakeFromMailbox() } }
                    if seq % 4096 == 0 { usleep(50) }
                }
                mailbox.flushWakes(sender, mailbox) { $0.waker($1)?.wakeFromMailbox() }
                ShardMailbox<Int>.leaveThread()
                group.leave()
            }
        }
        let got = consumeFromTwoSenders(mailbox, waker: waker, perSender: perSender,
                                        lostWakeUp: "hops were posted and flushed while the consumer slept and no wake-up came")
        group.wait()
        XCTAssertEqual(got.received, [perSender, perSender])
        XCTAssertEqual(got.outOfOrder, 0)
        XCTAssertGreaterThan(got.sleeps, 0, "the consumer never slept: the wake-up path was not exercised")
    }
}

/// A ring drained up to a message it must not take yet (LoopInbox's marks): the refused message
/// stays first, in the ring and in the spill, and the counts of sent and taken agree.
final class ShardMailboxLaneStopTests: XCTestCase {
    func testARefusedMessageStaysFirstInTheRingAndInTheSpill() {
        let lane = SPSCLane<Int>(capacity: 4)
        for i in 0..<9 { lane.send(i) }  // 0...3 in the ring, 4...8 spilled
        XCTAssertEqual(lane.sent, 9)
        for stop in [2, 6, 8] {
            var got: [Int] = []
            let (n, stopped) = lane.drain({ $0.pointee != stop }) { got.append($0) }
            XCTAssertTrue(stopped, "drain should stop at \(stop)")
            XCTAssertEqual(n, got.count)
            XCTAssertEqual(got.last.map { $0 + 1 } ?? stop, stop, "everything before \(stop), then nothing")
            XCTAssertEqual(lane.received, stop)
        }
        lane.send(9)  // after the spilled ones, though the ring has room
        var rest: [Int] = []
        let (n, stopped) = lane.drain({ _ in true }) { rest.append($0) }
        XCTAssertFalse(stopped)
        XCTAssertEqual(n, 2)
        XCTAssertEqual(rest, [8, 9])
        XCTAssertEqual(lane.received, lane.sent)
        XCTAssertFalse(lane.hasMessages)
    }
}

/// A loop's inbox (Engine/LoopInbox.swift): ordered (pub/sub) messages keep the order of their
/// sends across sending threads, and stay in order with each sender's ring. The sending
/// "threads" are this test's thread taking each mailbox index in turn (`enterThread`), which is
/// what decides the ring a message takes.
final class ShardMailboxInboxTests: XCTestCase {
    /// This thread played mailbox endpoints: it must not stay one (ShardMailbox.leaveThread).
    override func tearDown() { HopMailbox.leaveThread() }

    private func run(_ inbox: LoopInbox, as index: Int, _ body: () -> Void) {
        inbox.mailbox.enterThread(index)
        body()
    }

    func testOrderedMessagesFromTwoThreadsArriveInSendOrder() {
        let mailbox = HopMailbox(threads: 3)
        let inbox = LoopInbox(index: 2, mailbox: mailbox)
        let log = Log()
        // Thread 1 sends first, then thread 0: taking the rings in thread order would give 0's first.
        run(inbox, as: 1) { inbox.enqueueOrdered { log.add("x from 1") } }
        run(inbox, as: 0) { inbox.enqueueOrdered { log.add("y from 0") } }
        run(inbox, as: 1) { inbox.enqueueOrdered { log.add("z from 1") } }
        run(inbox, as: 2) { XCTAssertEqual(inbox.drain(), 6, "three messages and their three marks") }
        XCTAssertEqual(log.items, ["x from 1", "y from 0", "z from 1"])
        XCTAssertTrue(inbox.isEmpty)
    }

    func testAnOrderedMessageKeepsItsPlaceAmongItsSendersRingMessages() {
        let mailbox = HopMailbox(threads: 3)
        let inbox = LoopInbox(index: 2, mailbox: mailbox)
        let log = Log()
        run(inbox, as: 0) {
            mailbox.send(.task { log.add("r0") }, from: 0, to: 2)
            inbox.enqueueOrdered { log.add("m") }  // queued, but after r0 and before r1
            mailbox.send(.task { log.add("r1") }, from: 0, to: 2)
        }
        run(inbox, as: 1) {
            mailbox.send(.task { log.add("s0") }, from: 1, to: 2)
            inbox.enqueueOrdered { log.add("n") }
        }
        run(inbox, as: 2) { inbox.drain() }
        XCTAssertEqual(log.items.filter { ["r0", "m", "r1"].contains($0) }, ["r0", "m", "r1"])
        XCTAssertEqual(log.items.filter { ["s0", "n"].contains($0) }, ["s0", "n"])
        XCTAssertLessThan(log.items.firstIndex(of: "m")!, log.items.firstIndex(of: "n")!)
    }

    func testADirectDeliveryCatchesUpOnQueuedOrderedMessagesFirst() {
        let mailbox = HopMailbox(threads: 2)
        let inbox = LoopInbox(index: 1, mailbox: mailbox)
        let log = Log()
        run(inbox, as: 0) {
            mailbox.send(.task {
                // A command running on thread 1 publishes directly: what was sent before goes first.
                inbox.catchUp()
                log.add("local")
            }, from: 0, to: 1)
        }
        run(inbox, as: 0) { inbox.enqueueOrdered { log.add("earlier") } }
        run(inbox, as: 1) {
            inbox.enqueue { log.add("plain") }
            inbox.drain()
        }
        XCTAssertEqual(log.items.filter { $0 != "plain" }, ["earlier", "local"])
        XCTAssertTrue(log.items.contains("plain"))
        XCTAssertTrue(inbox.isEmpty)
    }

    /// Threads 0 and 1 pass a token back and forth over their rings; each, on getting it, sends
    /// thread 2 an ordered message with the next count, then passes the token on. Every send
    /// happens after the previous one's, so thread 2, draining meanwhile, must see 0, 1, 2, ...
    func testACausalChainAcrossTwoSendersArrivesInOrderUnderConcurrency() {
        final class Flag { var up = false }  // touched only by its thread's drain and loop
        let mailbox = HopMailbox(threads: 3, capacity: 8)  // small: the spill path runs too
        let inbox = LoopInbox(index: 2, mailbox: mailbox)
        let own = [LoopInbox(index: 0, mailbox: mailbox), LoopInbox(index: 1, mailbox: mailbox)]
        let token = [Flag(), Flag()]
        let total = 4_000
        let seen = Log()
        let group = DispatchGroup()
        for me in 0..<2 {
            group.enter()
            Thread.detachNewThread {
                mailbox.enterThread(me)
                for n in stride(from: me, to: total, by: 2) {
                    if n > 0 {
                        while !token[me].up { own[me].drain() }
                        token[me].up = false
                    }
                    inbox.enqueueOrdered { seen.add(String(n)) }
                    let other = token[1 - me]
                    mailbox.send(.task { other.up = true }, from: me, to: 1 - me)
                }
                group.leave()
            }
        }
        mailbox.enterThread(2)
        let deadline = Date().addingTimeInterval(30)
        while seen.count < total && Date() < deadline { inbox.drain() }
        group.wait()
        XCTAssertEqual(seen.count, total)
        XCTAssertEqual(seen.items, (0..<total).map(String.init))
    }
}

/// Strings appended from the threads of a test.
final class Log: @unchecked Sendable {
    private let lock = NSLock()
    private var v: [String] = []
    func add(_ s: String) { lock.lock(); v.append(s); lock.unlock() }
    var items: [String] { lock.lock(); defer { lock.unlock() }; return v }
    var count: Int { lock.lock(); defer { lock.unlock() }; return v.count }
}

/// A counter two threads may bump.
final class WakeCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var v = 0
    func add(_ n: Int) { lock.lock(); v += n; lock.unlock() }
    var value: Int { lock.lock(); defer { lock.unlock() }; return v }
}

/// A consumer's waker for the two-thread stress tests: counts its wake-ups and releases the
/// consumer's wait.
final class SemaphoreWaker: MailboxWaker {
    let sem = DispatchSemaphore(value: 0)
    let wakes = WakeCounter()
    func wakeFromMailbox() { wakes.add(1); sem.signal() }
}

/// Thread 2 of `mailbox` consumes `sender << 32 | seq` messages from threads 0 and 1 until it has
/// `perSender` of each (or 30 s pass), sleeping on `waker` whenever it finds nothing; a wake-up
/// that does not come within 5 s fails the test with `lostWakeUp`. Returns how many it got per
/// sender, how many came out of order, their sum and how often it slept.
func consumeFromTwoSenders(_ mailbox: ShardMailbox<Int>, waker: SemaphoreWaker, perSender: Int,
                           lostWakeUp: String) -> (received: [Int], outOfOrder: Int, checksum: Int, sleeps: Int) {
    var expected = [0, 0]
    var checksum = 0
    var outOfOrder = 0
    var sleeps = 0
    let deadline = Date().addingTimeInterval(30)
    while expected[0] + expected[1] < 2 * perSender && Date() < deadline {
        let n = mailbox.drain(2) { v in
            let sender = v >> 32, seq = v & 0xffff_ffff
            if seq != expected[sender] { outOfOrder += 1 }
            expected[sender] = seq + 1
            checksum &+= v
        }
        if n == 0 && mailbox.prepareToSleep(2) {
            sleeps += 1
            if waker.sem.wait(timeout: .now() + 5) == .timedOut {
                XCTFail(lostWakeUp)
                mailbox.awake(2)
                break
            }
            mailbox.awake(2)
        }
    }
    return (expected, outOfOrder, checksum, sleeps)
}
