import Foundation
import XCTest
@testable import LarderFeatures

final class RegistryStoreTests: XCTestCase {
    private var directory: URL!

    override func setUpWithError() throws {
        directory = try makeTemporaryDirectory(self)
    }

    private func openStore() throws -> RegistryStore {
        try RegistryStore(path: directory.appendingPathComponent("larder.db").path)
    }

    private var driverRepo: FeatureRepo {
        FeatureRepo(directory: "/repo", config: RepoConfig(project: "driver_e2e"), definitions: DriverRepoModel.definitions)
    }

    func testFirstApplyAddsEverythingAndSecondApplyChangesNothing() throws {
        let store = try openStore()
        let changes = try store.apply(repo: driverRepo)
        XCTAssertEqual(changes.map(\.description), [
            "+ project_config driver_e2e (v1)",
            "+ entity driver (v1)",
            "+ data_source driver_stats_source (v1)",
            "+ data_source driver_stats_push_source (v1)",
            "+ feature_view driver_hourly_stats (v1)",
            "+ feature_view driver_push_stats (v1)",
            "+ feature_service driver_activity (v1)",
        ])
        XCTAssertEqual(try store.plan(repo: driverRepo), [])
        XCTAssertEqual(try store.apply(repo: driverRepo), [])
        XCTAssertEqual(try store.appliedDefinitions(project: "driver_e2e"), DriverRepoModel.definitions)
    }

    func testChangedViewGetsANewVersionAndPlanDoesNotWrite() throws {
        let store = try openStore()
        try store.apply(repo: driverRepo)
        var repo = driverRepo
        repo.definitions.featureViews[0].ttlSeconds = 86_400
        repo.definitions.featureViews[0].tags["tier"] = "gold"

        let planned = try store.plan(repo: repo)
        XCTAssertEqual(planned, [DefinitionChange(action: .changed, kind: .featureView, name: "driver_hourly_stats",
                                                  oldVersion: 1, newVersion: 2, changedAttributes: ["tags", "ttl_seconds"],
                                                  details: ["tags.tier changed: (none) -> \"gold\"",
                                                            "ttl_seconds changed: \(DriverRepoModel.definitions.featureViews[0].ttlSeconds) -> 86400"])])
        XCTAssertEqual(planned.first?.description, "~ feature_view driver_hourly_stats (v1 -> v2): "
                       + "tags.tier changed: (none) -> \"gold\"; ttl_seconds changed: \(DriverRepoModel.definitions.featureViews[0].ttlSeconds) -> 86400")
        XCTAssertEqual(try store.appliedVersion(project: "driver_e2e", kind: .featureView, name: "driver_hourly_stats"), 1)

        XCTAssertEqual(try store.apply(repo: repo), planned)
        XCTAssertEqual(try store.appliedVersion(project: "driver_e2e", kind: .featureView, name: "driver_hourly_stats"), 2)
        XCTAssertEqual(try store.appliedDefinitions(project: "driver_e2e")?.featureViews[0].ttlSeconds, 86_400)
    }

    func testRemovedAndReaddedObjectsKeepCountingVersions() throws {
        let store = try openStore()
        try store.apply(repo: driverRepo)
        var withoutService = driverRepo
        withoutService.definitions.featureServices = []
        XCTAssertEqual(try store.apply(repo: withoutService).map(\.description), ["- feature_service driver_activity (was v1)"])
        XCTAssertNil(try store.appliedVersion(project: "driver_e2e", kind: .featureService, name: "driver_activity"))
        XCTAssertEqual(try store.apply(repo: driverRepo).map(\.description), ["+ feature_service driver_activity (v2)"])
    }

