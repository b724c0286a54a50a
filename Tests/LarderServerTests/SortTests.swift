@testable import LarderServer
import LarderRESP
import XCTest

/// SORT's pieces that routing and the comparison depend on: where the STORE key is (Redis'
/// sortGetKeys skips each option's arguments), which calls look keys up by pattern (those
/// borrow every shard), Redis' strtod rule, and a cross-shard run. The replies themselves are
/// compared with redis-server in Tests/conformance/test_generic_compat.py.
final class SortTests: XCTestCase {
    func withArgs<R>(_ words: [String], _ body: (Arguments) -> R) -> R {
        ConnectionHandler.withArguments(words.map { Array($0.utf8) }, body)
    }

    func keys(_ words: [String]) -> [String] {
        withArgs(words) { a in
            var found: [String] = []
            KeyPositions.sortKeys.forEach(a) { found.append(a.string($0)) }
            return found
        }
    }

    func testStoreKeyIsFoundPastOtherOptionsArguments() {
        XCTAssertEqual(keys(["SORT", "k"]), ["k"])
        XCTAssertEqual(keys(["SORT", "k", "STORE", "dst"]), ["k", "dst"])
        XCTAssertEqual(keys(["SORT", "k", "GET", "store", "LIMIT", "0", "1"]), ["k"], "a GET pattern named store is no STORE")
        XCTAssertEqual(keys(["SORT", "k", "BY", "STORE", "store", "a", "STORE", "b"]), ["k", "b"], "the last STORE wins")
        XCTAssertEqual(keys(["SORT", "k", "LIMIT", "store", "x", "STORE"]), ["k"], "STORE without a key")
    }

    func testOnlyPatternsWithAStarLookKeysUp() {
        func looks(_ words: [String], readonly: Bool = false) -> Bool {
            withArgs(words) { SortFamily.lookupsByPattern($0, readonly: readonly) }
        }
        XCTAssertFalse(looks(["SORT", "k"]))
        XCTAssertFalse(looks(["SORT", "k", "BY", "nosort", "GET", "#", "GET", "fixed"]))
        XCTAssertTrue(looks(["SORT", "k", "BY", "w_*"]))
        XCTAssertTrue(looks(["SORT", "k", "GET", "#", "GET", "h_*->f"]))
        XCTAssertFalse(looks(["SORT", "k", "BADOPT", "GET", "x_*"]), "a syntax error reads nothing")
        XCTAssertFalse(looks(["SORT_RO", "k", "STORE", "d", "GET", "x_*"], readonly: true), "SORT_RO has no STORE: syntax error")
    }

    func testScoresFollowStrtodOverTheWholeValue() {
        func score(_ s: String) -> Double? { SortFamily.strtodWhole(Array(s.utf8)) }
        XCTAssertEqual(score("10"), 10)
        XCTAssertEqual(score(" 5"), 5, "leading spaces are skipped")
        XCTAssertEqual(score("0x10"), 16, "hexadecimal, as C's strtod")
        XCTAssertEqual(score("1e2"), 100)
        XCTAssertEqual(score(""), 0, "an empty value is 0")
        XCTAssertEqual(score("-inf"), -Double.infinity)
        XCTAssertNil(score("5 "), "trailing bytes")
        XCTAssertNil(score("nan"))
        XCTAssertNil(score("1e999"), "overflow")
        XCTAssertEqual(SortFamily.strtodWhole([UInt8(ascii: "1"), 0, UInt8(ascii: "2")]), 1,
                       "a NUL ends the number, as in Redis, whose strings are also C strings to strtod")
    }

    func testByAndGetReadKeysOnEveryShard() throws {
        let server = try TestServer(threads: 2)
        let c = try server.client()
        var weights: [String] = []
        for i in 0..<40 { weights += ["w_\(i)", String(40 - i), "n_\(i)", "name\(i)"] }
        XCTAssertEqual(try c.callBytes((["MSET"] + weights).map { Array($0.utf8) }), .simple("OK"))
        XCTAssertEqual(try c.callBytes((["RPUSH", "l"] + (0..<40).map(String.init)).map { Array($0.utf8) }), .integer(40))
        let expected = (0..<40).reversed().map { Reply.bulk(Array("name\($0)".utf8)) }
        XCTAssertEqual(try c.call("SORT", "l", "BY", "w_*", "GET", "n_*"), .array(expected))
        XCTAssertEqual(try c.call("SORT", "l", "BY", "w_*", "GET", "n_*", "STORE", "dst"), .integer(40))
        XCTAssertEqual(try c.call("LRANGE", "dst", "0", "-1"), .array(expected))
    }
}
