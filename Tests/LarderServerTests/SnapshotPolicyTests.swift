import Foundation
import LarderPersistence
import XCTest
@testable import LarderServer

/// When snapshots are taken without a SAVE: Redis' save points, SHUTDOWN and the stop signal,
/// and what a failed snapshot does (SHUTDOWN refused, -MISCONF); INFO persistence's numbers.
final class SnapshotPolicyTests: XCTestCase {
    func infoField(_ c: TestClient, _ name: String) throws -> String? { try c.infoFields("persistence")[name] }

    func snapshotKeys(_ path: String) throws -> Int {
        var n = 0
        _ = try RDBReader.read(path: path) { _ in n += 1 }
        return n
    }

    func testSavePointsParseAsRedisWritesThem() {
        XCTAssertEqual(SavePoint.parse(""), [])
        XCTAssertEqual(SavePoint.parse("3600 1 300 100"), [SavePoint(seconds: 3600, changes: 1), SavePoint(seconds: 300, changes: 100)])
        XCTAssertNil(SavePoint.parse("3600"))
        XCTAssertNil(SavePoint.parse("3600 x"))
        XCTAssertNil(SavePoint.parse("-1 5"))
        XCTAssertEqual(SavePoint.format(SavePoint.redisDefault), "3600 1 300 100 60 10000")
    }

    func testConfigSaveIsReadAndChangedAtRunTime() throws {
        let server = try TestServer(threads: 2)
        let c = try server.client()
        XCTAssertEqual(try c.call("CONFIG", "GET", "save"), .array([.bulk("save"), .bulk("")]))
        XCTAssertEqual(try c.call("CONFIG", "SET", "save", "3600 1 300 100"), .simple("OK"))
        XCTAssertEqual(try c.call("CONFIG", "GET", "save"), .array([.bulk("save"), .bulk("3600 1 300 100")]))
        XCTAssertEqual(try c.call("CONFIG", "SET", "save", "3600"),
                       .error("ERR CONFIG SET failed (possibly related to argument 'save') - Invalid save parameters"))
        XCTAssertEqual(try c.call("CONFIG", "GET", "stop-writes-on-bgsave-error"), .array([.bulk("stop-writes-on-bgsave-error"), .bulk("yes")]))
    }

    /// `save 1 100`: 99 writes do not snapshot, the 100th does within about a second.
    func testASavePointSnapshotsOnceItsChangesAndSecondsAreReached() throws {
        let server = try TestServer(threads: 2, savePoints: [SavePoint(seconds: 1, changes: 100)])
        let c = try server.client()
        let path = server.dir + "/dump.rdb"
        for i in 0..<99 { _ = try c.call("SET", "k\(i)", "v") }
        _ = try c.call("GET", "k1")  // reads are not changes
        Thread.sleep(forTimeInterval: 2.2)
        XCTAssertFalse(FileManager.default.fileExists(atPath: path), "99 changes are below the save point")
        XCTAssertEqual(try infoField(c, "rdb_changes_since_last_save"), "99")
        XCTAssertEqual(try infoField(c, "rdb_saves"), "0")
        _ = try c.call("HSET", "h", "f", "v")
        let deadline = Date().addingTimeInterval(5)
        while !FileManager.default.fileExists(atPath: path) && Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
        try c.waitForBackgroundSave()
        XCTAssertEqual(try snapshotKeys(path), 100)
        XCTAssertEqual(try infoField(c, "rdb_changes_since_last_save"), "0")
        XCTAssertEqual(try infoField(c, "rdb_saves"), "1")
        XCTAssertEqual(try infoField(c, "rdb_last_bgsave_status"), "ok")
        guard case .integer(let lastsave) = try c.call("LASTSAVE") else { return XCTFail("LASTSAVE") }
        XCTAssertLessThanOrEqual(abs(lastsave - Int(Date().timeIntervalSince1970)), 5)
    }

    /// SHUTDOWN with save points set writes the snapshot; the restarted server has every key.
    func testShutdownSnapshotsWhenSavePointsAreSet() throws {
        let server = try TestServer(threads: 2, savePoints: [SavePoint(seconds: 3600, changes: 1)])
        let c = try server.client()
        for i in 0..<1000 { _ = try c.call("SET", "k\(i)", "v\(i)") }
        XCTAssertThrowsError(try c.call("SHUTDOWN"), "no reply: the connection closes")
        server.server.waitUntilStopped()
        XCTAssertEqual(server.server.exitStatus, 0)
        let restarted = try TestServer(threads: 2, dir: server.dir)
        let r = try restarted.client()
        XCTAssertEqual(try r.call("DBSIZE"), .integer(1000))
        XCTAssertEqual(try r.call("GET", "k999"), .bulk("v999"))
        XCTAssertEqual(try infoField(r, "rdb_last_load_keys_loaded"), "1000")
    }

