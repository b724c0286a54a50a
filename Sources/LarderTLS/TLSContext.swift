import COpenSSL
import Foundation

/// Redis' `tls-auth-clients`: whether a client must present a certificate signed by the CA.
public enum TLSClientAuth: String, Sendable {
    case yes, no, optional
}

/// What a TLS context is made from: the server's `tls-*` settings (Redis' names), or the
/// client's `ssl_*` options (redis-py's names, `RESPEndpoint`).
public struct TLSConfiguration: Sendable, Equatable {
    public var certFile: String?
    public var keyFile: String?
    /// Passphrase of an encrypted `keyFile` (`tls-key-file-pass`).
    public var keyFilePass: String?
    public var caCertFile: String?
    public var caCertDir: String?
    /// Server: `tls-auth-clients`. Client: `ssl_cert_reqs` (yes = required).
    public var verifyPeer: TLSClientAuth = .yes
    /// `tls-protocols`: "TLSv1.2 TLSv1.3" (Redis' default).
    public var protocols: String = "TLSv1.2 TLSv1.3"
    /// `tls-ciphers` (TLSv1.2 and below) and `tls-ciphersuites` (TLSv1.3); nil = OpenSSL's default.
    public var ciphers: String?
    public var ciphersuites: String?
    public var preferServerCiphers = false
    /// Client side: check the server certificate's names against the host connected to
    /// (redis-py's `ssl_check_hostname`; on by default here, as a verified connection should be).
    public var verifyHostname = true

    public init(certFile: String? = nil, keyFile: String? = nil, keyFilePass: String? = nil,
                caCertFile: String? = nil, caCertDir: String? = nil, verifyPeer: TLSClientAuth = .yes,
                protocols: String = "TLSv1.2 TLSv1.3", ciphers: String? = nil, ciphersuites: String? = nil,
                preferServerCiphers: Bool = false) {
        self.certFile = certFile; self.keyFile = keyFile; self.keyFilePass = keyFilePass
        self.caCertFile = caCertFile; self.caCertDir = caCertDir; self.verifyPeer = verifyPeer
        self.protocols = protocols; self.ciphers = ciphers; self.ciphersuites = ciphersuites
        self.preferServerCiphers = preferServerCiphers
    }
}

/// A refused TLS configuration or a failed TLS operation; the text names the file or setting.
public struct TLSError: Error, CustomStringConvertible, Sendable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }

    /// The reasons OpenSSL queued on this thread, oldest first, joined (and the queue cleared).
    static func openSSLReasons() -> String {
        var reasons: [String] = []
        while true {
            let code = ERR_get_error()
            if code == 0 { break }
            var buf = [CChar](repeating: 0, count: 256)
            ERR_error_string_n(code, &buf, buf.count)
            reasons.append(String(cString: buf))
        }
        return reasons.isEmpty ? "unknown OpenSSL error" : reasons.joined(separator: "; ")
    }
}

/// An OpenSSL `SSL_CTX`: certificates, CA, verification, protocols and ciphers, loaded once
/// and shared (read-only) by every connection made from it. Reloading certificates means
/// making a new context; connections keep the one they started with (OpenSSL reference-counts it).
public final class TLSContext: @unchecked Sendable {
    let ctx: OpaquePointer
    public let isServer: Bool
    public let configuration: TLSConfiguration

