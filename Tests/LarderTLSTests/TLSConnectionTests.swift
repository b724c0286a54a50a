import Foundation
import XCTest
@testable import LarderTLS

/// The memory-BIO layer on its own: a client and a server session pumping bytes to each other
/// with no socket, and the configuration errors that must name their file.
final class TLSConnectionTests: XCTestCase {
    static var dir: URL!

    /// A CA, a server certificate for 127.0.0.1/localhost, and a client certificate, made with
    /// the openssl CLI for this run.
    override class func setUp() {
        let d = FileManager.default.temporaryDirectory.appendingPathComponent("larder-tls-\(getpid())")
        try? FileManager.default.createDirectory(at: d, withIntermediateDirectories: true)
        dir = d
        let script = """
        set -e
        cd '\(d.path)'
        openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=TestCA -keyout ca.key -out ca.crt 2>/dev/null
        openssl req -newkey rsa:2048 -nodes -subj /CN=localhost -keyout server.key -out server.csr 2>/dev/null
        printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\\n' > san.ext
        openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 -extfile san.ext -out server.crt 2>/dev/null
        openssl req -newkey rsa:2048 -nodes -subj /CN=client -keyout client.key -out client.csr 2>/dev/null
        openssl x509 -req -in client.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 -out client.crt 2>/dev/null
        openssl req -newkey rsa:2048 -nodes -subj /CN=other -keyout other.key -out other.csr 2>/dev/null
        """
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/sh")
        p.arguments = ["-c", script]
        try! p.run()
        p.waitUntilExit()
        precondition(p.terminationStatus == 0, "openssl failed")
    }

    func path(_ name: String) -> String { Self.dir.appendingPathComponent(name).path }

    func serverContext(auth: TLSClientAuth = .yes) throws -> TLSContext {
        try .server(TLSConfiguration(certFile: path("server.crt"), keyFile: path("server.key"),
                                     caCertFile: path("ca.crt"), verifyPeer: auth))
    }

    /// Moves every pending byte of `from` to `to`.
    func pump(_ from: TLSConnection, _ to: TLSConnection) {
        var buf = [UInt8](repeating: 0, count: 4096)
        while from.pendingOutput > 0 {
            let n = buf.withUnsafeMutableBytes { from.takeOutput(into: $0) }
            buf.withUnsafeBytes { to.receive(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
        }
    }

    func handshake(_ client: TLSConnection, _ server: TLSConnection) -> (TLSConnection.HandshakeStatus, TLSConnection.HandshakeStatus) {
        var c = client.handshake(), s = server.handshake()
        for _ in 0..<10 {
            pump(client, server); s = server.handshake()
            pump(server, client); c = client.handshake()
            if c == .done && s == .done { break }
            if case .failed = c { break }
            if case .failed = s { break }
        }
        return (c, s)
    }

    func read(_ conn: TLSConnection) -> (String, TLSConnection.ReadStatus) {
        var out: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 64)
        while true {
            let r = buf.withUnsafeMutableBytes { conn.read(into: $0) }
            guard case .bytes(let n) = r else { return (String(decoding: out, as: UTF8.self), r) }
            out += buf[0..<n]
        }
    }

    func testHandshakeAndDataBothWaysInMemory() throws {
        let server = try TLSConnection(context: serverContext())
        let clientContext = try TLSContext.client(TLSConfiguration(certFile: path("client.crt"), keyFile: path("client.key"),
                                                                   caCertFile: path("ca.crt")))
        let client = try TLSConnection(context: clientContext, serverName: "127.0.0.1")
        let (c, s) = handshake(client, server)
        XCTAssertEqual(c, .done); XCTAssertEqual(s, .done)
        XCTAssertEqual(server.protocolVersion, "TLSv1.3")
        XCTAssertEqual(server.peerSubject, "/CN=client")
        try Array("*1\r\n$4\r\nPING\r\n".utf8).withUnsafeBytes { try client.write($0) }
        pump(client, server)
        let (text, status) = read(server)
        XCTAssertEqual(text, "*1\r\n$4\r\nPING\r\n")
        XCTAssertEqual(status, .wantRead)
        try Array("+PONG\r\n".utf8).withUnsafeBytes { try server.write($0) }
        server.shutdown()
        pump(server, client)
        let (reply, end) = read(client)
        XCTAssertEqual(reply, "+PONG\r\n")
        XCTAssertEqual(end, .closed)
    }

    func testServerRefusesAClientWithoutCertificateWhenRequired() throws {
        let server = try TLSConnection(context: serverContext(auth: .yes))
        let client = try TLSConnection(context: .client(TLSConfiguration(caCertFile: path("ca.crt"))), serverName: "localhost")
        var (_, s) = handshake(client, server)
        if s == .done { s = server.handshake() }
        guard case .failed(let reason) = s else { return XCTFail("server accepted a client without certificate: \(s)") }
        XCTAssertTrue(reason.contains("certificate"), reason)
    }

    func testClientChecksTheServerName() throws {
        let server = try TLSConnection(context: serverContext(auth: .no))
        let client = try TLSConnection(context: .client(TLSConfiguration(caCertFile: path("ca.crt"))), serverName: "db.example.com")
        let (c, _) = handshake(client, server)
        guard case .failed(let reason) = c else { return XCTFail("client accepted a certificate for another name: \(c)") }
        XCTAssertTrue(reason.contains("hostname mismatch"), reason)
    }

    func testGarbageFailsTheHandshake() throws {
        let server = try TLSConnection(context: serverContext(auth: .no))
        Array("GET / HTTP/1.1\r\nHost: x\r\n\r\n".utf8).withUnsafeBytes { server.receive($0) }
        guard case .failed = server.handshake() else { return XCTFail("garbage accepted") }
    }

    func testBadConfigurationsNameTheirFile() {
        func message(_ c: TLSConfiguration) -> String {
            do { _ = try TLSContext.server(c); return "accepted" } catch { return "\(error)" }
        }
        XCTAssertEqual(message(TLSConfiguration(certFile: path("nope.crt"), keyFile: path("server.key"), verifyPeer: .no)),
                       "tls-cert-file \(path("nope.crt")): no such file")
        let mismatch = message(TLSConfiguration(certFile: path("server.crt"), keyFile: path("client.key"), verifyPeer: .no))
        XCTAssertTrue(mismatch.hasPrefix("tls-key-file \(path("client.key")) does not match the certificate in tls-cert-file \(path("server.crt"))"), mismatch)
        XCTAssertTrue(message(TLSConfiguration(certFile: path("server.crt"), keyFile: path("server.key"))).contains("tls-ca-cert-file"))
        XCTAssertTrue(message(TLSConfiguration(certFile: path("server.crt"), keyFile: path("server.key"), verifyPeer: .no,
                                               protocols: "TLSv1.2 SSLv3")).contains("unknown protocol 'sslv3'"))
        XCTAssertTrue(message(TLSConfiguration(certFile: path("server.crt"), keyFile: path("server.key"), verifyPeer: .no,
                                               ciphers: "NOT-A-CIPHER")).contains("tls-ciphers"))
    }
}
