import Foundation
import LarderPersistence
import LarderServer
import LarderStore
import XCTest

/// The append-only file as the server writes and replays it: effective forms (absolute TTLs,
/// values of float increments), transactions, expiries logged as DEL, the embedded bulk load.
final class AppendOnlyFileTests: XCTestCase {
    func incrText(_ server: TestServer) throws -> String {
        let dir = server.dir + "/appendonlydir"
        let manifest = try String(contentsOfFile: dir + "/appendonly.aof.manifest")
        let name = manifest.split(separator: "\n").last { $0.hasSuffix("type i") }!.split(separator: " ")[1]
        return try String(decoding: Data(contentsOf: URL(fileURLWithPath: dir + "/" + name)), as: UTF8.self)
    }

    func commands(_ text: String) throws -> [[String]] {
        try AOFReader.parse(Array(text.utf8), file: "incr").commands.map { $0.map { String(decoding: $0, as: UTF8.self) } }
    }

    func testWritesAreLoggedInTheirEffectiveForm() throws {
        let server = try TestServer(threads: 2, appendOnly: .always)
        let c = try server.client()
        let before = Int64(Date().timeIntervalSince1970 * 1000)
        _ = try c.call("SET", "a", "1", "EX", "100")
        _ = try c.call("EXPIRE", "a", "50")
        _ = try c.call("EXPIRE", "missing", "50")       // changed nothing: not logged
        _ = try c.call("DEL", "missing")                // idem
        _ = try c.call("INCRBYFLOAT", "f", "1.5")
        _ = try c.call("HINCRBYFLOAT", "h", "x", "2.5")
        _ = try c.call("GETDEL", "f")
        _ = try c.call("SETEX", "s", "10", "v")
        _ = try c.call("SET", "gone", "v")
        _ = try c.call("EXPIRE", "gone", "-1")
        _ = try c.call("INCR", "notanumber", "extra")  // an error: not logged
        _ = try c.call("MULTI"); _ = try c.call("SET", "t1", "1"); _ = try c.call("SET", "t2", "2")
        XCTAssertEqual(try c.call("EXEC"), .array([.simple("OK"), .simple("OK")]))
        _ = try c.call("SELECT", "3")
        _ = try c.call("SET", "in3", "x")
        let after = Int64(Date().timeIntervalSince1970 * 1000)
        let logged = try commands(incrText(server)).filter { $0[0].uppercased() != "SELECT" }
        let names = logged.map { $0[0].uppercased() }
        XCTAssertEqual(names, ["SET", "PEXPIREAT", "SET", "HSET", "DEL", "SET", "SET", "DEL", "MULTI", "SET", "SET", "EXEC", "SET"], "\(logged)")
        XCTAssertEqual(Array(logged[0][0...3]), ["SET", "a", "1", "PXAT"])
        let at = Int64(logged[0][4])!
        XCTAssertTrue(at >= before + 100_000 && at <= after + 100_000)
        XCTAssertEqual(logged[2], ["SET", "f", "1.5", "KEEPTTL"])
        XCTAssertEqual(logged[3], ["HSET", "h", "x", "2.5"])
        XCTAssertEqual(Array(logged[5][0...3]), ["SET", "s", "v", "PXAT"])
        XCTAssertEqual(logged[7], ["DEL", "gone"])
        let selects = try commands(incrText(server)).filter { $0[0] == "SELECT" }.map { $0[1] }
        XCTAssertEqual(selects.last, "3")
    }

    func testARestartReplaysTheFileWithTTLsAndDatabases() throws {
        let first = try TestServer(threads: 2, appendOnly: .everysec)
        let c = try first.client()
        for i in 0..<300 { _ = try c.call("SET", "k\(i)", "v\(i)") }
        _ = try c.call("HSET", "h", "a", "1", "b", "2")
        _ = try c.call("SET", "ttl", "x", "EX", "1000")
        _ = try c.call("MSET", "m1", "1", "m2", "2", "m3", "3")  // across shards: borrowed
        _ = try c.call("DEL", "k0", "k1")
        _ = try c.call("SELECT", "7")
        _ = try c.call("SET", "in7", "seven")
        XCTAssertEqual(try c.call("BGREWRITEAOF"), .simple("Background append only file rewriting started"))
        _ = try c.call("SET", "after-rewrite", "1")  // during or after the base's walk: in the new incr file
        // The base is written in the background; the restart below reads the same directory.
        for _ in 0..<500 where try c.infoFields("persistence")["aof_rewrite_in_progress"] != "0" { usleep(10_000) }
        XCTAssertEqual(try c.infoFields("persistence")["aof_rewrite_in_progress"], "0")
        _ = try c.call("SELECT", "0")
        _ = try c.call("INCRBYFLOAT", "float", "0.1")
        let dir = first.dir
        let restarted = try TestServer(threads: 2, dir: dir, appendOnly: .everysec)
        let r = try restarted.client()
        XCTAssertEqual(try r.call("DBSIZE"), .integer(298 + 1 + 1 + 3 + 1))
        XCTAssertEqual(try r.call("HGETALL", "h"), .array([.bulk("a"), .bulk("1"), .bulk("b"), .bulk("2")]))
        guard case .integer(let ttl) = try r.call("TTL", "ttl") else { return XCTFail("TTL") }
        XCTAssertTrue(ttl > 990 && ttl <= 1000, "\(ttl)")
        XCTAssertEqual(try r.call("GET", "float"), .bulk("0.1"))
        _ = try r.call("SELECT", "7")
        XCTAssertEqual(try r.call("MGET", "in7", "after-rewrite"), .array([.bulk("seven"), .bulk("1")]))
    }

