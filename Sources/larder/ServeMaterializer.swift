import Foundation
import LarderFeatures
import LarderLog
import LarderOffline
import LarderServer
import LarderServing

/// POST /materialize and /materialize-incremental of `larder serve --repo R`: the same run as
/// `larder materialize` (the repo read again, so what is on disk now), written into this
/// server's own shards through `EmbeddedSink`, and recorded in the repo's state database, so an
/// incremental request continues from where `larder materialize` (or `feast materialize`, for
/// a repo read from a Feast registry) left off, and the CLI continues from the server's runs.
final class ServeMaterializer: ServingMaterializer, @unchecked Sendable {
    let server: LarderServer
    let repoDirectory: String
    /// Entities per round of writes: each round is one task per shard, run between client
    /// commands; 1000 keeps a task short (a 10 000 batch held a shard for milliseconds).
    static let batchSize = 1000

    init(server: LarderServer, repoDirectory: String) {
        self.server = server
        self.repoDirectory = repoDirectory
    }

    func plan(_ request: MaterializeRequest) throws -> MaterializationPlan {
        let loaded = try FeatureRepoLoader().load(directory: repoDirectory)
        let project = loaded.config.project
        // Feast's FeatureViewNotFoundException (404) for a name it does not know.
        for name in request.views ?? [] where loaded.definitions.featureView(named: name) == nil
            && !loaded.skipped.contains(where: { $0.contains("'\(name)':") }) {
            throw ServingError(.featureViewNotFound, "Feature view \(name) does not exist in project \(project)")
        }
        var run = MaterializeRun(repo: loaded, state: try MaterializeRun.openState(repoDirectory: repoDirectory))
        run.materializer.batchSize = Self.batchSize
        let views: [FeatureView]
        do { views = try run.materializer.viewsToMaterialize(named: request.views) } catch let e as MaterializeValueError {
            throw ServingError(.badRequest, e.message)
        }
        guard let end = TimestampText.nanoseconds(request.end) else {
            throw ServingError(.badRequest, "Invalid timestamp format: end_ts \"\(request.end)\" is neither ISO 8601 nor epoch seconds")
        }
        var plan: [(FeatureView, Int64)]
        if let startText = request.start {
            guard let start = TimestampText.nanoseconds(startText) else {
                throw ServingError(.badRequest, "Invalid timestamp format: start_ts \"\(startText)\" is neither ISO 8601 nor epoch seconds")
            }
            guard start < end else {
                throw ServingError(.badRequest, "start_ts (\(TimeText.iso(start))) must be before end_ts (\(TimeText.iso(end)))")
            }
            plan = views.map { ($0, start) }
        } else {
            let now = Int64(Date().timeIntervalSince1970 * 1e9)
            plan = []
            for view in views {
                let from = try run.incrementalStartAndOrigin(of: view, now: now)
                if from.start > end {
                    throw ServingError(.badRequest, "end_ts \(TimeText.iso(end)) is before \(TimeText.iso(from.start)), \(from.origin) (to redo a past window use /materialize)")
                }
                plan.append((view, from.start))
            }
        }
        return Plan(run: run, plan: plan, end: end, kind: request.incremental ? "materialize-incremental" : "materialize",
                    sink: EmbeddedSink(server: server))
    }

    final class Plan: MaterializationPlan {
        let run: MaterializeRun
        let plan: [(FeatureView, Int64)]
        let end: Int64
        let kind: String
        let sink: EmbeddedSink
        var views: [String] { plan.map(\.0.name) }

        init(run: MaterializeRun, plan: [(FeatureView, Int64)], end: Int64, kind: String, sink: EmbeddedSink) {
            self.run = run; self.plan = plan; self.end = end; self.kind = kind; self.sink = sink
        }

        /// One view per MaterializeRun call, so each finished view is reported (and recorded in
        /// the state database) before the next starts.
        func run(finished: (MaterializedView) -> Void) throws {
            for (view, start) in plan {
                for r in try run.run(views: [(view, start)], end: end, into: sink, kind: kind) {
                    finished(MaterializedView(view: r.view, rowsRead: r.rowsRead, written: r.written, seconds: r.seconds))
                    LarderLog.server.notice("\(kind) \(r.view): \(r.rowsRead) rows read, \(r.written) written, \(r.skipped) skipped in \(String(format: "%.2f", r.seconds)) s",
                                            metadata: ["event": "materialized", "feature_view": .string(r.view), "kind": .string(kind)])
                }
            }
        }
    }
}
