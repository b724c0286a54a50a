import Foundation
import NIOCore

/// The stages of a stop, timed, for its closing log line (`stopped in 0.04 s: http 0.00 s,
/// listener 0.00 s, clients 0.01 s, threads 0.03 s`), and the bounded wait on many futures.
struct ShutdownStages {
    /// How long the clients' closes may take together before the stop names them and goes on.
    static let clientCloseGrace = 1.0
    /// How long the shard threads may take to finish their current task before the stop says so.
    static let loopGrace = 1.0

    private let start = DispatchTime.now()
    private var last = DispatchTime.now()
    private var parts: [(String, Double)] = []

    mutating func done(_ stage: String) {
        let now = DispatchTime.now()
        parts.append((stage, Double(now.uptimeNanoseconds - last.uptimeNanoseconds) / 1e9))
        last = now
    }

    var totalText: String { String(format: "%.2f", Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e9) }

    var summary: String {
        "\(totalText) s: " + parts.map { "\($0.0) \(String(format: "%.2f", $0.1)) s" }.joined(separator: ", ")
    }

    /// Waits until every future completed (successfully or not) or `seconds` passed; returns
    /// the indices of those still pending.
    static func waitAll(_ futures: [EventLoopFuture<Void>], upTo seconds: Double) -> [Int] {
        let lock = NSLock()
        var pending = Set(futures.indices)
        let group = DispatchGroup()
        for (i, f) in futures.enumerated() {
            group.enter()
            f.whenComplete { _ in
                lock.lock(); pending.remove(i); lock.unlock()
                group.leave()
            }
        }
        _ = group.wait(timeout: .now() + seconds)
        lock.lock(); defer { lock.unlock() }
        return pending.sorted()
    }
}
