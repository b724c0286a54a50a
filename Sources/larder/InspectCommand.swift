import ArgumentParser
import LarderOffline
import LarderParquet

/// `larder inspect PATH`: for Parquet, the schema, row groups, codecs, encodings and
/// statistics of each file; for CSV, the inferred (or declared) schema, the row count and
/// per-column null counts and min / max.
struct InspectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "Describe a Parquet or CSV file: schema, row groups, codecs, encodings, statistics."
    )

    @Argument(help: "A .parquet or .csv file, a directory of them, or a glob.")
    var path: String

    @Flag(name: .long, help: "Parquet: also walk every page and list page types and encodings.")
    var pages = false

    @Option(name: .customLong("input-format"), help: "Input format when the file name does not say: parquet or csv.")
    var inputFormat: String?

    @Option(name: .long, help: "CSV column types, e.g. 'id:int64,ts:timestamp' (others are inferred).")
    var types: String?

    func run() throws {
        do {
            var out = CLIOutput()
            let source = try CLIOptions.openSource(path: path, inputFormat: inputFormat, types: types)
            for (i, file) in source.files.enumerated() {
                if i > 0 { out.buffer.append(UInt8(ascii: "\n")) }
                switch source.format {
                case .parquet:
                    out.buffer.append(contentsOf: try ParquetInspector.describe(path: file, pages: pages, valueText: CSVColumnSummary.text).utf8)
                case .csv:
                    out.buffer.append(contentsOf: try describeCSV(file).utf8)
                }
                out.flush()
            }
        } catch {
            throw CLIOutput.fail("inspect", error)
        }
    }

    private func describeCSV(_ file: String) throws -> String {
        let single = try TabularSource(path: file, format: .csv, csvOptions: CLIOptions.csvOptions(types: types))
        var statistics = single.schema.map { CSVColumnSummary(field: $0) }
        var rows = 0
        try single.forEachBatch { batch in
            for c in statistics.indices { statistics[c].observe(batch.columns[c]) }
            rows += batch.rowCount
        }
        var lines = ["file: \(file)", "format: csv", "rows: \(rows)", "columns:"]
        for summary in statistics { lines.append("  " + summary.description) }
        return lines.joined(separator: "\n") + "\n"
    }
}

/// Null count and min / max of one CSV column, accumulated over batches.
struct CSVColumnSummary: CustomStringConvertible {
    let field: Field
    var nulls = 0
    var minimum: Double?
    var maximum: Double?
    var minimumInteger: Int64?
    var maximumInteger: Int64?

    init(field: Field) { self.field = field }

    mutating func observe(_ column: ColumnData) {
        for row in 0 ..< column.count where column.isNull(row) { nulls += 1 }
        switch column.values {
        case .int64(let values): observeIntegers(values.indices.lazy.filter { !column.isNull($0) }.map { values[$0] })
        case .int32(let values): observeIntegers(values.indices.lazy.filter { !column.isNull($0) }.map { Int64(values[$0]) })
        case .double(let values): observeFloats(values.indices.lazy.filter { !column.isNull($0) }.map { values[$0] })
        case .float(let values): observeFloats(values.indices.lazy.filter { !column.isNull($0) }.map { Double(values[$0]) })
        default: break
        }
    }

    private mutating func observeIntegers<S: Sequence>(_ values: S) where S.Element == Int64 {
        for v in values {
            minimumInteger = Swift.min(minimumInteger ?? v, v)
            maximumInteger = Swift.max(maximumInteger ?? v, v)
        }
    }

    private mutating func observeFloats<S: Sequence>(_ values: S) where S.Element == Double {
        for v in values where !v.isNaN {
            minimum = Swift.min(minimum ?? v, v)
            maximum = Swift.max(maximum ?? v, v)
        }
    }

    var description: String {
        var parts = ["nulls=\(nulls)"]
        if let lo = minimumInteger, let hi = maximumInteger {
            parts.append("min=\(render(lo))")
            parts.append("max=\(render(hi))")
        } else if let lo = minimum, let hi = maximum {
            parts.append("min=\(lo)")
            parts.append("max=\(hi)")
        }
        return "\(field.name): \(field.type) stats{\(parts.joined(separator: " "))}"
    }

    /// Integers as themselves; timestamps and dates as ISO 8601 text.
    private func render(_ value: Int64) -> String { Self.text(value, field.type) }

    /// A timestamp (nanoseconds) or date (days) as `larder cat` prints it, ISO 8601; other
    /// integers as themselves. Parquet statistics in `inspect` print the same way.
    static func text(_ value: Int64, _ type: ColumnType) -> String {
        let field = Field(name: "v", type: type)
        let column: ColumnData
        switch type {
        case .timestamp: column = ColumnData(type: field.type, values: .int64([value]))
        case .date: column = ColumnData(type: field.type, values: .int32([Int32(truncatingIfNeeded: value)]))
        default: return "\(value)"
        }
        var text: [UInt8] = []
        RowTextWriter(format: .csv, fields: [field]).appendRow(
            ColumnBatch(fields: [field], columns: [column], rowCount: 1), row: 0, to: &text)
        return String(decoding: text.dropLast(), as: UTF8.self)
    }
}
