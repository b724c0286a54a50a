/// One point of Redis' `save` directive: snapshot once at least `changes` writes have happened
/// and `seconds` have passed since the last snapshot.
public struct SavePoint: Equatable, Sendable, CustomStringConvertible {
    public var seconds: Int
    public var changes: Int
    public init(seconds: Int, changes: Int) { self.seconds = seconds; self.changes = changes }
    public var description: String { "\(seconds) \(changes)" }

    /// Redis' default when `save` is not configured at all (redis.conf's commented defaults).
    public static let redisDefault = [SavePoint(seconds: 3600, changes: 1), SavePoint(seconds: 300, changes: 100),
                                      SavePoint(seconds: 60, changes: 10000)]

    /// Parses the value of `save` as Redis does: "" (no points) or pairs of whole numbers
    /// "3600 1 300 100". nil for anything else (Redis: "Invalid save parameters").
    public static func parse(_ text: String) -> [SavePoint]? {
        let words = text.split(separator: " ", omittingEmptySubsequences: true)
        guard words.count % 2 == 0 else { return nil }
        var points: [SavePoint] = []
        var i = 0
        while i < words.count {
            guard let s = Int(words[i]), let c = Int(words[i + 1]), s >= 0, c >= 0,
                  words[i].allSatisfy(\.isNumber), words[i + 1].allSatisfy(\.isNumber) else { return nil }
            points.append(SavePoint(seconds: s, changes: c))
            i += 2
        }
        return points
    }

    /// The value CONFIG GET save prints: "3600 1 300 100", or "" without points.
    public static func format(_ points: [SavePoint]) -> String { points.map(\.description).joined(separator: " ") }
}
