import Dispatch
import Foundation
import LarderOffline

/// SIGTERM (a spot node's notice, `kubectl delete pod`) or SIGINT during `larder materialize`:
/// no new view starts; the current one stops at its next file boundary with a checkpoint
/// (ReadCheckpoint) or may finish within `graceSeconds`, else the process exits (143) without
/// recording it. Finished views are recorded in the state database as each one
/// ends, so a retried `materialize-incremental` starts each of them where it ended, and a retried
/// `materialize --resume` skips views recorded as done over the same window.
final class MaterializeStopSignal {
    private let flag = NSLockedFlag()
    private var sources: [DispatchSourceSignal] = []

    init(graceSeconds: Double) {
        for sig in [SIGTERM, SIGINT] {
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            let flag = self.flag
            source.setEventHandler {
                guard flag.set() else { return }
                printErr("larder: \(sig == SIGTERM ? "SIGTERM" : "SIGINT"): no new view starts; exiting in at most "
                    + String(format: "%.0f", graceSeconds) + " s (finished views are recorded)")
                DispatchQueue.global().asyncAfter(deadline: .now() + graceSeconds) {
                    printErr("larder: stopped during a view; the next run over the same window resumes after the files of its last checkpoint")
                    exit(143)
                }
            }
            source.resume()
            sources.append(source)
        }
    }

    var requested: () -> Bool { { [flag] in flag.isSet } }
}

final class NSLockedFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    /// Sets the flag; true the first time.
    func set() -> Bool { lock.lock(); defer { lock.unlock() }; if value { return false }; value = true; return true }
    var isSet: Bool { lock.lock(); defer { lock.unlock() }; return value }
}