    /// A server context. Throws, naming the file or setting, when a file is missing or
    /// unreadable, the key does not match the certificate, or a protocol/cipher is unknown.
    public static func server(_ c: TLSConfiguration) throws -> TLSContext {
        guard let cert = c.certFile, !cert.isEmpty else { throw TLSError("tls-cert-file is required for TLS") }
        guard let key = c.keyFile, !key.isEmpty else { throw TLSError("tls-key-file is required for TLS") }
        if c.verifyPeer != .no && (c.caCertFile ?? "").isEmpty && (c.caCertDir ?? "").isEmpty {
            throw TLSError("tls-ca-cert-file or tls-ca-cert-dir is required to authenticate clients (tls-auth-clients \(c.verifyPeer.rawValue)); set tls-auth-clients no to accept clients without certificates")
        }
        let context = try TLSContext(server: true, c)
        try context.useCertificate(cert, key: key, pass: c.keyFilePass, settingPrefix: "tls-")
        switch c.verifyPeer {
        case .yes: SSL_CTX_set_verify(context.ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nil)
        case .optional: SSL_CTX_set_verify(context.ctx, SSL_VERIFY_PEER, nil)
        case .no: SSL_CTX_set_verify(context.ctx, SSL_VERIFY_NONE, nil)
        }
        // Session resumption across connections made from this context (Redis' tls-session-caching).
        let sid = Array("larder".utf8)
        SSL_CTX_set_session_id_context(context.ctx, sid, UInt32(sid.count))
        return context
    }

    /// A client context (`rediss://`, Feast's `ssl=true`): the server's certificate is verified
    /// against `caCertFile`/`caCertDir`, or the system's CAs when neither is given, unless
    /// `verifyPeer` is `.no`; `certFile`/`keyFile` are the client's own certificate.
    public static func client(_ c: TLSConfiguration) throws -> TLSContext {
        let context = try TLSContext(server: false, c)
        if let cert = c.certFile, !cert.isEmpty {
            try context.useCertificate(cert, key: c.keyFile ?? cert, pass: c.keyFilePass, settingPrefix: "ssl_")
        }
        if (c.caCertFile ?? "").isEmpty && (c.caCertDir ?? "").isEmpty {
            SSL_CTX_set_default_verify_paths(context.ctx)
        }
        SSL_CTX_set_verify(context.ctx, c.verifyPeer == .no ? SSL_VERIFY_NONE : SSL_VERIFY_PEER, nil)
        return context
    }

