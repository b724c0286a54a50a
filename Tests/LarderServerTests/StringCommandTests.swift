import XCTest

/// String commands, with the replies and error texts of Redis 7.0 (checked against
/// redis-server 7.0.15).
final class StringCommandTests: XCTestCase {
    var server: TestServer!
    var c: TestClient!

    override func setUpWithError() throws {
        server = try TestServer(threads: 2)
        c = try server.client()
    }

    override func tearDown() { c = nil; server = nil }

    let wrongType = Reply.error("WRONGTYPE Operation against a key holding the wrong kind of value")
    let notInteger = Reply.error("ERR value is not an integer or out of range")
    let syntax = Reply.error("ERR syntax error")

    func testGetAndSetRoundTripBinaryValues() throws {
        XCTAssertEqual(try c.call("GET", "k"), .null)
        XCTAssertEqual(try c.callBytes([Array("SET".utf8), [0, 1, 0xFF], [0, 13, 10, 0]]), .simple("OK"))
        XCTAssertEqual(try c.callBytes([Array("GET".utf8), [0, 1, 0xFF]]), .bulk([0, 13, 10, 0]))
        XCTAssertEqual(try c.call("SET", "k", ""), .simple("OK"))
        XCTAssertEqual(try c.call("GET", "k"), .bulk(""))
        XCTAssertEqual(try c.call("HSET", "h", "f", "v"), .integer(1))
        XCTAssertEqual(try c.call("GET", "h"), wrongType)
        XCTAssertEqual(try c.call("SET", "h", "now a string"), .simple("OK"), "SET overwrites any type")
        XCTAssertEqual(try c.call("GET", "h"), .bulk("now a string"))
    }

    func testSetConditionsAndGet() throws {
        XCTAssertEqual(try c.call("SET", "k", "v", "XX"), .null)
        XCTAssertEqual(try c.call("SET", "k", "v", "NX"), .simple("OK"))
        XCTAssertEqual(try c.call("SET", "k", "w", "NX"), .null)
        XCTAssertEqual(try c.call("SET", "k", "w", "XX"), .simple("OK"))
        XCTAssertEqual(try c.call("SET", "k", "x", "GET"), .bulk("w"))
        XCTAssertEqual(try c.call("SET", "k", "y", "GET", "NX"), .bulk("x"), "NX GET replies the old value and keeps it")
        XCTAssertEqual(try c.call("GET", "k"), .bulk("x"))
        XCTAssertEqual(try c.call("SET", "k2", "v", "GET", "NX"), .null)
        XCTAssertEqual(try c.call("GET", "k2"), .bulk("v"))
        XCTAssertEqual(try c.call("SET", "k", "v", "nx", "xx"), syntax)
        XCTAssertEqual(try c.call("SET", "k", "v", "foo"), syntax)
        XCTAssertEqual(try c.call("HSET", "h", "f", "v"), .integer(1))
        XCTAssertEqual(try c.call("SET", "h", "v", "GET"), wrongType)
        XCTAssertEqual(try c.call("SET", "h", "v", "XX", "GET"), wrongType)
        XCTAssertEqual(try c.call("TYPE", "h"), .simple("hash"), "a failed SET GET changes nothing")
    }

    func testSetExpiryOptions() throws {
        XCTAssertEqual(try c.call("SET", "k", "v", "EX", "10", "EX", "20"), .simple("OK"), "the same form may repeat")
        XCTAssertEqual(try c.call("TTL", "k"), .integer(20))
        XCTAssertEqual(try c.call("SET", "k", "v", "EX", "10", "PX", "100"), syntax)
        XCTAssertEqual(try c.call("SET", "k", "v", "KEEPTTL", "EX", "10"), syntax)
        XCTAssertEqual(try c.call("SET", "k", "v", "EX", "10", "KEEPTTL"), syntax)
        XCTAssertEqual(try c.call("SET", "k", "v", "EX"), syntax)
        XCTAssertEqual(try c.call("SET", "k", "v", "EX", "0"), .error("ERR invalid expire time in 'set' command"))
        XCTAssertEqual(try c.call("SET", "k", "v", "PX", "-1"), .error("ERR invalid expire time in 'set' command"))
        XCTAssertEqual(try c.call("SET", "k", "v", "EX", "9223372036854775"), .error("ERR invalid expire time in 'set' command"))
        XCTAssertEqual(try c.call("SET", "k", "v", "PX", "9223372036854775807"), .error("ERR invalid expire time in 'set' command"))
        XCTAssertEqual(try c.call("SET", "k", "v", "EX", "abc"), notInteger)
        XCTAssertEqual(try c.call("SET", "k", "v", "PX", "5000"), .simple("OK"))
        XCTAssertEqual(try c.call("SET", "k", "w", "KEEPTTL"), .simple("OK"))
        guard case .integer(let pttl) = try c.call("PTTL", "k") else { return XCTFail("PTTL") }
        XCTAssertTrue(pttl > 4000 && pttl <= 5000, "KEEPTTL kept the TTL, got \(pttl)")
        XCTAssertEqual(try c.call("SET", "k", "w"), .simple("OK"))
        XCTAssertEqual(try c.call("TTL", "k"), .integer(-1), "a plain SET clears the TTL")
        XCTAssertEqual(try c.call("SET", "k", "v", "EXAT", "9223372036854775"), .simple("OK"))
        XCTAssertEqual(try c.call("SET", "k", "v", "PXAT", "1"), .simple("OK"))
        XCTAssertEqual(try c.call("GET", "k"), .null, "an absolute time in the past expires the key")
    }

