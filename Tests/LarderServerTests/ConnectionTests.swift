import XCTest

/// PING, ECHO, SELECT, QUIT, HELLO and RESET, with Redis 7.0's exact replies.
final class ConnectionTests: XCTestCase {
    var server: TestServer!
    override func setUpWithError() throws { server = try TestServer(threads: 2) }
    override func tearDown() { server = nil }

    func testPingAndEcho() throws {
        let c = try server.client()
        XCTAssertEqual(try c.call("PING"), .simple("PONG"))
        XCTAssertEqual(try c.call("PING", "hi"), .bulk("hi"))
        XCTAssertEqual(try c.call("PING", "a", "b"), .error("ERR wrong number of arguments for 'ping' command"))
        XCTAssertEqual(try c.call("ECHO", "x y"), .bulk("x y"))
        XCTAssertEqual(try c.call("ECHO"), .error("ERR wrong number of arguments for 'echo' command"))
    }

    func testSelectChecksTheIndex() throws {
        let c = try server.client()
        XCTAssertEqual(try c.call("SELECT", "16"), .error("ERR DB index is out of range"))
        XCTAssertEqual(try c.call("SELECT", "-1"), .error("ERR DB index is out of range"))
        XCTAssertEqual(try c.call("SELECT", "x"), .error("ERR value is not an integer or out of range"))
        XCTAssertEqual(try c.call("SELECT", "3"), .simple("OK"))
        XCTAssertEqual(try c.call("SET", "k", "v"), .simple("OK"))
        XCTAssertEqual(try c.call("SELECT", "0"), .simple("OK"))
        XCTAssertEqual(try c.call("GET", "k"), .null)
    }

    func testQuitRepliesThenCloses() throws {
        let c = try server.client()
        XCTAssertEqual(try c.call("QUIT"), .simple("OK"))
        XCTAssertTrue(c.isClosedByServer())
    }

    func testQuitInsideMultiIsNotQueued() throws {
        let c = try server.client()
        XCTAssertEqual(try c.call("MULTI"), .simple("OK"))
        XCTAssertEqual(try c.call("QUIT"), .simple("OK"))
        XCTAssertTrue(c.isClosedByServer())
    }

    static func helloMap(proto: Int, id: Int) -> [(Reply, Reply)] {
        [(.bulk("server"), .bulk("redis")), (.bulk("version"), .bulk("7.0.15")), (.bulk("proto"), .integer(proto)),
         (.bulk("id"), .integer(id)), (.bulk("mode"), .bulk("standalone")), (.bulk("role"), .bulk("master")),
         (.bulk("modules"), .array([]))]
    }

    func testHello3SwitchesToResp3() throws {
        let c = try server.client()
        guard case .integer(let id) = try c.call("CLIENT", "ID") else { return XCTFail("no id") }
        XCTAssertEqual(try c.call("HELLO", "3"), .map(Self.helloMap(proto: 3, id: id)))
        // Following replies use RESP3 encodings: a missing value is `_`, HGETALL a map.
        XCTAssertEqual(try c.call("GET", "missing"), .null)
        XCTAssertEqual(try c.call("HSET", "h", "f", "v"), .integer(1))
        XCTAssertEqual(try c.call("HGETALL", "h"), .map([(.bulk("f"), .bulk("v"))]))
        // Back to RESP2: the HELLO reply is a flat array.
        let flat = Self.helloMap(proto: 2, id: id).flatMap { [$0.0, $0.1] }
        XCTAssertEqual(try c.call("HELLO", "2"), .array(flat))
        XCTAssertEqual(try c.call("HGETALL", "h"), .array([.bulk("f"), .bulk("v")]))
    }

    func testHelloWithoutVersionKeepsTheProtocol() throws {
        let c = try server.client()
        guard case .integer(let id) = try c.call("CLIENT", "ID") else { return XCTFail("no id") }
        let flat = Self.helloMap(proto: 2, id: id).flatMap { [$0.0, $0.1] }
        XCTAssertEqual(try c.call("HELLO"), .array(flat))
    }

