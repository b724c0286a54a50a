import ArgumentParser
import LarderBuildInfo

@main
struct Larder: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "larder",
        abstract: "An online feature store: a Redis-protocol server with Feast-compatible storage and materialization.",
        version: BuildInfo.versionLine,
        subcommands: [ServeCommand.self, InspectCommand.self, CatCommand.self, MaterializeCommand.self,
                      MaterializeIncrementalCommand.self, HistoricalCommand.self,
                      PlanCommand.self, ApplyCommand.self, ClusterCommand.self],
        defaultSubcommand: nil
    )
}
