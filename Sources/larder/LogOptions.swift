import ArgumentParser
import LarderBuildInfo
import LarderLog
import Logging

/// `--log-format` and `--log-level` of `larder serve` (docs/deployment.md, "Logs").
struct LogOptions: ParsableArguments {
    @Option(name: .customLong("log-format"), help: "Log line format on standard error: text or json (one JSON object per line).")
    var logFormat: String = "text"

    @Option(name: .customLong("log-level"), help: "Least severe level logged: \(LarderLog.levelNames).")
    var logLevel: String = "info"

    func validate() throws {
        guard LarderLog.Format(rawValue: logFormat) != nil else {
            throw ValidationError("--log-format \"\(logFormat)\": expected text or json")
        }
        guard LarderLog.level(named: logLevel) != nil else {
            throw ValidationError("--log-level \"\(logLevel)\": expected one of \(LarderLog.levelNames)")
        }
    }

    /// Installs the log handler; called first thing in `serve`.
    func bootstrap() {
        LarderLog.bootstrap(format: LarderLog.Format(rawValue: logFormat) ?? .text,
                            level: LarderLog.level(named: logLevel) ?? .info)
    }

    /// The build, for the first line of a server's log.
    static var buildMetadata: Logger.Metadata {
        ["version": .string(BuildInfo.version), "commit": .string(BuildInfo.commit),
         "commit_date": .string(BuildInfo.commitDate), "build": .string(BuildInfo.configuration)]
    }
}