    func testShutdownNosaveSkipsAndShutdownSaveForcesTheSnapshot() throws {
        let a = try TestServer(threads: 2, savePoints: [SavePoint(seconds: 3600, changes: 1)])
        _ = try a.client().call("SET", "k", "v")
        XCTAssertThrowsError(try a.client().call("SHUTDOWN", "NOSAVE"))
        a.server.waitUntilStopped()
        XCTAssertFalse(FileManager.default.fileExists(atPath: a.dir + "/dump.rdb"))

        let b = try TestServer(threads: 2)  // no save points
        _ = try b.client().call("SET", "k", "v")
        XCTAssertThrowsError(try b.client().call("SHUTDOWN", "SAVE"))
        b.server.waitUntilStopped()
        XCTAssertEqual(try snapshotKeys(b.dir + "/dump.rdb"), 1)
        let c = try TestServer(threads: 2)
        XCTAssertEqual(try c.client().call("SHUTDOWN", "SAVE", "NOSAVE"), .error("ERR syntax error"))
    }

    /// Redis refuses to stop when its shutdown snapshot fails, so nothing acknowledged is lost;
    /// FORCE stops anyway, and the process then exits with status 1.
    func testAFailedShutdownSnapshotKeepsTheServerRunningUnlessForced() throws {
        let server = try TestServer(threads: 2, savePoints: [SavePoint(seconds: 3600, changes: 1)])
        let c = try server.client()
        _ = try c.call("SET", "k", "v")
        try FileManager.default.removeItem(atPath: server.dir)
        XCTAssertEqual(try c.call("SHUTDOWN"), .error("ERR Errors trying to SHUTDOWN. Check logs."))
        XCTAssertEqual(try c.call("GET", "k"), .bulk("v"), "still serving")
        XCTAssertThrowsError(try c.call("SHUTDOWN", "FORCE"))
        server.server.waitUntilStopped()
        XCTAssertEqual(server.server.exitStatus, 1, "the last snapshot failed too")
    }

    /// The stop signal (SIGTERM/SIGINT in `larder serve`): a snapshot while serving, then the stop.
    func testTheStopSignalSnapshotsFirst() throws {
        let server = try TestServer(threads: 2, savePoints: [SavePoint(seconds: 3600, changes: 1)])
        let c = try server.client()
        for i in 0..<500 { _ = try c.call("HSET", "h\(i)", "f", "\(i)") }
        server.server.shutdownOnSignal()
        server.server.waitUntilStopped()
        XCTAssertEqual(try snapshotKeys(server.dir + "/dump.rdb"), 500)
        XCTAssertEqual(server.server.exitStatus, 0)
    }

    func testTheStopSignalKeepsServingWhenItsSnapshotFails() throws {
        let server = try TestServer(threads: 2, savePoints: [SavePoint(seconds: 3600, changes: 1)])
        let c = try server.client()
        _ = try c.call("SET", "k", "v")
        try FileManager.default.removeItem(atPath: server.dir)
        server.server.shutdownOnSignal()
        Thread.sleep(forTimeInterval: 0.5)
        XCTAssertEqual(try c.call("GET", "k"), .bulk("v"), "still serving after the failed snapshot")
        try FileManager.default.createDirectory(atPath: server.dir, withIntermediateDirectories: true)
        server.server.shutdownOnSignal()
        server.server.waitUntilStopped()
        XCTAssertEqual(try snapshotKeys(server.dir + "/dump.rdb"), 1)
    }

