import XCTest
@testable import LarderStore

/// Glob is a port of Redis' stringmatchlen (util.c): these are the answers redis-server 7.0
/// gave to KEYS for the same keys and patterns, plus Redis' own regression cases.
final class GlobTests: XCTestCase {
    func m(_ pattern: String, _ string: String) -> Bool { Glob.match(Array(pattern.utf8), Array(string.utf8)) }

    func testWildcards() {
        XCTAssertTrue(m("*", "anything"))
        XCTAssertTrue(m("h?llo", "hello"))
        XCTAssertFalse(m("h?llo", "hllo"), "? is exactly one byte")
        XCTAssertTrue(m("h*llo", "hllo"), "* may be empty")
        XCTAssertTrue(m("h*llo", "heeeello"))
        XCTAssertTrue(m("*_?", "foo_a"))
        XCTAssertFalse(m("**", ""), "only the exact pattern \"*\" matches the empty key in KEYS")
        XCTAssertTrue(m("", ""))
        XCTAssertFalse(m("", "a"))
    }

    func testBracketClasses() {
        XCTAssertTrue(m("h[ae]llo", "hallo"))
        XCTAssertFalse(m("h[ae]llo", "hillo"))
        XCTAssertTrue(m("h[^e]llo", "hallo"))
        XCTAssertFalse(m("h[^e]llo", "hello"))
        XCTAssertTrue(m("h[a-b]llo", "hbllo"))
        XCTAssertTrue(m("[z-a]", "m"), "a reversed range is swapped")
        XCTAssertTrue(m("[a-]", "^"), "'a-]' is the range a..] reversed")
        XCTAssertFalse(m("[!a]", "b"), "! is not negation, only ^ is")
        XCTAssertTrue(m("[\\]]", "]"), "an escaped ] inside a class")
        XCTAssertTrue(m("[^", "x"), "an unterminated negated class matches one byte")
        XCTAssertFalse(m("[", "["), "an unterminated empty class matches nothing")
    }

    func testEscapes() {
        XCTAssertTrue(m("a\\*b", "a*b"))
        XCTAssertFalse(m("a\\*b", "axb"))
        XCTAssertTrue(m("a\\?b", "a?b"))
        XCTAssertTrue(m("\\", "\\"), "a trailing backslash is literal")
        XCTAssertTrue(m("*\\", "x\\"))
    }

    func testBinaryPatternsWithNulAndHighBytes() {
        XCTAssertTrue(Glob.match([0x61, 0, 0x3F], [0x61, 0, 0x62]), "NUL is an ordinary byte")
        XCTAssertTrue(Glob.match([0x2A, 0, 0x2A], [0xFF, 0]))
        XCTAssertFalse(Glob.match([0x61, 0, 0x3F], [0x61, 0x62]))
        // Redis compares range bounds as signed chars: \xff is -1, so [a-\xff] is [\xff-a].
        XCTAssertTrue(Glob.match([0x5B, 0x61, 0x2D, 0xFF, 0x5D], [0x30]))
        XCTAssertFalse(Glob.match([0x5B, 0x61, 0x2D, 0xFF, 0x5D], [0x80]))
        XCTAssertTrue(Glob.match([0x5B, 0x80, 0x2D, 0xFF, 0x5D], [0x90]))
    }

    func testNocase() {
        Array("h[A-C]llo".utf8).withUnsafeBytes { p in
            Array("HbLLO".utf8).withUnsafeBytes { s in
                XCTAssertTrue(Glob.match(p, s, nocase: true))
                XCTAssertFalse(Glob.match(p, s, nocase: false))
            }
        }
    }

    /// Redis' "Regression for pattern matching long nested loops" and "very long nested loops":
    /// both must answer (no match) quickly instead of backtracking exponentially.
    func testPathologicalPatternsStayFast() {
        let long = String(repeating: "a", count: 73)
        XCTAssertFalse(m(String(repeating: "a*", count: 44) + "b", long))
        XCTAssertFalse(m(String(repeating: "*?", count: 50000), String(repeating: "a", count: 50000)),
                       "nesting deeper than 1000 gives up, as in Redis")
    }

    func testAgreesWithRedisKeysOnTheSameKeys() {
        for (pattern, expected) in Self.redisKeysResults {
            let got = Self.keys.filter { Glob.match(pattern, $0) }.sorted { $0.lexicographicallyPrecedes($1) }
            XCTAssertEqual(got, expected, "pattern \(pattern)")
        }
    }

