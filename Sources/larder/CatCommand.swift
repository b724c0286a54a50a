import ArgumentParser
import LarderFeatures
import LarderOffline
import LarderParquet

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `larder cat PATH`: prints rows of a Parquet or CSV file (or directory / glob) as JSON
/// Lines or CSV. Errors are one line on stderr and a non-zero exit status.
struct CatCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cat",
        abstract: "Print rows of a Parquet or CSV file, directory or glob.",
        discussion: """
            Timestamps print as ISO 8601 (UTC with a trailing Z; naive ones without), binary as \
            base64, lists as JSON arrays; nulls are null in jsonl and empty fields in csv. \
            --format none reads everything and prints only the row count (a validity check, \
            and what the CSV benchmark times).
            """
    )

    @Argument(help: "A .parquet or .csv file, a directory of them, or a glob.")
    var path: String

    @Option(name: .long, help: "Comma-separated columns to print, in this order (default: all).")
    var columns: String?

    @Option(name: .long, help: "Print at most this many rows.")
    var limit: Int?

    @Option(name: .long, help: "Output format: jsonl, csv or none.")
    var format: String = "jsonl"

    @Option(name: .customLong("input-format"), help: "Input format when the file name does not say: parquet or csv.")
    var inputFormat: String?

    @Option(name: .long, help: "CSV column types, e.g. 'id:int64,ts:timestamp' (others are inferred).")
    var types: String?

    @Option(name: .long, help: "Time column and range, 'COLUMN:START..END' (ISO 8601 or epoch, both ends inclusive).")
    var time: String?

    @Flag(name: .customLong("merge-schemas"), help: "Read Parquet files of different columns as one schema: the union of columns, nulls where a file lacks one, int32/float widened.")
    var mergeSchemas = false

    func run() throws {
        // Batch jobs reuse freed column buffers instead of page-faulting them in again (bench/results/parquet.md).
        ParquetMemory.keepFreedMemoryForReuse()
        do {
            try catFile()
        } catch {
            throw CLIOutput.fail("cat", error)
        }
    }

    private func catFile() throws {
        let outputFormat: RowTextFormat?
        switch format.lowercased() {
        case "jsonl", "json": outputFormat = .jsonl
        case "csv": outputFormat = .csv
        case "none": outputFormat = nil
        default: throw CLIUsageError("unknown --format \"\(format)\" (expected jsonl, csv or none)")
        }
        if let limit, limit < 0 { throw CLIUsageError("--limit must not be negative") }
        let source = try CLIOptions.openSource(path: path, inputFormat: inputFormat, types: types)
        // Feast reads a source's files as one schema: a differently shaped file is a mistake
        // to show, not to paper over with nulls, unless asked.
        if !mergeSchemas, let difference = source.parquetSchemaDifference() {
            throw CLIUsageError("the files of \(path) differ in schema: \(difference); pass --merge-schemas to read them as one (union of columns, nulls where a file lacks one)")
        }
        let selected = columns.map(CLIOptions.columnList)
        let filter = try time.map { try CLIOptions.timeFilter($0) }
        var batches = try source.batches(columns: selected, timeFilter: filter)

        var out = CLIOutput()
        var printed = 0
        let remainingLimit = limit ?? Int.max
        var writer: RowTextWriter?
        if let outputFormat {
            let fields = selected.map { names in names.compactMap { n in source.schema.first { $0.name == n } } } ?? source.schema
            let textWriter = RowTextWriter(format: outputFormat, fields: fields)
            textWriter.appendHeader(to: &out.buffer)
            writer = textWriter
        }
        while printed < remainingLimit, let batch = try batches.next() {
            let rows = min(batch.rowCount, remainingLimit - printed)
            if let writer {
                for row in 0 ..< rows {
                    writer.appendRow(batch, row: row, to: &out.buffer)
                    out.flushIfFull()
                }
            }
            printed += rows
        }
        if writer == nil { out.buffer.append(contentsOf: "\(printed) rows\n".utf8) }
        out.flush()
    }
}

/// A mistake in the command line itself (as opposed to in the data).
struct CLIUsageError: Error {
    let message: String
    init(_ message: String) { self.message = message }
}

