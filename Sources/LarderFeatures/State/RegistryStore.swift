import Foundation

/// Larder's own registry and state, in SQLite: applied definitions with their versions,
/// materialized intervals per feature view, and the history of runs.
///
/// Not thread-safe; open one store per thread or process (SQLite handles the locking
/// between processes).
public final class RegistryStore {
    public typealias Change = DefinitionChange

    public let database: SQLiteDatabase
    static let schemaVersion = 1

    public init(path: String) throws {
        database = try SQLiteDatabase(path: path)
        try migrate()
    }

    private func migrate() throws {
        let version = try database.query("PRAGMA user_version").first?.first?.integer ?? 0
        if version > Int64(Self.schemaVersion) {
            throw SQLiteError(code: 0, message: "state database \(database.path) has schema version \(version); "
                + "this Larder understands up to \(Self.schemaVersion)", sql: nil)
        }
        // Switching a new database to WAL takes an exclusive lock that SQLite's busy handler
        // does not always wait for (two workers of a `--workers N` job opening it at once got
        // "database is locked" here): retry for up to 10 s.
        var attempts = 0
        while true {
            do { try database.execute("PRAGMA journal_mode = WAL"); break }
            catch let error as SQLiteError where error.code == 5 && attempts < 200 {
                attempts += 1
                usleep(50_000)
            }
        }
        guard version < Int64(Self.schemaVersion) else { return }
        try database.transaction {
            // Read again under the write lock: another process opening the same new database at
            // the same moment (the workers of a `--workers N` job) may have created it meanwhile.
            guard try (database.query("PRAGMA user_version").first?.first?.integer ?? 0) < Int64(Self.schemaVersion) else { return }
            try database.execute("""
                CREATE TABLE applies (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    project TEXT NOT NULL,
                    applied_at REAL NOT NULL,
                    change_count INTEGER NOT NULL);
                -- One row per version of each object; the current version has removed_in NULL.
                CREATE TABLE definitions (
                    project TEXT NOT NULL,
                    kind TEXT NOT NULL,
                    name TEXT NOT NULL,
                    version INTEGER NOT NULL,
                    position INTEGER NOT NULL,
                    spec TEXT NOT NULL,
                    applied_in INTEGER NOT NULL REFERENCES applies(id),
                    removed_in INTEGER REFERENCES applies(id),
                    PRIMARY KEY (project, kind, name, version));
                CREATE INDEX definitions_current ON definitions(project, removed_in);
                CREATE TABLE materializations (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    project TEXT NOT NULL,
                    feature_view TEXT NOT NULL,
                    start_seconds INTEGER NOT NULL, start_nanos INTEGER NOT NULL,
                    end_seconds INTEGER NOT NULL, end_nanos INTEGER NOT NULL,
                    rows INTEGER NOT NULL,
                    run_id INTEGER REFERENCES runs(id),
                    recorded_at REAL NOT NULL);
                CREATE INDEX materializations_view ON materializations(project, feature_view);
                CREATE TABLE runs (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    project TEXT NOT NULL,
                    kind TEXT NOT NULL,
                    feature_view TEXT,
                    started_at REAL NOT NULL,
                    duration_seconds REAL NOT NULL,
                    rows INTEGER NOT NULL,
                    bytes INTEGER NOT NULL,
                    peak_memory_bytes INTEGER NOT NULL,
                    succeeded INTEGER NOT NULL,
                    message TEXT NOT NULL);
                PRAGMA user_version = \(Self.schemaVersion);
                """)
        }
    }

    // MARK: - Definitions

    private struct Current {
        var version: Int
        var spec: String
    }

    private func current(project: String) throws -> [String: Current] {
        var out: [String: Current] = [:]
        for row in try database.query("SELECT kind, name, version, spec FROM definitions WHERE project = ? AND removed_in IS NULL",
                                      [.text(project)]) {
            guard let kind = row[0].text, let name = row[1].text, let version = row[2].integer, let spec = row[3].text else { continue }
            out["\(kind)/\(name)"] = Current(version: Int(version), spec: spec)
        }
        return out
    }

    private func latestVersion(project: String, kind: String, name: String) throws -> Int {
        let rows = try database.query("SELECT MAX(version) FROM definitions WHERE project = ? AND kind = ? AND name = ?",
                                      [.text(project), .text(kind), .text(name)])
        return Int(rows.first?.first?.integer ?? 0)
    }

    /// What `apply(repo:)` would change, without writing anything (`larder plan`).
    public func plan(repo: FeatureRepo) throws -> [Change] {
        try computeChanges(repo: repo).map(\.change)
    }

