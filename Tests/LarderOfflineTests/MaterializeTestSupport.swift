import Foundation
import LarderFeatures
import LarderStore
@testable import LarderOffline

/// An online store in memory with Feast's Redis layout: key -> field -> value.
final class MemorySink: MaterializationSink {
    var hashes: [[UInt8]: [[UInt8]: [UInt8]]] = [:]
    var expiries: [[UInt8]: Int] = [:]
    var reads = 0
    var writes = 0

    func readField(_ field: [UInt8], keys: ArraySlice<[UInt8]>) throws -> [[UInt8]?] {
        reads += keys.count
        return keys.map { hashes[$0]?[field] }
    }

    func write(_ batch: HashWriteBatch) throws {
        for r in 0 ..< batch.count {
            writes += 1
            for (f, field) in batch.fields.enumerated() {
                hashes[batch.keys[r], default: [:]][field] = Array(batch.value(record: r, field: f))
            }
            if let ttl = batch.ttlSeconds { expiries[batch.keys[r]] = ttl }
        }
    }

    func finish() throws {}

    /// The decoded feature of an entity (Int64 driver id key, v3, project "test").
    func value(view: String, feature: String, driver: Int64, project: String = "test") throws -> FeastValue? {
        let key = try FeastKeyEncoder.redisKey([("driver_id", .int64(driver))], project: project)
        guard let bytes = hashes[key]?[FeastKeyEncoder.featureFieldName(view: view, feature: feature)] else { return nil }
        return try FeastValue.decode(bytes)
    }

    func timestamp(view: String, driver: Int64, project: String = "test") throws -> ProtoTimestamp? {
        let key = try FeastKeyEncoder.redisKey([("driver_id", .int64(driver))], project: project)
        guard let bytes = hashes[key]?[FeastKeyEncoder.timestampFieldName(view: view)] else { return nil }
        return try ProtoTimestamp.decode(bytes)
    }
}

/// A one-view repo over a CSV file written into a fresh temporary directory.
struct DriverRepoFixture {
    let directory: URL
    let repo: FeatureRepo

    /// `csv` has columns driver_id,event_timestamp,created,trips,city.
    init(csv: String, ttlSeconds: Int64 = 0, keyTTL: Int? = nil) throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("larder-mat-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try csv.write(to: directory.appendingPathComponent("stats.csv"), atomically: true, encoding: .utf8)
        let source = FileSource(name: "stats", path: "stats.csv", timestampField: "event_timestamp",
                                createdTimestampColumn: "created")
        let view = FeatureView(name: "driver_stats", entities: ["driver"],
                               features: [LarderFeatures.Field(name: "trips", type: .int64),
                                          LarderFeatures.Field(name: "city", type: .string)],
                               ttlSeconds: ttlSeconds, source: .file(source))
        let definitions = FeatureDefinitions(project: "test",
                                             entities: [Entity(name: "driver", joinKey: "driver_id", valueType: .int64)],
                                             dataSources: [.file(source)], featureViews: [view])
        var config = RepoConfig(project: "test")
        config.onlineStore = RepoConfig.OnlineStore(type: "redis", keyTTLSeconds: keyTTL)
        repo = FeatureRepo(directory: directory.path, config: config, definitions: definitions)
    }

    var view: FeatureView { repo.definitions.featureViews[0] }

    func remove() { try? FileManager.default.removeItem(at: directory) }
}

func nanos(_ iso: String) -> Int64 {
    TimestampText.nanoseconds(iso) ?? -1
}
