import XCTest
@testable import LarderServer

/// The topology model alone: parsing, validation errors (each naming what and where), the even
/// split, and the compiled slot table.
final class ClusterTopologyTests: XCTestCase {
    typealias R = ClusterTopology.SlotRange

    func three() -> ClusterTopology {
        ClusterTopology.evenlySplit((0..<3).map { .init(id: "node\($0)", ip: "127.0.0.1", port: 7000 + $0) })
    }

    func testEvenSplitMatchesRedisCliClusterCreate() throws {
        let t = three()
        // redis-cli --cluster create with 3 masters: 0-5460, 5461-10922, 10923-16383.
        XCTAssertEqual(t.shards.map { $0.slotRanges }, [[R(0, 5460)], [R(5461, 10922)], [R(10923, 16383)]])
        XCTAssertNoThrow(try t.validate(myId: "node1"))
    }

    func testJSONRoundTrip() throws {
        var t = three()
        t.shards[0].replicas = [.init(id: "rep0", ip: "::1", port: 7100)]
        XCTAssertEqual(try ClusterTopology.parse(json: Array(t.json.utf8)), t)
    }

    func assertRefused(_ t: ClusterTopology, myId: String? = nil, _ words: String, line: UInt = #line) {
        XCTAssertThrowsError(try t.validate(myId: myId), line: line) { e in
            XCTAssertTrue("\(e)".contains(words), "\(e)", line: line)
        }
    }

    func testRefusals() throws {
        var t = three()
        t.shards[1].slotRanges = [R(5000, 10922)]
        assertRefused(t, "shard 1: slot 5000 (range 5000-10922) overlaps shard 0")
        t = three()
        t.shards[2].slotRanges = [R(10923, 16000)]
        assertRefused(t, "slots not served by any shard: 16001-16383")
        t = three()
        assertRefused(t, myId: "stranger", "this node (id stranger) is not in the topology")
        t.shards[1].primary.id = "node0"
        assertRefused(t, "shard 1 master: node id 'node0' is also shard 0 master")
        t = three()
        t.shards[1].primary.port = 0
        assertRefused(t, "shard 1 master node1: port 0 is not within 1-65535")
        t = three()
        t.shards[1].primary.ip = "999.1.1.1"
        assertRefused(t, "address '999.1.1.1' is not an IPv4/IPv6 address or host name")
        t = three()
        t.shards[1].primary.id = "has space"
        assertRefused(t, "node id 'has space' must be")
        t = three()
        t.shards[0].slotRanges = [R(10, 2)]
        assertRefused(t, "shard 0: slot range 10-2 is not within 0-16383")
        XCTAssertThrowsError(try ClusterTopology.parse(json: Array("[{\"slot_ranges\": [], \"master\": {\"id\": \"a\", \"ip\": \"h\", \"port\": \"1\"}}]".utf8))) { e in
            XCTAssertEqual("\(e)", "shard 0 master port: expected a whole number")
        }
        XCTAssertThrowsError(try ClusterTopology.parse(json: Array("[{\"slot_ranges\": []}]".utf8))) { e in
            XCTAssertEqual("\(e)", "shard 0: missing \"master\"")
        }
        XCTAssertThrowsError(try ClusterTopology.parse(json: Array("{\"a\": 1}".utf8))) { e in
            XCTAssertEqual("\(e)", "topology must be a JSON array of shards")
        }
        XCTAssertTrue(ClusterTopology.isValidHost("larder-0.larder-headless"))
    }

    func testRoutingTable() throws {
        let r = ClusterRouting(three(), myId: "node1")
        XCTAssertNil(r.refusal(slot: 6000, writes: true, readOnlyClient: false))
        XCTAssertEqual(r.refusal(slot: 0, writes: false, readOnlyClient: false), "MOVED 0 127.0.0.1:7000")
        XCTAssertEqual(r.refusal(slot: 16383, writes: false, readOnlyClient: false), "MOVED 16383 127.0.0.1:7002")
        var t = three()
        t.shards[0].replicas = [.init(id: "rep0", ip: "127.0.0.1", port: 7100)]
        let replica = ClusterRouting(t, myId: "rep0")
        XCTAssertNil(replica.refusal(slot: 1, writes: false, readOnlyClient: true))
        XCTAssertEqual(replica.refusal(slot: 1, writes: true, readOnlyClient: true), "MOVED 1 127.0.0.1:7000")
        XCTAssertEqual(replica.refusal(slot: 1, writes: false, readOnlyClient: false), "MOVED 1 127.0.0.1:7000")
        XCTAssertTrue(ClusterRouting(unconfigured: "x").refusal(slot: 1, writes: false, readOnlyClient: false)!
            .hasPrefix("CLUSTERDOWN Cluster is not yet configured"))
    }

    func testNodeIdsAreStable40HexDigits() {
        let id = ClusterTopology.nodeId(for: "larder-0")
        XCTAssertEqual(id.count, 40)
        XCTAssertTrue(id.allSatisfy { "0123456789abcdef".contains($0) })
        XCTAssertEqual(id, ClusterTopology.nodeId(for: "larder-0"))
        XCTAssertNotEqual(id, ClusterTopology.nodeId(for: "larder-1"))
    }
}
