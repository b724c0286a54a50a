import Atomics
import LarderStore
import NIOCore

/// CLIENT PAUSE / UNPAUSE (Redis 7.0's pauseClients): until a deadline, commands of normal
/// clients are postponed, every command (ALL) or those that write or may replicate (WRITE).
/// A postponed client keeps its place: the command and everything pipelined after it run when
/// the pause ends (ConnectionHandler.postponeForPause). While paused, keys are neither expired
/// nor evicted, so the dataset stays as it was (Redis' checkClientPauseTimeoutAndReturnIfPaused).
///
/// The per-command cost when no pause is set is one relaxed load (`mode`).
public final class ClientPause: @unchecked Sendable {
    public enum Mode: Int { case off = 0, write = 1, all = 2 }
    /// The mode in force; it ends lazily at `endMilliseconds` (see `current`).
    /// An UnsafeAtomic: dispatch reads it per command.
    let mode = UnsafeAtomic<Int>.create(Mode.off.rawValue)
    deinit { mode.destroy() }
    let endMilliseconds = ManagedAtomic<Int64>(0)

    /// Pauses until `end` (ms since the epoch), keeping the later end and the stricter mode of
    /// a pause already in force, as Redis.
    func pause(until end: Int64, mode newMode: Mode) {
        var old = endMilliseconds.load(ordering: .relaxed)
        while end > old {
            let (exchanged, original) = endMilliseconds.compareExchange(expected: old, desired: end, ordering: .relaxed)
            if exchanged { break }
            old = original
        }
        var m = mode.load(ordering: .relaxed)
        while newMode.rawValue > m {
            let (exchanged, original) = mode.compareExchange(expected: m, desired: newMode.rawValue, ordering: .relaxed)
            if exchanged { break }
            m = original
        }
        Keyspace.expiryPaused.store(true, ordering: .relaxed)
    }

    /// Ends the pause now and wakes every postponed client.
    func unpause(workers: [ShardWorker]) {
        mode.store(Mode.off.rawValue, ordering: .relaxed)
        endMilliseconds.store(0, ordering: .relaxed)
        Keyspace.expiryPaused.store(false, ordering: .relaxed)
        for w in workers { w.loop.execute { w.resumePausedClients() } }
    }

    /// The mode in force at `now`; a pause past its end is ended here (by whoever looks first).
    func current(now: Int64) -> Mode {
        let m = Mode(rawValue: mode.load(ordering: .relaxed)) ?? .off
        guard m != .off else { return .off }
        if endMilliseconds.load(ordering: .relaxed) <= now {
            mode.store(Mode.off.rawValue, ordering: .relaxed)
            Keyspace.expiryPaused.store(false, ordering: .relaxed)
            return .off
        }
        return m
    }

    /// Whether a command with these flags waits under `mode` (Redis' processCommand: ALL
    /// postpones everything, WRITE what writes or may replicate, EXEC by its queue).
    static func postpones(_ mode: Mode, flags: CommandFlags) -> Bool {
        switch mode {
        case .off: return false
        case .all: return true
        case .write: return flags.contains(.write) || flags.contains(.mayReplicate)
        }
    }
}

extension ShardWorker {
    /// Runs the commands of this loop's postponed clients again (each may be postponed anew).
    func resumePausedClients() {
        let waiting = pausedConnections
        pausedConnections.removeAll()
        for c in waiting { c.resumeAfterPause() }
    }
}
