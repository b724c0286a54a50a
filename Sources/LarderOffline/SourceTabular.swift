import Glibc
import LarderParquet

// One way to read offline data whatever its format: a Parquet or CSV file, a directory of
// them or a glob. Materialization and training retrieval read through this.
//
//   let source = try TabularSource(path: "data/driver_stats.parquet")
//   var batches = try source.batches(columns: ["driver_id", "conv_rate"],
//                                    timeFilter: TimeFilter(column: "event_timestamp", range: start ... end))
//   while let batch = try batches.next() { ... }
//
// Several files: Parquet files are unified by LarderParquet's ParquetDataset rules (union
// of columns by name, int32 -> int64 and float -> double widening, a column missing from a
// file reads as nulls there). CSV files must all have the first file's columns: its types
// are inferred once and imposed on the others, and a file whose header differs is an error
// when it is reached.

/// Keep only rows whose timestamp column lies in `range` (nanoseconds since the epoch,
/// both ends inclusive). Rows with a null timestamp are dropped.
public struct TimeFilter: Sendable, Equatable {
    public var column: String
    public var range: ClosedRange<Int64>

    public init(column: String, range: ClosedRange<Int64>) {
        self.column = column
        self.range = range
    }
}

public final class TabularSource {
    /// The path as given.
    public let path: String
    public let format: TabularFormat
    /// The data files, sorted.
    public let files: [String]
    /// Columns of the source (readable ones, for Parquet), in file order.
    public let schema: [Field]
    let csvOptions: CSVOptions
    /// The opened Parquet files (Parquet sources only).
    let parquet: ParquetDataset?

    /// Opens `path` (file, directory or glob). The format is taken from the file names
    /// unless given. `csvOptions` apply to CSV files (declared types, delimiter...).
    public init(path: String, format: TabularFormat? = nil, csvOptions: CSVOptions = CSVOptions()) throws {
        let (files, format) = try SourceFiles.resolve(path, format: format)
        self.path = path
        self.format = format
        self.files = files
        switch format {
        case .parquet:
            let dataset = try ParquetDataset(paths: files)
            parquet = dataset
            schema = dataset.fields
            self.csvOptions = csvOptions
        case .csv:
            let first = try CSVReader(path: files[0], columns: [],
                                      options: TabularSource.options(csvOptions, for: files[0]))
            schema = first.schema
            parquet = nil
            // Later files get the first file's types, so no file is inferred differently.
            var imposed = csvOptions
            imposed.columnTypes = Dictionary(uniqueKeysWithValues: schema.map { ($0.name, $0.type) })
            self.csvOptions = imposed
        }
    }

    /// Number of rows (Parquet: from the footers; CSV: counted by tokenizing every file).
    public func rowCount() throws -> Int {
        if let parquet { return parquet.numRows }
        var total = 0
        for file in files {
            total += try CSVReader.countRows(path: file, options: TabularSource.options(csvOptions, for: file))
        }
        return total
    }

    /// Batches of the requested columns (all when nil), in the requested order, optionally
    /// restricted to a time range (Parquet skips row groups whose statistics exclude it).
    ///
    /// `deferred` columns are left out of the batches: `TabularBatches.deferredColumns(rows:)`
    /// reads them for the last batch, only where needed (Parquet skips their pages holding none
    /// of the rows asked for).
    public func batches(columns: [String]? = nil, deferred: [String] = [], timeFilter: TimeFilter? = nil) throws -> TabularBatches {
        let wanted = columns ?? schema.map(\.name)
        for name in wanted + deferred where !schema.contains(where: { $0.name == name }) {
            throw TabularSourceError(path: path, "no column named \"\(name)\" (columns: \(schema.map(\.name).joined(separator: ", ")))")
        }
        if let timeFilter {
            guard let field = schema.first(where: { $0.name == timeFilter.column }) else {
                throw TabularSourceError(path: path, "no time column named \"\(timeFilter.column)\"")
            }
            guard case .timestamp = field.type else {
                throw TabularSourceError(path: path, "time column \"\(timeFilter.column)\" is \(field.type), not a timestamp")
            }
        }
        return TabularBatches(source: self, columns: wanted, deferred: deferred.filter { !wanted.contains($0) }, timeFilter: timeFilter)
    }

    /// Calls `body` with every batch (see `batches`).
    public func forEachBatch(columns: [String]? = nil, timeFilter: TimeFilter? = nil,
                             _ body: (ColumnBatch) throws -> Void) throws {
        var iterator = try batches(columns: columns, timeFilter: timeFilter)
        while let batch = try iterator.next() { try body(batch) }
    }

    /// Every batch at once (small sources, tests).
    public func readAll(columns: [String]? = nil, timeFilter: TimeFilter? = nil) throws -> [ColumnBatch] {
        var iterator = try batches(columns: columns, timeFilter: timeFilter)
        var all: [ColumnBatch] = []
        while let batch = try iterator.next() { all.append(batch) }
        return all
    }

