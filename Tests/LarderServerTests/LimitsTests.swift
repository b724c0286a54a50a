import LarderStore
import Foundation
import XCTest

/// Announced sizes cost nothing until the bytes arrive; the query buffer limit and maxclients
/// close or refuse clients as Redis does.
final class LimitsTests: XCTestCase {
    var server: TestServer!
    override func setUpWithError() throws { server = try TestServer(threads: 2) }
    override func tearDown() { server = nil }

    /// Resident memory of this process (the server runs in it), in bytes.
    func residentBytes() -> Int { ProcessMemory.residentBytes() }

    func testAnnouncedSizesAllocateNothing() throws {
        let c = try server.client()
        XCTAssertEqual(try c.call("PING"), .simple("PONG"))
        let before = residentBytes()
        var conns: [RawConnection] = []
        for _ in 0..<20 {
            let a = try RawConnection(port: server.port)
            a.send("*1000000000\r\n$536870912\r\nabc")  // a billion arguments, a 512 MB bulk, 3 bytes sent
            conns.append(a)
            let b = try RawConnection(port: server.port)
            b.send("*2\r\n$3\r\nSET\r\n$536870912\r\n")
            conns.append(b)
        }
        XCTAssertEqual(try c.call("PING"), .simple("PONG"))  // the server is still responsive
        usleep(200_000)
        let grown = residentBytes() - before
        XCTAssertLessThan(grown, 64 * 1024 * 1024, "40 partial requests made the process grow by \(grown) bytes")
        for conn in conns { XCTAssertFalse(conn.receive(timeout: 0.01).closed) }  // they simply wait
    }

    func testAnnouncedFourGigabyteBulkAllocatesNothing() throws {
        let c = try server.client()
        XCTAssertEqual(try c.call("CONFIG", "SET", "proto-max-bulk-len", "8gb"), .simple("OK"))
        let before = residentBytes()
        var conns: [RawConnection] = []
        for _ in 0..<10 {
            let a = try RawConnection(port: server.port)
            a.send("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$4294967296\r\n" + String(repeating: "v", count: 1000))
            conns.append(a)
        }
        XCTAssertEqual(try c.call("PING"), .simple("PONG"))
        usleep(200_000)
        let grown = residentBytes() - before
        XCTAssertLessThan(grown, 64 * 1024 * 1024, "10 announced 4 GB bulks made the process grow by \(grown) bytes")
        for conn in conns { XCTAssertFalse(conn.receive(timeout: 0.01).closed) }
    }

    func testQueryBufferLimitClosesTheClient() throws {
        let c = try server.client()
        XCTAssertEqual(try c.call("CONFIG", "SET", "client-query-buffer-limit", "1mb"), .simple("OK"))
        let raw = try RawConnection(port: server.port)
        raw.send("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$3000000\r\n")
        let chunk = [UInt8](repeating: UInt8(ascii: "v"), count: 64 * 1024)
        var sent = 0
        while sent < 2_000_000 && raw.send(chunk) { sent += chunk.count }
        let r = raw.receive(timeout: 1)
        XCTAssertEqual(r.text, "")  // Redis closes such a client without a reply
        XCTAssertTrue(r.closed)
        XCTAssertEqual(try c.call("PING"), .simple("PONG"))
    }

    func testMaxclientsRefusesExtraConnections() throws {
        let c = try server.client()
        XCTAssertEqual(try c.call("CONFIG", "SET", "maxclients", "2"), .simple("OK"))
        let second = try server.client()
        XCTAssertEqual(try second.call("PING"), .simple("PONG"))
        let third = try RawConnection(port: server.port)
        let r = third.receive(timeout: 1)
        XCTAssertEqual(r.text, "-ERR max number of clients reached\r\n")
        XCTAssertTrue(r.closed)
        let info = try c.call("INFO", "stats").string ?? ""
        XCTAssertTrue(info.contains("rejected_connections:1\r\n"), info)
    }
}

/// CONFIG SET timeout closes idle clients, as Redis' `timeout` does.
final class IdleTimeoutTests: XCTestCase {
    func testIdleClientsAreClosed() throws {
        let server = try TestServer(threads: 2)
        let c = try server.client()
        XCTAssertEqual(try c.call("CONFIG", "SET", "timeout", "1"), .simple("OK"))
        let idle = try RawConnection(port: server.port)
        let busy = try RawConnection(port: server.port)
        var closed = false
        for _ in 0..<30 where !closed {  // up to ~3 s: idle > 1 s, checked once a second
            busy.command("PING")
            _ = busy.receive(timeout: 0.05)
            closed = idle.receive(timeout: 0.05).closed
            usleep(50_000)
        }
        XCTAssertTrue(closed, "an idle client should be closed after the timeout")
        busy.command("PING")
        XCTAssertEqual(busy.receive(expecting: "+PONG\r\n"), "+PONG\r\n")
    }
}
