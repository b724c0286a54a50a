import Dispatch
#if canImport(Glibc)
import Glibc
#endif

/// Asks for transparent huge pages on a large, not yet touched output buffer: a fresh
/// 8 MB column array otherwise costs 2048 page faults per row group.
func adviseHugePages(_ p: UnsafeMutableRawPointer, bytes: Int) {
    #if canImport(Glibc)
    let huge = 2 << 20
    guard bytes >= 2 * huge else { return }
    let start = (Int(bitPattern: p) + huge - 1) & ~(huge - 1)
    let end = (Int(bitPattern: p) + bytes) & ~(huge - 1)
    if end > start, let aligned = UnsafeMutableRawPointer(bitPattern: start) {
        _ = madvise(aligned, end - start, MADV_HUGEPAGE)
    }
    #endif
}

/// An open Parquet file (memory-mapped). Immutable after opening; safe to share between threads.
///
///     let file = try ParquetFile(path: "driver_stats.parquet")
///     for g in file.rowGroups(timeColumn: "event_timestamp", within: start...end) {
///         let batch = try file.readRowGroup(g, columns: ["driver_id", "conv_rate"])
///     }
public final class ParquetFile: @unchecked Sendable {
    /// Path (or name) used in error messages.
    public let path: String
    public let schema: ParquetSchema
    public let limits: ReadLimits
    let bytes: FileBytes
    let metadata: FileMetaData
    let footerStart: Int

    public convenience init(path: String, limits: ReadLimits = ReadLimits()) throws {
        let bytes: FileBytes
        do { bytes = try FileBytes(path: path) } catch let e as ParquetError { throw e.located(file: path) }
        try self.init(bytes: bytes, name: path, limits: limits)
    }

    /// Opens a file held in memory (copied).
    public convenience init(data: UnsafeRawBufferPointer, name: String = "<memory>", limits: ReadLimits = ReadLimits()) throws {
        try self.init(bytes: FileBytes(copying: data), name: name, limits: limits)
    }

    init(bytes: FileBytes, name: String, limits: ReadLimits) throws {
        self.path = name
        self.bytes = bytes
        self.limits = limits
        do {
            let (meta, start) = try ParquetFile.readFooter(bytes)
            metadata = meta
            footerStart = start
            schema = try ParquetSchema(elements: meta.schema)
            for (g, rg) in meta.rowGroups.enumerated() {
                guard rg.columns.count == schema.leaves.count else {
                    throw ParquetError(.badFooter, "row group \(g) has \(rg.columns.count) column chunks, the schema has \(schema.leaves.count) leaf columns")
                }
                guard rg.numRows >= 0 else { throw ParquetError(.badFooter, "row group \(g) has \(rg.numRows) rows") }
            }
        } catch let e as ParquetError {
            throw e.located(file: name)
        }
    }

    private static func readFooter(_ b: FileBytes) throws -> (FileMetaData, Int) {
        let n = b.count
        guard n >= 12 else { throw ParquetError(.tooSmall, "the file has \(n) bytes; a Parquet file has at least 12") }
        let tail = b.u32le(at: n - 4), head = b.u32le(at: 0)
        let par1: UInt32 = 0x3152_4150, pare: UInt32 = 0x4552_4150  // "PAR1", "PARE" little-endian
        if tail == pare { throw ParquetError(.encrypted, "the file has an encrypted footer (PARE), which is not supported") }
        guard tail == par1 else {
            throw ParquetError(.badMagic, "the file does not end with 'PAR1' (not Parquet, or truncated)")
        }
        guard head == par1 else { throw ParquetError(.badMagic, "the file does not start with 'PAR1'") }
        let len = Int(b.u32le(at: n - 8))
        guard len <= n - 12 else {
            throw ParquetError(.badFooterLength, "the footer length \(len) exceeds the file size \(n) minus 12")
        }
        let start = n - 8 - len
        var r = ThriftReader(span: ByteSpan(base: b.base + start, count: len), errorKind: .badFooter, fileOffset: start)
        let meta = try FileMetaData(reading: &r)
        if meta.isEncrypted { throw ParquetError(.encrypted, "the file is encrypted, which is not supported") }
        return (meta, start)
    }

    // MARK: Metadata

    public var numRows: Int { Int(metadata.numRows) }
    public var rowGroupCount: Int { metadata.rowGroups.count }
    public func rowGroupRowCount(_ g: Int) -> Int { Int(metadata.rowGroups[g].numRows) }
    public var createdBy: String? { metadata.createdBy }
    public var keyValueMetadata: [KeyValue] { metadata.keyValueMetadata }
    public var fields: [Field] { schema.fields }

    // MARK: Reading

