import Foundation
import LarderFeatures
import LarderOffline
import LarderStore

/// `larder materialize ... --plan [--format text|k8s-resources]`: what the run will read and its
/// predicted peak memory, printed before any work (docs/deployment.md, "Sizing batch jobs").
enum MaterializePlanOutput {
    static func print(run: MaterializeRun, views: [(FeatureView, Int64)], end: Int64, format: String) throws {
        let repo = run.repo
        var lines: [String] = []
        var json: [[String: Any]] = []
        var largest: Int64 = 0
        for (view, start) in views {
            let source = try ViewSource(view: view, definitions: repo.definitions, repoDirectory: repo.directory)
            let plan = source.readPlan(start: start, end: end)
            let history = (try? run.state?.viewMemoryHistory(project: repo.config.project, view: view.name)) ?? []
            let memory = MemoryPredictor.predict(plan, history: history ?? [])
            largest = max(largest, memory.bytes)
            json.append(["view": view.name, "format": plan.format.rawValue, "path": plan.path, "files": plan.files,
                         "files_read": plan.filesRead, "row_groups": plan.rowGroups, "row_groups_read": plan.rowGroupsRead,
                         "rows": plan.rows.map { $0 as Any } ?? NSNull(), "bytes_on_disk": plan.bytesOnDisk, "bytes_decoded": plan.bytesDecoded,
                         "start": TimeText.iso(start), "end": TimeText.iso(end),
                         "predicted_memory_bytes": memory.bytes, "history_runs": memory.samples, "basis": memory.basis])
            lines.append("\(view.name): \(plan.format.rawValue) \(plan.path): \(plan.filesRead)/\(plan.files) file(s), "
                + (plan.format == .parquet ? "\(plan.rowGroupsRead)/\(plan.rowGroups) row group(s), \(plan.rows ?? 0) rows, " : "rows unknown (CSV), ")
                + "\(mib(plan.bytesOnDisk)) on disk, \(mib(plan.bytesDecoded)) decoded "
                + "[\(TimeText.iso(start)), \(TimeText.iso(end))]; memory +\(mib(memory.bytes)) (\(memory.basis))")
        }
        let base = Int64(ProcessMemory.residentBytes())
        let peak = base + largest
        switch format {
        case "json":
            let object: [String: Any] = ["views": json, "base_bytes": base, "predicted_peak_bytes": peak]
            let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
            Swift.print(String(decoding: data, as: UTF8.self))
        case "k8s-resources":
            // Requests = limits: a batch job over its request is the first to be evicted, over its limit OOM-killed.
            let mi = (peak + (1 << 20) - 1) >> 20
            Swift.print("""
                resources:
                  requests:
                    cpu: "1"
                    memory: \(mi)Mi
                  limits:
                    memory: \(mi)Mi
                """)
        case "text":
            for line in lines { Swift.print(line) }
            Swift.print("predicted peak memory: \(mib(peak)) (process before the views \(mib(base)) + largest view \(mib(largest)))")
        default:
            throw CLIUsageError("--format \(format): expected text, json or k8s-resources")
        }
    }

    static func mib(_ bytes: Int64) -> String { String(format: "%.1f MiB", Double(bytes) / 1048576) }

    /// `larder historical ... --plan`. Historical runs record no memory history yet: the prediction
    /// is the no-history default over the views' decoded bytes, plus the entity file decoded whole.
    static func printHistorical(retriever: HistoricalRetriever, entities: TabularSource, features: [FeatureReference]) throws {
        let (entityRows, plans) = try retriever.readPlans(entities: entities, features: features)
        var entityBytes: Int64 = 0
        for file in entities.files {
            entityBytes += ((try? FileManager.default.attributesOfItem(atPath: file))?[.size] as? NSNumber)?.int64Value ?? 0
        }
        var total: Int64 = 0
        for plan in plans {
            let memory = MemoryPredictor.predict(plan, history: [])
            total += memory.bytes
            Swift.print("\(plan.view): \(plan.format.rawValue) \(plan.path): \(plan.filesRead)/\(plan.files) file(s), "
                + (plan.format == .parquet ? "\(plan.rowGroupsRead)/\(plan.rowGroups) row group(s), \(plan.rows ?? 0) rows, " : "rows unknown (CSV), ")
                + "\(mib(plan.bytesOnDisk)) on disk, \(mib(plan.bytesDecoded)) decoded; memory +\(mib(memory.bytes)) (\(memory.basis))")
        }
        // Every view's joined values are held until the output is written: the views add up.
        let entityMemory = Int64(MemoryPredictor.defaultRatio * Double(entityBytes))
        let base = Int64(ProcessMemory.residentBytes())
        Swift.print("entities: \(entities.path): \(entityRows) rows, \(mib(entityBytes)) on disk; memory +\(mib(entityMemory))")
        Swift.print("predicted peak memory: \(mib(base + total + entityMemory)) (process \(mib(base)) + views \(mib(total)) + entity rows \(mib(entityMemory)); no recorded history for historical runs)")
    }
}