    /// A key that expired and was then written as another type: the replay, which does not
    /// expire keys itself, must meet the DEL the expiry logged, or the HSET would hit a string.
    func testAnExpiryIsLoggedAsDelSoTheReplayMeetsTheSameKeys() throws {
        let first = try TestServer(threads: 2, appendOnly: .always)
        let c = try first.client()
        _ = try c.call("SET", "k", "string", "PX", "30")
        usleep(80_000)
        XCTAssertEqual(try c.call("HSET", "k", "f", "v"), .integer(1))
        XCTAssertTrue(try incrText(first).contains("*2\r\n$3\r\nDEL\r\n$1\r\nk\r\n"))
        let restarted = try TestServer(threads: 2, dir: first.dir, appendOnly: .always)
        XCTAssertEqual(try restarted.client().call("HGET", "k", "f"), .bulk("v"))
    }

    /// The same for a hash field: its expiry is logged as HDEL, or the replay would increment
    /// the old value.
    func testAnExpiredHashFieldIsLoggedAsHDEL() throws {
        let first = try TestServer(threads: 2, appendOnly: .always)
        let c = try first.client()
        _ = try c.call("HSET", "h", "n", "5", "keep", "x")
        XCTAssertEqual(try c.call("HPEXPIRE", "h", "30", "FIELDS", "1", "n"), .array([.integer(1)]))
        usleep(80_000)
        XCTAssertEqual(try c.call("HINCRBY", "h", "n", "1"), .integer(1))
        XCTAssertTrue(try incrText(first).contains("*3\r\n$4\r\nHDEL\r\n$1\r\nh\r\n$1\r\nn\r\n"))
        let restarted = try TestServer(threads: 2, dir: first.dir, appendOnly: .always)
        XCTAssertEqual(try restarted.client().call("HMGET", "h", "n", "keep"), .array([.bulk("1"), .bulk("x")]))
    }

    func testTheEmbeddedBulkLoadIsLoggedAsHSETAndPEXPIREAT() throws {
        let first = try TestServer(threads: 2, appendOnly: .always)
        var b = HashWriteBatch(fields: [Array("_ts:v".utf8), Array("f1".utf8)], ttlSeconds: 500)
        for i in 0..<100 { b.append(key: Array("e\(i)".utf8), values: [ArraySlice("ts\(i)".utf8), ArraySlice("v\(i)".utf8)]) }
        try first.server.bulkLoad(b)
        let text = try incrText(first)
        XCTAssertTrue(text.contains("$4\r\nHSET\r\n$3\r\ne42\r\n$5\r\n_ts:v\r\n$4\r\nts42\r\n$2\r\nf1\r\n$3\r\nv42\r\n"), text)
        let restarted = try TestServer(threads: 2, dir: first.dir, appendOnly: .always)
        let r = try restarted.client()
        XCTAssertEqual(try r.call("DBSIZE"), .integer(100))
        XCTAssertEqual(try r.call("HGET", "e7", "f1"), .bulk("v7"))
        guard case .integer(let ttl) = try r.call("TTL", "e7") else { return XCTFail("TTL") }
        XCTAssertTrue(ttl > 490 && ttl <= 500, "\(ttl)")
    }

    func testInfoPersistenceReportsTheFile() throws {
        let server = try TestServer(threads: 2, appendOnly: .everysec)
        let c = try server.client()
        _ = try c.call("SET", "k", "v")
        let info = try c.infoFields("persistence")
        XCTAssertEqual(info["aof_enabled"], "1")
        XCTAssertEqual(info["aof_last_write_status"], "ok")
        XCTAssertEqual(info["aof_last_bgrewrite_status"], "ok")
        XCTAssertGreaterThan(Int(info["aof_current_size"] ?? "0")!, Int(info["aof_base_size"] ?? "0")!)
    }
}