    // Generated with redis-server 7.0.15: SET each key, then KEYS pattern (sorted).
    static let keys: [[UInt8]] = [[128], [98], [48], [97], [255], [65], [122], [97, 0, 98], [97, 0, 99], [91], [93], [45], [92], [94], [97, 98], [], [104, 101, 108, 108, 111], [104, 97, 108, 108, 111], [104, 120, 108, 108, 111], [104, 108, 108, 111], [104, 101, 101, 101, 101, 108, 108, 111], [97, 42, 98], [97, 63, 98]]
    static let redisKeysResults: [(pattern: [UInt8], matches: [[UInt8]])] = [
        ([91, 97, 45, 255, 93], [[45], [48], [65], [91], [92], [93], [94], [97], [255]]),  // [a-\xff]
        ([91, 128, 45, 255, 93], [[128], [255]]),  // [\x80-\xff]
        ([91, 0, 45, 97, 93], [[45], [48], [65], [91], [92], [93], [94], [97]]),  // [\x00-a]
        ([97, 0, 63], [[97, 0, 98], [97, 0, 99]]),  // a\x00?
        ([97, 63, 98], [[97, 0, 98], [97, 42, 98], [97, 63, 98]]),  // a?b
        ([91, 94, 97, 93], [[45], [48], [65], [91], [92], [93], [94], [98], [122], [128], [255]]),  // [^a]
        ([91, 93], []),  // []
        ([91], []),  // [
        ([91, 94], [[45], [48], [65], [91], [92], [93], [94], [97], [98], [122], [128], [255]]),  // [^
        ([92], [[92]]),  // \\
        ([91, 92, 93], [[93]]),  // [\\]
        ([91, 92], [[92]]),  // [\\
        ([91, 97, 45, 93], [[93], [94], [97]]),  // [a-]
        ([91, 45, 97, 93], [[45], [97]]),  // [-a]
        ([91, 122, 45, 97, 93], [[97], [98], [122]]),  // [z-a]
        ([42, 0, 42], [[97, 0, 98], [97, 0, 99]]),  // *\x00*
        ([63], [[45], [48], [65], [91], [92], [93], [94], [97], [98], [122], [128], [255]]),  // ?
        ([92, 42], []),  // \\*
        ([42, 92], [[92]]),  // *\\
        ([91, 33, 97, 93], [[97]]),  // [!a]
        ([91, 94, 93], [[45], [48], [65], [91], [92], [93], [94], [97], [98], [122], [128], [255]]),  // [^]
        ([91, 93, 93], []),  // []]
        ([91, 91, 93], [[91]]),  // [[]
        ([97, 42], [[97], [97, 0, 98], [97, 0, 99], [97, 42, 98], [97, 63, 98], [97, 98]]),  // a*
        ([42, 42], [[45], [48], [65], [91], [92], [93], [94], [97], [97, 0, 98], [97, 0, 99], [97, 42, 98], [97, 63, 98], [97, 98], [98], [104, 97, 108, 108, 111], [104, 101, 101, 101, 101, 108, 108, 111], [104, 101, 108, 108, 111], [104, 108, 108, 111], [104, 120, 108, 108, 111], [122], [128], [255]]),  // **
        ([], [[]]),  // 
        ([97, 92], []),  // a\\
        ([91, 97, 45, 98, 45, 99, 93], [[45], [97], [98]]),  // [a-b-c]
        ([104, 63, 108, 108, 111], [[104, 97, 108, 108, 111], [104, 101, 108, 108, 111], [104, 120, 108, 108, 111]]),  // h?llo
        ([104, 42, 108, 108, 111], [[104, 97, 108, 108, 111], [104, 101, 101, 101, 101, 108, 108, 111], [104, 101, 108, 108, 111], [104, 108, 108, 111], [104, 120, 108, 108, 111]]),  // h*llo
        ([104, 91, 97, 101, 93, 108, 108, 111], [[104, 97, 108, 108, 111], [104, 101, 108, 108, 111]]),  // h[ae]llo
        ([104, 91, 94, 101, 93, 108, 108, 111], [[104, 97, 108, 108, 111], [104, 120, 108, 108, 111]]),  // h[^e]llo
        ([104, 91, 97, 45, 98, 93, 108, 108, 111], [[104, 97, 108, 108, 111]]),  // h[a-b]llo
        ([97, 92, 42, 98], [[97, 42, 98]]),  // a\\*b
        ([97, 92, 63, 98], [[97, 63, 98]]),  // a\\?b
        ([91, 65, 45, 90, 93], [[65]]),  // [A-Z]
    ]
}
