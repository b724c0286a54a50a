/// `redis_type: redis_sentinel`: the connection string names Redis Sentinels, not the server
/// to write to. Like Feast (redis-py's `Sentinel(...).master_for(sentinel_master)`), the
/// sentinels are asked in order for the current primary of the named master
/// (`SENTINEL get-master-addr-by-name NAME`) and the first address given is used. The
/// sentinels get no `AUTH`/`SELECT` (redis-py passes the password and db to the primary
/// only); the primary gets both.
public enum RESPSentinel {
    public static func primary(of endpoint: RESPEndpoint, masterName: String,
                               options: RESPClientOptions) throws -> (primary: RESPEndpoint, sentinel: RESPEndpoint.HostPort) {
        var failures: [String] = []
        for sentinel in endpoint.hosts {
            let address = RESPEndpoint(host: sentinel.host, port: sentinel.port)
            do {
                let client = try RESPClient(endpoint: address, options: options)
                let reply = try client.call([Array("SENTINEL".utf8), Array("get-master-addr-by-name".utf8), Array(masterName.utf8)])
                switch reply {
                case .array(let items) where items.count == 2:
                    guard case .bulk(let hostBytes) = items[0], case .bulk(let portBytes) = items[1],
                          let port = Int(String(decoding: portBytes, as: UTF8.self)), (1 ... 65535).contains(port) else {
                        failures.append("\(sentinel): unexpected reply to SENTINEL get-master-addr-by-name")
                        continue
                    }
                    var primary = endpoint
                    primary.host = String(decoding: hostBytes, as: UTF8.self)
                    primary.port = port
                    primary.hosts = [RESPEndpoint.HostPort(host: primary.host, port: port)]
                    return (primary, sentinel)
                case .null:
                    failures.append("\(sentinel): no master named '\(masterName)'")
                case .error(let message):
                    failures.append("\(sentinel): \(message)")
                default:
                    failures.append("\(sentinel): unexpected reply to SENTINEL get-master-addr-by-name")
                }
            } catch let error as RESPClientError {
                failures.append(error.message)
            }
        }
        throw RESPClientError("redis_sentinel: no sentinel gave the primary of master '\(masterName)' "
                              + "(sentinel_master in feature_store.yaml): " + failures.joined(separator: "; "),
                              kind: .cannotConnect)
    }
}
