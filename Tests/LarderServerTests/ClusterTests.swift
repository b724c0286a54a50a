import XCTest
@testable import LarderServer
import LarderRESP

/// Emulated single-node cluster: CLUSTER answers as one master owning all 16384 slots at the
/// address and port the client connected to. Expected replies were taken from a redis-server
/// 7.0 started with `--cluster-enabled yes` and `CLUSTER ADDSLOTSRANGE 0 16383` (Redis leaves
/// its own ip empty there; we name the address, as Dragonfly's emulated mode does).
final class ClusterTests: XCTestCase {
    var server: TestServer!
    var c: TestClient!

    override func setUpWithError() throws {
        server = try TestServer(threads: 2)
        c = try server.client()
    }

    override func tearDown() { c = nil; server = nil }

    var nodeId: String {
        get throws { try XCTUnwrap(c.call("CLUSTER", "MYID").string) }
    }

    func testMyIdIsA40HexCharacterIdThatStaysTheSame() throws {
        let id = try nodeId
        XCTAssertEqual(id.count, 40)
        XCTAssertTrue(id.allSatisfy { "0123456789abcdef".contains($0) })
        XCTAssertEqual(try c.call("cluster", "myid"), .bulk(id))
        XCTAssertEqual(try server.client().call("CLUSTER", "MYID"), .bulk(id))
    }

    func testSlotsNamesThisNodeForEverySlotAtTheBoundPort() throws {
        let id = try nodeId
        XCTAssertEqual(try c.call("CLUSTER", "SLOTS"), .array([
            .array([.integer(0), .integer(16383),
                    .array([.bulk("127.0.0.1"), .integer(server.port), .bulk(id), .array([])])]),
        ]))
    }

    func testSlotsInRESP3EndsTheNodeWithAnEmptyMap() throws {
        if case .error = try c.call("HELLO", "3") { throw XCTSkip("HELLO is not implemented in this build") }
        let id = try nodeId
        XCTAssertEqual(try c.call("CLUSTER", "SLOTS"), .array([
            .array([.integer(0), .integer(16383),
                    .array([.bulk("127.0.0.1"), .integer(server.port), .bulk(id), .map([])])]),
        ]))
    }

    func testShardsDescribesOneShardWithOneOnlineMaster() throws {
        let id = try nodeId
        XCTAssertEqual(try c.call("CLUSTER", "SHARDS"), .array([.array([
            .bulk("slots"), .array([.integer(0), .integer(16383)]),
            .bulk("nodes"), .array([.array([
                .bulk("id"), .bulk(id), .bulk("port"), .integer(server.port),
                .bulk("ip"), .bulk("127.0.0.1"), .bulk("endpoint"), .bulk("127.0.0.1"),
                .bulk("role"), .bulk("master"), .bulk("replication-offset"), .integer(0),
                .bulk("health"), .bulk("online"),
            ])]),
        ])]))
    }

    func testNodesIsOneLineForMyselfAsMasterOfAllSlots() throws {
        let id = try nodeId
        let p = server.port
        XCTAssertEqual(try c.call("CLUSTER", "NODES"),
                       .bulk("\(id) 127.0.0.1:\(p)@\(p) myself,master - 0 0 0 connected 0-16383\n"))
    }

    func testInfoReportsAHealthyOneNodeCluster() throws {
        let text = try XCTUnwrap(c.call("CLUSTER", "INFO").string)
        XCTAssertTrue(text.hasPrefix("cluster_state:ok\r\ncluster_slots_assigned:16384\r\ncluster_slots_ok:16384\r\n"), text)
        XCTAssertTrue(text.contains("\r\ncluster_known_nodes:1\r\ncluster_size:1\r\n"), text)
        XCTAssertTrue(text.hasSuffix("\r\n"))
    }

    func testKeySlotIsCRC16OfTheKeyOrItsHashTag() throws {
        // Values from redis-server 7.0's CLUSTER KEYSLOT.
        let expected: [(String, Int)] = [
            ("foo", 12182), ("{user1}:a", 8106), ("foo{}{bar}", 8363), ("foo{{bar}}zap", 4015),
            ("foo{bar}{zap}", 5061), ("", 0), ("a{", 14311), ("}{", 12793),
        ]
        for (key, slot) in expected {
            XCTAssertEqual(try c.call("CLUSTER", "KEYSLOT", key), .integer(slot), key)
        }
        XCTAssertEqual(try c.callBytes([Array("CLUSTER".utf8), Array("KEYSLOT".utf8), [1, 0, 0, 0, 0x7b, 0xff, 0x7d]]),
                       .integer(7920))
    }

