import ArgumentParser
import Foundation
import LarderFeatures
import LarderOffline
import LarderParquet
import LarderStore

/// `larder historical REPO --entities FILE --features ... --out FILE`: point-in-time
/// correct training data (Feast's get_historical_features), written as Parquet or CSV.
struct HistoricalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "historical",
        abstract: "Join point-in-time correct feature values onto entity rows (Feast's get_historical_features).")

    @Argument(help: "Feature repo directory.") var repo: String

    @Option(name: .long, help: "Entity rows: Parquet or CSV with the join keys and an event_timestamp column.")
    var entities: String

    @Option(name: .long, help: "A feature service name, or view:feature[,view:feature...] (a bare view means all its features).")
    var features: String

    @Option(name: .long, help: "Output file: .parquet or .csv.")
    var out: String = ""

    @Option(name: .customLong("entity-types"), help: ArgumentHelp("Types of CSV entity-file columns, NAME:TYPE,... (as `cat --types`; STRING join keys are read as text without it).", valueName: "types"))
    var entityTypes: String?

    @Flag(name: .customLong("full-feature-names"), help: "Name output columns view__feature.")
    var fullFeatureNames = false

    @Flag(name: .customLong("feast-compatible"), help: ArgumentHelp(
        "Return the rows Feast's get_historical_features returns: drop entity rows whose key has source rows but none in the ttl window, collapse rows equal on join keys and time, order by the matched event time (no match first) as Feast does; features grouped by view (docs/historical.md)."))
    var feastCompatible = false

    @Flag(name: .long, help: "Print what the retrieval would read and its predicted peak memory; do nothing else.")
    var plan = false

    func run() throws {
        // Batch jobs reuse freed column buffers instead of page-faulting them in again (bench/results/parquet.md).
        ParquetMemory.keepFreedMemoryForReuse()
        do {
            let clock = Date()
            if !plan && out.isEmpty { throw CLIUsageError("--out is required (unless --plan)") }
            if !plan { _ = try HistoricalOutput.isCSV(out) }
            let loaded = try FeatureRepoLoader().load(directory: repo)
            let retriever = HistoricalRetriever(repo: loaded)
            let refs = try retriever.references(features)
            let declared = try CLIOptions.csvOptions(types: entityTypes).columnTypes
            let entitySource = try TabularSource(path: entities, csvOptions: retriever.entityCSVOptions(features: refs, declared: declared))
            if plan {
                return try MaterializePlanOutput.printHistorical(retriever: retriever, entities: entitySource, features: refs)
            }
            var writer: HistoricalOutput? = nil
            var rows = 0
            try retriever.retrieve(entities: entitySource, features: refs, fullFeatureNames: fullFeatureNames,
                                   feastCompatible: feastCompatible) { batch in
                if writer == nil { writer = try HistoricalOutput(path: out, fields: batch.fields) }
                try writer?.write(batch)
                rows += batch.rowCount
            }
            if writer == nil {
                throw CLIUsageError("\(entities): no entity rows")
            }
            try writer?.close()
            let seconds = Date().timeIntervalSince(clock)
            printErr("historical: \(rows) entity rows x \(refs.count) features -> \(out) in "
                + String(format: "%.2fs", seconds) + ", peak memory \(ProcessMemory.peakResidentBytes() / (1 << 20)) MiB")
        } catch let error as ExitCode {
            throw error
        } catch {
            throw CLIOutput.fail("historical", error)
        }
    }
}

/// Writes output batches as Parquet or CSV, by the extension of `--out`.
final class HistoricalOutput {
    private var parquet: ParquetWriter?
    private var csv: FileHandle?
    private var text: RowTextWriter?
    private var buffer: [UInt8] = []

    init(path: String, fields: [LarderParquet.Field]) throws {
        // An extension names the format; one that is neither is refused rather than
        // silently written as Parquet (`--out x.json`). No extension means Parquet.
        if try HistoricalOutput.isCSV(path) {
            guard FileManager.default.createFile(atPath: path, contents: nil),
                  let handle = FileHandle(forWritingAtPath: path) else {
                throw CLIUsageError("cannot create \(path)")
            }
            csv = handle
            let writer = RowTextWriter(format: .csv, fields: fields)
            writer.appendHeader(to: &buffer)
            text = writer
        } else {
            parquet = try ParquetWriter(path: path, fields: fields)
        }
    }

    /// Whether `path` names CSV output; Parquet for .parquet, .pq or no extension.
    static func isCSV(_ path: String) throws -> Bool {
        let ext = (path as NSString).pathExtension.lowercased()
        guard ["", "csv", "parquet", "pq"].contains(ext) else {
            throw CLIUsageError("--out \(path): unsupported output format '.\(ext)' (use .parquet or .csv)")
        }
        return ext == "csv"
    }

    func write(_ batch: ColumnBatch) throws {
        if let parquet { try parquet.write(batch); return }
        guard let text, let csv else { return }
        for row in 0 ..< batch.rowCount {
            text.appendRow(batch, row: row, to: &buffer)
            if buffer.count > 1 << 18 { csv.write(Data(buffer)); buffer.removeAll(keepingCapacity: true) }
        }
    }

    func close() throws {
        if let parquet { try parquet.close() }
        if let csv {
            csv.write(Data(buffer))
            buffer.removeAll()
            try csv.close()
        }
    }
}
