import LarderFeatures
import LarderParquet

/// One requested feature: `view:feature`.
public struct FeatureReference: Equatable, Sendable, CustomStringConvertible {
    public var view: String
    public var feature: String

    public init(view: String, feature: String) {
        self.view = view
        self.feature = feature
    }

    public var description: String { "\(view):\(feature)" }
}

public struct HistoricalError: Error, CustomStringConvertible, Sendable {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// Point-in-time correct training data (Feast's `get_historical_features`): for every
/// entity row (join keys + event timestamp), each feature's value from the latest source
/// row of its view at or before the row's timestamp and not older than the view's ttl
/// (ties on the event timestamp go to the greater created timestamp); null when there is
/// none.
///
/// Differences from Feast's file offline store, on purpose (docs/historical.md):
/// every entity row is returned, in the entity file's order, with nulls where nothing
/// matched; Feast drops an entity row whose key has source rows but none inside the ttl
/// window, collapses identical entity rows, and returns rows sorted by timestamp
/// (`feastCompatible` reproduces that: `FeastRowSelection`).
///
/// Memory is the entity file plus, per entity row, the encoded values of the requested
/// features: each view's source is read once, in any order. Source rows are matched to
/// entity rows through a hash of the entity key and a binary search over that key's
/// entity timestamps, so the source does not need to be sorted. Parquet row groups
/// entirely outside [earliest entity time - ttl, latest entity time] are skipped.
public struct HistoricalRetriever {
    public let repo: FeatureRepo

    public init(repo: FeatureRepo) { self.repo = repo }

    /// `SERVICE` or a comma-separated list of `view:feature` (or `view` for all of it).
    public func references(_ text: String) throws -> [FeatureReference] {
        let definitions = repo.definitions
        let items = text.split(separator: ",").map { String($0).trimmedOfSpaces() }.filter { !$0.isEmpty }
        if items.count == 1, !items[0].contains(":"), let service = definitions.featureService(named: items[0]) {
            return service.projections.flatMap { p in p.features.map { FeatureReference(view: p.featureView, feature: $0) } }
        }
        var refs: [FeatureReference] = []
        for item in items {
            let parts = item.split(separator: ":", maxSplits: 1).map(String.init)
            guard let view = definitions.featureView(named: parts[0]) else {
                throw HistoricalError("unknown feature view or service \"\(parts[0])\" in --features")
            }
            if parts.count == 1 {
                refs += view.features.map { FeatureReference(view: view.name, feature: $0.name) }
            } else {
                guard view.feature(named: parts[1]) != nil else {
                    throw HistoricalError("feature view \"\(view.name)\" has no feature \"\(parts[1])\"")
                }
                refs.append(FeatureReference(view: view.name, feature: parts[1]))
            }
        }
        guard !refs.isEmpty else { throw HistoricalError("no features requested") }
        return refs
    }

    /// Output column names: `feature`, or `view__feature` with full names. Duplicates are
    /// an error without full names (as in Feast).
    public func outputNames(_ refs: [FeatureReference], fullFeatureNames: Bool) throws -> [String] {
        let names = refs.map { fullFeatureNames ? "\($0.view)__\($0.feature)" : $0.feature }
        var seen = Set<String>()
        for name in names where !seen.insert(name).inserted {
            throw HistoricalError("feature name \"\(name)\" is requested twice; use --full-feature-names")
        }
        return names
    }

