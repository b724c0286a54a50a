import ArgumentParser
import Foundation
import LarderFeatures
import LarderOffline

/// `larder apply REPO`: validate, then record the definitions as applied in Larder's state
/// database (versions per object). Unlike `feast apply`, removing a view does not delete its
/// online data: that stays until the keys expire or are removed. With `--server`, a running
/// `larder serve --repo REPO` is then asked to load them (FEATURES.RELOAD).
struct ApplyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "apply",
        abstract: "Validate a feature repo and record its definitions as applied; with --server, make a running server load them.")

    @Argument(help: "Feature repo directory.") var repo: String

    @Option(help: ArgumentHelp("A running `larder serve --repo` to reload: redis://[[user]:password@]host:port, rediss:// for TLS (the forms materialize --target takes).",
                               valueName: "url"))
    var server: String?

    @Option(help: "Password for --server (overrides the URL's).") var password: String?

    func run() throws {
        try RepoChecks.validateThenDiff(repo, command: "apply", verb: "applied") { state, loaded in
            try state.apply(repo: loaded)
        }
        guard let server else { return }
        var endpoint: RESPEndpoint
        do {
            endpoint = try RESPEndpoint(url: server)
            if let password { endpoint.password = password }
        } catch {
            throw CLIOutput.fail("apply --server", error)
        }
        // The reply's type is LarderRESP's, inferred here (this target does not import it).
        let answer = Result { try RESPClient(endpoint: endpoint).call([Array("FEATURES.RELOAD".utf8)]) }
        guard case .success(let reply) = answer else {
            if case .failure(let error) = answer { throw CLIOutput.fail("apply --server", error) }
            return
        }
        switch reply {
        case .simple(let s):
            print("server \(endpoint.address): definitions reloaded (\(s))")
        case .error(let message):
            // The server keeps serving its previous definitions; say why it refused.
            printErr("larder apply: the server at \(endpoint.address) did not load the definitions: \(message)")
            throw ExitCode(1)
        default:
            printErr("larder apply: the server at \(endpoint.address) answered FEATURES.RELOAD with \(reply), not OK")
            throw ExitCode(1)
        }
    }
}
