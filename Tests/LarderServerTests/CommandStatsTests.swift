import XCTest

/// INFO commandstats: calls counted where a command arrives, time measured where it runs
/// (slow commands every call, `.fast` ones sampled one in 16), usec_per_call = usec / calls.
final class CommandStatsTests: XCTestCase {
    var server: TestServer!
    override func setUpWithError() throws { server = try TestServer(threads: 2) }
    override func tearDown() { server = nil }

    /// cmdstat_NAME's fields as numbers.
    func stat(_ c: TestClient, _ name: String) throws -> [String: Double] {
        let info = try c.call("INFO", "commandstats").string ?? ""
        guard let line = info.split(separator: "\r\n").first(where: { $0.hasPrefix("cmdstat_\(name):") }) else { return [:] }
        var fields: [String: Double] = [:]
        for pair in line.split(separator: ":", maxSplits: 1)[1].split(separator: ",") {
            let kv = pair.split(separator: "=")
            fields[String(kv[0])] = Double(kv[1])
        }
        return fields
    }

    func testTimeIsMeasuredAndPerCallIsItsQuotient() throws {
        let c = try server.client()
        // Keys on both shards: KEYS borrows every shard, each SET runs on its key's shard.
        for i in 0..<20_000 { _ = try c.call("SET", "key:\(i)", "v") }
        for _ in 0..<3 { _ = try c.call("KEYS", "*") }
        let keys = try stat(c, "keys"), set = try stat(c, "set")
        XCTAssertEqual(keys["calls"], 3)
        XCTAssertGreaterThan(keys["usec"] ?? 0, 0, "KEYS over 20,000 keys takes measurable time")
        // Printed with two decimals, rounded to nearest as Redis' %.2f does.
        XCTAssertEqual(keys["usec_per_call"]!, keys["usec"]! / 3, accuracy: 0.0051)
        XCTAssertEqual(set["calls"], 20_000)
        XCTAssertGreaterThan(set["usec"] ?? 0, 0, "sampled fast commands still add up")
        XCTAssertGreaterThan(keys["usec_per_call"]!, 20 * set["usec_per_call"]!,
                             "a scan of every key costs far more per call than one SET")
    }

    func testResetstatClearsTheTimes() throws {
        let c = try server.client()
        for _ in 0..<100 { _ = try c.call("SET", "k", "v") }
        _ = try c.call("CONFIG", "RESETSTAT")
        for _ in 0..<2 { _ = try c.call("SET", "k", "v") }
        let set = try stat(c, "set")
        XCTAssertEqual(set["calls"], 2)
        // 2 calls of a fast command: at most one is timed, each well under 10 ms.
        XCTAssertLessThan(set["usec"] ?? 0, 20_000)
    }
}
