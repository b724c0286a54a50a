import Yams

/// Reads `feature_store.yaml`. Like Feast, `$VAR` / `${VAR}` are expanded from the
/// environment before parsing (unset variables are left as written, as `os.path.expandvars`
/// does), so the same file works for Feast and Larder.
enum RepoConfigLoader {
    /// Top-level keys Feast's RepoConfig knows. Larder reads some and ignores the rest, but a
    /// key outside this list is reported as a typo.
    static let knownTopLevelKeys = [
        "project", "registry", "provider", "online_store", "offline_store",
        "entity_key_serialization_version", "batch_engine", "feature_server", "flags", "repo_path",
        "coerce_tz_aware", "auth", "materialization", "openlineage", "project_description",
        "mlflow", "feature_view_versioning",
    ]

    static func parse(yaml: String, file: String, environment: [String: String]) throws -> RepoConfig {
        let expanded = expandVariables(yaml, environment: environment)
        let root: Node
        do {
            guard let node = try Yams.compose(yaml: expanded) else {
                throw RepoLoadError(file: file, kind: .invalidValue("the file is empty"))
            }
            root = node
        } catch let error as RepoLoadError {
            throw error
        } catch {
            throw RepoLoadError.yamlSyntax(error, file: file)
        }
        let top = try YAMLObject(root, file: file, object: nil)
        try top.checkKeys(knownTopLevelKeys)

        var config = RepoConfig(project: try top.requiredString("project"))
        if let registryNode = top.node("registry") {
            if case .mapping = registryNode {
                // Feast's long form: registry: {path: ..., registry_type: file, cache_ttl_seconds: ...}
                let registry = try YAMLObject(registryNode, file: file, object: nil, keyPrefix: "registry.",
                                              keyForErrors: "registry")
                config.registryPath = try registry.requiredString("path")
                config.registryType = try registry.string("registry_type")
            } else if let path = try top.string("registry") {
                config.registryPath = path
            }
        }
        if let provider = try top.string("provider") { config.provider = provider }
        if let online = top.node("online_store") {
            config.onlineStore = try parseOnlineStore(online, top: top)
        }
        if let offline = top.node("offline_store") {
            if case .scalar = offline, let type = offline.string {
                config.offlineStore = RepoConfig.OfflineStore(type: type)
            } else if let section = try top.object("offline_store") {
                config.offlineStore = RepoConfig.OfflineStore(type: try section.string("type") ?? "file")
            }
        }
        if let version = try top.int("entity_key_serialization_version") {
            guard let v = EntityKeySerializationVersion(rawValue: version) else {
                throw top.error("entity_key_serialization_version",
                                .invalidValue("unsupported version \(version) (Larder supports 2 and 3)"),
                                node: top.node("entity_key_serialization_version"))
            }
            config.entityKeySerializationVersion = v
        }
        return config
    }

    /// Feast's online store type names (`ONLINE_STORE_CLASS_FOR_TYPE`, Feast 0.6x); Feast also
    /// takes a class path ending in `OnlineStore`.
    static let feastOnlineStoreTypes = [
        "sqlite", "redis", "datastore", "dynamodb", "snowflake.online", "bigtable", "postgres", "hbase", "cassandra",
        "scylladb", "mysql", "hazelcast", "elasticsearch", "remote", "singlestore", "qdrant", "couchbase.online",
        "milvus", "mongodb", "aerospike", "hybrid", "chronon",
    ]

    /// A type Feast would refuse (`type: redsi`) is an error here too, naming it.
    private static func checkOnlineStoreType(_ type: String, in object: YAMLObject, key: String, node: Node?) throws {
        guard !feastOnlineStoreTypes.contains(type), !type.hasSuffix("OnlineStore") else { return }
        throw object.error(key, .invalidValue(
            "unknown online store type '\(type)' (Larder writes to 'redis'; Feast's types: \(feastOnlineStoreTypes.joined(separator: ", ")), or a class path ending in OnlineStore)"),
            node: node)
    }

    private static func parseOnlineStore(_ node: Node, top: YAMLObject) throws -> RepoConfig.OnlineStore {
        if case .scalar = node, let type = node.string {
            try checkOnlineStoreType(type, in: top, key: "online_store", node: node)
            return RepoConfig.OnlineStore(type: type)
        }
        // Other keys (skip_dedup, full_scan_for_deletion, ...) belong to Feast's client and are ignored.
        guard let section = try top.object("online_store") else { return RepoConfig.OnlineStore() }
        var store = RepoConfig.OnlineStore(type: try section.string("type") ?? "sqlite")
        try checkOnlineStoreType(store.type, in: section, key: "type", node: section.node("type"))
        store.connectionString = try section.string("connection_string")
        store.keyTTLSeconds = try section.int("key_ttl_seconds")
        if let ttl = store.keyTTLSeconds, ttl <= 0 {
            throw section.error("key_ttl_seconds", .invalidValue("must be a positive number of seconds"),
                                node: section.node("key_ttl_seconds"))
        }
        if let redisType = try section.string("redis_type") {
            guard let t = RepoConfig.RedisType(rawValue: redisType) else {
                throw section.error("redis_type", .invalidValue(
                    "unknown redis_type '\(redisType)' (expected \(RepoConfig.RedisType.allCases.map(\.rawValue).joined(separator: ", ")))"),
                    node: section.node("redis_type"))
            }
            store.redisType = t
        }
        store.path = try section.string("path")
        if let master = try section.string("sentinel_master") { store.sentinelMaster = master }
        return store
    }

    /// Python's `os.path.expandvars` on POSIX: `$name` and `${name}` with name in
    /// [A-Za-z0-9_]; unknown names and a lone `$` stay unchanged.
    static func expandVariables(_ text: String, environment: [String: String]) -> String {
        func isNameChar(_ c: Character) -> Bool { c == "_" || (c.isASCII && (c.isLetter || c.isNumber)) }
        var out = ""
        var i = text.startIndex
        while i < text.endIndex {
            let c = text[i]
            guard c == "$" else {
                out.append(c)
                i = text.index(after: i)
                continue
            }
            let next = text.index(after: i)
            if next < text.endIndex, text[next] == "{" {
                let nameStart = text.index(after: next)
                if let close = text[nameStart...].firstIndex(of: "}") {
                    let name = String(text[nameStart..<close])
                    if !name.isEmpty, let value = environment[name] {
                        out += value
                    } else {
                        out += text[i...close]
                    }
                    i = text.index(after: close)
                    continue
                }
                out.append(c)
                i = next
                continue
            }
            var end = next
            while end < text.endIndex, isNameChar(text[end]) { end = text.index(after: end) }
            let name = String(text[next..<end])
            if !name.isEmpty, let value = environment[name] {
                out += value
            } else {
                out += text[i..<end]
            }
            i = end
        }
        return out
    }
}
