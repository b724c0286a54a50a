import Glibc
import LarderFeatures
import LarderParquet
import LarderStore

/// What one feature view's materialization did.
public struct ViewMaterializeResult: Sendable, Equatable {
    public var view: String
    /// Source rows inside the window.
    public var rowsRead: Int = 0
    /// Distinct entities among them.
    public var entities: Int = 0
    /// Entities written (strictly newer than what the store held).
    public var written: Int = 0
    /// Entities skipped because the store already held an equal or newer row.
    public var skipped: Int = 0
    /// Keys, field names and values sent to the store.
    public var bytes: Int = 0
    public var seconds: Double = 0
    /// Of `seconds`: reading the source and keeping the latest rows (the rest is the store).
    public var readSeconds: Double = 0

    public init(view: String) { self.view = view }
}

/// Progress of a running materialization, for a progress bar.
public struct MaterializeProgress: Sendable {
    public var view: String
    public var rowsRead: Int
    /// Upper bound from the source's metadata (Parquet footers); nil when unknown (CSV).
    public var rowsTotal: Int?
    public var phase: Phase
    /// Seconds since this phase of this view started (the engine's monotonic clock), so a
    /// rate covers the first batch too.
    public var seconds: Double

    public enum Phase: Sendable { case reading, writing }

    public init(view: String, rowsRead: Int, rowsTotal: Int?, phase: Phase, seconds: Double) {
        self.view = view
        self.rowsRead = rowsRead
        self.rowsTotal = rowsTotal
        self.phase = phase
        self.seconds = seconds
    }

    /// A rate over less time than this is noise (the first tick after one batch read in
    /// microseconds showed "1000000000/s"): until then the bar shows no rate and no ETA.
    public static let minimumRateSeconds = 0.5

    /// Rows (reading) or entities (writing) per second, once measured over at least
    /// `minimumRateSeconds`; nil before.
    public var rate: Double? {
        guard seconds >= MaterializeProgress.minimumRateSeconds, rowsRead > 0 else { return nil }
        return Double(rowsRead) / seconds
    }

    /// The progress bar line: `view [###...] 1200/5000 rows 2400/s ETA 2s` with a known
    /// total, `view reading 1200` without; the rate and ETA only once `rate` is measured.
    public var line: String {
        let what = phase == .reading ? "reading" : "writing"
        guard let total = rowsTotal, total > 0 else {
            return "\(view) \(what) \(rowsRead)" + (rate.map { " " + Self.rateText($0) } ?? "")
        }
        let fraction = min(1, Double(rowsRead) / Double(total))
        let width = 30
        let filled = Int(fraction * Double(width))
        var text = "\(view) [\(String(repeating: "#", count: filled))\(String(repeating: ".", count: width - filled))] "
            + "\(rowsRead)/\(total) \(phase == .reading ? "rows" : "entities")"
        if let rate {
            let eta = Double(max(0, total - rowsRead)) / rate
            text += " " + Self.rateText(rate) + " ETA \(Int(eta.rounded()))s"
        }
        return text
    }

    private static func rateText(_ rate: Double) -> String { "\(Int(rate.rounded()))/s" }
}

/// Feast's materialization of file sources into a Redis-layout online store.
///
/// For each view: read the source columns with the time window `[start, end]` (Feast's
/// file store includes both ends; Parquet row groups outside it are skipped), keep the
/// latest row per entity (event timestamp, then created timestamp), encode it as Feast
/// does, then in batches read the stored `_ts:<view>` of the entities and write only those
/// strictly newer. Memory is bounded by the number of entities in the window.
public struct Materializer {
    public let repo: FeatureRepo
    /// Records per HMGET/HSET pipeline.
    public var batchSize: Int = 1000
    /// Row ranges of a batch whose winners are found in parallel (Int64WinnerPass; at most one
    /// per `Int64WinnerPass.minimumRowsPerRange` rows): one per core by default.
    var winnerRanges = TabularBatches.decodeThreads
    /// Fewest rows in such a range (tests set it low to split small batches).
    var winnerRangeMinimumRows = Int64WinnerPass.minimumRowsPerRange
    /// Fewest winners encoded on one of those threads (LatestRows.encodePayloads; tests set it low).
    var encodeMinimumSlots = LatestRows.minimumSlotsPerPart
    /// With `--workers N`: only this worker's entities are kept and written (nil: all).
    public var share: WorkerShare?