    /// Reads one row group's requested columns (all readable columns if nil), in request order.
    /// With `threads > 1` the column chunks are decoded in parallel.
    ///
    /// With `selection`, only the selected rows are guaranteed: the data pages of a flat
    /// nullable column that hold none of them are skipped (not decompressed nor decoded) and
    /// their rows read as the type's zero value (0, false, empty; fixed-length byte arrays as
    /// nulls). Other rows hold their values.
    public func readRowGroup(_ g: Int, columns: [String]? = nil, threads: Int = 1, selection: RowSelection? = nil) throws -> ColumnBatch {
        guard g >= 0, g < rowGroupCount else {
            throw ParquetError(.invalidArgument, "row group \(g) does not exist (the file has \(rowGroupCount))", file: path)
        }
        let selected = try resolve(columns)
        let rows = rowGroupRowCount(g)
        var results = [Result<ColumnData, ParquetError>](repeating: .failure(ParquetError(.io, "not decoded")), count: selected.count)
        let decodeOne = { (i: Int) -> Result<ColumnData, ParquetError> in
            let col = selected[i]
            do {
                return .success(try self.readColumnChunk(rowGroup: g, column: col, rows: rows, selection: selection))
            } catch let e as ParquetError {
                return .failure(e.located(file: self.path, rowGroup: g, column: col.name))
            } catch {
                return .failure(ParquetError(.io, "\(error)", file: self.path, rowGroup: g, column: col.name))
            }
        }
        if threads > 1 && selected.count > 1 {
            results.withUnsafeMutableBufferPointer { out in
                let base = out.baseAddress!
                DispatchQueue.concurrentPerform(iterations: selected.count) { i in base[i] = decodeOne(i) }
            }
        } else {
            for i in selected.indices { results[i] = decodeOne(i) }
        }
        var data: [ColumnData] = []
        data.reserveCapacity(selected.count)
        for r in results { data.append(try r.get()) }
        let fields = selected.map { Field(name: $0.name, type: $0.type ?? .null, nullable: $0.nullable) }
        return ColumnBatch(fields: fields, columns: data, rowCount: rows)
    }

    /// Columns to read, checked: unknown names and unsupported shapes fail here, before any decoding.
    func resolve(_ names: [String]?) throws -> [ParquetColumn] {
        let wanted = names ?? schema.columns.filter { $0.type != nil }.map(\.name)
        return try wanted.map { name in
            guard let c = schema.column(named: name) else {
                let known = schema.columns.map(\.name).joined(separator: ", ")
                throw ParquetError(.columnNotFound, "no column '\(name)' (columns: \(known))", file: path, column: name)
            }
            if let why = c.unsupportedReason {
                let leaf = c.leafIndices.first.map { schema.leaves[$0] }
                let kind: ParquetError.Kind
                if case .unsupported? = leaf?.shape { kind = .unsupportedNested } else if leaf == nil { kind = .unsupportedNested } else { kind = .unsupportedType }
                throw ParquetError(kind, why, file: path, column: name)
            }
            return c
        }
    }

    private func readColumnChunk(rowGroup g: Int, column: ParquetColumn, rows: Int, selection: RowSelection? = nil) throws -> ColumnData {
        let leaf = schema.leaves[column.leafIndices[0]]
        var reader = ColumnChunkReader(file: bytes, footerStart: footerStart, leaf: leaf, limits: limits)
        let chunk = metadata.rowGroups[g].columns[leaf.index]
        var contents: ChunkContents
        // Fixed-width values are decoded straight into the storage of the final array, sized
        // by the chunk's declared value count (bounded by the limits, checked while decoding).
        let declared = Int(chunk.metaData?.numValues ?? 0)
        if declared > 0, declared <= limits.maxValuesPerChunk {
            func direct<T>(_: T.Type, _ store: (inout DenseValues, [T]) -> Void) throws -> ChunkContents {
                var result = ChunkContents()
                let array = try [T](unsafeUninitializedCapacity: declared) { buf, initialized in
                    adviseHugePages(UnsafeMutableRawPointer(buf.baseAddress!), bytes: declared * MemoryLayout<T>.stride)
                    result = try reader.read(chunk, sink: FixedSink(base: UnsafeMutableRawPointer(buf.baseAddress!), capacity: declared),
                                             selection: selection)
                    initialized = result.values.sink?.count ?? 0
                }
                result.values.sink = nil
                store(&result.values, array)
                return result
            }
            switch leaf.physical {
            case .int32: contents = try direct(Int32.self) { $0.i32 = $1 }
            case .int64, .int96: contents = try direct(Int64.self) { $0.i64 = $1 }
            case .float: contents = try direct(Float.self) { $0.f32 = $1 }
            case .double: contents = try direct(Double.self) { $0.f64 = $1 }
            default: contents = try reader.read(chunk, selection: selection)
            }
        } else {
            contents = try reader.read(chunk, selection: selection)
        }
        return try contents.assemble(leaf: leaf, rows: rows)
    }

    /// Page types, encodings and value counts of one column chunk (walks and decodes the pages).
    func pageSummaries(rowGroup g: Int, leaf: Int) throws -> [PageSummary] {
        var reader = ColumnChunkReader(file: bytes, footerStart: footerStart, leaf: schema.leaves[leaf], limits: limits)
        _ = try reader.read(metadata.rowGroups[g].columns[leaf])
        return reader.pages
    }
}