    /// Records the repo's definitions as the applied state and returns what changed since
    /// the last apply. Unchanged objects keep their version; nothing is written if nothing changed.
    @discardableResult
    public func apply(repo: FeatureRepo, at date: Date = Date()) throws -> [Change] {
        let project = repo.config.project
        return try database.transaction {
            let planned = try computeChanges(repo: repo)
            guard !planned.isEmpty else { return [] }
            try database.run("INSERT INTO applies (project, applied_at, change_count) VALUES (?, ?, ?)",
                             [.text(project), .real(date.timeIntervalSince1970), .integer(Int64(planned.count))])
            let applyID = database.lastInsertRowID
            for item in planned {
                let c = item.change
                if let old = c.oldVersion {
                    try database.run("""
                        UPDATE definitions SET removed_in = ? WHERE project = ? AND kind = ? AND name = ? AND version = ?
                        """, [.integer(applyID), .text(project), .text(c.kind.rawValue), .text(c.name), .integer(Int64(old))])
                }
                if let new = c.newVersion, let spec = item.spec {
                    try database.run("""
                        INSERT INTO definitions (project, kind, name, version, position, spec, applied_in)
                        VALUES (?, ?, ?, ?, ?, ?, ?)
                        """, [.text(project), .text(c.kind.rawValue), .text(c.name), .integer(Int64(new)),
                              .integer(Int64(item.position)), .text(spec), .integer(applyID)])
                }
            }
            // Keep the definition order of the latest repo for unchanged objects too.
            for (position, spec) in try DefinitionSpecs.specs(of: repo).enumerated() {
                try database.run("""
                    UPDATE definitions SET position = ? WHERE project = ? AND kind = ? AND name = ? AND removed_in IS NULL
                    """, [.integer(Int64(position)), .text(project), .text(spec.kind.rawValue), .text(spec.name)])
            }
            return planned.map(\.change)
        }
    }

    private func computeChanges(repo: FeatureRepo) throws -> [(change: Change, spec: String?, position: Int)] {
        let project = repo.config.project
        var applied = try current(project: project)
        var out: [(Change, String?, Int)] = []
        for (position, spec) in try DefinitionSpecs.specs(of: repo).enumerated() {
            let key = "\(spec.kind.rawValue)/\(spec.name)"
            if let existing = applied.removeValue(forKey: key) {
                guard existing.spec != spec.json else { continue }
                out.append((Change(action: .changed, kind: spec.kind, name: spec.name, oldVersion: existing.version,
                                   newVersion: existing.version + 1,
                                   changedAttributes: DefinitionSpecs.changedAttributes(old: existing.spec, new: spec.json),
                                   details: DefinitionSpecs.changeDetails(old: existing.spec, new: spec.json)),
                            spec.json, position))
            } else {
                let version = try latestVersion(project: project, kind: spec.kind.rawValue, name: spec.name) + 1
                out.append((Change(action: .added, kind: spec.kind, name: spec.name, oldVersion: nil, newVersion: version,
                                   changedAttributes: []), spec.json, position))
            }
        }
        for (key, existing) in applied.sorted(by: { $0.key < $1.key }) {
            let parts = key.split(separator: "/", maxSplits: 1).map(String.init)
            guard parts.count == 2, let kind = DefinitionChange.ObjectKind(rawValue: parts[0]) else { continue }
            out.append((Change(action: .removed, kind: kind, name: parts[1], oldVersion: existing.version, newVersion: nil,
                               changedAttributes: []), nil, 0))
        }
        return out
    }

    /// The applied definitions of a project, in definition order (nil if never applied).
    public func appliedDefinitions(project: String) throws -> FeatureDefinitions? {
        let rows = try database.query("""
            SELECT kind, spec FROM definitions WHERE project = ? AND removed_in IS NULL ORDER BY position, kind, name
            """, [.text(project)])
        guard !rows.isEmpty else { return nil }
        var defs = FeatureDefinitions(project: project)
        for row in rows {
            guard let kind = row[0].text.flatMap(DefinitionChange.ObjectKind.init(rawValue:)), let spec = row[1].text else { continue }
            switch kind {
            case .config: break
            case .entity: defs.entities.append(try DefinitionSpecs.decode(Entity.self, spec))
            case .dataSource: defs.dataSources.append(try DefinitionSpecs.decode(DataSource.self, spec))
            case .featureView: defs.featureViews.append(try DefinitionSpecs.decode(FeatureView.self, spec))
            case .featureService: defs.featureServices.append(try DefinitionSpecs.decode(FeatureService.self, spec))
            }
        }
        return defs
    }

    /// The applied version number of one object (nil if it is not currently applied).
    public func appliedVersion(project: String, kind: DefinitionChange.ObjectKind, name: String) throws -> Int? {
        try database.query("""
            SELECT version FROM definitions WHERE project = ? AND kind = ? AND name = ? AND removed_in IS NULL
            """, [.text(project), .text(kind.rawValue), .text(name)]).first?.first?.integer.map(Int.init)
    }
}
