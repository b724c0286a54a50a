import Foundation
import LarderFeatures

/// One problem found by checking definitions against the actual source files.
public struct DefinitionProblem: Sendable, CustomStringConvertible {
    /// The definitions file (and line) of the object, when it can be found.
    public var location: String
    public var object: String
    public var message: String

    public var description: String { "\(location): \(object): \(message)" }
}

/// `larder plan` checks: every feature view's source opens, and has its join keys, features
/// and timestamp columns with types that fit the declared ones. Unknown entities, sources
/// and duplicate names are already errors of the repo loader (with file and line).
public enum RepoValidation {
    public static func problems(in repo: FeatureRepo) -> [DefinitionProblem] {
        var out: [DefinitionProblem] = []
        for view in repo.definitions.featureViews {
            do {
                _ = try ViewSource(view: view, definitions: repo.definitions, repoDirectory: repo.directory)
            } catch let error as ViewSourceError {
                let location = definitionLocation(of: view.name, in: repo.directory)
                for problem in error.problems {
                    out.append(DefinitionProblem(location: location, object: "feature view \"\(view.name)\" (source \(error.path))",
                                                 message: problem))
                }
            } catch {
                out.append(DefinitionProblem(location: definitionLocation(of: view.name, in: repo.directory),
                                             object: "feature view \"\(view.name)\"", message: "\(error)"))
            }
        }
        return out
    }

    /// `file:line` of the first `name: <name>` in the repo's definition files (the loader's
    /// model does not keep where objects came from).
    static func definitionLocation(of name: String, in directory: String) -> String {
        let files = ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).sorted()
            .filter { ($0.hasSuffix(".yaml") || $0.hasSuffix(".yml")) && $0 != "feature_store.yaml" && !$0.hasPrefix(".") }
        for file in files {
            guard let text = try? String(contentsOfFile: directory + "/" + file, encoding: .utf8) else { continue }
            for (i, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
                if line.contains("name: \(name)") && !line.contains("name: \(name)_") { return "\(file):\(i + 1)" }
            }
        }
        return directory
    }
}
