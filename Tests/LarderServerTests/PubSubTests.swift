import XCTest
import LarderServer
import LarderStore

/// Pub/sub over two loops and keyspace notifications (the conformance suite compares the same
/// with redis-server: Tests/conformance/pubsub).
final class PubSubTests: XCTestCase {
    var server: TestServer!

    override func setUpWithError() throws { server = try TestServer(threads: 2) }
    override func tearDown() { server = nil }

    func testPublishCountsSubscribersOfBothLoops() throws {
        // Connections alternate between the loops: eight subscribers cover both.
        let subs = try (0..<8).map { _ in try server.client() }
        for s in subs {
            XCTAssertEqual(try s.call("SUBSCRIBE", "ch"), .array([.bulk("subscribe"), .bulk("ch"), .integer(1)]))
        }
        subs[0].send(["PSUBSCRIBE", "c*"])
        XCTAssertEqual(try subs[0].read(), .array([.bulk("psubscribe"), .bulk("c*"), .integer(2)]))
        let p = try server.client()
        XCTAssertEqual(try p.call("PUBSUB", "NUMSUB", "ch"), .array([.bulk("ch"), .integer(8)]))
        XCTAssertEqual(try p.call("PUBLISH", "ch", "hello"), .integer(9))
        for s in subs { XCTAssertEqual(try s.read(), .array([.bulk("message"), .bulk("ch"), .bulk("hello")])) }
        XCTAssertEqual(try subs[0].read(), .array([.bulk("pmessage"), .bulk("c*"), .bulk("ch"), .bulk("hello")]))
        XCTAssertEqual(try p.call("PUBLISH", "other", "x"), .integer(0))
        XCTAssertEqual(try p.call("PUBLISH", "cx", "x"), .integer(1))  // the pattern only
        XCTAssertEqual(try subs[0].read(), .array([.bulk("pmessage"), .bulk("c*"), .bulk("cx"), .bulk("x")]))
        XCTAssertEqual(try p.call("PUBSUB", "NUMPAT"), .integer(1))
        XCTAssertEqual(try subs[1].call("GET", "k"),
                       .error("ERR Can't execute 'get': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context"))
        XCTAssertEqual(try subs[1].call("PING"), .array([.bulk("pong"), .bulk("")]))
        XCTAssertEqual(try subs[1].call("RESET"), .simple("RESET"))
        // seven channel subscribers left, plus subs[0]'s pattern
        XCTAssertEqual(try p.call("PUBLISH", "ch", "again"), .integer(8))
    }

    func testKeyspaceEventsFromBothShards() throws {
        let sub = try server.client()
        let c = try server.client()
        XCTAssertEqual(try c.call("CONFIG", "SET", "notify-keyspace-events", "KEh"), .simple("OK"))
        XCTAssertEqual(try c.call("CONFIG", "GET", "notify-keyspace-events"),
                       .array([.bulk("notify-keyspace-events"), .bulk("hKE")]))
        XCTAssertEqual(try sub.call("SUBSCRIBE", "__keyevent@0__:hset"), .array([.bulk("subscribe"), .bulk("__keyevent@0__:hset"), .integer(1)]))
        let keys = ShardKeys.names("a", onShard: 0, count: 2) + ShardKeys.names("b", onShard: 1, count: 2)
        for k in keys { XCTAssertEqual(try c.call("HSET", k, "f", "v"), .integer(1)) }
        XCTAssertEqual(try c.call("SET", "plain", "v"), .simple("OK"))  // $ is off: no event
        for k in keys { XCTAssertEqual(try sub.read(), .array([.bulk("message"), .bulk("__keyevent@0__:hset"), .bulk(k)])) }
        XCTAssertEqual(try c.call("CONFIG", "SET", "notify-keyspace-events", "KEq"),
                       .error("ERR CONFIG SET failed (possibly related to argument 'notify-keyspace-events') - Invalid event class character. Use 'Ag$lshzxeKEtmdn'."))
    }

    func testFlagsText() {
        XCTAssertEqual(KeyspaceEventFlags(text: "KEA")?.text, "AKE")
        XCTAssertEqual(KeyspaceEventFlags(text: "ntdx$gKlE")?.text, "g$lxtdnKE")
        XCTAssertEqual(KeyspaceEventFlags(text: "KEAmn")?.text, "AKEm")  // Redis 7.0.15 hides n after A
        XCTAssertEqual(KeyspaceEventFlags(text: "")?.text, "")
        XCTAssertNil(KeyspaceEventFlags(text: "Kq"))
    }
}
