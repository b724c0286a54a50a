import Foundation
import NIOConcurrencyHelpers

/// One thread's latency monitor (Redis' latency.c): per event ("command", "fast-command"), a
/// ring of the last 160 one-second samples, each the largest latency (ms) of its second, and
/// the largest ever. Fed by `ShardWorker.runTimed` for each timed call of at least
/// `latency-monitor-threshold` ms; LATENCY reads and merges every thread's, hence the lock
/// (taken only for a call over the threshold).
final class LatencyMonitor {
    /// Redis' LATENCY_TS_LEN.
    static let samples = 160

    struct Series {
        var times = [Int](repeating: 0, count: LatencyMonitor.samples)
        var latencies = [Int](repeating: 0, count: LatencyMonitor.samples)
        var next = 0
        var max = 0

        /// Redis' latencyAddSample: one sample per second, the largest of that second.
        mutating func add(_ latency: Int, at now: Int) {
            if latency > max { max = latency }
            let prev = (next + LatencyMonitor.samples - 1) % LatencyMonitor.samples
            if times[prev] == now {
                if latency > latencies[prev] { latencies[prev] = latency }
                return
            }
            times[next] = now
            latencies[next] = latency
            next = (next + 1) % LatencyMonitor.samples
        }

        /// The samples, oldest first.
        var history: [(time: Int, latency: Int)] {
            (0..<LatencyMonitor.samples).compactMap { j in
                let i = (next + j) % LatencyMonitor.samples
                return times[i] == 0 ? nil : (times[i], latencies[i])
            }
        }
    }

    private let lock = NIOLock()
    private var events: [String: Series] = [:]

    @inline(never)
    func record(_ event: String, milliseconds: Int) {
        let now = Int(Date().timeIntervalSince1970)
        lock.withLock { events[event, default: Series()].add(milliseconds, at: now) }
    }

    var snapshot: [String: Series] { lock.withLock { events } }

    /// Forgets `names` (every event when nil); returns the names it had.
    func reset(_ names: [String]?) -> Set<String> {
        lock.withLock {
            guard let names else {
                let had = Set(events.keys)
                events.removeAll()
                return had
            }
            var had = Set<String>()
            for n in names where events.removeValue(forKey: n) != nil { had.insert(n) }
            return had
        }
    }
}
