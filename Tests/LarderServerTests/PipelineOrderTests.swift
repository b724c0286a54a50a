import LarderServer
import LarderStore
import XCTest

/// A pipelined command that borrows several shards is not overtaken by the commands after it,
/// whichever thread the connection lives on (a regression: a later command on the connection's
/// own shard used to run before the borrow had reached that shard).
final class PipelineOrderTests: XCTestCase {
    func key(onShard shard: Int, prefix: String) -> String {
        var i = 0
        while true {
            let k = "\(prefix)\(i)"
            if ServerState.shardIndex(hash: ByteHash.hash(Array(k.utf8)), count: 2) == shard { return k }
            i += 1
        }
    }

    func testCommandsAfterAMultiShardCommandSeeItsEffect() throws {
        let server = try TestServer(threads: 2)
        let a = key(onShard: 0, prefix: "a"), b = key(onShard: 1, prefix: "b")
        // New connections alternate between the two loops: test from both.
        for _ in 0..<4 {
            let c = try server.client()
            for round in 0..<50 {
                var p: [UInt8] = []
                p += TestClient.encode([Array("MSET".utf8), Array(a.utf8), Array("x\(round)".utf8), Array(b.utf8), Array("y\(round)".utf8)])
                p += TestClient.encode([Array("APPEND".utf8), Array(a.utf8), Array("!".utf8)])
                p += TestClient.encode([Array("APPEND".utf8), Array(b.utf8), Array("!".utf8)])
                p += TestClient.encode([Array("MGET".utf8), Array(a.utf8), Array(b.utf8)])
                c.sendRaw(p)
                XCTAssertEqual(try c.read(), .simple("OK"))
                let len = "x\(round)!".utf8.count
                XCTAssertEqual(try c.read(), .integer(len))
                XCTAssertEqual(try c.read(), .integer(len))
                XCTAssertEqual(try c.read(), .array([.bulk("x\(round)!"), .bulk("y\(round)!")]))
            }
        }
    }
}
