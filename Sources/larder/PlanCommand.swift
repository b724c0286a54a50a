import ArgumentParser
import Foundation
import LarderFeatures
import LarderOffline

/// `larder plan REPO`: check the definitions against the source files and show what
/// `larder apply` would change since the last apply.
struct PlanCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plan",
        abstract: "Validate a feature repo against its source files and show what apply would change.")

    @Argument(help: "Feature repo directory.") var repo: String

    func run() throws {
        try RepoChecks.validateThenDiff(repo, command: "plan", verb: "would change") { state, loaded in
            try state.plan(repo: loaded)
        }
    }
}

/// What `plan` and `apply` share: load, validate against the files, compare with the state
/// database; they differ only in whether the comparison is recorded.
enum RepoChecks {
    static func validateThenDiff(_ directory: String, command: String, verb: String,
                                 diff: (RegistryStore, FeatureRepo) throws -> [DefinitionChange]) throws {
        do {
            let loaded = try FeatureRepoLoader().load(directory: directory)
            try report(loaded)
            let state = try MaterializeRun.openState(repoDirectory: directory)
            printChanges(try diff(state, loaded), verb: verb)
        } catch let error as ExitCode {
            throw error
        } catch {
            throw CLIOutput.fail(command, error)
        }
    }

    /// Prints the validation problems; throws (exit 1) if there are any.
    static func report(_ repo: FeatureRepo) throws {
        let definitions = repo.definitions
        switch repo.origin {
        case .yaml(let files):
            print("definitions from YAML: \(files.joined(separator: ", "))")
            let registry = FeatureRepoLoader.registryPath(repo.config, directory: repo.directory)
            if FileManager.default.fileExists(atPath: registry) {
                print("(the Feast registry \(registry) is not read: YAML definitions take precedence)")
            }
        case .feastRegistry(let path):
            print("definitions from the Feast registry \(path) (no YAML definition files in the repo)")
        }
        for skipped in repo.skipped { print("skipped \(skipped)") }
        print("project \(repo.config.project): \(definitions.entities.count) entities, \(definitions.dataSources.count) sources, "
            + "\(definitions.featureViews.count) feature views, \(definitions.featureServices.count) feature services")
        let problems = RepoValidation.problems(in: repo)
        guard problems.isEmpty else {
            for problem in problems { printErr("error: \(problem)") }
            printErr("\(problems.count) problem(s) found; nothing applied")
            throw ExitCode.failure
        }
        print("definitions match their sources")
    }

    static func printChanges(_ changes: [DefinitionChange], verb: String) {
        if changes.isEmpty {
            print("no changes since the last apply")
            return
        }
        print("\(changes.count) object(s) \(verb):")
        for change in changes { print("  \(change)") }
    }
}
