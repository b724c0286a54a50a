// Parquet decode benchmark: reads every column of every row group of FILE into typed
// column buffers, best of --repeat runs, and prints one JSON line.
//
//   larder-parquet-bench FILE [--threads N] [--repeat R] [--parallel columns|rowgroups]
//
// --threads 1: one thread. --threads N with --parallel columns (default): the column chunks
// of each row group are decoded in parallel. --parallel rowgroups: N row groups in flight.
import Dispatch
import Foundation
import LarderParquet

struct Options {
    var path = ""
    var threads = 1
    var repeats = 3
    var parallelRowGroups = false
    var sums = false
    var writeTo: String?
}

func parse() -> Options? {
    var o = Options()
    var args = CommandLine.arguments.dropFirst()
    while let a = args.popFirst() {
        switch a {
        case "--threads": o.threads = Int(args.popFirst() ?? "") ?? 1
        case "--repeat": o.repeats = Int(args.popFirst() ?? "") ?? 3
        case "--parallel": o.parallelRowGroups = args.popFirst() == "rowgroups"
        case "--no-mallopt": continue
        case "--sums": o.sums = true
        case "--write-to": o.writeTo = args.popFirst()
        default: o.path = a
        }
    }
    return o.path.isEmpty ? nil : o
}

/// Touches the decoded data cheaply so the work cannot be skipped.
func checksum(_ batch: ColumnBatch) -> Int {
    var s = batch.rowCount
    for c in batch.columns {
        switch c.values {
        case .int64(let a): s &+= Int(truncatingIfNeeded: a.last ?? 0)
        case .int32(let a): s &+= Int(a.last ?? 0)
        case .double(let a): s &+= Int((a.last ?? 0).bitPattern & 0xffff)
        case .float(let a): s &+= Int((a.last ?? 0).bitPattern & 0xffff)
        default: s &+= c.count
        }
    }
    return s
}

func runOnce(_ file: ParquetFile, _ o: Options) throws -> Int {
    if o.parallelRowGroups && o.threads > 1 {
        let groups = file.rowGroupCount
        var sums = [Int](repeating: 0, count: o.threads)
        var failure: Error?
        let lock = NSLock()
        sums.withUnsafeMutableBufferPointer { out in
            let base = out.baseAddress!
            DispatchQueue.concurrentPerform(iterations: o.threads) { t in
                var g = t
                while g < groups {
                    do { base[t] &+= checksum(try file.readRowGroup(g)) } catch {
                        lock.lock(); failure = error; lock.unlock()
                    }
                    g += o.threads
                }
            }
        }
        if let failure { throw failure }
        return sums.reduce(0, &+)
    }
    var sum = 0
    try file.forEachBatch(threads: o.threads) { sum &+= checksum($0) }
    return sum
}

func peakRSSBytes() -> Int {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return usage.ru_maxrss * 1024
}

// Keep freed memory for reuse (see ParquetMemory.keepFreedMemoryForReuse); --no-mallopt
// measures the library with glibc's default settings.
if !CommandLine.arguments.contains("--no-mallopt") {
    ParquetMemory.keepFreedMemoryForReuse()
}

guard let o = parse() else {
    FileHandle.standardError.write("usage: larder-parquet-bench FILE [--threads N] [--repeat R] [--parallel columns|rowgroups]\n".data(using: .utf8)!)
    exit(2)
}
/// Per-column sums (integers wrapping, floats as Double) so a script can check the decoded
/// values against another reader.
func columnSums(_ file: ParquetFile) throws -> String {
    var ints: [String: Int64] = [:]
    var floats: [String: Double] = [:]
    try file.forEachBatch { batch in
        for (f, c) in zip(batch.fields, batch.columns) {
            switch c.values {
            case .int64(let a): ints[f.name, default: 0] = a.reduce(ints[f.name, default: 0], &+)
            case .int32(let a): ints[f.name, default: 0] = a.reduce(ints[f.name, default: 0]) { $0 &+ Int64($1) }
            case .double(let a): floats[f.name, default: 0] += a.reduce(0, +)
            case .float(let a): floats[f.name, default: 0] += a.reduce(0) { $0 + Double($1) }
            default: break
            }
        }
    }
    let parts = ints.map { "\"\($0.key)\": \($0.value)" } + floats.map { "\"\($0.key)\": \($0.value)" }
    return "{\"sums\": {" + parts.joined(separator: ", ") + "}}"
}

do {
    let file = try ParquetFile(path: o.path)
    if let out = o.writeTo {
        // Writer throughput: re-encode every row group of FILE (snappy, dictionary) into `out`.
        var batches: [ColumnBatch] = []
        try file.forEachBatch { batches.append($0) }
        let t0 = DispatchTime.now().uptimeNanoseconds
        try ParquetWriter.write(batches, to: out)
        let dt = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
        print("{\"writer\": \"larder\", \"rows\": \(file.numRows), \"seconds\": \(dt), \"rows_per_sec\": \(Double(file.numRows) / dt)}")
        exit(0)
    }
    if o.sums {
        print(try columnSums(file))
        exit(0)
    }
    var best = Double.infinity
    var sum = 0
    for _ in 0..<max(1, o.repeats) {
        let t0 = DispatchTime.now().uptimeNanoseconds
        sum = try runOnce(file, o)
        let dt = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
        best = min(best, dt)
    }
    let rows = file.numRows
    print("{\"reader\": \"larder\", \"threads\": \(o.threads), \"parallel\": \"\(o.parallelRowGroups ? "rowgroups" : "columns")\", \"rows\": \(rows), \"seconds\": \(best), \"rows_per_sec\": \(Double(rows) / best), \"peak_rss_bytes\": \(peakRSSBytes()), \"checksum\": \(sum)}")
} catch {
    FileHandle.standardError.write("error: \(error)\n".data(using: .utf8)!)
    exit(1)
}
