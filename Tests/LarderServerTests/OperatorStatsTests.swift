@testable import LarderServer
import LarderStore
import XCTest

/// INFO errorstats / total_error_replies / commandstats rejected_calls and failed_calls (Redis 7's
/// definitions), keyspace hits and misses counting only clients' reads, avg_ttl sampled by the
/// expiry sweep, and SLOWLOG.
final class OperatorStatsTests: XCTestCase {
    func testErrorRepliesAreCountedByCodeAndAsRejectedOrFailedCalls() throws {
        let server = try TestServer(threads: 2)
        let c = try server.client()
        XCTAssertEqual(try c.infoFields("errorstats"), [:], "no error yet")
        _ = try c.call("NOSUCHCOMMAND")                 // rejected, no command: ERR
        _ = try c.call("GET")                           // rejected (arity): ERR
        _ = try c.call("GET", "a", "b")                 // rejected (arity): ERR
        XCTAssertEqual(try c.call("SET", "s", "v"), .simple("OK"))
        _ = try c.call("HGET", "s", "f")                // ran and failed: WRONGTYPE
        _ = try c.call("INCR", "s")                     // ran and failed: ERR
        // Keys on both shards, so errors come from both threads.
        for i in 0..<10 { _ = try c.call("SET", "n\(i)", "x"); _ = try c.call("INCR", "n\(i)") }
        _ = try c.call("EXEC")                          // EXEC without MULTI: failed
        XCTAssertEqual(try c.call("GET", "s"), .bulk("v"))

        let errors = try c.infoFields("errorstats")
        XCTAssertEqual(errors["errorstat_ERR"], "count=15")
        XCTAssertEqual(errors["errorstat_WRONGTYPE"], "count=1")
        XCTAssertEqual(errors.count, 2)
        XCTAssertEqual(try c.infoFields("stats")["total_error_replies"], "16")
        let cmd = try c.infoFields("commandstats")
        XCTAssertTrue(cmd["cmdstat_get"]!.hasPrefix("calls=1,"), "rejected calls are not calls: \(cmd["cmdstat_get"]!)")
        XCTAssertTrue(cmd["cmdstat_get"]!.hasSuffix(",rejected_calls=2,failed_calls=0"), cmd["cmdstat_get"]!)
        XCTAssertTrue(cmd["cmdstat_incr"]!.hasPrefix("calls=11,"), cmd["cmdstat_incr"]!)
        XCTAssertTrue(cmd["cmdstat_incr"]!.hasSuffix(",rejected_calls=0,failed_calls=11"), cmd["cmdstat_incr"]!)
        XCTAssertTrue(cmd["cmdstat_hget"]!.hasSuffix(",rejected_calls=0,failed_calls=1"), cmd["cmdstat_hget"]!)
        XCTAssertTrue(cmd["cmdstat_exec"]!.hasSuffix(",rejected_calls=0,failed_calls=1"), cmd["cmdstat_exec"]!)
        XCTAssertTrue(cmd["cmdstat_set"]!.hasSuffix(",rejected_calls=0,failed_calls=0"), cmd["cmdstat_set"]!)

        XCTAssertEqual(try c.call("CONFIG", "RESETSTAT"), .simple("OK"))
        XCTAssertEqual(try c.infoFields("errorstats"), [:])
        XCTAssertEqual(try c.infoFields("stats")["total_error_replies"], "0")
        XCTAssertNil(try c.infoFields("commandstats")["cmdstat_incr"])
    }

    func testNoauthIsARejectedCall() throws {
        let server = try TestServer(threads: 2, requirePass: "secret")
        let c = try server.client()
        XCTAssertEqual(try c.call("GET", "k"), .error("NOAUTH Authentication required."))
        XCTAssertEqual(try c.call("AUTH", "secret"), .simple("OK"))
        XCTAssertEqual(try c.infoFields("errorstats")["errorstat_NOAUTH"], "count=1")
        XCTAssertEqual(try c.infoFields("commandstats")["cmdstat_get"], "calls=0,usec=0,usec_per_call=0.00,rejected_calls=1,failed_calls=0")
    }

