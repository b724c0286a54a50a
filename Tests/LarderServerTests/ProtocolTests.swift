import XCTest

/// Malformed requests get Redis' exact protocol error and the connection is closed; other
/// clients keep being served.
final class ProtocolTests: XCTestCase {
    var server: TestServer!
    override func setUpWithError() throws { server = try TestServer(threads: 2) }
    override func tearDown() { server = nil }

    /// Sends `request` on a new connection and expects `-ERR Protocol error: <message>` then a close.
    func assertProtocolError(_ request: [UInt8], _ message: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let raw = try RawConnection(port: server.port)
        raw.send(request)
        let r = raw.receive(timeout: 1)
        XCTAssertEqual(r.text, "-ERR Protocol error: \(message)\r\n", file: file, line: line)
        XCTAssertTrue(r.closed, "connection should be closed", file: file, line: line)
    }

    func testEachMalformedRequestGetsRedisError() throws {
        try assertProtocolError(Array("*abc\r\n".utf8), "invalid multibulk length")
        try assertProtocolError(Array("*3000000000\r\n".utf8), "invalid multibulk length")
        try assertProtocolError(Array("*1\r\n$abc\r\n".utf8), "invalid bulk length")
        try assertProtocolError(Array("*1\r\n$-1\r\n".utf8), "invalid bulk length")
        try assertProtocolError(Array("*1\r\n$600000000\r\n".utf8), "invalid bulk length")
        try assertProtocolError(Array("*1\r\nfoo\r\n".utf8), "expected '$', got 'f'")
        try assertProtocolError(Array("set \"a\r\n".utf8), "unbalanced quotes in request")
        try assertProtocolError(Array("ECHO \"a\"b\r\n".utf8), "unbalanced quotes in request")
        try assertProtocolError([UInt8](repeating: UInt8(ascii: "x"), count: 70_000), "too big inline request")
        try assertProtocolError(Array("*".utf8) + [UInt8](repeating: UInt8(ascii: "1"), count: 70_000), "too big mbulk count string")
        try assertProtocolError(Array("*1\r\n$".utf8) + [UInt8](repeating: UInt8(ascii: "1"), count: 70_000), "too big bulk count string")
    }

    func testRepliesBeforeTheErrorAreSent() throws {
        let raw = try RawConnection(port: server.port)
        raw.send("PING\r\n*1\r\n$4\r\nPING\r\n*x\r\n")
        let r = raw.receive(timeout: 1)
        XCTAssertEqual(r.text, "+PONG\r\n+PONG\r\n-ERR Protocol error: invalid multibulk length\r\n")
        XCTAssertTrue(r.closed)
    }

    func testEmptyRequestsAreIgnored() throws {
        let raw = try RawConnection(port: server.port)
        raw.send("*0\r\n*-5\r\n\r\n\r\nPING\r\n")
        XCTAssertEqual(raw.receive(expecting: "+PONG\r\n"), "+PONG\r\n")
    }

    func testInlineQuotingAndEscapes() throws {
        let raw = try RawConnection(port: server.port)
        raw.send("ECHO \"\\x41\\n\\\"q\"\r\n")
        XCTAssertEqual(raw.receive(expecting: "$4\r\nA\n\"q\r\n"), "$4\r\nA\n\"q\r\n")
        raw.send("ECHO 'it\\'s'\r\n")
        XCTAssertEqual(raw.receive(expecting: "$4\r\nit's\r\n"), "$4\r\nit's\r\n")
    }

    func testOtherClientsKeepWorking() throws {
        let c = try server.client()
        XCTAssertEqual(try c.call("SET", "k", "v"), .simple("OK"))
        for _ in 0..<10 { try assertProtocolError(Array("*1\r\n$x\r\n".utf8), "invalid bulk length") }
        XCTAssertEqual(try c.call("GET", "k"), .bulk("v"))
    }

    func testCommandSplitAcrossManyWrites() throws {
        let raw = try RawConnection(port: server.port)
        let bytes = TestClient.encode([Array("ECHO".utf8), Array("hello world".utf8)])
        for b in bytes { raw.send([b]); usleep(200) }
        XCTAssertEqual(raw.receive(expecting: "$11\r\nhello world\r\n"), "$11\r\nhello world\r\n")
    }
}
