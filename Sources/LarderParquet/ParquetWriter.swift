#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

public struct ParquetWriterOptions: Sendable {
    public var compression: ParquetCompression
    /// Dictionary-encode columns whose values repeat (falls back to PLAIN per column chunk).
    public var useDictionary: Bool
    /// Batches larger than this are split into several row groups.
    public var maxRowsPerRowGroup: Int
    public var maxRowsPerPage: Int
    public var keyValueMetadata: [(String, String)]

    public init(compression: ParquetCompression = .snappy, useDictionary: Bool = true,
                maxRowsPerRowGroup: Int = 1 << 20, maxRowsPerPage: Int = 20_000,
                keyValueMetadata: [(String, String)] = []) {
        self.compression = compression
        self.useDictionary = useDictionary
        self.maxRowsPerRowGroup = maxRowsPerRowGroup
        self.maxRowsPerPage = maxRowsPerPage
        self.keyValueMetadata = keyValueMetadata
    }
}

/// Writes column batches to a Parquet file: one row group per batch (split when larger than
/// `maxRowsPerRowGroup`), data pages v1, PLAIN or dictionary encoding, row-group statistics.
/// Types map as: timestamp -> INT64 TIMESTAMP(NANOS, isAdjustedToUTC), date -> INT32 DATE,
/// string -> BYTE_ARRAY STRING, list<T> -> 3-level LIST (`list`/`element`, element optional),
/// null -> INT32 UNKNOWN.
///
///     let w = try ParquetWriter(path: "out.parquet", fields: batch.fields)
///     try w.write(batch)
///     try w.close()
public final class ParquetWriter {
    public let path: String
    public let fields: [Field]
    public let options: ParquetWriterOptions
    private let leaves: [WriterLeaf]
    private var fd: Int32
    private var offset = 0
    private var rowGroups: [WrittenRowGroup] = []
    private var closed = false

    private struct WrittenRowGroup {
        var rows: Int
        var chunks: [(EncodedChunk, start: Int)]
    }

    public init(path: String, fields: [Field], options: ParquetWriterOptions = ParquetWriterOptions()) throws {
        self.path = path
        self.fields = fields
        self.options = options
        var names = Set<String>()
        for f in fields where !names.insert(f.name).inserted {
            throw ParquetError(.invalidArgument, "duplicate column name", file: path, column: f.name)
        }
        leaves = try fields.map { f in
            do { return try WriterLeaf(field: f) } catch let e as ParquetError { throw e.located(file: path) }
        }
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard fd >= 0 else { throw ParquetError(.io, "cannot create: \(String(cString: strerror(errno)))", file: path) }
        try writeBytes(Array("PAR1".utf8))
    }

    deinit {
        if fd >= 0 { Glibc.close(fd) }
    }

