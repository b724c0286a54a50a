import Foundation
import LarderStore
#if canImport(Glibc)
import Glibc
#endif

/// Counters INFO reports and CONFIG RESETSTAT clears.
enum ServerStats {
    /// Bytes read from clients over all threads.
    static func netInputBytes(_ server: ServerState) -> Int { server.workers.reduce(0) { $0 &+ $1.netInputBytes } }
    /// Bytes written to clients over all threads.
    static func netOutputBytes(_ server: ServerState) -> Int { server.workers.reduce(0) { $0 &+ $1.netOutputBytes } }

    /// Commands called since start or the last RESETSTAT, over every shard thread.

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
                    w.netInputBytes = 0
                    w.netOutputBytes = 0
                    w.shard.expiredKeys = 0
                }
            }
            if w.loop.inEventLoop { clear() } else { w.loop.execute(clear) }
        }
    }
}
