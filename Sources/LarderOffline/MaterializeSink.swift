import LarderStore

/// Where materialized rows go: any store that keeps Feast's Redis layout (one hash per
/// entity key and project). The engine asks for the stored `_ts:<view>` of a batch of keys
/// first (Feast's pipelined HMGET), then writes only the entities whose row is strictly
/// newer (Feast's multi-field HSET, plus EXPIRE when key_ttl_seconds is set).
public protocol MaterializationSink: AnyObject {
    /// The stored value of `field` in each key's hash, nil where the key or field is absent.
    func readField(_ field: [UInt8], keys: ArraySlice<[UInt8]>) throws -> [[UInt8]?]
    /// Sends the read of `keys` ahead, for a later `readField` with the same keys (reads are
    /// taken in the order they were sent ahead). A sink that cannot pipeline ignores it.
    func prefetchField(_ field: [UInt8], keys: ArraySlice<[UInt8]>) throws
    /// Writes every record of the batch. A pipelining sink may return once the batch is sent
    /// and report a refused record from a later call (BatchRefusedError.batchIndex says which).
    func write(_ batch: HashWriteBatch) throws
    /// Called once after the last write (flush buffers, wait for acknowledgements).
    func finish() throws
    /// Called before a view's first read (a sink that names the view in its errors keeps it).
    func begin(view: String)
}

extension MaterializationSink {
    public func begin(view: String) {}
    public func prefetchField(_ field: [UInt8], keys: ArraySlice<[UInt8]>) throws {}
}
