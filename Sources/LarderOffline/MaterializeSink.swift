/// Where materialized rows go: any store that keeps Feast's Redis layout (one hash per
/// entity key and project). The engine asks for the stored `_ts:<view>` of a batch of keys
/// first (Feast's pipelined HMGET), then writes only the entities whose row is strictly
/// newer (Feast's multi-field HSET, plus EXPIRE when key_ttl_seconds is set).
public protocol MaterializationSink: AnyObject {
    /// The stored value of `field` in each key's hash, nil where the key or field is absent.
    func readField(_ field: [UInt8], keys: ArraySlice<[UInt8]>) throws -> [[UInt8]?]
    /// Writes every record of the batch.
    func write(_ batch: HashWriteBatch) throws
    /// Called once after the last write (flush buffers, wait for acknowledgements).
    func finish() throws
}

/// Records to store as hash fields, all with the same field names: for each key, one
/// value per field (Feast: the `_ts:<view>` field first, then the features in schema
/// order). Values live in one flat buffer so a batch costs a handful of allocations.
public struct HashWriteBatch: Sendable {
    public let fields: [[UInt8]]
    public private(set) var keys: [[UInt8]] = []
    public private(set) var bytes: [UInt8] = []
    /// End offset in `bytes` of each value, `keys.count * fields.count` entries.
    public private(set) var valueEnds: [Int] = []
    /// Seconds after which each written key expires (EXPIRE after the HSET); nil = never.
    public let ttlSeconds: Int?

    public init(fields: [[UInt8]], ttlSeconds: Int?) {
        self.fields = fields
        self.ttlSeconds = ttlSeconds
    }

    public var count: Int { keys.count }
    public var isEmpty: Bool { keys.isEmpty }

    /// Adds a record; `values` must hold one value per field.
    public mutating func append<Values: Sequence>(key: [UInt8], values: Values) where Values.Element == ArraySlice<UInt8> {
        keys.append(key)
        for value in values {
            bytes.append(contentsOf: value)
            valueEnds.append(bytes.count)
        }
    }

    public func value(record: Int, field: Int) -> ArraySlice<UInt8> {
        let i = record * fields.count + field
        let start = i == 0 ? 0 : valueEnds[i - 1]
        return bytes[start ..< valueEnds[i]]
    }

    /// Bytes of keys, field names and values: roughly what goes over the wire.
    public var payloadBytes: Int {
        keys.reduce(0) { $0 + $1.count } + bytes.count + fields.reduce(0) { $0 + $1.count } * keys.count
    }

    public mutating func removeAll() {
        keys.removeAll(keepingCapacity: true)
        bytes.removeAll(keepingCapacity: true)
        valueEnds.removeAll(keepingCapacity: true)
    }
}