/// Parsing of the options `cat` and `inspect` share.
enum CLIOptions {
    static func columnList(_ text: String) -> [String] {
        text.split(separator: ",").map { String($0).trimmingSpaces() }.filter { !$0.isEmpty }
    }

    static func openSource(path: String, inputFormat: String?, types: String?) throws -> TabularSource {
        var format: TabularFormat? = nil
        if let inputFormat {
            guard let parsed = TabularFormat(rawValue: inputFormat.lowercased()) else {
                throw CLIUsageError("unknown --input-format \"\(inputFormat)\" (expected parquet or csv)")
            }
            format = parsed
        }
        return try TabularSource(path: path, format: format, csvOptions: csvOptions(types: types))
    }

    /// CSV options declaring the `--types` list (`NAME:TYPE,...`).
    static func csvOptions(types: String?) throws -> CSVOptions {
        var options = CSVOptions()
        for item in types.map(columnList) ?? [] {
            let parts = item.split(separator: ":", maxSplits: 1).map { String($0).trimmingSpaces() }
            guard parts.count == 2, let type = CSVOptions.columnType(named: parts[1]) else {
                throw CLIUsageError("bad --types entry \"\(item)\" (expected NAME:TYPE with TYPE one of int64, int32, float64, float32, bool, string, binary, date, timestamp, timestamp_naive)")
            }
            options.columnTypes[parts[0]] = type
        }
        return options
    }

    /// `COLUMN:START..END` with ISO 8601 or integer epoch-second bounds; an empty bound is open.
    static func timeFilter(_ text: String) throws -> TimeFilter {
        guard let colon = text.firstIndex(of: ":"),
              let dots = text.range(of: "..", range: text.index(after: colon) ..< text.endIndex) else {
            throw CLIUsageError("bad --time \"\(text)\" (expected COLUMN:START..END)")
        }
        let column = String(text[..<colon])
        let start = String(text[text.index(after: colon) ..< dots.lowerBound])
        let end = String(text[dots.upperBound...])
        func bound(_ value: String, open: Int64) throws -> Int64 {
            if value.isEmpty { return open }
            guard let ns = TimestampText.nanoseconds(value) else {
                throw CLIUsageError("bad --time bound \"\(value)\" (expected ISO 8601 or epoch seconds)")
            }
            return ns
        }
        let lower = try bound(start, open: Int64.min), upper = try bound(end, open: Int64.max)
        guard lower <= upper else { throw CLIUsageError("--time range is empty (start after end)") }
        return TimeFilter(column: column, range: lower ... upper)
    }
}

/// Buffered standard output (one write per 256 KiB, not per row).
struct CLIOutput {
    var buffer: [UInt8] = []

    init() { buffer.reserveCapacity(1 << 18) }

    mutating func flushIfFull() {
        if buffer.count >= 1 << 18 { flush() }
    }

    mutating func flush() {
        buffer.withUnsafeBytes { raw in
            guard let base = raw.baseAddress else { return }
            var written = 0
            while written < raw.count {
                let n = write(STDOUT_FILENO, base + written, raw.count - written)
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { return }
                written += n
            }
        }
        buffer.removeAll(keepingCapacity: true)
    }

    /// Prints `larder COMMAND: message` on stderr as one line; returns the exit status to throw.
    static func fail(_ command: String, _ error: Error) -> ExitCode {
        if let failure = error as? RepoLoadFailure {
            // Definition errors: one per line, each with its source line and a caret.
            _ = "larder \(command): \(failure.rendered)\n".withCString { fputs($0, stderr) }
            return ExitCode.failure
        }
        let message = (error as? CLIUsageError)?.message ?? "\(error)"
        let oneLine = message.split(whereSeparator: { $0 == "\n" || $0 == "\r" }).joined(separator: " ")
        _ = "larder \(command): \(oneLine)\n".withCString { fputs($0, stderr) }
        return ExitCode.failure
    }
}

extension String {
    func trimmingSpaces() -> String {
        var text = Substring(self)
        while text.first == " " { text = text.dropFirst() }
        while text.last == " " { text = text.dropLast() }
        return String(text)
    }
}