    private init(server: Bool, _ c: TLSConfiguration) throws {
        ERR_clear_error()
        guard let ctx = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method()) else {
            throw TLSError("cannot create an OpenSSL context: \(TLSError.openSSLReasons())")
        }
        self.ctx = ctx
        self.isServer = server
        self.configuration = c
        let prefix = server ? "tls-" : "ssl_"
        larder_ssl_ctx_set_defaults(ctx, c.preferServerCiphers ? 1 : 0)
        let (low, high) = try Self.protocolRange(c.protocols, setting: "\(prefix)protocols")
        _ = larder_ssl_ctx_set_min_proto(ctx, low)
        _ = larder_ssl_ctx_set_max_proto(ctx, high)
        if let ciphers = c.ciphers, !ciphers.isEmpty, SSL_CTX_set_cipher_list(ctx, ciphers) != 1 {
            throw TLSError("\(prefix)ciphers '\(ciphers)': no cipher OpenSSL knows (\(TLSError.openSSLReasons()))")
        }
        if let suites = c.ciphersuites, !suites.isEmpty, SSL_CTX_set_ciphersuites(ctx, suites) != 1 {
            throw TLSError("\(prefix)ciphersuites '\(suites)': not a TLSv1.3 ciphersuite list OpenSSL knows (\(TLSError.openSSLReasons()))")
        }
        let caFile = (c.caCertFile ?? "").isEmpty ? nil : c.caCertFile
        let caDir = (c.caCertDir ?? "").isEmpty ? nil : c.caCertDir
        if let caFile { try Self.checkReadable(caFile, setting: "\(prefix == "tls-" ? "tls-ca-cert-file" : "ssl_ca_certs")") }
        if let caDir {
            var isDir: ObjCBool = false
            if !FileManager.default.fileExists(atPath: caDir, isDirectory: &isDir) || !isDir.boolValue {
                throw TLSError("\(server ? "tls-ca-cert-dir" : "ssl_ca_path") \(caDir): not a directory")
            }
        }
        if caFile != nil || caDir != nil {
            if SSL_CTX_load_verify_locations(ctx, caFile, caDir) != 1 {
                let what = caFile.map { "\(server ? "tls-ca-cert-file" : "ssl_ca_certs") \($0)" } ?? "\(server ? "tls-ca-cert-dir" : "ssl_ca_path") \(caDir!)"
                throw TLSError("\(what): cannot load CA certificates (\(TLSError.openSSLReasons()))")
            }
            // The CA names sent in the CertificateRequest, so a client picks the right certificate.
            if server, let caFile, let names = SSL_load_client_CA_file(caFile) {
                SSL_CTX_set_client_CA_list(ctx, names)
            }
        }
    }

    deinit { SSL_CTX_free(ctx) }

    private func useCertificate(_ cert: String, key: String, pass: String?, settingPrefix: String) throws {
        let certName = settingPrefix == "tls-" ? "tls-cert-file" : "ssl_certfile"
        let keyName = settingPrefix == "tls-" ? "tls-key-file" : "ssl_keyfile"
        try Self.checkReadable(cert, setting: certName)
        try Self.checkReadable(key, setting: keyName)
        ERR_clear_error()
        if SSL_CTX_use_certificate_chain_file(ctx, cert) != 1 {
            throw TLSError("\(certName) \(cert): not a PEM certificate (\(TLSError.openSSLReasons()))")
        }
        // OpenSSL's default password callback reads the passphrase from the user data; it is
        // only needed while the key loads, so it does not stay in the context.
        let loaded: Int32 = (pass ?? "").withCString { p in
            SSL_CTX_set_default_passwd_cb_userdata(ctx, pass == nil ? nil : UnsafeMutableRawPointer(mutating: p))
            defer { SSL_CTX_set_default_passwd_cb_userdata(ctx, nil) }
            return SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM)
        }
        if loaded != 1 {
            let reasons = TLSError.openSSLReasons()
            // OpenSSL 3 checks the key against the certificate while loading it.
            if reasons.contains("key values mismatch") {
                throw TLSError("\(keyName) \(key) does not match the certificate in \(certName) \(cert) (\(reasons))")
            }
            throw TLSError("\(keyName) \(key): cannot load the private key (wrong \(settingPrefix == "tls-" ? "tls-key-file-pass" : "ssl_password")?, or not PEM): \(reasons)")
        }
        if SSL_CTX_check_private_key(ctx) != 1 {
            throw TLSError("\(keyName) \(key) does not match the certificate in \(certName) \(cert) (\(TLSError.openSSLReasons()))")
        }
    }

    static func checkReadable(_ path: String, setting: String) throws {
        if !FileManager.default.fileExists(atPath: path) { throw TLSError("\(setting) \(path): no such file") }
        if !FileManager.default.isReadableFile(atPath: path) { throw TLSError("\(setting) \(path): not readable") }
    }

    /// "TLSv1.2 TLSv1.3" -> (lowest, highest) protocol version; unknown words are refused.
    static func protocolRange(_ text: String, setting: String) throws -> (Int32, Int32) {
        let known: [String: Int32] = ["tlsv1": TLS1_VERSION, "tlsv1.1": TLS1_1_VERSION,
                                      "tlsv1.2": TLS1_2_VERSION, "tlsv1.3": TLS1_3_VERSION]
        let words = text.split(whereSeparator: { $0 == " " || $0 == "," }).map { $0.lowercased() }
        if words.isEmpty { return (TLS1_2_VERSION, TLS1_3_VERSION) }
        var versions: [Int32] = []
        for w in words {
            guard let v = known[w] else {
                throw TLSError("\(setting) '\(text)': unknown protocol '\(w)' (TLSv1, TLSv1.1, TLSv1.2, TLSv1.3)")
            }
            versions.append(v)
        }
        return (versions.min()!, versions.max()!)
    }
}
