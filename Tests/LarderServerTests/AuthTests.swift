import XCTest

/// requirepass: NOAUTH before AUTH, AUTH and HELLO AUTH, RESET de-authenticating, and the
/// tighter protocol limits Redis applies to unauthenticated clients.
final class AuthTests: XCTestCase {
    var server: TestServer!
    override func setUpWithError() throws { server = try TestServer(threads: 2, requirePass: "secret") }
    override func tearDown() { server = nil }

    let noauth = Reply.error("NOAUTH Authentication required.")
    let wrongpass = Reply.error("WRONGPASS invalid username-password pair or user is disabled.")

    func testCommandsNeedAuthentication() throws {
        let c = try server.client()
        XCTAssertEqual(try c.call("PING"), noauth)
        XCTAssertEqual(try c.call("CLIENT", "ID"), noauth)
        XCTAssertEqual(try c.call("AUTH", "wrong"), wrongpass)
        XCTAssertEqual(try c.call("AUTH", "default", "wrong"), wrongpass)
        XCTAssertEqual(try c.call("AUTH", "bob", "secret"), wrongpass)
        XCTAssertEqual(try c.call("AUTH", "a", "b", "c"), .error("ERR syntax error"))
        XCTAssertEqual(try c.call("AUTH", "secret"), .simple("OK"))
        XCTAssertEqual(try c.call("PING"), .simple("PONG"))
    }

    func testAuthWithUserName() throws {
        let c = try server.client()
        XCTAssertEqual(try c.call("AUTH", "default", "secret"), .simple("OK"))
        XCTAssertEqual(try c.call("SET", "k", "v"), .simple("OK"))
    }

    func testHelloNeedsAuthOrAuthenticates() throws {
        let c = try server.client()
        XCTAssertEqual(try c.call("HELLO", "3"), .error("NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time"))
        XCTAssertEqual(try c.call("HELLO", "3", "AUTH", "default", "wrong"), wrongpass)
        guard case .map(let m) = try c.call("HELLO", "3", "AUTH", "default", "secret", "SETNAME", "n1") else {
            return XCTFail("HELLO with AUTH should succeed with a map")
        }
        XCTAssertEqual(m[2].1, .integer(3))
        XCTAssertEqual(try c.call("CLIENT", "GETNAME"), .bulk("n1"))
    }

    func testResetRequiresAuthenticationAgain() throws {
        let c = try server.client()
        XCTAssertEqual(try c.call("AUTH", "secret"), .simple("OK"))
        XCTAssertEqual(try c.call("RESET"), .simple("RESET"))
        XCTAssertEqual(try c.call("PING"), noauth)
    }

    func testAuthWithoutPasswordConfigured() throws {
        let open = try TestServer(threads: 1)
        let c = try open.client()
        XCTAssertEqual(try c.call("AUTH", "x"), .error("ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?"))
        XCTAssertEqual(try c.call("AUTH", "default", "anything"), .simple("OK"))
        XCTAssertEqual(try c.call("AUTH", "bob", "anything"), wrongpass)
    }

    func testUnauthenticatedClientsCannotSendLargeRequests() throws {
        let many = try RawConnection(port: server.port)
        many.send("*11\r\n")
        let r1 = many.receive(timeout: 1)
        XCTAssertEqual(r1.text, "-ERR Protocol error: unauthenticated multibulk length\r\n")
        XCTAssertTrue(r1.closed)

        let big = try RawConnection(port: server.port)
        big.send("*2\r\n$20000\r\n")
        let r2 = big.receive(timeout: 1)
        XCTAssertEqual(r2.text, "-ERR Protocol error: unauthenticated bulk length\r\n")
        XCTAssertTrue(r2.closed)

        // Once authenticated, the normal limits apply.
        let c = try server.client()
        XCTAssertEqual(try c.call("AUTH", "secret"), .simple("OK"))
        let value = String(repeating: "v", count: 20000)
        XCTAssertEqual(try c.call("SET", "big", value), .simple("OK"))
    }

    func testConfigSetRequirepassAppliesToNewConnections() throws {
        let c = try server.client()
        XCTAssertEqual(try c.call("AUTH", "secret"), .simple("OK"))
        XCTAssertEqual(try c.call("CONFIG", "SET", "requirepass", ""), .simple("OK"))
        let fresh = try server.client()
        XCTAssertEqual(try fresh.call("PING"), .simple("PONG"))
        XCTAssertEqual(try c.call("CONFIG", "SET", "requirepass", "other"), .simple("OK"))
        XCTAssertEqual(try c.call("PING"), .simple("PONG"))  // already authenticated
        let later = try server.client()
        XCTAssertEqual(try later.call("PING"), noauth)
        XCTAssertEqual(try later.call("AUTH", "other"), .simple("OK"))
    }
}
