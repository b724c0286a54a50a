import XCTest

/// INCR/DECR/INCRBY/DECRBY/INCRBYFLOAT: integer limits, the long-double arithmetic and
/// formatting of INCRBYFLOAT, and Redis 7.0's error texts.
final class StringCounterTests: XCTestCase {
    var server: TestServer!
    var c: TestClient!

    override func setUpWithError() throws {
        server = try TestServer(threads: 2)
        c = try server.client()
    }

    override func tearDown() { c = nil; server = nil }

    let notInteger = Reply.error("ERR value is not an integer or out of range")
    let notFloat = Reply.error("ERR value is not a valid float")

    func testIntegerCounters() throws {
        XCTAssertEqual(try c.call("INCR", "n"), .integer(1))
        XCTAssertEqual(try c.call("INCRBY", "n", "10"), .integer(11))
        XCTAssertEqual(try c.call("DECR", "n"), .integer(10))
        XCTAssertEqual(try c.call("DECRBY", "n", "15"), .integer(-5))
        XCTAssertEqual(try c.call("GET", "n"), .bulk("-5"))
        XCTAssertEqual(try c.call("INCRBY", "n", "abc"), notInteger)
        XCTAssertEqual(try c.call("INCRBY", "n", "+1"), notInteger, "Redis' string2ll takes no '+'")
        XCTAssertEqual(try c.call("EXPIRE", "n", "100"), .integer(1))
        XCTAssertEqual(try c.call("INCR", "n"), .integer(-4))
        XCTAssertEqual(try c.call("TTL", "n"), .integer(100), "a counter keeps its TTL")
    }

    func testIntegerLimitsAndBadValues() throws {
        XCTAssertEqual(try c.call("SET", "n", "9223372036854775807"), .simple("OK"))
        XCTAssertEqual(try c.call("INCR", "n"), .error("ERR increment or decrement would overflow"))
        XCTAssertEqual(try c.call("SET", "n", "-9223372036854775808"), .simple("OK"))
        XCTAssertEqual(try c.call("DECR", "n"), .error("ERR increment or decrement would overflow"))
        XCTAssertEqual(try c.call("DECRBY", "n", "-9223372036854775808"), .error("ERR decrement would overflow"))
        for bad in [" 1", "01", "1.5", "", "1 "] {
            XCTAssertEqual(try c.call("SET", "s", bad), .simple("OK"))
            XCTAssertEqual(try c.call("INCR", "s"), notInteger, "value \"\(bad)\"")
        }
        XCTAssertEqual(try c.call("HSET", "h", "f", "v"), .integer(1))
        XCTAssertEqual(try c.call("INCR", "h"), .error("WRONGTYPE Operation against a key holding the wrong kind of value"))
        XCTAssertEqual(try c.call("INCRBY", "h", "abc"), notInteger, "INCRBY parses its argument before the key")
    }

    func testIncrbyfloatUsesLongDoubleAndStripsZeros() throws {
        XCTAssertEqual(try c.call("SET", "f", "10.5"), .simple("OK"))
        XCTAssertEqual(try c.call("INCRBYFLOAT", "f", "0.1"), .bulk("10.6"))
        XCTAssertEqual(try c.call("INCRBYFLOAT", "f1", "0.1"), .bulk("0.1"))
        XCTAssertEqual(try c.call("INCRBYFLOAT", "f1", "0.2"), .bulk("0.3"), "long double sums look decimal")
        XCTAssertEqual(try c.call("INCRBYFLOAT", "f1", "-0.3"), .bulk("0"))
        XCTAssertEqual(try c.call("INCRBYFLOAT", "new", "5.0e3"), .bulk("5000"))
        XCTAssertEqual(try c.call("SET", "f", "1.23456789012345678901"), .simple("OK"))
        XCTAssertEqual(try c.call("INCRBYFLOAT", "f", "0"), .bulk("1.23456789012345679"), "%.17Lf precision")
        XCTAssertEqual(try c.call("SET", "f", "-0.0"), .simple("OK"))
        XCTAssertEqual(try c.call("INCRBYFLOAT", "f", "0"), .bulk("0"), "-0 prints as 0")
        XCTAssertEqual(try c.call("SET", "f", "1"), .simple("OK"))
        XCTAssertEqual(try c.call("INCRBYFLOAT", "f", "0x10"), .bulk("17"), "strtold reads hex")
        XCTAssertEqual(try c.call("INCRBYFLOAT", "f", "1e-20"), .bulk("17"))
        XCTAssertEqual(try c.call("INCRBYFLOAT", "f", "1e30"), .bulk("1000000000000000000024696061952"),
                       "all digits of the long double, not a shortest form")
        XCTAssertEqual(try c.call("SET", "f", "3.0e-5"), .simple("OK"))
        XCTAssertEqual(try c.call("INCRBYFLOAT", "f", "0"), .bulk("0.00003"), "no exponent notation")
    }

    func testIncrbyfloatErrors() throws {
        XCTAssertEqual(try c.call("SET", "f", "abc"), .simple("OK"))
        XCTAssertEqual(try c.call("INCRBYFLOAT", "f", "1"), notFloat)
        XCTAssertEqual(try c.call("SET", "f", "1"), .simple("OK"))
        for bad in ["abc", " 1", "1 ", "", "nan", "1e5000"] {
            XCTAssertEqual(try c.call("INCRBYFLOAT", "f", bad), notFloat, "increment \"\(bad)\"")
        }
        XCTAssertEqual(try c.call("INCRBYFLOAT", "f", "inf"), .error("ERR increment would produce NaN or Infinity"))
        XCTAssertEqual(try c.call("SET", "f", "inf"), .simple("OK"))
        XCTAssertEqual(try c.call("INCRBYFLOAT", "f", "1"), .error("ERR increment would produce NaN or Infinity"))
        XCTAssertEqual(try c.call("GET", "f"), .bulk("inf"), "a failed increment changes nothing")
        XCTAssertEqual(try c.call("HSET", "h", "f", "v"), .integer(1))
        XCTAssertEqual(try c.call("INCRBYFLOAT", "h", "1"), .error("WRONGTYPE Operation against a key holding the wrong kind of value"))
    }
}
