import XCTest

/// The server answers over a socket, across shards, in request order.
final class SmokeTests: XCTestCase {
    func testPipelineAcrossShardsKeepsReplyOrder() throws {
        let server = try TestServer(threads: 2)
        let c = try server.client()
        var pipeline: [UInt8] = []
        for i in 0..<500 { pipeline += TestClient.encode([Array("SET".utf8), Array("k\(i)".utf8), Array("v\(i)".utf8)]) }
        for i in 0..<500 { pipeline += TestClient.encode([Array("GET".utf8), Array("k\(i)".utf8)]) }
        c.sendRaw(pipeline)
        for _ in 0..<500 { XCTAssertEqual(try c.read(), .simple("OK")) }
        for i in 0..<500 { XCTAssertEqual(try c.read(), .bulk("v\(i)")) }
        XCTAssertEqual(try c.call("DBSIZE"), .integer(500))
    }
}
