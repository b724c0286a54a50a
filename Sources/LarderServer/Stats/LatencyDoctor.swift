import Foundation

/// The text of LATENCY DOCTOR: for each event of the latency monitor, how many spikes were kept,
/// their average and mean absolute deviation, how often they came, the worst ever; then advice
/// that follows from which events occurred and from the settings. Pure: the family hands it the
/// merged series, so the arithmetic is tested without a server.
enum LatencyDoctor {
    /// One event's statistics over its kept samples (Redis' latencyStats).
    struct Stats: Equatable {
        var samples: Int
        var average: Int
        var meanDeviation: Int
        /// Seconds from the oldest kept sample to now, at least 1.
        var period: Int
        var worst: Int
    }

    static func stats(latencies: [Int], oldest: Int, worst: Int, now: Int) -> Stats {
        guard !latencies.isEmpty else { return Stats(samples: 0, average: 0, meanDeviation: 0, period: 0, worst: worst) }
        let average = latencies.reduce(0, +) / latencies.count
        let deviation = latencies.reduce(0) { $0 + abs($1 - average) } / latencies.count
        return Stats(samples: latencies.count, average: average, meanDeviation: deviation,
                     period: max(1, now - oldest), worst: worst)
    }

    /// `events`: (name, latencies oldest first, time of the oldest, worst ever) per event.
    static func report(events: [(name: String, latencies: [Int], oldest: Int, worst: Int)],
                       threshold: Int, slowlogSlowerThan: Int, now: Int) -> String {
        if events.isEmpty && threshold == 0 {
            return "Latency monitoring is disabled (latency-monitor-threshold is 0) and nothing was recorded. "
                + "Use \"CONFIG SET latency-monitor-threshold <milliseconds>\" to record every command that "
                + "takes at least that long; LATENCY DOCTOR then reports on them.\n"
        }
        if events.isEmpty {
            return "No latency spike of \(threshold) ms or more was observed since the server started "
                + "(or since the last LATENCY RESET).\n"
        }
        var text = "Latency spikes were observed. Per event (a spike is the worst call of one second):\n\n"
        var advice: [String] = []
        for (n, event) in events.enumerated() {
            let s = stats(latencies: event.latencies, oldest: event.oldest, worst: event.worst, now: now)
            let every = s.samples > 0 ? Double(s.period) / Double(s.samples) : 0
            text += "\(n + 1). \(event.name): \(s.samples) latency spikes (average \(s.average)ms, mean deviation "
                + "\(s.meanDeviation)ms, period \(String(format: "%.2f", every)) sec). Worst all time event \(s.worst)ms.\n"
            switch event.name {
            case "command":
                if slowlogSlowerThan < 0 {
                    advice.append("The slow log is off (slowlog-log-slower-than -1): turn it on "
                        + "(CONFIG SET slowlog-log-slower-than \(threshold * 1000)) to see which commands were slow.")
                } else if slowlogSlowerThan / 1000 > threshold {
                    advice.append("The slow log records only calls over \(slowlogSlowerThan) us, more than the "
                        + "latency threshold: CONFIG SET slowlog-log-slower-than \(threshold * 1000) to see these calls in it.")
                }
                advice.append("SLOWLOG GET shows the slow calls with their arguments: commands over many elements "
                    + "(KEYS, HGETALL or DEL of large hashes, SAVE) block their shard thread for their whole run.")
            case "fast-command":
                advice.append("O(1) commands were slow: the shard thread did not get the CPU (other processes on its "
                    + "core, more --threads than cores, a snapshot or load holding the shards) or the machine itself "
                    + "pauses (measure its intrinsic latency with redis-cli --intrinsic-latency 100).")
            default:
                break
            }
        }
        text += "\nAdvice:\n\n" + advice.map { "- " + $0 + "\n" }.joined()
        return text
    }
}
