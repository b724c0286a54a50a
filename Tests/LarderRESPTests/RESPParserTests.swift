import LarderRESP
import XCTest

/// RESPParser follows Redis' processMultibulkBuffer / processInlineBuffer rule for rule.
final class RESPParserTests: XCTestCase {
    typealias H = ParserHarness

    static func multibulk(_ args: [String]) -> String {
        "*\(args.count)\r\n" + args.map { "$\($0.utf8.count)\r\n\($0)\r\n" }.joined()
    }

    /// A pipeline of every request shape: multibulk with empty, CRLF-containing and long
    /// arguments, inline with quotes and escapes, empty requests.
    static let pipeline: String =
        multibulk(["SET", "key", "value"]) + multibulk(["HSET", "h", "", "x\r\ny"]) + "*0\r\n" +
        multibulk(["ECHO", String(repeating: "z", count: 300)]) + "PING\r\n" + "\r\n" +
        "set \"a b\" 'c d' \"\\x41\\n\"\n" + multibulk(["GET", "k"]) + "  echo   x  \r\n"

    static let expected: [H.Event] = [
        .args("SET", "key", "value"), .args("HSET", "h", "", "x\r\ny"),
        .args("ECHO", String(repeating: "z", count: 300)), .args("PING"),
        .args("set", "a b", "c d", "A\n"), .args("GET", "k"), .args("echo", "x"),
    ]

    func testWholePipeline() {
        XCTAssertEqual(H.events(Self.pipeline), Self.expected)
    }

    func testEverySplitIntoTwoPiecesGivesTheSameCommands() {
        let bytes = Array(Self.pipeline.utf8)
        for cut in 0...bytes.count {
            let events = H.events([Array(bytes[..<cut]), Array(bytes[cut...])])
            if events != Self.expected { return XCTFail("split at \(cut): \(events)") }
        }
    }

    func testEverySplitIntoThreePiecesGivesTheSameCommands() {
        // Every pair of cut points over a shorter pipeline that still has each request shape.
        let text = Self.multibulk(["SET", "key", "v"]) + "*0\r\n" + "set \"a b\" 'c'\r\n" +
            Self.multibulk(["HSET", "h", "", "x\r\n"])
        let want: [H.Event] = [.args("SET", "key", "v"), .args("set", "a b", "c"), .args("HSET", "h", "", "x\r\n")]
        let bytes = Array(text.utf8)
        for a in 0...bytes.count {
            for b in a...bytes.count {
                let events = H.events([Array(bytes[..<a]), Array(bytes[a..<b]), Array(bytes[b...])])
                if events != want { return XCTFail("split at \(a), \(b): \(events)") }
            }
        }
    }

    func testByteByByte() {
        XCTAssertEqual(H.events(Array(Self.pipeline.utf8).map { [$0] }), Self.expected)
    }

    func testBytesAfterThePayloadAreSkippedUnchecked() {
        // Redis skips the two bytes after a bulk without checking they are CRLF.
        XCTAssertEqual(H.events("*1\r\n$4\r\nPINGxx"), [.args("PING")])
    }

    func testEmptyRequests() {
        XCTAssertEqual(H.events("*0\r\n*-1\r\n*-5\r\n\r\n\n   \r\nPING\r\n"), [.args("PING")])
    }

    // MARK: inline (Redis' sdssplitargs)

    func testInlineQuotingRules() {
        XCTAssertEqual(H.events("set \"foo bar\" baz\r\n"), [.args("set", "foo bar", "baz")])
        XCTAssertEqual(H.events("a\tb  c\n"), [.args("a", "b", "c")])
        XCTAssertEqual(H.events("echo \"\"\r\n"), [.args("echo", "")])
        XCTAssertEqual(H.events("echo ''\r\n"), [.args("echo", "")])
        XCTAssertEqual(H.events("echo \"\\x41\\x4a\\x4b\"\r\n"), [.args("echo", "AJK")])
        XCTAssertEqual(H.events("echo \"\\xZZ\"\r\n"), [.args("echo", "xZZ")])
        XCTAssertEqual(H.events("echo \"\\n\\r\\t\\b\\a\\\\\\\"\"\r\n"), [.args("echo", "\n\r\t\u{8}\u{7}\\\"")])
        XCTAssertEqual(H.events("echo 'it\\'s'\r\n"), [.args("echo", "it's")])
        XCTAssertEqual(H.events("echo 'a\\nb'\r\n"), [.args("echo", "a\\nb")])  // single quotes keep \n
        XCTAssertEqual(H.events("echo a\"b c\"\r\n"), [.args("echo", "ab c")])  // a quote may open mid-word
    }

