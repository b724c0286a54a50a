import Foundation
import XCTest
import LarderPersistence

/// TIME, DBSIZE, FLUSHDB/FLUSHALL, SAVE/BGSAVE/LASTSAVE, ROLE, READONLY, MEMORY, MONITOR, SHUTDOWN.
final class ServerTests: XCTestCase {
    var server: TestServer!
    override func setUpWithError() throws { server = try TestServer(threads: 2) }
    override func tearDown() { server = nil }

    func testTime() throws {
        let c = try server.client()
        guard case .array(let t) = try c.call("TIME"), t.count == 2,
              let s = t[0].string.flatMap(Int.init), let us = t[1].string.flatMap(Int.init) else { return XCTFail("TIME") }
        XCTAssertLessThan(abs(s - Int(Date().timeIntervalSince1970)), 5)
        XCTAssertTrue((0..<1_000_000).contains(us))
        XCTAssertEqual(try c.call("TIME", "x"), .error("ERR wrong number of arguments for 'time' command"))
    }

    func testFlushOptions() throws {
        let c = try server.client()
        for i in 0..<20 { _ = try c.call("SET", "k\(i)", "v") }
        XCTAssertEqual(try c.call("DBSIZE"), .integer(20))
        XCTAssertEqual(try c.call("FLUSHDB", "FOO"), .error("ERR syntax error"))
        XCTAssertEqual(try c.call("FLUSHDB", "ASYNC", "SYNC"), .error("ERR syntax error"))
        XCTAssertEqual(try c.call("DBSIZE"), .integer(20))
        XCTAssertEqual(try c.call("FLUSHDB", "async"), .simple("OK"))
        XCTAssertEqual(try c.call("DBSIZE"), .integer(0))
        _ = try c.call("SET", "a", "1")
        XCTAssertEqual(try c.call("FLUSHALL", "x"), .error("ERR syntax error"))
        XCTAssertEqual(try c.call("FLUSHALL", "SYNC"), .simple("OK"))
        XCTAssertEqual(try c.call("DBSIZE"), .integer(0))
    }

    /// SAVE and BGSAVE write a real RDB file at dir/dbfilename holding every database of every
    /// shard; the reader gets back exactly what was stored.
    /// A restart keeps everything SAVE wrote: strings, hashes, TTLs, every database, keys on
    /// both shards; nothing written after the SAVE.
    func testARestartedServerLoadsItsSnapshot() throws {
        let c = try server.client()
        for i in 0..<500 { _ = try c.call("SET", "k\(i)", "v\(i)") }
        _ = try c.call("HSET", "h", "f1", "v1", "f2", "12345")
        _ = try c.call("SET", "ttl", "x", "EX", "1000")
        _ = try c.call("SELECT", "5")
        _ = try c.call("SET", "in5", "five")
        XCTAssertEqual(try c.call("SAVE"), .simple("OK"))
        _ = try c.call("SET", "after-save", "lost")
        let dir = server.dir
        let restarted = try TestServer(threads: 2, dir: dir)
        let r = try restarted.client()
        XCTAssertEqual(try r.call("DBSIZE"), .integer(502))
        XCTAssertEqual(try r.call("GET", "k321"), .bulk("v321"))
        XCTAssertEqual(try r.call("HGET", "h", "f2"), .bulk("12345"))
        guard case .integer(let ttl) = try r.call("TTL", "ttl") else { return XCTFail("TTL") }
        XCTAssertGreaterThan(ttl, 990)
        _ = try r.call("SELECT", "5")
        XCTAssertEqual(try r.call("GET", "in5"), .bulk("five"))
        XCTAssertEqual(try r.call("EXISTS", "after-save"), .integer(0))
    }

