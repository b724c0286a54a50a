import LarderLog
import LarderTLS
import NIOConcurrencyHelpers

/// The TLS context new connections take. Replacing it (certificate rotation) never touches
/// connections already made: each holds the context it started with (OpenSSL counts references).
final class TLSContextStore: @unchecked Sendable {
    private let lock = NIOLock()
    private var _current: TLSContext?
    var current: TLSContext? { lock.withLock { _current } }
    func replace(_ context: TLSContext) { lock.withLock { _current = context } }
}

extension ServerState {
    /// Makes a context from `configuration` (reading every file again) and, only if that
    /// succeeds, serves new connections with it and records the settings. On failure the old
    /// context and settings stay and the error names the file or setting (CONFIG SET answers it).
    public func configureTLS(_ configuration: TLSConfiguration, reason: String) throws {
        let context = try TLSContext.server(configuration)
        tlsContexts.replace(context)
        settings.tls = configuration
        LarderLog.server.notice("TLS configured (\(reason)): new connections use \(configuration.certFile ?? "?")",
                                metadata: ["event": "tls_configured", "reason": .string(reason),
                                           "cert_file": .string(configuration.certFile ?? ""),
                                           "auth_clients": .string(configuration.verifyPeer.rawValue)])
    }

    /// SIGHUP: the same settings, the files read again (a rotated certificate in place).
    public func reloadTLS() throws {
        guard settings.tlsPort != nil else { return }
        try configureTLS(settings.tls, reason: "reload")
    }
}
