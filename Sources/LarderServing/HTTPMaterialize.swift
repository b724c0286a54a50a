import Foundation
import LarderLog

/// What POST /materialize or /materialize-incremental asks for, its JSON fields checked.
public struct MaterializeRequest: Sendable {
    /// `materialize-incremental`: each view from the end of its last recorded run.
    public var incremental: Bool
    /// nil: every online view.
    public var views: [String]?
    /// nil when incremental.
    public var start: String?
    public var end: String
}

/// One view's finished run, for /metrics.
public struct MaterializedView: Sendable {
    public var view: String
    public var rowsRead: Int
    public var written: Int
    public var seconds: Double
    public init(view: String, rowsRead: Int, written: Int, seconds: Double) {
        self.view = view; self.rowsRead = rowsRead; self.written = written; self.seconds = seconds
    }
}

/// A checked request, ready to run: its views resolved and its times parsed.
public protocol MaterializationPlan: AnyObject {
    var views: [String] { get }
    /// Runs the views in order, calling `finished` after each; throws at the first failure
    /// (the views finished before it stay recorded).
    func run(finished: (MaterializedView) -> Void) throws
}

/// The materialization engine behind the HTTP endpoints, given by the CLI (LarderServing knows
/// no offline sources): it writes into this server's own shards and records its runs in the
/// repo's state database, as `larder materialize` does.
public protocol ServingMaterializer: AnyObject, Sendable {
    /// Resolves and checks a request; throws ServingError for bad input (404 unknown view,
    /// 400 bad times) before anything runs.
    func plan(_ request: MaterializeRequest) throws -> MaterializationPlan
}

/// One materialization at a time: a second request while one runs is refused with 409
/// (Feast's answer to a conflicting async run). Queueing would hold the second client's
/// connection for an unbounded time, and a run over the same window right after the first
/// would write nothing (only strictly newer rows are written); the client decides to retry.
final class MaterializeGate: @unchecked Sendable {
    private let lock = NSLock()
    private var running: [String]?
    /// Off the event loops: a run reads files and waits for the shards (bulkLoad blocks).
    let queue = DispatchQueue(label: "larder.http.materialize", qos: .utility)

    /// nil when this caller may start; else the views of the run in progress.
    func begin(_ views: [String]) -> [String]? {
        lock.withLock {
            if let running { return running }
            running = views
            return nil
        }
    }

    /// The views of the run in progress, once its plan names them.
    func running(_ views: [String]) { lock.withLock { running = views } }
    func end() { lock.withLock { running = nil } }
    var isRunning: Bool { lock.withLock { running != nil } }
}

extension HTTPFeatureAPI {
    // MARK: POST /materialize and /materialize-incremental

    func materialize(_ req: [(String, JSONValue)], incremental: Bool, query: String, respond: @escaping (HTTPReply) -> Void) throws {
        guard let materializer else {
            respond(.json(503, "{\"detail\":\"materialization is not available in this server\"}")); return
        }
        func string(_ name: String) throws -> String? {
            switch req.first(where: { $0.0 == name })?.1 {
            case nil, .null?: return nil
            case .string(let s)?: return s
            default: throw FieldError(field: name, message: "Input should be a valid string", type: "string_type")
            }
        }
        var views: [String]?
        switch req.first(where: { $0.0 == "feature_views" })?.1 {
        case nil, .null?: views = nil
        case .array(let items)?:
            views = try items.map {
                guard case .string(let s) = $0 else { throw FieldError(field: "feature_views", message: "Input should be a valid string", type: "string_type") }
                return s
            }
        default: throw FieldError(field: "feature_views", message: "Input should be a valid list", type: "list_type")
        }
        _ = try bool(req, "full_feature_names", default: false)  // names in the online store do not depend on it
        if try string("version") != nil {
            throw ServingError(.badRequest, "version: versioned feature views need registry.enable_online_feature_view_versioning, which Larder does not read; materialize without a version")
        }
        let request: MaterializeRequest
        if incremental {
            guard let end = try string("end_ts") else { throw FieldError(field: "end_ts", message: "Field required", type: "missing") }
            request = MaterializeRequest(incremental: true, views: views, start: nil, end: end)
        } else if try bool(req, "disable_event_timestamp", default: false) {
            // Feast: from the epoch to now.
            request = MaterializeRequest(incremental: false, views: views, start: "0", end: String(Int64(Date().timeIntervalSince1970)))
        } else {
            guard let start = try string("start_ts"), let end = try string("end_ts") else {
                throw ServingError(.badRequest, "start_ts and end_ts are required when disable_event_timestamp is False")
            }
            request = MaterializeRequest(incremental: false, views: views, start: start, end: end)
        }
        // The gate first, then everything else on the run's queue: planning reads the repo and
        // the state database from disk, which the loop (a shard's) must not wait for either.
        if let running = materializeGate.begin(request.views ?? []) {
            var w = JSONWriter()
            w.raw("{\"error\":")
            w.string("Cannot start materialization: another one is running (feature views \(running.joined(separator: ", "))); Larder runs one at a time, retry when it has finished.")
            w.raw(",\"feature_views\":["); for (i, v) in running.enumerated() { if i > 0 { w.raw(44) }; w.string(v) }; w.raw("]}")
            respond(HTTPReply(status: 409, body: w.bytes)); return
        }
        let asyncMode = Self.queryFlag(query, "async")
        let kind = incremental ? "materialize-incremental" : "materialize"
        let metrics = serving.metrics.materializations, gate = materializeGate
        // The gate opens before the reply goes: a client's next request right after it must not get 409.
        gate.queue.async {
            let plan: MaterializationPlan
            do { plan = try materializer.plan(request) } catch {
                gate.end()
                respond((error as? ServingError).map(HTTPReply.feastError) ?? HTTPReply.serverError(error)); return
            }
            gate.running(plan.views)
            if asyncMode {
                var w = JSONWriter()
                w.raw("{\"status\":\"accepted\",\"feature_views\":[")
                for (i, v) in plan.views.enumerated() { if i > 0 { w.raw(44) }; w.string(v) }
                w.raw("]}")
                respond(HTTPReply(status: 202, body: w.bytes))
            }
            metrics.started()
            var done = Set<String>()
            let reply: HTTPReply
            do {
                try plan.run { v in done.insert(v.view); metrics.record(v, kind: kind) }
                reply = .json(200, "null")  // Feast's synchronous endpoints return None
            } catch {
                if let failed = plan.views.first(where: { !done.contains($0) }) { metrics.recordFailure(view: failed, kind: kind) }
                LarderLog.server.error("\(kind) failed: \(error)", metadata: ["event": "materialize_failed"])
                reply = (error as? ServingError).map(HTTPReply.feastError) ?? HTTPReply.serverError(error)
            }
            metrics.finished()
            gate.end()
            if !asyncMode { respond(reply) }
        }
    }

