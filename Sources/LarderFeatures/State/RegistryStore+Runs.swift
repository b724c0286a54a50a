import Foundation

/// One materialization (or other) run, for `larder inspect` and capacity planning.
public struct RunRecord: Equatable, Sendable {
    public var id: Int64?
    public var project: String
    /// e.g. `materialize`, `materialize-incremental`.
    public var kind: String
    public var featureView: String?
    public var startedAt: Date
    public var durationSeconds: Double
    public var rows: Int64
    public var bytes: Int64
    public var peakMemoryBytes: Int64
    public var succeeded: Bool
    public var message: String

    public init(id: Int64? = nil, project: String, kind: String, featureView: String? = nil, startedAt: Date,
                durationSeconds: Double, rows: Int64, bytes: Int64, peakMemoryBytes: Int64, succeeded: Bool = true,
                message: String = "") {
        self.id = id
        self.project = project
        self.kind = kind
        self.featureView = featureView
        self.startedAt = startedAt
        self.durationSeconds = durationSeconds
        self.rows = rows
        self.bytes = bytes
        self.peakMemoryBytes = peakMemoryBytes
        self.succeeded = succeeded
        self.message = message
    }
}

extension RegistryStore {
    // MARK: - Materialization intervals

    /// Records that `[start, end)` of a feature view has been written to the online store.
    public func recordMaterialization(project: String, view: String, start: ProtoTimestamp, end: ProtoTimestamp,
                                      rows: Int64 = 0, runID: Int64? = nil, at date: Date = Date()) throws {
        try database.run("""
            INSERT INTO materializations (project, feature_view, start_seconds, start_nanos, end_seconds, end_nanos,
                                          rows, run_id, recorded_at)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
            """, [.text(project), .text(view), .integer(start.seconds), .integer(Int64(start.nanos)),
                  .integer(end.seconds), .integer(Int64(end.nanos)), .integer(rows),
                  runID.map(SQLiteValue.integer) ?? .null, .real(date.timeIntervalSince1970)])
    }

    /// Records that one worker of `larder materialize --workers N` wrote its share of
    /// `[start, end]` of a view, under the name `stateName`; when every worker (`stateNames`,
    /// one per index) has recorded that same window, records it for the view itself too:
    /// only then does an incremental run start after it. One transaction, so two workers
    /// finishing together record the view once. Returns how many workers have finished the
    /// window, this one included.
    @discardableResult
    public func recordWorkerMaterialization(project: String, view: String, stateName: String, stateNames: [String],
                                            start: ProtoTimestamp, end: ProtoTimestamp, rows: Int64 = 0,
                                            runID: Int64? = nil, at date: Date = Date()) throws -> Int {
        try database.transaction {
            try recordMaterialization(project: project, view: stateName, start: start, end: end, rows: rows, runID: runID, at: date)
            func has(_ name: String) throws -> Bool {
                try !database.query("""
                    SELECT 1 FROM materializations WHERE project = ? AND feature_view = ?
                    AND start_seconds = ? AND start_nanos = ? AND end_seconds = ? AND end_nanos = ? LIMIT 1
                    """, [.text(project), .text(name), .integer(start.seconds), .integer(Int64(start.nanos)),
                          .integer(end.seconds), .integer(Int64(end.nanos))]).isEmpty
            }
            let finished = try stateNames.filter(has).count
            if finished == stateNames.count, try !has(view) {
                try recordMaterialization(project: project, view: view, start: start, end: end, rows: 0, runID: runID, at: date)
            }
            return finished
        }
    }

    /// The latest end of any materialized interval of the view: where an incremental
    /// materialization starts. nil if the view was never materialized.
    public func lastMaterializedEnd(project: String, view: String) throws -> ProtoTimestamp? {
        let rows = try database.query("""
            SELECT end_seconds, end_nanos FROM materializations WHERE project = ? AND feature_view = ?
            ORDER BY end_seconds DESC, end_nanos DESC LIMIT 1
            """, [.text(project), .text(view)])
        guard let row = rows.first, let seconds = row[0].integer, let nanos = row[1].integer else { return nil }
        return ProtoTimestamp(seconds: seconds, nanos: Int32(truncatingIfNeeded: nanos))
    }

    /// Every recorded interval of the view, oldest record first.
    public func materializationIntervals(project: String, view: String) throws -> [MaterializationInterval] {
        try database.query("""
            SELECT start_seconds, start_nanos, end_seconds, end_nanos FROM materializations
            WHERE project = ? AND feature_view = ? ORDER BY id
            """, [.text(project), .text(view)]).compactMap { row in
            guard let s = row[0].integer, let sn = row[1].integer, let e = row[2].integer, let en = row[3].integer else { return nil }
            return MaterializationInterval(start: ProtoTimestamp(seconds: s, nanos: Int32(truncatingIfNeeded: sn)),
                                           end: ProtoTimestamp(seconds: e, nanos: Int32(truncatingIfNeeded: en)))
        }
    }

    // MARK: - Runs

    /// Stores a run and returns its id.
    @discardableResult
    public func recordRun(_ run: RunRecord) throws -> Int64 {
        try database.run("""
            INSERT INTO runs (project, kind, feature_view, started_at, duration_seconds, rows, bytes, peak_memory_bytes,
                              succeeded, message)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """, [.text(run.project), .text(run.kind), run.featureView.map(SQLiteValue.text) ?? .null,
                  .real(run.startedAt.timeIntervalSince1970), .real(run.durationSeconds), .integer(run.rows),
                  .integer(run.bytes), .integer(run.peakMemoryBytes), .integer(run.succeeded ? 1 : 0), .text(run.message)])
        return database.lastInsertRowID
    }

    /// The most recent runs of a project, newest first.
    public func runs(project: String, limit: Int = 50) throws -> [RunRecord] {
        try database.query("""
            SELECT id, project, kind, feature_view, started_at, duration_seconds, rows, bytes, peak_memory_bytes,
                   succeeded, message
            FROM runs WHERE project = ? ORDER BY id DESC LIMIT ?
            """, [.text(project), .integer(Int64(limit))]).map { r in
            RunRecord(id: r[0].integer, project: r[1].text ?? "", kind: r[2].text ?? "", featureView: r[3].text,
                      startedAt: Date(timeIntervalSince1970: r[4].real ?? 0), durationSeconds: r[5].real ?? 0,
                      rows: r[6].integer ?? 0, bytes: r[7].integer ?? 0, peakMemoryBytes: r[8].integer ?? 0,
                      succeeded: r[9].integer == 1, message: r[10].text ?? "")
        }
    }
}
