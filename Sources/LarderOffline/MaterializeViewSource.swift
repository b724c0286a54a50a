import LarderFeatures
import LarderParquet

/// A feature view resolved against its batch source: the source columns to read for the
/// join keys, features and timestamps (a FileSource's `field_mapping` renames source
/// columns to feature names), and the key and value types to encode them with.
/// Materialization, historical retrieval and `larder plan` all start from this.
public struct ViewSource {
    public let view: FeatureView
    public let source: FileSource
    public let path: String
    public let joinKeys: [String]
    /// Source column of each join key.
    public let joinKeyColumns: [String]
    public let keyTypes: [EntityKeyType]
    /// Source column of each feature, in feature order.
    public let featureColumns: [String]
    public let timestampColumn: String
    public let createdColumn: String?
    public let tabular: TabularSource

    /// Opens the view's source and checks every needed column exists with a usable type.
    /// Errors name the view, the source path and the column.
    public init(view: FeatureView, definitions: FeatureDefinitions, repoDirectory: String) throws {
        self.view = view
        source = view.source.batchSource
        path = source.resolvedPath(repoDirectory: repoDirectory)
        guard let joinKeys = definitions.joinKeys(of: view) else {
            let unknown = view.entities.filter { definitions.entity(named: $0) == nil }
            throw ViewSourceError(view: view.name, path: path, "unknown entity \(unknown.joined(separator: ", "))")
        }
        self.joinKeys = joinKeys
        var reverse: [String: String] = [:]
        for (column, name) in source.fieldMapping { reverse[name] = column }
        joinKeyColumns = joinKeys.map { reverse[$0] ?? $0 }
        featureColumns = view.features.map { reverse[$0.name] ?? $0.name }
        timestampColumn = source.timestampField
        createdColumn = source.createdTimestampColumn.flatMap { $0.isEmpty ? nil : $0 }
        do {
            tabular = try TabularSource(path: path, format: source.fileFormat == .csv ? .csv : .parquet)
        } catch {
            throw ViewSourceError(view: view.name, path: path, "cannot open source: \(error)")
        }
        let schema = tabular.schema
        let path = self.path
        func column(_ name: String, role: String) throws -> LarderParquet.Field {
            guard let field = schema.first(where: { $0.name == name }) else {
                throw ViewSourceError(view: view.name, path: path,
                                      "\(role) column \"\(name)\" is not in the source (columns: \(schema.map(\.name).joined(separator: ", ")))")
            }
            return field
        }
        for name in [timestampColumn] + (createdColumn.map { [$0] } ?? []) {
            let field = try column(name, role: name == timestampColumn ? "timestamp" : "created timestamp")
            guard case .timestamp = field.type else {
                throw ViewSourceError(view: view.name, path: path, "timestamp column \"\(name)\" is \(field.type), not a timestamp")
            }
        }
        var types: [EntityKeyType] = []
        for (i, key) in joinKeys.enumerated() {
            let field = try column(joinKeyColumns[i], role: "join key")
            let declared = view.entityColumns.first { $0.name == key }?.type.valueType
                ?? definitions.entities.first { $0.joinKey == key && view.entities.contains($0.name) }?.valueType
            if let declared {
                guard let type = EntityKeyType(declared) else {
                    throw ViewSourceError(view: view.name, path: path, "join key \"\(key)\" has type \(declared.protoName), which cannot be an entity key")
                }
                types.append(type)
            } else if let type = EntityKeyType(column: field.type) {
                types.append(type)
            } else {
                throw ViewSourceError(view: view.name, path: path, "join key column \"\(field.name)\" is \(field.type), which cannot be an entity key")
            }
        }
        keyTypes = types
        for (i, feature) in view.features.enumerated() {
            let field = try column(featureColumns[i], role: "feature")
            guard ColumnValueEncoder.canConvert(field.type, to: feature.type) else {
                throw ViewSourceError(view: view.name, path: path,
                                      "feature \"\(feature.name)\" is declared \(feature.type.name) but column \"\(field.name)\" is \(field.type)")
            }
        }
    }

    /// Every source column this view reads, without duplicates, keys first.
    public var readColumns: [String] {
        var out: [String] = []
        for name in joinKeyColumns + featureColumns + [timestampColumn] + (createdColumn.map { [$0] } ?? [])
        where !out.contains(name) { out.append(name) }
        return out
    }
}

public struct ViewSourceError: Error, CustomStringConvertible, Sendable {
    public var view: String
    public var path: String
    public var message: String

    public init(view: String, path: String, _ message: String) {
        self.view = view
        self.path = path
        self.message = message
    }

    public var description: String { "feature view \"\(view)\" (source \(path)): \(message)" }
}