    public init(repo: FeatureRepo) {
        self.repo = repo
    }

    /// The views `larder materialize` writes: the named ones, or every online view.
    /// Unknown names and offline-only views named explicitly are errors.
    public func viewsToMaterialize(named names: [String]?) throws -> [FeatureView] {
        let definitions = repo.definitions
        guard let names, !names.isEmpty else { return definitions.featureViews.filter(\.online) }
        return try names.map { name in
            guard let view = definitions.featureView(named: name) else {
                // A view of a Feast registry that Larder left out: say why.
                if let reason = repo.skipped.first(where: { $0.hasPrefix("feature_view '\(name)':") || $0.hasPrefix("stream_feature_view '\(name)':")
                    || $0.hasPrefix("on_demand_feature_view '\(name)':") }) {
                    throw MaterializeValueError("feature view \"\(name)\" cannot be materialized by Larder: \(reason)")
                }
                throw MaterializeValueError("no feature view named \"\(name)\" (views: \(definitions.featureViews.map(\.name).joined(separator: ", ")))")
            }
            guard view.online else { throw MaterializeValueError("feature view \"\(name)\" has online: false") }
            return view
        }
    }

    /// Reads the view's window and returns the latest row of every entity in it.
    /// With a `checkpoint`, a saved read of the same window is resumed after its files, and the
    /// read is saved at file boundaries (ReadCheckpoint).
    ///
    /// `newEntities` is told each run of `batchSize` entities as soon as the read has found them
    /// (slots `[k * batchSize, (k + 1) * batchSize)`, in order; their keys never change after), so
    /// the caller can ask the store for their stored timestamps while the read goes on.
    public func latestRows(of source: ViewSource, start: Int64, end: Int64,
                           progress: ((MaterializeProgress) -> Void)? = nil,
                           checkpoint: ReadCheckpoint? = nil,
                           newEntities: ((ArraySlice<[UInt8]>) throws -> Void)? = nil) throws -> (LatestRows, rowsRead: Int) {
        let view = source.view
        let suffix = Array(repo.config.project.utf8)
        let keyWriter = EntityKeyWriter(joinKeys: source.joinKeys, types: source.keyTypes,
                                        version: repo.config.entityKeySerializationVersion)
        var latest = LatestRows(featureCount: view.features.count)
        // The winners are decided from the key and timestamp columns first; the feature columns
        // are read afterwards (`deferredColumns`), only at the winning rows: a Parquet source in
        // time order has them all in its last pages, and the others are not decoded at all.
        // Under callgrind (`--dump-resp` run of bench/materialize) decoding the 10 feature columns
        // of the 1M rows was ~600 M instructions; only the last tenth of their pages holds winners.
        var columns: [String] = []
        for name in source.joinKeyColumns + [source.timestampColumn] + (source.createdColumn.map { [$0] } ?? [])
        where !columns.contains(name) { columns.append(name) }
        var deferred: [String] = []
        for name in source.featureColumns where !columns.contains(name) && !deferred.contains(name) { deferred.append(name) }
        let keyIndices = source.joinKeyColumns.compactMap { columns.firstIndex(of: $0) }
        /// Per feature: where its column is, in the batch or among the deferred columns.
        let featureColumns: [(deferred: Bool, index: Int)] = source.featureColumns.map { name in
            if let i = columns.firstIndex(of: name) { return (false, i) }
            return (true, deferred.firstIndex(of: name)!)
        }
        let timeIndex = columns.firstIndex(of: source.timestampColumn) ?? 0
        let createdIndex = source.createdColumn.flatMap { columns.firstIndex(of: $0) }
        let total = source.tabular.format == .parquet ? try? source.tabular.rowCount() : nil
        var rowsRead = 0
        let step = max(1, batchSize)
        /// Entities handed to `newEntities` (a multiple of `step`).
        var announced = 0
        var key: [UInt8] = []
        /// Per slot: the row of the current batch that holds its latest values, or -1.
        var pendingRow: [Int] = []
        var touched: [Int] = []
        let clock = MonotonicClock()
        var batches = try source.tabular.batches(columns: columns, deferred: deferred,
                                                 timeFilter: TimeFilter(column: source.timestampColumn, range: start ... end))
        let fileCount = source.tabular.files.count
        var savedFiles = 0
        var lastSave = MonotonicClock.now()
        if let checkpoint, let restored = checkpoint.load(featureCount: view.features.count) {
            latest = restored.latest
            rowsRead = restored.rowsRead
            savedFiles = restored.filesDone
            batches.skipFiles(restored.filesDone)
            pendingRow = [Int](repeating: -1, count: latest.count)
            checkpoint.log("\(view.name): resuming after \(restored.filesDone) of \(fileCount) file(s) read by an earlier run (\(restored.latest.count) entities, \(restored.rowsRead) rows; \(checkpoint.path))")
        }
        /// At a file boundary: save when due or when a stop is asked, then stop if asked.
        func fileBoundary(_ done: Int) throws {
            guard let checkpoint, done > savedFiles else { return }
            let stop = done < fileCount && checkpoint.shouldStop(done)
            guard stop || done == fileCount || MonotonicClock.now() - lastSave >= checkpoint.intervalSeconds else { return }
            try checkpoint.save(latest, filesDone: done, rowsRead: rowsRead)
            savedFiles = done
            lastSave = MonotonicClock.now()
            if stop { throw MaterializeStoppedInView(view: view.name, filesDone: done, files: fileCount, checkpoint: checkpoint.path) }
        }
        while true {
            try fileBoundary(batches.filesCompleted)
            guard let batch = try batches.next() else { break }
            let keyColumns = keyIndices.map { batch.columns[$0] }
            guard case .int64(let times) = batch.columns[timeIndex].values else { continue }
            var created: [Int64]? = nil
            /// The created column's null mask, taken once: `ColumnData.isNull` per row cost 34 M
            /// instructions of the benchmark's 1M rows under callgrind.
            var createdValidity: [Bool]? = nil
            if let createdIndex, case .int64(let values) = batch.columns[createdIndex].values {
                created = values
                createdValidity = batch.columns[createdIndex].validity
            }
            // Only the last winning row of each entity in this batch is encoded (sorted sources
            // make nearly every row a winner, so encoding on every win would do 10x the work).
            // Fast path: one Int64 join key without nulls (the common entity) is looked up by value.
            var int64Keys: [Int64]? = nil
            // A worker serializes every row's key to hash it, so it takes the general path.
            if share == nil, keyColumns.count == 1, source.keyTypes[0] == .int64, keyColumns[0].validity == nil,
               case .int64(let ids) = keyColumns[0].values { int64Keys = ids }
            /// `row` won `slot` (new, or newer than what it held): read its features after the pass.
            func won(_ slot: Int, row: Int) throws {
                if slot == pendingRow.count {
                    pendingRow.append(-1)
                    if let newEntities, latest.count - announced >= step {
                        try newEntities(latest.keys[announced ..< announced + step])
                        announced += step
                    }
                }
                if pendingRow[slot] < 0 { touched.append(slot) }
                pendingRow[slot] = row
            }
            if let int64Keys {
                // Each range's winners first (Int64WinnerPass: two cache lines a row instead of
                // five, the ranges on every core), then one offer per entity and range, in order.
                let ranges = Int64WinnerPass.winners(ids: int64Keys, eventNanos: times, created: created,
                                                     createdValidity: createdValidity, rows: batch.rowCount,
                                                     ranges: winnerRanges, minimumRows: winnerRangeMinimumRows)
                for range in ranges {
                    for entry in range {
                        let offered = latest.offer(int64Key: entry.id, key: {
                            var key: [UInt8] = []
                            try? keyWriter.append(row: entry.row, columns: keyColumns, suffix: suffix, into: &key)
                            return key
                        }, eventNanos: entry.eventNanos, createdNanos: entry.createdNanos)
                        if let slot = offered { try won(slot, row: entry.row) }
                    }
                }
            } else {
                for row in 0 ..< batch.rowCount {
                    var createdNanos = Int64.min
                    if let created, createdValidity?[row] ?? true { createdNanos = created[row] }
                    key.removeAll(keepingCapacity: true)
                    do {
                        try keyWriter.append(row: row, columns: keyColumns, suffix: suffix, into: &key)
                    } catch {
                        throw ViewSourceError(view: view.name, path: source.path, "\(error)")
                    }
                    if let share, !share.owns(entityKey: key[..<(key.count - suffix.count)]) { continue }
                    if let slot = latest.offer(key: key, eventNanos: times[row], createdNanos: createdNanos) { try won(slot, row: row) }
                }
            }
            // A batch none of whose rows won reads no feature column.
            if !touched.isEmpty {
                let winningRows = touched.map { pendingRow[$0] }
                let deferredColumns = try batches.deferredColumns(rows: winningRows)
                let encoders = try zip(featureColumns, view.features).map { column, feature in
                    try ColumnValueEncoder(column: column.deferred ? deferredColumns[column.index] : batch.columns[column.index],
                                           type: feature.type, name: feature.name)
                }
                // The encoders hold the batch's columns, so the raw pointers stay valid while it lives.
                do {
                    try latest.encodePayloads(slots: touched, rows: winningRows, encoders: encoders, parts: winnerRanges,
                                              minimumSlots: encodeMinimumSlots)
                } catch {
                    throw ViewSourceError(view: view.name, path: source.path, "\(error)")
                }
                withExtendedLifetime(encoders) {}
                for slot in touched { pendingRow[slot] = -1 }
            }
            touched.removeAll(keepingCapacity: true)
            rowsRead += batch.rowCount
            progress?(MaterializeProgress(view: view.name, rowsRead: rowsRead, rowsTotal: total, phase: .reading,
                                           seconds: clock.elapsedSeconds))
        }
        // The whole window read: saved when the read took longer than the interval, so a kill
        // while writing resumes at the (idempotent) writes.
        if let checkpoint, savedFiles < fileCount, clock.elapsedSeconds >= checkpoint.intervalSeconds {
            try checkpoint.save(latest, filesDone: fileCount, rowsRead: rowsRead)
        }
        return (latest, rowsRead)
    }

