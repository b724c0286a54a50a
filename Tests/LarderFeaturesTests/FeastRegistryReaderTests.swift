import Foundation
import XCTest
@testable import LarderFeatures

final class FeastRegistryReaderTests: XCTestCase {
    private func readSample() throws -> FeastRegistry {
        try FeastRegistryReader.read(path: Fixtures.url("registry.db").path)
    }

    /// Feast's registry (from `feast apply` of features.py) and Larder's YAML mirror of the
    /// same repo give the same model.
    func testSampleRegistryEqualsTheYAMLRepoModel() throws {
        let registry = try readSample()
        XCTAssertEqual(registry.definitions, DriverRepoModel.definitions)
        XCTAssertEqual(registry.projects, ["driver_e2e"])
        XCTAssertEqual(registry.skipped, [])
    }

    /// Field by field against samples/registry.json (the same registry as protobuf JSON).
    func testSampleRegistryMatchesItsJSONForm() throws {
        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: Fixtures.data("registry.json")) as? [String: Any])
        let registry = try readSample()
        let defs = registry.definitions

        XCTAssertEqual(registry.registrySchemaVersion, json["registry_schema_version"] as? String)
        XCTAssertEqual(registry.versionID, json["version_id"] as? String)
        XCTAssertEqual(registry.lastUpdated.map(iso8601), json["last_updated"] as? String)

        let jsonEntities = try XCTUnwrap(json["entities"] as? [[String: Any]]).compactMap { $0["spec"] as? [String: Any] }
            .filter { $0["name"] as? String != "__dummy" }
        XCTAssertEqual(defs.entities.count, jsonEntities.count)
        for (entity, spec) in zip(defs.entities, jsonEntities) {
            XCTAssertEqual(entity.name, spec["name"] as? String)
            XCTAssertEqual(entity.joinKey, spec["join_key"] as? String)
            XCTAssertEqual(entity.valueType?.protoName, spec["value_type"] as? String)
            XCTAssertEqual(entity.description, spec["description"] as? String ?? "")
        }

        let jsonViews = try XCTUnwrap(json["feature_views"] as? [[String: Any]])
        XCTAssertEqual(defs.featureViews.count, jsonViews.count)
        for (view, object) in zip(defs.featureViews, jsonViews) {
            let spec = try XCTUnwrap(object["spec"] as? [String: Any])
            XCTAssertEqual(view.name, spec["name"] as? String)
            XCTAssertEqual(view.entities, spec["entities"] as? [String])
            XCTAssertEqual("\(view.ttlSeconds)s", spec["ttl"] as? String)
            XCTAssertEqual(view.online, spec["online"] as? Bool)
            XCTAssertEqual(view.tags, spec["tags"] as? [String: String] ?? [:])
            let features = try XCTUnwrap(spec["features"] as? [[String: String]])
            XCTAssertEqual(view.features.map(\.name), features.map { $0["name"] ?? "" })
            XCTAssertEqual(view.features.map(\.type.valueType.protoName), features.map { $0["value_type"] ?? "" })
            let columns = try XCTUnwrap(spec["entity_columns"] as? [[String: String]])
            XCTAssertEqual(view.entityColumns.map(\.name), columns.map { $0["name"] ?? "" })
            let batch = try XCTUnwrap(spec["batch_source"] as? [String: Any])
            XCTAssertEqual(view.source.batchSource.name, batch["name"] as? String)
            XCTAssertEqual(view.source.batchSource.path, (batch["file_options"] as? [String: Any])?["uri"] as? String)
            XCTAssertEqual(view.source.batchSource.timestampField, batch["timestamp_field"] as? String)
            XCTAssertEqual(view.source.batchSource.createdTimestampColumn, batch["created_timestamp_column"] as? String)
            let stream = spec["stream_source"] as? [String: Any]
            XCTAssertEqual(view.pushSource?.name, stream?["name"] as? String)

            let meta = try XCTUnwrap(object["meta"] as? [String: Any])
            let intervals = try XCTUnwrap(meta["materialization_intervals"] as? [[String: String]])
            let decoded = try XCTUnwrap(registry.materializationIntervals[view.name])
            XCTAssertEqual(decoded.map { iso8601($0.start) }, intervals.map { $0["start_time"] ?? "" })
            XCTAssertEqual(decoded.map { iso8601($0.end) }, intervals.map { $0["end_time"] ?? "" })
        }

        let jsonServices = try XCTUnwrap(json["feature_services"] as? [[String: Any]])
        XCTAssertEqual(defs.featureServices.count, jsonServices.count)
        for (service, object) in zip(defs.featureServices, jsonServices) {
            let spec = try XCTUnwrap(object["spec"] as? [String: Any])
            XCTAssertEqual(service.name, spec["name"] as? String)
            let projections = try XCTUnwrap(spec["features"] as? [[String: Any]])
            XCTAssertEqual(service.projections.map(\.featureView), projections.map { $0["feature_view_name"] as? String ?? "" })
            XCTAssertEqual(service.projections.map(\.features),
                           projections.map { ($0["feature_columns"] as? [[String: String]] ?? []).map { $0["name"] ?? "" } })
        }
        let jsonSources = try XCTUnwrap(json["data_sources"] as? [[String: Any]])
        XCTAssertEqual(defs.dataSources.map(\.name), jsonSources.map { $0["name"] as? String ?? "" })
    }

    func testProjectSelection() throws {
        XCTAssertEqual(try FeastRegistryReader.read(path: Fixtures.url("registry.db").path, project: "driver_e2e")
            .definitions.project, "driver_e2e")
        XCTAssertThrowsError(try FeastRegistryReader.read(path: Fixtures.url("registry.db").path, project: "other")) { error in
            XCTAssertEqual(error as? FeastRegistryError, .unknownProject("other", available: ["driver_e2e"]))
        }
        XCTAssertThrowsError(try FeastRegistryReader.decode([])) { error in
            XCTAssertEqual(error as? FeastRegistryError, .noProject)
        }
        XCTAssertThrowsError(try FeastRegistryReader.read(path: "/nonexistent/registry.db")) { error in
            guard case .unreadable? = error as? FeastRegistryError else { return XCTFail("\(error)") }
        }
    }

    /// Truncated or corrupted files give a typed error (or a smaller valid registry), never a crash.
    func testCorruptRegistriesFailCleanly() throws {
        let bytes = [UInt8](try Fixtures.data("registry.db"))
        var rejected = 0
        for cut in stride(from: 1, to: bytes.count, by: 7) {
            do { _ = try FeastRegistryReader.decode(Array(bytes[..<cut])) } catch { rejected += 1 }
        }
        XCTAssertGreaterThan(rejected, bytes.count / 7 / 2)
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<300 {
            var mutated = bytes
            for _ in 0..<3 { mutated[Int.random(in: 0..<mutated.count, using: &generator)] = UInt8.random(in: 0...255, using: &generator) }
            _ = try? FeastRegistryReader.decode(mutated)
        }
        // A wrong wire type on a known field names the message and field.
        XCTAssertThrowsError(try FeastRegistryReader.decode([0x18, 0x01])) { error in // registry_schema_version as varint
            guard case .decode(let decodeError)? = error as? FeastRegistryError else { return XCTFail("\(error)") }
            XCTAssertEqual(decodeError.context, "feast.core.Registry.registry_schema_version")
        }
    }

    private func iso8601(_ ts: ProtoTimestamp) -> String {
        let date = Date(timeIntervalSince1970: TimeInterval(ts.seconds))
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyy-MM-dd'T'HH:mm:ss"
        let fraction = ts.nanos == 0 ? "" : "." + String(format: "%09d", ts.nanos).replacingOccurrences(
            of: "0+$", with: "", options: .regularExpression)
        return formatter.string(from: date) + paddedFraction(fraction) + "Z"
    }

    /// Protobuf JSON prints 0, 3, 6 or 9 fraction digits.
    private func paddedFraction(_ fraction: String) -> String {
        guard !fraction.isEmpty else { return "" }
        let digits = fraction.count - 1
        let width = digits <= 3 ? 3 : digits <= 6 ? 6 : 9
        return fraction + String(repeating: "0", count: width - digits)
    }
}

