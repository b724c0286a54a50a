import LarderStore
/// Materializes into any RESP server (redis-server, Larder) with the commands Feast's
/// Redis online store sends: one pipelined `HMGET key _ts:<view>` per record, then one
/// pipelined multi-field `HSET key f v ...` per newer record, followed by
/// `EXPIRE key <key_ttl_seconds>` when a key TTL is configured.
public final class RESPTarget: MaterializationSink {
    public let client: RESPClient

    public init(endpoint: RESPEndpoint) throws {
        client = try RESPClient(endpoint: endpoint)
    }

    public var bytesSent: Int { client.bytesSent }

    public func readField(_ field: [UInt8], keys: ArraySlice<[UInt8]>) throws -> [[UInt8]?] {
        let command: [UInt8] = Array("HMGET".utf8)
        for key in keys {
            client.appendHeader(count: 3)
            client.appendArgument(command)
            client.appendArgument(key)
            client.appendArgument(field)
        }
        try client.flush()
        var out: [[UInt8]?] = []
        out.reserveCapacity(keys.count)
        for _ in keys {
            switch try client.readReply() {
            case .array(let items):
                if case .bulk(let bytes)? = items.first { out.append(bytes) } else { out.append(nil) }
            case .error(let message):
                throw RESPClientError("\(client.endpoint): HMGET failed: \(message)")
            default:
                throw RESPClientError("\(client.endpoint): HMGET returned something other than an array")
            }
        }
        return out
    }

    public func write(_ batch: HashWriteBatch) throws {
        let hset: [UInt8] = Array("HSET".utf8)
        let expire: [UInt8] = Array("EXPIRE".utf8)
        let ttlText = batch.ttlSeconds.map { Array(String($0).utf8) }
        for record in 0 ..< batch.count {
            client.appendHeader(count: 2 + 2 * batch.fields.count)
            client.appendArgument(hset)
            client.appendArgument(batch.keys[record])
            for (f, field) in batch.fields.enumerated() {
                client.appendArgument(field)
                client.appendArgument(batch.value(record: record, field: f))
            }
            if let ttlText {
                client.appendHeader(count: 3)
                client.appendArgument(expire)
                client.appendArgument(batch.keys[record])
                client.appendArgument(ttlText)
            }
        }
        try client.flush()
        let replies = batch.count * (ttlText == nil ? 1 : 2)
        var firstError: String?
        for _ in 0 ..< replies {
            if case .error(let message) = try client.readReply(), firstError == nil { firstError = message }
        }
        if let firstError { throw RESPClientError("\(client.endpoint): write failed: \(firstError)") }
    }

    public func finish() throws {}
}
