import Atomics
import Foundation
import LarderRESP
import NIOConcurrencyHelpers

/// The settings of the operator tools (SLOWLOG, LATENCY) that CONFIG GET/SET reads and
/// changes; atomics, so `ShardWorker.runTimed` reads them with one load.
public final class MonitoringSettings: @unchecked Sendable {
    /// Redis' `slowlog-log-slower-than`, microseconds: -1 logs nothing, 0 every command.
    /// This and latencyThreshold are UnsafeAtomics: every command reads them (runTimed).
    public let slowlogSlowerThan = UnsafeAtomic<Int>.create(10_000)
    /// Redis' `slowlog-max-len`.
    public let slowlogMaxLen = ManagedAtomic<Int>(128)
    /// Redis' `latency-monitor-threshold`, milliseconds: 0 is off.
    public let latencyThreshold = UnsafeAtomic<Int>.create(0)
    /// Slowlog ids are unique over all shards (GET merges the shards' logs by id).
    let nextSlowlogID = ManagedAtomic<Int>(0)

    public init() {}
    deinit { slowlogSlowerThan.destroy(); latencyThreshold.destroy() }

    /// The duration from which a call is logged, in nanoseconds (Int.max: off).
    @inline(__always) var slowlogThresholdNanos: Int {
        let us = slowlogSlowerThan.load(ordering: .relaxed)
        return us < 0 ? Int.max : us &* 1000
    }

    /// The duration from which a call is a latency sample, in nanoseconds (Int.max: off).
    @inline(__always) var latencyThresholdNanos: Int {
        let ms = latencyThreshold.load(ordering: .relaxed)
        return ms <= 0 ? Int.max : ms &* 1_000_000
    }
}

/// One thread's slow log: the calls run on this thread that took at least
/// `slowlog-log-slower-than`, newest last, at most `slowlog-max-len` of them. Appended on the
/// owning thread only when a call was slow; SLOWLOG GET/LEN/RESET read it from any thread,
/// hence the lock (never taken on a call that was not slow).
final class Slowlog {
    struct Entry {
        let id: Int
        let unixSeconds: Int
        let micros: Int
        let arguments: [[UInt8]]
        let clientAddress: String
        let clientName: String
    }

    /// Redis' SLOWLOG_ENTRY_MAX_ARGC and SLOWLOG_ENTRY_MAX_STRING.
    static let maxArguments = 32
    static let maxArgumentBytes = 128

    private let lock = NIOLock()
    private var entries: [Entry] = []

    /// Records one slow call. Arguments are truncated as Redis does: at most 32, the last saying
    /// how many more there were; strings longer than 128 bytes cut with how many bytes more.
    /// The secrets of AUTH, HELLO ... AUTH, ACL SETUSER and CONFIG SET requirepass are replaced by
    /// "(redacted)", as Redis 7 does.
    @inline(never)
    func record(_ spec: CommandSpec, _ args: Arguments, micros: Int, client: ClientSession?,
                settings: MonitoringSettings) {
        let maxLen = settings.slowlogMaxLen.load(ordering: .relaxed)
        let argc = args.count
        let kept = min(argc, Self.maxArguments)
        let redacted = Self.redactedArguments(spec, args)
        var logged: [[UInt8]] = []
        logged.reserveCapacity(kept)
        for j in 0..<kept {
            if kept != argc && j == kept - 1 {
                logged.append(Array("... (\(argc - kept + 1) more arguments)".utf8))
            } else if redacted.contains(j) {
                logged.append(Array("(redacted)".utf8))
            } else {
                let a = args[j]
                if a.count > Self.maxArgumentBytes {
                    var s = Array(UnsafeRawBufferPointer(rebasing: a[0..<Self.maxArgumentBytes]))
                    s.append(contentsOf: "... (\(a.count - Self.maxArgumentBytes) more bytes)".utf8)
                    logged.append(s)
                } else {
                    logged.append(Array(a))
                }
            }
        }
        let entry = Entry(id: settings.nextSlowlogID.loadThenWrappingIncrement(ordering: .relaxed),
                          unixSeconds: Int(Date().timeIntervalSince1970), micros: micros,
                          arguments: logged, clientAddress: client?.address ?? "",
                          clientName: client?.name ?? "")
        lock.withLock {
            entries.append(entry)
            if entries.count > maxLen { entries.removeFirst(entries.count - max(maxLen, 0)) }
        }
    }

    /// The argument indexes Redis replaces by "(redacted)" in the slow log.
    static func redactedArguments(_ spec: CommandSpec, _ args: Arguments) -> Set<Int> {
        switch spec.name {
        case "auth": return Set(1..<max(args.count, 1))
        case "hello":
            var i = 2
            while i < args.count {
                if args.string(i).lowercased() == "auth" { return [i + 1, i + 2] }
                i += 1
            }
            return []
        case "acl":
            // Redis redacts everything after ACL SETUSER, the user name included.
            guard args.count > 2, args.string(1).lowercased() == "setuser" else { return [] }
            return Set(2..<args.count)
        case "config":
            guard args.count > 3, args.string(1).lowercased() == "set" else { return [] }
            var out = Set<Int>()
            var i = 2
            while i + 1 < args.count {
                let name = args.string(i).lowercased()
                if name == "requirepass" || name == "tls-key-file-pass" { out.insert(i + 1) }
                i += 2
            }
            return out
        default: return []
        }
    }

    var snapshot: [Entry] { lock.withLock { entries } }
    var count: Int { lock.withLock { entries.count } }
    func reset() { lock.withLock { entries.removeAll() } }
}
