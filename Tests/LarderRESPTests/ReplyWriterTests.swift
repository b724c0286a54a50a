import Foundation
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

    /// Integers and headers are written two digits at a time in place: every length of digits,
    /// both signs and the extremes must read as Swift's own decimal text.
    func testIntegersOfEveryLength() {
        var values: [Int] = [0, 1, 9, 10, 99, 100, 999, 1000, Int.max, Int.min, Int.min + 1]
        var p = 1
        for _ in 0..<18 { p *= 10; values += [p - 1, p, p + 1] }
        var g = SystemRandomNumberGenerator()
        for _ in 0..<2000 { values.append(Int(truncatingIfNeeded: g.next() as UInt64) >> Int.random(in: 0..<63, using: &g)) }
        for v in values + values.map({ $0 == Int.min ? 0 : -$0 }) {
            XCTAssertEqual(written(.resp2) { $0.integer(v) }, ":\(v)\r\n")
            XCTAssertEqual(written(.resp3) { $0.arrayHeader(v) }, "*\(v)\r\n")
            XCTAssertEqual(written(.resp2) { $0.appendDecimal(v) }, "\(v)")
        }
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

    /// The digits are written without vsnprintf (RESPNumberFormat.writeG17); they must be its
    /// "%.17g" for every double: edges, halfway and carry cases, Float-derived values (what
    /// Float32 features hold) and random bit patterns across the whole range.
    func testDoubleMatchesPrintf() {
        func printf(_ v: Double) -> String {
            if v.isNaN { return "nan" }
            if v.isInfinite { return v > 0 ? "inf" : "-inf" }
            var buf = [CChar](repeating: 0, count: 64)
            _ = withVaList([v]) { vsnprintf(&buf, 64, "%.17g", $0) }
            return String(cString: buf)
        }
        var values: [Double] = [0, -0.0, 1, -1, 0.1, 0.5, 1e-4, 1e-5, 9.9999999999999995e-5, 1e-6, 1e-7, 0.00012345,
                                1e17.nextDown, 1e16, 1e17, 123456789012345680, 9007199254740992, 4503599627370496.5,
                                .greatestFiniteMagnitude, .leastNormalMagnitude, .leastNonzeroMagnitude, .pi, -.pi, 2.5, 0.3,
                                Double(Float(0.1)), Double(Float(0.7)), Double(Float.greatestFiniteMagnitude)]
        for e in -30...30 {
            let p = pow(10.0, Double(e))
            values += [p, p.nextUp, p.nextDown, -p, 5 * p, 9.5 * p]
        }
        var g = SystemRandomNumberGenerator()
        for _ in 0..<100_000 {
            values.append(Double(bitPattern: g.next()))
            values.append(Double(Float(bitPattern: UInt32.random(in: 0...UInt32.max, using: &g))))
            values.append(Double(Int.random(in: -1_000_000...1_000_000, using: &g)) / 1000)
            values.append(Double.random(in: -1e6...1e6, using: &g))
            values.append(Double(Float(Double.random(in: 0...1, using: &g))))
        }
        var mismatches: [String] = []
        for v in values where RESPNumberFormat.double(v) != printf(v) {
            mismatches.append("\(v.bitPattern): \(RESPNumberFormat.double(v)) vs \(printf(v))")
            if mismatches.count > 10 { break }
        }
        XCTAssertEqual(mismatches, [])
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
