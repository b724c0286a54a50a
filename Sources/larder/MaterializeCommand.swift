import ArgumentParser
import LarderParquet
import Foundation
import LarderFeatures
import LarderOffline
import LarderServer
import LarderServing
import LarderStore

/// Options shared by `materialize` and `materialize-incremental`.
struct MaterializeTargetOptions: ParsableArguments {
    @Option(name: .long, help: "Only these feature views (comma-separated).")
    var views: String?

    @Option(name: .long, help: "Target server: redis://[[user]:password@]host:port[/db], or a Redis Cluster: redis-cluster://[[user]:password@]host:port[,host:port...] (rediss:// / rediss-cluster:// for TLS; default: the repo's online_store).")
    var target: String?

    // N processes (a Kubernetes Indexed Job) each write a deterministic share of the entities.
    @Option(name: .long, help: ArgumentHelp("Split the entities among N workers (processes or pods); this one writes its share only.", valueName: "n"))
    var workers: Int?

    @Option(name: .long, help: ArgumentHelp("This worker's index, 0..N-1 (default: $JOB_COMPLETION_INDEX of a Kubernetes Indexed Job).", valueName: "i"))
    var worker: Int?

    /// The worker share from `--workers`/`--worker` or `JOB_COMPLETION_INDEX`; nil for a whole run.
    func workerShare() throws -> WorkerShare? {
        guard let workers else {
            if worker != nil { throw CLIUsageError("--worker needs --workers N") }
            return nil
        }
        guard workers >= 1 else { throw CLIUsageError("--workers must be 1 or more") }
        var index = worker
        if index == nil, let text = ProcessInfo.processInfo.environment["JOB_COMPLETION_INDEX"] {
            guard let parsed = Int(text) else { throw CLIUsageError("JOB_COMPLETION_INDEX \"\(text)\" is not a number") }
            index = parsed
        }
        guard let index else {
            throw CLIUsageError("--workers \(workers) needs --worker I (0..\(workers - 1)) or $JOB_COMPLETION_INDEX (a Kubernetes Indexed Job)")
        }
        guard (0 ..< workers).contains(index) else {
            throw CLIUsageError("worker index \(index) is outside 0..\(workers - 1) (--workers \(workers))")
        }
        return try WorkerShare(count: workers, index: index)
    }

    @Option(name: .long, help: "Password for the target server (overrides the URL's).")
    var password: String?

    // --plan prints what the run will read and its predicted peak memory, then stops.
    @Flag(name: .long, help: "Print what the run would read and its predicted peak memory; do nothing else.")
    var plan = false

    @Option(name: .long, help: "Output of --plan: text, json, or k8s-resources (a resources block for the CronJob).")
    var format: String = "text"

    @Flag(name: .long, help: "Skip views already recorded as materialized over the whole window (a retried job).")
    var resume = false

    @Option(name: .customLong("stop-grace"), help: "Seconds a SIGTERM/SIGINT waits for the current view before exiting.")
    var stopGrace: Double = 5

    @Option(name: .customLong("checkpoint-seconds"), help: ArgumentHelp("Save a view's read at file boundaries at most this often (0: after every file), so a stopped or killed run resumes after the finished files (docs/deployment.md).", valueName: "seconds"))
    var checkpointSeconds: Double = 60

    @Flag(name: .customLong("no-checkpoints"), help: "Do not save reads at file boundaries.")
    var noCheckpoints = false

    /// Acts as a SIGTERM arriving once this many files of a view are read (tests).
    @Option(name: .customLong("stop-after-files"), help: .hidden)
    var stopAfterFiles: Int?

    // password from a file (a mounted Kubernetes Secret), not on the command line.
    @Option(name: .customLong("password-file"), help: "Read the target server's password from this file (first line).")
    var passwordFile: String?

