import Yams

/// Where a definition came from, for error messages.
struct Origin: Sendable {
    struct Place: Sendable {
        var line: Int
        var column: Int
        /// The scalar's text, for finding the list item a reference error is about.
        var text: String?
    }

    var file: String
    var line: Int?
    var column: Int? = nil
    var object: String
    /// Where each key path of the object's YAML is (`entities`, `entities[0]`, `schema[1].dtype`).
    var places: [String: Place] = [:]

    /// An error at `key`: at the list item holding the unknown name when there is one,
    /// else at the key's value, else at the object.
    func error(_ key: String?, _ kind: RepoLoadError.Kind) -> RepoLoadError {
        var place: Place?
        if let key {
            var wanted: String?
            switch kind {
            case .unknownReference(_, let name, _): wanted = name
            case .unknownFeature(_, let feature): wanted = feature
            default: break
            }
            if let wanted {
                place = places.filter { ($0.key == key || $0.key.hasPrefix(key + "[") || $0.key.hasPrefix(key + "."))
                    && $0.value.text == wanted }
                    .min { ($0.value.line, $0.value.column) < ($1.value.line, $1.value.column) }?.value
            }
            place = place ?? places[key]
        }
        return RepoLoadError(file: file, line: place?.line ?? line, column: place?.column ?? column, object: object,
                             key: key, kind: kind)
    }

    /// The places of every key path under `node`.
    static func places(of node: Node, prefix: String = "", into out: inout [String: Place]) {
        switch node {
        case .mapping(let mapping):
            for (keyNode, value) in mapping {
                guard let key = keyNode.string else { continue }
                let path = prefix.isEmpty ? key : prefix + "." + key
                if let mark = value.mark { out[path] = Place(line: mark.line, column: mark.column, text: value.scalar?.string) }
                places(of: value, prefix: path, into: &out)
            }
        case .sequence(let sequence):
            for (index, item) in sequence.enumerated() {
                let path = prefix + "[\(index)]"
                if let mark = item.mark { out[path] = Place(line: mark.line, column: mark.column, text: item.scalar?.string) }
                places(of: item, prefix: path, into: &out)
            }
        default:
            break
        }
    }
}

/// Definitions as written in one file, before names are resolved across files.
struct ParsedDefinitions {
    struct PushDecl { var name: String; var batchSource: String; var description: String; var tags: [String: String]; var owner: String }
    struct ViewDecl {
        var name: String; var entities: [String]; var schema: [Field]; var ttlSeconds: Int64
        var online: Bool; var offline: Bool; var source: String
        var description: String; var tags: [String: String]; var owner: String
        /// Schema fields whose dtype did not parse (kept with a placeholder type).
        var untypedFields: Set<String> = []
    }
    struct ProjectionDecl { var featureView: String; var features: [String]? }
    struct ServiceDecl { var name: String; var projections: [ProjectionDecl]; var description: String; var tags: [String: String]; var owner: String }

    var entities: [(Entity, Origin)] = []
    var fileSources: [(FileSource, Origin)] = []
    var pushSources: [(PushDecl, Origin)] = []
    var featureViews: [(ViewDecl, Origin)] = []
    var featureServices: [(ServiceDecl, Origin)] = []
    /// Names of objects that were declared but failed to parse, as "<kind>:<name>", so that
    /// references to them do not cause a second, misleading "unknown" error.
    var brokenNames: Set<String> = []
}

/// Parses one definitions file. Each object that fails is reported in `errors` and skipped,
/// so one load reports every broken object.
struct DefinitionFileParser {
    static let sections = ["entities", "file_sources", "push_sources", "feature_views", "feature_services"]

    let file: String
    var parsed = ParsedDefinitions()
    var errors: [RepoLoadError] = []

    init(file: String) { self.file = file }