    /// Unescaping happens in place, inside the command's own bytes only: the bytes of the
    /// commands after it are untouched, so a caller that stops after a command (a connection
    /// waiting behind a shard borrow) can resume parsing there. The unescaped command itself
    /// must never be parsed again: its bytes no longer say what the client sent.
    func testInlineUnescapingStaysInsideTheCommand() {
        let text = "SET k \"a\\x41b\"\r\nSET k2 \"c\\x42d\"\r\n"
        var bytes = Array(text.utf8)
        var parser = RESPParser()
        var spans: [ArgumentSpan] = []
        let first = bytes.withUnsafeMutableBytes { parser.parse($0, start: 0, into: &spans) }
        guard case .command(3, let end) = first else { return XCTFail("\(first)") }
        XCTAssertEqual(Array(bytes[end...]), Array("SET k2 \"c\\x42d\"\r\n".utf8))
        XCTAssertEqual(Array(bytes[spans[2].offset..<spans[2].offset + spans[2].count]), Array("aAb".utf8))
        let second = bytes.withUnsafeMutableBytes { parser.parse($0, start: end, into: &spans) }
        guard case .command(3, _) = second else { return XCTFail("\(second)") }
        XCTAssertEqual(Array(bytes[spans[5].offset..<spans[5].offset + spans[5].count]), Array("cBd".utf8))
        // Parsing the first command's bytes again reads the unescaped text, which is not the request.
        var again: [ArgumentSpan] = []
        var fresh = RESPParser()
        let reparsed = bytes.withUnsafeMutableBytes { fresh.parse($0, start: 0, into: &again) }
        XCTAssertEqual(reparsed, .error(RESPProtocolError("Protocol error: unbalanced quotes in request")))
    }

    func testInlineUnbalancedQuotes() {
        let unbalanced = H.Event.error("Protocol error: unbalanced quotes in request")
        XCTAssertEqual(H.events("set \"a\r\n"), [unbalanced])
        XCTAssertEqual(H.events("set 'a\r\n"), [unbalanced])
        XCTAssertEqual(H.events("echo \"a\"b\r\n"), [unbalanced])   // a closing quote must end the word
        XCTAssertEqual(H.events("echo 'a'b\r\n"), [unbalanced])
        XCTAssertEqual(H.events("echo a\"b\"c\r\n"), [unbalanced])  // a quote opens mid-word, then must end it
        XCTAssertEqual(H.events("PING\r\necho \"x\r\nPING\r\n"), [.args("PING"), unbalanced])
    }

    func testInlineTooBig() {
        let line = [UInt8](repeating: UInt8(ascii: "x"), count: 64 * 1024)
        XCTAssertEqual(H.events([line]), [])  // exactly the limit: still waiting for the newline
        XCTAssertEqual(H.events([line, [UInt8(ascii: "x")]]), [.error("Protocol error: too big inline request")])
        XCTAssertEqual(H.events([line + Array("\n".utf8)]).count, 1)
    }

    // MARK: multibulk errors

    func testMultibulkErrors() {
        XCTAssertEqual(H.events("*abc\r\n"), [.error("Protocol error: invalid multibulk length")])
        XCTAssertEqual(H.events("*2147483648\r\n"), [.error("Protocol error: invalid multibulk length")])
        XCTAssertEqual(H.events("*1\r\n$abc\r\n"), [.error("Protocol error: invalid bulk length")])
        XCTAssertEqual(H.events("*1\r\n$-1\r\n"), [.error("Protocol error: invalid bulk length")])
        XCTAssertEqual(H.events("*1\r\n$536870913\r\n"), [.error("Protocol error: invalid bulk length")])
        XCTAssertEqual(H.events("*1\r\nfoo\r\n"), [.error("Protocol error: expected '$', got 'f'")])
        XCTAssertEqual(H.events("*2\r\n$1\r\na\r\n:1\r\n"), [.error("Protocol error: expected '$', got ':'")])
        let digits = String(repeating: "1", count: 64 * 1024 + 1)
        XCTAssertEqual(H.events("*" + digits), [.error("Protocol error: too big mbulk count string")])
        XCTAssertEqual(H.events("*1\r\n$" + digits), [.error("Protocol error: too big bulk count string")])
    }

    func testBulkLimitFollowsTheLimits() {
        var limits = RESPLimits()
        limits.maxBulkLength = 1024 * 1024
        XCTAssertEqual(H.events([Array("*1\r\n$1048577\r\n".utf8)], limits: limits), [.error("Protocol error: invalid bulk length")])
        XCTAssertEqual(H.events([Array("*1\r\n$1048576\r\n".utf8)], limits: limits), [])
        limits.maxMultibulkLength = 3
        XCTAssertEqual(H.events([Array("*4\r\n".utf8)], limits: limits), [.error("Protocol error: invalid multibulk length")])
    }

