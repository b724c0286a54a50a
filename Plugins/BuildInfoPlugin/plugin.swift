import Foundation
import PackagePlugin

/// Bakes the git commit and its date into the `LarderBuildInfo` module at build time, so
/// `larder --version` says which code a binary is. A prebuild command runs on every build; the
/// script rewrites the generated file only when its content changes, so an unchanged tree
/// compiles nothing. Without git (a source tarball, a Docker context without .git) the values
/// come from LARDER_BUILD_COMMIT / LARDER_BUILD_DATE, or read "unknown": plain `swift build`
/// always works.
@main
struct BuildInfoPlugin: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: Target) throws -> [Command] {
        let output = context.pluginWorkDirectoryURL.appending(path: "generated")
        let script = context.package.directoryURL.appending(path: "Plugins/BuildInfoPlugin/build-info.sh")
        var environment: [String: String] = [:]
        for name in ["LARDER_BUILD_COMMIT", "LARDER_BUILD_DATE", "PATH"] {
            if let value = ProcessInfo.processInfo.environment[name] { environment[name] = value }
        }
        return [.prebuildCommand(
            displayName: "Larder build info (git commit)",
            executable: URL(filePath: "/bin/sh"),
            arguments: [script.path(), context.package.directoryURL.path(), output.path()],
            environment: environment,
            outputFilesDirectory: output)]
    }
}
