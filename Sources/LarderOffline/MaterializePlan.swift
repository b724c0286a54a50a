import Foundation
import LarderFeatures
import LarderParquet

/// What a view's materialization will read, from the Parquet footers alone (no data page is
/// read): the files and row groups whose timestamp statistics overlap the window, their rows
/// and the bytes of the columns it reads. CSV sources have no footers: every file is read and
/// its size stands for both byte counts; rows are unknown (nil).
public struct ViewReadPlan: Sendable, Equatable {
    public var view: String
    public var path: String
    public var format: TabularFormat
    public var files = 0
    public var filesRead = 0
    public var rowGroups = 0
    public var rowGroupsRead = 0
    /// Rows of the row groups read (an upper bound of the rows inside the window).
    public var rows: Int?
    public var bytesOnDisk: Int64 = 0
    public var bytesDecoded: Int64 = 0
    public var largestRowGroupDecoded: Int64 = 0
}

extension ViewSource {
    public func readPlan(start: Int64, end: Int64) -> ViewReadPlan {
        var plan = ViewReadPlan(view: view.name, path: path, format: tabular.format)
        plan.files = tabular.files.count
        guard start <= end else { plan.rows = 0; return plan }  // an empty window reads nothing
        guard let dataset = tabular.parquet else {
            plan.filesRead = plan.files
            for file in tabular.files {
                let size = ((try? FileManager.default.attributesOfItem(atPath: file))?[.size] as? NSNumber)?.int64Value ?? 0
                plan.bytesOnDisk += size
                plan.bytesDecoded += size
                plan.largestRowGroupDecoded = max(plan.largestRowGroupDecoded, size)
            }
            return plan
        }
        var rows = 0
        let columns = readColumns
        for file in dataset.files {
            plan.rowGroups += file.rowGroupCount
            let groups = file.rowGroups(timeColumn: timestampColumn, within: start ... end)
            if !groups.isEmpty { plan.filesRead += 1 }
            for g in groups {
                plan.rowGroupsRead += 1
                rows += file.rowGroupRowCount(g)
                let bytes = file.columnBytes(rowGroup: g, columns: columns)
                plan.bytesOnDisk += bytes.compressed
                plan.bytesDecoded += bytes.uncompressed
                plan.largestRowGroupDecoded = max(plan.largestRowGroupDecoded, bytes.uncompressed)
            }
        }
        plan.rows = rows
        return plan
    }
}

// `larder historical --plan`.
extension HistoricalRetriever {
    /// What a retrieval will read: per view of `refs`, its source over [earliest entity time - ttl,
    /// latest entity time] (the rows a point-in-time join can use), after row-group pruning. Reads
    /// only the entity file's timestamp column.
    public func readPlans(entities: TabularSource, features refs: [FeatureReference]) throws -> (entityRows: Int, plans: [ViewReadPlan]) {
        let timeColumn = try HistoricalRetriever.entityTimestampColumn(of: entities)
        var earliest = Int64.max, latest = Int64.min, rows = 0  // no rows: an empty window
        var batches = try entities.batches(columns: [timeColumn])
        while let batch = try batches.next() {
            rows += batch.rowCount
            guard case .int64(let times) = batch.columns[0].values else { continue }
            for (i, t) in times.enumerated() where !batch.columns[0].isNull(i) {
                earliest = min(earliest, t); latest = max(latest, t)
            }
        }
        var views: [String] = []
        for ref in refs where !views.contains(ref.view) { views.append(ref.view) }
        let plans = try views.map { name -> ViewReadPlan in
            guard let view = repo.definitions.featureView(named: name) else { throw HistoricalError("unknown feature view \"\(name)\"") }
            let source = try ViewSource(view: view, definitions: repo.definitions, repoDirectory: repo.directory)
            let lower = view.ttlSeconds > 0 ? earliest &- view.ttlSeconds * 1_000_000_000 : Int64.min
            return source.readPlan(start: lower, end: latest)
        }
        return (rows, plans)
    }
}

