import XCTest
@testable import LarderFeatures

/// The expected model of the driver repo (Feast e2e features.py), shared with the registry tests.
enum DriverRepoModel {
    static let driverStatsSource = FileSource(name: "driver_stats_source", path: "data/driver_stats.parquet",
                                              fileFormat: .parquet, timestampField: "event_timestamp",
                                              createdTimestampColumn: "created")
    static let pushSource = PushSource(name: "driver_stats_push_source", batchSource: driverStatsSource)

    static var definitions: FeatureDefinitions {
        let hourlyFeatures = [
            Field(name: "conv_rate", type: .float32), Field(name: "acc_rate", type: .float64),
            Field(name: "avg_daily_trips", type: .int64), Field(name: "rating", type: .int32),
            Field(name: "city", type: .string), Field(name: "is_active", type: .bool),
            Field(name: "recent_trips", type: .array(.int64)), Field(name: "tags", type: .array(.string)),
        ]
        let driverColumn = [Field(name: "driver_id", type: .int64)]
        return FeatureDefinitions(
            project: "driver_e2e",
            entities: [Entity(name: "driver", joinKey: "driver_id", valueType: .int64, description: "driver id")],
            dataSources: [.file(driverStatsSource), .push(pushSource)],
            featureViews: [
                FeatureView(name: "driver_hourly_stats", entities: ["driver"], features: hourlyFeatures,
                            entityColumns: driverColumn, ttlSeconds: 172_800, online: true, source: .file(driverStatsSource),
                            tags: ["team": "driver_performance"]),
                FeatureView(name: "driver_push_stats", entities: ["driver"],
                            features: [Field(name: "conv_rate", type: .float32), Field(name: "city", type: .string)],
                            entityColumns: driverColumn, ttlSeconds: 172_800, online: true, source: .push(pushSource)),
            ],
            featureServices: [
                FeatureService(name: "driver_activity", projections: [
                    FeatureViewProjection(featureView: "driver_hourly_stats", features: hourlyFeatures.map(\.name)),
                ]),
            ])
    }
}

final class FeatureRepoLoaderTests: XCTestCase {
    let env = ["FEAST_REDIS_PORT": "6390", "FEAST_REDIS_CONN_EXTRA": ",db=1", "FEAST_REDIS_KEY_TTL": ""]

    func testLoadsTheDriverRepo() throws {
        let repo = try FeatureRepoLoader(environment: env).load(directory: Fixtures.url("driver_repo").path)
        XCTAssertEqual(repo.config.project, "driver_e2e")
        XCTAssertEqual(repo.config.registryPath, "data/registry.db")
        XCTAssertEqual(repo.config.provider, "local")
        XCTAssertEqual(repo.config.offlineStore.type, "file")
        XCTAssertEqual(repo.config.onlineStore, RepoConfig.OnlineStore(type: "redis", connectionString: "127.0.0.1:6390,db=1",
                                                                      keyTTLSeconds: nil, redisType: .redis))
        XCTAssertEqual(repo.config.entityKeySerializationVersion, .v3)
        XCTAssertEqual(repo.definitions, DriverRepoModel.definitions)
        XCTAssertEqual(repo.definitions.joinKeys(of: repo.definitions.featureViews[1]), ["driver_id"])
    }

    func testConfigWithKeyTTLAndRegistryMapping() throws {
        let config = try FeatureRepoLoader(environment: ["TTL": "604800"]).parseConfig(yaml: """
            project: p
            registry: {path: /var/reg.db, cache_ttl_seconds: 60}
            online_store: {type: redis, connection_string: "localhost:6379", key_ttl_seconds: ${TTL}, redis_type: redis_cluster}
            entity_key_serialization_version: 2
            """)
        XCTAssertEqual(config.registryPath, "/var/reg.db")
        XCTAssertEqual(config.onlineStore.keyTTLSeconds, 604_800)
        XCTAssertEqual(config.onlineStore.redisType, .redisCluster)
        XCTAssertEqual(config.entityKeySerializationVersion, .v2)
        // Defaults when sections are left out: Feast's sqlite online store and file offline store.
        let minimal = try FeatureRepoLoader(environment: [:]).parseConfig(yaml: "project: p")
        XCTAssertEqual(minimal, RepoConfig(project: "p"))
    }

    func testExpandsVariablesLikePython() {
        let env = ["A": "1", "B_2": "two"]
        let cases: [(String, String)] = [
            ("$A-${B_2}", "1-two"), ("$UNSET and ${UNSET}", "$UNSET and ${UNSET}"), ("cost: $", "cost: $"),
            ("${}", "${}"), ("${A", "${A"), ("$A$A", "11"), ("x$A.y", "x1.y"),
        ]
        for (input, expected) in cases {
            XCTAssertEqual(RepoConfigLoader.expandVariables(input, environment: env), expected, input)
        }
    }

