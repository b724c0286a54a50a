import LarderServer
import LarderStore
import NIOCore

/// Runs work on the shards that own it and gathers the results on the caller's event loop:
/// one task per involved shard (one hop out and one back), not one per key.
enum ShardGather {
    static func run<Item, Result>(server: ServerState, items: [(shard: Int, item: Item)], on loop: EventLoop,
                                  work: @escaping (Shard, [Item]) -> Result,
                                  done: @escaping ([(shard: Int, result: Result)]) -> Void) {
        if items.isEmpty { done([]); return }
        // All on one shard (every read with --threads 1, every 1-entity read): no dictionary.
        let first = items[0].shard
        if !items.contains(where: { $0.shard != first }) {
            let list = items.map { $0.item }
            // On the shard's own loop (HTTP served on the shard loops) the work runs at once and
            // `done` is called before this returns: the answer joins this read batch's write.
            let returned = ReturnedFlag()
            server.runOnShardHere(first) { shard in
                let r = work(shard, list)
                server.flushAppendOnlyHere()
                if loop.inEventLoop && !returned.value { done([(first, r)]) } else { loop.execute { done([(first, r)]) } }
            }
            returned.value = true
            return
        }
        var byShard: [Int: [Item]] = [:]
        for x in items { byShard[x.shard, default: []].append(x.item) }
        var results: [(shard: Int, result: Result)] = []
        var pending = byShard.count
        for (index, list) in byShard {
            server.runOnShard(index) { shard in
                let r = work(shard, list)
                server.flushAppendOnlyHere()  // a write's AOF record is out before it is acknowledged
                // Back on the caller's loop: `results` and `pending` are only touched there.
                loop.execute {
                    results.append((index, r))
                    pending -= 1
                    if pending == 0 { done(results) }
                }
            }
        }
    }
}

/// Whether ShardGather.run has returned (read on the caller's loop only).
private final class ReturnedFlag { var value = false }
