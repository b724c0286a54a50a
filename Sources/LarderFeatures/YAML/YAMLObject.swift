import Yams

/// Errors recorded while one definition object is parsed, so that all of its problems are
/// reported in one run instead of only the first.
final class ErrorCollector {
    var errors: [RepoLoadError] = []
}

/// Typed, located access to one YAML mapping. Every accessor throws a `RepoLoadError`
/// naming the file, line, object and key when the YAML has the wrong shape; with a
/// `collector`, an accessor records the error instead and returns nil (the key counts as
/// absent; a missing required string reads as ""), so parsing goes on to the next key.
/// A key whose value is YAML null (`key:` or `~`) counts as absent.
struct YAMLObject {
    let mapping: Node.Mapping
    let file: String
    let object: String?
    /// Prefix for key names of nested objects, e.g. `schema[2].`.
    let keyPrefix: String
    let line: Int?
    let column: Int?
    let collector: ErrorCollector?

    init(_ node: Node, file: String, object: String?, keyPrefix: String = "", keyForErrors: String? = nil,
         collector: ErrorCollector? = nil) throws {
        guard case .mapping(let mapping) = node else {
            throw RepoLoadError(file: file, line: node.mark?.line, column: node.mark?.column, object: object, key: keyForErrors,
                                kind: .wrongType(expected: "a mapping", found: YAMLObject.describe(node)))
        }
        self.mapping = mapping
        self.file = file
        self.object = object
        self.keyPrefix = keyPrefix
        self.line = node.mark?.line
        self.column = node.mark?.column
        self.collector = collector
    }

    /// Throws `error`, or records it when collecting.
    func fail(_ error: RepoLoadError) throws {
        guard let collector else { throw error }
        collector.errors.append(error)
    }

    /// Runs `body`; a `RepoLoadError` it throws is recorded (when collecting) and nil returned.
    func soft<T>(_ body: () throws -> T?) throws -> T? {
        do {
            return try body()
        } catch let error as RepoLoadError {
            try fail(error)
            return nil
        }
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
        RepoLoadError(file: file, line: node?.mark?.line ?? line, column: node == nil ? column : node?.mark?.column, object: object,
                      key: key.map { keyPrefix + $0 }, kind: kind)
    }

    /// Rejects keys outside `allowed`, so a typo (`time_stamp_field`) is not silently ignored.
    func checkKeys(_ allowed: [String]) throws {
        for (keyNode, _) in mapping {
            guard let key = keyNode.string else {
                try fail(error(nil, .wrongType(expected: "a string key", found: YAMLObject.describe(keyNode)), node: keyNode))
                continue
            }
            if !allowed.contains(key) {
                try fail(error(key, .unknownKey(allowed: allowed), node: keyNode))
            }
        }
    }

    func node(_ key: String) -> Node? {
        guard let value = mapping[key] else { return nil }
        if case .scalar = value, value.null != nil { return nil }
        return value
    }

    func string(_ key: String) throws -> String? {
        try soft { try strictString(key) }
    }

    private func strictString(_ key: String) throws -> String? {
        guard let value = node(key) else { return nil }
        guard case .scalar(let scalar) = value else {
            throw error(key, .wrongType(expected: "a string", found: YAMLObject.describe(value)), node: value)
        }
        return scalar.string
    }

    func requiredString(_ key: String) throws -> String {
        try soft { () throws -> String in
            guard let value = try strictString(key) else { throw error(key, .missingKey) }
            guard !value.isEmpty else { throw error(key, .invalidValue("must not be empty"), node: node(key)) }
            return value
        } ?? ""
    }

    func bool(_ key: String) throws -> Bool? {
        guard let value = node(key) else { return nil }
        guard case .scalar = value, let b = value.bool else {
            try fail(error(key, .wrongType(expected: "true or false", found: YAMLObject.describe(value)), node: value))
            return nil
        }
        return b
    }

    func int(_ key: String) throws -> Int? {
        guard let value = node(key) else { return nil }
        guard case .scalar = value, let i = value.int else {
            try fail(error(key, .wrongType(expected: "an integer", found: YAMLObject.describe(value)), node: value))
            return nil
        }
        return i
    }

    func sequence(_ key: String) throws -> [Node]? {
        guard let value = node(key) else { return nil }
        guard case .sequence(let seq) = value else {
            try fail(error(key, .wrongType(expected: "a list", found: YAMLObject.describe(value)), node: value))
            return nil
        }
        return Array(seq)
    }

    func stringList(_ key: String) throws -> [String]? {
        try soft { try strictStringList(key) }
    }

    private func strictStringList(_ key: String) throws -> [String]? {
        guard let value = node(key) else { return nil }
        guard case .sequence(let seq) = value else {
            throw error(key, .wrongType(expected: "a list", found: YAMLObject.describe(value)), node: value)
        }
        let items = Array(seq)
        return try items.enumerated().map { index, item in
            guard case .scalar(let s) = item, item.null == nil else {
                throw error("\(key)[\(index)]", .wrongType(expected: "a string", found: YAMLObject.describe(item)), node: item)
            }
            return s.string
        }
    }

    func stringMap(_ key: String) throws -> [String: String]? {
        try soft { try strictStringMap(key) }
    }

    private func strictStringMap(_ key: String) throws -> [String: String]? {
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
                              keyForErrors: keyPrefix + key, collector: collector)
    }
}