    /// Joins the features onto the entity rows and calls `emit` with one output batch per
    /// entity batch: the entity columns as read, then the features.
    ///
    /// `feastCompatible` reproduces Feast's result instead (`FeastRowSelection`): its rows, in
    /// its order, as one batch, with the features grouped by view as Feast orders its columns.
    public func retrieve(entities: TabularSource, features requested: [FeatureReference], fullFeatureNames: Bool,
                         feastCompatible: Bool = false, emit: (ColumnBatch) throws -> Void) throws {
        var refs = requested
        if feastCompatible {
            // Feast's columns: the features of each view together, views in first-reference order.
            var views: [String] = []
            for ref in requested where !views.contains(ref.view) { views.append(ref.view) }
            refs = views.flatMap { view in requested.filter { $0.view == view } }
        }
        let names = try outputNames(refs, fullFeatureNames: fullFeatureNames)
        let entityBatches = try entities.readAll()
        let timeColumn = try HistoricalRetriever.entityTimestampColumn(of: entities)
        let table = try EntityRowTable(batches: entityBatches, timeColumn: timeColumn, path: entities.path)

        // Per view, in first-reference order: the joined values of its requested features.
        var viewOrder: [String] = []
        for ref in refs where !viewOrder.contains(ref.view) { viewOrder.append(ref.view) }
        var joined: [String: (features: [String], values: JoinedValues)] = [:]
        var feastViews: [FeastRowSelection.ViewRows] = []
        for viewName in viewOrder {
            guard let view = repo.definitions.featureView(named: viewName) else {
                throw HistoricalError("unknown feature view \"\(viewName)\"")
            }
            let wanted = refs.filter { $0.view == viewName }.map(\.feature)
            let result = try join(view: view, features: wanted, table: table, feastCompatible: feastCompatible)
            joined[viewName] = (wanted, result.values)
            if feastCompatible {
                feastViews.append(.init(values: result.values, groupOfRow: result.groupOfRow,
                                        groupHasSourceRows: result.groupHasSourceRows))
            }
        }

        if feastCompatible {
            let rows = FeastRowSelection.rows(times: table.times, views: feastViews)
            var batchOfRow: [Int] = []
            batchOfRow.reserveCapacity(table.rowCount)
            for (b, batch) in entityBatches.enumerated() {
                batchOfRow.append(contentsOf: repeatElement(b, count: batch.rowCount))
            }
            let picks = rows.map { (batch: batchOfRow[$0], row: $0 - table.batchStart[batchOfRow[$0]]) }
            guard let first = entityBatches.first else { return }
            var fields = first.fields
            var columns = fields.indices.map { c in ColumnData.gather(entityBatches.map { $0.columns[c] }, picks) }
            for (i, ref) in refs.enumerated() {
                guard let view = repo.definitions.featureView(named: ref.view), let feature = view.feature(named: ref.feature),
                      let entry = joined[ref.view], let position = entry.features.firstIndex(of: ref.feature) else { continue }
                var builder = FeatureColumnBuilder(type: feature.type)
                for row in rows { builder.append(try entry.values.value(entityRow: row, feature: position)) }
                fields.append(LarderParquet.Field(name: names[i], type: FeatureColumnBuilder.columnType(feature.type)))
                columns.append(builder.build())
            }
            return try emit(ColumnBatch(fields: fields, columns: columns, rowCount: rows.count))
        }

        for (b, batch) in entityBatches.enumerated() {
            var fields = batch.fields
            var columns = batch.columns
            for (i, ref) in refs.enumerated() {
                guard let view = repo.definitions.featureView(named: ref.view), let feature = view.feature(named: ref.feature),
                      let entry = joined[ref.view], let position = entry.features.firstIndex(of: ref.feature) else { continue }
                var builder = FeatureColumnBuilder(type: feature.type)
                for row in 0 ..< batch.rowCount {
                    builder.append(try entry.values.value(entityRow: table.batchStart[b] + row, feature: position))
                }
                fields.append(LarderParquet.Field(name: names[i], type: FeatureColumnBuilder.columnType(feature.type)))
                columns.append(builder.build())
            }
            try emit(ColumnBatch(fields: fields, columns: columns, rowCount: batch.rowCount))
        }
    }

    /// CSV options for the entity file: the declared types (`historical --entity-types`),
    /// and text for the join keys of the requested views whose key type is STRING (zero-padded
    /// ids such as `00123` stay strings).
    public func entityCSVOptions(features refs: [FeatureReference], declared: [String: ColumnType] = [:]) -> CSVOptions {
        var options = CSVOptions()
        for name in Set(refs.map(\.view)) {
            guard let view = repo.definitions.featureView(named: name), let keys = repo.definitions.joinKeys(of: view) else { continue }
            for column in ViewSource.stringKeyColumns(view: view, definitions: repo.definitions, joinKeys: keys, joinKeyColumns: keys) {
                options.columnTypes[column] = .string
            }
        }
        for (column, type) in declared { options.columnTypes[column] = type }
        return options
    }

