import LarderParquet

// Streaming CSV reader producing `ColumnBatch`es of the shared column model.
//
//   let reader = try CSVReader(path: "stats.csv", columns: ["driver_id", "conv_rate"])
//   while let batch = try reader.nextBatch() { ... }
//
// The first record is the header. Column types are declared (`CSVOptions.columnTypes`)
// or inferred from the first `inferenceRows` records (a separate pass over the start of
// the input, see CSVTypeInference). A later value that does not fit an inferred type is
// an error naming its line, like a value that does not fit a declared type.
//
// Nulls: an empty field is a null in every column type. In string and binary columns a
// quoted empty field (`""`) is the empty string instead (as in PostgreSQL's and DuckDB's
// CSV), so both survive a round trip; elsewhere `""` is a null too.

public struct CSVOptions: Sendable {
    /// Field separator (one byte).
    public var delimiter: UInt8
    /// Declared types by column name; columns not listed are inferred.
    public var columnTypes: [String: ColumnType]
    /// Records sampled for type inference.
    public var inferenceRows: Int
    /// Rows per emitted batch (the last batch may be shorter).
    public var batchSize: Int
    /// Bytes read from the file at a time.
    public var blockSize: Int
    /// Unit of integer values in timestamp columns, by column name.
    public var epochUnits: [String: CSVEpochUnit]
    /// Unit of integer values in timestamp columns not in `epochUnits`; nil guesses per
    /// value by magnitude (wrong for instants within ~3 years of 1970: declare the unit).
    public var epochUnit: CSVEpochUnit?

    public init(delimiter: UInt8 = UInt8(ascii: ","), columnTypes: [String: ColumnType] = [:],
                inferenceRows: Int = 10_000, batchSize: Int = 65_536, blockSize: Int = 1 << 20,
                epochUnits: [String: CSVEpochUnit] = [:], epochUnit: CSVEpochUnit? = nil) {
        self.delimiter = delimiter
        self.columnTypes = columnTypes
        self.inferenceRows = inferenceRows
        self.batchSize = batchSize
        self.blockSize = blockSize
        self.epochUnits = epochUnits
        self.epochUnit = epochUnit
    }

    /// Declares the types of `schema`'s fields.
    public init(schema: [Field]) {
        self.init(columnTypes: Dictionary(schema.map { ($0.name, $0.type) }, uniquingKeysWith: { _, last in last }))
    }
}

public final class CSVReader {
    /// Name used in errors (the path as given).
    public let path: String
    /// Every column of the file, in header order, with its declared or inferred type.
    public let schema: [Field]
    /// The columns the batches hold, in the requested order.
    public let outputFields: [Field]

    private let stream: CSVRecordStream
    private var builders: [CSVColumnBuilder]
    private let batchSize: Int
    private var finished = false

    /// Opens `path`; `columns` selects (and orders) the columns to read, nil means all.
    public convenience init(path: String, columns: [String]? = nil, options: CSVOptions = CSVOptions()) throws {
        try self.init(input: .file(path: path), name: path, columns: columns, options: options)
    }

    /// Reads CSV text held in memory; `name` stands for the file in errors.
    public convenience init(bytes: [UInt8], name: String, columns: [String]? = nil,
                            options: CSVOptions = CSVOptions()) throws {
        try self.init(input: .memory(bytes), name: name, columns: columns, options: options)
    }

    init(input: CSVInput, name: String, columns: [String]?, options: CSVOptions) throws {
        path = name
        batchSize = max(options.batchSize, 1)
        stream = try CSVRecordStream(input: input, name: name, delimiter: options.delimiter,
                                     blockSize: options.blockSize)
        let header = try CSVReader.readHeader(stream)
        stream.columnNames = header

        for declared in options.columnTypes.keys.sorted() where !header.contains(declared) {
            throw CSVError(.unknownColumn(declared), file: name, line: 1)
        }
        var types = header.map { options.columnTypes[$0] }
        if types.contains(where: { $0 == nil }) {
            // A second stream over the same input samples the first rows.
            let sampler = try CSVRecordStream(input: input, name: name, delimiter: options.delimiter,
                                              blockSize: options.blockSize)
            sampler.columnNames = try CSVReader.readHeader(sampler)
            var inference = CSVTypeInference(columnCount: header.count)
            var remaining = max(options.inferenceRows, 0)
            while remaining > 0, try sampler.next(maxRecords: min(remaining, 4096)) {
                sampler.withBytes { inference.observe(sampler.tokenizer, bytes: $0) }
                remaining -= sampler.tokenizer.recordCount
            }
            let inferred = inference.columnTypes
            for c in types.indices where types[c] == nil { types[c] = inferred[c] }
        }
        schema = zip(header, types).map { Field(name: $0, type: $1 ?? .string) }

        let selected: [Int]
        if let columns {
            selected = try columns.map { wanted in
                guard let c = header.firstIndex(of: wanted) else {
                    throw CSVError(.unknownColumn(wanted), file: name, line: 1)
                }
                return c
            }
        } else {
            selected = Array(header.indices)
        }
        let fields = schema
        outputFields = selected.map { fields[$0] }
        builders = try selected.map {
            try CSVColumnBuilder(field: fields[$0], recordIndex: $0,
                                 epochUnit: options.epochUnits[fields[$0].name] ?? options.epochUnit, file: name)
        }
    }