    mutating func parse(yaml: String) {
        let root: Node
        do {
            guard let node = try Yams.compose(yaml: yaml) else { return } // an empty file defines nothing
            root = node
        } catch {
            errors.append(RepoLoadError.yamlSyntax(error, file: file))
            return
        }
        do {
            let top = try YAMLObject(root, file: file, object: nil)
            try top.checkKeys(Self.sections)
            var errors: [RepoLoadError] = []
            var broken: Set<String> = []
            parsed.entities = try Self.each(top, "entities", kind: "entity", &errors, &broken, Self.entity)
            parsed.fileSources = try Self.each(top, "file_sources", kind: "data_source", &errors, &broken, Self.fileSource)
            parsed.pushSources = try Self.each(top, "push_sources", kind: "data_source", &errors, &broken, Self.pushSource)
            parsed.featureViews = try Self.each(top, "feature_views", kind: "feature_view", &errors, &broken, Self.featureView)
            parsed.featureServices = try Self.each(top, "feature_services", kind: "feature_service", &errors, &broken,
                                                   Self.featureService)
            parsed.brokenNames = broken
            self.errors += errors
        } catch let error as RepoLoadError {
            errors.append(error)
        } catch {
            errors.append(RepoLoadError(file: file, kind: .invalidValue("\(error)")))
        }
    }

