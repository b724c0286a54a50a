import Foundation

/// One difference between the applied definitions and a repo, as `larder plan` prints it.
public struct DefinitionChange: Equatable, Sendable, CustomStringConvertible {
    public enum Action: String, Sendable {
        case added, removed, changed
    }

    public enum ObjectKind: String, CaseIterable, Sendable {
        case config = "project_config"
        case entity
        case dataSource = "data_source"
        case featureView = "feature_view"
        case featureService = "feature_service"
    }

    public var action: Action
    public var kind: ObjectKind
    public var name: String
    /// Version before the change (nil when added).
    public var oldVersion: Int?
    /// Version after the change (nil when removed).
    public var newVersion: Int?
    /// For `changed`: the top-level attributes that differ, in snake_case (`ttl_seconds`).
    public var changedAttributes: [String]
    /// For `changed`: each difference with its value before and after, e.g.
    /// `ttl_seconds changed: 86400 -> 3600` (nested ones as `source.path`, `features[trips].dtype`).
    public var details: [String] = []

    public var description: String {
        switch action {
        case .added:
            return "+ \(kind.rawValue) \(name) (v\(newVersion ?? 1))"
        case .removed:
            return "- \(kind.rawValue) \(name) (was v\(oldVersion ?? 0))"
        case .changed:
            return "~ \(kind.rawValue) \(name) (v\(oldVersion ?? 0) -> v\(newVersion ?? 0)): "
                + (details.isEmpty ? changedAttributes : details).joined(separator: "; ")
        }
    }
}

/// Canonical JSON of each definition: equal objects give equal text, so comparing text
/// finds changes, and the text is stored as the applied version.
enum DefinitionSpecs {
    struct Spec {
        var kind: DefinitionChange.ObjectKind
        var name: String
        var json: String
    }

