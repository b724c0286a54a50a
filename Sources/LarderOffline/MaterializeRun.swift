import Foundation
import Glibc
import LarderFeatures
import LarderStore

/// A whole `larder materialize` run over several views, with the bookkeeping around it:
/// intervals and run history go to Larder's state database (RegistryStore), and a view's
/// interval is recorded only after all its writes succeeded, so an interrupted run leaves
/// nothing recorded and can simply be run again (writes are idempotent: equal timestamps
/// are skipped).
public struct MaterializeRun {
    public let repo: FeatureRepo
    public var materializer: Materializer
    /// nil disables bookkeeping (tests, benchmarks).
    public var state: RegistryStore?

    // stop between views on SIGTERM (what is done stays recorded).
    /// Checked before each view; true makes the run throw `MaterializeStopped`.
    public var shouldStop: () -> Bool = { false }
    /// File-level checkpoints of each view's read (ReadCheckpoint), next to the state
    /// database; nil: none. `shouldStop` also stops a read at its next file boundary.
    public var checkpointSeconds: Double? = nil
    /// Stops a read after this many finished files as if a signal had come (tests).
    public var stopAfterFiles: Int? = nil
    /// Where checkpoint messages go (stderr in the CLI).
    public var log: (String) -> Void = { _ in }
    /// With workers: told, per view, how many of the N workers have finished this window.
    public var onWorkerRecorded: ((_ view: String, _ finished: Int) -> Void)?

    public init(repo: FeatureRepo, state: RegistryStore?) {
        self.repo = repo
        self.materializer = Materializer(repo: repo)
        self.state = state
    }

    /// Larder's state database of a repo: `<repo>/data/larder_state.db`, or `$LARDER_STATE`.
    public static func statePath(repoDirectory: String) -> String {
        if let path = ProcessInfo.processInfo.environment["LARDER_STATE"], !path.isEmpty { return path }
        let dir = repoDirectory.hasSuffix("/") ? repoDirectory : repoDirectory + "/"
        return dir + "data/larder_state.db"
    }

    /// Opens (creating `data/` if needed) the state database of a repo.
    public static func openState(repoDirectory: String) throws -> RegistryStore {
        let path = statePath(repoDirectory: repoDirectory)
        let parent = (path as NSString).deletingLastPathComponent
        if !parent.isEmpty { try FileManager.default.createDirectory(atPath: parent, withIntermediateDirectories: true) }
        return try RegistryStore(path: path)
    }

    /// Materializes `views` over `[start, end]` (nanoseconds) into `sink`. With a worker
    /// share (`materializer.share`, N > 1) the view's interval is recorded only when all N
    /// workers have recorded the same window (`RegistryStore.recordWorkerMaterialization`).
    public func run(views: [FeatureView], start: Int64, end: Int64, into sink: MaterializationSink, kind: String,
                    progress: ((MaterializeProgress) -> Void)? = nil) throws -> [ViewMaterializeResult] {
        try run(views: views.map { ($0, start) }, end: end, into: sink, kind: kind, progress: progress)
    }

    /// As above with a start per view (incremental runs).
    public func run(views: [(FeatureView, Int64)], end: Int64, into sink: MaterializationSink, kind: String,
                    progress: ((MaterializeProgress) -> Void)? = nil) throws -> [ViewMaterializeResult] {
        var results: [ViewMaterializeResult] = []
        let project = repo.config.project
        let baseMemory = Int64(ProcessMemory.residentBytes())  // the memory history `--plan` reads
        for (view, start) in views {
            if shouldStop() { throw MaterializeStopped(done: results.map(\.view), remaining: views.count - results.count) }
            let startedAt = Date()
            do {
                ProcessMemory.resetPeak()
                var checkpoint: ReadCheckpoint? = nil
                let result = try materializer.materialize(view: view, start: start, end: end, into: sink, progress: progress,
                                                          checkpoint: { source in
                    checkpoint = self.checkpoint(view: view, source: source, start: start, end: end)
                    return checkpoint
                })
                results.append(result)
                if let state {
                    // What this view read and the memory it took, for `--plan`.
                    if let source = try? ViewSource(view: view, definitions: repo.definitions, repoDirectory: repo.directory) {
                        let plan = source.readPlan(start: start, end: end)
                        try? state.recordViewMemory(ViewMemoryRecord(
                            project: project, view: view.name, kind: kind, rowsRead: Int64(result.rowsRead),
                            entities: Int64(result.entities), bytesDecoded: plan.bytesDecoded,
                            peakAboveBaseBytes: max(0, Int64(ProcessMemory.peakSinceResetBytes()) - baseMemory), baseBytes: baseMemory))
                    }
                    let runID = try state.recordRun(RunRecord(
                        project: project, kind: kind, featureView: view.name, startedAt: startedAt,
                        durationSeconds: result.seconds, rows: Int64(result.rowsRead), bytes: Int64(result.bytes),
                        peakMemoryBytes: Int64(ProcessMemory.peakResidentBytes()), message: "\(result.written) written, \(result.skipped) skipped"))
                    if let share = materializer.share, share.count > 1 {
                        // Each worker records its own share; the view's window advances once all have.
                        let finished = try state.recordWorkerMaterialization(
                            project: project, view: view.name, stateName: share.stateName(of: view.name),
                            stateNames: share.allStateNames(of: view.name),
                            start: ProtoTimestamp(epochNanoseconds: start), end: ProtoTimestamp(epochNanoseconds: end),
                            rows: Int64(result.rowsRead), runID: runID)
                        onWorkerRecorded?(view.name, finished)
                    } else {
                        try state.recordMaterialization(project: project, view: view.name,
                                                        start: ProtoTimestamp(epochNanoseconds: start),
                                                        end: ProtoTimestamp(epochNanoseconds: end),
                                                        rows: Int64(result.rowsRead), runID: runID)
                    }
                }
                checkpoint?.remove()  // the view is recorded: nothing to resume
            } catch {
                if let state {
                    _ = try? state.recordRun(RunRecord(
                        project: project, kind: kind, featureView: view.name, startedAt: startedAt,
                        durationSeconds: Date().timeIntervalSince(startedAt), rows: 0, bytes: 0,
                        peakMemoryBytes: Int64(ProcessMemory.peakResidentBytes()), succeeded: false, message: "\(error)"))
                }
                throw error
            }
        }
        return results
    }

