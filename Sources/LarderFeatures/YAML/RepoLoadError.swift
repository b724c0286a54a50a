/// A problem in a feature repo, located as precisely as the YAML allows: the file (relative
/// to the repo), the line, the object (`feature_view 'driver_hourly_stats'`) and the key
/// (`schema[2].dtype`).
public struct RepoLoadError: Error, Equatable, CustomStringConvertible, Sendable {
    public enum Kind: Equatable, Sendable {
        case missingFile
        case unreadableFile(String)
        case yamlSyntax(String)
        case wrongType(expected: String, found: String)
        case missingKey
        case unknownKey(allowed: [String])
        case duplicateName(kind: String, name: String, firstDefinedIn: String)
        case unknownReference(kind: String, name: String, known: [String])
        case unknownFeature(view: String, feature: String)
        case badTypeName(String)
        case invalidValue(String)
    }

    public var file: String
    public var line: Int?
    public var object: String?
    public var key: String?
    public var kind: Kind

    public init(file: String, line: Int? = nil, object: String? = nil, key: String? = nil, kind: Kind) {
        self.file = file
        self.line = line
        self.object = object
        self.key = key
        self.kind = kind
    }

    public var message: String {
        switch kind {
        case .missingFile: return "file not found"
        case .unreadableFile(let reason): return "cannot read file: \(reason)"
        case .yamlSyntax(let detail): return "invalid YAML: \(detail)"
        case let .wrongType(expected, found): return "expected \(expected), found \(found)"
        case .missingKey: return "required key is missing"
        case .unknownKey(let allowed): return "unknown key (allowed: \(allowed.joined(separator: ", ")))"
        case let .duplicateName(kind, name, first):
            return "duplicate \(kind) name '\(name)' (first defined in \(first))"
        case let .unknownReference(kind, name, known):
            let list = known.isEmpty ? "none defined" : "defined: \(known.joined(separator: ", "))"
            return "unknown \(kind) '\(name)' (\(list))"
        case let .unknownFeature(view, feature): return "feature view '\(view)' has no feature '\(feature)'"
        case .badTypeName(let name):
            return "unknown type '\(name)' (expected one of \(FeastType.allNames.joined(separator: ", ")))"
        case .invalidValue(let detail): return detail
        }
    }

    public var description: String {
        var location = file
        if let line { location += ":\(line)" }
        var parts = [location]
        if let object { parts.append(object) }
        if let key { parts.append("key '\(key)'") }
        return parts.joined(separator: ": ") + ": " + message
    }
}

/// Every problem found while loading a repo (loading goes on after an error so that one run
/// reports them all).
public struct RepoLoadFailure: Error, CustomStringConvertible, Sendable {
    public var errors: [RepoLoadError]

    public init(errors: [RepoLoadError]) { self.errors = errors }

    public var description: String {
        "feature repo has \(errors.count) error\(errors.count == 1 ? "" : "s"):\n"
            + errors.map { "  " + $0.description }.joined(separator: "\n")
    }
}