    func testErrorsInsideATransaction() throws {
        let server = try TestServer(threads: 2)
        let c = try server.client()
        XCTAssertEqual(try c.call("SET", "s", "v"), .simple("OK"))
        XCTAssertEqual(try c.call("MULTI"), .simple("OK"))
        XCTAssertEqual(try c.call("INCR", "s"), .simple("QUEUED"))
        guard case .array(let replies) = try c.call("EXEC"), replies.count == 1, case .error = replies[0] else {
            return XCTFail("EXEC replies")
        }
        XCTAssertEqual(try c.call("MULTI"), .simple("OK"))
        _ = try c.call("GET")                            // rejected: the transaction is discarded
        XCTAssertEqual(try c.call("EXEC"), .error("EXECABORT Transaction discarded because of previous errors."))
        let errors = try c.infoFields("errorstats")
        XCTAssertEqual(errors["errorstat_ERR"], "count=2")
        XCTAssertEqual(errors["errorstat_EXECABORT"], "count=1")
        let cmd = try c.infoFields("commandstats")
        XCTAssertTrue(cmd["cmdstat_incr"]!.hasSuffix("rejected_calls=0,failed_calls=1"), cmd["cmdstat_incr"]!)
        XCTAssertTrue(cmd["cmdstat_get"]!.hasSuffix("rejected_calls=1,failed_calls=0"), cmd["cmdstat_get"]!)
        XCTAssertTrue(cmd["cmdstat_exec"]!.hasSuffix("rejected_calls=0,failed_calls=1"), cmd["cmdstat_exec"]!)
    }

    /// The embedded materialization reads `_ts:<view>` of every entity it loads: those are the
    /// server's reads, not a client's, and must not show as misses, hits or commands.
    func testInternalReadsAreNotClientHitsOrMisses() throws {
        let server = try TestServer(threads: 2)
        let keys = (0..<500).map { Array("entity:\($0)".utf8) }
        let before = try server.server.bulkReadField(field: Array("_ts:v".utf8), keys: keys)
        XCTAssertEqual(before.compactMap { $0 }.count, 0)
        var b = HashWriteBatch(fields: [Array("_ts:v".utf8)], ttlSeconds: nil)
        for k in keys { b.append(key: k, values: [ArraySlice("t".utf8)]) }
        try server.server.bulkLoad(b)
        let after = try server.server.bulkReadField(field: Array("_ts:v".utf8), keys: keys)
        XCTAssertEqual(after.compactMap { $0 }.count, 500)
        let c = try server.client()
        var stats = try c.infoFields("stats")
        XCTAssertEqual(stats["keyspace_misses"], "0")
        XCTAssertEqual(stats["keyspace_hits"], "0")
        XCTAssertEqual(try c.infoFields("commandstats").keys.sorted(), ["cmdstat_info"])
        // A client's reads do count.
        _ = try c.call("HGET", "entity:1", "_ts:v")
        _ = try c.call("GET", "missing")
        stats = try c.infoFields("stats")
        XCTAssertEqual(stats["keyspace_hits"], "1")
        XCTAssertEqual(stats["keyspace_misses"], "1")
        XCTAssertEqual(try c.call("CONFIG", "RESETSTAT"), .simple("OK"))
        XCTAssertEqual(try c.infoFields("stats")["keyspace_hits"], "0", "RESETSTAT clears hits, as Redis does")
    }

    /// avg_ttl: the expiry sweep samples keys' remaining TTLs (Redis' activeExpireCycle).
    func testAverageTTLIsSampledByTheExpirySweep() throws {
        let server = try TestServer(threads: 2)
        let c = try server.client()
        for i in 0..<200 { XCTAssertEqual(try c.call("SET", "k\(i)", "v", "EX", "100"), .simple("OK")) }
        for i in 0..<50 { XCTAssertEqual(try c.call("SET", "p\(i)", "v"), .simple("OK")) }
        var avg = 0
        let deadline = Date().addingTimeInterval(5)
        while Date() < deadline {
            let line = try c.infoFields("keyspace")["db0"] ?? ""
            XCTAssertTrue(line.hasPrefix("keys=250,expires=200,avg_ttl="), line)
            avg = Int(line.split(separator: "=").last ?? "") ?? 0
            if avg > 0 { break }
            Thread.sleep(forTimeInterval: 0.05)
        }
        XCTAssertTrue(avg > 90_000 && avg <= 100_000, "avg_ttl \(avg) for keys with 100 s left")
        XCTAssertEqual(try c.call("PERSIST", "k0"), .integer(1))
        for i in 1..<200 { _ = try c.call("DEL", "k\(i)") }
        XCTAssertEqual(try c.infoFields("keyspace")["db0"], "keys=51,expires=0,avg_ttl=0", "no key with a TTL: 0")
    }

