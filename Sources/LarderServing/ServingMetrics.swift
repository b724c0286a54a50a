import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Serving counters for GET /metrics. Requests record into one of a few stripes chosen by
/// the calling thread (each shard loop mostly gets its own, so their
/// uncontended locks cost no cache-line traffic between cores); a scrape sums the stripes.
/// Labels are bounded: feature view, feature service, endpoint and status names come from the
/// definitions and the code, never from request values.
public final class ServingMetrics: @unchecked Sendable {
    public let reloads = ReloadCounter()
    public let materializations = MaterializeCounters()
    /// Age of served values, event time to now, in seconds.
    static let ageBuckets: [Double] = [1, 10, 60, 300, 900, 3600, 3 * 3600, 6 * 3600, 86400, 3 * 86400, 7 * 86400, 30 * 86400]
    static let latencyBuckets: [Double] = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1]

    final class Histogram {
        var buckets: [Int]
        var sum = 0.0
        var count = 0
        init(_ n: Int) { buckets = [Int](repeating: 0, count: n) }
        func observe(_ v: Double, _ bounds: [Double]) {
            count += 1; sum += v
            if let i = bounds.firstIndex(where: { v <= $0 }) { buckets[i] += 1 }
        }
        func add(_ o: Histogram) {
            count += o.count; sum += o.sum
            for i in buckets.indices { buckets[i] += o.buckets[i] }
        }
    }

    final class ViewCounters {
        var requests = 0, rows = 0
        var statuses = [Int](repeating: 0, count: 5)
        var written = 0, skipped = 0
        let age = Histogram(ServingMetrics.ageBuckets.count)
    }

    final class Stripe {
        let lock = NSLock()
        var views: [String: ViewCounters] = [:]
        var services: [String: (requests: Int, rows: Int)] = [:]
        var http: [String: Int] = [:]                 // "endpoint code"
        var httpLatency: [String: Histogram] = [:]    // endpoint
        var pushes: [String: Int] = [:]               // push source
        /// The last read's selection and its views' counters, in group order: a repeated
        /// request (the same cached FeatureSelection object) finds them without hashing view
        /// names (measured reason: recordRead went from 907 to 465 instructions per 1 x 10
        /// request under callgrind).
        var lastSelection: FeatureSelection?
        var lastViews: [ViewCounters] = []
        /// The last HTTP request's endpoint and status, its "endpoint code" key and latency
        /// histogram: a repeated one builds no key String (measured reason: recordHTTP went from
        /// 2,700 to 1,000 instructions per 1 x 10 request under callgrind).
        var lastHTTP: (endpoint: String, status: Int, key: String, latency: Histogram)?
        /// Requests of `lastHTTP` not yet added to `http` (no dictionary lookup per request:
        /// recordHTTP 1,000 -> 480 instructions); folded in when the key changes or on a scrape.
        var lastHTTPPending = 0

        func foldHTTP() {
            if let last = lastHTTP, lastHTTPPending > 0 { http[last.key, default: 0] += lastHTTPPending }
            lastHTTPPending = 0
        }
    }

    private let stripes = (0..<16).map { _ in Stripe() }

    public init() {}

    private var stripe: Stripe {
        let t = UInt(bitPattern: Int(bitPattern: UnsafeRawPointer(bitPattern: UInt(pthread_self()))))
        return stripes[Int((t >> 12) % 16)]
    }

    /// Counts one request of `rows` rows for its service and each of its views (the stripe's lock
    /// held), handing `body` each view's counters with its group index (a closure, not an
    /// array: no allocation per request).
    @inline(__always)
    private static func countRequest(_ s: Stripe, _ selection: FeatureSelection, rows: Int,
                                     _ body: (Int, ViewCounters) -> Void) {
        if let service = selection.service {
            let c = s.services[service] ?? (0, 0)
            s.services[service] = (c.requests + 1, c.rows + rows)
        }
        if s.lastSelection !== selection {
            s.lastViews = selection.groups.map { g in
                s.views[g.view.name] ?? { let n = ViewCounters(); s.views[g.view.name] = n; return n }()
            }
            s.lastSelection = selection
        }
        for (gi, v) in s.lastViews.enumerated() {
            v.requests += 1
            v.rows += rows
            body(gi, v)
        }
    }

    /// One read: per view its rows and cell statuses; the age of each present (row, view).
    func recordRead(selection: FeatureSelection, rows: Int, cellsByRowAndGroup: (Int, Int) -> ArraySlice<FeatureCell>, now: Double) {
        let s = stripe
        s.lock.lock(); defer { s.lock.unlock() }
        Self.countRequest(s, selection, rows: rows) { gi, v in
            for r in 0..<rows {
                let cells = cellsByRowAndGroup(r, gi)
                for c in cells { v.statuses[c.status.rawValue] += 1 }
                if let c = cells.first, c.status == .present || c.status == .nullValue, c.eventTime.seconds != 0 || c.eventTime.nanos != 0 {
                    v.age.observe(max(0, now - (Double(c.eventTime.seconds) + Double(c.eventTime.nanos) / 1e9)), Self.ageBuckets)
                }
            }
        }
    }

    /// FEATURES.GET's tally: per group the counts of each status (`statusCounts[4 * group +
    /// status - 1]`), and the age of each (row, group) in row-major order, NaN where no value was served.
    func recordRead(selection: FeatureSelection, rows: Int, statusCounts: UnsafeBufferPointer<Int>, ages: UnsafeBufferPointer<Double>) {
        let s = stripe
        s.lock.lock(); defer { s.lock.unlock() }
        let groupCount = selection.groups.count
        Self.countRequest(s, selection, rows: rows) { gi, v in
            for st in 0..<4 { v.statuses[st + 1] += statusCounts[4 * gi + st] }
            // The view's counters are at hand here: no dictionary lookup by name per (row, view).
            for idx in stride(from: gi, to: ages.count, by: groupCount) where !ages[idx].isNaN {
                v.age.observe(ages[idx], Self.ageBuckets)
            }
        }
    }

    func recordWrite(view: String, written: Int, skipped: Int, pushSource: String?) {
        let s = stripe
        s.lock.lock(); defer { s.lock.unlock() }
        let v = s.views[view] ?? { let n = ViewCounters(); s.views[view] = n; return n }()
        v.written += written
        v.skipped += skipped
        if let p = pushSource { s.pushes[p, default: 0] += 1 }
    }

    func recordHTTP(endpoint: String, status: Int, seconds: Double) {
        let s = stripe
        s.lock.lock(); defer { s.lock.unlock() }
        if let last = s.lastHTTP, last.status == status, last.endpoint == endpoint {
            s.lastHTTPPending += 1
            last.latency.observe(seconds, Self.latencyBuckets)
            return
        }
        s.foldHTTP()
        let key = "\(endpoint) \(status)"
        s.http[key, default: 0] += 1
        let h = s.httpLatency[endpoint] ?? { let n = Histogram(Self.latencyBuckets.count); s.httpLatency[endpoint] = n; return n }()
        h.observe(seconds, Self.latencyBuckets)
        s.lastHTTP = (endpoint, status, key, h)
    }

    /// The serving part of /metrics in Prometheus' text format.
    func exposition(into out: inout String) {
        var viewTotals: [String: ViewCounters] = [:]
        var services: [String: (Int, Int)] = [:]
        var http: [String: Int] = [:]
        var latency: [String: Histogram] = [:]
        var pushes: [String: Int] = [:]
        for s in stripes {
            s.lock.lock()
            for (name, v) in s.views {
                let t = viewTotals[name] ?? { let n = ViewCounters(); viewTotals[name] = n; return n }()
                t.requests += v.requests; t.rows += v.rows; t.written += v.written; t.skipped += v.skipped
                for i in 0..<5 { t.statuses[i] += v.statuses[i] }
                t.age.add(v.age)
            }
            for (k, v) in s.services { let c = services[k] ?? (0, 0); services[k] = (c.0 + v.requests, c.1 + v.rows) }
            s.foldHTTP()
            for (k, v) in s.http { http[k, default: 0] += v }
            for (k, v) in s.httpLatency {
                let t = latency[k] ?? { let n = Histogram(Self.latencyBuckets.count); latency[k] = n; return n }()
                t.add(v)
            }
            for (k, v) in s.pushes { pushes[k, default: 0] += v }
            s.lock.unlock()
        }
        let names = viewTotals.keys.sorted()
        func family(_ name: String, _ type: String, _ help: String) { out += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n" }
        family("larder_feature_view_requests_total", "counter", "Reads that asked for features of the view.")
        for n in names { out += "larder_feature_view_requests_total{feature_view=\"\(n)\"} \(viewTotals[n]!.requests)\n" }
        family("larder_feature_view_rows_total", "counter", "Entity rows read from the view.")
        for n in names { out += "larder_feature_view_rows_total{feature_view=\"\(n)\"} \(viewTotals[n]!.rows)\n" }
        family("larder_feature_values_total", "counter", "Feature values served, by status.")
        for n in names {
            for st in [FeatureStatus.present, .nullValue, .notFound, .outsideMaxAge] {
                out += "larder_feature_values_total{feature_view=\"\(n)\",status=\"\(st.name)\"} \(viewTotals[n]!.statuses[st.rawValue])\n"
            }
        }
        family("larder_feature_value_age_seconds", "histogram", "Age of served values: now minus the row's event time.")
        for n in names { Self.histogram("larder_feature_value_age_seconds", "feature_view=\"\(n)\"", viewTotals[n]!.age, Self.ageBuckets, &out) }
        family("larder_feature_view_rows_written_total", "counter", "Rows written by push or write-to-online-store, by outcome.")
        for n in names {
            out += "larder_feature_view_rows_written_total{feature_view=\"\(n)\",outcome=\"written\"} \(viewTotals[n]!.written)\n"
            out += "larder_feature_view_rows_written_total{feature_view=\"\(n)\",outcome=\"older_skipped\"} \(viewTotals[n]!.skipped)\n"
        }
        family("larder_feature_service_requests_total", "counter", "Reads of the feature service.")
        for n in services.keys.sorted() { out += "larder_feature_service_requests_total{feature_service=\"\(n)\"} \(services[n]!.0)\n" }
        family("larder_feature_service_rows_total", "counter", "Entity rows read through the feature service.")
        for n in services.keys.sorted() { out += "larder_feature_service_rows_total{feature_service=\"\(n)\"} \(services[n]!.1)\n" }
        family("larder_push_requests_total", "counter", "Pushes per push source.")
        for n in pushes.keys.sorted() { out += "larder_push_requests_total{push_source=\"\(n)\"} \(pushes[n]!)\n" }
        family("larder_http_requests_total", "counter", "HTTP feature server requests by endpoint and status code.")
        for k in http.keys.sorted() {
            let parts = k.split(separator: " ")
            out += "larder_http_requests_total{endpoint=\"\(parts[0])\",code=\"\(parts[1])\"} \(http[k]!)\n"
        }
        family("larder_http_request_duration_seconds", "histogram", "HTTP feature server request latency.")
        for k in latency.keys.sorted() { Self.histogram("larder_http_request_duration_seconds", "endpoint=\"\(k)\"", latency[k]!, Self.latencyBuckets, &out) }
        family("larder_definitions_reloads_total", "counter", "Definition reloads by result.")
        out += "larder_definitions_reloads_total{result=\"ok\"} \(reloads.succeeded)\n"
        out += "larder_definitions_reloads_total{result=\"failed\"} \(reloads.failed)\n"
        family("larder_definitions_last_reload_ok", "gauge", "1 if the last reload succeeded (or none was tried), 0 if it failed and the previous definitions serve.")
        out += "larder_definitions_last_reload_ok \(reloads.snapshot.lastAttempt.map { $0.ok ? 1 : 0 } ?? 1)\n"
        materializations.exposition(into: &out)
        if let t = reloads.lastSuccess {
            family("larder_definitions_last_reload_success_timestamp_seconds", "gauge", "When the definitions were last reloaded.")
            out += "larder_definitions_last_reload_success_timestamp_seconds \(t.timeIntervalSince1970)\n"
        }
    }

    static func histogram(_ name: String, _ labels: String, _ h: Histogram, _ bounds: [Double], _ out: inout String) {
        var cumulative = 0
        for (i, b) in bounds.enumerated() {
            cumulative += h.buckets[i]
            out += "\(name)_bucket{\(labels),le=\"\(b)\"} \(cumulative)\n"
        }
        out += "\(name)_bucket{\(labels),le=\"+Inf\"} \(h.count)\n"
        out += "\(name)_sum{\(labels)} \(h.sum)\n\(name)_count{\(labels)} \(h.count)\n"
    }
}
