#if os(Linux)
import Atomics
import Dispatch
import Glibc
import NIOCore

/// What Larder's own event loops (EpollEventLoop, UringEventLoop) share of NIO's `EventLoop`:
/// thread identity, timers and futures, and the stop. Each loop keeps its own `execute` (the
/// cross-thread queue and wake-up differ per engine) and its own turn; everything written here
/// runs in terms of `execute` and the loop's `timers`, which only its thread touches.
protocol EngineEventLoop: EventLoop {
    var index: Int { get }
    /// "epoll" or "io_uring", for precondition messages.
    static var engineName: String { get }
    /// The loop's thread, once it runs.
    var thread: pthread_t? { get }
    /// On the loop's thread only.
    var timers: LoopTimers { get set }
    /// Timer ids, handed out on any thread (a cancel finds its timer by id).
    var timerIds: ManagedAtomic<UInt64> { get }
    /// Signalled when the loop has left its last turn.
    var stopped: DispatchSemaphore { get }
    /// On the loop: leave the loop after this turn.
    func stopRunning()
}

extension EngineEventLoop {
    var inEventLoop: Bool {
        guard let thread else { return false }
        return pthread_equal(thread, pthread_self()) != 0
    }

    @discardableResult
    func scheduleTask<T>(deadline: NIODeadline, _ task: @escaping @Sendable () throws -> T) -> Scheduled<T> {
        let promise: EventLoopPromise<T> = makePromise()
        let id = timerIds.wrappingIncrementThenLoad(ordering: .relaxed)
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

    @discardableResult
    /// At the loop's stop: what is still scheduled never runs, and its futures fail, as on NIO's
    /// loops. Taken off the list before failing, since a failure's callbacks may cancel or
    /// schedule timers; those scheduled meanwhile are failed in the next round.
    func failTimersAtStop() {
        while !timers.isEmpty {
            for t in timers.takeAll() { t.fail(EventLoopError.shutdown) }
        }
    }

    func scheduleTask<T>(in delay: TimeAmount, _ task: @escaping @Sendable () throws -> T) -> Scheduled<T> {
        scheduleTask(deadline: .now() + delay, task)
    }

    func preconditionInEventLoop(file: StaticString, line: UInt) {
        precondition(inEventLoop, "not on the \(Self.engineName) loop \(index)", file: file, line: line)
    }

    func preconditionNotInEventLoop(file: StaticString, line: UInt) {
        precondition(!inEventLoop, "on the \(Self.engineName) loop \(index)", file: file, line: line)
    }

    func shutdownGracefully(queue callbackQueue: DispatchQueue, _ callback: @escaping @Sendable (Error?) -> Void) {
        execute { [self] in stopRunning() }
        DispatchQueue.global().async { [self] in
            stopped.wait(); stopped.signal()
            callbackQueue.async { callback(nil) }
        }
    }
}

/// The threads of one of Larder's engines, one loop per shard: what both groups share.
protocol EngineEventLoopGroup: EventLoopGroup {
    associatedtype Loop: EngineEventLoop
    var loops: [Loop] { get }
    var nextIndex: ManagedAtomic<Int> { get }
}

extension EngineEventLoopGroup {
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
        precondition(!loops.contains { $0.inEventLoop }, "shutting down the \(Loop.engineName) loops from one of them",
                     file: file, line: line)
    }
}
#endif
