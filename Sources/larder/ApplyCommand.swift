import ArgumentParser
import Foundation
import LarderFeatures
import LarderOffline

/// `larder apply REPO`: validate, then record the definitions as applied in Larder's state
/// database (versions per object). Unlike `feast apply`, removing a view does not delete its
/// online data: that stays until the keys expire or are removed.
struct ApplyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "apply",
        abstract: "Validate a feature repo and record its definitions as applied.")

    @Argument(help: "Feature repo directory.") var repo: String

    func run() throws {
        try RepoChecks.validateThenDiff(repo, command: "apply", verb: "applied") { state, loaded in
            try state.apply(repo: loaded)
        }
    }
}