    /// `.tsv` files are tab-separated unless another delimiter was chosen.
    static func options(_ options: CSVOptions, for file: String) -> CSVOptions {
        var options = options
        if file.lowercased().hasSuffix(".tsv") && options.delimiter == UInt8(ascii: ",") {
            options.delimiter = UInt8(ascii: "\t")
        }
        return options
    }

    /// The first Parquet file whose columns (names or types, in any order) differ from the
    /// first file's, with both schemas named: what `ParquetDataset` would merge silently
    /// (missing columns read as nulls, int32 widened to int64). nil when all agree, and for CSV
    /// (whose files must match; see `checkSchema`).
    public func parquetSchemaDifference() -> String? {
        guard let parquet, parquet.files.count > 1 else { return nil }
        func text(_ fields: [Field]) -> String { "[" + fields.map { "\($0.name): \($0.type)" }.joined(separator: ", ") + "]" }
        let first = parquet.files[0]
        let firstSet = Set(first.fields.map { "\($0.name): \($0.type)" })
        for file in parquet.files.dropFirst() where Set(file.fields.map { "\($0.name): \($0.type)" }) != firstSet {
            let names = Set(file.fields.map(\.name)), firstNames = Set(first.fields.map(\.name))
            var how: [String] = []
            let missing = first.fields.map(\.name).filter { !names.contains($0) }
            let extra = file.fields.map(\.name).filter { !firstNames.contains($0) }
            if !missing.isEmpty { how.append("\(file.path) lacks \(missing.joined(separator: ", "))") }
            if !extra.isEmpty { how.append("\(file.path) adds \(extra.joined(separator: ", "))") }
            let retyped = file.fields.filter { f in first.fields.contains { $0.name == f.name && $0.type != f.type } }.map(\.name)
            if !retyped.isEmpty { how.append("\(retyped.joined(separator: ", ")) differ in type") }
            return "\(first.path) has \(text(first.fields)) but \(file.path) has \(text(file.fields)) (\(how.joined(separator: "; ")))"
        }
        return nil
    }

    /// Throws unless `fields` (a later CSV file's schema) matches the source schema by name and type.
    func checkSchema(_ fields: [Field], of file: String) throws {
        let expected = schema.map { "\($0.name): \($0.type)" }
        let found = fields.map { "\($0.name): \($0.type)" }
        guard expected == found else {
            throw TabularSourceError(path: file, "schema differs from \(files[0]): expected [\(expected.joined(separator: ", "))], found [\(found.joined(separator: ", "))]")
        }
    }
}

/// Iterator over a source's batches, file after file.
public struct TabularBatches {
    let source: TabularSource
    let columns: [String]
    /// Columns read on demand (`deferredColumns(rows:)`), none of `columns`.
    let deferred: [String]
    let timeFilter: TimeFilter?
    /// Columns actually read by `next()`: the requested ones plus the time column if not among
    /// them, then (CSV, whose reader reads whole records) the deferred ones.
    let readColumns: [String]
    /// The deferred columns of the last batch (CSV: read with it).
    private var pendingDeferred: [ColumnData] = []
    /// The Parquet row group of the last batch, and the rows of it the time filter kept (nil: all).
    private var lastRowGroup: (file: ParquetFile, group: Int)?
    private var lastKept: [Int]?

    private var fileIndex = 0
    private var csv: CSVReader?
    private var parquet: ParquetFile?
    /// Requested columns present in the current Parquet file.
    private var presentColumns: [String] = []
    private var rowGroups: [Int] = []
    private var rowGroupIndex = 0

    init(source: TabularSource, columns: [String], deferred: [String] = [], timeFilter: TimeFilter?) {
        self.source = source
        self.columns = columns
        self.deferred = deferred
        self.timeFilter = timeFilter
        var read = columns
        if let time = timeFilter?.column, !columns.contains(time) { read.append(time) }
        if source.format == .csv { read += deferred.filter { !read.contains($0) } }
        readColumns = read
    }

    /// Column chunks of a row group decoded at once, one per core. A source is often one large row
    /// group (the 1M-row benchmark file is one), so splitting by row group would leave a core
    /// idle; its columns decode independently (LarderParquet's `readRowGroup(threads:)`).
    static let decodeThreads = max(1, sysconf(Int32(_SC_NPROCESSORS_ONLN)))

    /// Files every row of which was in the batches already returned (the file of the last
    /// batch is counted once the next call moves past it). A checkpoint records this.
    public var filesCompleted: Int { fileIndex }

    /// Starts at file `n` (a resumed read whose checkpoint holds the first `n` files); only
    /// before the first `next()`.
    public mutating func skipFiles(_ n: Int) {
        precondition(csv == nil && parquet == nil, "skipFiles after reading started")
        fileIndex = min(n, source.files.count)
    }

