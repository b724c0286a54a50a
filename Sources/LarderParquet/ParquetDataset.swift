#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Several Parquet files read as one source with a unified schema (like a Feast FileSource
/// path that names a directory or a glob). Row groups are streamed one at a time, so memory
/// stays bounded by one row group of the requested columns.
///
///     let ds = try ParquetDataset(path: "data/driver_stats/")
///     try ds.forEachBatch(columns: ["driver_id", "event_timestamp", "conv_rate"],
///                         timeColumn: "event_timestamp", timeRange: start...end) { batch in ... }
public final class ParquetDataset: @unchecked Sendable {
    public let files: [ParquetFile]
    /// Unified fields: union by name in first-seen order. Types must agree, except that a
    /// null-typed column takes the other type, int32 widens to int64 and float to double.
    public let fields: [Field]

    /// `path` may be a file, a directory (searched recursively, skipping names that start
    /// with "_" or ".", as pyarrow does) or a glob pattern.
    public convenience init(path: String, limits: ReadLimits = ReadLimits()) throws {
        try self.init(paths: ParquetDataset.expand(path), limits: limits)
    }

    public init(paths: [String], limits: ReadLimits = ReadLimits()) throws {
        guard !paths.isEmpty else { throw ParquetError(.io, "no Parquet files to read") }
        files = try paths.map { try ParquetFile(path: $0, limits: limits) }
        var fields: [Field] = []
        var origin: [String: String] = [:]
        for file in files {
            for f in file.fields {
                guard let i = fields.firstIndex(where: { $0.name == f.name }) else {
                    fields.append(f)
                    origin[f.name] = file.path
                    continue
                }
                guard let t = ParquetDataset.unify(fields[i].type, f.type) else {
                    throw ParquetError(.schemaConflict, "column '\(f.name)' is \(fields[i].type) in \(origin[f.name] ?? "?") but \(f.type) here",
                                       file: file.path, column: f.name)
                }
                fields[i].type = t
                fields[i].nullable = fields[i].nullable || f.nullable
            }
        }
        // A column missing from some file reads as nulls there.
        for i in fields.indices where files.contains(where: { $0.schema.column(named: fields[i].name)?.type == nil }) {
            fields[i].nullable = true
        }
        self.fields = fields
    }

    static func unify(_ a: ColumnType, _ b: ColumnType) -> ColumnType? {
        if a == b { return a }
        switch (a, b) {
        case (.null, _): return b
        case (_, .null): return a
        case (.int32, .int64), (.int64, .int32): return .int64
        case (.float, .double), (.double, .float): return .double
        case (.list(let x), .list(let y)): return unify(x, y).map { .list($0) }
        default: return nil
        }
    }

    public var numRows: Int { files.reduce(0) { $0 + $1.numRows } }

    /// Calls `body` with one batch per row group of every file, in file order. Row groups
    /// whose `timeColumn` statistics lie outside `timeRange` (ns since epoch) are skipped.
    public func forEachBatch(columns: [String]? = nil, timeColumn: String? = nil,
                             timeRange: ClosedRange<Int64>? = nil, threads: Int = 1,
                             _ body: (ColumnBatch) throws -> Void) throws {
        let wanted = try columns.map { names in
            try names.map { name -> Field in
                guard let f = fields.first(where: { $0.name == name }) else {
                    throw ParquetError(.columnNotFound, "no column '\(name)' in any file (columns: \(fields.map(\.name).joined(separator: ", ")))", column: name)
                }
                return f
            }
        } ?? fields
        for file in files {
            let groups: [Int]
            if let timeColumn, let timeRange {
                groups = file.rowGroups(timeColumn: timeColumn, within: timeRange)
            } else {
                groups = Array(0..<file.rowGroupCount)
            }
            let present = wanted.filter { file.schema.column(named: $0.name)?.type != nil }.map(\.name)
            for g in groups {
                let raw = try file.readRowGroup(g, columns: present, threads: threads)
                var cols: [ColumnData] = []
                cols.reserveCapacity(wanted.count)
                for f in wanted {
                    if let c = raw[f.name] {
                        cols.append(try c.converted(to: f.type, column: f.name, file: file.path))
                    } else {
                        cols.append(ColumnData.nulls(type: f.type, count: raw.rowCount))
                    }
                }
                try body(ColumnBatch(fields: wanted, columns: cols, rowCount: raw.rowCount))
            }
        }
    }