    func testDurations() {
        XCTAssertEqual(DurationText.seconds("2d"), 172_800)
        XCTAssertEqual(DurationText.seconds("1h30m"), 5_400)
        XCTAssertEqual(DurationText.seconds("172800s"), 172_800)
        XCTAssertEqual(DurationText.seconds("1w"), 604_800)
        XCTAssertEqual(DurationText.seconds("15"), 15)
        for bad in ["", "2x", "d", "1.5h", "-3", "2d3"] { XCTAssertNil(DurationText.seconds(bad), bad) }
    }

    // MARK: - Errors

    private static let base = """
        entities:
          - {name: driver, join_keys: [driver_id], value_type: INT64}
        file_sources:
          - {name: stats, path: data/stats.parquet, timestamp_field: ts}
        feature_views:
          - name: hourly
            entities: [driver]
            source: stats
            schema:
              - {name: conv_rate, dtype: Float32}
              - {name: city, dtype: String}
        """

    private func errors(_ files: [(String, String)]) -> [RepoLoadError] {
        do {
            _ = try FeatureRepoLoader(environment: [:]).parseDefinitions(files: files.map { ($0.0, $0.1) }, project: "p")
            XCTFail("expected the definitions to be rejected")
            return []
        } catch let failure as RepoLoadFailure {
            return failure.errors
        } catch {
            XCTFail("unexpected error \(error)")
            return []
        }
    }

    private func onlyError(_ files: [(String, String)], file: StaticString = #filePath, line: UInt = #line) -> RepoLoadError? {
        let all = errors(files)
        XCTAssertEqual(all.count, 1, "\(all)", file: file, line: line)
        return all.first
    }

    func testBaseDefinitionsAreValid() throws {
        let defs = try FeatureRepoLoader(environment: [:]).parseDefinitions(files: [("a.yaml", Self.base)], project: "p")
        XCTAssertEqual(defs.featureViews.map(\.name), ["hourly"])
        // driver_id is not in the schema: its column type comes from the entity.
        XCTAssertEqual(defs.featureViews[0].entityColumns, [Field(name: "driver_id", type: .int64)])
        XCTAssertEqual(defs.featureViews[0].ttlSeconds, 0)
    }

    func testUnknownEntity() {
        let e = onlyError([("a.yaml", Self.base.replacingOccurrences(of: "entities: [driver]", with: "entities: [drivr]"))])
        XCTAssertEqual(e?.file, "a.yaml")
        XCTAssertEqual(e?.object, "feature_view 'hourly'")
        XCTAssertEqual(e?.key, "entities")
        XCTAssertEqual(e?.kind, .unknownReference(kind: "entity", name: "drivr", known: ["driver"]))
        XCTAssertEqual(e?.line, 7, "the line of the unknown name, not of the object")
        XCTAssertEqual(e?.column, 16)
        XCTAssertEqual(e?.description,
                       "a.yaml:7: feature_view 'hourly': key 'entities': unknown entity 'drivr' (defined: driver)")
        XCTAssertEqual(e?.rendered, """
            a.yaml:7:16: feature_view 'hourly': key 'entities': unknown entity 'drivr' (defined: driver)
                    entities: [drivr]
                               ^
            """)
    }

    func testDuplicateNamesAcrossFiles() {
        let second = "feature_views:\n  - name: hourly\n    entities: [driver]\n    source: stats\n    schema: [{name: x, dtype: Int64}]\n"
        let e = onlyError([("a.yaml", Self.base), ("b.yaml", second)])
        XCTAssertEqual(e?.file, "b.yaml")
        XCTAssertEqual(e?.kind, .duplicateName(kind: "feature view", name: "hourly", firstDefinedIn: "a.yaml:6"))
    }

    func testDuplicateSourceNamesShareOneNamespace() {
        let e = onlyError([("a.yaml", Self.base + "\npush_sources:\n  - {name: stats, batch_source: stats}\n")])
        XCTAssertEqual(e?.kind, .duplicateName(kind: "data source", name: "stats", firstDefinedIn: "a.yaml:4"))
    }

    func testUnknownFeatureInService() {
        let service = "feature_services:\n  - name: svc\n    features:\n      - {feature_view: hourly, features: [city, speed]}\n"
        let e = onlyError([("a.yaml", Self.base), ("svc.yaml", service)])
        XCTAssertEqual(e?.file, "svc.yaml")
        XCTAssertEqual(e?.object, "feature_service 'svc'")
        XCTAssertEqual(e?.key, "features[0]")
        XCTAssertEqual(e?.kind, .unknownFeature(view: "hourly", feature: "speed"))
    }

