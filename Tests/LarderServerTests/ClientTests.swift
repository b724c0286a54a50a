import Foundation
import XCTest

/// CLIENT ID / SETNAME / GETNAME / LIST / INFO / SETINFO / KILL / NO-EVICT / NO-TOUCH.
final class ClientTests: XCTestCase {
    var server: TestServer!
    override func setUpWithError() throws { server = try TestServer(threads: 2) }
    override func tearDown() { server = nil }

    func id(_ c: TestClient) throws -> Int {
        guard case .integer(let id) = try c.call("CLIENT", "ID") else { throw TestClient.Closed() }
        return id
    }

    func text(_ r: Reply) -> String { r.string ?? (r.description) }

    func testNames() throws {
        let c = try server.client()
        XCTAssertEqual(try c.call("CLIENT", "GETNAME"), .null)
        XCTAssertEqual(try c.call("CLIENT", "SETNAME", "worker-1"), .simple("OK"))
        XCTAssertEqual(try c.call("CLIENT", "GETNAME"), .bulk("worker-1"))
        XCTAssertEqual(try c.call("CLIENT", "SETNAME", "a b"),
                       .error("ERR Client names cannot contain spaces, newlines or special characters."))
        XCTAssertEqual(try c.call("CLIENT", "SETNAME", "a\nb"),
                       .error("ERR Client names cannot contain spaces, newlines or special characters."))
        XCTAssertEqual(try c.call("CLIENT", "SETNAME", ""), .simple("OK"))
        XCTAssertEqual(try c.call("CLIENT", "GETNAME"), .null)
        XCTAssertEqual(try c.call("CLIENT", "SETNAME", "x", "y"), .error("ERR wrong number of arguments for 'client|setname' command"))
        XCTAssertEqual(try c.call("CLIENT", "GETNAME", "x"), .error("ERR wrong number of arguments for 'client|getname' command"))
    }

    func testUnknownSubcommandAndArity() throws {
        let c = try server.client()
        XCTAssertEqual(try c.call("CLIENT", "FOO"), .error("ERR unknown subcommand 'FOO'. Try CLIENT HELP."))
        XCTAssertEqual(try c.call("CLIENT"), .error("ERR wrong number of arguments for 'client' command"))
        XCTAssertEqual(try c.call("CLIENT", "MAINT_NOTIFICATIONS", "ON", "moving-endpoint-type", "internal-ip"),
                       .error("ERR unknown subcommand 'MAINT_NOTIFICATIONS'. Try CLIENT HELP."))
        guard case .array(let help) = try c.call("CLIENT", "HELP") else { return XCTFail("HELP is an array") }
        XCTAssertEqual(help.first, .simple("CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"))
        XCTAssertEqual(help.last, .simple("    Prints this help."))
    }

    func testSetinfoAsRedis72() throws {
        let c = try server.client()
        XCTAssertEqual(try c.call("CLIENT", "SETINFO", "LIB-NAME", "redis-py"), .simple("OK"))
        XCTAssertEqual(try c.call("CLIENT", "SETINFO", "lib-ver", "8.1.0"), .simple("OK"))
        XCTAssertEqual(try c.call("CLIENT", "SETINFO", "FOO", "x"), .error("ERR Unrecognized option 'FOO'"))
        XCTAssertEqual(try c.call("CLIENT", "SETINFO", "LIB-NAME", "a b"),
                       .error("ERR LIB-NAME cannot contain spaces, newlines or special characters."))
        let info = text(try c.call("CLIENT", "INFO"))
        XCTAssertTrue(info.contains(" lib-name=redis-py lib-ver=8.1.0"), info)
    }

    func testInfoAndListLines() throws {
        let c = try server.client(), other = try server.client()
        let myId = try id(c), otherId = try id(other)
        XCTAssertEqual(try other.call("CLIENT", "SETNAME", "other"), .simple("OK"))
        XCTAssertEqual(try c.call("SELECT", "4"), .simple("OK"))
        let info = text(try c.call("CLIENT", "INFO"))
        XCTAssertTrue(info.hasPrefix("id=\(myId) addr=127.0.0.1:"), info)
        XCTAssertTrue(info.hasSuffix(" resp=2 lib-name= lib-ver=\n"), info)
        XCTAssertTrue(info.contains(" name= age="), info)
        XCTAssertTrue(info.contains(" flags=N db=4 "), info)
        XCTAssertTrue(info.contains(" cmd=client|info "), info)

        let list = text(try c.call("CLIENT", "LIST")).split(separator: "\n")
        XCTAssertEqual(list.count, 2)
        XCTAssertTrue(list.contains { $0.hasPrefix("id=\(otherId) ") && $0.contains(" name=other ") })
        let byId = text(try c.call("CLIENT", "LIST", "ID", String(otherId), "999999"))
        XCTAssertTrue(byId.hasPrefix("id=\(otherId) ") && byId.filter { $0 == "\n" }.count == 1, byId)
        XCTAssertEqual(text(try c.call("CLIENT", "LIST", "TYPE", "normal")).split(separator: "\n").count, 2)
        XCTAssertEqual(try c.call("CLIENT", "LIST", "TYPE", "master"), .bulk(""))
        XCTAssertEqual(try c.call("CLIENT", "LIST", "TYPE", "foo"), .error("ERR Unknown client type 'foo'"))
        XCTAssertEqual(try c.call("CLIENT", "LIST", "ID", "1", "abc"), .error("ERR Invalid client ID"))
        XCTAssertEqual(try c.call("CLIENT", "LIST", "ID"), .error("ERR syntax error"))
        XCTAssertEqual(try c.call("CLIENT", "LIST", "FOO"), .error("ERR syntax error"))
    }