/// rich_registry.db: written by `feast apply` of Fixtures/rich_feast_repo (make_registry.sh).
final class RichFeastRegistryTests: XCTestCase {
    func testRichRegistryEqualsItsYAMLMirror() throws {
        let registry = try FeastRegistryReader.read(path: Fixtures.url("rich_registry.db").path)
        let repo = try FeatureRepoLoader(environment: [:]).load(directory: Fixtures.url("rich_repo").path)
        XCTAssertEqual(registry.definitions, repo.definitions)
        XCTAssertEqual(registry.skipped.sorted(), [
            "feature_view 'with_map': column 'attrs' has value type MAP, which Larder does not support",
            "on_demand_feature_view 'doubled': not supported by Larder",
        ])
    }

    func testRichRegistryDetails() throws {
        let defs = try FeastRegistryReader.read(path: Fixtures.url("rich_registry.db").path).definitions
        let trips = try XCTUnwrap(defs.featureView(named: "trip_stats"))
        XCTAssertEqual(trips.ttlSeconds, 5_400)
        XCTAssertFalse(trips.online)
        XCTAssertTrue(trips.offline)
        // Feast's entity column order: schema join keys first, then inferred ones.
        XCTAssertEqual(trips.entityColumns, [Field(name: "customer_id", type: .string), Field(name: "driver_id", type: .int64)])
        XCTAssertEqual(trips.features.map(\.type.name), [
            "Float64", "Bytes", "UnixTimestamp", "Array(Float64)", "Array(Float32)", "Array(Bool)",
            "Array(Int32)", "Array(Bytes)", "Array(UnixTimestamp)", "Int32",
        ])
        XCTAssertEqual(trips.features[0].description, "km")
        XCTAssertEqual(trips.features.last?.tags, ["unit": "people"])
        XCTAssertEqual(trips.source.batchSource.fieldMapping, ["drv": "driver_id"])
        XCTAssertEqual(defs.joinKeys(of: trips), ["driver_id", "customer_id"])
        XCTAssertEqual(defs.featureView(named: "no_ttl")?.ttlSeconds, 0)
        XCTAssertEqual(defs.featureService(named: "trip_service")?.projections,
                       [FeatureViewProjection(featureView: "trip_stats", features: ["distance", "legs"]),
                        FeatureViewProjection(featureView: "no_ttl", features: ["rides", "ok"])])
        XCTAssertEqual(defs.entity(named: "customer")?.owner, "crm@example.com")
    }
}
