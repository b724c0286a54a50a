import LarderRESP
import XCTest

/// The client side of the protocol: what a materialization run or a test reads back.
final class RESPReplyReaderTests: XCTestCase {
    func parseAll(_ text: [UInt8]) throws -> [RESPReply] {
        var out: [RESPReply] = []
        var at = 0
        while let r = try RESPReplyReader.parse(text, at: &at) { out.append(r) }
        XCTAssertEqual(at, text.count, "bytes left over")
        return out
    }

    /// What the server's own reply writer writes, in both protocol versions, reads back as
    /// the reply it meant.
    func testReadsEveryReplyTheWriterWrites() throws {
        let w2 = ReplyWriter(version: .resp2), w3 = ReplyWriter(version: .resp3)
        for w in [w2, w3] {
            w.simple("OK"); w.error("ERR bad"); w.integer(-42); w.bulk("a\r\nb"); w.bulk([UInt8]()); w.null()
            w.arrayHeader(2); w.integer(1); w.bulk("x")
            w.mapHeader(1); w.bulk("k"); w.integer(7)
            w.setHeader(1); w.bulk("m")
            w.double(1.5); w.boolean(true); w.verbatim("text")
        }
        XCTAssertEqual(try parseAll(Array(w2.bytes)), [
            .simple("OK"), .error("ERR bad"), .integer(-42), .bulk(Array("a\r\nb".utf8)), .bulk([]), .null,
            .array([.integer(1), .bulk(Array("x".utf8))]),
            .array([.bulk(Array("k".utf8)), .integer(7)]),
            .array([.bulk(Array("m".utf8))]),
            .bulk(Array("1.5".utf8)), .integer(1), .bulk(Array("text".utf8)),
        ])
        XCTAssertEqual(try parseAll(Array(w3.bytes)), [
            .simple("OK"), .error("ERR bad"), .integer(-42), .bulk(Array("a\r\nb".utf8)), .bulk([]), .null,
            .array([.integer(1), .bulk(Array("x".utf8))]),
            .map([RESPMapEntry(.bulk(Array("k".utf8)), .integer(7))]),
            .set([.bulk(Array("m".utf8))]),
            .double("1.5"), .boolean(true), .verbatim(format: "txt", text: Array("text".utf8)),
        ])
    }

    func testRESP2NullsAndRESP3Scalars() throws {
        XCTAssertEqual(try parseAll(Array("$-1\r\n*-1\r\n_\r\n(12345678901234567890\r\n!3\r\nERR\r\n>1\r\n+x\r\n".utf8)),
                       [.null, .null, .null, .bigNumber("12345678901234567890"), .bulkError("ERR"), .push([.simple("x")])])
    }

    /// A reply cut anywhere reads as "not yet" (nil, nothing consumed), then whole once the
    /// rest arrives.
    func testAReplyCutAtAnyByteIsIncomplete() throws {
        let whole = Array("*3\r\n$5\r\nhello\r\n%1\r\n+k\r\n:1\r\n*1\r\n$0\r\n\r\n".utf8)
        for cut in 0..<whole.count {
            var at = 0
            XCTAssertNil(try RESPReplyReader.parse(Array(whole[0..<cut]), at: &at), "cut at \(cut)")
            XCTAssertEqual(at, 0)
        }
        var at = 0
        XCTAssertNotNil(try RESPReplyReader.parse(whole, at: &at))
        XCTAssertEqual(at, whole.count)
    }

    func testMalformedRepliesNameWhatAndWhere() {
        func error(_ text: String) -> RESPReplyError? {
            var at = 0
            do { _ = try RESPReplyReader.parse(Array(text.utf8), at: &at); return nil } catch { return error as? RESPReplyError }
        }
        XCTAssertEqual(error("?x\r\n"),
                       RESPReplyError(message: "unexpected byte 63 where a reply starts", offset: 0))
        XCTAssertEqual(error("*1\r\n$x\r\n"), RESPReplyError(message: "bad length 'x'", offset: 4))
        XCTAssertEqual(error(":12a\r\n"), RESPReplyError(message: "bad integer '12a'", offset: 0))
        XCTAssertEqual(error("#x\r\n"), RESPReplyError(message: "bad boolean 'x'", offset: 0))
        let deep = String(repeating: "*1\r\n", count: RESPReplyReader.maxDepth + 2) + ":1\r\n"
        XCTAssertEqual(error(deep)?.message, "replies nested too deeply")
    }
}
