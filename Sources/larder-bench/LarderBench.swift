// larder-bench: a single-threaded Redis-protocol load generator (see bench/README.md).
import ArgumentParser
import Glibc

extension Workload: ExpressibleByArgument {}
extension KeyDistribution: ExpressibleByArgument {}

@main
struct LarderBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "larder-bench",
        abstract: "Load generator for Redis-protocol servers: closed or open loop, HdrHistogram latencies.",
        discussion: """
        Closed loop by default: every connection keeps --pipeline requests in flight (sends K, waits \
        for K replies, sends K more). With --rate, open loop: requests are due at fixed intervals \
        and latency is measured from the intended send time. Exit status 1 on error replies \
        (unless --allow-errors), connection failures and stalls.
        """)

    @Option(help: "Server host (loopback only in this project).") var host = "127.0.0.1"
    @Option(help: "Server port.") var port = 6379
    @Option(help: "Connections.") var connections = 50
    @Option(help: "Requests in flight per connection (closed loop; ignored with --rate).") var pipeline = 1
    @Option(help: "Open loop: total requests per second over all connections.") var rate: Double?
    @Option(help: "Measured requests (default 100000 unless --duration is given).") var requests: Int?
    @Option(help: "Seconds to measure (closed loop: stop sending after it; open loop: rate x duration requests).")
    var duration: Double?
    @Option(help: "Replies to discard before measuring.") var warmupRequests = 0
    @Option(help: "What each request is (bench/README.md).")
    var workload: Workload = .get
    @Option(help: "Key distribution: uniform or zipf.") var dist: KeyDistribution = .uniform
    @Option(help: "Zipf exponent.") var zipfS = 0.99
    @Option(help: "Number of distinct keys (indexes 0..<keyspace).") var keyspace = 100_000
    @Option(help: "Random seed (keys, feast-mix choice).") var seed: UInt64 = 1
    @Option(help: "Feast workloads: features per view (plus the _ts field).") var fields = 9
    @Option(help: "feast-mix: fraction of reads.") var readRatio = 0.9
    @Option(help: "features-get: entity rows per FEATURES.GET.") var entities = 1
    @Option(help: "Pre-formatted requests, cycled through.") var pool = 65_536
    @Flag(help: "Write every key of the workload's family before measuring.") var preload = false
    @Flag(help: "Preload, then exit.") var preloadOnly = false
    @Option(help: "Preload: commands per pipelined batch.") var preloadBatch = 1000
    @Flag(help: "Also print one CSV line.") var csv = false
    @Flag(help: "Print the CSV header before the CSV line (implies --csv).") var csvHeader = false
    @Flag(help: "Also print one JSON object.") var json = false
    @Flag(help: "Exit 0 even if the server answered with errors.") var allowErrors = false
    @Option(help: "Seconds without any reply (with requests outstanding) before giving up.") var timeout = 10.0

    func validate() throws {
        guard (1...65_535).contains(port) else { throw ValidationError("--port must be 1-65535") }
        guard connections >= 1 && connections <= 10_000 else { throw ValidationError("--connections must be 1-10000") }
        guard pipeline >= 1 else { throw ValidationError("--pipeline must be at least 1") }
        if let rate, !(rate > 0 && rate.isFinite) { throw ValidationError("--rate must be positive") }
        if let requests, requests < 1 { throw ValidationError("--requests must be at least 1") }
        if let duration, !(duration > 0 && duration <= 86_400) { throw ValidationError("--duration must be in (0, 86400]") }
        guard warmupRequests >= 0 else { throw ValidationError("--warmup-requests must be >= 0") }
        guard keyspace >= 1 else { throw ValidationError("--keyspace must be at least 1") }
        guard zipfS > 0 else { throw ValidationError("--zipf-s must be positive") }
        guard (1...1000).contains(fields) else { throw ValidationError("--fields must be 1-1000") }
        guard (0...1).contains(readRatio) else { throw ValidationError("--read-ratio must be in [0, 1]") }
        guard (1...10_000).contains(entities) else { throw ValidationError("--entities must be 1-10000") }
        guard pool >= 1 else { throw ValidationError("--pool must be at least 1") }
        guard preloadBatch >= 1 else { throw ValidationError("--preload-batch must be at least 1") }
        guard timeout > 0 else { throw ValidationError("--timeout must be positive") }
    }

    func run() throws {
        signal(SIGPIPE, SIG_IGN)
        var spec = WorkloadSpec(workload: workload, keyspace: keyspace, feast: FeastLayout(fields: fields),
                                readRatio: readRatio)
        spec.entities = entities
        do {
            var conns: [Connection] = []
            for i in 0..<connections { conns.append(try Connection(index: i, host: host, port: port)) }
            if preload || preloadOnly { try runPreload(spec, conns) }
            if preloadOnly { return }
            try runMeasured(spec, conns)
        } catch let e as BenchError {
            printErr("larder-bench: \(e)")
            throw ExitCode(1)
        }
    }

    private func runPreload(_ spec: WorkloadSpec, _ conns: [Connection]) throws {
        let batches = (keyspace + preloadBatch - 1) / preloadBatch
        let used = Array(conns.prefix(min(conns.count, batches)))
        let source = GeneratedSource { spec.preloadCommand($0) }
        var cfg = EngineConfig()
        cfg.pipeline = preloadBatch
        cfg.total = keyspace
        cfg.stallTimeoutNs = UInt64(timeout * 1e9)
        let t0 = monotonicNanos()
        let r = try Engine(connections: used, source: source, config: cfg).run()
        let secs = Double(monotonicNanos() - t0) / 1e9
        guard r.errors == 0 else {
            throw BenchError("preload: \(r.errors) error replies (first: \(r.firstError ?? "?"))")
        }
        let line = "preloaded \(keyspace) \(workload.family.rawValue) keys for \(workload.rawValue) in \(fmt(secs, 3)) s "
            + "(\(fmt(Double(keyspace) / secs, 0)) keys/s, batches of \(preloadBatch), \(used.count) connections)"
        if preloadOnly { print(line) } else { printErr(line) }
    }

    private func runMeasured(_ spec: WorkloadSpec, _ conns: [Connection]) throws {
        var cfg = EngineConfig()
        cfg.pipeline = rate == nil ? pipeline : 1
        cfg.rate = rate
        cfg.warmup = warmupRequests
        cfg.stallTimeoutNs = UInt64(timeout * 1e9)
        var measured: Int
        if let rate {
            let byDuration = duration.map { max(1, Int(($0 * rate).rounded())) }
            measured = [requests, byDuration].compactMap { $0 }.min() ?? 100_000
        } else {
            measured = requests ?? (duration == nil ? 100_000 : Int.max - warmupRequests)
            cfg.durationNs = duration.map { UInt64($0 * 1e9) }
        }
        cfg.total = warmupRequests + measured

        var picker = KeyPicker(keyspace: keyspace, distribution: dist, zipfExponent: zipfS, seed: seed)
        let source = spec.makePool(size: min(pool, cfg.total), picker: &picker)
        let result = try Engine(connections: conns, source: source, config: cfg).run()

        let report = Report(workload: workload.rawValue, pipeline: cfg.pipeline, connections: connections,
                            rate: rate, result: result)
        print(report.human)
        if csv || csvHeader {
            if csvHeader { print(Report.csvHeader) }
            print(report.csv)
        }
        if json {
            print(report.json(extra: [
                ("mode", quote(rate == nil ? "closed" : "open")), ("dist", quote(dist.rawValue)),
                ("zipf_s", fmt(zipfS, 3)), ("keyspace", "\(keyspace)"), ("warmup", "\(warmupRequests)"),
                ("seed", "\(seed)"), ("pool", "\(source.count)"), ("pool_bytes", "\(source.bytes)"),
                ("send_lag_mean_us", fmt(Double(result.sendLagSumNs) / Double(max(cfg.total, 1)) / 1000, 1)),
                ("send_lag_max_us", fmt(Double(result.sendLagMaxNs) / 1000, 1)),
            ]))
        }
        fflush(stdout)
        if result.errors > 0 {
            printErr("larder-bench: \(result.errors) error replies (first: \(result.firstError ?? "?"))"
                + (allowErrors ? "" : "; exit status 1 (--allow-errors to accept)"))
            if !allowErrors { throw ExitCode(1) }
        }
    }
}
