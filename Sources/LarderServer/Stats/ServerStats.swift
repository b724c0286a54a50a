import Foundation
import LarderStore
#if canImport(Glibc)
import Glibc
#endif

/// Counters INFO reports and CONFIG RESETSTAT clears.
enum ServerStats {
    /// Commands called since start or the last RESETSTAT, over every shard thread.
    /// Bytes read (0) or written (1) over all threads.
    static func netBytes(_ server: ServerState, _ which: Int) -> Int {
        server.workers.reduce(0) { $0 &+ $1.netBytes[which] }
    }

    static func totalCommands(_ server: ServerState) -> Int {
        var total = 0
        for w in server.workers { for i in 0..<w.commandSlots { total &+= w.commandCalls[i] } }
        return total
    }

    /// Clears the counters. Per-thread counters are cleared on their own thread, once the
    /// shard is not lent (the expired-key count lives in the shard).
    static func reset(_ server: ServerState) {
        server.clients.totalConnections.store(0, ordering: .relaxed)
        server.clients.rejectedConnections.store(0, ordering: .relaxed)
        for w in server.workers {
            let clear = {
                w.submit {
                    w.commandCalls.update(repeating: 0, count: w.commandSlots)
                    w.commandMicros.update(repeating: 0, count: w.commandSlots)
                    w.netBytes.update(repeating: 0, count: 2)
                    w.shard.expiredKeys = 0
                }
            }
            if w.loop.inEventLoop { clear() } else { w.loop.execute(clear) }
        }
    }
}

/// What the process uses, for INFO memory and MEMORY STATS.
enum ProcessMemory {
    /// Redis' used_memory is its allocator's count; glibc's mallinfo2 is not visible from
    /// Swift, so the resident size stands in for it.
    static func allocatedBytes() -> Int { residentBytes() }

    /// Resident set size, from /proc/self/statm (pages).
    static func residentBytes() -> Int {
        guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return 0 }
        let fields = text.split(separator: " ")
        guard fields.count > 1, let pages = Int(fields[1]) else { return 0 }
        return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
    }

    static func totalSystemBytes() -> Int {
        Int(sysconf(Int32(_SC_PHYS_PAGES))) * Int(sysconf(Int32(_SC_PAGESIZE)))
    }
}
