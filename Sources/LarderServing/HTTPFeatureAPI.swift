import Foundation
import LarderFeatures
import LarderServer
import LarderStore
import NIOCore

/// One HTTP answer: status, body and its content type.
public struct HTTPReply: Sendable {
    public var status: Int
    public var body: [UInt8]
    public var contentType: String = "application/json"

    public static func json(_ status: Int, _ text: String) -> HTTPReply { HTTPReply(status: status, body: Array(text.utf8)) }

    /// Feast's error body: FastAPI's JSONResponse of `FeastError.to_error_detail()`, which is
    /// itself a JSON text, so the body is a JSON string holding `{"module", "class", "message"}`.
    public static func feastError(_ error: ServingError) -> HTTPReply {
        let module = error.feastClass == "ValueError" ? "builtins" : "feast.errors"
        var inner = JSONWriter()
        inner.raw("{\"module\": "); inner.string(module)
        inner.raw(", \"class\": "); inner.string(error.feastClass)
        inner.raw(", \"message\": "); inner.string(error.message); inner.raw("}")
        var outer = JSONWriter()
        outer.string(String(decoding: inner.bytes, as: UTF8.self))
        return HTTPReply(status: error.httpStatus, body: outer.bytes)
    }

    /// FastAPI's 422 for a body that is not JSON (its `json_invalid` validation error).
    static func invalidJSON(_ e: JSONValue.ParseError) -> HTTPReply {
        var w = JSONWriter()
        w.raw("{\"detail\":[{\"type\":\"json_invalid\",\"loc\":[\"body\",\(e.offset)],\"msg\":\"JSON decode error\",\"input\":{},\"ctx\":{\"error\":")
        w.string(e.reason)
        w.raw("}}]}")
        return HTTPReply(status: 422, body: w.bytes)
    }

    /// Feast's answer to an error that is not a FeastError: 500 with the error's text as a JSON string.
    static func serverError(_ error: Error) -> HTTPReply {
        var w = JSONWriter()
        w.string("\(error)")
        return HTTPReply(status: 500, body: w.bytes)
    }

    /// FastAPI's 422 for a missing or mistyped request field.
    static func invalidField(_ field: String, _ msg: String, type: String = "missing") -> HTTPReply {
        var w = JSONWriter()
        w.raw("{\"detail\":[{\"type\":"); w.string(type); w.raw(",\"loc\":[\"body\",")
        w.string(field); w.raw("],\"msg\":"); w.string(msg); w.raw("}]}")
        return HTTPReply(status: 422, body: w.bytes)
    }
}

/// Feast's feature server endpoints over Larder's shards. Requests run on their connection's loop;
/// the store is read and written by tasks on the owning shards' loops (ShardGather).
public final class HTTPFeatureAPI: @unchecked Sendable {
    let server: ServerState
    let serving: ServingState
    /// Set once start-up loading (serve --materialize) has finished: GET /ready.
    public var isReady: () -> Bool = { true }
    /// Runs POST /materialize and /materialize-incremental (nil: 503); set by the CLI.
    public var materializer: ServingMaterializer?
    let materializeGate = MaterializeGate()

    public init(server: ServerState, serving: ServingState) {
        self.server = server
        self.serving = serving
    }

    static let endpoints: Set<String> = ["/health", "/ready", "/metrics", "/get-online-features", "/push", "/write-to-online-store",
                                         "/materialize", "/materialize-incremental"]

    public func handle(method: String, path: String, body: [UInt8], loop: EventLoop, respond reply: @escaping (HTTPReply) -> Void) {
        body.withUnsafeBytes { handle(method: method, path: path, body: $0, loop: loop, respond: reply) }
    }

