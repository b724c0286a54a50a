import Foundation

/// Reads Feast's file registry (`registry.db`: one serialized `feast.core.Registry`, no
/// header, no compression) into Larder's model. Field numbers: docs in the Feast online
/// format spec §8 (`protos_dump.txt`).
public enum FeastRegistryReader {
    public static func read(path: String, project: String? = nil) throws -> FeastRegistry {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw FeastRegistryError.unreadable(path: path, reason: "file missing or not readable")
        }
        return try decode([UInt8](data), project: project)
    }

    public static func decode(_ bytes: [UInt8], project: String? = nil) throws -> FeastRegistry {
        do {
            return try decodeRegistry(bytes, project: project)
        } catch let error as ProtoDecodeError {
            throw FeastRegistryError.decode(error)
        }
    }

    private static func decodeRegistry(_ bytes: [UInt8], project requested: String?) throws -> FeastRegistry {
        let registry = try ProtoMessage(bytes, name: "feast.core.Registry")
        let schemaVersion = try registry.string(3, "registry_schema_version")
        let versionID = try registry.string(4, "version_id")
        let lastUpdated = try registry.timestamp(5, "last_updated")
        let entities = try registry.messages(1, "entities", type: "feast.core.Entity")
            .compactMap { try $0.message(1, "spec", type: "feast.core.EntitySpecV2") }
        let views = try registry.messages(6, "feature_views", type: "feast.core.FeatureView")
        let services = try registry.messages(7, "feature_services", type: "feast.core.FeatureService")
            .compactMap { try $0.message(1, "spec", type: "feast.core.FeatureServiceSpec") }
        let sources = try registry.messages(12, "data_sources", type: "feast.core.DataSource")
        let onDemand = try registry.messages(8, "on_demand_feature_views", type: "feast.core.OnDemandFeatureView")
        let streaming = try registry.messages(14, "stream_feature_views", type: "feast.core.StreamFeatureView")

        // Every project named anywhere in the file.
        var projectNames = Set<String>()
        for p in try registry.messages(17, "projects", type: "feast.core.Project") {
            if let spec = try p.message(1, "spec", type: "feast.core.ProjectSpec") { projectNames.insert(try spec.string(1, "name")) }
        }
        for m in try registry.messages(15, "project_metadata", type: "feast.core.ProjectMetadata") {
            projectNames.insert(try m.string(1, "project"))
        }
        for spec in entities { projectNames.insert(try spec.string(9, "project")) }
        for spec in services { projectNames.insert(try spec.string(2, "project")) }
        var viewSpecs: [(spec: ProtoMessage, meta: ProtoMessage?)] = []
        for view in views {
            guard let spec = try view.message(1, "spec", type: "feast.core.FeatureViewSpec") else { continue }
            viewSpecs.append((spec, try view.message(2, "meta", type: "feast.core.FeatureViewMeta")))
            projectNames.insert(try spec.string(2, "project"))
        }
        projectNames.remove("")
        let projects = projectNames.sorted()
        let project: String
        if let requested {
            guard projectNames.contains(requested) else { throw FeastRegistryError.unknownProject(requested, available: projects) }
            project = requested
        } else {
            guard let only = projects.first else { throw FeastRegistryError.noProject }
            guard projects.count == 1 else { throw FeastRegistryError.ambiguousProject(projects) }
            project = only
        }

        var skipped: [String] = []
        var defs = FeatureDefinitions(project: project)
        for spec in entities where try spec.string(9, "project") == project {
            let name = try spec.string(1, "name")
            if name == "__dummy" { continue } // Feast's placeholder for entity-less views
            let raw = try spec.int64(2, "value_type")
            let valueType = raw == 0 ? nil : FeastValueType(rawValue: Int32(truncatingIfNeeded: raw))
            defs.entities.append(Entity(name: name, joinKey: try spec.string(4, "join_key"), valueType: valueType,
                                        description: try spec.string(3, "description"), tags: try spec.stringMap(8, "tags"),
                                        owner: try spec.string(10, "owner")))
        }
        for source in sources where try source.string(21, "project") == project {
            do {
                defs.dataSources.append(try dataSource(source))
            } catch let unsupported as Unsupported {
                skipped.append("data_source '\(try source.string(20, "name"))': \(unsupported.reason)")
            }
        }
        var intervals: [String: [MaterializationInterval]] = [:]
        for (spec, meta) in viewSpecs where try spec.string(2, "project") == project {
            let name = try spec.string(1, "name")
            do {
                defs.featureViews.append(try featureView(spec))
            } catch let unsupported as Unsupported {
                skipped.append("feature_view '\(name)': \(unsupported.reason)")
                continue
            }
            if let meta {
                intervals[name] = try meta.messages(3, "materialization_intervals", type: "feast.core.MaterializationInterval")
                    .map { MaterializationInterval(start: try $0.timestamp(1, "start_time") ?? ProtoTimestamp(seconds: 0),
                                                   end: try $0.timestamp(2, "end_time") ?? ProtoTimestamp(seconds: 0)) }
            }
        }
        for spec in services where try spec.string(2, "project") == project {
            let name = try spec.string(1, "name")
            let projections = try spec.messages(3, "features", type: "feast.core.FeatureViewProjection").map {
                FeatureViewProjection(featureView: try $0.string(1, "feature_view_name"),
                                      features: try $0.messages(2, "feature_columns", type: "feast.core.FeatureSpecV2")
                                          .map { try $0.string(1, "name") })
            }
            if let missing = projections.first(where: { defs.featureView(named: $0.featureView) == nil }) {
                skipped.append("feature_service '\(name)': uses feature view '\(missing.featureView)', which was skipped")
                continue
            }
            defs.featureServices.append(FeatureService(name: name, projections: projections,
                                                       description: try spec.string(5, "description"),
                                                       tags: try spec.stringMap(4, "tags"), owner: try spec.string(6, "owner")))
        }
        for (kind, list) in [("on_demand_feature_view", onDemand), ("stream_feature_view", streaming)] {
            for object in list {
                guard let spec = try object.message(1, "spec", type: "spec"), try spec.string(2, "project") == project else { continue }
                skipped.append("\(kind) '\(try spec.string(1, "name"))': not supported by Larder")
            }
        }
        return FeastRegistry(definitions: defs, materializationIntervals: intervals,
                             registrySchemaVersion: schemaVersion, versionID: versionID, lastUpdated: lastUpdated,
                             projects: projects, skipped: skipped)
    }

    /// An object Larder's model cannot hold (skipped and reported, not fatal).
    struct Unsupported: Error { let reason: String }

    static let sourceTypeNames: [UInt64: String] = [
        0: "INVALID", 1: "BATCH_FILE", 2: "BATCH_BIGQUERY", 3: "STREAM_KAFKA", 4: "STREAM_KINESIS",
        5: "BATCH_REDSHIFT", 6: "CUSTOM_SOURCE", 7: "REQUEST_SOURCE", 8: "BATCH_SNOWFLAKE", 9: "PUSH_SOURCE",
        10: "BATCH_TRINO", 11: "BATCH_SPARK", 12: "BATCH_ATHENA", 13: "BATCH_ICEBERG",
    ]

    static func dataSource(_ m: ProtoMessage) throws -> DataSource {
        let type = try m.varint(1, "type")
        switch type {
        case 1: return .file(try fileSource(m))
        case 9:
            guard let batch = try m.message(26, "batch_source", type: "feast.core.DataSource") else {
                throw Unsupported(reason: "push source without a batch source")
            }
            guard try batch.varint(1, "type") == 1 else {
                throw Unsupported(reason: "push source whose batch source is not a file source")
            }
            return .push(PushSource(name: try m.string(20, "name"), batchSource: try fileSource(batch),
                                    description: try m.string(23, "description"), tags: try m.stringMap(24, "tags"),
                                    owner: try m.string(25, "owner")))
        default:
            throw Unsupported(reason: "source type \(sourceTypeNames[type] ?? "\(type)") is not supported (only file and push sources)")
        }
    }

    private static func fileSource(_ m: ProtoMessage) throws -> FileSource {
        guard let options = try m.message(11, "file_options", type: "feast.core.DataSource.FileOptions") else {
            throw Unsupported(reason: "file source without file_options")
        }
        let uri = try options.string(2, "uri")
        var format: FileFormat?
        if let fileFormat = try options.message(1, "file_format", type: "feast.core.FileFormat") {
            if fileFormat.has(2) { throw Unsupported(reason: "Delta file format is not supported") }
            if fileFormat.has(1) { format = .parquet }
        }
        let created = try m.string(5, "created_timestamp_column")
        return FileSource(name: try m.string(20, "name"), path: uri, fileFormat: format,
                          timestampField: try m.string(3, "timestamp_field"),
                          createdTimestampColumn: created.isEmpty ? nil : created,
                          fieldMapping: try m.stringMap(2, "field_mapping"), description: try m.string(23, "description"),
                          tags: try m.stringMap(24, "tags"), owner: try m.string(25, "owner"))
    }

    private static func field(_ m: ProtoMessage, view: String) throws -> Field {
        let name = try m.string(1, "name")
        let raw = try m.int64(2, "value_type")
        guard let valueType = FeastValueType(rawValue: Int32(truncatingIfNeeded: raw)),
              let type = FeastType(valueType: valueType) else {
            let typeName = FeastValueType(rawValue: Int32(truncatingIfNeeded: raw))?.protoName ?? "\(raw)"
            throw Unsupported(reason: "column '\(name)' has value type \(typeName), which Larder does not support")
        }
        return Field(name: name, type: type, description: try m.string(4, "description"), tags: try m.stringMap(3, "tags"))
    }

    private static func featureView(_ spec: ProtoMessage) throws -> FeatureView {
        let name = try spec.string(1, "name")
        let entities = try spec.strings(3, "entities")
        if entities.isEmpty || entities == ["__dummy"] {
            throw Unsupported(reason: "entity-less feature views are not supported")
        }
        let features = try spec.messages(4, "features", type: "feast.core.FeatureSpecV2").map { try field($0, view: name) }
        let entityColumns = try spec.messages(12, "entity_columns", type: "feast.core.FeatureSpecV2").map { try field($0, view: name) }
        let ttl = try spec.timestamp(6, "ttl")?.seconds ?? 0
        // A push source is the view's stream_source; its batch_source is also the view's batch_source.
        let source: DataSource
        if let stream = try spec.message(9, "stream_source", type: "feast.core.DataSource") {
            source = try dataSource(stream)
        } else if let batch = try spec.message(7, "batch_source", type: "feast.core.DataSource") {
            source = try dataSource(batch)
        } else {
            throw Unsupported(reason: "no batch source")
        }
        return FeatureView(name: name, entities: entities, features: features, entityColumns: entityColumns,
                           ttlSeconds: ttl, online: try spec.bool(8, "online"), offline: try spec.bool(13, "offline"),
                           source: source, description: try spec.string(10, "description"),
                           tags: try spec.stringMap(5, "tags"), owner: try spec.string(11, "owner"))
    }
}
