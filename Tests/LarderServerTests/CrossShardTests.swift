import XCTest
import LarderServer
import LarderStore

/// Key names chosen by the shard that owns them (two shards, as TestServer(threads: 2)).
enum ShardKeys {
    static func shard(of key: String, shards: Int = 2) -> Int {
        ServerState.shardIndex(hash: ByteHash.hash(Array(key.utf8)), count: shards)
    }

    /// The first `n` names "prefix0", "prefix1"... owned by `shard`.
    static func names(_ prefix: String, onShard shard: Int, count n: Int) -> [String] {
        var found: [String] = []
        var i = 0
        while found.count < n {
            if self.shard(of: "\(prefix)\(i)") == shard { found.append("\(prefix)\(i)") }
            i += 1
        }
        return found
    }

    /// Two key names on different shards (or on the same one).
    static func pair(sameShard: Bool) -> (String, String) {
        let a = names("left", onShard: 0, count: 1)[0]
        let b = names("right", onShard: sameShard ? 0 : 1, count: 1)[0]
        return (a, b)
    }
}

/// Multi-key commands and transactions whose keys live on both shards run atomically.
final class CrossShardTests: XCTestCase {
    var server: TestServer!
    var c: TestClient!

    override func setUpWithError() throws {
        server = try TestServer(threads: 2)
        c = try server.client()
    }

    override func tearDown() { c = nil; server = nil }

    func testMultiKeyCommandsOverBothShards() throws {
        let left = ShardKeys.names("l", onShard: 0, count: 5), right = ShardKeys.names("r", onShard: 1, count: 5)
        let keys = zip(left, right).flatMap { [$0, $1] }
        XCTAssertEqual(Set(keys.map { ShardKeys.shard(of: $0) }), [0, 1])
        var mset = ["MSET"]
        for k in keys { mset += [k, "v-\(k)"] }
        XCTAssertEqual(try c.callBytes(mset.map { Array($0.utf8) }), .simple("OK"))
        XCTAssertEqual(try c.callBytes((["MGET"] + keys + ["missing"]).map { Array($0.utf8) }),
                       .array(keys.map { .bulk("v-\($0)") } + [.null]))
        XCTAssertEqual(try c.callBytes((["EXISTS"] + keys + [keys[0]]).map { Array($0.utf8) }), .integer(11))
        XCTAssertEqual(try c.call("MSETNX", left[0], "x", "fresh", "y"), .integer(0))
        XCTAssertEqual(try c.call("EXISTS", "fresh"), .integer(0))
        XCTAssertEqual(try c.callBytes((["DEL"] + Array(keys.prefix(4)) + ["missing"]).map { Array($0.utf8) }), .integer(4))
        XCTAssertEqual(try c.callBytes((["UNLINK"] + keys).map { Array($0.utf8) }), .integer(6))
        XCTAssertEqual(try c.call("DBSIZE"), .integer(0))
    }

    func testExecRunsQueuedCommandsOnBothShards() throws {
        let (a, b) = ShardKeys.pair(sameShard: false)
        XCTAssertEqual(try c.call("MULTI"), .simple("OK"))
        XCTAssertEqual(try c.call("SET", a, "1"), .simple("QUEUED"))
        XCTAssertEqual(try c.call("INCR", b), .simple("QUEUED"))
        XCTAssertEqual(try c.call("MGET", a, b), .simple("QUEUED"))
        XCTAssertEqual(try c.call("INCR", a), .simple("QUEUED"))
        XCTAssertEqual(try c.call("HSET", a, "f", "v"), .simple("QUEUED"))
        XCTAssertEqual(try c.call("EXEC"), .array([
            .simple("OK"), .integer(1), .array([.bulk("1"), .bulk("1")]), .integer(2),
            .error("WRONGTYPE Operation against a key holding the wrong kind of value"),
        ]), "a failing command does not stop the others")
        XCTAssertEqual(try c.call("EXEC"), .error("ERR EXEC without MULTI"))
    }

    func testWatchedKeyChangedByAnotherClientAbortsExec() throws {
        let (a, b) = ShardKeys.pair(sameShard: false)
        let other = try server.client()
        XCTAssertEqual(try c.call("SET", a, "0"), .simple("OK"))
        XCTAssertEqual(try c.call("WATCH", a, b), .simple("OK"))
        XCTAssertEqual(try other.call("SET", b, "changed"), .simple("OK"))
        XCTAssertEqual(try c.call("MULTI"), .simple("OK"))
        XCTAssertEqual(try c.call("SET", a, "1"), .simple("QUEUED"))
        XCTAssertEqual(try c.call("EXEC"), .null)
        XCTAssertEqual(try c.call("GET", a), .bulk("0"), "the aborted transaction wrote nothing")

        // Unchanged watches let it through, and EXEC forgets them.
        XCTAssertEqual(try c.call("WATCH", a, b), .simple("OK"))
        XCTAssertEqual(try c.call("MULTI"), .simple("OK"))
        XCTAssertEqual(try c.call("SET", a, "1"), .simple("QUEUED"))
        XCTAssertEqual(try c.call("EXEC"), .array([.simple("OK")]))
        XCTAssertEqual(try other.call("SET", b, "again"), .simple("OK"))
        XCTAssertEqual(try c.call("MULTI"), .simple("OK"))
        XCTAssertEqual(try c.call("SET", a, "2"), .simple("QUEUED"))
        XCTAssertEqual(try c.call("EXEC"), .array([.simple("OK")]))
    }

