import Atomics
import Foundation
import LarderLog
import LarderStore
#if canImport(Glibc)
import Glibc
/// glibc's malloc_trim (declared in <malloc.h>, which the Glibc module leaves out).
@_silgen_name("malloc_trim") private func larder_malloc_trim(_ pad: Int) -> Int32
#endif

/// Redis' `maxmemory` with the `noeviction` policy: while the process uses more than the limit,
/// commands flagged `denyoom` get -OOM, everything else runs. Eviction policies are not built.
///
/// Used memory is the process's resident size (the same number INFO used_memory prints),
/// sampled every 100 ms on shard 0's loop into one flag that dispatch reads with one atomic
/// load, so no command pays for a measurement; a burst of writes may overshoot the limit by what
/// arrives within 100 ms. Over the limit, `malloc_trim` first hands freed pages back, so memory
/// freed by DEL/FLUSHALL counts as freed.
final class MemoryLimit: @unchecked Sendable {
    let full = ManagedAtomic<Bool>(false)
    static let checkInterval: Int64 = 100  // ms

    static let oomError: StaticString = "OOM command not allowed when used memory > 'maxmemory'."

    func check(limit: Int) {
        guard limit > 0 else {
            if full.load(ordering: .relaxed) { full.store(false, ordering: .relaxed) }
            return
        }
        var used = ProcessMemory.residentBytes()
        if used > limit {
            #if canImport(Glibc)
            _ = larder_malloc_trim(0)
            #endif
            used = ProcessMemory.residentBytes()
        }
        let over = used > limit
        if over != full.load(ordering: .relaxed) {
            full.store(over, ordering: .relaxed)
            if over {
                LarderLog.server.warning("used memory \(used) bytes is over maxmemory \(limit): write commands that add data get -OOM (policy noeviction)",
                                         metadata: ["event": "maxmemory_reached", "used": .stringConvertible(used), "maxmemory": .stringConvertible(limit)])
            } else {
                LarderLog.server.notice("used memory \(used) bytes is back under maxmemory \(limit)",
                                        metadata: ["event": "maxmemory_cleared"])
            }
        }
    }
}