    /// `fd=` is the server's descriptor of the connection (the server runs in this process, so
    /// the descriptor can be checked: it is a socket whose peer is this client's socket).
    func testFdIsTheConnectionsDescriptor() throws {
        let c = try server.client(), other = try server.client()
        func fd(_ line: String) -> Int32? {
            line.split(separator: " ").first { $0.hasPrefix("fd=") }.flatMap { Int32($0.dropFirst(3)) }
        }
        func port(_ fd: Int32, peer: Bool) -> UInt16 {
            var a = sockaddr_in(), n = socklen_t(MemoryLayout<sockaddr_in>.size)
            _ = withUnsafeMutablePointer(to: &a) { p in
                p.withMemoryRebound(to: sockaddr.self, capacity: 1) { peer ? getpeername(fd, $0, &n) : getsockname(fd, $0, &n) }
            }
            return UInt16(bigEndian: a.sin_port)
        }
        guard let mine = fd(text(try c.call("CLIENT", "INFO"))) else { return XCTFail("no fd") }
        XCTAssertGreaterThan(mine, 2)
        XCTAssertEqual(port(mine, peer: true), port(c.fd, peer: false), "the server's socket \(mine) is connected to this client")
        let list = text(try c.call("CLIENT", "LIST")).split(separator: "\n").map(String.init)
        let fds = list.compactMap(fd)
        XCTAssertEqual(fds.count, 2)
        XCTAssertEqual(Set(fds).count, 2, "each connection has its own descriptor: \(list)")
        XCTAssertTrue(fds.contains(mine))
        _ = other
    }

    func testClientInfoIsVerbatimInResp3() throws {
        let c = try server.client()
        _ = try c.call("HELLO", "3")
        guard case .verbatim(let v) = try c.call("CLIENT", "INFO") else { return XCTFail("expected verbatim text") }
        XCTAssertTrue(v.contains(" resp=3 "), v)
    }

    func testKillById() throws {
        let c = try server.client(), victim = try server.client()
        let victimId = try id(victim)
        XCTAssertEqual(try c.call("CLIENT", "KILL", "ID", String(victimId)), .integer(1))
        XCTAssertTrue(victim.isClosedByServer())
        XCTAssertEqual(try c.call("CLIENT", "KILL", "ID", String(victimId)), .integer(0))
        XCTAssertEqual(try c.call("PING"), .simple("PONG"))
    }

    func testKillSkipsTheCallerUnlessAsked() throws {
        let c = try server.client()
        let myId = try id(c)
        XCTAssertEqual(try c.call("CLIENT", "KILL", "ID", String(myId)), .integer(0))
        XCTAssertEqual(try c.call("CLIENT", "KILL", "ID", String(myId), "SKIPME", "no"), .integer(1))
        XCTAssertTrue(c.isClosedByServer())
    }

    func testKillByAddressOldAndNewForm() throws {
        let c = try server.client(), victim = try server.client(), second = try server.client()
        let line = text(try victim.call("CLIENT", "INFO"))
        guard let addrField = line.split(separator: " ").first(where: { $0.hasPrefix("addr=") }) else { return XCTFail(line) }
        let addr = String(addrField.dropFirst(5))
        XCTAssertEqual(try c.call("CLIENT", "KILL", addr), .simple("OK"))
        XCTAssertTrue(victim.isClosedByServer())
        XCTAssertEqual(try c.call("CLIENT", "KILL", addr), .error("ERR No such client"))
        let line2 = text(try second.call("CLIENT", "INFO"))
        let addr2 = String(line2.split(separator: " ").first { $0.hasPrefix("addr=") }!.dropFirst(5))
        XCTAssertEqual(try c.call("CLIENT", "KILL", "ADDR", addr2), .integer(1))
        XCTAssertTrue(second.isClosedByServer())
    }

    func testKillErrors() throws {
        let c = try server.client()
        XCTAssertEqual(try c.call("CLIENT", "KILL", "ID", "abc"), .error("ERR client-id should be greater than 0"))
        XCTAssertEqual(try c.call("CLIENT", "KILL", "ID", "0"), .error("ERR client-id should be greater than 0"))
        XCTAssertEqual(try c.call("CLIENT", "KILL", "FOO", "bar"), .error("ERR syntax error"))
        XCTAssertEqual(try c.call("CLIENT", "KILL", "TYPE", "foo"), .error("ERR Unknown client type 'foo'"))
        XCTAssertEqual(try c.call("CLIENT", "KILL", "USER", "bob"), .error("ERR No such user 'bob'"))
        XCTAssertEqual(try c.call("CLIENT", "KILL", "SKIPME", "maybe"), .error("ERR syntax error"))
        XCTAssertEqual(try c.call("CLIENT", "KILL", "ID"), .error("ERR No such client"))
    }

    func testNoEvictAndNoTouch() throws {
        let c = try server.client()
        XCTAssertEqual(try c.call("CLIENT", "NO-EVICT", "on"), .simple("OK"))
        XCTAssertEqual(try c.call("CLIENT", "NO-EVICT", "OFF"), .simple("OK"))
        XCTAssertEqual(try c.call("CLIENT", "NO-EVICT", "maybe"), .error("ERR syntax error"))
        XCTAssertEqual(try c.call("CLIENT", "NO-TOUCH", "on"), .simple("OK"))
        XCTAssertEqual(try c.call("CLIENT", "NO-TOUCH", "x"), .error("ERR syntax error"))
    }
}
