import LarderStore

/// Access to the shards for code that runs outside a RESP connection (LarderServing's HTTP
/// feature server): a task on the owning shard's loop, ordered with client commands exactly
/// as a command from a connection on that loop would be.
extension ServerState {
    /// Which shard owns `key`.
    public func shardIndex(ofKey key: UnsafeRawBufferPointer) -> Int {
        shardCount <= 1 ? 0 : ServerState.shardIndex(hash: ByteHash.hash(key), count: shardCount)
    }

    /// Runs `body` with shard `index` on that shard's own loop, after any borrower returns it.
    public func runOnShard(_ index: Int, _ body: @escaping (Shard) -> Void) {
        let worker = workers[index]
        worker.loop.execute { worker.submit { body(worker.shard) } }
    }
}
