import LarderParquet

// Row selection on batches of the shared column model: keeping the rows whose timestamp
// lies in a range (CSV has no row-group statistics, and Parquet row groups that overlap
// the range still hold rows outside it).

extension ColumnBatch {
    /// Indices of the rows whose column `index` is a non-null value within `range`,
    /// or nil when every row qualifies (the batch can be used as is).
    func rowsWithin(column index: Int, range: ClosedRange<Int64>) -> [Int]? {
        let column = columns[index]
        guard case .int64(let values) = column.values else { return [] }
        let validity = column.validity
        func within(_ row: Int) -> Bool { (validity?[row] ?? true) && range.contains(values[row]) }
        // The first row outside, before building any list: a window usually holds the whole
        // batch, and appending every row index (1M for the materialize benchmark's one row
        // group, regrown as it went) to return nil cost 58 M instructions under callgrind.
        var first = 0
        while first < rowCount && within(first) { first += 1 }
        if first == rowCount { return nil }
        var kept = Array(0 ..< first)
        for row in first + 1 ..< rowCount where within(row) { kept.append(row) }
        return kept
    }

    /// The batch restricted to `rows` (ascending row indices).
    func keepingRows(_ rows: [Int]) -> ColumnBatch {
        ColumnBatch(fields: fields, columns: columns.map { $0.keepingRows(rows) }, rowCount: rows.count)
    }
}

extension ColumnData {
    func keepingRows(_ rows: [Int]) -> ColumnData {
        let kept: ColumnValues
        switch values {
        case .boolean(let v): kept = .boolean(rows.map { v[$0] })
        case .int32(let v): kept = .int32(rows.map { v[$0] })
        case .int64(let v): kept = .int64(rows.map { v[$0] })
        case .float(let v): kept = .float(rows.map { v[$0] })
        case .double(let v): kept = .double(rows.map { v[$0] })
        case .null: kept = .null(count: rows.count)
        case .byteArray(let v):
            var out = ByteArrayColumn()
            out.offsets.reserveCapacity(rows.count + 1)
            for row in rows { out.append(v.value(at: row)) }
            kept = .byteArray(out)
        case .list(let list):
            var offsets: [Int32] = [0]
            var elementRows: [Int] = []
            for row in rows {
                let range = Int(list.offsets[row]) ..< Int(list.offsets[row + 1])
                elementRows.append(contentsOf: range)
                offsets.append(Int32(truncatingIfNeeded: elementRows.count))
            }
            kept = .list(ListColumn(offsets: offsets, elements: list.elements.keepingRows(elementRows)))
        }
        let mask = validity.map { mask in rows.map { mask[$0] } }
        return ColumnData(type: type, values: kept, validity: mask?.contains(false) == true ? mask : nil)
    }
}
