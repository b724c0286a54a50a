import Foundation
import LarderFeatures

/// What the feature commands and the HTTP server share: the served definitions (swapped
/// whole on reload, so a request sees one version from start to end) and the defaults.
public final class ServingState: @unchecked Sendable {
    let lock = NSLock()
    private var current: ServingCatalog
    /// Where the definitions are loaded from (reload reads it again).
    public let repoDirectory: String
    /// Server default for ReadOptions.enforceTTL; a request may turn it off.
    public let enforceTTLByDefault: Bool
    /// The last reload failure (nil after a success), for FEATURES.RELOAD / logs.
    public private(set) var lastReloadError: String?
    public let metrics: ServingMetrics

    public init(catalog: ServingCatalog, repoDirectory: String, enforceTTLByDefault: Bool = true) {
        current = catalog
        self.repoDirectory = repoDirectory
        self.enforceTTLByDefault = enforceTTLByDefault
        metrics = ServingMetrics()
    }

    public var catalog: ServingCatalog { lock.withLock { current } }

    /// Loads the definitions again; on failure the old ones keep serving and the error is
    /// returned (and kept in lastReloadError).
    @discardableResult
    public func reload() -> Result<ServingCatalog, Error> {
        do {
            let fresh = try ServingCatalog.load(directory: repoDirectory)
            lock.withLock { current = fresh; lastReloadError = nil }
            metrics.reloads.add(ok: true)
            return .success(fresh)
        } catch {
            lock.withLock { lastReloadError = "\(error)" }
            metrics.reloads.add(ok: false)
            return .failure(error)
        }
    }
}

/// Counters that do not sit on the per-command hot path (reloads); the per-request ones are
/// per thread (ServingMetrics).
public final class ReloadCounter: @unchecked Sendable {
    private let lock = NSLock()
    public private(set) var succeeded = 0
    public private(set) var failed = 0
    public private(set) var lastSuccess: Date?
    /// The last reload attempt: when, and whether it succeeded.
    public private(set) var lastAttempt: (at: Date, ok: Bool)?
    func add(ok: Bool) {
        lock.withLock {
            if ok { succeeded += 1; lastSuccess = Date() } else { failed += 1 }
            lastAttempt = (Date(), ok)
        }
    }
    var snapshot: (succeeded: Int, failed: Int, lastAttempt: (at: Date, ok: Bool)?) { lock.withLock { (succeeded, failed, lastAttempt) } }
}

extension ServingState {
    /// INFO features: what is served and from where, and how the last reload went.
    public func infoFields() -> [(String, String)] {
        let c = catalog, d = c.definitions
        let reloads = metrics.reloads.snapshot
        let error = lock.withLock { lastReloadError }
        let status = reloads.lastAttempt.map { $0.ok ? "ok" : "failed" } ?? "none"
        return [
            ("definitions_source", repoDirectory), ("project", c.project),
            ("feature_views", String(d.featureViews.count)), ("online_feature_views", String(c.views.count)),
            ("entities", String(d.entities.count)), ("feature_services", String(d.featureServices.count)),
            ("reloads_ok", String(reloads.succeeded)), ("reloads_failed", String(reloads.failed)),
            ("last_reload_status", status),
            ("last_reload_time", reloads.lastAttempt.map { String(Int64($0.at.timeIntervalSince1970)) } ?? "0"),
            // One line: INFO fields end at CRLF.
            ("last_reload_error", (error ?? "").replacingOccurrences(of: "\r", with: " ").replacingOccurrences(of: "\n", with: "; ")),
            ("materializing", metrics.materializations.isRunning ? "1" : "0"),
        ]
    }
}
