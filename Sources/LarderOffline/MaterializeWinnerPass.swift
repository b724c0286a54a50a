import Dispatch

/// The per-row pass of `Materializer.latestRows` for the common entity (one Int64 join key, no
/// nulls): the winning row of each entity within a range of a batch's rows, found in a table
/// local to that range, so that LatestRows (and its slot order, read-aheads and payloads) is
/// offered one row per entity and range instead of every row.
///
/// Why (bench/results/materialize.md, stop 26): under `perf record` of a run into `larder serve`,
/// the row loop fed straight into LatestRows was 28% of the client's CPU time (`latestRows` itself
/// 16.6%, `Int64KeyIndex.findOrInsert` 11.4%), nearly all of it cache misses: each row touched five
/// random cache lines (the index's key and id arrays, the slot's event and created times, the
/// pending row). Here an entry holds the id, both times and the row together and a bucket holds
/// the id with its entry number: two lines a row. And the ranges are independent, so they run on
/// every core (during the read the server has little to do: only the HMGETs of the read-ahead).
///
/// Equal to the row-by-row offer: within a range an entry keeps the first row of the greatest
/// (event, created), as `LatestRows.offer` does; the ranges' winners are then offered in range
/// order, each replacing only a strictly newer one, so the first row of the greatest pair in the
/// batch wins, and a new entity is first offered where it first appears (the same slot order).
enum Int64WinnerPass {
    struct Entry {
        var id: Int64
        var eventNanos: Int64
        var createdNanos: Int64
        var row: Int
    }

    /// Below this many rows a batch is one range: a thread hand-off costs more than it saves.
    static let minimumRowsPerRange = 65_536

    /// Per range of `rows`, in order: each entity's winning row in it, in first-appearance order.
    /// `created` nil: no created column (`Int64.min`); `createdValidity` nil: no nulls.
    static func winners(ids: [Int64], eventNanos: [Int64], created: [Int64]?, createdValidity: [Bool]?,
                        rows: Int, ranges: Int, minimumRows: Int = minimumRowsPerRange) -> [[Entry]] {
        // An empty batch has no buffers to point at (and no winners).
        guard rows > 0 else { return [] }
        let count = max(1, min(ranges, rows / max(1, minimumRows)))
        var results = [[Entry]](repeating: [], count: count)
        ids.withUnsafeBufferPointer { ids in
            eventNanos.withUnsafeBufferPointer { times in
                withOptionalBuffer(created) { created in
                    withOptionalBuffer(createdValidity) { valid in
                        results.withUnsafeMutableBufferPointer { out in
                            let base = out.baseAddress!
                            func run(_ r: Int) {
                                let lower = rows * r / count, upper = rows * (r + 1) / count
                                base[r] = scan(ids: ids.baseAddress!, times: times.baseAddress!, created: created, valid: valid,
                                               rows: lower ..< upper)
                            }
                            if count == 1 { run(0) } else { DispatchQueue.concurrentPerform(iterations: count, execute: run) }
                        }
                    }
                }
            }
        }
        return results
    }

    private static func withOptionalBuffer<T, R>(_ array: [T]?, _ body: (UnsafePointer<T>?) -> R) -> R {
        guard let array, !array.isEmpty else { return body(nil) }
        return array.withUnsafeBufferPointer { body($0.baseAddress) }
    }

    @inline(__always) private static func hash(_ key: Int64) -> Int {
        // Fibonacci hashing, as Int64KeyIndex: consecutive ids spread over the table.
        Int(truncatingIfNeeded: (UInt64(bitPattern: key) &* 0x9E37_79B9_7F4A_7C15) >> 29)
    }

    private struct Bucket {
        var id: Int64
        /// Entry number + 1; 0: empty.
        var entry: Int
    }

    /// One range's winners. Raw buffers: the loop runs once per source row, and array accesses
    /// there paid bounds and uniqueness checks on every row.
    private static func scan(ids: UnsafePointer<Int64>, times: UnsafePointer<Int64>, created: UnsafePointer<Int64>?,
                             valid: UnsafePointer<Bool>?, rows: Range<Int>) -> [Entry] {
        var entryCapacity = 1024
        var entries = UnsafeMutablePointer<Entry>.allocate(capacity: entryCapacity)
        var count = 0
        var size = 2048
        var buckets = UnsafeMutablePointer<Bucket>.allocate(capacity: size)
        buckets.initialize(repeating: Bucket(id: 0, entry: 0), count: size)
        var mask = size - 1
        defer { buckets.deallocate(); entries.deallocate() }
        for row in rows {
            let id = ids[row], event = times[row]
            var createdNanos = Int64.min
            if let created, valid?[row] ?? true { createdNanos = created[row] }
            var i = hash(id) & mask
            while true {
                let entry = buckets[i].entry
                if entry == 0 {
                    if count == entryCapacity {
                        let grown = UnsafeMutablePointer<Entry>.allocate(capacity: entryCapacity * 2)
                        grown.moveInitialize(from: entries, count: count)
                        entries.deallocate()
                        entries = grown
                        entryCapacity *= 2
                    }
                    (entries + count).initialize(to: Entry(id: id, eventNanos: event, createdNanos: createdNanos, row: row))
                    count += 1
                    buckets[i] = Bucket(id: id, entry: count)
                    if count * 2 > size {
                        // Rebuilt from the entries (they hold the ids), at half load at most.
                        buckets.deallocate()
                        size *= 2
                        mask = size - 1
                        buckets = UnsafeMutablePointer<Bucket>.allocate(capacity: size)
                        buckets.initialize(repeating: Bucket(id: 0, entry: 0), count: size)
                        for e in 0 ..< count {
                            var j = hash(entries[e].id) & mask
                            while buckets[j].entry != 0 { j = (j + 1) & mask }
                            buckets[j] = Bucket(id: entries[e].id, entry: e + 1)
                        }
                    }
                    break
                }
                if buckets[i].id == id {
                    // LatestRows' rule: a later event, or the same event with a later created time.
                    let kept = entries + (entry - 1)
                    if event > kept.pointee.eventNanos || (event == kept.pointee.eventNanos && createdNanos > kept.pointee.createdNanos) {
                        kept.pointee.eventNanos = event
                        kept.pointee.createdNanos = createdNanos
                        kept.pointee.row = row
                    }
                    break
                }
                i = (i + 1) & mask
            }
        }
        return Array(UnsafeBufferPointer(start: entries, count: count))
    }
}