    /// `entityTimestampColumn`, and for a CSV entity file whose `event_timestamp` was not read
    /// as timestamps, the first value that does not parse (file, line, column, value).
    public static func entityTimestampColumn(of entities: TabularSource) throws -> String {
        do {
            return try entityTimestampColumn(entities.schema, path: entities.path)
        } catch let error as HistoricalError {
            if entities.format == .csv, let field = entities.schema.first(where: { $0.name == "event_timestamp" }) {
                var strict = entities.csvOptions
                strict.columnTypes[field.name] = .timestamp(isAdjustedToUTC: true)
                do {
                    let again = try TabularSource(path: entities.path, format: .csv, csvOptions: strict)
                    var batches = try again.batches(columns: [field.name])
                    while try batches.next() != nil {}
                } catch let bad as CSVError {
                    throw HistoricalError("\(bad)")
                } catch {}
            }
            throw error
        }
    }

    /// The entity timestamp column: `event_timestamp`, or the only timestamp column (Feast's rule).
    public static func entityTimestampColumn(_ schema: [LarderParquet.Field], path: String) throws -> String {
        if let field = schema.first(where: { $0.name == "event_timestamp" }) {
            guard case .timestamp = field.type else {
                throw HistoricalError("\(path): column event_timestamp is \(field.type), not a timestamp")
            }
            return field.name
        }
        let timestamps = schema.filter { if case .timestamp = $0.type { return true } else { return false } }
        guard timestamps.count == 1 else {
            throw HistoricalError("\(path): the entity file needs a timestamp column named event_timestamp")
        }
        return timestamps[0].name
    }

    /// One view's point-in-time join over every entity row.
    /// `groupHasSourceRows` (whether each key group has any source row, at any time) is
    /// only collected with `feastCompatible`, which then reads the whole source.
    func join(view: FeatureView, features: [String], table: EntityRowTable, feastCompatible: Bool = false) throws
        -> (values: JoinedValues, groupOfRow: [Int], groupHasSourceRows: [Bool]) {
        let source = try ViewSource(view: view, definitions: repo.definitions, repoDirectory: repo.directory)
        let groups = try table.groups(joinKeys: source.joinKeys, types: source.keyTypes)
        var groupHasSourceRows = [Bool](repeating: false, count: feastCompatible ? groups.groupCount : 0)
        let values = try join(view: view, source: source, groups: groups, features: features, table: table,
                              groupHasSourceRows: &groupHasSourceRows)
        return (values, feastCompatible ? groups.groupOfRows(rowCount: table.rowCount) : [], groupHasSourceRows)
    }