    func testUnauthenticatedLimits() {
        XCTAssertEqual(H.events("*11\r\n", authenticated: false), [.error("Protocol error: unauthenticated multibulk length")])
        XCTAssertEqual(H.events("*1\r\n$16385\r\n", authenticated: false), [.error("Protocol error: unauthenticated bulk length")])
        XCTAssertEqual(H.events(Self.multibulk(["AUTH", String(repeating: "p", count: 16384)]), authenticated: false).count, 1)
        XCTAssertEqual(H.events("*11\r\n", authenticated: true), [])
    }

    func testPartialCommandKeepsOnlyWhatArrived() {
        var h = ParserHarness()
        h.feed(Array("*1000000000\r\n$536870912\r\nabc".utf8))
        XCTAssertEqual(h.events, [])
        XCTAssertEqual(h.pendingBytes, 28)  // the bytes received, not the sizes announced
        XCTAssertTrue(h.parser.isInsideCommand)
    }

    func testResetForgetsAPartialCommand() {
        var h = ParserHarness()
        h.feed(Array("*2\r\n$3\r\nGET\r\n".utf8))
        XCTAssertTrue(h.parser.isInsideCommand)
        h.parser.reset()
        XCTAssertFalse(h.parser.isInsideCommand)
    }

    /// Arguments go straight into the caller's spans: a command cut short or refused leaves
    /// them as they were before it, and one resumed later reports all its arguments at once.
    func testSpansHoldOnlyWholeCommands() {
        var parser = RESPParser()
        var spans: [ArgumentSpan] = []
        let get = Self.multibulk(["GET", "k"]).utf8.count
        var bytes = Array((Self.multibulk(["GET", "k"]) + "*2\r\n$3\r\nSET\r\n$1").utf8)
        bytes.withUnsafeMutableBytes { buf in
            XCTAssertEqual(parser.parse(buf, start: 0, into: &spans), .command(argumentCount: 2, end: get))
            XCTAssertEqual(parser.parse(buf, start: get, into: &spans), .incomplete)
        }
        XCTAssertEqual(spans.count, 2, "the cut command's first argument is not in the spans")
        // The caller keeps the bytes from the command's start (here moved to offset 0).
        var rest = Array(bytes[get...]) + Array("\r\nv\r\n".utf8)
        rest.withUnsafeMutableBytes { buf in
            XCTAssertEqual(parser.parse(buf, start: 0, into: &spans), .command(argumentCount: 2, end: buf.count))
        }
        XCTAssertEqual(spans[2...].map { Array(rest[$0.offset..<$0.offset + $0.count]) }, [Array("SET".utf8), Array("v".utf8)])
        var bad = Array("*3\r\n$1\r\na\r\n$1\r\nb\r\n:1\r\n".utf8)
        bad.withUnsafeMutableBytes { buf in
            guard case .error(let e) = parser.parse(buf, start: 0, into: &spans) else { return XCTFail("no error") }
            XCTAssertEqual(e.message, "Protocol error: expected '$', got ':'")
        }
        XCTAssertEqual(spans.count, 4, "a refused command adds no spans")
        XCTAssertFalse(parser.isInsideCommand)
    }

    // MARK: integers (Redis' string2ll)

    func int(_ s: String) -> Int? {
        Array(s.utf8).withUnsafeBytes { RESPParser.parseInteger($0, from: 0, to: $0.count) }
    }

    func testIntegerParsing() {
        XCTAssertEqual(int("0"), 0)
        XCTAssertEqual(int("7"), 7)
        XCTAssertEqual(int("-7"), -7)
        // Up to 18 digits take a path without overflow checks; 19 and 20 the checked one.
        XCTAssertEqual(int("999999999999999999"), 999_999_999_999_999_999)
        XCTAssertEqual(int("1000000000000000000"), 1_000_000_000_000_000_000)
        XCTAssertNil(int("12345678901234567x"))
        XCTAssertNil(int("1234567890123456789x"))
        XCTAssertEqual(int("9223372036854775807"), Int.max)
        XCTAssertEqual(int("-9223372036854775808"), Int.min)
        for bad in ["", "-", "-0", "01", "+1", " 1", "1 ", "1a", "0x1", "9223372036854775808",
                    "-9223372036854775809", "99999999999999999999", "123456789012345678901", "1.0", "--1"] {
            XCTAssertNil(int(bad), "'\(bad)' is not an integer to Redis")
        }
    }
}
