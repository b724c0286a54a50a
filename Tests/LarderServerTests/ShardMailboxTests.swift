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
        final class SemaphoreWaker: MailboxWaker {
            let sem = DispatchSemaphore(value: 0)
            let wakes = WakeCounter()
            func wakeFromMailbox() { wakes.add(1); sem.signal() }
        }
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
                    XCTFail("a message was sent while the consumer slept and no wake-up came")
                    mailbox.awake(2)
                    break
                }
                mailbox.awake(2)
            }
        }
        group.wait()
        let want = (0..<2).reduce(0) { acc, s in (0..<perSender).reduce(acc) { $0 &+ (s << 32 | $1) } }
        XCTAssertEqual(expected, [perSender, perSender])
        XCTAssertEqual(outOfOrder, 0)
        XCTAssertEqual(checksum, want)
        XCTAssertGreaterThan(sleeps, 0, "the consumer never slept: the wake-up path was not exercised")
        XCTAssertGreaterThan(waker.wakes.value, 0)
    }
}

/// A counter two threads may bump.
final class WakeCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var v = 0
    func add(_ n: Int) { lock.lock(); v += n; lock.unlock() }
    var value: Int { lock.lock(); defer { lock.unlock() }; return v }
}
