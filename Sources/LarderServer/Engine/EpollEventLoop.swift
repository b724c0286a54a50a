#if os(Linux)
import Atomics
import Dispatch
import Foundation
import CLarderSupport
import Glibc
import NIOConcurrencyHelpers
import NIOCore

/// A file descriptor's owner on an `EpollEventLoop`: told of its readiness events, on the loop.
protocol EpollHandler: AnyObject {
    func epollEvents(_ events: UInt32)
}

/// One worker thread of the epoll engine (`--io epoll`; docs/ARCHITECTURE.md "I/O engine"): an
/// epoll loop over the RESP connections it owns, plus the work other threads send it. It
/// conforms to NIO's `EventLoop`, so everything written against a shard's `loop` (hops,
/// borrows, bulk loads, HTTP's runOnShard, timers, futures) runs on it unchanged.
///
/// Work from the other shard threads comes over the group's `ShardMailbox` (one lock-free ring
/// per ordered pair of threads; batches and their replies as typed messages, anything else sent
/// with `execute` as a task); work from any other thread (HTTP's NIO thread, the snapshot
/// thread, the main thread), from this thread itself, and pub/sub from anywhere goes into the
/// `LoopInbox`'s locked queue. Both are drained at every turn (`LoopInbox.drain`); the eventfd
/// is written only when the loop is asleep (or about to be) in `epoll_wait`, so a busy loop pays
/// no system call per hop.
final class EpollEventLoop: EngineEventLoop, MailboxWaker, @unchecked Sendable {
    let index: Int
    let mailbox: HopMailbox
    let inbox: LoopInbox
    private let epfd: Int32
    private let wakeFd: Int32
    private let lock = NIOLock()
    private var running = true
    private(set) var thread: pthread_t? = nil
    /// Per-fd owners, indexed by descriptor (small integers): one array load per event.
    private var handlers: [EpollHandler?] = []
    var timers = LoopTimers()
    let timerIds = ManagedAtomic<UInt64>(0)
    private var events: UnsafeMutablePointer<epoll_event>
    private static let maxEvents = 128
    let stopped = DispatchSemaphore(value: 0)
    /// The read buffer shared by this thread's connections (a read is handed to the handler,
    /// which keeps only a partial command); taken out while a read uses it.
    var readBuffer: ByteBuffer?
    var readSize = 16 * 1024
    let allocator = ByteBufferAllocator()

    init(index: Int, name: String, mailbox: HopMailbox) {
        self.index = index
        self.mailbox = mailbox
        inbox = LoopInbox(index: index, mailbox: mailbox)
        epfd = epoll_create1(Int32(EPOLL_CLOEXEC))
        precondition(epfd >= 0, "epoll_create1 failed: errno \(errno)")
        wakeFd = eventfd(0, Int32(EFD_NONBLOCK | EFD_CLOEXEC))
        precondition(wakeFd >= 0, "eventfd failed: errno \(errno)")
        events = .allocate(capacity: Self.maxEvents)
        var ev = epoll_event()
        ev.events = EPOLLIN.rawValue
        ev.data.fd = wakeFd
        _ = epoll_ctl(epfd, EPOLL_CTL_ADD, wakeFd, &ev)
        readBuffer = allocator.buffer(capacity: readSize)
        mailbox.attach(index, waker: self)
        let started = DispatchSemaphore(value: 0)
        let t = Thread { [self] in
            lock.withLock { thread = pthread_self() }
            mailbox.enterThread(index)
            mailbox.deferWakes(index)
            started.signal()
            run()
        }
        t.name = name
        t.stackSize = 8 << 20
        t.start()
        started.wait()
    }

    deinit {
        events.deallocate()
        Glibc.close(epfd)
        Glibc.close(wakeFd)
    }

    // MARK: EventLoop

    func execute(_ task: @escaping @Sendable () -> Void) {
        if let from = mailbox.senderIndex, from != index {
            mailbox.send(.task(task), from: from, to: index)
            return
        }
        inbox.enqueue(task)
    }

    func wakeFromMailbox() {
        var one: UInt64 = 1
        _ = write(wakeFd, &one, 8)
    }

    static var engineName: String { "epoll" }

    func stopRunning() { running = false }

    // MARK: descriptors (on the loop)

    func register(fd: Int32, events: UInt32, handler: EpollHandler) -> Bool {
        if Int(fd) >= handlers.count { handlers.append(contentsOf: repeatElement(nil, count: Int(fd) + 64 - handlers.count)) }
        var ev = epoll_event()
        ev.events = events
        ev.data.fd = fd
        guard epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) == 0 else { return false }
        handlers[Int(fd)] = handler
        return true
    }

    func modify(fd: Int32, events: UInt32) {
        var ev = epoll_event()
        ev.events = events
        ev.data.fd = fd
        _ = epoll_ctl(epfd, EPOLL_CTL_MOD, fd, &ev)
    }

    func unregister(fd: Int32) {
        _ = epoll_ctl(epfd, EPOLL_CTL_DEL, fd, nil)
        if Int(fd) < handlers.count { handlers[Int(fd)] = nil }
    }

    // MARK: the loop

    private func run() {
        // Held once for the loop's life: reaching them through `self` each turn cost a retain
        // and a release per call.
        let inbox = self.inbox, mailbox = self.mailbox
        while running {
            // Work sent by other threads: the queue and the hop rings (LoopInbox: the orders kept).
            inbox.drain()
            // Timers that are due. One clock read per turn: the wait below is computed from it
            // too (a timer that ran long makes that wait longer by at most its own run time).
            var now: UInt64 = 0
            if !timers.isEmpty {
                now = DispatchTime.now().uptimeNanoseconds
                while let due = timers.popDue(now: now) { due.run() }
            }
            guard running else { break }
            // The peers this turn's hops went to, woken once each if they sleep.
            mailbox.flushWakes(index, mailbox) { $0.waker($1)?.wakeFromMailbox() }
            var timeout: Int32 = -1
            if let deadline = timers.firstDeadline {
                if now == 0 { now = DispatchTime.now().uptimeNanoseconds }
                timeout = deadline <= now ? 0 : Int32(min((deadline - now + 999_999) / 1_000_000, 60_000))
            }
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
            let n = epoll_wait(epfd, events, Int32(Self.maxEvents), timeout)
            if timeout != 0 { mailbox.awake(index) }
            if n < 0 { continue }  // EINTR
            for i in 0..<Int(n) {
                let ev = events[i]
                let fd = ev.data.fd
                if fd == wakeFd {
                    var v: UInt64 = 0
                    _ = read(wakeFd, &v, 8)
                    continue
                }
                if Int(fd) < handlers.count, let h = handlers[Int(fd)] { h.epollEvents(ev.events) }
            }
        }
        failTimersAtStop()
        stopped.signal()
    }
}

/// The threads of the epoll engine, one per shard.
final class EpollEventLoopGroup: EngineEventLoopGroup, @unchecked Sendable {
    let loops: [EpollEventLoop]
    let nextIndex = ManagedAtomic<Int>(0)

    init(numberOfThreads: Int) {
        let mailbox = HopMailbox(threads: numberOfThreads)
        loops = (0..<numberOfThreads).map { EpollEventLoop(index: $0, name: "larder-epoll-\($0)", mailbox: mailbox) }
    }
}
#endif
