import LarderRESP
import NIOConcurrencyHelpers

/// One thread's error replies (INFO errorstats, total_error_replies) and per-command
/// rejected/failed calls (INFO commandstats), as Redis 7 defines them:
/// - *rejected*: refused before running (unknown command, wrong arity, NOAUTH, not allowed in
///   MULTI): counted by `rejected`, not as a call;
/// - *failed*: ran and replied with an error: counted by `ShardWorker.runTimed`, which compares
///   the reply writer's error count before and after the handler.
/// Each error reply counts once under its code, the first word of the message (ERR, WRONGTYPE,
/// NOAUTH, ...). Errors are the rare path: the counters are written only on the owning thread;
/// the per-code table sits behind a lock because INFO reads it from another thread.
final class ErrorStats {
    /// Redis stops adding codes after 128 distinct ones (a client could otherwise grow the table
    /// without bound with made-up codes); errors still count in total_error_replies.
    static let maxCodes = 128

    let commandSlots: Int
    /// Indexed by CommandSpec.id; raw memory for the same reason as ShardWorker.commandCalls.
    let rejectedCalls: UnsafeMutablePointer<Int>
    let failedCalls: UnsafeMutablePointer<Int>
    /// Error replies sent by this thread (INFO total_error_replies).
    private(set) var total = 0
    private let lock = NIOLock()
    private var byCode: [String: Int] = [:]

    init(commandSlots: Int) {
        self.commandSlots = commandSlots
        rejectedCalls = .allocate(capacity: commandSlots)
        rejectedCalls.initialize(repeating: 0, count: commandSlots)
        failedCalls = .allocate(capacity: commandSlots)
        failedCalls.initialize(repeating: 0, count: commandSlots)
    }

    deinit {
        rejectedCalls.deallocate()
        failedCalls.deallocate()
    }

    /// Counts `n` error replies with `code`.
    func count(_ code: String, _ n: Int = 1) {
        total &+= n
        lock.withLock {
            if let c = byCode[code] { byCode[code] = c &+ n }
            else if byCode.count < Self.maxCodes { byCode[code] = n }
        }
    }

    /// A command refused before it ran, with the error reply `code` it got.
    func rejected(_ specID: Int?, code: String) {
        if let specID { rejectedCalls[specID] &+= 1 }
        count(code)
    }

    /// A command that ran and wrote `out.errorCount - before` error replies (all counted
    /// under the last one's code: a handler writes at most one error almost always).
    @inline(never)
    func failed(_ specID: Int, _ out: ReplyWriter, before: Int) {
        failedCalls[specID] &+= 1
        count(out.lastErrorCode ?? "ERR", out.errorCount &- before)
    }

    /// A command that ran here (not through runTimed) and replied with the error `code`.
    func failed(_ specID: Int, code: String) {
        failedCalls[specID] &+= 1
        count(code)
    }

    /// The per-code counts (read from any thread).
    var codes: [String: Int] { lock.withLock { byCode } }

    /// CONFIG RESETSTAT; on the owning thread.
    func reset() {
        rejectedCalls.update(repeating: 0, count: commandSlots)
        failedCalls.update(repeating: 0, count: commandSlots)
        total = 0
        lock.withLock { byCode.removeAll() }
    }
}
