import LarderTLS

/// CONFIG GET/SET of the `tls-*` settings (Redis' names). As in Redis, setting any of them
/// makes a new TLS context from all of them, reading the files again: `CONFIG SET tls-cert-file
/// <same path>` picks up a certificate rotated in place. New connections get the new context,
/// connections already made keep theirs; a context that cannot be made changes nothing.
extension ConfigFamily {
    static func tlsText(_ name: String, _ key: WritableKeyPath<TLSConfiguration, String?>) -> Parameter {
        Parameter(name: name, get: { $0.settings.tls[keyPath: key] ?? "" }, check: nil, tls: { config, value in
            config[keyPath: key] = value.isEmpty ? nil : value
            return nil
        })
    }

    static let tlsParameters: [Parameter] = [
        Parameter(name: "tls-port", get: { String($0.boundTLSPort) }, check: nil, unchangeable: .whileRunning),
        tlsText("tls-cert-file", \.certFile),
        tlsText("tls-key-file", \.keyFile),
        // A secret: CONFIG GET never shows it (MONITOR and SLOWLOG redact CONFIG SET's value).
        Parameter(name: "tls-key-file-pass", get: { _ in "" }, check: nil, tls: { config, value in
            config.keyFilePass = value.isEmpty ? nil : value
            return nil
        }),
        tlsText("tls-ca-cert-file", \.caCertFile),
        tlsText("tls-ca-cert-dir", \.caCertDir),
        Parameter(name: "tls-auth-clients", get: { $0.settings.tls.verifyPeer.rawValue }, check: nil, tls: { config, value in
            guard let auth = TLSClientAuth(rawValue: value.lowercased()) else {
                return ConfigRefusal(reason: "argument(s) must be one of the following: no, yes, optional")
            }
            config.verifyPeer = auth
            return nil
        }),
        Parameter(name: "tls-protocols", get: { $0.settings.tls.protocols }, check: nil, tls: { config, value in
            config.protocols = value
            return nil
        }),
        tlsText("tls-ciphers", \.ciphers),
        tlsText("tls-ciphersuites", \.ciphersuites),
        Parameter(name: "tls-prefer-server-ciphers", get: { $0.settings.tls.preferServerCiphers ? "yes" : "no" }, check: nil,
                  tls: { config, value in
            switch value.lowercased() {
            case "yes": config.preferServerCiphers = true
            case "no": config.preferServerCiphers = false
            default: return ConfigRefusal(reason: "argument must be 'yes' or 'no'")
            }
            return nil
        }),
    ]

    /// Makes the new context (without a TLS listener, only records the settings, as Redis).
    static func applyTLS(_ server: ServerState, _ config: TLSConfiguration) -> ConfigRefusal? {
        guard server.settings.tlsPort != nil else {
            server.settings.tls = config
            return nil
        }
        do {
            try server.configureTLS(config, reason: "CONFIG SET")
            return nil
        } catch {
            ServerLog.tlsConfigRefused("\(error)")
            return ConfigRefusal(reason: "Unable to update TLS configuration: \(error)")
        }
    }
}
