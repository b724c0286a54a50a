/// Feature definitions, mirroring Feast's objects (Entity, FileSource, PushSource,
/// FeatureView, FeatureService). Both the YAML loader and the registry.db reader produce
/// these, so offline retrieval and online serving share one description.

public struct Entity: Equatable, Codable, Sendable {
    public var name: String
    /// Feast allows several join keys in its API but supports exactly one.
    public var joinKey: String
    /// nil when the definition leaves it out (Feast's `UNKNOWN`).
    public var valueType: FeastValueType?
    public var description: String
    public var tags: [String: String]
    public var owner: String

    public init(name: String, joinKey: String? = nil, valueType: FeastValueType? = nil, description: String = "",
                tags: [String: String] = [:], owner: String = "") {
        self.name = name
        self.joinKey = joinKey ?? name
        self.valueType = valueType
        self.description = description
        self.tags = tags
        self.owner = owner
    }
}

/// One column of a feature view's schema.
public struct Field: Equatable, Codable, Sendable {
    public var name: String
    public var type: FeastType
    public var description: String
    public var tags: [String: String]

    public init(name: String, type: FeastType, description: String = "", tags: [String: String] = [:]) {
        self.name = name
        self.type = type
        self.description = description
        self.tags = tags
    }
}

public enum FileFormat: String, Codable, Sendable, CaseIterable {
    case parquet
    case csv

    /// Format implied by a path's extension: `.csv` is CSV, everything else Parquet
    /// (Feast's FileSource default).
    public static func inferred(fromPath path: String) -> FileFormat {
        path.lowercased().hasSuffix(".csv") ? .csv : .parquet
    }
}

/// A type declared for a column of a CSV source (`column_types`), read instead of the
/// inferred one: `{customer_id: String}` keeps zero-padded ids (`00123`) as text.
public enum CSVColumnType: String, Codable, Sendable, CaseIterable {
    case string, bytes, int32, int64, float32, float64, bool, date, timestamp
    case timestampNaive = "timestamp_naive"

    /// Feast type names (`String`, `Int64`, `UnixTimestamp`...) and these names, any case.
    public init?(name: String) {
        let lower = name.lowercased()
        if lower == "unixtimestamp" { self = .timestamp; return }
        guard let t = CSVColumnType(rawValue: lower) else { return nil }
        self = t
    }

    public static var allowedNames: String {
        "String, Bytes, Int32, Int64, Float32, Float64, Bool, UnixTimestamp (or timestamp), timestamp_naive, date"
    }
}

/// Feast's FileSource. `path` is a file, a directory of files, or a glob (`*`, `?`, `[`);
/// a relative path resolves against the feature repo directory, as in Feast.
public struct FileSource: Equatable, Codable, Sendable {
    public var name: String
    public var path: String
    public var fileFormat: FileFormat
    public var timestampField: String
    public var createdTimestampColumn: String?
    /// Source column name → feature/entity name.
    public var fieldMapping: [String: String]
    public var description: String
    public var tags: [String: String]
    public var owner: String
    /// Declared types of CSV columns by source column name (Larder only; nil: all inferred).
    public var columnTypes: [String: CSVColumnType]?

    public init(name: String, path: String, fileFormat: FileFormat? = nil, timestampField: String,
                createdTimestampColumn: String? = nil, fieldMapping: [String: String] = [:],
                description: String = "", tags: [String: String] = [:], owner: String = "",
                columnTypes: [String: CSVColumnType]? = nil) {
        self.columnTypes = columnTypes
        self.name = name
        self.path = path
        self.fileFormat = fileFormat ?? FileFormat.inferred(fromPath: path)
        self.timestampField = timestampField
        self.createdTimestampColumn = createdTimestampColumn
        self.fieldMapping = fieldMapping
        self.description = description
        self.tags = tags
        self.owner = owner
    }

    public var isGlob: Bool { path.contains { $0 == "*" || $0 == "?" || $0 == "[" } }

    /// The path with a relative one resolved against `repoDirectory`.
    public func resolvedPath(repoDirectory: String) -> String {
        if path.hasPrefix("/") || path.contains("://") { return path }
        return repoDirectory.hasSuffix("/") ? repoDirectory + path : repoDirectory + "/" + path
    }
}