    /// instantaneous_ops_per_sec: commands per second over the last 1.6 s, sampled every 100 ms.
    func testInstantaneousOpsPerSecondIsMeasured() throws {
        let server = try TestServer(threads: 2)
        let c = try server.client()
        XCTAssertEqual(try c.infoFields("stats")["instantaneous_ops_per_sec"], "0")
        let start = Date()
        var sent = 0
        while Date().timeIntervalSince(start) < 1.7 { _ = try c.call("SET", "k\(sent % 100)", "v"); sent += 1 }
        let rate = Double(sent) / Date().timeIntervalSince(start)
        let ops = Double(try c.infoFields("stats")["instantaneous_ops_per_sec"] ?? "") ?? -1
        XCTAssertGreaterThan(ops, rate * 0.5, "measured \(ops)/s, sent \(rate)/s")
        XCTAssertLessThan(ops, rate * 1.5, "measured \(ops)/s, sent \(rate)/s")
    }

    // MARK: SLOWLOG

    func entries(_ c: TestClient, _ args: [String]) throws -> [[Reply]] {
        guard case .array(let list) = try c.callBytes(args.map { Array($0.utf8) }) else { XCTFail("SLOWLOG GET"); return [] }
        return list.map { if case .array(let e) = $0 { return e } else { return [] } }
    }

    func testSlowlogLogsCallsOverTheThresholdWithRedisEntryLayout() throws {
        let server = try TestServer(threads: 2)
        let c = try server.client()
        XCTAssertEqual(try c.call("CONFIG", "GET", "slowlog-*"),
                       .array([.bulk("slowlog-log-slower-than"), .bulk("10000"), .bulk("slowlog-max-len"), .bulk("128")]))
        XCTAssertEqual(try c.call("SLOWLOG", "LEN"), .integer(0))
        XCTAssertEqual(try c.call("CONFIG", "SET", "slowlog-log-slower-than", "0"), .simple("OK"))
        XCTAssertEqual(try c.call("CLIENT", "SETNAME", "ops"), .simple("OK"))
        // Keys on both shards: both threads' logs are merged, newest first.
        for i in 0..<6 { _ = try c.call("SET", "key:\(i)", "v\(i)") }
        let all = try entries(c, ["SLOWLOG", "GET", "-1"])
        XCTAssertEqual(all.count, 8, "CONFIG SET (logged once it ran), CLIENT SETNAME, 6 SETs")
        let ids = all.map { e -> Int in if case .integer(let i) = e[0] { return i } else { return -1 } }
        XCTAssertEqual(ids, ids.sorted(by: >), "newest first")
        XCTAssertEqual(Set(ids).count, ids.count, "ids unique over shards")
        let newestSet = all.first { $0[3] == .array([.bulk("SET"), .bulk("key:5"), .bulk("v5")]) }!
        XCTAssertEqual(newestSet.count, 6)
        guard case .integer(let ts) = newestSet[1], case .integer(let micros) = newestSet[2] else { return XCTFail("entry") }
        XCTAssertLessThan(abs(ts - Int(Date().timeIntervalSince1970)), 5)
        XCTAssertGreaterThanOrEqual(micros, 0)
        XCTAssertTrue(newestSet[4].string?.hasPrefix("127.0.0.1:") ?? false, "\(newestSet[4])")
        XCTAssertEqual(newestSet[5], .bulk("ops"))
        XCTAssertEqual(try entries(c, ["SLOWLOG", "GET", "2"]).count, 2)
        XCTAssertEqual(try entries(c, ["SLOWLOG", "GET"]).count, 10, "GET's default count is 10")
        XCTAssertEqual(try c.call("SLOWLOG", "GET", "-2"), .error("ERR count should be greater than or equal to -1"))
        XCTAssertEqual(try c.call("SLOWLOG", "RESET"), .simple("OK"))
        XCTAssertEqual(try c.call("SLOWLOG", "LEN"), .integer(1), "the RESET itself is logged after it ran")
    }