    /// A boolean query parameter as FastAPI reads one (true/1/yes/on).
    static func queryFlag(_ query: String, _ name: String) -> Bool {
        for pair in query.split(separator: "&") {
            let kv = pair.split(separator: "=", maxSplits: 1)
            if kv.first == Substring(name), let v = kv.dropFirst().first {
                return ["true", "1", "yes", "on"].contains(v.lowercased())
            }
        }
        return false
    }
}

/// Materialization counters for /metrics: per view and kind, runs by result, rows read,
/// entities written, durations and the last success; whether one is running. Updated once
/// per view run (not on the request path), so one lock.
public final class MaterializeCounters: @unchecked Sendable {
    static let durationBuckets: [Double] = [0.01, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 3600]
    struct View {
        var ok = 0, failed = 0, rows = 0, written = 0
        var lastSuccess: Double?
        var duration = ServingMetrics.Histogram(MaterializeCounters.durationBuckets.count)
    }
    private let lock = NSLock()
    private var views: [String: View] = [:]   // "view kind"
    private var running = 0

    func started() { lock.withLock { running += 1 } }
    var isRunning: Bool { lock.withLock { running > 0 } }
    func finished() { lock.withLock { running -= 1 } }

    public func record(_ v: MaterializedView, kind: String) {
        lock.withLock {
            var c = views["\(v.view) \(kind)"] ?? View()
            c.ok += 1; c.rows += v.rowsRead; c.written += v.written
            c.duration.observe(v.seconds, Self.durationBuckets)
            c.lastSuccess = Date().timeIntervalSince1970
            views["\(v.view) \(kind)"] = c
        }
    }

    public func recordFailure(view: String, kind: String) {
        lock.withLock { views["\(view) \(kind)", default: View()].failed += 1 }
    }

    func exposition(into out: inout String) {
        lock.lock(); defer { lock.unlock() }
        let snapshot = views, runningNow = running
        let keys = snapshot.keys.sorted()
        func labels(_ k: String) -> String {
            let p = k.split(separator: " ")
            return "feature_view=\"\(p[0])\",kind=\"\(p[1])\""
        }
        func family(_ name: String, _ type: String, _ help: String) { out += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n" }
        family("larder_materializations_total", "counter", "Materialization runs of a view in this server (HTTP, serve --materialize), by result.")
        for k in keys {
            out += "larder_materializations_total{\(labels(k)),result=\"ok\"} \(snapshot[k]!.ok)\n"
            out += "larder_materializations_total{\(labels(k)),result=\"failed\"} \(snapshot[k]!.failed)\n"
        }
        family("larder_materialization_rows_read_total", "counter", "Source rows read by successful materializations.")
        for k in keys { out += "larder_materialization_rows_read_total{\(labels(k))} \(snapshot[k]!.rows)\n" }
        family("larder_materialization_entities_written_total", "counter", "Entities written (strictly newer) by successful materializations.")
        for k in keys { out += "larder_materialization_entities_written_total{\(labels(k))} \(snapshot[k]!.written)\n" }
        family("larder_materialization_duration_seconds", "histogram", "Duration of successful materializations of a view.")
        for k in keys { ServingMetrics.histogram("larder_materialization_duration_seconds", labels(k), snapshot[k]!.duration, Self.durationBuckets, &out) }
        family("larder_materialization_last_success_timestamp_seconds", "gauge", "When a materialization of the view last succeeded.")
        for k in keys { if let t = snapshot[k]!.lastSuccess { out += "larder_materialization_last_success_timestamp_seconds{\(labels(k))} \(t)\n" } }
        family("larder_materialization_running", "gauge", "1 while a materialization runs.")
        out += "larder_materialization_running \(runningNow)\n"
    }
}