    func testUnknownViewInService() {
        let e = onlyError([("a.yaml", Self.base + "\nfeature_services:\n  - {name: svc, features: [daily]}\n")])
        XCTAssertEqual(e?.kind, .unknownReference(kind: "feature view", name: "daily", known: ["hourly"]))
    }

    func testServiceSubsetKeepsOrder() throws {
        let yaml = Self.base + "\nfeature_services:\n  - {name: svc, features: [{feature_view: hourly, features: [city, conv_rate]}]}\n"
        let defs = try FeatureRepoLoader(environment: [:]).parseDefinitions(files: [("a.yaml", yaml)], project: "p")
        XCTAssertEqual(defs.featureServices[0].projections, [FeatureViewProjection(featureView: "hourly", features: ["city", "conv_rate"])])
    }

    func testBadTypeName() {
        let e = onlyError([("a.yaml", Self.base.replacingOccurrences(of: "dtype: Float32", with: "dtype: Float"))])
        XCTAssertEqual(e?.key, "schema[0].dtype")
        XCTAssertEqual(e?.kind, .badTypeName("Float"))
        XCTAssertEqual(e?.line, 10)
    }

    func testWrongYAMLTypeForAKey() {
        var e = onlyError([("a.yaml", Self.base.replacingOccurrences(of: "entities: [driver]", with: "entities: driver"))])
        XCTAssertEqual(e?.key, "entities")
        XCTAssertEqual(e?.kind, .wrongType(expected: "a list", found: "the string 'driver'"))

        e = onlyError([("a.yaml", Self.base + "\n    online: maybe\n")])
        XCTAssertEqual(e?.key, "online")
        XCTAssertEqual(e?.kind, .wrongType(expected: "true or false", found: "the string 'maybe'"))

        e = onlyError([("a.yaml", Self.base + "\n    tags: [a, b]\n")])
        XCTAssertEqual(e?.key, "tags")

        e = onlyError([("a.yaml", "entities: {name: driver}\n")])
        XCTAssertEqual(e?.key, "entities")
        XCTAssertEqual(e?.kind, .wrongType(expected: "a list", found: "a mapping"))

        e = onlyError([("a.yaml", "- just\n- a list\n")])
        XCTAssertEqual(e?.kind, .wrongType(expected: "a mapping", found: "a list"))
    }

    func testUnknownKeyIsATypo() {
        let e = onlyError([("a.yaml", Self.base.replacingOccurrences(of: "timestamp_field: ts", with: "timestamp_field: ts, time_zone: utc"))])
        XCTAssertEqual(e?.object, "file_source 'stats'")
        XCTAssertEqual(e?.key, "time_zone")
        guard case .unknownKey(let allowed)? = e?.kind else { return XCTFail("\(String(describing: e))") }
        XCTAssertTrue(allowed.contains("timestamp_field"))
        XCTAssertEqual(onlyError([("a.yaml", "featureviews: []\n")])?.key, "featureviews")
    }

    func testMissingRequiredKey() {
        let e = onlyError([("a.yaml", Self.base.replacingOccurrences(of: ", timestamp_field: ts", with: ""))])
        XCTAssertEqual(e?.key, "timestamp_field")
        XCTAssertEqual(e?.kind, .missingKey)
    }

    func testYAMLSyntaxError() {
        let e = onlyError([("broken.yaml", "entities:\n  - name: [unclosed\n")])
        XCTAssertEqual(e?.file, "broken.yaml")
        guard case .yamlSyntax? = e?.kind else { return XCTFail("\(String(describing: e))") }
    }

    func testPushSourceNeedsAFileBatchSource() {
        let e = onlyError([("a.yaml", Self.base + "\npush_sources:\n  - {name: push, batch_source: nothing}\n")])
        XCTAssertEqual(e?.object, "push_source 'push'")
        XCTAssertEqual(e?.kind, .unknownReference(kind: "file source", name: "nothing", known: ["stats"]))
    }

    func testEntityRules() {
        var e = onlyError([("a.yaml", "entities:\n  - {name: d, join_keys: [a, b]}\n")])
        XCTAssertEqual(e?.key, "join_keys")
        e = onlyError([("a.yaml", "entities:\n  - {name: d, value_type: FLOAT}\n")])
        XCTAssertEqual(e?.key, "value_type")
        // A schema type that disagrees with the entity's value_type.
        e = onlyError([("a.yaml", Self.base.replacingOccurrences(of: "- {name: city, dtype: String}",
                                                                  with: "- {name: city, dtype: String}\n      - {name: driver_id, dtype: String}"))])
        XCTAssertEqual(e?.key, "schema")
    }