    func passwordFromFile() throws -> String? {
        guard let passwordFile else { return nil }
        if password != nil { throw CLIUsageError("give --password or --password-file, not both") }
        guard let data = FileManager.default.contents(atPath: passwordFile),
              let text = String(data: data, encoding: .utf8) else {
            throw CLIUsageError("--password-file \(passwordFile): cannot read the file")
        }
        let line = text.split(separator: "\n", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? ""
        let password = line.hasSuffix("\r") ? String(line.dropLast()) : line
        guard !password.isEmpty else { throw CLIUsageError("--password-file \(passwordFile): the first line is empty") }
        return password
    }

    @Option(name: .customLong("batch-size"), help: "Entities per pipelined HMGET/HSET round trip.")
    var batchSize: Int = 1000

    /// Benchmarks: the server's absorb floor (bench/materialize/floor.sh replays the file).
    @Option(name: .customLong("dump-resp"), help: ArgumentHelp("Connect to nothing: write to this file the RESP commands the run would send into an empty store (replay it with `redis-cli --pipe` to time the server alone).", valueName: "file"))
    var dumpResp: String?

    @Flag(name: .customLong("no-progress"), help: "No progress bar even on a terminal.")
    var noProgress = false

    @Option(name: .long, help: ArgumentHelp("Seconds each send and receive to the target may wait before the run fails (default: the connection_string's socket_timeout, else $LARDER_TARGET_TIMEOUT_SECONDS, else 30).", valueName: "seconds"))
    var timeout: Double?

    @Option(name: .customLong("connect-timeout"), help: ArgumentHelp("Seconds to establish the connection (default: socket_connect_timeout, else the --timeout value).", valueName: "seconds"))
    var connectTimeout: Double?

    @Option(name: .long, help: ArgumentHelp("Reconnects (with backoff: 0.5 s, 1 s, 2 s...) after the connection drops during a batch; 0 fails at once.", valueName: "n"))
    var retries: Int = 3

    func endpoint(repo: FeatureRepo) throws -> RESPEndpoint {
        var endpoint: RESPEndpoint
        if let target {
            endpoint = try RESPEndpoint(url: target)
        } else if let connection = repo.config.onlineStore.connectionString, repo.config.onlineStore.type == "redis" {
            endpoint = try RESPEndpoint(connectionString: connection)
            endpoint.cluster = repo.config.onlineStore.redisType == .redisCluster
        } else {
            throw CLIUsageError("no --target given and feature_store.yaml has no redis online_store connection_string")
        }
        if let password { endpoint.password = password }
        if let fromFile = try passwordFromFile() { endpoint.password = fromFile }
        return endpoint
    }

    /// Timeouts: the flag, else the connection string's redis-py `socket_timeout` /
    /// `socket_connect_timeout`, else `LARDER_TARGET_TIMEOUT_SECONDS`, else 30 s.
    func clientOptions(for endpoint: RESPEndpoint) throws -> RESPClientOptions {
        var options = RESPClientOptions.fromEnvironment()
        for (name, value) in [("--timeout", timeout), ("--connect-timeout", connectTimeout)] {
            if let value, !(value > 0 && value.isFinite) { throw CLIUsageError("\(name) must be a number of seconds greater than 0") }
        }
        guard retries >= 0 else { throw CLIUsageError("--retries must be 0 or more") }
        if let t = timeout ?? endpoint.socketTimeout {
            options.timeoutSeconds = t
            options.connectTimeoutSeconds = t
        }
        if let c = connectTimeout ?? endpoint.socketConnectTimeout { options.connectTimeoutSeconds = c }
        options.reconnectAttempts = retries
        return options
    }

    /// The target: the server of `--target` or the connection string, or, for
    /// `redis_type: redis_sentinel` (without `--target`), the primary the sentinels name.
    func openTarget(repo: FeatureRepo) throws -> (sink: MaterializationSink, name: String) {
        if let dumpResp { return (try RESPDumpSink(path: dumpResp), "the RESP stream in \(dumpResp)") }
        let endpoint = try endpoint(repo: repo)
        let options = try clientOptions(for: endpoint)
        if endpoint.cluster {
            // redis_type: redis_cluster, or a redis-cluster:// target: keys go to their slot's primary.
            let cluster = try RESPClusterTarget(endpoint: endpoint, options: options)
            cluster.onReconnect = { printErr("larder: \($0)") }
            printErr("\(endpoint.clusterDescription): \(cluster.layout)")
            return (cluster, endpoint.clusterDescription)
        }
        let target: RESPTarget
        if self.target == nil, repo.config.onlineStore.redisType == .redisSentinel {
            let master = repo.config.onlineStore.sentinelMaster ?? "mymaster"
            target = try RESPTarget(options: options) {
                let found = try RESPSentinel.primary(of: endpoint, masterName: master, options: options)
                printErr("sentinel \(found.sentinel): the primary of '\(master)' is \(found.primary.address)")
                return found.primary
            }
        } else {
            target = try RESPTarget(endpoint: endpoint, options: options)
        }
        target.onReconnect = { printErr("larder: \($0)") }
        return (target, target.client.endpoint.description)
    }

    /// The part both materialize commands share once the views and windows are known:
    /// `--plan` output, or the run into the target with progress, SIGTERM handling and summary.
    func execute(_ run: MaterializeRun, views: [(FeatureView, Int64)], end: Int64, kind: String) throws {
        if plan { return try MaterializePlanOutput.print(run: run, views: views, end: end, format: format) }
        var run = run
        let share = try workerShare()
        run.materializer.share = share.flatMap { $0.count > 1 ? $0 : nil }  // --workers 1 keeps the Int64 fast path
        if let share, share.count > 1 {
            printErr("\(share): writing the entities whose key hashes to \(share.index) modulo \(share.count)")
            run.onWorkerRecorded = { view, finished in
                printErr("\(view): \(share) recorded; \(finished) of \(share.count) workers have finished this window"
                    + (finished == share.count ? " (the view's window is recorded)" : " (the view's window is recorded when all have)"))
            }
        }
        let target = try openTarget(repo: run.repo)
        if dumpResp != nil { run.state = nil }  // nothing was written anywhere: record no interval
        let reporter = MaterializeReporter(enabled: !noProgress)
        let stop = MaterializeStopSignal(graceSeconds: stopGrace)
        run.shouldStop = stop.requested
        run.checkpointSeconds = noCheckpoints ? nil : max(0, checkpointSeconds)
        run.stopAfterFiles = stopAfterFiles
        run.log = { printErr("larder: \($0)") }
        let results = try withExtendedLifetime(stop) {
            try run.run(views: views, end: end, into: target.sink, kind: kind, progress: reporter.update)
        }
        reporter.summary(results, target: target.name)
    }

    /// Runs a materialize command's body: a stop by signal exits 143 (the views done stay
    /// recorded), any other error is printed as `larder COMMAND: ...`.
    static func reportingFailures(of command: String, _ body: () throws -> Void) throws {
        // Batch jobs reuse freed column buffers instead of page-faulting them in again (bench/results/parquet.md).
        ParquetMemory.keepFreedMemoryForReuse()
        do {
            try body()
        } catch let error as ExitCode {
            throw error
        } catch let stopped as MaterializeStopped {
            printErr("larder: \(stopped)")
            throw ExitCode(143)
        } catch let stopped as MaterializeStoppedInView {
            printErr("larder: \(stopped)")
            throw ExitCode(143)
        } catch {
            throw CLIOutput.fail(command, error)
        }
    }
}

struct MaterializeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "materialize",
        abstract: "Write the latest feature values of [START, END] from the offline sources into a RESP online store, as Feast does.")

    @Argument(help: "Feature repo directory (feature_store.yaml and YAML definitions).") var repo: String
    @Argument(help: "Window start: ISO 8601 (UTC when no zone) or epoch seconds.") var start: String
    @Argument(help: "Window end (inclusive, like Feast's file offline store).") var end: String
    @OptionGroup var options: MaterializeTargetOptions

    func run() throws {
        try MaterializeTargetOptions.reportingFailures(of: "materialize") {
            let loaded = try FeatureRepoLoader().load(directory: repo)
            guard let startNanos = TimestampText.nanoseconds(start) else { throw CLIUsageError("bad START \"\(start)\"") }
            guard let endNanos = TimestampText.nanoseconds(end) else { throw CLIUsageError("bad END \"\(end)\"") }
            guard startNanos <= endNanos else { throw CLIUsageError("START \(start) is after END \(end)") }
            var run = MaterializeRun(repo: loaded, state: try MaterializeRun.openState(repoDirectory: repo))
            run.materializer.batchSize = options.batchSize
            var views = try run.materializer.viewsToMaterialize(named: options.views.map(CLIOptions.columnList))
            if options.resume, let state = run.state {  // a retried job skips what a stopped one finished
                views = try views.filter { view in
                    // A worker skips what it (this index of the same N) finished itself.
                    let name = try options.workerShare().map { $0.count > 1 ? $0.stateName(of: view.name) : view.name } ?? view.name
                    let done = try state.materializationIntervals(project: loaded.config.project, view: name).contains {
                        $0.start.seconds * 1_000_000_000 + Int64($0.start.nanos) <= startNanos
                            && $0.end.seconds * 1_000_000_000 + Int64($0.end.nanos) >= endNanos
                    }
                    if done { printErr("\(view.name): already materialized over this window (--resume): skipped") }
                    return !done
                }
            }
            try options.execute(run, views: views.map { ($0, startNanos) }, end: endNanos, kind: "materialize")
        }
    }
}