    func testSetnxSetexPsetex() throws {
        XCTAssertEqual(try c.call("SETNX", "k", "a"), .integer(1))
        XCTAssertEqual(try c.call("SETNX", "k", "b"), .integer(0))
        XCTAssertEqual(try c.call("GET", "k"), .bulk("a"))
        XCTAssertEqual(try c.call("SETEX", "k", "100", "v"), .simple("OK"))
        XCTAssertEqual(try c.call("TTL", "k"), .integer(100))
        XCTAssertEqual(try c.call("SETEX", "k", "0", "v"), .error("ERR invalid expire time in 'setex' command"))
        XCTAssertEqual(try c.call("SETEX", "k", "x", "v"), notInteger)
        XCTAssertEqual(try c.call("PSETEX", "k", "-5", "v"), .error("ERR invalid expire time in 'psetex' command"))
        XCTAssertEqual(try c.call("PSETEX", "k", "10000", "v"), .simple("OK"))
        guard case .integer(let pttl) = try c.call("PTTL", "k") else { return XCTFail("PTTL") }
        XCTAssertTrue(pttl > 9000 && pttl <= 10000)
        XCTAssertEqual(try c.call("SETEX", "k"), .error("ERR wrong number of arguments for 'setex' command"))
    }

    func testGetsetGetdelGetex() throws {
        XCTAssertEqual(try c.call("GETSET", "k", "a"), .null)
        XCTAssertEqual(try c.call("EXPIRE", "k", "100"), .integer(1))
        XCTAssertEqual(try c.call("GETSET", "k", "b"), .bulk("a"))
        XCTAssertEqual(try c.call("TTL", "k"), .integer(-1), "GETSET clears the TTL")
        XCTAssertEqual(try c.call("GETDEL", "k"), .bulk("b"))
        XCTAssertEqual(try c.call("GETDEL", "k"), .null)
        XCTAssertEqual(try c.call("HSET", "h", "f", "v"), .integer(1))
        XCTAssertEqual(try c.call("GETSET", "h", "v"), wrongType)
        XCTAssertEqual(try c.call("GETDEL", "h"), wrongType)
        XCTAssertEqual(try c.call("GETEX", "h"), wrongType)

        XCTAssertEqual(try c.call("SET", "k", "v"), .simple("OK"))
        XCTAssertEqual(try c.call("GETEX", "k", "EX", "100"), .bulk("v"))
        XCTAssertEqual(try c.call("TTL", "k"), .integer(100))
        XCTAssertEqual(try c.call("GETEX", "k"), .bulk("v"))
        XCTAssertEqual(try c.call("TTL", "k"), .integer(100), "plain GETEX keeps the TTL")
        XCTAssertEqual(try c.call("GETEX", "k", "PERSIST"), .bulk("v"))
        XCTAssertEqual(try c.call("TTL", "k"), .integer(-1))
        XCTAssertEqual(try c.call("GETEX", "k", "EX", "10", "PERSIST"), syntax)
        XCTAssertEqual(try c.call("GETEX", "k", "NX"), syntax, "SET-only options are not GETEX options")
        XCTAssertEqual(try c.call("GETEX", "k", "EX", "abc"), notInteger)
        XCTAssertEqual(try c.call("GETEX", "k", "EX", "0"), .error("ERR invalid expire time in 'getex' command"))
        XCTAssertEqual(try c.call("GETEX", "missing", "EX", "abc"), .null, "the time is checked only for an existing key")
        XCTAssertEqual(try c.call("GETEX", "k", "EXAT", "1"), .bulk("v"), "replies the value, then deletes")
        XCTAssertEqual(try c.call("EXISTS", "k"), .integer(0))
    }

