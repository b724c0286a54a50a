import LarderLog
import Logging

/// The server's log events (LarderLog.server). Limit hits are rate limited: a flood of clients
/// over `maxclients` or over the query buffer limit writes one line a second, with a count.
enum ServerLog {
    static let maxClientsLimit = LogRateLimit(seconds: 1)
    static let queryBufferLimit = LogRateLimit(seconds: 1)
    static let protocolErrors = LogRateLimit(seconds: 1)

    static func maxClientsReached(limit: Int, peer: String) {
        guard let left = maxClientsLimit.allow() else { return }
        LarderLog.server.warning("client refused: max number of clients reached",
                                 metadata: ["event": "client_limit", "limit_name": "maxclients", "maxclients": .stringConvertible(limit),
                                            "peer": .string(peer), "suppressed": .stringConvertible(left)])
    }

    static func queryBufferExceeded(bytes: Int, limit: Int, peer: String) {
        guard let left = queryBufferLimit.allow() else { return }
        LarderLog.server.warning("closing client that reached max query buffer length",
                                 metadata: ["event": "client_limit", "limit_name": "client-query-buffer-limit",
                                            "qbuf": .stringConvertible(bytes), "limit": .stringConvertible(limit),
                                            "peer": .string(peer), "suppressed": .stringConvertible(left)])
    }

    static let outputLimit = LogRateLimit(seconds: 1)

    /// Redis' "Client ... scheduled to be closed ASAP for overcoming of output buffer limits."
    static func pubsubOutputLimit(peer: String, bytes: Int) {
        guard let left = outputLimit.allow() else { return }
        LarderLog.server.warning("closing pub/sub client that reached the output buffer limit",
                                 metadata: ["event": "client_limit", "limit_name": "client-output-buffer-limit pubsub",
                                            "bytes": .stringConvertible(bytes), "peer": .string(peer),
                                            "suppressed": .stringConvertible(left)])
    }

    /// Redis logs this once a minute at most.
    static let securityAttacks = LogRateLimit(seconds: 60)

    static func securityAttack(peer: String) {
        guard let left = securityAttacks.allow() else { return }
        LarderLog.server.warning("Possible SECURITY ATTACK detected. It looks like somebody is sending POST or Host: commands to Redis. This is likely due to an attacker attempting to use Cross Protocol Scripting to compromise your Redis instance. Connection aborted.",
                                 metadata: ["event": "security_attack", "peer": .string(peer), "suppressed": .stringConvertible(left)])
    }

    static func protocolError(_ message: String, peer: String) {
        guard let left = protocolErrors.allow() else { return }
        LarderLog.server.info("protocol error from client, closing it",
                              metadata: ["event": "protocol_error", "error": .string(message), "peer": .string(peer),
                                         "suppressed": .stringConvertible(left)])
    }
}

extension ServerSettings {
    /// The configuration as log metadata, without secrets: `auth` says whether a password is set.
    public var logMetadata: Logger.Metadata {
        [
            "bind": .string(bind), "port": .stringConvertible(port), "threads": .stringConvertible(threads),
            "tls_port": .stringConvertible(tlsPort ?? 0), "tls_auth_clients": .string(tlsPort == nil ? "none" : tls.verifyPeer.rawValue),
            "pin_threads": .stringConvertible(pinThreads),
            "auth": .string(requirePass == nil ? "none" : "password"),
            "protected_mode": .string(protectedMode.load(ordering: .relaxed) ? "yes" : "no"),
            "maxclients": .stringConvertible(maxClients.load(ordering: .relaxed)),
            "timeout": .stringConvertible(idleTimeout.load(ordering: .relaxed)),
            "tcp_keepalive": .stringConvertible(tcpKeepalive.load(ordering: .relaxed)),
            "proto_max_bulk_len": .stringConvertible(protoMaxBulkLength.load(ordering: .relaxed)),
            "proto_max_multibulk_len": .stringConvertible(protoMaxMultibulkLength.load(ordering: .relaxed)),
            "client_query_buffer_limit": .stringConvertible(clientQueryBufferLimit.load(ordering: .relaxed)),
            "snapshot": .string(snapshotPath), "save": .string(SavePoint.format(savePoints)),
        ]
    }
}

extension ServerLog {
    /// One limit per kind, so a flood of one (garbage) does not hide the other (stalled clients).
    static let tlsFailureLimits = [LogRateLimit(seconds: 1), LogRateLimit(seconds: 1)]

    /// A TLS client that failed its handshake (garbage, wrong certificate), stalled in it
    /// (`timedOut`), or sent a bad record.
    static func tlsFailure(_ reason: String, peer: String, timedOut: Bool = false) {
        guard let left = tlsFailureLimits[timedOut ? 1 : 0].allow() else { return }
        LarderLog.server.info("closing TLS client: \(reason)",
                              metadata: ["event": "tls_error", "error": .string(reason), "peer": .string(peer),
                                         "suppressed": .stringConvertible(left)])
    }
}

extension ServerLog {
    static func tlsConfigRefused(_ reason: String) {
        LarderLog.server.warning("TLS configuration refused, the previous one stays: \(reason)",
                                 metadata: ["event": "tls_config_refused", "error": .string(reason)])
    }
}

extension ServerLog {
    /// Redis logs "CONFIG REWRITE executed with success." / "CONFIG REWRITE failed: ...".
    static func configRewritten(_ path: String) {
        LarderLog.server.notice("CONFIG REWRITE executed with success.", metadata: ["event": "config_rewrite", "file": .string(path)])
    }

    static func configRewriteFailed(_ path: String, _ reason: String) {
        LarderLog.server.warning("CONFIG REWRITE failed: \(reason)",
                                 metadata: ["event": "config_rewrite_failed", "file": .string(path), "error": .string(reason)])
    }
}
