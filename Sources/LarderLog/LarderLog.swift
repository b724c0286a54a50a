#if canImport(Glibc)
import Glibc
#endif
import Logging

/// The one place Larder's modules get a logger from (`LarderLog.server`, `LarderLog.logger("larder.x")`).
/// `larder serve --log-format text|json --log-level L` calls `bootstrap` once at start; every line
/// goes to standard error (standard output stays for the CLI's own results), one event per line.
///
/// Secrets never reach a line: metadata whose key names a secret (`password`, `requirepass`,
/// `secret`, `token`, ...) is written as `<redacted>`; callers should log *whether* a secret is
/// set (e.g. `auth=password`), not its value.
public enum LarderLog {
    public enum Format: String, CaseIterable, Sendable {
        /// `2026-12-04T03:59:00.123Z info larder.server: message key=value ...` (logfmt-style metadata).
        case text
        /// One JSON object per line: `{"time":...,"level":...,"logger":...,"message":...,"pid":...,<metadata>}`.
        case json
    }

    /// Accepts swift-log's level names and Redis' `loglevel` names (`verbose` is Redis' level
    /// between debug and notice).
    public static func level(named name: String) -> Logger.Level? {
        switch name.lowercased() {
        case "verbose": return .info
        default: return Logger.Level(rawValue: name.lowercased())
        }
    }

    public static let levelNames = "trace, debug, info (or verbose), notice, warning, error, critical"

    /// Installs the process-wide handler. swift-log allows this once per process; later calls are
    /// ignored (so a test host or an embedding program can call it first).
    public static func bootstrap(format: Format, level: Logger.Level, sink: LogSink = .standardError) {
        let done = bootstrapLock.withLockedValue { done -> Bool in
            defer { done = true }
            return done
        }
        guard !done else { return }
        LoggingSystem.bootstrap { label in
            LarderLogHandler(label: label, format: format, level: level, sink: sink)
        }
    }

    /// A logger for `label` (`larder.<module>`), made after `bootstrap` so it has its handler.
    public static func logger(_ label: String) -> Logger { Logger(label: label) }

    /// The server's lifecycle, configuration, client limits and errors.
    public static var server: Logger { serverLogger.value }
    /// Batch jobs: materialization, historical retrieval.
    public static var batch: Logger { batchLogger.value }
    /// Snapshots, loads, the append-only file.
    public static var persistence: Logger { persistenceLogger.value }

    /// True for metadata keys whose values are secrets.
    public static func isSecretKey(_ key: String) -> Bool {
        let k = key.lowercased()
        return ["pass", "secret", "token", "credential", "private"].contains { k.contains($0) }
    }

    private static let bootstrapLock = LockedValue(false)
    private static let serverLogger = LazyLogger("larder.server")
    private static let batchLogger = LazyLogger("larder.batch")
    private static let persistenceLogger = LazyLogger("larder.persistence")
}

/// Made on first use, i.e. after `LarderLog.bootstrap`, so the logger gets the installed handler.
final class LazyLogger: @unchecked Sendable {
    private let label: String
    private let made = LockedValue<Logger?>(nil)
    init(_ label: String) { self.label = label }
    var value: Logger {
        made.withLockedValue { logger in
            if let logger { return logger }
            let new = Logger(label: label)
            logger = new
            return new
        }
    }
}

/// Keeps a noisy event (a client flood at maxclients) to one line per interval; the next line
/// says how many were left out. `allow()` is called only where the event happens, never per command.
public final class LogRateLimit: @unchecked Sendable {
    private let intervalNanos: UInt64
    private let state = LockedValue<(last: UInt64, suppressed: Int)>((0, 0))

    public init(seconds: Double = 1) { intervalNanos = UInt64(seconds * 1e9) }

    /// nil: do not log now. Otherwise the number of events left out since the last line.
    public func allow() -> Int? {
        let now = monotonicNanos()
        return state.withLockedValue { s -> Int? in
            if s.last != 0 && now &- s.last < intervalNanos { s.suppressed += 1; return nil }
            let left = s.suppressed
            s = (now, 0)
            return left
        }
    }
}

func monotonicNanos() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
}

/// A value behind a mutex (pthread, so the module needs nothing but swift-log and libc).
final class LockedValue<Value>: @unchecked Sendable {
    private var mutex = pthread_mutex_t()
    private var value: Value
    init(_ value: Value) {
        self.value = value
        pthread_mutex_init(&mutex, nil)
    }
    func withLockedValue<R>(_ body: (inout Value) throws -> R) rethrows -> R {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        return try body(&value)
    }
}