    /// As above, the body read where it lies (valid during this call only): the feature read
    /// takes what it needs from it before it returns, the other routes copy it.
    func handle(method: String, path: String, body: UnsafeRawBufferPointer, loop: EventLoop, respond reply: @escaping (HTTPReply) -> Void) {
        // Split on the bytes: String.split walked Characters (~3,500 instructions a request).
        // memchr over the path's bytes (measured reason: the UTF8View's firstIndex was ~600 of
        // a 1 x 10 request's 53,000 instructions under callgrind).
        var route = path, query = ""
        var p = path
        if let q = p.withUTF8({ u in u.isEmpty ? nil : memchr(u.baseAddress!, Int32(UInt8(ascii: "?")), u.count).map { u.baseAddress!.distance(to: $0.assumingMemoryBound(to: UInt8.self)) } }) {
            let i = path.utf8.index(path.utf8.startIndex, offsetBy: q)
            route = String(path[..<i])
            query = String(path[path.utf8.index(after: i)...])
        }
        let started = DispatchTime.now().uptimeNanoseconds
        let metrics = serving.metrics
        // Unknown paths share one label: request paths never become label values.
        // The feature read compared first: no Set hash of its path per request.
        let label = route == "/get-online-features" || Self.endpoints.contains(route) ? route : "other"
        let respond: (HTTPReply) -> Void = { r in
            metrics.recordHTTP(endpoint: label, status: r.status, seconds: Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9)
            reply(r)
        }
        switch (method, route) {
        case ("POST", "/get-online-features"): getOnlineFeatures(body: body, loop: loop, respond: respond)
        case ("GET", "/metrics"): self.metrics(loop: loop, respond: respond)
        case ("GET", "/health"): respond(HTTPReply(status: 200, body: [], contentType: "text/plain"))
        case ("GET", "/ready"):
            respond(isReady() ? HTTPReply(status: 200, body: [], contentType: "text/plain")
                              : HTTPReply.json(503, "{\"detail\":\"loading\"}"))
        case ("POST", "/push"): jsonBody(body, respond) { try self.push($0, loop: loop, respond: respond) }
        case ("POST", "/write-to-online-store"): jsonBody(body, respond) { try self.writeToOnlineStore($0, loop: loop, respond: respond) }
        case ("POST", "/materialize"): jsonBody(body, respond) { try self.materialize($0, incremental: false, query: query, respond: respond) }
        case ("POST", "/materialize-incremental"): jsonBody(body, respond) { try self.materialize($0, incremental: true, query: query, respond: respond) }
        case (_, let r) where Self.endpoints.contains(r):
            respond(.json(405, "{\"detail\":\"Method Not Allowed\"}"))
        default:
            respond(.json(404, "{\"detail\":\"Not Found\"}"))
        }
    }

    private func jsonBody(_ body: UnsafeRawBufferPointer, _ respond: @escaping (HTTPReply) -> Void, _ next: ([(String, JSONValue)]) throws -> Void) {
        let doc: JSONValue
        do { doc = try JSONValue.parse(Array(body)) } catch let e as JSONValue.ParseError {
            respond(.invalidJSON(e)); return
        } catch { respond(.serverError(error)); return }
        guard case .object(let fields) = doc else {
            respond(.invalidField("body", "Input should be a valid dictionary", type: "dict_type")); return
        }
        do { try next(fields) } catch let e as ServingError {
            respond(.feastError(e))
        } catch let e as FieldError {
            respond(.invalidField(e.field, e.message, type: e.type))
        } catch {
            respond(.serverError(error))
        }
    }

    struct FieldError: Error { let field: String; let message: String; let type: String }

    private func field(_ fields: [(String, JSONValue)], _ name: String) -> JSONValue? { fields.first { $0.0 == name }?.1 }

    func bool(_ fields: [(String, JSONValue)], _ name: String, default d: Bool) throws -> Bool {
        guard let v = field(fields, name) else { return d }
        if case .bool(let b) = v { return b }
        throw FieldError(field: name, message: "Input should be a valid boolean", type: "bool_type")
    }

    // MARK: GET /metrics