    func checkpoint(view: FeatureView, source: ViewSource, start: Int64, end: Int64) -> ReadCheckpoint? {
        guard let seconds = checkpointSeconds, state != nil else { return nil }
        let stop = shouldStop, after = stopAfterFiles
        // A worker keeps its own checkpoint: its share is in the name and the identity.
        let share = materializer.share.map { "\($0.index).of.\($0.count)" } ?? ""
        return ReadCheckpoint(directory: ReadCheckpoint.directory(forState: MaterializeRun.statePath(repoDirectory: repo.directory)),
                              project: repo.config.project, view: share.isEmpty ? view.name : "\(view.name).worker.\(share)",
                              start: start, end: end, files: source.tabular.files, share: share, intervalSeconds: seconds,
                              shouldStop: { done in stop() || after.map { done >= $0 } ?? false }, log: log)
    }

    /// Where an incremental run of `view` starts: the end of its last recorded interval;
    /// else, like Feast, `now - ttl`, or 52 weeks before now for a view without ttl.
    public func incrementalStart(of view: FeatureView, now: Int64) throws -> Int64 {
        try incrementalStartAndOrigin(of: view, now: now).start
    }

    /// Where `materialize-incremental` starts a view, and why there (for messages): the
    /// latest end of Larder's own runs and, for a repo read from a Feast registry, of the
    /// intervals `feast materialize` recorded there (Feast's most_recent_end_time; read only);
    /// without any, like Feast, `now - ttl` (52 weeks without a ttl).
    public func incrementalStartAndOrigin(of view: FeatureView, now: Int64) throws -> (start: Int64, origin: String) {
        let feastEnd = (repo.feastMaterializationIntervals[view.name] ?? []).map(\.end).max()
        let larderEnd = try state?.lastMaterializedEnd(project: repo.config.project, view: view.name)
        func nanos(_ t: ProtoTimestamp) -> Int64 { t.seconds * 1_000_000_000 + Int64(t.nanos) }
        switch (larderEnd, feastEnd) {
        case let (l?, f?) where f > l: return (nanos(f), "the end of the last run of view \(view.name) (recorded by feast materialize in the registry)")
        case let (l?, _): return (nanos(l), "the end of the last run of view \(view.name)")
        case let (nil, f?): return (nanos(f), "the end of the last run of view \(view.name) (recorded by feast materialize in the registry)")
        case (nil, nil):
            if view.ttlSeconds > 0 {
                return (now - view.ttlSeconds * 1_000_000_000, "now minus the ttl of view \(view.name) (\(view.ttlSeconds) s; it has no recorded run)")
            }
            return (now - 52 * 7 * 86_400 * 1_000_000_000, "now minus 52 weeks (view \(view.name) has no ttl and no recorded run)")
        }
    }
}

/// A run stopped between views (SIGTERM): `done` are recorded and are not redone by a retry.
public struct MaterializeStopped: Error, CustomStringConvertible {
    public var done: [String]
    public var remaining: Int
    public var description: String {
        "stopped by a signal after \(done.count) view(s) (\(done.joined(separator: ", "))); \(remaining) not started"
    }
}