    private func writeBytes(_ bytes: [UInt8]) throws {
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + done, bytes.count - done) }
            if n < 0 {
                if errno == EINTR { continue }
                throw ParquetError(.io, "write failed: \(String(cString: strerror(errno)))", file: path)
            }
            done += n
        }
        offset += bytes.count
    }

    /// Writes `batch` (its fields must equal the writer's, in order) as one or more row groups.
    public func write(_ batch: ColumnBatch) throws {
        guard !closed else { throw ParquetError(.invalidArgument, "the writer is closed", file: path) }
        guard batch.fields.map(\.name) == fields.map(\.name), batch.columns.count == fields.count else {
            throw ParquetError(.invalidArgument, "batch columns \(batch.fields.map(\.name)) differ from the writer's \(fields.map(\.name))", file: path)
        }
        for (i, c) in batch.columns.enumerated() where c.type != fields[i].type && c.type != .null {
            throw ParquetError(.invalidArgument, "column holds \(c.type), the schema says \(fields[i].type)", file: path, column: fields[i].name)
        }
        if batch.rowCount == 0 { return }
        let step = max(1, options.maxRowsPerRowGroup)
        var start = 0
        while start < batch.rowCount {
            let end = min(batch.rowCount, start + step)
            let part = start == 0 && end == batch.rowCount ? batch.columns : batch.columns.map { $0.slice(start..<end) }
            try writeRowGroup(part, rows: end - start)
            start = end
        }
    }

    private func writeRowGroup(_ columns: [ColumnData], rows: Int) throws {
        var group = WrittenRowGroup(rows: rows, chunks: [])
        for (i, leaf) in leaves.enumerated() {
            var column = columns[i]
            if column.type == .null && leaf.field.type != .null {
                column = ColumnData.nulls(type: leaf.field.type, count: column.count)
            }
            let writer = ChunkWriter(leaf: leaf, compression: options.compression,
                                     useDictionary: options.useDictionary, maxRowsPerPage: options.maxRowsPerPage)
            let chunk: EncodedChunk
            do { chunk = try writer.encode(column, rows: rows) } catch let e as ParquetError {
                throw e.located(file: path, rowGroup: rowGroups.count, column: leaf.field.name)
            }
            let start = offset
            try writeBytes(chunk.bytes)
            group.chunks.append((chunk, start))
        }
        rowGroups.append(group)
    }

    /// Writes the footer and closes the file.
    public func close() throws {
        guard !closed else { return }
        closed = true
        var w = ThriftWriter()
        w.i32(1, 2)
        w.structList(2, schemaElements()) { w, e in e(&w) }
        w.i64(3, Int64(rowGroups.reduce(0) { $0 + $1.rows }))
        w.structList(4, rowGroups) { w, g in self.writeRowGroupMeta(&w, g) }
        if !options.keyValueMetadata.isEmpty {
            w.structList(5, options.keyValueMetadata) { w, kv in
                w.string(1, kv.0)
                w.string(2, kv.1)
            }
        }
        w.string(6, "larder parquet writer version 0.1")
        // TypeDefinedOrder for every leaf: tells readers min_value/max_value are trustworthy.
        w.structList(7, leaves) { w, _ in w.structField(1) { _ in } }
        w.stop()
        let footer = w.out
        let n = UInt32(footer.count)
        try writeBytes(footer + [UInt8(n & 0xff), UInt8(n >> 8 & 0xff), UInt8(n >> 16 & 0xff), UInt8(n >> 24)] + Array("PAR1".utf8))
        let rc = Glibc.close(fd)
        fd = -1
        if rc != 0 { throw ParquetError(.io, "close failed: \(String(cString: strerror(errno)))", file: path) }
    }

    private func schemaElements() -> [(inout ThriftWriter) -> Void] {
        var out: [(inout ThriftWriter) -> Void] = []
        let count = leaves.count
        out.append { w in
            w.string(4, "schema")
            w.i32(5, Int32(count))
        }
        for leaf in leaves {
            let name = leaf.field.name
            if leaf.isList {
                let repetition: Int32 = leaf.listDef > 0 ? 1 : 0
                out.append { w in
                    w.i32(3, repetition)
                    w.string(4, name)
                    w.i32(5, 1)
                    w.i32(6, 3)  // converted LIST
                    w.structField(10) { w in w.structField(3) { _ in } }
                }
                out.append { w in
                    w.i32(3, 2)  // REPEATED
                    w.string(4, "list")
                    w.i32(5, 1)
                }
                out.append { w in ParquetWriter.primitive(&w, leaf: leaf, name: "element", repetition: 1) }
            } else {
                let repetition: Int32 = leaf.maxDef > 0 ? 1 : 0
                out.append { w in ParquetWriter.primitive(&w, leaf: leaf, name: name, repetition: repetition) }
            }
        }
        return out
    }

    private static func primitive(_ w: inout ThriftWriter, leaf: WriterLeaf, name: String, repetition: Int32) {
        w.i32(1, leaf.physical.rawValue)
        w.i32(3, repetition)
        w.string(4, name)
        switch leaf.valueType {
        case .string:
            w.i32(6, 0)  // UTF8
            w.structField(10) { w in w.structField(1) { _ in } }
        case .date:
            w.i32(6, 6)
            w.structField(10) { w in w.structField(6) { _ in } }
        case .timestamp(let utc):
            w.structField(10) { w in
                w.structField(8) { w in
                    w.bool(1, utc)
                    w.structField(2) { w in w.structField(3) { _ in } }  // NANOS
                }
            }
        case .null:
            w.structField(10) { w in w.structField(11) { _ in } }
        default: break
        }
    }

    private func writeRowGroupMeta(_ w: inout ThriftWriter, _ g: WrittenRowGroup) {
        var totalUncompressed = 0, totalCompressed = 0
        w.structList(1, Array(zip(leaves, g.chunks))) { w, pair in
            let (leaf, (chunk, start)) = pair
            let dataStart = start + (chunk.dictionaryPageLength ?? 0)
            w.i64(2, Int64(start))
            w.structField(3) { w in
                w.i32(1, leaf.physical.rawValue)
                w.i32List(2, chunk.encodings)
                w.stringList(3, leaf.isList ? [leaf.field.name, "list", "element"] : [leaf.field.name])
                w.i32(4, options.compression.codec.rawValue)
                w.i64(5, Int64(chunk.numValues))
                w.i64(6, Int64(chunk.uncompressedSize))
                w.i64(7, Int64(chunk.bytes.count))
                w.i64(9, Int64(dataStart))
                if chunk.dictionaryPageLength != nil { w.i64(11, Int64(start)) }
                w.structField(12) { w in
                    let st = chunk.statistics
                    if let v = st.max { w.binary(1, v) }
                    if let v = st.min { w.binary(2, v) }
                    if let n = st.nullCount { w.i64(3, n) }
                    if let v = st.maxValue { w.binary(5, v) }
                    if let v = st.minValue { w.binary(6, v) }
                }
            }
        }
        for (chunk, _) in g.chunks {
            totalUncompressed += chunk.uncompressedSize
            totalCompressed += chunk.bytes.count
        }
        w.i64(2, Int64(totalUncompressed))
        w.i64(3, Int64(g.rows))
        if let first = g.chunks.first { w.i64(5, Int64(first.start)) }
        w.i64(6, Int64(totalCompressed))
    }

    /// Writes `batches` to a new file at `path` (fields taken from the first batch, or `fields`).
    public static func write(_ batches: [ColumnBatch], fields: [Field]? = nil, to path: String,
                             options: ParquetWriterOptions = ParquetWriterOptions()) throws {
        guard let schema = fields ?? batches.first?.fields else {
            throw ParquetError(.invalidArgument, "no batches and no fields to write", file: path)
        }
        let w = try ParquetWriter(path: path, fields: schema, options: options)
        for b in batches { try w.write(b) }
        try w.close()
    }
}