    func testSourceChangeShowsInTheSourceAndTheViewsUsingIt() throws {
        let store = try openStore()
        try store.apply(repo: driverRepo)
        var repo = driverRepo
        var source = DriverRepoModel.driverStatsSource
        source.path = "data/v2/*.parquet"
        repo.definitions.dataSources = [.file(source), .push(PushSource(name: "driver_stats_push_source", batchSource: source))]
        repo.definitions.featureViews[0].source = .file(source)
        let changes = try store.plan(repo: repo)
        XCTAssertEqual(changes.map(\.name), ["driver_stats_source", "driver_stats_push_source", "driver_hourly_stats"])
        XCTAssertEqual(changes[0].changedAttributes, ["path"])
        XCTAssertEqual(changes[1].changedAttributes, ["batch_source"])
        XCTAssertEqual(changes[2].changedAttributes, ["source"])
        // Every change names its value before and after, nested ones by path.
        let oldPath = DriverRepoModel.driverStatsSource.path
        XCTAssertEqual(changes[0].details, ["path changed: \"\(oldPath)\" -> \"data/v2/*.parquet\""])
        XCTAssertEqual(changes[1].details, ["batch_source.path changed: \"\(oldPath)\" -> \"data/v2/*.parquet\""])
        XCTAssertEqual(changes[2].details, ["source.path changed: \"\(oldPath)\" -> \"data/v2/*.parquet\""])
    }