    /// The next batch of at most `batchSize` rows, or nil after the last row.
    public func nextBatch() throws -> ColumnBatch? {
        guard !finished else { return nil }
        var rows = 0
        let width = schema.count
        while rows < batchSize {
            guard try stream.next(maxRecords: batchSize - rows) else {
                finished = true
                break
            }
            let tokenizer = stream.tokenizer
            for r in 0 ..< tokenizer.recordCount where tokenizer.fieldCount(ofRecord: r) != width {
                throw CSVError(.wrongFieldCount(expected: width, found: tokenizer.fieldCount(ofRecord: r)),
                               file: path, line: tokenizer.recordLines[r])
            }
            try stream.withBytes { bytes in
                for b in builders.indices { try builders[b].append(tokenizer, bytes: bytes) }
            }
            rows += tokenizer.recordCount
        }
        if rows == 0 { return nil }
        let columns = builders.indices.map { builders[$0].finish() }
        return ColumnBatch(fields: outputFields, columns: columns, rowCount: rows)
    }

    /// Reads every remaining batch into one list (tests, small files).
    public func readAll() throws -> [ColumnBatch] {
        var batches: [ColumnBatch] = []
        while let batch = try nextBatch() { batches.append(batch) }
        return batches
    }

    /// Number of data records in the file (header excluded), checking their widths.
    public static func countRows(path: String, options: CSVOptions = CSVOptions()) throws -> Int {
        let stream = try CSVRecordStream(input: .file(path: path), name: path, delimiter: options.delimiter,
                                         blockSize: options.blockSize)
        stream.columnNames = try readHeader(stream)
        let width = stream.columnNames.count
        var rows = 0
        while try stream.next(maxRecords: 65_536) {
            let tokenizer = stream.tokenizer
            for r in 0 ..< tokenizer.recordCount where tokenizer.fieldCount(ofRecord: r) != width {
                throw CSVError(.wrongFieldCount(expected: width, found: tokenizer.fieldCount(ofRecord: r)),
                               file: path, line: tokenizer.recordLines[r])
            }
            rows += tokenizer.recordCount
        }
        return rows
    }

    /// Column names from the first record: trimmed of spaces, an empty one named
    /// `column_N` (N 1-based, as pandas leaves the index column unnamed), no duplicates.
    static func readHeader(_ stream: CSVRecordStream) throws -> [String] {
        guard try stream.next(maxRecords: 1) else {
            throw CSVError(.emptyFile, file: stream.name, line: 1)
        }
        let tokenizer = stream.tokenizer
        let line = tokenizer.recordLines[0]
        var names: [String] = []
        stream.withBytes { p in
            for f in 0 ..< tokenizer.fieldCount(ofRecord: 0) {
                var span = tokenizer.fields[f]
                if span.flags & CSVFieldSpan.quoted == 0 { (span.start, span.end) = CSVScalar.trim(p, span.start, span.end) }
                let name = CSVColumnText.string(p, span)
                names.append(name.isEmpty ? "column_\(f + 1)" : name)
            }
        }
        var seen = Set<String>()
        for (f, name) in names.enumerated() where !seen.insert(name).inserted {
            throw CSVError(.duplicateColumn(name), file: stream.name, line: line, fieldNumber: f + 1)
        }
        return names
    }
}

extension CSVOptions {
    /// Parses a CSV type name as written on a command line or in a config:
    /// int64, int32, float64 (double), float32 (float), bool, string, binary, date,
    /// timestamp (UTC), timestamp_naive.
    public static func columnType(named name: String) -> ColumnType? {
        switch name.lowercased() {
        case "int64", "int", "bigint", "long": return .int64
        case "int32", "integer": return .int32
        case "float64", "double": return .double
        case "float32", "float": return .float
        case "bool", "boolean": return .boolean
        case "string", "str", "utf8", "text": return .string
        case "binary", "bytes": return .binary
        case "date", "date32": return .date
        case "timestamp", "timestamp_utc", "datetime": return .timestamp(isAdjustedToUTC: true)
        case "timestamp_naive": return .timestamp(isAdjustedToUTC: false)
        default: return nil
        }
    }
}