    func testCountAndGetKeysInSlotSeeKeysOnEveryShard() throws {
        // foo, {foo}x and {foo}y share slot 12182 (the shards hash keys otherwise); bar does not.
        for k in ["foo", "{foo}x", "bar", "{foo}y"] { XCTAssertEqual(try c.call("SET", k, "1"), .simple("OK")) }
        XCTAssertEqual(try c.call("CLUSTER", "COUNTKEYSINSLOT", "12182"), .integer(3))
        XCTAssertEqual(try c.call("CLUSTER", "COUNTKEYSINSLOT", "0"), .integer(0))
        guard case .array(let keys) = try c.call("CLUSTER", "GETKEYSINSLOT", "12182", "10") else {
            return XCTFail("GETKEYSINSLOT did not answer an array")
        }
        XCTAssertEqual(Set(keys.compactMap { $0.string }), ["foo", "{foo}x", "{foo}y"])
        guard case .array(let two) = try c.call("CLUSTER", "GETKEYSINSLOT", "12182", "2") else {
            return XCTFail("GETKEYSINSLOT did not answer an array")
        }
        XCTAssertEqual(two.count, 2)
        XCTAssertEqual(try c.call("CLUSTER", "GETKEYSINSLOT", "12182", "0"), .array([]))
    }

    func testErrorsAreWordForWordAsRedis() throws {
        XCTAssertEqual(try c.call("CLUSTER"), .error("ERR wrong number of arguments for 'cluster' command"))
        XCTAssertEqual(try c.call("CLUSTER", "FOO"), .error("ERR unknown subcommand 'FOO'. Try CLUSTER HELP."))
        XCTAssertEqual(try c.call("CLUSTER", "KEYSLOT"),
                       .error("ERR wrong number of arguments for 'cluster|keyslot' command"))
        XCTAssertEqual(try c.call("CLUSTER", "KEYSLOT", "a", "b"),
                       .error("ERR wrong number of arguments for 'cluster|keyslot' command"))
        XCTAssertEqual(try c.call("CLUSTER", "COUNTKEYSINSLOT", "x"), .error("ERR value is not an integer or out of range"))
        XCTAssertEqual(try c.call("CLUSTER", "COUNTKEYSINSLOT", "16384"), .error("ERR Invalid slot"))
        XCTAssertEqual(try c.call("CLUSTER", "COUNTKEYSINSLOT", "-1"), .error("ERR Invalid slot"))
        XCTAssertEqual(try c.call("CLUSTER", "GETKEYSINSLOT", "1", "-1"), .error("ERR Invalid slot or number of keys"))
        XCTAssertEqual(try c.call("CLUSTER", "GETKEYSINSLOT", "1", "x"), .error("ERR value is not an integer or out of range"))
        XCTAssertEqual(try c.call("ASKING", "x"), .error("ERR wrong number of arguments for 'asking' command"))
        XCTAssertEqual(try c.call("READONLY", "x"), .error("ERR wrong number of arguments for 'readonly' command"))
    }

    func testReadOnlyReadWriteAndAskingAreAccepted() throws {
        XCTAssertEqual(try c.call("READONLY"), .simple("OK"))
        XCTAssertEqual(try c.call("READWRITE"), .simple("OK"))
        XCTAssertEqual(try c.call("ASKING"), .simple("OK"))
    }

    func testCommandInfoDescribesTheSubcommands() throws {
        guard case .array(let entries) = try c.call("COMMAND", "INFO", "cluster|keyslot"),
              case .array(let info)? = entries.first else { return XCTFail("COMMAND INFO gave no entry") }
        XCTAssertEqual(Array(info.prefix(3)), [.bulk("cluster|keyslot"), .integer(3), .array([.simple("stale")])])
        guard case .array(let cluster) = try c.call("COMMAND", "INFO", "cluster"),
              case .array(let entry)? = cluster.first, case .array(let subs)? = entry.last else {
            return XCTFail("COMMAND INFO cluster gave no subcommands")
        }
        XCTAssertEqual(subs.count, ClusterFamily.subcommands.count)
    }

    func testHelpListsTheSubcommandsAsStatusLines() throws {
        guard case .array(let lines) = try c.call("CLUSTER", "HELP") else { return XCTFail("HELP is not an array") }
        XCTAssertEqual(lines.first, .simple("CLUSTER <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"))
        XCTAssertEqual(lines.last, .simple("    Prints this help."))
        XCTAssertTrue(lines.contains(.simple("KEYSLOT <key>")))
    }

    func testHashSlotFunctionMatchesRedisReferenceVector() {
        // The CRC16 check value of Redis' cluster spec: crc16("123456789") = 0x31C3.
        XCTAssertEqual(Array("123456789".utf8).withUnsafeBytes { ClusterHashSlot.crc16($0) }, 0x31C3)
        XCTAssertEqual(ClusterHashSlot.slot(of: Array("foo".utf8)), 12182)
    }
}