    func testFeatureChangesNameTheFeatureAndBothValues() throws {
        let store = try openStore()
        try store.apply(repo: driverRepo)
        var repo = driverRepo
        let first = repo.definitions.featureViews[0].features[0]
        repo.definitions.featureViews[0].features[0].type = first.type == .int64 ? .float64 : .int64
        repo.definitions.featureViews[0].features.append(Field(name: "extra", type: .string))
        let details = try store.plan(repo: repo).first?.details ?? []
        XCTAssertEqual(first.name, "conv_rate")
        XCTAssertEqual(details, [#"features[conv_rate].type changed: "Float32" -> "Int64""#,
                                 #"features[extra] added: {"description":"","name":"extra","tags":{},"type":"String"}"#])
    }

    func testProjectsAreIndependent() throws {
        let store = try openStore()
        try store.apply(repo: driverRepo)
        var other = driverRepo
        other.config.project = "other"
        other.definitions.project = "other"
        XCTAssertEqual(try store.apply(repo: other).count, 7)
        XCTAssertEqual(try store.appliedDefinitions(project: "driver_e2e")?.project, "driver_e2e")
        XCTAssertNil(try store.appliedDefinitions(project: "never_applied"))
    }

    func testMaterializationIntervals() throws {
        let store = try openStore()
        XCTAssertNil(try store.lastMaterializedEnd(project: "p", view: "v"))
        let jan1 = ProtoTimestamp(seconds: 1_735_689_600), jan5 = ProtoTimestamp(seconds: 1_736_035_200)
        let jan3 = ProtoTimestamp(seconds: 1_735_862_400, nanos: 5)
        try store.recordMaterialization(project: "p", view: "v", start: jan1, end: jan5, rows: 320)
        try store.recordMaterialization(project: "p", view: "v", start: jan1, end: jan3) // an older backfill
        try store.recordMaterialization(project: "p", view: "w", start: jan5, end: ProtoTimestamp(seconds: 1_800_000_000))
        XCTAssertEqual(try store.lastMaterializedEnd(project: "p", view: "v"), jan5)
        XCTAssertEqual(try store.materializationIntervals(project: "p", view: "v"),
                       [MaterializationInterval(start: jan1, end: jan5), MaterializationInterval(start: jan1, end: jan3)])
        XCTAssertNil(try store.lastMaterializedEnd(project: "q", view: "v"))
    }

    func testRunHistory() throws {
        let store = try openStore()
        let started = Date(timeIntervalSince1970: 1_763_800_000)
        let first = try store.recordRun(RunRecord(project: "p", kind: "materialize", featureView: "v", startedAt: started,
                                                  durationSeconds: 1.25, rows: 320, bytes: 40_960, peakMemoryBytes: 12_000_000))
        try store.recordRun(RunRecord(project: "p", kind: "materialize", startedAt: started.addingTimeInterval(60),
                                      durationSeconds: 0.5, rows: 0, bytes: 0, peakMemoryBytes: 1, succeeded: false,
                                      message: "source file missing"))
        let runs = try store.runs(project: "p")
        XCTAssertEqual(runs.count, 2)
        XCTAssertEqual(runs[1], RunRecord(id: first, project: "p", kind: "materialize", featureView: "v", startedAt: started,
                                          durationSeconds: 1.25, rows: 320, bytes: 40_960, peakMemoryBytes: 12_000_000))
        XCTAssertFalse(runs[0].succeeded)
        XCTAssertEqual(runs[0].message, "source file missing")
        XCTAssertEqual(try store.runs(project: "p", limit: 1).count, 1)
    }

    func testStatePersistsAcrossReopen() throws {
        do {
            let store = try openStore()
            try store.apply(repo: driverRepo)
            try store.recordMaterialization(project: "driver_e2e", view: "driver_hourly_stats",
                                            start: ProtoTimestamp(seconds: 0), end: ProtoTimestamp(seconds: 100))
        }
        let reopened = try openStore()
        XCTAssertEqual(try reopened.plan(repo: driverRepo), [])
        XCTAssertEqual(try reopened.lastMaterializedEnd(project: "driver_e2e", view: "driver_hourly_stats"),
                       ProtoTimestamp(seconds: 100))
    }

    func testRefusesNewerSchemaAndUnopenablePaths() throws {
        let path = directory.appendingPathComponent("future.db").path
        try SQLiteDatabase(path: path).execute("PRAGMA user_version = 99")
        XCTAssertThrowsError(try RegistryStore(path: path)) { error in
            XCTAssertTrue("\(error)".contains("schema version 99"), "\(error)")
        }
        XCTAssertThrowsError(try RegistryStore(path: directory.appendingPathComponent("missing/dir/x.db").path)) { error in
            XCTAssertTrue(error is SQLiteError)
        }
    }
}

final class SQLiteDatabaseTests: XCTestCase {
    func testRoundTripsEveryValueKind() throws {
        let db = try SQLiteDatabase(path: ":memory:")
        try db.execute("CREATE TABLE t (a, b, c, d, e)")
        let values: [SQLiteValue] = [.integer(-7), .real(2.5), .text("nul\u{0}inside é"), .blob([0, 255, 1]), .null]
        try db.run("INSERT INTO t VALUES (?, ?, ?, ?, ?)", values)
        XCTAssertEqual(try db.query("SELECT a, b, c, d, e FROM t"), [values])
        try db.run("INSERT INTO t VALUES (?, ?, ?, ?, ?)", [.text(""), .blob([]), .integer(0), .null, .null])
        XCTAssertEqual(try db.query("SELECT a, b FROM t WHERE c = 0"), [[.text(""), .blob([])]])
    }

    func testErrorsCarryTheStatement() throws {
        let db = try SQLiteDatabase(path: ":memory:")
        try db.execute("CREATE TABLE t (k TEXT PRIMARY KEY)")
        try db.run("INSERT INTO t VALUES (?)", [.text("x")])
        XCTAssertThrowsError(try db.run("INSERT INTO t VALUES (?)", [.text("x")])) { error in
            let e = error as? SQLiteError
            XCTAssertEqual(e?.sql, "INSERT INTO t VALUES (?)")
            XCTAssertTrue(e?.message.contains("UNIQUE") ?? false, "\(String(describing: e))")
        }
        XCTAssertThrowsError(try db.query("SELEC 1")) { error in
            XCTAssertEqual((error as? SQLiteError)?.sql, "SELEC 1")
        }
    }

    func testTransactionRollsBackOnError() throws {
        let db = try SQLiteDatabase(path: ":memory:")
        try db.execute("CREATE TABLE t (k INTEGER)")
        struct Boom: Error {}
        XCTAssertThrowsError(try db.transaction {
            try db.run("INSERT INTO t VALUES (1)")
            throw Boom()
        })
        XCTAssertEqual(try db.query("SELECT COUNT(*) FROM t"), [[.integer(0)]])
    }
}
