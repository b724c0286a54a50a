import XCTest
@testable import LarderServer
import LarderRESP
import LarderStore

/// RESP3 reply shapes of the hash commands. HELLO is not in this branch, so the handlers run
/// directly against one shard with a RESP3 ReplyWriter; the bytes are compared exactly.
final class HashResp3Tests: XCTestCase {
    let state = ServerState(settings: ServerSettings(port: 0, threads: 1, pinThreads: false))
    let shard = Shard(index: 0)

    /// Runs one command and returns its raw reply.
    func run(_ words: String..., version: RESPVersion = .resp3) -> String {
        let out = ReplyWriter(capacity: 256, version: version)
        let bytes = words.map { Array($0.utf8) }
        var flat: [UInt8] = []
        var spans: [ArgumentSpan] = []
        for w in bytes { spans.append(ArgumentSpan(offset: flat.count, count: w.count)); flat += w }
        guard let spec = state.commands.lookup(words[0]) else { XCTFail("no \(words[0])"); return "" }
        flat.append(0)  // a non-empty buffer even when every argument is empty
        flat.withUnsafeBytes { raw in
            spans.withUnsafeBufferPointer { sp in
                var ctx = CommandContext(out: out, dbIndex: 0, now: Clock.nowMilliseconds(), shards: [shard],
                                         session: nil, server: state)
                spec.handler(&ctx, Arguments(base: raw.baseAddress!, spans: sp.baseAddress!, count: words.count))
            }
        }
        return String(decoding: out.bytes, as: UTF8.self)
    }

    func testHGetAllIsAMapInResp3AndAFlatArrayInResp2() {
        _ = run("HSET", "h", "a", "1", "b", "22")
        XCTAssertEqual(run("HGETALL", "h"), "%2\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\nb\r\n$2\r\n22\r\n")
        XCTAssertEqual(run("HGETALL", "h", version: .resp2), "*4\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\nb\r\n$2\r\n22\r\n")
        XCTAssertEqual(run("HGETALL", "nokey"), "%0\r\n")
    }

    func testMissingValuesAreResp3Nulls() {
        _ = run("HSET", "h", "a", "1")
        XCTAssertEqual(run("HGET", "h", "zz"), "_\r\n")
        XCTAssertEqual(run("HMGET", "h", "zz", "a"), "*2\r\n_\r\n$1\r\n1\r\n")
        XCTAssertEqual(run("HRANDFIELD", "nokey"), "_\r\n")
        XCTAssertEqual(run("HMGET", "h", "zz", version: .resp2), "*1\r\n$-1\r\n")
    }

    func testHRandFieldWithValuesIsAnArrayOfPairsInResp3() {
        _ = run("HSET", "h", "a", "1", "b", "2")
        // A count covering the hash returns it whole, in storage order.
        XCTAssertEqual(run("HRANDFIELD", "h", "5", "WITHVALUES"),
                       "*2\r\n*2\r\n$1\r\na\r\n$1\r\n1\r\n*2\r\n$1\r\nb\r\n$1\r\n2\r\n")
        XCTAssertEqual(run("HRANDFIELD", "h", "5", "WITHVALUES", version: .resp2),
                       "*4\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\nb\r\n$1\r\n2\r\n")
        XCTAssertEqual(run("HRANDFIELD", "h", "5"), "*2\r\n$1\r\na\r\n$1\r\nb\r\n")
        let repeated = run("HRANDFIELD", "h", "-3", "WITHVALUES")
        XCTAssertTrue(repeated.hasPrefix("*3\r\n*2\r\n$1\r\n"), repeated)
        XCTAssertEqual(run("HRANDFIELD", "nokey", "3", "WITHVALUES"), "*0\r\n")
    }

    func testHScanStaysAnArrayInResp3() {
        _ = run("HSET", "h", "a", "1")
        XCTAssertEqual(run("HSCAN", "h", "0"), "*2\r\n$1\r\n0\r\n*2\r\n$1\r\na\r\n$1\r\n1\r\n")
    }

    func testHIncrByFloatIsABulkStringInResp3() {
        XCTAssertEqual(run("HINCRBYFLOAT", "h", "f", "1.5"), "$3\r\n1.5\r\n")
    }
}
