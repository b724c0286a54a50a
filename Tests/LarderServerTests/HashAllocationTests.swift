import XCTest
@testable import LarderServer
import LarderRESP
import LarderStore
#if canImport(Glibc)
import Glibc
#endif

/// Feature-store reads of a packed hash, through the real handlers and key lookup, allocate
/// nothing. Needs bench/hash-alloc/count.c preloaded (bench/hash-alloc/run.sh); skipped otherwise.
final class HashAllocationTests: XCTestCase {
    func testFeatureStoreReadsDoNotAllocate() throws {
        guard let sym = dlsym(nil, "larder_malloc_count") else { throw XCTSkip("malloc-counting shim not preloaded (bench/hash-alloc/run.sh)") }
        let counter = sym.assumingMemoryBound(to: Int.self)
        let state = ServerState(settings: ServerSettings(port: 0, threads: 1, pinThreads: false))
        let shard = Shard(index: 0)
        let out = ReplyWriter(capacity: 64 * 1024)
        func run(_ words: [String], times: Int) -> Int {
            var flat: [UInt8] = []
            var spans: [ArgumentSpan] = []
            for w in words { spans.append(ArgumentSpan(offset: flat.count, count: w.utf8.count)); flat += Array(w.utf8) }
            guard let spec = state.commands.lookup(words[0]) else { XCTFail("no \(words[0])"); return -1 }
            var allocs = 0
            flat.withUnsafeBytes { raw in
                spans.withUnsafeBufferPointer { sp in
                    let args = Arguments(base: raw.baseAddress!, spans: sp.baseAddress!, count: words.count)
                    var ctx = CommandContext(out: out, dbIndex: 0, now: Clock.nowMilliseconds(), shards: [shard], session: nil, server: state)
                    spec.handler(&ctx, args); out.clear()
                    let before = counter.pointee
                    for _ in 0..<times { spec.handler(&ctx, args); out.clear() }
                    allocs = counter.pointee - before
                }
            }
            return allocs
        }
        var hset = ["HSET", "user:1"]
        for i in 0..<10 { hset += ["f\(i)aa", "value\(i)"] }
        hset += ["_ts:view", "12345678"]
        _ = run(hset, times: 1)
        let hmget = ["HMGET", "user:1"] + (0..<10).map { "f\($0)aa" } + ["_ts:view"]
        // The counter does see allocations: HINCRBYFLOAT formats its result into a new array.
        XCTAssertGreaterThan(run(["HINCRBYFLOAT", "user:1", "n", "1.5"], times: 10), 0)
        XCTAssertEqual(run(hmget, times: 1000), 0, "HMGET")
        XCTAssertEqual(run(["HGET", "user:1", "f3aa"], times: 1000), 0, "HGET")
        XCTAssertEqual(run(["HGETALL", "user:1"], times: 1000), 0, "HGETALL")
        XCTAssertEqual(run(["HSET", "user:1", "f3aa", "VALUE3"], times: 1000), 0, "HSET overwrite, same length")
    }
}