    /// The next non-empty batch, or nil when every file is read.
    public mutating func next() throws -> ColumnBatch? {
        while true {
            guard let raw = try nextRaw() else { return nil }
            var batch = raw
            lastKept = nil
            if let filter = timeFilter, let timeIndex = raw.index(of: filter.column),
               let rows = batch.rowsWithin(column: timeIndex, range: filter.range) {
                if rows.isEmpty { continue }
                batch = batch.keepingRows(rows)
                lastKept = rows
            }
            // Columns read but not asked for (the time column, CSV's deferred ones) are cut off;
            // the deferred ones are kept for `deferredColumns`.
            if batch.columns.count > columns.count {
                pendingDeferred = deferred.compactMap { name in batch.index(of: name).map { batch.columns[$0] } }
                batch.fields.removeLast(batch.columns.count - columns.count)
                batch.columns.removeLast(batch.columns.count - columns.count)
            }
            return batch
        }
    }

    /// The deferred columns of the batch `next()` returned last, in `deferred` order, valid at
    /// least at `rows` (indices into that batch): elsewhere a value may read as zero or null. A Parquet
    /// row group decodes only the pages of these columns that hold one of the rows (a source
    /// in time order has each entity's latest row in its last pages).
    public mutating func deferredColumns(rows: [Int]) throws -> [ColumnData] {
        guard source.format == .parquet else { return pendingDeferred }
        guard let (file, group) = lastRowGroup else { return [] }
        let present = deferred.filter { file.schema.column(named: $0)?.type != nil }
        let selection = RowSelection(rows: lastKept.map { kept in rows.map { kept[$0] } } ?? rows)
        let raw = try file.readRowGroup(group, columns: present, threads: TabularBatches.decodeThreads, selection: selection)
        var batch = try conformed(raw, names: deferred, file: file.path)
        if let lastKept { batch = batch.keepingRows(lastKept) }
        return batch.columns
    }

    private mutating func nextRaw() throws -> ColumnBatch? {
        while true {
            if let reader = csv {
                if let batch = try reader.nextBatch() { return batch }
                csv = nil
                fileIndex += 1
            } else if let file = parquet {
                if rowGroupIndex < rowGroups.count {
                    let g = rowGroups[rowGroupIndex]
                    rowGroupIndex += 1
                    if file.rowGroupRowCount(g) == 0 { continue }
                    lastRowGroup = (file, g)
                    return try conformed(file.readRowGroup(g, columns: presentColumns, threads: TabularBatches.decodeThreads),
                                         names: readColumns, file: file.path)
                }
                parquet = nil
                fileIndex += 1
            } else {
                guard fileIndex < source.files.count else { return nil }
                try open(source.files[fileIndex])
            }
        }
    }

    private mutating func open(_ file: String) throws {
        switch source.format {
        case .csv:
            let reader = try CSVReader(path: file, columns: readColumns,
                                       options: TabularSource.options(source.csvOptions, for: file))
            if fileIndex > 0 { try source.checkSchema(reader.schema, of: file) }
            csv = reader
        case .parquet:
            guard let dataset = source.parquet, fileIndex < dataset.files.count else { return }
            let opened = dataset.files[fileIndex]
            presentColumns = readColumns.filter { opened.schema.column(named: $0)?.type != nil }
            if let filter = timeFilter {
                rowGroups = opened.rowGroups(timeColumn: filter.column, within: filter.range)
            } else {
                rowGroups = Array(0 ..< opened.rowGroupCount)
            }
            rowGroupIndex = 0
            parquet = opened
        }
    }
}

extension TabularBatches {
    /// A Parquet row group's batch in the source schema: columns in `readColumns` order,
    /// widened to the unified types, missing ones as nulls.
    func conformed(_ raw: ColumnBatch, names: [String], file: String) throws -> ColumnBatch {
        var fields: [Field] = []
        var columns: [ColumnData] = []
        for name in names {
            guard let field = source.schema.first(where: { $0.name == name }) else { continue }
            fields.append(field)
            if let column = raw[name] {
                columns.append(try column.widened(to: field.type, column: name, file: file))
            } else {
                columns.append(ColumnData.nulls(type: field.type, count: raw.rowCount))
            }
        }
        return ColumnBatch(fields: fields, columns: columns, rowCount: raw.rowCount)
    }
}

extension ColumnData {
    /// This column as `type` under the dataset unification rules (int32 -> int64,
    /// float -> double, null -> typed nulls, element-wise for lists).
    func widened(to type: ColumnType, column: String, file: String) throws -> ColumnData {
        if self.type == type { return self }
        switch (values, type) {
        case (.null(let count), _):
            return .nulls(type: type, count: count)
        case (.int32(let values), .int64):
            return ColumnData(type: type, values: .int64(values.map(Int64.init)), validity: validity)
        case (.float(let values), .double):
            return ColumnData(type: type, values: .double(values.map(Double.init)), validity: validity)
        case (.list(let list), .list(let element)):
            let elements = try list.elements.widened(to: element, column: column, file: file)
            return ColumnData(type: type, values: .list(ListColumn(offsets: list.offsets, elements: elements)),
                              validity: validity)
        default:
            throw TabularSourceError(path: file, "column \"\(column)\" is \(self.type), the source schema says \(type)")
        }
    }
}
