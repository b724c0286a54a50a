/// Footer facts for planning a read before doing it (`larder materialize --plan`): how many
/// bytes the chosen columns of a row group take on disk and once decoded.
extension ParquetFile {
    public struct ColumnBytes: Sendable, Equatable {
        public var compressed: Int64 = 0
        public var uncompressed: Int64 = 0
        public init() {}
    }

    /// Sum over the leaves of `columns` (every column when nil) in row group `g`, from the
    /// column chunk metadata. Columns this file lacks count nothing.
    public func columnBytes(rowGroup g: Int, columns: [String]? = nil) -> ColumnBytes {
        var total = ColumnBytes()
        guard g >= 0, g < rowGroupCount else { return total }
        let names = columns ?? schema.columns.map(\.name)
        for name in names {
            guard let column = schema.column(named: name) else { continue }
            for leafIndex in column.leafIndices {
                let leaf = schema.leaves[leafIndex]
                guard let meta = metadata.rowGroups[g].columns[leaf.index].metaData else { continue }
                total.compressed += meta.totalCompressedSize
                total.uncompressed += meta.totalUncompressedSize
            }
        }
        return total
    }
}

/// Rows of a row group a reader needs, for `ParquetFile.readRowGroup(selection:)`: the data
/// pages of a flat nullable column holding none of them are skipped (their rows read as zero
/// values: only the selected rows are meaningful). Materialization decides
/// each entity's latest row from the key and timestamp columns first and then needs the feature
/// columns only at those rows; a source in time order has them all in its last pages.
public struct RowSelection: Sendable {
    /// Ascending, distinct.
    public let rows: [Int]

    /// `rows` in any order; duplicates are dropped.
    public init(rows: [Int]) {
        var sorted = rows.sorted()
        var kept = 0
        for i in sorted.indices where kept == 0 || sorted[i] != sorted[kept - 1] {
            sorted[kept] = sorted[i]
            kept += 1
        }
        sorted.removeLast(sorted.count - kept)
        self.rows = sorted
    }

    /// Whether any selected row lies in `range`.
    public func intersects(_ range: Range<Int>) -> Bool {
        // First selected row >= range.lowerBound, by binary search.
        var low = 0, high = rows.count
        while low < high {
            let mid = (low + high) / 2
            if rows[mid] < range.lowerBound { low = mid + 1 } else { high = mid }
        }
        return low < rows.count && rows[low] < range.upperBound
    }
}
