import LarderServer
import LarderStore
import XCTest

/// Commands read together with a command that borrows shards (a keyspace-wide command, a
/// multi-key command across shards, EXEC of a cross-shard transaction, WATCH) run after the
/// borrow from where the read stopped: they are not parsed a second time. A regression: inline
/// arguments are unescaped in place, so parsing them again turned `"a\x41b"` into a protocol
/// error with `--threads 2`.
final class BarrierResumeTests: XCTestCase {
    static func key(onShard shard: Int, prefix: String) -> String {
        var i = 0
        while true {
            let k = "\(prefix)\(i)"
            if ServerState.shardIndex(hash: ByteHash.hash(Array(k.utf8)), count: 2) == shard { return k }
            i += 1
        }
    }

    /// Each barrier: the bytes that start the read, and the replies they produce.
    struct Barrier {
        let name: String
        let bytes: [UInt8]
        let replies: [Reply]
    }

    static let a = key(onShard: 0, prefix: "a"), b = key(onShard: 1, prefix: "b")

    static func args(_ a: String...) -> [UInt8] { TestClient.encode(a.map { Array($0.utf8) }) }

    static let multiExec: [UInt8] = {
        var bytes = Array("MULTI\r\n".utf8)
        bytes += args("MGET", a, b)
        bytes += Array("EXEC\r\n".utf8)
        return bytes
    }()

    static let barriers: [Barrier] = [
        Barrier(name: "keyspace-wide (DBSIZE, inline)", bytes: Array("DBSIZE\r\n".utf8), replies: [.integer(0)]),
        Barrier(name: "keyspace-wide (DBSIZE, multibulk)", bytes: args("DBSIZE"), replies: [.integer(0)]),
        Barrier(name: "cross-shard MSET", bytes: args("MSET", a, "1", b, "2"),
                replies: [.simple("OK")]),
        Barrier(name: "cross-shard EXEC",
                bytes: multiExec,
                replies: [.simple("OK"), .simple("QUEUED"), .array([.array([.null, .null])])]),
        Barrier(name: "WATCH", bytes: args("WATCH", a, b), replies: [.simple("OK")]),
    ]

    /// Each inline escape: how it is written on the line, and the value it stands for.
    static let escapes: [(line: String, value: [UInt8])] = [
        (#""a\x41b""#, Array("aAb".utf8)),
        (#""x\ny\rz\tw""#, Array("x\ny\rz\tw".utf8)),
        (#""\b\a""#, [0x08, 0x07]),
        (#""q\"uote""#, Array("q\"uote".utf8)),
        (#""back\\slash""#, Array("back\\slash".utf8)),
        (#"'it\'s'"#, Array("it's".utf8)),
        (#""\x00\xff""#, [0x00, 0xFF]),
    ]

    func testInlineCommandsReadWithABarrierAreRunOnceAsSent() throws {
        let server = try TestServer(threads: 2)
        // New connections alternate between the two loops: test from both.
        let clients = [try server.client(), try server.client()]
        for barrier in Self.barriers {
            for (n, escape) in Self.escapes.enumerated() {
                for c in clients {
                    XCTAssertEqual(try c.call("FLUSHALL"), .simple("OK"))
                    if barrier.name == "WATCH" { _ = try c.call("UNWATCH") }
                    let key = n % 2 == 0 ? Self.a : Self.b
                    var bytes = barrier.bytes
                    bytes += Array("SET \(key) \(escape.line)\r\n".utf8)
                    bytes += Array("GET \(key)\r\n".utf8)
                    c.sendRaw(bytes)
                    for r in barrier.replies {
                        XCTAssertEqual(try c.read(), r, "\(barrier.name), escape \(escape.line)")
                    }
                    XCTAssertEqual(try c.read(), .simple("OK"), "\(barrier.name), escape \(escape.line)")
                    XCTAssertEqual(try c.read(), .bulk(escape.value), "\(barrier.name), escape \(escape.line)")
                }
            }
        }
        for c in clients { XCTAssertEqual(try c.call("PING"), .simple("PONG")) }
    }

    /// The commands behind a barrier may be followed by a command still arriving: the parser
    /// resumes it where it stopped, and a protocol error behind the barrier comes after the
    /// replies before it.
    func testAPartialCommandAndAnErrorBehindABarrier() throws {
        let server = try TestServer(threads: 2)
        for _ in 0..<2 {
            let c = try server.client()
            let set = TestClient.encode(["SET", Self.a, "v"].map { Array($0.utf8) })
            c.sendRaw(Array("DBSIZE\r\nSET k1 \"\\x41\"\r\n".utf8) + set.prefix(7))
            XCTAssertEqual(try c.read(), .integer(0))
            XCTAssertEqual(try c.read(), .simple("OK"))
            c.sendRaw(Array(set.dropFirst(7)))
            XCTAssertEqual(try c.read(), .simple("OK"))
            XCTAssertEqual(try c.call("GET", "k1"), .bulk("A"))
            XCTAssertEqual(try c.call("GET", Self.a), .bulk("v"))
            c.sendRaw(Array("DBSIZE\r\nSET k2 \"\\x42\"\r\nSET k3 \"unbalanced\r\n".utf8))
            XCTAssertEqual(try c.read(), .integer(2))
            XCTAssertEqual(try c.read(), .simple("OK"))
            XCTAssertEqual(try c.read(), .error("ERR Protocol error: unbalanced quotes in request"))
            XCTAssertEqual(try server.client().call("GET", "k2"), .bulk("B"))
            _ = try server.client().call("FLUSHALL")
        }
    }
}