    /// Materializes one view into `sink`.
    public func materialize(view: FeatureView, start: Int64, end: Int64, into sink: MaterializationSink,
                            progress: ((MaterializeProgress) -> Void)? = nil,
                            checkpoint: ((ViewSource) -> ReadCheckpoint?)? = nil) throws -> ViewMaterializeResult {
        let clock = MonotonicClock()
        var result = ViewMaterializeResult(view: view.name)
        let source = try ViewSource(view: view, definitions: repo.definitions, repoDirectory: repo.directory)
        sink.begin(view: view.name)
        let layout = FeastOnlineLayout(view: view, joinKeys: source.joinKeys,
                                       version: repo.config.entityKeySerializationVersion)
        // The stored timestamps of each full chunk of entities are asked for while the source is
        // still being read (a pipelining sink sends the HMGETs at once): the server answers them
        // on the other core during the read instead of after it. In the benchmark every driver
        // appears in the first tenth of the rows, so all the reads go out during the read.
        var prefetched = 0
        var (latest, rowsRead) = try latestRows(of: source, start: start, end: end, progress: progress,
                                                checkpoint: checkpoint?(source), newEntities: { keys in
            try sink.prefetchField(layout.timestampField, keys: keys)
            prefetched += keys.count
        })
        result.rowsRead = rowsRead
        result.entities = latest.count
        result.readSeconds = clock.elapsedSeconds
        let fields = [layout.timestampField] + layout.featureFields
        var batch = HashWriteBatch(fields: fields, ttlSeconds: repo.config.onlineStore.keyTTLSeconds)
        var timestamp: [UInt8] = []
        var chunkStart = 0
        let writeClock = MonotonicClock()
        let step = max(1, batchSize)
        /// The chunk of each write batch sent, so a refusal answered later names its rows.
        var writtenChunks: [Range<Int>] = []
        // The next chunk's stored timestamps are asked for before this chunk is decided and
        // written (a pipelining sink sends them at once), so the server reads them while this
        // process encodes; chunks hold distinct entities, so the read ahead sees the same values.
        func prefetch(_ start: Int) throws {
            guard start < latest.count, start >= prefetched else { return }
            try sink.prefetchField(layout.timestampField, keys: latest.keys[start ..< min(start + step, latest.count)])
        }
        do {
            try prefetch(0)
            while chunkStart < latest.count {
                let chunkEnd = min(chunkStart + step, latest.count)
                try prefetch(chunkEnd)
                let stored = try sink.readField(layout.timestampField, keys: latest.keys[chunkStart ..< chunkEnd])
                for slot in chunkStart ..< chunkEnd {
                    // Feast writes the event time as a Python datetime: microsecond precision.
                    let written = Materializer.writtenTimestamp(eventNanos: latest.eventNanos[slot])
                    if let previous = stored[slot - chunkStart], !previous.isEmpty {
                        guard let previousTime = try? ProtoTimestamp.decode(previous) else {
                            throw MaterializeValueError("the store holds a malformed \(String(decoding: layout.timestampField, as: UTF8.self)) value for a key of view \"\(view.name)\"")
                        }
                        // Feast skips a row unless it is strictly newer; a stored epoch (0) never blocks.
                        if previousTime != ProtoTimestamp(seconds: 0) && !(written > previousTime) {
                            result.skipped += 1
                            continue
                        }
                    }
                    timestamp.removeAll(keepingCapacity: true)
                    written.encode(into: &timestamp)
                    timestamp.withUnsafeBytes { first in
                        latest.payloads[slot].withUnsafeBytes { batch.append(key: latest.keys[slot], first: first, lengthPrefixed: $0) }
                    }
                }
                if !batch.isEmpty {
                    writtenChunks.append(chunkStart ..< chunkEnd)
                    try sink.write(batch)
                    result.written += batch.count
                    result.bytes += batch.payloadBytes
                    batch.removeAll()
                }
                chunkStart = chunkEnd
                progress?(MaterializeProgress(view: view.name, rowsRead: chunkEnd, rowsTotal: latest.count, phase: .writing,
                                               seconds: writeClock.elapsedSeconds))
            }
            // Every write is sent: the table is freed on another thread while the last replies
            // come (its 200,000 arrays for the benchmark's 100,000 entities took 71 M instructions
            // to free under callgrind, after the last reply, on the run's critical path).
            LatestRows.releaseInBackground(&latest)
            try sink.finish()
        } catch let refused as BatchRefusedError {
            // The run stops at the first refused batch: later ones would meet the same
            // full (or read-only) server, and a partial view must not look complete. (A pipelining
            // sink may have sent up to its window of later batches before the refusal came back;
            // the view is not recorded, so a re-run decides them again from the stored `_ts`.)
            let chunk = refused.batchIndex.flatMap { writtenChunks.indices.contains($0) ? writtenChunks[$0] : nil }
                ?? writtenChunks.last ?? (chunkStart ..< min(chunkStart + step, result.entities))
            let batchNumber = chunk.lowerBound / step + 1
            throw MaterializeValueError("view \"\(view.name)\", batch \(batchNumber) (rows \(chunk.lowerBound + 1)-\(chunk.upperBound)): "
                + "\(refused.refused) of \(refused.rows) rows refused by \(refused.endpoint): \(refused.message)"
                + (refused.isOutOfMemory
                    ? "; stopping: the target is out of memory (raise its maxmemory, or set a maxmemory-policy that evicts)"
                    : "; stopping"))
        }
        result.seconds = clock.elapsedSeconds
        return result
    }

    /// The Timestamp Feast stores for an event time: the datetime pandas hands it, floored
    /// to microseconds.
    public static func writtenTimestamp(eventNanos: Int64) -> ProtoTimestamp {
        let micros = eventNanos >= 0 ? eventNanos / 1000 : (eventNanos - 999) / 1000
        return ProtoTimestamp(epochNanoseconds: micros * 1000)
    }
}

/// Wall-clock seconds since creation, from a monotonic clock.
struct MonotonicClock {
    let start = MonotonicClock.now()

    static func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }

    var elapsedSeconds: Double { MonotonicClock.now() - start }
}