    private func join(view: FeatureView, source: ViewSource, groups: EntityGroups, features: [String], table: EntityRowTable,
                      groupHasSourceRows: inout [Bool]) throws -> JoinedValues {
        var result = JoinedValues(rowCount: table.rowCount, featureCount: features.count)
        guard let earliest = table.earliest, let latest = table.latest else { return result }
        let feastCompatible = !groupHasSourceRows.isEmpty
        let ttl = view.ttlSeconds > 0 ? view.ttlSeconds * 1_000_000_000 : Int64.max
        let lower = ttl == Int64.max ? Int64.min : earliest &- ttl
        let keyWriter = EntityKeyWriter(joinKeys: source.joinKeys, types: source.keyTypes, version: .v3)
        let featureColumns = features.map { name in source.featureColumns[view.features.firstIndex { $0.name == name } ?? 0] }
        let featureTypes = features.compactMap { view.feature(named: $0)?.type }
        var columns: [String] = []
        for name in source.joinKeyColumns + featureColumns + [source.timestampColumn] + (source.createdColumn.map { [$0] } ?? [])
        where !columns.contains(name) { columns.append(name) }
        let keyIdx = source.joinKeyColumns.compactMap { columns.firstIndex(of: $0) }
        let featureIdx = featureColumns.compactMap { columns.firstIndex(of: $0) }
        let timeIdx = columns.firstIndex(of: source.timestampColumn) ?? 0
        let createdIdx = source.createdColumn.flatMap { columns.firstIndex(of: $0) }
        var key: [UInt8] = []
        var payload: [UInt8] = []
        /// Per entity row: the row of the current source batch holding its best values, or -1.
        var pendingRow = [Int](repeating: -1, count: table.rowCount)
        var touched: [Int] = []
        // Feast drops an entity row whose key has source rows outside its window only: every
        // row group must be read to know which keys have rows.
        var batches = try source.tabular.batches(columns: columns, timeFilter: feastCompatible ? nil
            : TimeFilter(column: source.timestampColumn, range: lower ... latest))
        while let batch = try batches.next() {
            let keyColumns = keyIdx.map { batch.columns[$0] }
            let encoders = try zip(featureIdx, zip(features, featureTypes)).map { index, feature in
                try ColumnValueEncoder(column: batch.columns[index], type: feature.1, name: feature.0, keepsNanoseconds: true)
            }
            guard case .int64(let times) = batch.columns[timeIdx].values else { continue }
            let createdColumn = createdIdx.map { batch.columns[$0] }
            var created: [Int64]? = nil
            if let createdColumn, case .int64(let v) = createdColumn.values { created = v }
            var ids: [Int64]? = nil
            if groups.intIndex != nil {
                switch keyColumns[0].values {
                case .int64(let v): ids = v
                case .int32(let v): ids = v.map(Int64.init)
                default: break
                }
            }
            let timeColumn = batch.columns[timeIdx]
            for row in 0 ..< batch.rowCount {
                // A row without a key or an event time matches no entity row.
                if keyColumns.contains(where: { $0.isNull(row) }) || timeColumn.isNull(row) { continue }
                let found: Int?
                if let ids {
                    found = groups.group(ofId: ids[row])
                } else {
                    key.removeAll(keepingCapacity: true)
                    do {
                        try keyWriter.append(row: row, columns: keyColumns, suffix: [], into: &key)
                    } catch {
                        throw ViewSourceError(view: view.name, path: source.path, "\(error)")
                    }
                    found = groups.group(of: key)
                }
                guard let group = found else { continue }
                if feastCompatible { groupHasSourceRows[group] = true }
                let eventTime = times[row]
                var createdTime = Int64.min
                if let created, let createdColumn, !createdColumn.isNull(row) { createdTime = created[row] }
                let upper = ttl == Int64.max ? Int64.max : eventTime &+ ttl
                // Entity rows of this key whose time lies in [eventTime, eventTime + ttl].
                var i = groups.firstRow(in: group, atOrAfter: eventTime)
                let end = groups.end(of: group)
                while i < end {
                    if groups.rowTimes[i] > upper { break }
                    let entityRow = groups.rows[i]
                    i += 1
                    guard result.isBetter(entityRow: entityRow, event: eventTime, created: createdTime) else { continue }
                    result.mark(entityRow: entityRow, event: eventTime, created: createdTime)
                    // Values are encoded once per batch for each entity row's final winner:
                    // a row is usually overtaken by later ones of the same batch.
                    if pendingRow[entityRow] < 0 { touched.append(entityRow) }
                    pendingRow[entityRow] = row
                }
            }
            for entityRow in touched {
                let row = pendingRow[entityRow]
                pendingRow[entityRow] = -1
                payload.removeAll(keepingCapacity: true)
                for encoder in encoders {
                    try LatestRows.appendValue(to: &payload) { try encoder.encode(row: row, into: &$0) }
                }
                result.setPayload(entityRow: entityRow, payload)
            }
            touched.removeAll(keepingCapacity: true)
        }
        return result
    }
}

extension String {
    func trimmedOfSpaces() -> String {
        var s = Substring(self)
        while s.first == " " { s = s.dropFirst() }
        while s.last == " " { s = s.dropLast() }
        return String(s)
    }
}