    func testAppendStrlenAndRanges() throws {
        XCTAssertEqual(try c.call("APPEND", "s", "hello"), .integer(5))
        XCTAssertEqual(try c.call("EXPIRE", "s", "100"), .integer(1))
        XCTAssertEqual(try c.call("APPEND", "s", " world"), .integer(11))
        XCTAssertEqual(try c.call("TTL", "s"), .integer(100), "APPEND keeps the TTL")
        XCTAssertEqual(try c.call("STRLEN", "s"), .integer(11))
        XCTAssertEqual(try c.call("STRLEN", "missing"), .integer(0))
        XCTAssertEqual(try c.call("GETRANGE", "s", "0", "4"), .bulk("hello"))
        XCTAssertEqual(try c.call("GETRANGE", "s", "-5", "-1"), .bulk("world"))
        XCTAssertEqual(try c.call("GETRANGE", "s", "-1", "-5"), .bulk(""))
        XCTAssertEqual(try c.call("GETRANGE", "s", "5", "2"), .bulk(""))
        XCTAssertEqual(try c.call("GETRANGE", "s", "-100", "2"), .bulk("hel"))
        XCTAssertEqual(try c.call("GETRANGE", "s", "3", "100"), .bulk("lo world"))
        XCTAssertEqual(try c.call("GETRANGE", "s", "100", "200"), .bulk(""))
        XCTAssertEqual(try c.call("GETRANGE", "missing", "0", "1"), .bulk(""), "a missing key reads as empty")
        XCTAssertEqual(try c.call("GETRANGE", "s", "0", "x"), notInteger)
        XCTAssertEqual(try c.call("SUBSTR", "s", "0", "2"), .bulk("hel"))

        XCTAssertEqual(try c.call("SETRANGE", "s", "6", "W"), .integer(11))
        XCTAssertEqual(try c.call("GET", "s"), .bulk("hello World"))
        XCTAssertEqual(try c.call("SETRANGE", "s", "13", "!"), .integer(14))
        XCTAssertEqual(try c.call("GET", "s"), .bulk([UInt8]("hello World".utf8) + [0, 0, UInt8(ascii: "!")]))
        XCTAssertEqual(try c.call("SETRANGE", "s", "0", ""), .integer(14), "an empty write replies the length")
        XCTAssertEqual(try c.call("SETRANGE", "new", "3", "x"), .integer(4))
        XCTAssertEqual(try c.call("GET", "new"), .bulk([0, 0, 0, UInt8(ascii: "x")]))
        XCTAssertEqual(try c.call("SETRANGE", "empty", "0", ""), .integer(0))
        XCTAssertEqual(try c.call("EXISTS", "empty"), .integer(0), "an empty write creates nothing")
        XCTAssertEqual(try c.call("SETRANGE", "s", "-1", "x"), .error("ERR offset is out of range"))
        XCTAssertEqual(try c.call("SETRANGE", "s", "536870912", "x"),
                       .error("ERR string exceeds maximum allowed size (proto-max-bulk-len)"))
        XCTAssertEqual(try c.call("SETRANGE", "s", "9223372036854775807", "x"),
                       .error("ERR string exceeds maximum allowed size (proto-max-bulk-len)"), "no overflow")

        XCTAssertEqual(try c.call("HSET", "h", "f", "v"), .integer(1))
        XCTAssertEqual(try c.call("APPEND", "h", "x"), wrongType)
        XCTAssertEqual(try c.call("STRLEN", "h"), wrongType)
        XCTAssertEqual(try c.call("GETRANGE", "h", "0", "1"), wrongType)
        XCTAssertEqual(try c.call("SETRANGE", "h", "0", "x"), wrongType)
    }

    func testMultiKeyStringCommands() throws {
        XCTAssertEqual(try c.call("MSET", "a", "1", "b", "2"), .simple("OK"))
        XCTAssertEqual(try c.call("MSET", "a", "1", "b"), .error("ERR wrong number of arguments for 'mset' command"))
        XCTAssertEqual(try c.call("HSET", "h", "f", "v"), .integer(1))
        XCTAssertEqual(try c.call("MGET", "a", "missing", "h", "b"), .array([.bulk("1"), .null, .null, .bulk("2")]),
                       "MGET answers null for a key of another type")
        XCTAssertEqual(try c.call("MSETNX", "a", "x", "c", "3"), .integer(0))
        XCTAssertEqual(try c.call("EXISTS", "c"), .integer(0), "MSETNX sets nothing when one key exists")
        XCTAssertEqual(try c.call("MSETNX", "c", "3", "d", "4"), .integer(1))
        XCTAssertEqual(try c.call("MGET", "c", "d"), .array([.bulk("3"), .bulk("4")]))
        XCTAssertEqual(try c.call("MSETNX", "x"), .error("ERR wrong number of arguments for 'msetnx' command"))
        XCTAssertEqual(try c.call("MSET", "dup", "1", "dup", "2"), .simple("OK"))
        XCTAssertEqual(try c.call("GET", "dup"), .bulk("2"), "the last value of a repeated key wins")
    }
}
