import Foundation

/// Loads a feature repo folder: `feature_store.yaml` plus every other top-level `*.yaml` /
/// `*.yml` file as declarative definitions (format: docs/feature-repo-format.md).
public struct FeatureRepoLoader: Sendable {
    public static let configFileName = "feature_store.yaml"

    public var environment: [String: String]

    public init(environment: [String: String] = ProcessInfo.processInfo.environment) {
        self.environment = environment
    }

    /// Loads and validates the repo; throws `RepoLoadFailure` listing every problem found.
    public func load(directory: String) throws -> FeatureRepo {
        let fm = FileManager.default
        let configPath = (directory as NSString).appendingPathComponent(Self.configFileName)
        guard fm.fileExists(atPath: configPath) else {
            throw RepoLoadFailure(errors: [RepoLoadError(file: Self.configFileName, kind: .missingFile)])
        }
        // A broken feature_store.yaml does not hide the definitions' errors: both are reported.
        var configErrors: [RepoLoadError] = []
        var config = RepoConfig(project: "")
        let configText = try? readText(configPath, name: Self.configFileName)
        do {
            config = try parseConfig(yaml: try readText(configPath, name: Self.configFileName), file: Self.configFileName)
        } catch let error as RepoLoadError {
            configErrors = [error]
        }
        func failure(_ errors: [RepoLoadError], _ texts: [String: String] = [:]) -> RepoLoadFailure {
            var all = texts
            if let configText { all[Self.configFileName] = configText }
            return RepoLoadFailure(errors: errors).attachingSources(all)
        }
        let names: [String]
        do {
            names = try fm.contentsOfDirectory(atPath: directory)
        } catch {
            throw RepoLoadFailure(errors: [RepoLoadError(file: directory, kind: .unreadableFile("\(error)"))])
        }
        var files: [(name: String, yaml: String)] = []
        var errors: [RepoLoadError] = []
        for name in names.sorted() where Self.isDefinitionFile(name) {
            do {
                files.append((name, try readText((directory as NSString).appendingPathComponent(name), name: name)))
            } catch let error as RepoLoadError {
                errors.append(error)
            }
        }
        // The rule: YAML definition files, when the repo has any, are the definitions and the
        // registry is not read; otherwise the Feast registry that feature_store.yaml names is.
        let definitionFiles = names.sorted().filter(Self.isDefinitionFile)
        if definitionFiles.isEmpty {
            if !configErrors.isEmpty { throw failure(configErrors) }
            return try loadFeastRegistry(directory: directory, config: config)
        }
        let texts = Dictionary(files.map { ($0.name, $0.yaml) }, uniquingKeysWith: { first, _ in first })
        do {
            let definitions = try parseDefinitions(files: files, project: config.project)
            if !errors.isEmpty || !configErrors.isEmpty { throw failure(configErrors + errors, texts) }
            return FeatureRepo(directory: directory, config: config, definitions: definitions,
                               origin: .yaml(files: definitionFiles))
        } catch let failed as RepoLoadFailure {
            throw failure(configErrors + errors + failed.errors, texts)
        }
    }

    /// Where Feast resolves the registry path: absolute as given, else relative to the repo.
    public static func registryPath(_ config: RepoConfig, directory: String) -> String {
        let path = config.registryPath
        if path.hasPrefix("/") { return path }
        if path.hasPrefix("file://") { return String(path.dropFirst("file://".count)) }
        return (directory as NSString).appendingPathComponent(path)
    }

    /// Reads the definitions of a repo without YAML files from its Feast file registry.
    func loadFeastRegistry(directory: String, config: RepoConfig) throws -> FeatureRepo {
        func fail(_ detail: String) -> RepoLoadFailure {
            RepoLoadFailure(errors: [RepoLoadError(file: Self.configFileName, key: "registry", kind: .invalidValue(detail))])
        }
        let configured = config.registryPath
        if let type = config.registryType?.lowercased(), type != "file" {
            throw fail("registry_type '\(type)' is not supported (Larder reads only Feast's file registry); "
                + "use registry_type: file and run `feast apply`, or write YAML definitions (docs/feature-repo-format.md)")
        }
        for scheme in ["s3://", "gs://", "gcs://", "az://", "abfs://", "http://", "https://", "grpc://",
                       "postgresql", "mysql", "sqlite://", "snowflake://"] where configured.lowercased().hasPrefix(scheme) {
            throw fail("registry '\(configured)' is not a local file (Larder reads only Feast's file registry); "
                + "copy it locally and point registry: at the file, or write YAML definitions (docs/feature-repo-format.md)")
        }
        let path = Self.registryPath(config, directory: directory)
        guard FileManager.default.fileExists(atPath: path) else {
            throw fail("no definitions found: no YAML definition files (*.yaml, *.yml) in \(directory) and no Feast "
                + "registry at \(path); run `feast apply` in the repo to write the registry, or write YAML "
                + "definitions (docs/feature-repo-format.md)")
        }
        let registry: FeastRegistry
        do {
            registry = try FeastRegistryReader.read(path: path, project: config.project)
        } catch let error as FeastRegistryError {
            throw fail("\(error) (registry \(path)); run `feast apply` to rewrite it, or write YAML definitions")
        }
        let d = registry.definitions
        if d.entities.isEmpty && d.dataSources.isEmpty && d.featureViews.isEmpty && d.featureServices.isEmpty {
            var detail = "no definitions found: the Feast registry \(path) holds no object Larder can use for project '\(config.project)'"
            if !registry.skipped.isEmpty { detail += " (skipped: \(registry.skipped.joined(separator: "; ")))" }
            throw fail(detail)
        }
        return FeatureRepo(directory: directory, config: config, definitions: d, origin: .feastRegistry(path: path),
                           skipped: registry.skipped, feastMaterializationIntervals: registry.materializationIntervals)
    }

    static func isDefinitionFile(_ name: String) -> Bool {
        guard !name.hasPrefix("."), name != configFileName, name != "feature_store.yml" else { return false }
        return name.hasSuffix(".yaml") || name.hasSuffix(".yml")
    }

    public func parseConfig(yaml: String, file: String = FeatureRepoLoader.configFileName) throws -> RepoConfig {
        try RepoConfigLoader.parse(yaml: yaml, file: file, environment: environment)
    }

    /// Parses and resolves definition files given as (file name, YAML text).
    public func parseDefinitions(files: [(name: String, yaml: String)], project: String) throws -> FeatureDefinitions {
        var parsed: [ParsedDefinitions] = []
        var errors: [RepoLoadError] = []
        for file in files {
            var parser = DefinitionFileParser(file: file.name)
            parser.parse(yaml: file.yaml)
            parsed.append(parser.parsed)
            errors += parser.errors
        }
        var resolver = DefinitionResolver()
        let definitions = resolver.resolve(project: project, files: parsed)
        errors += resolver.errors
        if !errors.isEmpty {
            throw RepoLoadFailure(errors: errors)
                .attachingSources(Dictionary(files.map { ($0.name, $0.yaml) }, uniquingKeysWith: { first, _ in first }))
        }
        return definitions
    }

    private func readText(_ path: String, name: String) throws -> String {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw RepoLoadError(file: name, kind: .unreadableFile("cannot open \(path)"))
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw RepoLoadError(file: name, kind: .unreadableFile("not UTF-8 text"))
        }
        return text
    }
}