/// Predicted memory of a view's materialization above the process' resident memory before
/// the run, from the view's earlier runs in the state database (the last 20 with bytes read):
/// - two or more runs of different sizes: the power law memory = A x decoded^k fitted in log
///   space (k in [0.3, 1.2]: the latest-row table grows slower than the rows read once entities
///   repeat), raised by the p90 of the runs' relative excess over the curve, and by at least
///   `minimumMargin` (a p90 estimate: nine runs in ten of the history fit under it);
/// - one run: its memory, scaled up in proportion to the decoded bytes, or down by their ratio^0.3;
/// - none: `defaultRatio` x decoded bytes, a conservative multiple, until the first run is recorded.
public struct MemoryPrediction: Sendable, Equatable {
    public var bytes: Int64
    public var samples: Int
    public var basis: String
}

public enum MemoryPredictor {
    /// Bytes of memory per decoded byte read when a view has no history.
    public static let defaultRatio = 6.0
    /// Fixed memory of a view's run (encoders, batch buffers, SQLite) below which no prediction goes.
    public static let minimumBytes: Int64 = 8 << 20
    /// Least factor over the fitted curve (few runs cannot show the spread of the next one).
    public static let minimumMargin = 1.1
    /// The floor with only two earlier runs.
    public static let fewRunsMargin = 1.25

    public static func predict(_ plan: ViewReadPlan, history: [ViewMemoryRecord]) -> MemoryPrediction {
        let usable = Array(history.filter { $0.bytesDecoded > 0 && $0.peakAboveBaseBytes > 0 }.prefix(20))
        let d = Double(plan.bytesDecoded)
        func done(_ bytes: Double, _ basis: String) -> MemoryPrediction {
            MemoryPrediction(bytes: max(minimumBytes, Int64(bytes.rounded(.up))), samples: usable.count, basis: basis)
        }
        guard !usable.isEmpty else {
            return done(defaultRatio * d, "no earlier run: \(defaultRatio)x decoded bytes")
        }
        let xs = usable.map { log(Double($0.bytesDecoded)) }, ys = usable.map { log(Double($0.peakAboveBaseBytes)) }
        let meanX = xs.reduce(0, +) / Double(xs.count), meanY = ys.reduce(0, +) / Double(ys.count)
        let sxx = xs.reduce(0) { $0 + ($1 - meanX) * ($1 - meanX) }
        guard usable.count >= 2, sxx > 1e-6 else {
            let last = usable[0]
            // Up: in proportion (safe: memory grows at most about linearly with the rows read); down:
            // slowly (the fixed part of a run does not shrink with its window).
            let ratio = d / Double(last.bytesDecoded)
            let scale = ratio >= 1 ? ratio : pow(ratio, 0.3)
            return done(Double(last.peakAboveBaseBytes) * scale,
                        String(format: "1 earlier run: %.1f MiB x %.2f", Double(last.peakAboveBaseBytes) / 1048576, scale))
        }
        let k = min(1.2, max(0.3, zip(xs, ys).reduce(0) { $0 + ($1.0 - meanX) * ($1.1 - meanY) } / sxx))
        let logA = meanY - k * meanX
        let curve = { (x: Double) in exp(logA + k * x) }
        let excess = zip(xs, ys).map { x, y in max(0, exp(y) / curve(x) - 1) }
        // Two runs fix the curve exactly and show no spread: a wider floor until there are three.
        let margin = max(usable.count < 3 ? fewRunsMargin : minimumMargin, 1 + percentile90(excess))
        return done(curve(log(max(1, d))) * margin,
                    String(format: "fit of %d earlier run(s): memory ~ decoded^%.2f, p90 margin x%.2f", usable.count, k, margin))
    }

    /// Nearest-rank 90th percentile.
    public static func percentile90(_ values: [Double]) -> Double {
        let sorted = values.sorted()
        let rank = Int((0.9 * Double(sorted.count)).rounded(.up))
        return sorted[max(0, min(sorted.count - 1, rank - 1))]
    }
}