    /// Runs `body` for every item of a section; an error in one item is recorded and the
    /// next item is still parsed.
    private static func each<T>(_ top: YAMLObject, _ section: String, kind: String, _ errors: inout [RepoLoadError],
                                _ broken: inout Set<String>, _ parse: (YAMLObject) throws -> T) throws -> [(T, Origin)] {
        guard let items = try top.sequence(section) else { return [] }
        var out: [(T, Origin)] = []
        for (index, item) in items.enumerated() {
            let declaredName = item.mapping?["name"]?.string
            let objectKind = section.hasSuffix("_sources") ? String(section.dropLast()) : kind
            var origin = Origin(file: top.file, line: item.mark?.line, column: item.mark?.column,
                                object: "\(objectKind) \(declaredName.map { "'\($0)'" } ?? "#\(index + 1)")")
            Origin.places(of: item, into: &origin.places)
            let collector = ErrorCollector()
            do {
                let object = try YAMLObject(item, file: top.file, object: origin.object, keyForErrors: "\(section)[\(index)]",
                                            collector: collector)
                let parsed = try parse(object)
                errors += collector.errors
                // An object whose problems leave its identity and references intact (an unknown
                // key, a bad dtype, online: maybe...) still takes part in name resolution, so its
                // broken references are reported in the same run; otherwise it is left out and
                // references to it stay quiet.
                if collector.errors.allSatisfy(Self.isLocal) {
                    out.append((parsed, origin))
                } else if let declaredName {
                    broken.insert("\(kind):\(declaredName)")
                }
            } catch let error as RepoLoadError {
                errors += collector.errors + [error]
                if let declaredName { broken.insert("\(kind):\(declaredName)") }
            }
        }
        return out
    }

    /// An error that does not change what the object is called or what it refers to.
    static func isLocal(_ error: RepoLoadError) -> Bool {
        if case .unknownKey = error.kind { return true }
        guard let key = error.key else { return false }
        if ["online", "offline", "ttl", "description", "tags", "owner", "file_format", "column_types", "field_mapping",
            "created_timestamp_column"].contains(key) { return true }
        // schema[i].dtype / .description / .tags
        if key.hasPrefix("schema["), let dot = key.firstIndex(of: ".") {
            return ["dtype", "description", "tags"].contains(String(key[key.index(after: dot)...]))
        }
        return false
    }

    private static func entity(_ o: YAMLObject) throws -> Entity {
        try o.checkKeys(["name", "join_keys", "value_type", "description", "tags", "owner"])
        let name = try o.requiredString("name")
        var joinKey = name
        if let keys = try o.stringList("join_keys") {
            if keys.count == 1 {
                joinKey = keys[0]
            } else {
                try o.fail(o.error("join_keys", .invalidValue("exactly one join key is supported (Feast's limit), got \(keys.count)"),
                                   node: o.node("join_keys")))
            }
        }
        var valueType: FeastValueType?
        if let typeName = try o.string("value_type") {
            // Feast's ValueType names (INT64) and, for convenience, Feast type names (Int64).
            if let t = FeastValueType(protoName: typeName) ?? FeastType(name: typeName).map(\.valueType),
               [.string, .bytes, .int32, .int64, .unixTimestamp].contains(t) {
                valueType = t
            } else {
                try o.fail(o.error("value_type", .invalidValue(
                    "'\(typeName)' cannot be an entity type (expected STRING, BYTES, INT32, INT64 or UNIX_TIMESTAMP)"),
                    node: o.node("value_type")))
            }
        }
        return Entity(name: name, joinKey: joinKey, valueType: valueType, description: try o.string("description") ?? "",
                      tags: try o.stringMap("tags") ?? [:], owner: try o.string("owner") ?? "")
    }

    private static func fileSource(_ o: YAMLObject) throws -> FileSource {
        try o.checkKeys(["name", "path", "file_format", "timestamp_field", "created_timestamp_column",
                         "field_mapping", "column_types", "description", "tags", "owner"])
        let path = try o.requiredString("path")
        var format: FileFormat?
        if let f = try o.string("file_format") {
            if let parsed = FileFormat(rawValue: f.lowercased()) {
                format = parsed
            } else {
                try o.fail(o.error("file_format", .invalidValue("unknown file_format '\(f)' (expected parquet or csv)"),
                                   node: o.node("file_format")))
            }
        }
        var columnTypes: [String: CSVColumnType]?
        if let declared = try o.stringMap("column_types") {
            if (format ?? FileFormat.inferred(fromPath: path)) != .csv {
                try o.fail(o.error("column_types", .invalidValue("column types can be declared for CSV sources only (Parquet files carry their types)"),
                                   node: o.node("column_types")))
            }
            columnTypes = [:]
            for (column, name) in declared.sorted(by: { $0.key < $1.key }) {
                guard let type = CSVColumnType(name: name) else {
                    let valueNode = o.node("column_types")?.mapping?[column]
                    try o.fail(o.error("column_types", .invalidValue("unknown type '\(name)' for column '\(column)' (expected one of \(CSVColumnType.allowedNames))"),
                                       node: valueNode ?? o.node("column_types")))
                    continue
                }
                columnTypes?[column] = type
            }
        }
        return FileSource(name: try o.requiredString("name"), path: path, fileFormat: format,
                          timestampField: try o.requiredString("timestamp_field"),
                          createdTimestampColumn: try o.string("created_timestamp_column").flatMap { $0.isEmpty ? nil : $0 },
                          fieldMapping: try o.stringMap("field_mapping") ?? [:],
                          description: try o.string("description") ?? "", tags: try o.stringMap("tags") ?? [:],
                          owner: try o.string("owner") ?? "", columnTypes: columnTypes)
    }

    private static func pushSource(_ o: YAMLObject) throws -> ParsedDefinitions.PushDecl {
        try o.checkKeys(["name", "batch_source", "description", "tags", "owner"])
        return .init(name: try o.requiredString("name"), batchSource: try o.requiredString("batch_source"),
                     description: try o.string("description") ?? "", tags: try o.stringMap("tags") ?? [:],
                     owner: try o.string("owner") ?? "")
    }

    private static func featureView(_ o: YAMLObject) throws -> ParsedDefinitions.ViewDecl {
        try o.checkKeys(["name", "entities", "schema", "ttl", "online", "offline", "source", "description", "tags", "owner"])
        var schema: [Field] = []
        var untyped: Set<String> = []
        if let schemaNodes = try o.sequence("schema") {
            for (index, node) in schemaNodes.enumerated() {
                guard let field = try o.soft({ try YAMLObject(node, file: o.file, object: o.object, keyPrefix: "schema[\(index)].",
                                                              keyForErrors: "schema[\(index)]", collector: o.collector) }) else { continue }
                try field.checkKeys(["name", "dtype", "description", "tags"])
                let dtype = try field.requiredString("dtype")
                let name = try field.requiredString("name")
                var type = FeastType.string
                if let parsed = FeastType(name: dtype) {
                    type = parsed
                } else {
                    if !dtype.isEmpty { try field.fail(field.error("dtype", .badTypeName(dtype), node: field.node("dtype"))) }
                    untyped.insert(name)  // a placeholder type: no type checks on it (the load fails anyway)
                }
                schema.append(Field(name: name, type: type,
                                    description: try field.string("description") ?? "", tags: try field.stringMap("tags") ?? [:]))
            }
        } else if o.node("schema") == nil {
            try o.fail(o.error("schema", .missingKey))
        }
        return .init(name: try o.requiredString("name"), entities: try o.stringList("entities") ?? [], schema: schema,
                     ttlSeconds: try o.soft { try ttl(o) } ?? 0, online: try o.bool("online") ?? true, offline: try o.bool("offline") ?? false,
                     source: try o.requiredString("source"), description: try o.string("description") ?? "",
                     tags: try o.stringMap("tags") ?? [:], owner: try o.string("owner") ?? "", untypedFields: untyped)
    }

    private static func ttl(_ o: YAMLObject) throws -> Int64 {
        guard let node = o.node("ttl") else { return 0 }
        if let seconds = node.int, case .scalar(let s) = node, s.style == .plain {
            guard seconds >= 0 else { throw o.error("ttl", .invalidValue("ttl must not be negative"), node: node) }
            return Int64(seconds)
        }
        guard let text = try o.string("ttl"), let seconds = DurationText.seconds(text) else {
            throw o.error("ttl", .invalidValue(
                "ttl must be seconds or a duration like 2d, 48h, 1h30m, 90s (got \(YAMLObject.describe(node)))"), node: node)
        }
        return seconds
    }

    private static func featureService(_ o: YAMLObject) throws -> ParsedDefinitions.ServiceDecl {
        try o.checkKeys(["name", "features", "description", "tags", "owner"])
        guard let items = try o.sequence("features") else { throw o.error("features", .missingKey) }
        var projections: [ParsedDefinitions.ProjectionDecl] = []
        for (index, item) in items.enumerated() {
            if case .scalar(let s) = item, item.null == nil {
                projections.append(.init(featureView: s.string, features: nil))
                continue
            }
            let p = try YAMLObject(item, file: o.file, object: o.object, keyPrefix: "features[\(index)].",
                                   keyForErrors: "features[\(index)]", collector: o.collector)
            try p.checkKeys(["feature_view", "features"])
            projections.append(.init(featureView: try p.requiredString("feature_view"), features: try p.stringList("features")))
        }
        return .init(name: try o.requiredString("name"), projections: projections,
                     description: try o.string("description") ?? "", tags: try o.stringMap("tags") ?? [:],
                     owner: try o.string("owner") ?? "")
    }
}

/// Durations written as `172800`, `172800s`, `2d`, `48h`, `1h30m`, `1w`.
enum DurationText {
    static func seconds(_ text: String) -> Int64? {
        let units: [Character: Int64] = ["w": 604_800, "d": 86_400, "h": 3_600, "m": 60, "s": 1]
        let trimmed = text.filter { !$0.isWhitespace }
        guard !trimmed.isEmpty else { return nil }
        if let plain = Int64(trimmed) { return plain >= 0 ? plain : nil }
        var total: Int64 = 0
        var digits = ""
        for c in trimmed {
            if c.isASCII, c.isNumber {
                digits.append(c)
            } else if let unit = units[c], let n = Int64(digits) {
                let (product, o1) = n.multipliedReportingOverflow(by: unit)
                let (sum, o2) = total.addingReportingOverflow(product)
                guard !o1, !o2 else { return nil }
                total = sum
                digits = ""
            } else {
                return nil
            }
        }
        return digits.isEmpty ? total : nil
    }
}