    func testSlowlogTruncatesArgumentsAsRedis() throws {
        let server = try TestServer(threads: 1)
        let c = try server.client()
        XCTAssertEqual(try c.call("CONFIG", "SET", "slowlog-log-slower-than", "0"), .simple("OK"))
        let long = String(repeating: "x", count: 200)
        _ = try c.callBytes([Array("SET".utf8), Array("k".utf8), Array(long.utf8)])
        var many = ["HSET", "h"]
        for i in 0..<20 { many += ["f\(i)", "v\(i)"] }          // 42 arguments
        _ = try c.callBytes(many.map { Array($0.utf8) })
        _ = try c.call("AUTH", "nosuchpassword")
        let e = try entries(c, ["SLOWLOG", "GET", "3"])
        XCTAssertEqual(e[0][3], .array([.bulk("AUTH"), .bulk("(redacted)")]))
        guard case .array(let hset) = e[1][3] else { return XCTFail("args") }
        XCTAssertEqual(hset.count, 32)
        XCTAssertEqual(hset[30], .bulk("f14"))
        XCTAssertEqual(hset[31], .bulk("... (11 more arguments)"))
        XCTAssertEqual(e[2][3], .array([.bulk("SET"), .bulk("k"), .bulk(String(repeating: "x", count: 128) + "... (72 more bytes)")]))
    }

    func testSlowlogThresholdAndMaxLen() throws {
        let server = try TestServer(threads: 2)
        let c = try server.client()
        // Default 10 ms: ordinary commands are not logged.
        for i in 0..<50 { _ = try c.call("SET", "k\(i)", "v") }
        XCTAssertEqual(try c.call("SLOWLOG", "LEN"), .integer(0))
        XCTAssertEqual(try c.call("CONFIG", "SET", "slowlog-max-len", "3"), .simple("OK"))
        XCTAssertEqual(try c.call("CONFIG", "SET", "slowlog-log-slower-than", "0"), .simple("OK"))
        for i in 0..<10 { _ = try c.call("GET", "k\(i)") }
        XCTAssertEqual(try c.call("SLOWLOG", "LEN"), .integer(3))
        let e = try entries(c, ["SLOWLOG", "GET", "-1"])
        XCTAssertEqual(e.map { $0[3] }, [.array([.bulk("SLOWLOG"), .bulk("LEN")]),
                                         .array([.bulk("GET"), .bulk("k9")]), .array([.bulk("GET"), .bulk("k8")])])
        XCTAssertEqual(try c.call("CONFIG", "SET", "slowlog-log-slower-than", "-1"), .simple("OK"))
        XCTAssertEqual(try c.call("SLOWLOG", "RESET"), .simple("OK"))
        _ = try c.call("KEYS", "*")
        XCTAssertEqual(try c.call("SLOWLOG", "LEN"), .integer(0), "-1 logs nothing")
        XCTAssertEqual(try c.call("CONFIG", "SET", "slowlog-log-slower-than", "-2"),
                       .error("ERR CONFIG SET failed (possibly related to argument 'slowlog-log-slower-than') - argument must be between -1 and 9223372036854775807 inclusive"))
    }

    // MARK: LATENCY

