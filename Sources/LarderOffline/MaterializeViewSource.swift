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
        let csvOptions = source.fileFormat == .csv
            ? ViewSource.csvOptions(source: source, stringKeyColumns: ViewSource.stringKeyColumns(
                view: view, definitions: definitions, joinKeys: joinKeys, joinKeyColumns: joinKeyColumns))
            : CSVOptions()
        do {
            tabular = try TabularSource(path: path, format: source.fileFormat == .csv ? .csv : .parquet, csvOptions: csvOptions)
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
        // Every problem is collected, so `larder plan` can list them all at once.
        var problems: [String] = []
        for name in [timestampColumn] + (createdColumn.map { [$0] } ?? []) {
            guard let field = try? column(name, role: name == timestampColumn ? "timestamp" : "created timestamp") else {
                problems.append("\(name == timestampColumn ? "timestamp" : "created timestamp") column \"\(name)\" is not in the source")
                continue
            }
            guard case .timestamp = field.type else {
                problems.append(tabular.format == .csv
                    ? ViewSource.csvTimestampProblem(column: name, type: field.type, path: path, options: csvOptions)
                    : "timestamp column \"\(name)\" is \(field.type), not a timestamp")
                continue
            }
        }
        var types: [EntityKeyType] = []
        let joinKeyColumns = self.joinKeyColumns, featureColumns = self.featureColumns
        for (i, key) in joinKeys.enumerated() {
            let declared = view.entityColumns.first(where: { $0.name == key })?.type.valueType
                ?? definitions.entities.first(where: { $0.joinKey == key && view.entities.contains($0.name) })?.valueType
            let field = schema.first { $0.name == joinKeyColumns[i] }
            if field == nil { problems.append("join key column \"\(joinKeyColumns[i])\" is not in the source") }
            if let declared {
                if let type = EntityKeyType(declared) {
                    types.append(type)
                    if let field, !EntityKeyType.columnFits(field.type, type) {
                        problems.append("join key \"\(key)\" is declared \(declared.protoName) but column \"\(field.name)\" is \(field.type)")
                    }
                } else {
                    problems.append("join key \"\(key)\" has type \(declared.protoName), which cannot be an entity key")
                }
            } else if let field {
                if let type = EntityKeyType(column: field.type) {
                    types.append(type)
                } else {
                    problems.append("join key column \"\(field.name)\" is \(field.type), which cannot be an entity key")
                }
            }
        }
        keyTypes = types
        for (i, feature) in view.features.enumerated() {
            guard let field = schema.first(where: { $0.name == featureColumns[i] }) else {
                problems.append("feature column \"\(featureColumns[i])\" is not in the source")
                continue
            }
            if !ColumnValueEncoder.canConvert(field.type, to: feature.type) {
                problems.append("feature \"\(feature.name)\" is declared \(feature.type.name) but column \"\(field.name)\" is \(field.type)")
            }
        }
        if !problems.isEmpty {
            throw ViewSourceError(view: view.name, path: path,
                                  problems.joined(separator: "; ") + " (columns: \(schema.map { "\($0.name): \($0.type)" }.joined(separator: ", ")))",
                                  problems: problems)
        }
    }

    /// Join key columns whose declared key type is STRING: a CSV column of zero-padded or
    /// numeric-looking ids (`00123`) is read as text for them, not inferred as a number.
    static func stringKeyColumns(view: FeatureView, definitions: FeatureDefinitions, joinKeys: [String],
                                 joinKeyColumns: [String]) -> [String] {
        joinKeys.indices.filter { i in
            let key = joinKeys[i]
            let declared = view.entityColumns.first(where: { $0.name == key })?.type.valueType
                ?? definitions.entities.first(where: { $0.joinKey == key && view.entities.contains($0.name) })?.valueType
            return declared == .string
        }.map { joinKeyColumns[$0] }
    }

    /// CSV reading options of a source: its declared `column_types`, and text for the
    /// STRING join keys not declared otherwise.
    public static func csvOptions(source: FileSource, stringKeyColumns: [String]) -> CSVOptions {
        var options = CSVOptions()
        for column in stringKeyColumns { options.columnTypes[column] = .string }
        for (column, type) in source.columnTypes ?? [:] { options.columnTypes[column] = type.columnType }
        return options
    }

    /// A CSV timestamp column that was not inferred as timestamps: read it again as
    /// timestamps to name the first value that does not parse (file, line, column, value).
    static func csvTimestampProblem(column: String, type: ColumnType, path: String, options: CSVOptions) -> String {
        var strict = options
        strict.columnTypes[column] = .timestamp(isAdjustedToUTC: true)
        do {
            let source = try TabularSource(path: path, format: .csv, csvOptions: strict)
            var batches = try source.batches(columns: [column])
            while try batches.next() != nil {}
        } catch let error as CSVError {
            return "\(error)"
        } catch {}
        return "timestamp column \"\(column)\" is \(type), not a timestamp (declare it in the source's column_types to read integers as epoch times)"
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
    /// Each problem on its own (`larder plan` lists them one per line).
    public var problems: [String]

    public init(view: String, path: String, _ message: String, problems: [String]? = nil) {
        self.view = view
        self.path = path
        self.message = message
        self.problems = problems ?? [message]
    }

    public var description: String { "feature view \"\(view)\" (source \(path)): \(message)" }
}
