import Yams

/// Typed, located access to one YAML mapping. Every accessor throws a `RepoLoadError`
/// naming the file, line, object and key when the YAML has the wrong shape. A key whose
/// value is YAML null (`key:` or `~`) counts as absent.
struct YAMLObject {
    let mapping: Node.Mapping
    let file: String
    let object: String?
    /// Prefix for key names of nested objects, e.g. `schema[2].`.
    let keyPrefix: String
    let line: Int?

    init(_ node: Node, file: String, object: String?, keyPrefix: String = "", keyForErrors: String? = nil) throws {
        guard case .mapping(let mapping) = node else {
            throw RepoLoadError(file: file, line: node.mark?.line, object: object, key: keyForErrors,
                                kind: .wrongType(expected: "a mapping", found: YAMLObject.describe(node)))
        }
        self.mapping = mapping
        self.file = file
        self.object = object
        self.keyPrefix = keyPrefix
        self.line = node.mark?.line
    }

    static func describe(_ node: Node) -> String {
        switch node {
        case .mapping: return "a mapping"
        case .sequence: return "a list"
        case .alias: return "an alias"
        case .scalar(let s):
            if node.null != nil { return "null" }
            if s.style == .plain, node.int != nil { return "the number \(s.string)" }
            if s.style == .plain, node.bool != nil { return "the boolean \(s.string)" }
            return "the string '\(s.string)'"
        }
    }

    func error(_ key: String?, _ kind: RepoLoadError.Kind, node: Node? = nil) -> RepoLoadError {
        RepoLoadError(file: file, line: node?.mark?.line ?? line, object: object,
                      key: key.map { keyPrefix + $0 }, kind: kind)
    }

    /// Rejects keys outside `allowed`, so a typo (`time_stamp_field`) is not silently ignored.
    func checkKeys(_ allowed: [String]) throws {
        for (keyNode, _) in mapping {
            guard let key = keyNode.string else {
                throw error(nil, .wrongType(expected: "a string key", found: YAMLObject.describe(keyNode)), node: keyNode)
            }
            if !allowed.contains(key) {
                throw error(key, .unknownKey(allowed: allowed), node: keyNode)
            }
        }
    }

    func node(_ key: String) -> Node? {
        guard let value = mapping[key] else { return nil }
        if case .scalar = value, value.null != nil { return nil }
        return value
    }

    func string(_ key: String) throws -> String? {
        guard let value = node(key) else { return nil }
        guard case .scalar(let scalar) = value else {
            throw error(key, .wrongType(expected: "a string", found: YAMLObject.describe(value)), node: value)
        }
        return scalar.string
    }

    func requiredString(_ key: String) throws -> String {
        guard let value = try string(key) else { throw error(key, .missingKey) }
        guard !value.isEmpty else { throw error(key, .invalidValue("must not be empty"), node: node(key)) }
        return value
    }

    func bool(_ key: String) throws -> Bool? {
        guard let value = node(key) else { return nil }
        guard case .scalar = value, let b = value.bool else {
            throw error(key, .wrongType(expected: "true or false", found: YAMLObject.describe(value)), node: value)
        }
        return b
    }

    func int(_ key: String) throws -> Int? {
        guard let value = node(key) else { return nil }
        guard case .scalar = value, let i = value.int else {
            throw error(key, .wrongType(expected: "an integer", found: YAMLObject.describe(value)), node: value)
        }
        return i
    }

    func sequence(_ key: String) throws -> [Node]? {
        guard let value = node(key) else { return nil }
        guard case .sequence(let seq) = value else {
            throw error(key, .wrongType(expected: "a list", found: YAMLObject.describe(value)), node: value)
        }
        return Array(seq)
    }

    func stringList(_ key: String) throws -> [String]? {
        guard let items = try sequence(key) else { return nil }
        return try items.enumerated().map { index, item in
            guard case .scalar(let s) = item, item.null == nil else {
                throw error("\(key)[\(index)]", .wrongType(expected: "a string", found: YAMLObject.describe(item)), node: item)
            }
            return s.string
        }
    }

    func stringMap(_ key: String) throws -> [String: String]? {
        guard let value = node(key) else { return nil }
        guard case .mapping(let m) = value else {
            throw error(key, .wrongType(expected: "a mapping of strings", found: YAMLObject.describe(value)), node: value)
        }
        var out: [String: String] = [:]
        for (k, v) in m {
            guard case .scalar(let ks) = k, case .scalar(let vs) = v else {
                throw error(key, .wrongType(expected: "a mapping of strings", found: "a nested value"), node: v)
            }
            out[ks.string] = vs.string
        }
        return out
    }

    /// A nested mapping under `key`, with keys reported as `key.sub`.
    func object(_ key: String) throws -> YAMLObject? {
        guard let value = node(key) else { return nil }
        return try YAMLObject(value, file: file, object: object, keyPrefix: keyPrefix + key + ".",
                              keyForErrors: keyPrefix + key)
    }
}
