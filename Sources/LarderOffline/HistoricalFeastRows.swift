import LarderParquet

/// Which entity rows Feast's file offline store returns, and in what order
/// (`historical --feast-compatible`). Feast 0.67's dask store (`get_historical_features`):
/// sorts the entity rows by event time; then for each requested view, in first-reference
/// order: left-joins the source rows of the row's key, keeps the candidates inside
/// `[ts - ttl, ts]` (and the no-match rows), sorts by created then by event time (nulls
/// first), and keeps the last row per (join keys of the views so far, event time). So an
/// entity row whose key has source rows but none in its window is dropped, rows equal on
/// those keys and time collapse into one, and the result is ordered by the last view's
/// matched event time, rows without a match first. Feast's sorts are not stable (numpy's
/// quicksort); where they leave rows tied, this keeps the previous order (a stable sort).
struct FeastRowSelection {
    /// Per view (in join order): the join result, and each entity row's key group (-1: a null key).
    struct ViewRows {
        var values: JoinedValues
        var groupOfRow: [Int]
        var groupHasSourceRows: [Bool]
    }

    /// Entity row numbers in Feast's output order.
    static func rows(times: [Int64], views: [ViewRows]) -> [Int] {
        var order = Array(times.indices)
        order.sort { (times[$0], $0) < (times[$1], $1) }
        // Row identity so far: the key groups of every view joined up to now, plus the time.
        var identity = [[Int]](repeating: [], count: times.count)
        for view in views {
            order = order.filter { row in
                let group = view.groupOfRow[row]
                // A null key joins nothing (a no-match row); a key with source rows needs one in the window.
                return group < 0 || !view.groupHasSourceRows[group] || view.values.isMatched(row)
            }
            for row in order { identity[row].append(view.groupOfRow[row]) }
            // Sort by (matched event time, matched created time), no match first, stable.
            order = order.enumerated().sorted { a, b in
                let ka = view.values.sortKey(a.element), kb = view.values.sortKey(b.element)
                return (ka.0, ka.1, ka.2, a.offset) < (kb.0, kb.1, kb.2, b.offset)
            }.map(\.element)
            // drop_duplicates(keep="last") on (join keys so far, time), keeping positions.
            var seen = Set<[Int64]>()
            var kept: [Int] = []
            for row in order.reversed() {
                let id = identity[row].map(Int64.init) + [times[row]]
                if seen.insert(id).inserted { kept.append(row) }
            }
            order = kept.reversed()
        }
        return order
    }
}

extension JoinedValues {
    /// Feast's sort key of a row's kept candidate: no match sorts first (pandas
    /// `na_position="first"`), then event time, then created time (null created first).
    func sortKey(_ row: Int) -> (Int, Int64, Int64) {
        guard isMatched(row) else { return (0, 0, 0) }
        return (1, eventTime(row), createdTime(row))
    }
}

extension ColumnData {
    /// The rows `picks` (batch, row) of `columns` (one column per batch, same type) as one column.
    static func gather(_ columns: [ColumnData], _ picks: [(batch: Int, row: Int)]) -> ColumnData {
        let type = columns.first?.type ?? .int64
        let hasNull = picks.contains { columns[$0.batch].isNull($0.row) }
        let validity = hasNull ? picks.map { !columns[$0.batch].isNull($0.row) } : nil
        func pick<T>(_ zero: T, _ extract: (ColumnValues) -> [T]?) -> [T] {
            let arrays = columns.map { extract($0.values) }
            return picks.map { p in arrays[p.batch].map { $0[p.row] } ?? zero }
        }
        let values: ColumnValues
        switch type {
        case .boolean: values = .boolean(pick(false) { if case .boolean(let a) = $0 { return a }; return nil })
        case .int32, .date: values = .int32(pick(0) { if case .int32(let a) = $0 { return a }; return nil })
        case .float: values = .float(pick(0) { if case .float(let a) = $0 { return a }; return nil })
        case .double: values = .double(pick(0) { if case .double(let a) = $0 { return a }; return nil })
        case .string, .binary:
            var out = ByteArrayColumn()
            for p in picks {
                if case .byteArray(let b) = columns[p.batch].values { out.append(b.value(at: p.row)) } else { out.appendEmpty() }
            }
            values = .byteArray(out)
        case .list(let elementType):
            var offsets: [Int32] = [0]
            var elementColumns: [ColumnData] = []
            var elementPicks: [(batch: Int, row: Int)] = []
            for column in columns {
                if case .list(let l) = column.values { elementColumns.append(l.elements) } else {
                    elementColumns.append(ColumnData(type: elementType, values: .null(count: 0)))
                }
            }
            for p in picks {
                if case .list(let l) = columns[p.batch].values {
                    for e in Int(l.offsets[p.row]) ..< Int(l.offsets[p.row + 1]) { elementPicks.append((p.batch, e)) }
                }
                offsets.append(Int32(truncatingIfNeeded: elementPicks.count))
            }
            values = .list(ListColumn(offsets: offsets, elements: gather(elementColumns, elementPicks)))
        case .null: return ColumnData(type: .null, values: .null(count: picks.count))
        case .int64, .timestamp: values = .int64(pick(0) { if case .int64(let a) = $0 { return a }; return nil })
        }
        return ColumnData(type: type, values: values, validity: validity)
    }
}