    /// Prometheus text: the server's per-command counters, connections, memory and keys per
    /// shard (counted on each shard's own loop), then the serving counters.
    func metrics(loop: EventLoop, respond: @escaping (HTTPReply) -> Void) {
        let items = (0..<server.shardCount).map { (shard: $0, item: $0) }
        let server = self.server, serving = self.serving
        ShardGather.run(server: server, items: items, on: loop, work: { shard, _ -> Int in
            shard.databases.reduce(0) { $0 + $1.count }
        }, done: { keys in
            let snap = server.metricsSnapshot()
            var out = ""
            func family(_ name: String, _ type: String, _ help: String) { out += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n" }
            family("larder_commands_total", "counter", "Commands run, by command (RESP).")
            for c in snap.commands { out += "larder_commands_total{command=\"\(c.name)\"} \(c.calls)\n" }
            family("larder_command_duration_seconds_total", "counter", "Time spent running each command (RESP).")
            for c in snap.commands { out += "larder_command_duration_seconds_total{command=\"\(c.name)\"} \(Double(c.microseconds) / 1e6)\n" }
            family("larder_command_latency_seconds", "histogram",
                   "Latency of timed command calls (RESP): every call of a non-fast command, one in 16 of a fast one (GET, HSET...).")
            for c in snap.commandLatency {
                var cumulative = 0
                for (i, b) in ServerMetricsSnapshot.latencyBucketBounds.enumerated() {
                    cumulative += c.buckets[i]
                    out += "larder_command_latency_seconds_bucket{command=\"\(c.name)\",le=\"\(b)\"} \(cumulative)\n"
                }
                cumulative += c.buckets[c.buckets.count - 1]
                out += "larder_command_latency_seconds_bucket{command=\"\(c.name)\",le=\"+Inf\"} \(cumulative)\n"
                out += "larder_command_latency_seconds_sum{command=\"\(c.name)\"} \(c.seconds)\n"
                out += "larder_command_latency_seconds_count{command=\"\(c.name)\"} \(cumulative)\n"
            }
            family("larder_shard_hops_total", "counter", "Messages a shard thread's connections sent to another shard's thread (rate() gives hops per second).")
            for (shard, n) in snap.hopsByShard.enumerated() { out += "larder_shard_hops_total{shard=\"\(shard)\"} \(n)\n" }
            family("larder_connected_clients", "gauge", "RESP client connections.")
            out += "larder_connected_clients \(snap.connectedClients)\n"
            family("larder_resident_memory_bytes", "gauge", "Resident set size of the process.")
            out += "larder_resident_memory_bytes \(snap.residentBytes)\n"
            family("larder_net_input_bytes_total", "counter", "Bytes read from RESP clients.")
            out += "larder_net_input_bytes_total \(snap.netInputBytes)\n"
            family("larder_net_output_bytes_total", "counter", "Bytes written to RESP clients.")
            out += "larder_net_output_bytes_total \(snap.netOutputBytes)\n"
            if let m = snap.migration {
                family("larder_cluster_migration_running", "gauge", "1 while this node moves slots to another node (docs/cluster.md, Resharding).")
                out += "larder_cluster_migration_running \(m.running ? 1 : 0)\n"
                family("larder_cluster_migration_failed", "gauge", "1 when this node's last slot migration failed.")
                out += "larder_cluster_migration_failed \(m.failed ? 1 : 0)\n"
                family("larder_cluster_migration_keys_sent", "gauge", "Keys the running or last slot migration streamed to its target.")
                out += "larder_cluster_migration_keys_sent \(m.keysSent)\n"
                family("larder_cluster_migration_writes_forwarded", "gauge", "Key records the running or last slot migration forwarded for writes made meanwhile.")
                out += "larder_cluster_migration_writes_forwarded \(m.writesForwarded)\n"
            }
            family("larder_shard_keys", "gauge", "Keys held by each shard (all databases).")
            for (shard, n) in keys.sorted(by: { $0.shard < $1.shard }) { out += "larder_shard_keys{shard=\"\(shard)\"} \(n)\n" }
            serving.metrics.exposition(into: &out)
            respond(HTTPReply(status: 200, body: Array(out.utf8), contentType: "text/plain; version=0.0.4"))
        })
    }

    // MARK: POST /push and /write-to-online-store

    func push(_ req: [(String, JSONValue)], loop: EventLoop, respond: @escaping (HTTPReply) -> Void) throws {
        guard case .string(let source)? = field(req, "push_source_name") else {
            throw FieldError(field: "push_source_name", message: "Field required", type: "missing")
        }
        guard case .object(let df)? = field(req, "df") else { throw FieldError(field: "df", message: "Field required", type: "missing") }
        var to = "online"
        if let v = field(req, "to") { guard case .string(let s) = v else { throw FieldError(field: "to", message: "Input should be a valid string", type: "string_type") }; to = s }
        guard ["online", "offline", "online_and_offline"].contains(to) else {
            throw ServingError(.badRequest, "\(to) is not a supported push format. Please specify one of these ['online', 'offline', 'online_and_offline'].")
        }
        guard to == "online" else {
            throw ServingError(.badRequest, "push to '\(to)' needs an offline store write, which Larder's feature server does not do; push with to=online")
        }
        let catalog = serving.catalog
        let views = try PushRows.pushSourceViews(source, catalog: catalog)
        try write(views: views, df: df, catalog: catalog, pushSource: source, loop: loop) { respond(HTTPReply(status: 200, body: [], contentType: "text/plain")) } failed: { respond($0) }
    }

    func writeToOnlineStore(_ req: [(String, JSONValue)], loop: EventLoop, respond: @escaping (HTTPReply) -> Void) throws {
        guard case .string(let name)? = field(req, "feature_view_name") else {
            throw FieldError(field: "feature_view_name", message: "Field required", type: "missing")
        }
        guard case .object(let df)? = field(req, "df") else { throw FieldError(field: "df", message: "Field required", type: "missing") }
        let catalog = serving.catalog
        guard let view = catalog.view(named: name) else {
            throw ServingError(.featureViewNotFound, "Feature view \(name) does not exist in project \(catalog.project)")
        }
        try write(views: [view], df: df, catalog: catalog, pushSource: nil, loop: loop) { respond(.json(200, "null")) } failed: { respond($0) }
    }

    private func write(views: [ServingView], df: [(String, JSONValue)], catalog: ServingCatalog, pushSource: String?, loop: EventLoop,
                       ok: @escaping () -> Void, failed: @escaping (HTTPReply) -> Void) throws {
        var items: [(shard: Int, item: (ServingView, EncodedRow))] = []
        for v in views {
            for row in try PushRows.encodeJSON(df: df, view: v, project: catalog.project) {
                items.append((row.key.withUnsafeBytes { server.shardIndex(ofKey: $0) }, (v, row)))
            }
        }
        let ttl = catalog.keyTTLSeconds
        let metrics = serving.metrics
        let state = self.server
        ShardGather.run(server: server, items: items, on: loop, work: { shard, list -> (wrongType: Int, written: [String: (Int, Int)]) in
            let db = shard.db(0)
            let now = Clock.nowMilliseconds()
            var wrongType = 0
            var counts: [String: (Int, Int)] = [:]
            for (v, row) in list {
                let outcome = FeatureWrite.write(row, view: v, keyTTLSeconds: ttl, keyspace: db, nowMilliseconds: now)
                let c = counts[v.name] ?? (0, 0)
                switch outcome {
                case .written:
                    counts[v.name] = (c.0 + 1, c.1)
                    FeatureWrite.propagate(row, view: v, keyTTLSeconds: ttl, nowMilliseconds: now, db: 0, server: state)
                case .olderSkipped: counts[v.name] = (c.0, c.1 + 1)
                case .wrongType: wrongType += 1
                }
            }
            return (wrongType, counts)
        }, done: { results in
            var byView: [String: (Int, Int)] = [:]
            for (_, r) in results { for (k, c) in r.written { let t = byView[k] ?? (0, 0); byView[k] = (t.0 + c.0, t.1 + c.1) } }
            for v in views { let c = byView[v.name] ?? (0, 0); metrics.recordWrite(view: v.name, written: c.0, skipped: c.1, pushSource: nil) }
            if let pushSource { metrics.recordWrite(view: views.first?.name ?? pushSource, written: 0, skipped: 0, pushSource: pushSource) }
            let wrong = results.reduce(0) { $0 + $1.result.wrongType }
            if wrong > 0 {
                failed(.feastError(ServingError(.badValue, "\(wrong) row(s) not written: their key holds a value that is not a hash (WRONGTYPE)")))
            } else {
                ok()
            }
        })
    }
}
