import Atomics
import Foundation
import LarderLog
import LarderRESP
import LarderStore
#if canImport(Glibc)
import Glibc
/// glibc's malloc_trim (declared in <malloc.h>, which the Glibc module leaves out).
@_silgen_name("malloc_trim") private func larder_malloc_trim(_ pad: Int) -> Int32
#endif

/// Redis' `maxmemory` and its policies (docs/memory.md). While the process uses more than the
/// limit, a command flagged `denyoom` either gets -OOM (`noeviction`, or nothing left to evict)
/// or first evicts keys of the shard it runs on (every other policy, Eviction.swift).
///
/// Used memory is what the allocator has handed out (mallinfo2, INFO used_memory), measured
/// every 100 ms on shard 0's loop: too slow for a pipelined write load (it would overshoot by
/// what arrives in 100 ms) and too costly per command (it locks every malloc arena). Between
/// two measures each shard adds to its own counter what its writes bring (their argument
/// bytes plus a per-key overhead) and takes off what it evicts (MEMORY USAGE's estimate of
/// each key), so the estimate a shard compares with the limit is the last measure plus every
/// shard's counter: N relaxed loads, no lock. Each measure starts the counters again at 0.
///
/// How the shards share one limit without a global lock: a shard that finds the estimate
/// `excess` bytes over evicts `excess / shards` bytes of its own keys before running its
/// write (at least one key). Keys are spread over shards by hash, so shares are about equal;
/// when only one shard writes, each of its writes evicts another share of what is left over,
/// which converges within a few writes; two shards never both evict the whole excess.
final class MemoryLimit: @unchecked Sendable {
    /// Over the limit at the last measure: `noeviction` refuses writes at dispatch on it, and
    /// the embedded materialization stops.
    /// An UnsafeAtomic: dispatch reads it per command.
    let full = UnsafeAtomic<Bool>.create(false)
    deinit { full.destroy() }
    /// The allocator's in-use bytes at the last measure.
    let measured = ManagedAtomic<Int>(0)
    /// Per shard: bytes its writes added minus bytes it evicted since the last measure.
    private(set) var pending: [ManagedAtomic<Int>] = []
    static let checkInterval: Int64 = 100  // ms
    /// Counted per key written on top of its argument bytes: a short key's entry, its table
    /// slot and malloc's rounding (bench/memory.sh: 56-80 bytes per short string key).
    static let perWriteOverhead = 48

    static let oomError: StaticString = "OOM command not allowed when used memory > 'maxmemory'."

    /// The highest used memory measured (INFO used_memory_peak).
    let peak = ManagedAtomic<Int>(0)

    /// Records `used` as a candidate peak; returns the peak.
    @discardableResult func notePeak(_ used: Int) -> Int {
        var p = peak.load(ordering: .relaxed)
        while used > p {
            let (done, now) = peak.compareExchange(expected: p, desired: used, ordering: .relaxed)
            if done { return used }
            p = now
        }
        return p
    }

    func configure(shards: Int) {
        pending = (0..<shards).map { _ in ManagedAtomic<Int>(0) }
    }

    /// The used-memory estimate between measures.
    @inline(__always) var estimatedUsed: Int {
        var total = measured.load(ordering: .relaxed)
        for p in pending { total &+= p.load(ordering: .relaxed) }
        return total
    }

    func check(limit: Int, policy: EvictionPolicy) {
        guard limit > 0 else {
            if full.load(ordering: .relaxed) { full.store(false, ordering: .relaxed) }
            return
        }
        for p in pending { p.store(0, ordering: .relaxed) }
        var used = ProcessMemory.allocatedBytes()
        if used > limit && policy == .noeviction {
            // Hands freed pages back so resident-size fallbacks see DEL/FLUSHALL too.
            #if canImport(Glibc)
            _ = larder_malloc_trim(0)
            #endif
            used = ProcessMemory.allocatedBytes()
        }
        measured.store(used, ordering: .relaxed)
        notePeak(used)
        let over = used > limit
        if over != full.load(ordering: .relaxed) {
            full.store(over, ordering: .relaxed)
            if over {
                LarderLog.server.warning("used memory \(used) bytes is over maxmemory \(limit) (policy \(policy.name))",
                                         metadata: ["event": "maxmemory_reached", "used": .stringConvertible(used), "maxmemory": .stringConvertible(limit),
                                                    "policy": .string(policy.name)])
            } else {
                LarderLog.server.notice("used memory \(used) bytes is back under maxmemory \(limit)",
                                        metadata: ["event": "maxmemory_cleared"])
            }
        }
    }

