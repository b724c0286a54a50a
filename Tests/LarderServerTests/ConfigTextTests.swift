import XCTest
@testable import LarderServer

/// CONFIG REWRITE writes values with `ConfigText.quoted` and `larder serve CONFIGFILE` reads them
/// with `ConfigText.splitArguments`: every value must read back as itself.
final class ConfigTextTests: XCTestCase {
    func testQuotedValuesReadBackAsThemselves() {
        let values = ["plain", "", "two words", "a \"quote\"", "it's", "back\\slash", "#hash", "tab\there",
                      "line\nbreak", "bell\u{07}", "ünïcode", "ends with space ", "x"]
        for v in values {
            let line = "name \(ConfigText.quoted(v))"
            XCTAssertEqual(ConfigText.splitArguments(line), ["name", v], line)
        }
    }

    func testPlainValuesAreNotQuoted() {
        XCTAssertEqual(ConfigText.quoted("yes"), "yes")
        XCTAssertEqual(ConfigText.quoted("/var/lib/larder"), "/var/lib/larder")
        XCTAssertEqual(ConfigText.quoted(""), "\"\"")
        XCTAssertEqual(ConfigText.quoted("a b"), "\"a b\"")
    }

    func testSplitFollowsRedisSdssplitargs() {
        XCTAssertEqual(ConfigText.splitArguments("save 3600 1   300 100"), ["save", "3600", "1", "300", "100"])
        XCTAssertEqual(ConfigText.splitArguments("requirepass \"a\\x41b\""), ["requirepass", "aAb"])
        XCTAssertEqual(ConfigText.splitArguments("x 'it\\'s'"), ["x", "it's"])
        XCTAssertNil(ConfigText.splitArguments("x \"unbalanced"))
        XCTAssertNil(ConfigText.splitArguments("x \"closed\"glued"))
    }
}
