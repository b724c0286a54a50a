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
        let config: RepoConfig
        do {
            config = try parseConfig(yaml: try readText(configPath, name: Self.configFileName), file: Self.configFileName)
        } catch let error as RepoLoadError {
            throw RepoLoadFailure(errors: [error])
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
        do {
            let definitions = try parseDefinitions(files: files, project: config.project)
            if !errors.isEmpty { throw RepoLoadFailure(errors: errors) }
            return FeatureRepo(directory: directory, config: config, definitions: definitions)
        } catch let failure as RepoLoadFailure {
            throw RepoLoadFailure(errors: errors + failure.errors)
        }
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
        if !errors.isEmpty { throw RepoLoadFailure(errors: errors) }
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
