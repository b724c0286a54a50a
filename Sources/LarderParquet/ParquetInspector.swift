// Human-readable description of a Parquet file, for `larder inspect FILE`.

public enum ParquetInspector {
    /// Schema, row groups, codecs, encodings and statistics of the file at `path`.
    /// With `pages: true` every column chunk's pages are walked (and decoded) too.
    /// `valueText` renders a timestamp or date statistics bound (nanoseconds / days, see
    /// `ColumnStatistics`) as text, e.g. ISO 8601; without it they print as integers.
    public static func describe(path: String, pages: Bool = false,
                                valueText: ((Int64, ColumnType) -> String)? = nil) throws -> String {
        let file = try ParquetFile(path: path)
        return describe(file, pages: pages, valueText: valueText)
    }

    /// A column's type with timestamps in the unit the file stores (`timestamp[us, UTC]`);
    /// the reader widens every unit to nanoseconds.
    static func storedTypeText(_ type: ColumnType, leaf: LeafColumn?) -> String {
        guard case .timestamp(let utc) = type, let leaf else {
            if case .list(let element) = type { return "list<\(storedTypeText(element, leaf: leaf))>" }
            return "\(type)"
        }
        let unit: String
        switch leaf.conversion {
        case .scaleToNanos(1_000): unit = "us"
        case .scaleToNanos(1_000_000): unit = "ms"
        case .int96: unit = "ns, INT96"
        default: unit = "ns"
        }
        return "timestamp[\(unit)\(utc ? ", UTC" : "")]"
    }

    public static func describe(_ file: ParquetFile, pages: Bool = false,
                                valueText: ((Int64, ColumnType) -> String)? = nil) -> String {
        var out: [String] = []
        out.append("file: \(file.path)")
        out.append("created by: \(file.createdBy ?? "(unknown)")")
        out.append("rows: \(file.numRows), row groups: \(file.rowGroupCount), format version: \(file.metadata.version)")
        if !file.keyValueMetadata.isEmpty {
            out.append("key-value metadata: " + file.keyValueMetadata.map(\.key).joined(separator: ", "))
        }
        out.append("columns:")
        for c in file.schema.columns {
            let nullable = c.nullable ? "" : " not null"
            if let t = c.type {
                let leaf = c.leafIndices.first.map { file.schema.leaves[$0] }
                out.append("  \(c.name): \(storedTypeText(t, leaf: leaf))\(nullable)")
            } else {
                out.append("  \(c.name): UNSUPPORTED (\(c.unsupportedReason ?? "?"))")
            }
        }
        out.append("leaf columns:")
        for leaf in file.schema.leaves {
            var s = "  \(leaf.dottedPath): \(leaf.physical)"
            if let l = leaf.logicalDescription { s += " \(l)" }
            s += " def=\(leaf.maxDef) rep=\(leaf.maxRep)"
            out.append(s)
        }
        for g in 0..<file.rowGroupCount {
            let rg = file.metadata.rowGroups[g]
            out.append("row group \(g): \(rg.numRows) rows, \(rg.totalByteSize) bytes uncompressed")
            for leaf in file.schema.leaves {
                let chunk = rg.columns[leaf.index]
                guard let m = chunk.metaData else {
                    out.append("  \(leaf.dottedPath): (no metadata)")
                    continue
                }
                let encodings = m.encodings.map(ParquetNames.encoding).joined(separator: ",")
                var s = "  \(leaf.dottedPath): \(ParquetNames.codec(m.codec)) [\(encodings)] \(m.numValues) values, \(m.totalCompressedSize) bytes (\(m.totalUncompressedSize) uncompressed)"
                if let st = m.statistics {
                    let typed = ParquetFile.typedStatistics(st, leaf: leaf)
                    var parts: [String] = []
                    func text(_ value: StatisticsValue) -> String {
                        if case .int(let v) = value, let valueText, case .success(let type) = leaf.valueType {
                            switch type {
                            case .timestamp, .date: return valueText(v, type)
                            default: break
                            }
                        }
                        return "\(value)"
                    }
                    if let lo = typed.min { parts.append("min=\(text(lo))") }
                    if let hi = typed.max { parts.append("max=\(text(hi))") }
                    if let n = typed.nullCount { parts.append("nulls=\(n)") }
                    if let d = typed.distinctCount { parts.append("distinct=\(d)") }
                    if !parts.isEmpty { s += " stats{" + parts.joined(separator: " ") + "}" }
                }
                out.append(s)
                if pages {
                    do {
                        let summaries = try file.pageSummaries(rowGroup: g, leaf: leaf.index)
                        let text = summaries.map { p in
                            "\(ParquetNames.pageType(p.type))/\(p.encoding.map(ParquetNames.encoding) ?? "-"):\(p.numValues)"
                        }
                        out.append("    pages: " + text.joined(separator: " "))
                    } catch {
                        out.append("    pages: error: \(error)")
                    }
                }
            }
        }
        return out.joined(separator: "\n") + "\n"
    }
}

extension ParquetFile {
    /// Streams the file one row group at a time (see `ParquetDataset.forEachBatch`).
    public func forEachBatch(columns: [String]? = nil, timeColumn: String? = nil,
                             timeRange: ClosedRange<Int64>? = nil, threads: Int = 1,
                             _ body: (ColumnBatch) throws -> Void) throws {
        let groups: [Int]
        if let timeColumn, let timeRange {
            groups = rowGroups(timeColumn: timeColumn, within: timeRange)
        } else {
            groups = Array(0..<rowGroupCount)
        }
        for g in groups { try body(try readRowGroup(g, columns: columns, threads: threads)) }
    }
}
