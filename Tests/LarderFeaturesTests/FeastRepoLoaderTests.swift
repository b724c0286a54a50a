import Foundation
import XCTest
@testable import LarderFeatures

/// A Feast repo (feature_store.yaml + features.py after `feast apply`, no YAML definitions) is
/// loaded from the registry that feature_store.yaml names; the rule and errors of
/// docs/feature-repo-format.md ("Feast repos").
final class FeastRepoLoaderTests: XCTestCase {
    private func feastRepo(config: String, registryAt relative: String? = "data/registry.db",
                           extraFiles: [String: String] = [:]) throws -> URL {
        let dir = try makeTemporaryDirectory(self)
        try config.write(to: dir.appendingPathComponent("feature_store.yaml"), atomically: true, encoding: .utf8)
        try "# Feast's Python definitions: Larder reads the registry, not this file\n"
            .write(to: dir.appendingPathComponent("features.py"), atomically: true, encoding: .utf8)
        if let relative {
            let target = dir.appendingPathComponent(relative)
            try FileManager.default.createDirectory(at: target.deletingLastPathComponent(), withIntermediateDirectories: true)
            try FileManager.default.copyItem(at: Fixtures.url("registry.db"), to: target)
        }
        for (name, text) in extraFiles {
            try text.write(to: dir.appendingPathComponent(name), atomically: true, encoding: .utf8)
        }
        return dir
    }

    private func loadError(_ dir: URL) -> String {
        do {
            _ = try FeatureRepoLoader(environment: [:]).load(directory: dir.path)
            return "loaded"
        } catch {
            return "\(error)"
        }
    }

    func testReadsTheRegistryFeatureStoreYAMLNames() throws {
        let dir = try feastRepo(config: "project: driver_e2e\nregistry: data/registry.db\nprovider: local\n")
        let repo = try FeatureRepoLoader(environment: [:]).load(directory: dir.path)
        XCTAssertEqual(repo.definitions, DriverRepoModel.definitions)
        XCTAssertEqual(repo.origin, .feastRegistry(path: dir.appendingPathComponent("data/registry.db").path))
        XCTAssertEqual(repo.skipped, [])
        let registry = try FeastRegistryReader.read(path: Fixtures.url("registry.db").path)
        XCTAssertFalse(registry.materializationIntervals.isEmpty)
        XCTAssertEqual(repo.feastMaterializationIntervals, registry.materializationIntervals)
    }

    func testLongRegistryFormWithFileType() throws {
        let dir = try feastRepo(config: "project: driver_e2e\nregistry:\n  path: reg/feast.db\n  registry_type: file\n  cache_ttl_seconds: 60\n",
                                registryAt: "reg/feast.db")
        let repo = try FeatureRepoLoader(environment: [:]).load(directory: dir.path)
        XCTAssertEqual(repo.definitions, DriverRepoModel.definitions)
        XCTAssertEqual(repo.origin, .feastRegistry(path: dir.appendingPathComponent("reg/feast.db").path))
    }

    func testAbsoluteRegistryPath() throws {
        let dir = try feastRepo(config: "project: driver_e2e\nregistry: \(Fixtures.url("registry.db").path)\n", registryAt: nil)
        let repo = try FeatureRepoLoader(environment: [:]).load(directory: dir.path)
        XCTAssertEqual(repo.definitions, DriverRepoModel.definitions)
    }

    /// YAML definition files, when present, are the definitions; the registry is not read.
    func testYAMLDefinitionsWinOverTheRegistry() throws {
        let yaml = try String(contentsOf: Fixtures.url("driver_repo/features.yaml"), encoding: .utf8)
        let dir = try feastRepo(config: "project: driver_e2e\nregistry: data/registry.db\n",
                                extraFiles: ["features.yaml": yaml])
        let repo = try FeatureRepoLoader(environment: [:]).load(directory: dir.path)
        XCTAssertEqual(repo.origin, .yaml(files: ["features.yaml"]))
        XCTAssertTrue(repo.feastMaterializationIntervals.isEmpty)
    }

    func testNoDefinitionsAnywhereIsAnErrorSayingWhereLarderLooked() throws {
        let dir = try feastRepo(config: "project: driver_e2e\nregistry: data/registry.db\n", registryAt: nil)
        let message = loadError(dir)
        XCTAssertTrue(message.contains("no definitions found"), message)
        XCTAssertTrue(message.contains(dir.appendingPathComponent("data/registry.db").path), message)
        XCTAssertTrue(message.contains("feast apply"), message)
    }

    func testUnsupportedRegistryKinds() throws {
        let sql = try feastRepo(config: "project: driver_e2e\nregistry:\n  registry_type: sql\n  path: postgresql://u@h/db\n", registryAt: nil)
        let sqlMessage = loadError(sql)
        XCTAssertTrue(sqlMessage.contains("registry_type 'sql' is not supported"), sqlMessage)
        let s3 = try feastRepo(config: "project: driver_e2e\nregistry: s3://bucket/registry.db\n", registryAt: nil)
        let s3Message = loadError(s3)
        XCTAssertTrue(s3Message.contains("'s3://bucket/registry.db' is not a local file"), s3Message)
    }

    func testUnreadableRegistryNamesTheFile() throws {
        let dir = try feastRepo(config: "project: driver_e2e\nregistry: data/registry.db\n", registryAt: nil)
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("data"), withIntermediateDirectories: true)
        try Data([0xff, 0xff, 0xff]).write(to: dir.appendingPathComponent("data/registry.db"))
        let message = loadError(dir)
        XCTAssertTrue(message.contains("invalid Feast registry"), message)
        XCTAssertTrue(message.contains("data/registry.db"), message)
    }

    func testProjectMustBeInTheRegistry() throws {
        let dir = try feastRepo(config: "project: other\nregistry: data/registry.db\n")
        let message = loadError(dir)
        XCTAssertTrue(message.contains("project 'other' is not in the Feast registry"), message)
    }

    /// Objects Larder cannot use are kept in `skipped` (plan lists them), not silently dropped.
    func testSkippedRegistryObjectsAreReported() throws {
        let dir = try makeTemporaryDirectory(self)
        try "project: rich\nregistry: data/registry.db\n".write(to: dir.appendingPathComponent("feature_store.yaml"),
                                                                atomically: true, encoding: .utf8)
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("data"), withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: Fixtures.url("rich_registry.db"), to: dir.appendingPathComponent("data/registry.db"))
        let repo = try FeatureRepoLoader(environment: [:]).load(directory: dir.path)
        XCTAssertEqual(repo.skipped.sorted(), [
            "feature_view 'with_map': column 'attrs' has value type MAP, which Larder does not support",
            "on_demand_feature_view 'doubled': not supported by Larder",
        ])
        XCTAssertNil(repo.definitions.featureView(named: "with_map"))
        XCTAssertNotNil(repo.definitions.featureView(named: "trip_stats"))
    }
}
