import XCTest

/// INFO: Redis' section layout and field names; exact keyspace counts over every shard.
final class InfoTests: XCTestCase {
    var server: TestServer!
    override func setUpWithError() throws { server = try TestServer(threads: 2) }
    override func tearDown() { server = nil }

    func info(_ c: TestClient, _ sections: String...) throws -> String {
        let r = try c.callBytes((["INFO"] + sections).map { Array($0.utf8) })
        guard let s = r.string else { throw TestClient.Closed() }
        return s
    }

    func fields(_ text: String) -> [String: String] {
        var out: [String: String] = [:]
        for line in text.split(separator: "\r\n") where !line.hasPrefix("#") {
            let parts = line.split(separator: ":", maxSplits: 1)
            if parts.count == 2 { out[String(parts[0])] = String(parts[1]) }
        }
        return out
    }

    func testDefaultSectionsInRedisOrder() throws {
        let c = try server.client()
        let text = try info(c)
        let headers = text.split(separator: "\r\n").filter { $0.hasPrefix("# ") }.map(String.init)
        XCTAssertEqual(headers, ["# Server", "# Clients", "# Memory", "# Persistence", "# Stats", "# Replication",
                                 "# CPU", "# Modules", "# Errorstats", "# Cluster", "# Keyspace"])
        let f = fields(text)
        XCTAssertEqual(f["redis_version"], "7.0.15")
        XCTAssertEqual(f["redis_mode"], "standalone")
        XCTAssertEqual(f["tcp_port"], String(server.port))
        XCTAssertEqual(f["role"], "master")
        XCTAssertEqual(f["connected_clients"], "1")
        XCTAssertEqual(f["maxclients"], "10000")
        XCTAssertEqual(f["maxmemory_policy"], "noeviction")
        XCTAssertNotNil(f["used_memory"].flatMap(Int.init))
        XCTAssertNotNil(f["used_cpu_user"])
    }

    func testSectionLayout() throws {
        let c = try server.client()
        let text = try info(c, "clients", "cluster")
        XCTAssertTrue(text.hasPrefix("# Clients\r\nconnected_clients:1\r\ncluster_connections:0\r\n"), text)
        XCTAssertTrue(text.hasSuffix("\r\n\r\n# Cluster\r\ncluster_enabled:0\r\n"), text)
        XCTAssertEqual(try info(c, "nosuch"), "")
        XCTAssertEqual(try info(c, "keyspace"), "# Keyspace\r\n")
    }

    func testKeyspaceCountsEveryShard() throws {
        let c = try server.client()
        for i in 0..<50 { _ = try c.call("SET", "k\(i)", "v") }
        for i in 0..<7 { _ = try c.call("SET", "e\(i)", "v", "EX", "1000") }
        _ = try c.call("SELECT", "3")
        _ = try c.call("HSET", "h", "f", "v")
        XCTAssertEqual(try info(c, "keyspace"),
                       "# Keyspace\r\ndb0:keys=57,expires=7,avg_ttl=0\r\ndb3:keys=1,expires=0,avg_ttl=0\r\n")
    }

    func testStatsAndCommandstats() throws {
        let c = try server.client()
        for _ in 0..<3 { _ = try c.call("PING") }
        _ = try c.call("HSET", "h", "f", "v")
        let all = try info(c, "all")
        XCTAssertTrue(all.contains("# Commandstats\r\n"), all)
        // Times: CommandStatsTests.
        XCTAssertNotNil(all.range(of: #"cmdstat_ping:calls=3,usec=\d+,usec_per_call=\d+\.\d\d,rejected_calls=0,failed_calls=0\r\n"#,
                                  options: .regularExpression), all)
        XCTAssertTrue(all.contains("cmdstat_hset:calls=1,"), all)
        let f = fields(all)
        XCTAssertGreaterThanOrEqual(Int(f["total_commands_processed"] ?? "") ?? 0, 5)
        XCTAssertGreaterThanOrEqual(Int(f["total_connections_received"] ?? "") ?? 0, 1)
        XCTAssertGreaterThan(Int(f["total_net_input_bytes"] ?? "") ?? 0, 0)
    }

    func testVerbatimInResp3() throws {
        let c = try server.client()
        _ = try c.call("HELLO", "3")
        guard case .verbatim(let text) = try c.call("INFO", "server") else { return XCTFail("INFO is verbatim text in RESP3") }
        XCTAssertTrue(text.hasPrefix("# Server\r\nredis_version:7.0.15\r\n"))
    }
}
