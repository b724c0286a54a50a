import LarderRESP
import XCTest

/// ReplyWriter's bytes, RESP2 and RESP3, as Redis writes them.
final class ReplyWriterTests: XCTestCase {
    func written(_ version: RESPVersion, _ body: (ReplyWriter) -> Void) -> String {
        let w = ReplyWriter(capacity: 64, version: version)
        body(w)
        return String(decoding: w.bytes, as: UTF8.self)
    }

    func both(_ body: (ReplyWriter) -> Void) -> (String, String) { (written(.resp2, body), written(.resp3, body)) }

    func testScalars() {
        XCTAssertEqual(written(.resp2) { $0.ok() }, "+OK\r\n")
        XCTAssertEqual(written(.resp2) { $0.simple("PONG" as StaticString) }, "+PONG\r\n")
        XCTAssertEqual(written(.resp2) { $0.integer(-42) }, ":-42\r\n")
        XCTAssertEqual(written(.resp2) { $0.integer(Int.min) }, ":-9223372036854775808\r\n")
        XCTAssertEqual(written(.resp2) { $0.integer(0) }, ":0\r\n")
        XCTAssertEqual(written(.resp2) { $0.bulk("héllo") }, "$6\r\nhéllo\r\n")
        XCTAssertEqual(written(.resp2) { $0.bulk([UInt8]()) }, "$0\r\n\r\n")
    }

    func testErrorsCannotBreakFraming() {
        XCTAssertEqual(written(.resp2) { $0.error("ERR bad\r\nthing") }, "-ERR bad  thing\r\n")
    }

    func testNull() {
        let (r2, r3) = both { $0.null() }
        XCTAssertEqual(r2, "$-1\r\n")
        XCTAssertEqual(r3, "_\r\n")
        let (a2, a3) = both { $0.nullArray() }
        XCTAssertEqual(a2, "*-1\r\n")
        XCTAssertEqual(a3, "_\r\n")
    }

    func testMapSetPush() {
        let (m2, m3) = both { $0.mapHeader(2); $0.bulk("a"); $0.integer(1); $0.bulk("b"); $0.integer(2) }
        XCTAssertEqual(m2, "*4\r\n$1\r\na\r\n:1\r\n$1\r\nb\r\n:2\r\n")
        XCTAssertEqual(m3, "%2\r\n$1\r\na\r\n:1\r\n$1\r\nb\r\n:2\r\n")
        let (s2, s3) = both { $0.setHeader(1); $0.bulk("x") }
        XCTAssertEqual(s2, "*1\r\n$1\r\nx\r\n")
        XCTAssertEqual(s3, "~1\r\n$1\r\nx\r\n")
        let (p2, p3) = both { $0.pushHeader(0) }
        XCTAssertEqual(p2, "*0\r\n")
        XCTAssertEqual(p3, ">0\r\n")
    }

    func testDouble() {
        let (d2, d3) = both { $0.double(1.5) }
        XCTAssertEqual(d2, "$3\r\n1.5\r\n")
        XCTAssertEqual(d3, ",1.5\r\n")
        XCTAssertEqual(written(.resp3) { $0.double(.infinity) }, ",inf\r\n")
        XCTAssertEqual(written(.resp3) { $0.double(-.infinity) }, ",-inf\r\n")
        XCTAssertEqual(written(.resp3) { $0.double(.nan) }, ",nan\r\n")
        // %.17g, as Redis' addReplyDouble
        XCTAssertEqual(written(.resp3) { $0.double(0.1) }, ",0.10000000000000001\r\n")
        XCTAssertEqual(written(.resp2) { $0.double(3) }, "$1\r\n3\r\n")
    }

    func testBoolean() {
        let (t2, t3) = both { $0.boolean(true) }
        XCTAssertEqual(t2, ":1\r\n")
        XCTAssertEqual(t3, "#t\r\n")
        XCTAssertEqual(written(.resp3) { $0.boolean(false) }, "#f\r\n")
    }

    func testVerbatim() {
        let (v2, v3) = both { $0.verbatim("# Server\r\n") }
        XCTAssertEqual(v2, "$10\r\n# Server\r\n\r\n")
        XCTAssertEqual(v3, "=14\r\ntxt:# Server\r\n\r\n")
    }

    func testGrowsAndClears() {
        let w = ReplyWriter(capacity: 64)
        let big = [UInt8](repeating: 7, count: 100_000)
        w.bulk(big)
        XCTAssertEqual(w.count, 100_000 + "$100000\r\n".utf8.count + 2)
        let mark = w.count
        w.integer(1)
        w.truncate(to: mark)
        XCTAssertEqual(w.count, mark)
        w.clear()
        XCTAssertEqual(w.count, 0)
        w.ok()
        XCTAssertEqual(String(decoding: w.bytes, as: UTF8.self), "+OK\r\n")
    }
}
