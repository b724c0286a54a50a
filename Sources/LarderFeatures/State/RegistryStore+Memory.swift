import Foundation

/// What one view's materialization read and how much memory it took: the history
/// `larder materialize --plan` predicts the next run's peak memory from.
public struct ViewMemoryRecord: Equatable, Sendable {
    public var project: String
    public var view: String
    public var kind: String
    public var rowsRead: Int64
    public var entities: Int64
    /// Decoded (uncompressed) bytes of the columns read, in the row groups the window kept.
    public var bytesDecoded: Int64
    /// Peak resident memory during the view minus the resident memory before the run's first view.
    public var peakAboveBaseBytes: Int64
    public var baseBytes: Int64
    public var recordedAt: Date

    public init(project: String, view: String, kind: String, rowsRead: Int64, entities: Int64, bytesDecoded: Int64,
                peakAboveBaseBytes: Int64, baseBytes: Int64, recordedAt: Date = Date()) {
        self.project = project; self.view = view; self.kind = kind; self.rowsRead = rowsRead; self.entities = entities
        self.bytesDecoded = bytesDecoded; self.peakAboveBaseBytes = peakAboveBaseBytes; self.baseBytes = baseBytes
        self.recordedAt = recordedAt
    }
}

extension RegistryStore {
    /// Created on first use (IF NOT EXISTS), so older state databases need no migration.
    private func ensureMemoryTable() throws {
        try database.execute("""
            CREATE TABLE IF NOT EXISTS view_memory (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                project TEXT NOT NULL,
                feature_view TEXT NOT NULL,
                kind TEXT NOT NULL,
                rows_read INTEGER NOT NULL,
                entities INTEGER NOT NULL,
                bytes_decoded INTEGER NOT NULL,
                peak_above_base INTEGER NOT NULL,
                base INTEGER NOT NULL,
                recorded_at REAL NOT NULL);
            CREATE INDEX IF NOT EXISTS view_memory_view ON view_memory(project, feature_view);
            """)
    }

    public func recordViewMemory(_ r: ViewMemoryRecord) throws {
        try ensureMemoryTable()
        try database.run("""
            INSERT INTO view_memory (project, feature_view, kind, rows_read, entities, bytes_decoded, peak_above_base,
                                     base, recorded_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
            """, [.text(r.project), .text(r.view), .text(r.kind), .integer(r.rowsRead), .integer(r.entities),
                  .integer(r.bytesDecoded), .integer(r.peakAboveBaseBytes), .integer(r.baseBytes),
                  .real(r.recordedAt.timeIntervalSince1970)])
    }

    /// The view's most recent records, newest first.
    public func viewMemoryHistory(project: String, view: String, limit: Int = 50) throws -> [ViewMemoryRecord] {
        try ensureMemoryTable()
        return try database.query("""
            SELECT kind, rows_read, entities, bytes_decoded, peak_above_base, base, recorded_at FROM view_memory
            WHERE project = ? AND feature_view = ? ORDER BY id DESC LIMIT ?
            """, [.text(project), .text(view), .integer(Int64(limit))]).map { r in
            ViewMemoryRecord(project: project, view: view, kind: r[0].text ?? "", rowsRead: r[1].integer ?? 0,
                             entities: r[2].integer ?? 0, bytesDecoded: r[3].integer ?? 0,
                             peakAboveBaseBytes: r[4].integer ?? 0, baseBytes: r[5].integer ?? 0,
                             recordedAt: Date(timeIntervalSince1970: r[6].real ?? 0))
        }
    }
}