/// Feast's PushSource: rows pushed through the feature server, backed by a batch source
/// for offline retrieval and materialization.
public struct PushSource: Equatable, Codable, Sendable {
    public var name: String
    public var batchSource: FileSource
    public var description: String
    public var tags: [String: String]
    public var owner: String

    public init(name: String, batchSource: FileSource, description: String = "", tags: [String: String] = [:],
                owner: String = "") {
        self.name = name
        self.batchSource = batchSource
        self.description = description
        self.tags = tags
        self.owner = owner
    }
}

public enum DataSource: Equatable, Codable, Sendable {
    case file(FileSource)
    case push(PushSource)

    public var name: String {
        switch self {
        case .file(let s): return s.name
        case .push(let s): return s.name
        }
    }

    /// The source read for offline retrieval and materialization.
    public var batchSource: FileSource {
        switch self {
        case .file(let s): return s
        case .push(let s): return s.batchSource
        }
    }

    public var kindName: String {
        switch self {
        case .file: return "file_source"
        case .push: return "push_source"
        }
    }
}

public struct FeatureView: Equatable, Codable, Sendable {
    public var name: String
    /// Entity *names*, in definition order.
    public var entities: [String]
    /// Feature columns (the schema minus the entity join key columns), in schema order:
    /// this order is the order of the fields in Feast's HSET.
    public var features: [Field]
    /// Join key columns with their types (Feast's `entity_columns`).
    public var entityColumns: [Field]
    /// Feast's `ttl` in seconds; 0 means no limit.
    public var ttlSeconds: Int64
    public var online: Bool
    public var offline: Bool
    public var source: DataSource
    public var description: String
    public var tags: [String: String]
    public var owner: String

    public init(name: String, entities: [String], features: [Field], entityColumns: [Field] = [],
                ttlSeconds: Int64 = 0, online: Bool = true, offline: Bool = false, source: DataSource,
                description: String = "", tags: [String: String] = [:], owner: String = "") {
        self.name = name
        self.entities = entities
        self.features = features
        self.entityColumns = entityColumns
        self.ttlSeconds = ttlSeconds
        self.online = online
        self.offline = offline
        self.source = source
        self.description = description
        self.tags = tags
        self.owner = owner
    }

    public func feature(named name: String) -> Field? { features.first { $0.name == name } }

    /// The push source feeding this view, if any (Feast's `stream_source`).
    public var pushSource: PushSource? {
        if case .push(let p) = source { return p }
        return nil
    }
}

/// A feature service's selection from one feature view.
public struct FeatureViewProjection: Equatable, Codable, Sendable {
    public var featureView: String
    /// Selected feature names, in order (all of the view's features when the definition
    /// names only the view).
    public var features: [String]

    public init(featureView: String, features: [String]) {
        self.featureView = featureView
        self.features = features
    }
}

public struct FeatureService: Equatable, Codable, Sendable {
    public var name: String
    public var projections: [FeatureViewProjection]
    public var description: String
    public var tags: [String: String]
    public var owner: String

    public init(name: String, projections: [FeatureViewProjection], description: String = "",
                tags: [String: String] = [:], owner: String = "") {
        self.name = name
        self.projections = projections
        self.description = description
        self.tags = tags
        self.owner = owner
    }
}

/// All definitions of one project.
public struct FeatureDefinitions: Equatable, Codable, Sendable {
    public var project: String
    public var entities: [Entity]
    public var dataSources: [DataSource]
    public var featureViews: [FeatureView]
    public var featureServices: [FeatureService]

    public init(project: String, entities: [Entity] = [], dataSources: [DataSource] = [],
                featureViews: [FeatureView] = [], featureServices: [FeatureService] = []) {
        self.project = project
        self.entities = entities
        self.dataSources = dataSources
        self.featureViews = featureViews
        self.featureServices = featureServices
    }

    public func entity(named name: String) -> Entity? { entities.first { $0.name == name } }
    public func dataSource(named name: String) -> DataSource? { dataSources.first { $0.name == name } }
    public func featureView(named name: String) -> FeatureView? { featureViews.first { $0.name == name } }
    public func featureService(named name: String) -> FeatureService? { featureServices.first { $0.name == name } }

    /// The join keys of a view, in the order of its entities (nil if an entity is unknown).
    public func joinKeys(of view: FeatureView) -> [String]? {
        var keys: [String] = []
        for name in view.entities {
            guard let entity = entity(named: name) else { return nil }
            keys.append(entity.joinKey)
        }
        return keys
    }
}
