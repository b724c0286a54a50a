import COpenSSL
#if canImport(Glibc)
import Glibc
#endif

/// One TLS session over two OpenSSL memory BIOs, with no socket: the transport hands in the
/// ciphertext it read (`receive`) and sends what `takeOutput` gives; plaintext goes through
/// `read` / `write`. So the same code serves NIO (`TLSHandler`), a blocking socket
/// (`RESPConnection`) or any later event loop: OpenSSL never touches a file descriptor.
///
/// Not thread-safe: one owner (the connection's event loop, or the client's thread).
public final class TLSConnection {
    let ssl: OpaquePointer
    /// Ciphertext from the peer, waiting for OpenSSL.
    let input: OpaquePointer
    /// Ciphertext OpenSSL produced for the peer.
    let output: OpaquePointer
    public private(set) var isHandshakeDone = false
    private var shutdownSent = false

    public enum HandshakeStatus: Equatable { case done, wantRead, failed(String) }
    public enum ReadStatus: Equatable { case bytes(Int), wantRead, closed, failed(String) }

    /// `serverName` (client side only): sent as SNI when it is a host name, and checked
    /// against the server certificate's names (DNS or IP) when the context verifies peers.
    public init(context: TLSContext, serverName: String? = nil) throws {
        ERR_clear_error()
        guard let ssl = SSL_new(context.ctx) else { throw TLSError("SSL_new: \(TLSError.openSSLReasons())") }
        guard let input = BIO_new(BIO_s_mem()), let output = BIO_new(BIO_s_mem()) else {
            SSL_free(ssl)
            throw TLSError("BIO_new: \(TLSError.openSSLReasons())")
        }
        // An empty input BIO means "wait for more" (retry), not end of file.
        _ = larder_bio_set_mem_eof_return(input, -1)
        SSL_set_bio(ssl, input, output)  // the SSL owns both BIOs from here
        self.ssl = ssl; self.input = input; self.output = output
        if context.isServer {
            SSL_set_accept_state(ssl)
        } else {
            SSL_set_connect_state(ssl)
            if let name = serverName, !name.isEmpty {
                if Self.isIPAddress(name) {
                    if context.configuration.verifyPeer != .no {
                        _ = X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), name)
                    }
                } else {
                    _ = larder_ssl_set_tlsext_host_name(ssl, name)
                    if context.configuration.verifyPeer != .no { _ = SSL_set1_host(ssl, name) }
                }
            }
        }
    }

    deinit { SSL_free(ssl) }

    /// Ciphertext the peer sent. The memory BIO takes all of it; the caller bounds what it
    /// hands in per call (one socket read), and `handshake`/`read` consume it right after.
    public func receive(_ bytes: UnsafeRawBufferPointer) {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return }
        var offset = 0
        while offset < bytes.count {
            let n = BIO_write(input, base + offset, Int32(min(bytes.count - offset, Int(Int32.max))))
            if n <= 0 { break }
            offset += Int(n)
        }
    }

    /// Ciphertext received and not consumed yet.
    public var pendingInput: Int { larder_bio_pending(input) }

    /// Whether a `read` could give more now: decrypted bytes OpenSSL holds, or ciphertext not
    /// yet looked at. When false, the caller skips the `read` that would only say `.wantRead`
    /// (a failing SSL_read sets and clears OpenSSL's error state: one call fewer per request).
    public var hasBufferedInput: Bool { SSL_has_pending(ssl) == 1 || larder_bio_pending(input) > 0 }

    /// An upper bound of the plaintext the next reads can give: decrypted bytes held plus the
    /// ciphertext not looked at (records only shrink when decrypted).
    public var bufferedInputBytes: Int { Int(SSL_pending(ssl)) + larder_bio_pending(input) }

    /// Advances the handshake with what was received; `takeOutput` then has what to send.
    public func handshake() -> HandshakeStatus {
        if isHandshakeDone { return .done }
        ERR_clear_error()
        let r = SSL_do_handshake(ssl)
        if r == 1 { isHandshakeDone = true; return .done }
        switch SSL_get_error(ssl, r) {
        case SSL_ERROR_WANT_READ, SSL_ERROR_WANT_WRITE: return .wantRead
        default: return .failed(failureReason())
        }
    }

    /// Decrypts into `buffer`: `.bytes(n)` (call again for more), `.wantRead` (all received
    /// data is consumed), `.closed` (the peer sent close_notify) or `.failed`.
    public func read(into buffer: UnsafeMutableRawBufferPointer) -> ReadStatus {
        guard let base = buffer.baseAddress, buffer.count > 0 else { return .bytes(0) }
        ERR_clear_error()
        let n = SSL_read(ssl, base, Int32(min(buffer.count, Int(Int32.max))))
        if n > 0 { return .bytes(Int(n)) }
        switch SSL_get_error(ssl, n) {
        case SSL_ERROR_WANT_READ, SSL_ERROR_WANT_WRITE: return .wantRead
        case SSL_ERROR_ZERO_RETURN: return .closed
        default: return .failed(failureReason())
        }
    }

    /// Encrypts all of `bytes` into the output BIO (a memory BIO never refuses a write).
    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return }
        ERR_clear_error()
        var offset = 0
        while offset < bytes.count {
            let n = SSL_write(ssl, base + offset, Int32(min(bytes.count - offset, 1 << 30)))
            if n <= 0 { throw TLSError("TLS write failed: \(failureReason())") }
            offset += Int(n)
        }
    }

    /// Ciphertext waiting to be sent.
    public var pendingOutput: Int { larder_bio_pending(output) }

    /// Moves up to `buffer.count` bytes of ciphertext to send into `buffer`; returns how many.
    public func takeOutput(into buffer: UnsafeMutableRawBufferPointer) -> Int {
        guard let base = buffer.baseAddress, buffer.count > 0 else { return 0 }
        let n = BIO_read(output, base, Int32(min(buffer.count, Int(Int32.max))))
        return n > 0 ? Int(n) : 0
    }

    /// Queues close_notify (once); send `takeOutput`'s bytes before closing the transport.
    public func shutdown() {
        guard isHandshakeDone, !shutdownSent else { return }
        shutdownSent = true
        ERR_clear_error()
        _ = SSL_shutdown(ssl)
        ERR_clear_error()
    }

    /// "TLSv1.3", once the handshake is done.
    public var protocolVersion: String { String(cString: SSL_get_version(ssl)) }
    public var cipherName: String { SSL_get_current_cipher(ssl).map { String(cString: SSL_CIPHER_get_name($0)) } ?? "" }

    /// The subject of the peer's certificate (verified when the context verifies peers), if any.
    public var peerSubject: String? {
        guard let cert = larder_ssl_get_peer_certificate(ssl) else { return nil }
        defer { X509_free(cert) }
        guard let name = X509_get_subject_name(cert), let line = X509_NAME_oneline(name, nil, 0) else { return nil }
        defer { CRYPTO_free(line, "", 0) }
        return String(cString: line)
    }

    /// Why the last operation failed: the certificate verification result when that is the
    /// cause, else OpenSSL's error queue.
    private func failureReason() -> String {
        let verify = SSL_get_verify_result(ssl)
        let reasons = TLSError.openSSLReasons()
        if verify != X509_V_OK {
            return "certificate verify failed: \(String(cString: X509_verify_cert_error_string(verify))) (\(reasons))"
        }
        return reasons
    }

    static func isIPAddress(_ s: String) -> Bool {
        var v4 = in_addr(), v6 = in6_addr()
        return inet_pton(AF_INET, s, &v4) == 1 || inet_pton(AF_INET6, s, &v6) == 1
    }
}
