#if os(Linux)
import Dispatch

/// The pending timers of one of Larder's own event loops (epoll's and io_uring's), on the
/// loop's thread only. Few timers are ever pending (the crons, blocking and pause
/// timeouts, graceful closes), so a sorted array with binary insertion is enough: the earliest
/// deadline is first.
struct LoopTimers {
    struct Timer {
        let deadline: UInt64
        let id: UInt64
        let run: () -> Void
        /// Fails the timer's promise: a loop that stops fails what never ran, as NIO's loops do
        /// (EventLoopError.shutdown). An unfulfilled promise is a leak, which NIO asserts on in
        /// debug builds.
        let fail: (Error) -> Void
    }
    private var timers: [Timer] = []

    var isEmpty: Bool { timers.isEmpty }
    /// The earliest deadline (a loop that already read the clock this turn compares it itself).
    var firstDeadline: UInt64? { timers.first?.deadline }

    mutating func add(_ t: Timer) {
        var lo = 0, hi = timers.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if timers[mid].deadline <= t.deadline { lo = mid + 1 } else { hi = mid }
        }
        timers.insert(t, at: lo)
    }

    /// Removes the timer `id`; false if it already ran or was cancelled.
    mutating func cancel(id: UInt64) -> Bool {
        guard let i = timers.firstIndex(where: { $0.id == id }) else { return false }
        timers.remove(at: i)
        return true
    }

    /// The first timer if it is due at `now`, taken off the list. The loop runs it outside
    /// this struct's access, since a timer may schedule another.
    mutating func popDue(now: UInt64) -> Timer? {
        guard let first = timers.first, first.deadline <= now else { return nil }
        timers.removeFirst()
        return first
    }

    /// Nanoseconds until the first deadline (0 if due), nil when there is no timer.
    func nanosecondsToFirst() -> UInt64? {
        guard let first = timers.first else { return nil }
        let now = DispatchTime.now().uptimeNanoseconds
        return first.deadline <= now ? 0 : first.deadline - now
    }

    /// Takes every pending timer off the list: a stopping loop fails them (`fail`) outside this
    /// struct's access, since a failure's callbacks may cancel or schedule timers.
    mutating func takeAll() -> [Timer] {
        defer { timers.removeAll() }
        return timers
    }
}
#endif