    /// A snapshot with one flipped byte is refused (CRC64) and the server does not start.
    func testADamagedSnapshotStopsTheStart() throws {
        let c = try server.client()
        for i in 0..<50 { _ = try c.call("SET", "k\(i)", "v\(i)") }
        XCTAssertEqual(try c.call("SAVE"), .simple("OK"))
        let path = server.dir + "/dump.rdb"
        var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        bytes[bytes.count / 2] ^= 0x40
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        XCTAssertThrowsError(try TestServer(threads: 2, dir: server.dir)) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains("dump.rdb") && text.lowercased().contains("checksum"), text)
        }
    }

    func testSaveWritesASnapshotTheReaderLoads() throws {
        let c = try server.client()
        guard case .integer(let before) = try c.call("LASTSAVE") else { return XCTFail("LASTSAVE") }
        XCTAssertLessThanOrEqual(before, Int(Date().timeIntervalSince1970))
        for i in 0..<200 { _ = try c.call("SET", "k\(i)", "v\(i)") }
        _ = try c.call("HSET", "h", "f1", "v1", "f2", "12345")
        _ = try c.call("SET", "ttl", "x", "PX", "100000")
        _ = try c.call("SELECT", "3")
        _ = try c.call("SET", "in3", "three")
        XCTAssertEqual(try c.call("CONFIG", "GET", "dbfilename"), .array([.bulk("dbfilename"), .bulk("dump.rdb")]))
        XCTAssertEqual(try c.call("CONFIG", "GET", "dir"), .array([.bulk("dir"), .bulk(server.dir)]))
        XCTAssertEqual(try c.call("SAVE"), .simple("OK"))
        var found: [Int: [String: RDBValue]] = [:]
        var ttl: Int64 = 0
        let summary = try RDBReader.read(path: server.dir + "/dump.rdb") { e in
            found[e.db, default: [:]][String(decoding: e.key, as: UTF8.self)] = e.value
            if e.key == Array("ttl".utf8) { ttl = e.expireAt }
        }
        XCTAssertEqual(summary.version, 10)
        XCTAssertTrue(summary.checksumVerified)
        XCTAssertEqual(found[0]?.count, 202)
        XCTAssertEqual(found[0]?["k7"], .string(Array("v7".utf8)))
        XCTAssertEqual(found[0]?["h"], .hash([RDBHashField(field: Array("f1".utf8), value: Array("v1".utf8)),
                                              RDBHashField(field: Array("f2".utf8), value: Array("12345".utf8))]))
        XCTAssertGreaterThan(ttl, Int64(Date().timeIntervalSince1970 * 1000))
        XCTAssertEqual(found[3], ["in3": .string(Array("three".utf8))])
        XCTAssertEqual(try c.infoFields("persistence")["rdb_saves"], "1")
        XCTAssertEqual(try c.call("BGSAVE"), .simple("Background saving started"))
        // The first may still run (then SCHEDULE queues one more) or be over (then it starts one).
        let scheduled = try c.call("BGSAVE", "SCHEDULE")
        XCTAssertTrue(scheduled == .simple("Background saving scheduled") || scheduled == .simple("Background saving started"), "\(scheduled)")
        XCTAssertEqual(try c.call("BGSAVE", "x"), .error("ERR syntax error"))
        // A scheduled one starts only after the first ends (as in Redis, in_progress is 0 between).
        let deadline = Date().addingTimeInterval(20)
        while try c.infoFields("persistence")["rdb_saves"] != "3" && Date() < deadline { Thread.sleep(forTimeInterval: 0.01) }
        try c.waitForBackgroundSave()
        XCTAssertEqual(try c.infoFields("persistence")["rdb_saves"], "3", "SAVE, BGSAVE and the scheduled one")
        XCTAssertEqual(try c.infoFields("persistence")["rdb_last_bgsave_status"], "ok")
        var keys = 0
        _ = try RDBReader.read(path: server.dir + "/dump.rdb") { _ in keys += 1 }
        XCTAssertEqual(keys, 203)
        XCTAssertEqual(try c.call("MULTI"), .simple("OK"))
        XCTAssertEqual(try c.call("SAVE"), .error("ERR Command not allowed inside a transaction"))
        XCTAssertEqual(try c.call("EXEC"), .error("EXECABORT Transaction discarded because of previous errors."))
    }

    /// A snapshot that cannot be written is an error naming why, and LASTSAVE does not move.
    func testSaveFailureIsAnErrorAndLastsaveStays() throws {
        let c = try server.client()
        _ = try c.call("SET", "k", "v")
        guard case .integer(let before) = try c.call("LASTSAVE") else { return XCTFail("LASTSAVE") }
        try FileManager.default.removeItem(atPath: server.dir)
        sleep(1)
        guard case .error(let e) = try c.call("SAVE") else { return XCTFail("SAVE into a missing directory must fail") }
        XCTAssertTrue(e.hasPrefix("ERR snapshot ") && e.contains("No such file or directory"), e)
        XCTAssertEqual(try c.call("LASTSAVE"), .integer(before))
    }

    func testRoleAndClusterCommands() throws {
        let c = try server.client()
        XCTAssertEqual(try c.call("ROLE"), .array([.bulk("master"), .integer(0), .array([])]))
    }

    func testMemoryUsage() throws {
        let c = try server.client()
        _ = try c.call("SET", "k", "v")
        _ = try c.call("HSET", "h", "f1", "v1", "f2", "v2")
        guard case .integer(let s) = try c.call("MEMORY", "USAGE", "k"), case .integer(let h) = try c.call("MEMORY", "USAGE", "h", "SAMPLES", "0") else {
            return XCTFail("MEMORY USAGE is an integer for existing keys")
        }
        XCTAssertGreaterThan(s, 0)
        XCTAssertGreaterThan(h, 0)
        XCTAssertEqual(try c.call("MEMORY", "USAGE", "nokey"), .null)
        XCTAssertEqual(try c.call("MEMORY", "USAGE", "k", "SAMPLES", "x"), .error("ERR value is not an integer or out of range"))
        XCTAssertEqual(try c.call("MEMORY", "USAGE", "k", "SAMPLES", "-1"), .error("ERR syntax error"))
        XCTAssertEqual(try c.call("MEMORY", "USAGE", "k", "FOO"), .error("ERR syntax error"))
        XCTAssertEqual(try c.call("MEMORY", "FOO"), .error("ERR unknown subcommand 'FOO'. Try MEMORY HELP."))
        guard case .array(let stats) = try c.call("MEMORY", "STATS") else { return XCTFail("MEMORY STATS") }
        XCTAssertEqual(stats[2], .bulk("keys.count"))
        XCTAssertEqual(stats[3], .integer(2))
        XCTAssertTrue((try c.call("MEMORY", "DOCTOR").string ?? "").hasPrefix("Hi Sam"))
    }

    func testMonitorStreamsOtherClientsCommands() throws {
        let monitor = try RawConnection(port: server.port)
        monitor.command("MONITOR")
        XCTAssertEqual(monitor.receive(expecting: "+OK\r\n"), "+OK\r\n")
        let c = try server.client()
        XCTAssertEqual(try c.call("SET", "a b", "x\"y\n"), .simple("OK"))
        XCTAssertEqual(try c.call("SELECT", "2"), .simple("OK"))
        XCTAssertEqual(try c.call("HGET", "h", "f"), .null)
        let lines = monitor.receive(timeout: 0.5).text.split(separator: "\r\n").map(String.init)
        XCTAssertEqual(lines.count, 3, "\(lines)")
        // +<seconds>.<micros> [<db> <addr>] "arg" ... with Redis' quoting
        let pattern = #"^\+\d+\.\d{6} \[(\d+) 127\.0\.0\.1:\d+\] (.*)$"#
        let regex = try NSRegularExpression(pattern: pattern)
        func parts(_ l: String) -> (String, String)? {
            guard let m = regex.firstMatch(in: l, range: NSRange(l.startIndex..., in: l)),
                  let db = Range(m.range(at: 1), in: l), let rest = Range(m.range(at: 2), in: l) else { return nil }
            return (String(l[db]), String(l[rest]))
        }
        XCTAssertEqual(parts(lines[0])?.0, "0")
        XCTAssertEqual(parts(lines[0])?.1, #""SET" "a b" "x\"y\n""#)
        XCTAssertEqual(parts(lines[2])?.0, "2")
        XCTAssertEqual(parts(lines[2])?.1, #""HGET" "h" "f""#)
    }

    func testShutdownStopsTheServer() throws {
        let c = try server.client()
        XCTAssertEqual(try c.call("SHUTDOWN", "ABORT"), .error("ERR No shutdown in progress."))
        XCTAssertEqual(try c.call("SHUTDOWN", "FOO"), .error("ERR syntax error"))
        XCTAssertEqual(try c.call("SHUTDOWN", "NOSAVE", "SAVE"), .error("ERR syntax error"))
        c.send(["SHUTDOWN", "NOSAVE"])
        XCTAssertTrue(c.isClosedByServer())
        XCTAssertThrowsError(try TestClient(port: server.port).call("PING"))
    }

    /// The `larder serve` process exits with status 0 after SHUTDOWN.
    func testShutdownExitsTheProcessWithZero() throws {
        // On Linux the bundle URL is the build directory itself; elsewhere the .xctest bundle in it.
        let here = Bundle(for: Self.self).bundleURL
        let candidates = [here.appendingPathComponent("larder"), here.deletingLastPathComponent().appendingPathComponent("larder")]
        guard let binary = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0.path) }) else {
            throw XCTSkip("the larder executable is not built next to the tests (\(here.path))")
        }
        // A random port can be taken (CI saw "address already in use" once): the server then
        // exits at once, and another port is tried.
        var started: (Process, TestClient)? = nil
        for _ in 0..<5 where started == nil {
            let port = 20000 + Int.random(in: 0..<20000)
            let p = Process()
            p.executableURL = binary
            p.arguments = ["serve", "--port", String(port), "--threads", "2", "--no-pin"]
            p.standardOutput = FileHandle.nullDevice
            p.standardError = FileHandle.nullDevice
            try p.run()
            // A taken port makes the server exit within milliseconds: wait that out before
            // connecting, so the client cannot reach whoever holds the port.
            usleep(300_000)
            for _ in 0..<100 where started == nil && p.isRunning {
                if let c = try? TestClient(port: port) { started = (p, c) } else { usleep(50_000) }
            }
            if started == nil && p.isRunning { p.terminate(); p.waitUntilExit() }
        }
        guard let (p, c) = started else { return XCTFail("larder serve did not start") }
        XCTAssertEqual(try c.call("PING"), .simple("PONG"))
        c.send(["SHUTDOWN"])
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 0)
    }
}
