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