    func testHelloErrors() throws {
        let c = try server.client()
        XCTAssertEqual(try c.call("HELLO", "4"), .error("NOPROTO unsupported protocol version"))
        XCTAssertEqual(try c.call("HELLO", "1"), .error("NOPROTO unsupported protocol version"))
        XCTAssertEqual(try c.call("HELLO", "abc"), .error("ERR Protocol version is not an integer or out of range"))
        XCTAssertEqual(try c.call("HELLO", "3", "FOO"), .error("ERR Syntax error in HELLO option 'FOO'"))
        XCTAssertEqual(try c.call("HELLO", "3", "AUTH"), .error("ERR Syntax error in HELLO option 'AUTH'"))
        XCTAssertEqual(try c.call("HELLO", "3", "SETNAME", "a", "b"), .error("ERR Syntax error in HELLO option 'b'"))
        XCTAssertEqual(try c.call("HELLO", "3", "SETNAME", "a b"),
                       .error("ERR Client names cannot contain spaces, newlines or special characters."))
        XCTAssertEqual(try c.call("HELLO", "3", "AUTH", "bob", "pw"),
                       .error("WRONGPASS invalid username-password pair or user is disabled."))
    }

    func testFailedHelloKeepsTheProtocol() throws {
        let raw = try RawConnection(port: server.port)
        raw.command("HELLO", "4")
        XCTAssertEqual(raw.receive(expecting: "-NOPROTO unsupported protocol version\r\n"), "-NOPROTO unsupported protocol version\r\n")
        raw.command("GET", "missing")
        XCTAssertEqual(raw.receive(expecting: "$-1\r\n"), "$-1\r\n")
    }

    func testResp3NullOnTheWire() throws {
        let raw = try RawConnection(port: server.port)
        raw.command("HELLO", "3")
        XCTAssertTrue(raw.receive(timeout: 0.5).text.hasPrefix("%7\r\n$6\r\nserver\r\n$5\r\nredis\r\n"))
        raw.command("GET", "missing")
        XCTAssertEqual(raw.receive(expecting: "_\r\n"), "_\r\n")
    }

    func testHelloSetnameAndDefaultUserWithoutPassword() throws {
        let c = try server.client()
        // Without requirepass the default user takes any password, as Redis' nopass user does.
        guard case .map = try c.call("HELLO", "3", "AUTH", "default", "anything", "SETNAME", "feast") else {
            return XCTFail("HELLO 3 should answer with a map")
        }
        XCTAssertEqual(try c.call("CLIENT", "GETNAME"), .bulk("feast"))
    }

    func testResetRestoresAFreshConnection() throws {
        let c = try server.client()
        _ = try c.call("HELLO", "3", "SETNAME", "n1")
        XCTAssertEqual(try c.call("SELECT", "2"), .simple("OK"))
        XCTAssertEqual(try c.call("MULTI"), .simple("OK"))
        XCTAssertEqual(try c.call("SET", "k", "v"), .simple("QUEUED"))
        XCTAssertEqual(try c.call("RESET"), .simple("RESET"))
        XCTAssertEqual(try c.call("EXEC"), .error("ERR EXEC without MULTI"))
        XCTAssertEqual(try c.call("CLIENT", "GETNAME"), .null)
        XCTAssertEqual(try c.call("GET", "k"), .null)  // the queued SET never ran
        XCTAssertEqual(try c.call("HELLO"), .array(Self.helloMap(proto: 2, id: try clientId(c)).flatMap { [$0.0, $0.1] }))
        XCTAssertEqual(try c.call("SELECT", "2"), .simple("OK"))
        XCTAssertEqual(try c.call("SET", "in2", "v"), .simple("OK"))
        XCTAssertEqual(try c.call("RESET"), .simple("RESET"))
        XCTAssertEqual(try c.call("EXISTS", "in2"), .integer(0))  // back in db 0
    }

    func clientId(_ c: TestClient) throws -> Int {
        guard case .integer(let id) = try c.call("CLIENT", "ID") else { throw TestClient.Closed() }
        return id
    }

    func testResetDropsWatches() throws {
        let c = try server.client(), other = try server.client()
        XCTAssertEqual(try c.call("WATCH", "w"), .simple("OK"))
        XCTAssertEqual(try c.call("RESET"), .simple("RESET"))
        XCTAssertEqual(try other.call("SET", "w", "changed"), .simple("OK"))
        XCTAssertEqual(try c.call("MULTI"), .simple("OK"))
        XCTAssertEqual(try c.call("SET", "x", "1"), .simple("QUEUED"))
        XCTAssertEqual(try c.call("EXEC"), .array([.simple("OK")]))
    }
}