    func testWatchedKeyExpiringOrDeletedAbortsExec() throws {
        let (a, _) = ShardKeys.pair(sameShard: false)
        let other = try server.client()
        XCTAssertEqual(try c.call("SET", a, "0"), .simple("OK"))
        XCTAssertEqual(try c.call("WATCH", a), .simple("OK"))
        XCTAssertEqual(try other.call("DEL", a), .integer(1))
        XCTAssertEqual(try c.call("MULTI"), .simple("OK"))
        XCTAssertEqual(try c.call("GET", a), .simple("QUEUED"))
        XCTAssertEqual(try c.call("EXEC"), .null)
    }

    func testQueuingErrorsAbortWithExecabortAndDiscardDropsTheQueue() throws {
        let (a, b) = ShardKeys.pair(sameShard: false)
        XCTAssertEqual(try c.call("MULTI"), .simple("OK"))
        XCTAssertEqual(try c.call("SET", a, "1"), .simple("QUEUED"))
        XCTAssertEqual(try c.call("SET", b), .error("ERR wrong number of arguments for 'set' command"))
        XCTAssertEqual(try c.call("EXEC"), .error("EXECABORT Transaction discarded because of previous errors."))
        XCTAssertEqual(try c.call("EXISTS", a), .integer(0))

        XCTAssertEqual(try c.call("MULTI"), .simple("OK"))
        XCTAssertEqual(try c.call("SET", a, "1"), .simple("QUEUED"))
        XCTAssertEqual(try c.call("NOSUCHCOMMAND", "x"),
                       .error("ERR unknown command 'NOSUCHCOMMAND', with args beginning with: 'x' "))
        XCTAssertEqual(try c.call("EXEC"), .error("EXECABORT Transaction discarded because of previous errors."))
        XCTAssertEqual(try c.call("EXISTS", a), .integer(0))

        XCTAssertEqual(try c.call("MULTI"), .simple("OK"))
        XCTAssertEqual(try c.call("MSET", a, "1", b, "2"), .simple("QUEUED"))
        XCTAssertEqual(try c.call("DISCARD"), .simple("OK"))
        XCTAssertEqual(try c.call("EXISTS", a, b), .integer(0))
        XCTAssertEqual(try c.call("DISCARD"), .error("ERR DISCARD without MULTI"))
    }

    /// Two writers set {a, b} to equal values with MSET while a reader reads both with MGET:
    /// with a and b on different shards, the reader must never see a mix of two writes.
    func testConcurrentMsetAndMgetNeverSeeAMix() throws {
        let (a, b) = ShardKeys.pair(sameShard: false)
        XCTAssertEqual(try c.call("MSET", a, "init", b, "init"), .simple("OK"))
        let iterations = 2000
        let group = DispatchGroup()
        let failures = FailureLog()
        for writer in 0..<2 {
            let client = try server.client()
            DispatchQueue.global().async(group: group) {
                for i in 0..<iterations {
                    let v = "w\(writer)-\(i)"
                    guard (try? client.call("MSET", a, v, b, v)) == .simple("OK") else { failures.add("MSET failed"); return }
                }
            }
        }
        let reader = try server.client()
        var reads = 0
        var distinct = Set<String>()
        while group.wait(timeout: .now()) == .timedOut || reads < iterations {
            guard case .array(let pair) = try reader.call("MGET", a, b), pair.count == 2 else {
                failures.add("bad MGET reply"); break
            }
            if pair[0] != pair[1] { failures.add("mixed read: \(pair[0]) vs \(pair[1])") }
            if let s = pair[0].string { distinct.insert(s) }
            reads += 1
            if reads > 100 * iterations { break }
        }
        group.wait()
        XCTAssertEqual(failures.all, [])
        XCTAssertGreaterThan(distinct.count, 2, "the reader saw the values change while it read")
        let final = try c.call("MGET", a, b)
        guard case .array(let last) = final else { return XCTFail("MGET") }
        XCTAssertEqual(last[0], last[1])
    }
}

/// Thread-safe list of failures found on background threads.
final class FailureLog: @unchecked Sendable {
    private let lock = NSLock()
    private var items: [String] = []
    func add(_ s: String) { lock.lock(); items.append(s); lock.unlock() }
    var all: [String] { lock.lock(); defer { lock.unlock() }; return items }
}