    static func encode<T: Encodable>(_ value: T) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }

    static func decode<T: Decodable>(_ type: T.Type, _ json: String) throws -> T {
        try JSONDecoder().decode(type, from: Data(json.utf8))
    }

    /// Every object of a repo, in definition order (the config first).
    static func specs(of repo: FeatureRepo) throws -> [Spec] {
        let d = repo.definitions
        var out = [Spec(kind: .config, name: repo.config.project, json: try encode(repo.config))]
        out += try d.entities.map { Spec(kind: .entity, name: $0.name, json: try encode($0)) }
        out += try d.dataSources.map { Spec(kind: .dataSource, name: $0.name, json: try encode($0)) }
        out += try d.featureViews.map { Spec(kind: .featureView, name: $0.name, json: try encode($0)) }
        out += try d.featureServices.map { Spec(kind: .featureService, name: $0.name, json: try encode($0)) }
        return out
    }

    /// Top-level attributes whose JSON differs, as snake_case names.
    static func changedAttributes(old: String, new: String) -> [String] {
        guard let a = try? JSONSerialization.jsonObject(with: Data(old.utf8)) as? [String: Any],
              let b = try? JSONSerialization.jsonObject(with: Data(new.utf8)) as? [String: Any] else {
            return ["definition"]
        }
        // A data source is an enum ({"file": {"_0": {...}}}): compare inside the payload.
        if a.count == 1, b.count == 1, let ka = a.keys.first, ka == b.keys.first,
           let pa = (a[ka] as? [String: Any])?["_0"] as? [String: Any],
           let pb = (b[ka] as? [String: Any])?["_0"] as? [String: Any] {
            return diffKeys(pa, pb)
        }
        if a.count == 1, b.count == 1, a.keys.first != b.keys.first { return ["source_kind"] }
        return diffKeys(a, b)
    }

    /// Every difference between two definitions' JSON with the values before and after,
    /// descending into objects (`source.path`) and lists of named objects (`features[trips].dtype`).
    static func changeDetails(old: String, new: String) -> [String] {
        guard var a = try? JSONSerialization.jsonObject(with: Data(old.utf8)) as? [String: Any],
              var b = try? JSONSerialization.jsonObject(with: Data(new.utf8)) as? [String: Any] else {
            return ["definition changed"]
        }
        if a.count == 1, b.count == 1, let ka = a.keys.first, ka == b.keys.first,
           let pa = (a[ka] as? [String: Any])?["_0"] as? [String: Any],
           let pb = (b[ka] as? [String: Any])?["_0"] as? [String: Any] {
            a = pa; b = pb
        } else if a.count == 1, b.count == 1, let ka = a.keys.first, let kb = b.keys.first, ka != kb {
            return ["source_kind changed: \(snakeCase(ka)) -> \(snakeCase(kb))"]
        }
        var out: [String] = []
        diff(a, b, path: "", into: &out)
        return out
    }

    private static func diff(_ a: Any?, _ b: Any?, path: String, into out: inout [String]) {
        if let x = a as? [String: Any], let y = b as? [String: Any] {
            // An enum payload ({"file": {"_0": {...}}}) reads as its payload.
            if x.count == 1, y.count == 1, let k = x.keys.first, k == y.keys.first,
               let px = (x[k] as? [String: Any])?["_0"], let py = (y[k] as? [String: Any])?["_0"] {
                return diff(px, py, path: path, into: &out)
            }
            for key in Set(x.keys).union(y.keys).sorted() where canonical(x[key] as Any) != canonical(y[key] as Any) || (x[key] == nil) != (y[key] == nil) {
                diff(x[key], y[key], path: path.isEmpty ? snakeCase(key) : path + "." + snakeCase(key), into: &out)
            }
            return
        }
        if let x = a as? [Any], let y = b as? [Any], let nx = names(x), let ny = names(y) {
            let orderA = x.compactMap { ($0 as? [String: Any])?["name"] as? String }
            let orderB = y.compactMap { ($0 as? [String: Any])?["name"] as? String }
            for name in orderA where ny[name] == nil { out.append("\(path)[\(name)] removed: \(text(nx[name]))") }
            for name in orderB {
                guard let before = nx[name] else { out.append("\(path)[\(name)] added: \(text(ny[name]))"); continue }
                if canonical(before) != canonical(ny[name]!) { diff(before, ny[name], path: "\(path)[\(name)]", into: &out) }
            }
            let kept = orderA.filter { ny[$0] != nil }
            if kept != orderB.filter({ nx[$0] != nil }) {
                out.append("\(path) order changed: \(orderA.joined(separator: ", ")) -> \(orderB.joined(separator: ", "))")
            }
            return
        }
        out.append("\(path) changed: \(text(a)) -> \(text(b))")
    }

    /// A list of objects each with a distinct "name", by name; nil otherwise.
    private static func names(_ list: [Any]) -> [String: Any]? {
        var out: [String: Any] = [:]
        for item in list {
            guard let name = (item as? [String: Any])?["name"] as? String, out[name] == nil else { return nil }
            out[name] = item
        }
        return out
    }

    /// A value as compact JSON (`86400`, `"data/a.parquet"`, `{"tier":"gold"}`); absent is `(none)`.
    private static func text(_ value: Any?) -> String {
        guard let value, !(value is NSNull) else { return value == nil ? "(none)" : "null" }
        guard let data = try? JSONSerialization.data(withJSONObject: [value], options: [.sortedKeys, .withoutEscapingSlashes]) else {
            return "\(value)"
        }
        let array = String(decoding: data, as: UTF8.self)
        return String(array.dropFirst().dropLast())
    }

    private static func diffKeys(_ a: [String: Any], _ b: [String: Any]) -> [String] {
        Set(a.keys).union(b.keys).sorted().filter { key in
            switch (a[key], b[key]) {
            case let (x?, y?): return canonical(x) != canonical(y)
            default: return true
            }
        }.map(snakeCase)
    }

    private static func canonical(_ value: Any) -> Data? {
        try? JSONSerialization.data(withJSONObject: [value], options: [.sortedKeys])
    }

    static func snakeCase(_ name: String) -> String {
        var out = ""
        for c in name {
            if c.isUppercase, !out.isEmpty { out.append("_") }
            out += c.lowercased()
        }
        return out
    }
}
