import Foundation
import LarderStore
import NIOConcurrencyHelpers
#if canImport(Glibc)
import Glibc
#endif

/// Counters INFO reports and CONFIG RESETSTAT clears.
enum ServerStats {
    /// Bytes read from clients over all threads.
    static func netInputBytes(_ server: ServerState) -> Int { server.workers.reduce(0) { $0 &+ $1.netInputBytes } }
    /// Bytes written to clients over all threads.
    static func netOutputBytes(_ server: ServerState) -> Int { server.workers.reduce(0) { $0 &+ $1.netOutputBytes } }

    /// Write commands run since start, over every shard thread (not cleared by RESETSTAT).
    static func writeCommands(_ server: ServerState) -> Int { server.workers.reduce(0) { $0 &+ $1.writeCommands } }

    /// Commands called since start or the last RESETSTAT, over every shard thread.
    static func totalCommands(_ server: ServerState) -> Int {
        var total = 0
        for w in server.workers { for i in 0..<w.commandSlots { total &+= w.commandCalls[i] } }
        return total
    }

    /// A command's calls and the microseconds they took, over every thread: the timed calls'
    /// total scaled by calls / timed calls (fast commands are sampled, see
    /// `ShardWorker.fastCommandSampleInterval`). Calls are counted where a command arrives and
    /// timed where it runs, so the two may come from different threads.
    static func commandTime(_ server: ServerState, _ specID: Int) -> (calls: Int, micros: Int) {
        var calls = 0, nanos = 0, timed = 0
        for w in server.workers {
            calls &+= w.commandCalls[specID]
            nanos &+= w.commandNanos[specID]
            timed &+= w.commandTimedCalls[specID]
        }
        guard timed > 0 else { return (calls, 0) }
        return (calls, Int(Double(nanos) / 1000 * Double(calls) / Double(timed)))
    }

    /// Error replies over every thread (INFO total_error_replies).
    static func totalErrorReplies(_ server: ServerState) -> Int { server.workers.reduce(0) { $0 &+ $1.errorStats.total } }

    /// Error replies per code over every thread, sorted by code as Redis lists them (INFO errorstats).
    static func errorCodes(_ server: ServerState) -> [(code: String, count: Int)] {
        var merged: [String: Int] = [:]
        for w in server.workers { merged.merge(w.errorStats.codes, uniquingKeysWith: +) }
        return merged.sorted { Array($0.key.utf8).lexicographicallyPrecedes(Array($1.key.utf8)) }.map { ($0.key, $0.value) }
    }

    /// A command's rejected and failed calls over every thread (INFO commandstats).
    static func commandErrors(_ server: ServerState, _ specID: Int) -> (rejected: Int, failed: Int) {
        var rejected = 0, failed = 0
        for w in server.workers {
            rejected &+= w.errorStats.rejectedCalls[specID]
            failed &+= w.errorStats.failedCalls[specID]
        }
        return (rejected, failed)
    }

    /// Clears the counters. Per-thread counters are cleared on their own thread, once the
    /// shard is not lent (the expired-key count lives in the shard).
    static func reset(_ server: ServerState) {
        server.clients.totalConnections.store(0, ordering: .relaxed)
        server.clients.rejectedConnections.store(0, ordering: .relaxed)
        server.opsSampler.reset()
        for w in server.workers {
            let clear = {
                w.submit {
                    w.commandCalls.update(repeating: 0, count: w.commandSlots)
                    w.commandNanos.update(repeating: 0, count: w.commandSlots)
                    w.commandTimedCalls.update(repeating: 0, count: w.commandSlots)
                    w.commandLatencyBuckets.update(repeating: 0, count: w.commandSlots * ShardWorker.latencyBucketCount)
                    w.netInputBytes = 0
                    w.netOutputBytes = 0
                    w.shard.expiredKeys = 0
                    w.shard.eviction.evictedKeys = 0
                    w.errorStats.reset()
                    for db in w.shard.databases { db.resetStats() }
                }
            }
            if w.loop.inEventLoop { clear() } else { w.loop.execute(clear) }
        }
    }
}

/// INFO instantaneous_ops_per_sec as Redis computes it (trackInstantaneousMetric): every 100 ms
/// the commands processed since the previous sample, per second; the figure is the mean of the
/// last 16 samples. Ticked by shard 0's expiry timer (`ShardWorker.cron`); read by INFO from
/// any thread (a stale mean is acceptable, the samples are plain Ints).
final class OpsPerSecondSampler {
    static let samples = 16
    private var ring = [Int](repeating: 0, count: OpsPerSecondSampler.samples)
    private var next = 0
    private var lastCount = 0
    private var lastTime: Int64 = 0
    private let lock = NIOLock()

    func tick(_ server: ServerState, nowMilliseconds now: Int64) {
        guard now - lastTime >= 100 else { return }
        let count = ServerStats.totalCommands(server)
        lock.withLock {
            if lastTime > 0 {
                let elapsed = now - lastTime
                ring[next] = max(0, count - lastCount) * 1000 / Int(elapsed)
                next = (next + 1) % Self.samples
            }
            lastCount = count
            lastTime = now
        }
    }

    var opsPerSecond: Int { lock.withLock { ring.reduce(0, +) / Self.samples } }

    /// CONFIG RESETSTAT: the command counts restart at 0.
    func reset() { lock.withLock { ring = [Int](repeating: 0, count: Self.samples); lastCount = 0 } }
}