    func testLatencyMonitorRecordsCommandsOverTheThreshold() throws {
        let server = try TestServer(threads: 2)
        let c = try server.client()
        XCTAssertEqual(try c.call("CONFIG", "GET", "latency-monitor-threshold"),
                       .array([.bulk("latency-monitor-threshold"), .bulk("0")]))
        // 50,000 keys over both shards: KEYS * (borrowing both) takes well over 1 ms.
        for i in 0..<500 {
            var mset = ["MSET"]
            for j in 0..<100 { mset += ["key:\(i * 100 + j)", "v"] }
            c.send(mset)
        }
        for _ in 0..<500 { XCTAssertEqual(try c.read(), .simple("OK")) }
        _ = try c.call("KEYS", "*")
        XCTAssertEqual(try c.call("LATENCY", "LATEST"), .array([]), "the monitor is off at 0")
        XCTAssertEqual(try c.call("CONFIG", "SET", "latency-monitor-threshold", "1"), .simple("OK"))
        _ = try c.call("KEYS", "*")
        _ = try c.call("KEYS", "*")
        guard case .array(let latest) = try c.call("LATENCY", "LATEST"), latest.count == 1,
              case .array(let row) = latest[0], row.count == 4,
              case .integer(let time) = row[1], case .integer(let ms) = row[2], case .integer(let max) = row[3] else {
            return XCTFail("LATENCY LATEST: \(try c.call("LATENCY", "LATEST"))")
        }
        XCTAssertEqual(row[0], .bulk("command"))
        XCTAssertLessThan(abs(time - Int(Date().timeIntervalSince1970)), 5)
        XCTAssertGreaterThanOrEqual(ms, 1)
        XCTAssertGreaterThanOrEqual(max, ms)
        guard case .array(let history) = try c.call("LATENCY", "HISTORY", "command") else { return XCTFail("HISTORY") }
        XCTAssertTrue((1...2).contains(history.count), "one sample per second: \(history)")
        XCTAssertEqual(try c.call("LATENCY", "HISTORY", "nosuchevent"), .array([]))
        XCTAssertEqual(try c.call("LATENCY", "RESET", "nosuchevent"), .integer(0))
        guard case .bulk(let reportBytes) = try c.call("LATENCY", "DOCTOR") else { return XCTFail("DOCTOR") }
        let report = String(decoding: reportBytes, as: UTF8.self)
        XCTAssertTrue(report.contains("1. command: \(history.count) latency spikes"), report)
        XCTAssertTrue(report.contains("Worst all time event \(max)ms."), report)
        XCTAssertTrue(report.contains("SLOWLOG GET"), report)
        XCTAssertEqual(try c.call("LATENCY", "RESET"), .integer(1))
        XCTAssertEqual(try c.call("LATENCY", "LATEST"), .array([]))
        guard case .bulk(let quietBytes) = try c.call("LATENCY", "DOCTOR") else { return XCTFail("DOCTOR") }
        let quiet = String(decoding: quietBytes, as: UTF8.self)
        XCTAssertTrue(quiet.hasPrefix("No latency spike of 1 ms or more"), quiet)
        XCTAssertEqual(try c.call("CONFIG", "SET", "latency-monitor-threshold", "0"), .simple("OK"))
        guard case .bulk(let offBytes) = try c.call("LATENCY", "DOCTOR") else { return XCTFail("DOCTOR") }
        let off = String(decoding: offBytes, as: UTF8.self)
        XCTAssertTrue(off.hasPrefix("Latency monitoring is disabled"), off)
    }

    func testLatencyDoctorStatisticsAndAdvice() {
        // Spikes of 10, 20 and 30 ms, the oldest 60 s ago: average 20, mean deviation 20/3 -> 6,
        // one spike every 20 s.
        let s = LatencyDoctor.stats(latencies: [10, 20, 30], oldest: 1_000, worst: 45, now: 1_060)
        XCTAssertEqual(s, LatencyDoctor.Stats(samples: 3, average: 20, meanDeviation: 6, period: 60, worst: 45))
        XCTAssertEqual(LatencyDoctor.stats(latencies: [5], oldest: 7, worst: 5, now: 7).period, 1, "never 0 s")
        let report = LatencyDoctor.report(events: [("command", [10, 20, 30], 1_000, 45), ("fast-command", [3], 1_050, 3)],
                                          threshold: 2, slowlogSlowerThan: 10_000, now: 1_060)
        XCTAssertTrue(report.contains("1. command: 3 latency spikes (average 20ms, mean deviation 6ms, period 20.00 sec). Worst all time event 45ms.\n"), report)
        XCTAssertTrue(report.contains("2. fast-command: 1 latency spikes (average 3ms, mean deviation 0ms, period 10.00 sec)."), report)
        XCTAssertTrue(report.contains("CONFIG SET slowlog-log-slower-than 2000"), "the slow log's threshold is above the monitor's: \(report)")
        XCTAssertTrue(report.contains("intrinsic latency"), report)
        let slowlogOff = LatencyDoctor.report(events: [("command", [4], 1_000, 4)], threshold: 1, slowlogSlowerThan: -1, now: 1_001)
        XCTAssertTrue(slowlogOff.contains("The slow log is off"), slowlogOff)
    }
}