struct MaterializeIncrementalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "materialize-incremental",
        abstract: "Materialize each view from the end of its last materialized interval up to END.")

    @Argument(help: "Feature repo directory.") var repo: String
    @Argument(help: "Window end: ISO 8601 (UTC when no zone) or epoch seconds.") var end: String
    @OptionGroup var options: MaterializeTargetOptions

    func run() throws {
        try MaterializeTargetOptions.reportingFailures(of: "materialize-incremental") {
            let loaded = try FeatureRepoLoader().load(directory: repo)
            guard let endNanos = TimestampText.nanoseconds(end) else { throw CLIUsageError("bad END \"\(end)\"") }
            var run = MaterializeRun(repo: loaded, state: try MaterializeRun.openState(repoDirectory: repo))
            run.materializer.batchSize = options.batchSize
            let now = Int64(Date().timeIntervalSince1970 * 1e9)
            let views = try run.materializer.viewsToMaterialize(named: options.views.map(CLIOptions.columnList))
            let starts = try views.map { ($0, try run.incrementalStartAndOrigin(of: $0, now: now)) }
            // END before where a view starts would be a backwards window: refuse, naming both times.
            let backwards = starts.filter { $0.1.start > endNanos }
            if !backwards.isEmpty {
                throw CLIUsageError(backwards.map { view, start in
                    "END \(TimeText.iso(endNanos)) is before \(TimeText.iso(start.start)), \(start.origin)"
                }.joined(separator: "; ") + " (to redo a past window use `larder materialize REPO START END`)")
            }
            let plan = starts.map { ($0.0, $0.1.start) }
            for (view, start) in plan {
                printErr("\(view.name): from \(TimeText.iso(start)) to \(TimeText.iso(endNanos))")
            }
            try options.execute(run, views: plan, end: endNanos, kind: "materialize-incremental")
        }
    }
}