    /// Redis' eviction time limit per call from maxmemory-eviction-tenacity (evict.c's
    /// evictionTimeLimitUs): 50 us per step up to 10 (500 us), then 15% more per step; 100 is
    /// no limit.
    static func evictionTimeLimitNanos(tenacity: Int) -> Int64 {
        if tenacity <= 10 { return 50_000 * Int64(max(tenacity, 0)) }
        if tenacity < 100 { return Int64(500_000 * pow(1.15, Double(tenacity - 10))) }
        return .max
    }
}

extension CommandContext {
    /// Run before a `denyoom` command (CommandSpec's handler wrapper): with a limit set, counts
    /// what the write adds and, over the limit under an eviction policy, evicts this shard's
    /// share first (Redis' performEvictions). False (the command must reply -OOM instead of
    /// running) when the process is over the limit and nothing here may be evicted.
    func makeRoomForWrite(_ args: Arguments) -> Bool {
        let settings = server.settings
        let limit = settings.maxMemory.load(ordering: .relaxed)
        // Not while the dataset loads (Redis evicts nothing then either).
        guard limit > 0, !server.loading.active.load(ordering: .relaxed) else { return true }
        // The shard this write lands on: the first one held (the key's for a one-key command).
        guard let shard = shards.first(where: { $0 != nil }) ?? nil else { return true }
        let memory = server.memoryLimit
        guard shard.index < memory.pending.count else { return true }
        var adds = MemoryLimit.perWriteOverhead
        for i in 1..<args.count { adds &+= args[i].count }
        memory.pending[shard.index].wrappingIncrement(by: adds, ordering: .relaxed)
        let policy = EvictionPolicy(rawValue: settings.maxMemoryPolicy.load(ordering: .relaxed)) ?? .noeviction
        // noeviction refuses at dispatch, from the measured flag (ConnectionHandler+Dispatch).
        guard policy != .noeviction else { return true }
        let used = memory.estimatedUsed
        guard used > limit else { return true }
        let share = max(1, (used - limit) / max(1, memory.pending.count))
        let started = Clock.monotonicNanoseconds()
        let timeLimit = MemoryLimit.evictionTimeLimitNanos(tenacity: settings.evictionTenacity.load(ordering: .relaxed))
        let samples = settings.maxMemorySamples.load(ordering: .relaxed)
        var freed = 0, keys = 0
        // In steps of 16 keys with the clock read between them, as Redis checks its time limit.
        while freed < share {
            let step = shard.evict(policy: policy, samples: samples, now: now, bytes: share - freed, maxKeys: 16) { db, key in
                server.logExpiry(db: db, key: key)   // the append-only file logs an eviction as DEL, as Redis propagates it
                server.notifyEvicted(db: db, key: key)
            }
            freed += step.bytes
            keys += step.keys
            if step.keys == 0 || Clock.monotonicNanoseconds() &- started > timeLimit { break }
        }
        memory.pending[shard.index].wrappingDecrement(by: freed, ordering: .relaxed)
        return keys > 0 || memory.estimatedUsed <= limit
    }
}

extension ServerState {
    /// The keyspace notification `evicted` (Redis' notifyKeyspaceEvent(NOTIFY_EVICTED, "evicted",
    /// ...)): called for each evicted key, on the thread that evicts it, before it goes.
    @inline(__always)
    func notifyEvicted(db: Int, key: UnsafeRawBufferPointer) {
        notifyKeyspace(.evicted, "evicted", key: key, db: db)
    }
}