    func testReportsEveryErrorInOneLoad() {
        let yaml = Self.base.replacingOccurrences(of: "dtype: Float32", with: "dtype: Float")
            + "\nfeature_services:\n  - {name: svc, features: [nope]}\n"
        let all = errors([("a.yaml", yaml), ("b.yaml", "entities:\n  - {name: driver}\n")])
        XCTAssertEqual(all.count, 3, "\(all)")
        XCTAssertTrue(all.contains { $0.kind == .badTypeName("Float") })
        XCTAssertTrue(all.contains { $0.kind == .unknownReference(kind: "feature view", name: "nope", known: ["hourly"]) },
                      "a view with a bad dtype still takes part in resolution: \(all)")
        XCTAssertTrue(all.contains { $0.file == "b.yaml" })
    }

    /// Every problem of one object in one run (issue 11: some appeared only after others were
    /// fixed), each at its own line and column, and its references still checked.
    func testEveryErrorOfOneObjectInOneLoad() {
        let yaml = Self.base
            .replacingOccurrences(of: "timestamp_field: ts}", with: "timestamp_field: ts, time_zone: utc}")
            .replacingOccurrences(of: "entities: [driver]", with: "entities: [drivr]\n    online: maybe\n    ttl: soon")
            .replacingOccurrences(of: "dtype: Float32", with: "dtype: Float")
            .replacingOccurrences(of: "dtype: String", with: "dtype: Strin")
        let all = errors([("a.yaml", yaml)])
        XCTAssertEqual(all.map(\.key), ["time_zone", "entities", "online", "ttl", "schema[0].dtype", "schema[1].dtype"], "\(all)")
        XCTAssertEqual(all.map { $0.line ?? 0 }, [4, 7, 8, 9, 12, 13])
        XCTAssertEqual(all.map { $0.column ?? 0 }, [66, 16, 13, 10, 34, 29])
        let rendered = RepoLoadFailure(errors: all).rendered.split(separator: "\n").map(String.init)
        XCTAssertEqual(rendered.count, 1 + 3 * 6)
        XCTAssertEqual(rendered[13], "a.yaml:12:34: feature_view 'hourly': key 'schema[0].dtype': unknown type 'Float' (expected one of \(FeastType.allNames.joined(separator: ", ")))")
        XCTAssertEqual(rendered[14], "          - {name: conv_rate, dtype: Float}")
        XCTAssertEqual(rendered[15], String(repeating: " ", count: 4 + 33) + "^", "under the F of Float")
    }

    func testUnknownOnlineStoreType() throws {
        let loader = FeatureRepoLoader(environment: [:])
        for yaml in ["project: p\nonline_store: {type: redsi}", "project: p\nonline_store: redsi"] {
            XCTAssertThrowsError(try loader.parseConfig(yaml: yaml)) { error in
                let text = "\(error)"
                XCTAssertTrue(text.contains("unknown online store type 'redsi' (Larder writes to 'redis'"), text)
            }
        }
        XCTAssertEqual(try loader.parseConfig(yaml: "project: p\nonline_store: {type: dynamodb}").onlineStore.type, "dynamodb")
        XCTAssertEqual(try loader.parseConfig(yaml: "project: p\nonline_store: {type: my.pkg.MyOnlineStore}").onlineStore.type,
                       "my.pkg.MyOnlineStore")
    }

    /// A broken feature_store.yaml and broken definitions: both reported by one load, in file
    /// order, each with its source line.
    func testConfigAndDefinitionErrorsTogether() throws {
        let dir = try makeTemporaryDirectory(self)
        try "project: p\nonline_store:\n  type: redsi\n".write(to: dir.appendingPathComponent("feature_store.yaml"), atomically: true, encoding: .utf8)
        try Self.base.replacingOccurrences(of: "dtype: Float32", with: "dtype: Float")
            .write(to: dir.appendingPathComponent("defs.yaml"), atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try FeatureRepoLoader(environment: [:]).load(directory: dir.path)) { error in
            guard let failure = error as? RepoLoadFailure else { return XCTFail("\(error)") }
            XCTAssertEqual(failure.errors.map(\.file), ["feature_store.yaml", "defs.yaml"])
            XCTAssertEqual(failure.errors[0].sourceLine, "  type: redsi")
            XCTAssertEqual(failure.errors[1].sourceLine, "      - {name: conv_rate, dtype: Float}")
        }
    }

