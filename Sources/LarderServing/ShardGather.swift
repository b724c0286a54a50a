import LarderServer
import LarderStore
import NIOCore

/// Runs work on the shards that own it and gathers the results on the caller's event loop:
/// one task per involved shard (one hop out and one back), not one per key.
enum ShardGather {
    static func run<Item, Result>(server: ServerState, items: [(shard: Int, item: Item)], on loop: EventLoop,
                                  work: @escaping (Shard, [Item]) -> Result,
                                  done: @escaping ([(shard: Int, result: Result)]) -> Void) {
        var byShard: [Int: [Item]] = [:]
        for x in items { byShard[x.shard, default: []].append(x.item) }
        if byShard.isEmpty { done([]); return }
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
