// Printing a run: one human line, and optionally one CSV line or one JSON object.
import Glibc

struct Report {
    let workload: String
    let pipeline: Int
    let connections: Int
    let rate: Double?
    let result: RunResult

    static let csvHeader = "workload,pipeline,connections,rate,requests,seconds,rps,p50_us,p99_us,p999_us,max_us,errors"

    var seconds: Double { Double(result.elapsedNs) / 1e9 }
    var rps: Double { seconds > 0 ? Double(result.measured) / seconds : 0 }
    func percentileMicros(_ p: Double) -> Double {
        result.measured == 0 ? 0 : Double(result.histogram.valueAtPercentile(p)) / 1000
    }
    var maxMicros: Double { result.measured == 0 ? 0 : Double(result.histogram.max) / 1000 }

    var human: String {
        let mode = rate.map { "open loop at \(fmt($0, 0)) req/s" } ?? "closed loop"
        return "\(workload): \(result.measured) requests in \(fmt(seconds, 3)) s = \(fmt(rps, 0)) req/s; "
            + "latency us p50 \(fmt(percentileMicros(50), 1)) p99 \(fmt(percentileMicros(99), 1)) "
            + "p99.9 \(fmt(percentileMicros(99.9), 1)) max \(fmt(maxMicros, 1)); "
            + "\(result.errors) errors, \(result.nils) nil replies "
            + "(\(mode), pipeline \(pipeline), \(connections) connections)"
    }

    var csv: String {
        [workload, "\(pipeline)", "\(connections)", rate.map { fmt($0, 0) } ?? "0", "\(result.measured)",
         fmt(seconds, 6), fmt(rps, 1), fmt(percentileMicros(50), 1), fmt(percentileMicros(99), 1),
         fmt(percentileMicros(99.9), 1), fmt(maxMicros, 1), "\(result.errors)"].joined(separator: ",")
    }

    func json(extra: [(String, String)]) -> String {
        var fields: [(String, String)] = [
            ("workload", quote(workload)), ("pipeline", "\(pipeline)"), ("connections", "\(connections)"),
            ("rate", rate.map { fmt($0, 3) } ?? "null"), ("requests", "\(result.measured)"),
            ("seconds", fmt(seconds, 6)), ("rps", fmt(rps, 1)), ("p50_us", fmt(percentileMicros(50), 1)),
            ("p99_us", fmt(percentileMicros(99), 1)), ("p999_us", fmt(percentileMicros(99.9), 1)),
            ("max_us", fmt(maxMicros, 1)), ("errors", "\(result.errors)"), ("nils", "\(result.nils)"),
            ("first_error", result.firstError.map(quote) ?? "null"),
        ]
        fields += extra
        return "{" + fields.map { "\(quote($0.0)): \($0.1)" }.joined(separator: ", ") + "}"
    }
}

func fmt(_ x: Double, _ decimals: Int) -> String {
    var buf = [CChar](repeating: 0, count: 64)
    _ = withVaList([x]) { vsnprintf(&buf, 64, "%.\(decimals)f", $0) }
    return String(cString: buf)
}

func quote(_ s: String) -> String {
    var out = "\""
    for u in s.unicodeScalars {
        switch u {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case _ where u.value < 0x20: out += "\\u" + String(repeating: "0", count: 4 - String(u.value, radix: 16).count)
            + String(u.value, radix: 16)
        default: out.unicodeScalars.append(u)
        }
    }
    return out + "\""
}

func printErr(_ s: String) {
    fputs(s + "\n", stderr)
}