    func testYAMLSyntaxErrorHasItsPosition() {
        let e = onlyError([("broken.yaml", "entities:\n  - name: [unclosed\n")])
        XCTAssertEqual(e?.line, 3)
        XCTAssertNotNil(e?.column)
        XCTAssertFalse(e?.message.contains("\n") ?? true, "one line: \(String(describing: e?.message))")
    }

    func testConfigErrors() throws {
        let loader = FeatureRepoLoader(environment: [:])
        func configError(_ yaml: String) -> RepoLoadError? {
            do { _ = try loader.parseConfig(yaml: yaml); XCTFail("accepted: \(yaml)"); return nil }
            catch { return error as? RepoLoadError }
        }
        XCTAssertEqual(configError("provider: local")?.kind, .missingKey)
        XCTAssertEqual(configError("project: p\nonline_store: {type: redis, redis_type: memcache}")?.key, "online_store.redis_type")
        XCTAssertEqual(configError("project: p\nentity_key_serialization_version: 5")?.key, "entity_key_serialization_version")
        XCTAssertEqual(configError("project: p\nonline_store: {type: redis, key_ttl_seconds: soon}")?.kind,
                       .wrongType(expected: "an integer", found: "the string 'soon'"))
        XCTAssertEqual(configError("project: p\nprojekt: q")?.key, "projekt")
    }

    func testMissingConfigFile() throws {
        let dir = try makeTemporaryDirectory(self)
        XCTAssertThrowsError(try FeatureRepoLoader(environment: [:]).load(directory: dir.path)) { error in
            XCTAssertEqual((error as? RepoLoadFailure)?.errors.first?.kind, .missingFile)
        }
    }

    func testOnlyTopLevelYAMLFilesAreDefinitions() {
        XCTAssertTrue(FeatureRepoLoader.isDefinitionFile("features.yaml"))
        XCTAssertTrue(FeatureRepoLoader.isDefinitionFile("more.yml"))
        XCTAssertFalse(FeatureRepoLoader.isDefinitionFile("feature_store.yaml"))
        XCTAssertFalse(FeatureRepoLoader.isDefinitionFile(".hidden.yaml"))
        XCTAssertFalse(FeatureRepoLoader.isDefinitionFile("features.py"))
    }

    func testCSVColumnTypesOfASource() throws {
        let csvBase = Self.base.replacingOccurrences(of: "path: data/stats.parquet", with: "path: data/stats.csv")
        let declared = csvBase.replacingOccurrences(
            of: "timestamp_field: ts}", with: "timestamp_field: ts, column_types: {driver_id: String, ts: UnixTimestamp, n: int32, x: timestamp_naive}}")
        let defs = try FeatureRepoLoader(environment: [:]).parseDefinitions(files: [("a.yaml", declared)], project: "p")
        guard case .file(let source) = defs.dataSources[0] else { return XCTFail("not a file source") }
        XCTAssertEqual(source.columnTypes, ["driver_id": .string, "ts": .timestamp, "n": .int32, "x": .timestampNaive])

        var e = onlyError([("a.yaml", csvBase.replacingOccurrences(of: "timestamp_field: ts}", with: "timestamp_field: ts, column_types: {driver_id: Strin}}"))])
        XCTAssertEqual(e?.key, "column_types")
        XCTAssertEqual(e?.line, 4)
        XCTAssertEqual(e?.kind, .invalidValue("unknown type 'Strin' for column 'driver_id' (expected one of \(CSVColumnType.allowedNames))"))
        e = onlyError([("a.yaml", Self.base.replacingOccurrences(of: "timestamp_field: ts}", with: "timestamp_field: ts, column_types: {driver_id: String}}"))])
        XCTAssertEqual(e?.kind, .invalidValue("column types can be declared for CSV sources only (Parquet files carry their types)"))
        e = onlyError([("a.yaml", csvBase.replacingOccurrences(of: "timestamp_field: ts}", with: "timestamp_field: ts, column_types: [String]}"))])
        XCTAssertEqual(e?.key, "column_types")
    }

    func testSentinelMaster() throws {
        let loader = FeatureRepoLoader(environment: [:])
        let config = try loader.parseConfig(yaml: "project: p\nonline_store: {type: redis, redis_type: redis_sentinel, sentinel_master: cache, connection_string: \"s1:26379,s2:26379\"}")
        XCTAssertEqual(config.onlineStore.redisType, .redisSentinel)
        XCTAssertEqual(config.onlineStore.sentinelMaster, "cache")
        XCTAssertNil(try loader.parseConfig(yaml: "project: p\nonline_store: {type: redis}").onlineStore.sentinelMaster)
    }
}