    /// Expands a file, directory or glob into a sorted list of files.
    public static func expand(_ path: String) throws -> [String] {
        if path.contains(where: { "*?[".contains($0) }) {
            var g = glob_t()
            defer { globfree(&g) }
            let rc = glob(path, 0, nil, &g)
            if rc == GLOB_NOMATCH { throw ParquetError(.io, "no files match the pattern", file: path) }
            guard rc == 0 else { throw ParquetError(.io, "cannot expand the pattern (glob error \(rc))", file: path) }
            var out: [String] = []
            for i in 0..<Int(g.gl_pathc) {
                if let p = g.gl_pathv[i] { out.append(String(cString: p)) }
            }
            var files: [String] = []
            for p in out.sorted() { files += try expand(p) }
            return files
        }
        var st = stat()
        guard stat(path, &st) == 0 else {
            throw ParquetError(.io, "cannot access: \(String(cString: strerror(errno)))", file: path)
        }
        guard (st.st_mode & S_IFMT) == S_IFDIR else { return [path] }
        guard let dir = opendir(path) else {
            throw ParquetError(.io, "cannot list the directory: \(String(cString: strerror(errno)))", file: path)
        }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            if name.hasPrefix(".") || name.hasPrefix("_") { continue }
            names.append(name)
        }
        closedir(dir)
        let base = path.hasSuffix("/") ? path : path + "/"
        var files: [String] = []
        for name in names.sorted() { files += try expand(base + name) }
        return files
    }
}

extension ColumnData {
    /// A column of `count` nulls of `type` (zero-filled slots, all-false validity).
    public static func nulls(type: ColumnType, count: Int) -> ColumnData {
        let validity = [Bool](repeating: false, count: count)
        switch type.storageKind {
        case .boolean: return ColumnData(type: type, values: .boolean(.init(repeating: false, count: count)), validity: validity)
        case .int32: return ColumnData(type: type, values: .int32(.init(repeating: 0, count: count)), validity: validity)
        case .int64: return ColumnData(type: type, values: .int64(.init(repeating: 0, count: count)), validity: validity)
        case .float: return ColumnData(type: type, values: .float(.init(repeating: 0, count: count)), validity: validity)
        case .double: return ColumnData(type: type, values: .double(.init(repeating: 0, count: count)), validity: validity)
        case .byteArray:
            return ColumnData(type: type, values: .byteArray(ByteArrayColumn(offsets: .init(repeating: 0, count: count + 1), bytes: [])), validity: validity)
        case .null: return ColumnData(type: .null, values: .null(count: count))
        case .list:
            guard case .list(let element) = type else { return ColumnData(type: .null, values: .null(count: count)) }
            let child = ColumnData.nulls(type: element, count: 0)
            return ColumnData(type: type, values: .list(ListColumn(offsets: .init(repeating: 0, count: count + 1), elements: child)), validity: validity)
        }
    }

    /// Widens this column to `type` (int32 -> int64, float -> double, null -> typed nulls).
    func converted(to type: ColumnType, column: String, file: String) throws -> ColumnData {
        if self.type == type { return self }
        switch (values, type) {
        case (.null(let n), _): return .nulls(type: type, count: n)
        case (.int32(let a), .int64): return ColumnData(type: type, values: .int64(a.map(Int64.init)), validity: validity)
        case (.float(let a), .double): return ColumnData(type: type, values: .double(a.map(Double.init)), validity: validity)
        case (.list(let l), .list(let element)):
            let child = try l.elements.converted(to: element, column: column, file: file)
            return ColumnData(type: type, values: .list(ListColumn(offsets: l.offsets, elements: child)), validity: validity)
        default:
            throw ParquetError(.schemaConflict, "cannot convert \(self.type) to \(type)", file: file, column: column)
        }
    }
}
