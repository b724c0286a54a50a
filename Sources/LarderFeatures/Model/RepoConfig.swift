/// The parts of Feast's `feature_store.yaml` that Larder reads.
public struct RepoConfig: Equatable, Codable, Sendable {
    public enum RedisType: String, Codable, Sendable, CaseIterable {
        case redis
        case redisCluster = "redis_cluster"
        case redisSentinel = "redis_sentinel"
    }

    public struct OnlineStore: Equatable, Codable, Sendable {
        /// `redis` (Larder serves the Redis protocol), or Feast's default `sqlite`.
        public var type: String
        /// `host:port[,host:port…][,key=value…]`, as Feast's Redis store reads it.
        public var connectionString: String?
        /// Per-key EXPIRE after each write; nil means keys do not expire.
        public var keyTTLSeconds: Int?
        public var redisType: RedisType
        /// SQLite online store file (Feast's `path`).
        public var path: String?
        /// The master name the sentinels are asked about (`redis_type: redis_sentinel`);
        /// nil means Feast's default, `mymaster`.
        public var sentinelMaster: String?

        public init(type: String = "sqlite", connectionString: String? = nil, keyTTLSeconds: Int? = nil,
                    redisType: RedisType = .redis, path: String? = nil) {
            self.type = type
            self.connectionString = connectionString
            self.keyTTLSeconds = keyTTLSeconds
            self.redisType = redisType
            self.path = path
        }
    }

    public struct OfflineStore: Equatable, Codable, Sendable {
        public var type: String
        public init(type: String = "file") { self.type = type }
    }

    public var project: String
    /// Registry file path, relative to the repo directory unless absolute.
    public var registryPath: String
    /// `registry.registry_type` of Feast's long form (nil when not given; Feast's default is `file`).
    public var registryType: String? = nil
    public var provider: String
    public var onlineStore: OnlineStore
    public var offlineStore: OfflineStore
    public var entityKeySerializationVersion: EntityKeySerializationVersion

    public init(project: String, registryPath: String = "data/registry.db", provider: String = "local",
                onlineStore: OnlineStore = OnlineStore(), offlineStore: OfflineStore = OfflineStore(),
                entityKeySerializationVersion: EntityKeySerializationVersion = .v3) {
        self.project = project
        self.registryPath = registryPath
        self.provider = provider
        self.onlineStore = onlineStore
        self.offlineStore = offlineStore
        self.entityKeySerializationVersion = entityKeySerializationVersion
    }
}

/// A feature repo: its configuration and its definitions.
public struct FeatureRepo: Equatable, Sendable {
    /// Where the definitions were read from.
    public enum DefinitionOrigin: Equatable, Sendable {
        /// Larder's YAML definition files (names relative to the repo).
        case yaml(files: [String])
        /// A Feast file registry written by `feast apply` (path as resolved).
        case feastRegistry(path: String)
    }

    /// The repo directory (relative source paths and the registry path resolve against it).
    public var directory: String
    public var config: RepoConfig
    public var definitions: FeatureDefinitions
    public var origin: DefinitionOrigin
    /// Objects of a Feast registry that Larder cannot use, with the reason (empty for YAML).
    public var skipped: [String]
    /// Feast's recorded materialization windows per view (empty for YAML repos).
    public var feastMaterializationIntervals: [String: [MaterializationInterval]]

    public init(directory: String, config: RepoConfig, definitions: FeatureDefinitions,
                origin: DefinitionOrigin = .yaml(files: []), skipped: [String] = [],
                feastMaterializationIntervals: [String: [MaterializationInterval]] = [:]) {
        self.directory = directory
        self.config = config
        self.definitions = definitions
        self.origin = origin
        self.skipped = skipped
        self.feastMaterializationIntervals = feastMaterializationIntervals
    }
}