    /// stop-writes-on-bgsave-error: after a failed BGSAVE, with save points set, writes (and
    /// PING) get Redis' MISCONF error, reads work; a successful snapshot or `no` lifts it.
    func testAFailedBackgroundSnapshotStopsWrites() throws {
        let server = try TestServer(threads: 2, savePoints: [SavePoint(seconds: 3600, changes: 1000)])
        let c = try server.client()
        _ = try c.call("SET", "k", "v")
        try FileManager.default.removeItem(atPath: server.dir)
        guard case .error = try c.call("BGSAVE") else { return XCTFail("BGSAVE into a missing directory fails") }
        XCTAssertEqual(try infoField(c, "rdb_last_bgsave_status"), "err")
        let misconf = Reply.error(String(describing: ConnectionHandler.misconfError))
        XCTAssertEqual(try c.call("SET", "k", "w"), misconf)
        XCTAssertEqual(try c.call("PING"), misconf)
        XCTAssertEqual(try c.call("GET", "k"), .bulk("v"))
        _ = try c.call("MULTI")
        XCTAssertEqual(try c.call("DEL", "k"), misconf)
        XCTAssertEqual(try c.call("EXEC"), .error("EXECABORT Transaction discarded because of previous errors."))
        XCTAssertEqual(try c.call("CONFIG", "SET", "stop-writes-on-bgsave-error", "no"), .simple("OK"))
        XCTAssertEqual(try c.call("SET", "k", "w"), .simple("OK"))
        XCTAssertEqual(try c.call("CONFIG", "SET", "stop-writes-on-bgsave-error", "yes"), .simple("OK"))
        XCTAssertEqual(try c.call("SET", "k", "x"), misconf)
        XCTAssertEqual(try c.call("CONFIG", "SET", "save", ""), .simple("OK"), "without save points nothing is refused")
        XCTAssertEqual(try c.call("SET", "k", "x"), .simple("OK"))
        XCTAssertEqual(try c.call("CONFIG", "SET", "save", "3600 1000"), .simple("OK"))
        try FileManager.default.createDirectory(atPath: server.dir, withIntermediateDirectories: true)
        XCTAssertEqual(try c.call("BGSAVE"), .simple("Background saving started"))
        try c.waitForBackgroundSave()
        XCTAssertEqual(try c.call("SET", "k", "y"), .simple("OK"))
        XCTAssertEqual(try infoField(c, "rdb_last_bgsave_status"), "ok")
    }

    /// A failed SAVE does not stop writes (Redis sets lastbgsave_status from background saves only).
    func testAFailedSaveDoesNotStopWrites() throws {
        let server = try TestServer(threads: 2, savePoints: [SavePoint(seconds: 3600, changes: 1000)])
        let c = try server.client()
        try FileManager.default.removeItem(atPath: server.dir)
        guard case .error = try c.call("SAVE") else { return XCTFail("SAVE into a missing directory fails") }
        XCTAssertEqual(try c.call("SET", "k", "v"), .simple("OK"))
        XCTAssertEqual(try infoField(c, "rdb_last_bgsave_status"), "ok")
    }

    /// While the dataset loads, as Redis: commands without the `loading` flag (PING too) get
    /// -LOADING, INFO runs and says loading:1; once loaded everything runs.
    func testWhileLoadingOnlyLoadingCommandsRun() throws {
        let server = try TestServer(threads: 2, keepLoading: true)
        let c = try server.client()
        let loading = Reply.error("LOADING Redis is loading the dataset in memory")
        XCTAssertEqual(try c.call("GET", "k"), loading)
        XCTAssertEqual(try c.call("SET", "k", "v"), loading)
        XCTAssertEqual(try c.call("PING"), loading)
        XCTAssertEqual(try infoField(c, "loading"), "1")
        XCTAssertNotNil(try infoField(c, "loading_start_time"))
        XCTAssertEqual(try c.call("CONFIG", "GET", "save"), .array([.bulk("save"), .bulk("")]))
        server.server.finishLoading()
        XCTAssertEqual(try c.call("SET", "k", "v"), .simple("OK"))
        XCTAssertEqual(try infoField(c, "loading"), "0")
        XCTAssertNil(try infoField(c, "loading_start_time"))
    }

    /// The start-up load puts each key on its own shard's thread, in batches: a snapshot bigger
    /// than a few batches comes back whole, on every shard, with its expired keys skipped.
    func testTheStartUpLoadFillsEveryShard() throws {
        let first = try TestServer(threads: 3)
        let c = try first.client()
        for i in stride(from: 0, to: 20_000, by: 500) {
            _ = try c.callBytes([Array("MSET".utf8)] + (i..<i + 500).flatMap { [Array("k\($0)".utf8), Array("v\($0)".utf8)] })
        }
        for i in 0..<300 { _ = try c.call("SET", "gone\(i)", "x", "PX", "300") }
        XCTAssertEqual(try c.call("SAVE"), .simple("OK"))
        Thread.sleep(forTimeInterval: 0.4)
        let second = try TestServer(threads: 3, dir: first.dir)
        let r = try second.client()
        XCTAssertEqual(try r.call("DBSIZE"), .integer(20_000))
        XCTAssertEqual(try r.call("GET", "k19999"), .bulk("v19999"))
        XCTAssertEqual(try infoField(r, "rdb_last_load_keys_loaded"), "20000")
        XCTAssertEqual(try infoField(r, "rdb_last_load_keys_expired"), "300")
        for w in second.server.state.workers { XCTAssertGreaterThan(w.shard.databases[0].count, 5000, "shard \(w.index)") }
    }
}
