import LarderFeatures
import LarderParquet

/// The entity rows of a historical request, addressed by a global row number across the
/// entity file's batches, with their timestamps.
struct EntityRowTable {
    let batches: [ColumnBatch]
    /// Global number of each batch's first row.
    let batchStart: [Int]
    let rowCount: Int
    /// Event time per row; `Int64.min` for a null time (such a row matches nothing).
    let times: [Int64]
    let earliest: Int64?
    let latest: Int64?
    let path: String

    init(batches: [ColumnBatch], timeColumn: String, path: String) throws {
        self.batches = batches
        self.path = path
        var starts: [Int] = []
        var times: [Int64] = []
        var earliest: Int64?, latest: Int64?
        for batch in batches {
            starts.append(times.count)
            guard let column = batch[timeColumn], case .int64(let values) = column.values else {
                throw HistoricalError("\(path): no timestamp column \(timeColumn)")
            }
            for row in 0 ..< batch.rowCount {
                if column.isNull(row) { times.append(Int64.min); continue }
                let t = values[row]
                times.append(t)
                earliest = min(earliest ?? t, t)
                latest = max(latest ?? t, t)
            }
        }
        batchStart = starts
        rowCount = times.count
        self.times = times
        self.earliest = earliest
        self.latest = latest
    }

    /// Groups the rows by their entity key for `joinKeys` (serialized as Feast does, so
    /// it compares equal to the key of a source row), each group sorted by time.
    func groups(joinKeys: [String], types: [EntityKeyType]) throws -> EntityGroups {
        let writer = EntityKeyWriter(joinKeys: joinKeys, types: types, version: .v3)
        var index = ByteKeyIndex()
        // One Int64 join key: index the ids themselves (see Int64KeyIndex).
        let byInt64 = joinKeys.count == 1 && types[0] == .int64
        var intIndex = Int64KeyIndex()
        var groupOfRow = [Int](repeating: -1, count: rowCount)
        var counts: [Int] = []
        var key: [UInt8] = []
        for (b, batch) in batches.enumerated() {
            let columns = try joinKeys.map { name -> ColumnData in
                guard let column = batch[name] else {
                    throw HistoricalError("\(path): the entity file has no column \"\(name)\" (a join key of the requested features)")
                }
                return column
            }
            var ids: [Int64]? = nil
            if byInt64 {
                switch columns[0].values {
                case .int64(let v): ids = v
                case .int32(let v): ids = v.map(Int64.init)
                default: throw HistoricalError("\(path): column \"\(joinKeys[0])\" is \(columns[0].type), not an integer entity key")
                }
            }
            for row in 0 ..< batch.rowCount where !columns.contains(where: { $0.isNull(row) }) {
                if let ids {
                    let (group, inserted) = intIndex.findOrInsert(ids[row])
                    if inserted { counts.append(0) }
                    counts[group] += 1
                    groupOfRow[batchStart[b] + row] = group
                    continue
                }
                key.removeAll(keepingCapacity: true)
                do {
                    try writer.append(row: row, columns: columns, suffix: [], into: &key)
                } catch {
                    throw HistoricalError("\(path): row \(row + 1): \(error)")
                }
                let (group, inserted) = index.findOrInsert(key)
                if inserted { counts.append(0) }
                counts[group] += 1
                groupOfRow[batchStart[b] + row] = group
            }
        }
        // Counting sort of the rows by group, then each group by time (stable).
        var starts = [Int](repeating: 0, count: counts.count + 1)
        for g in 0 ..< counts.count { starts[g + 1] = starts[g] + counts[g] }
        var fill = starts
        var rows = [Int](repeating: 0, count: starts[counts.count])
        for row in 0 ..< rowCount where groupOfRow[row] >= 0 {
            rows[fill[groupOfRow[row]]] = row
            fill[groupOfRow[row]] += 1
        }
        for g in 0 ..< counts.count where counts[g] > 1 {
            let slice = rows[starts[g] ..< starts[g + 1]].sorted { (times[$0], $0) < (times[$1], $1) }
            rows.replaceSubrange(starts[g] ..< starts[g + 1], with: slice)
        }
        return EntityGroups(index: index, intIndex: byInt64 ? intIndex : nil, rows: rows,
                            rowTimes: rows.map { times[$0] }, starts: starts)
    }
}

/// Entity rows grouped by key: group g holds `rows[starts[g] ..< starts[g+1]]`, by time.
struct EntityGroups {
    let index: ByteKeyIndex
    /// Set when the view has one Int64 join key: groups are found by id.
    let intIndex: Int64KeyIndex?
    let rows: [Int]
    /// `times` of `rows`, contiguous, so the binary search does not chase row numbers.
    let rowTimes: [Int64]
    let starts: [Int]

    func group(of key: [UInt8]) -> Int? { index.find(key) }

    func group(ofId id: Int64) -> Int? { intIndex?.find(id) }

    func end(of group: Int) -> Int { starts[group + 1] }

    var groupCount: Int { starts.count - 1 }

    /// Each entity row's group; -1 for a row with a null join key (in no group).
    func groupOfRows(rowCount: Int) -> [Int] {
        var out = [Int](repeating: -1, count: rowCount)
        for g in 0 ..< groupCount {
            for i in starts[g] ..< starts[g + 1] { out[rows[i]] = g }
        }
        return out
    }

    /// Position of the first row of `group` whose time is >= `time` (binary search).
    func firstRow(in group: Int, atOrAfter time: Int64) -> Int {
        var lo = starts[group], hi = starts[group + 1]
        while lo < hi {
            let mid = (lo + hi) / 2
            if rowTimes[mid] < time { lo = mid + 1 } else { hi = mid }
        }
        return lo
    }
}

/// The best source row found so far for each entity row of one view, as encoded values.
struct JoinedValues {
    private var matched: [Bool]
    private var event: [Int64]
    private var created: [Int64]
    private var payloads: [[UInt8]]
    let featureCount: Int

    init(rowCount: Int, featureCount: Int) {
        matched = [Bool](repeating: false, count: rowCount)
        event = [Int64](repeating: 0, count: rowCount)
        created = [Int64](repeating: 0, count: rowCount)
        payloads = [[UInt8]](repeating: [], count: rowCount)
        self.featureCount = featureCount
    }

    /// Later event time wins, then later created time; on a full tie the row seen first stays.
    func isBetter(entityRow r: Int, event e: Int64, created c: Int64) -> Bool {
        !matched[r] || e > event[r] || (e == event[r] && c > created[r])
    }

    /// Records a better source row's times; its values follow through `setPayload`.
    mutating func mark(entityRow r: Int, event e: Int64, created c: Int64) {
        matched[r] = true
        event[r] = e
        created[r] = c
    }

    func isMatched(_ r: Int) -> Bool { matched[r] }
    func eventTime(_ r: Int) -> Int64 { event[r] }
    func createdTime(_ r: Int) -> Int64 { created[r] }

    mutating func setPayload(entityRow r: Int, _ payload: [UInt8]) {
        payloads[r] = payload
    }

    /// The value of the `feature`-th requested feature for an entity row (null if unmatched).
    func value(entityRow r: Int, feature: Int) throws -> FeastValue {
        guard matched[r] else { return .null }
        let payload = payloads[r]
        var i = 0, f = 0
        while i + 4 <= payload.count {
            let length = Int(payload[i]) | Int(payload[i + 1]) << 8 | Int(payload[i + 2]) << 16 | Int(payload[i + 3]) << 24
            if f == feature { return try FeastValue.decode(bytes: payload[i + 4 ..< i + 4 + length]) }
            i += 4 + length
            f += 1
        }
        return .null
    }
}