func printErr(_ text: String) {
    _ = (text + "\n").withCString { fputs($0, stderr) }
}

enum TimeText {
    static func iso(_ nanos: Int64) -> String {
        let date = Date(timeIntervalSince1970: Double(nanos) / 1e9)
        let formatter = ISO8601DateFormatter()
        formatter.timeZone = TimeZone(identifier: "UTC")
        return formatter.string(from: date)
    }
}

/// Progress bar on a terminal (rows/s and ETA once measured, see `MaterializeProgress.line`)
/// and the summary at the end.
final class MaterializeReporter {
    let interactive: Bool
    let started = Date()
    var lastDraw = Date.distantPast

    init(enabled: Bool) {
        interactive = enabled && isatty(STDERR_FILENO) != 0
    }

    func update(_ progress: MaterializeProgress) {
        guard interactive else { return }
        let now = Date()
        guard now.timeIntervalSince(lastDraw) > 0.1 else { return }
        lastDraw = now
        _ = ("\r\u{1B}[K" + progress.line).withCString { fputs($0, stderr) }
    }

    func summary(_ results: [ViewMaterializeResult], target: String) {
        if interactive { _ = "\r\u{1B}[K".withCString { fputs($0, stderr) } }
        let seconds = Date().timeIntervalSince(started)
        for r in results {
            print("\(r.view): \(r.rowsRead) rows read, \(r.entities) entities, \(r.written) written, \(r.skipped) skipped, "
                + "\(r.bytes) bytes, " + String(format: "%.2fs (source %.2fs, store %.2fs)", r.seconds, r.readSeconds, r.seconds - r.readSeconds))
        }
        let rows = results.reduce(0) { $0 + $1.rowsRead }
        let written = results.reduce(0) { $0 + $1.written }
        let bytes = results.reduce(0) { $0 + $1.bytes }
        print("materialized \(results.count) view(s) into \(target): \(rows) rows read, \(written) entities written, "
            + "\(bytes) bytes, " + String(format: "%.2fs (%.0f rows/s)", seconds, Double(rows) / max(seconds, 1e-9))
            + ", peak memory \(ProcessMemory.peakResidentBytes() / (1 << 20)) MiB")
    }
}

/// The server's own shards as a materialization target (`larder serve --repo R --materialize`):
/// the same reads and strictly-newer writes, handed to the owning shard threads directly.
final class EmbeddedSink: MaterializationSink {
    let server: LarderServer

    init(server: LarderServer) { self.server = server }

    func readField(_ field: [UInt8], keys: ArraySlice<[UInt8]>) throws -> [[UInt8]?] {
        try server.bulkReadField(field: field, keys: Array(keys))
    }

    func write(_ batch: HashWriteBatch) throws {
        try server.bulkLoad(batch)
    }

    func finish() throws {}
}

enum EmbeddedMaterialize {
    /// Materializes every online view of `repo` from the epoch to now into the server's db 0.
    /// Nothing is recorded in the repo's state database: the embedded store is in memory.
    static func run(repo: String, into server: LarderServer, metrics: MaterializeCounters?) throws {
        let loaded = try FeatureRepoLoader().load(directory: repo)
        var run = MaterializeRun(repo: loaded, state: nil)
        run.materializer.batchSize = 10_000
        let views = try run.materializer.viewsToMaterialize(named: nil)
        let now = Int64(Date().timeIntervalSince1970 * 1e9)
        let reporter = MaterializeReporter(enabled: true)
        let results = try run.run(views: views, start: 0, end: now, into: EmbeddedSink(server: server),
                                  kind: "serve-materialize", progress: reporter.update)
        for r in results {
            metrics?.record(MaterializedView(view: r.view, rowsRead: r.rowsRead, written: r.written, seconds: r.seconds), kind: "serve-materialize")
        }
        reporter.summary(results, target: "the embedded store")
    }
}
