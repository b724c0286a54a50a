import LarderRESP

/// Drives a RESPParser the way the connection handler does: bytes arrive in chunks, bytes from
/// the start of an unfinished command are kept, everything before it is dropped.
struct ParserHarness {
    enum Event: Equatable {
        case command([[UInt8]])
        case error(String)
    }

    var parser: RESPParser
    private var buffer: [UInt8] = []
    private(set) var events: [Event] = []
    private(set) var failed = false

    init(limits: RESPLimits = RESPLimits(), authenticated: Bool = true) {
        parser = RESPParser(limits: limits)
        parser.authenticated = authenticated
    }

    /// Bytes kept for an unfinished command.
    var pendingBytes: Int { buffer.count }

    mutating func feed(_ chunk: [UInt8]) {
        guard !failed else { return }
        buffer += chunk
        var spans: [ArgumentSpan] = []
        var start = 0
        var newEvents: [Event] = []
        var failedNow = false
        var parser = self.parser
        buffer.withUnsafeMutableBytes { raw in
            loop: while start < raw.count {
                switch parser.parse(raw, start: start, into: &spans) {
                case .command(let n, let end):
                    precondition(end > start && end <= raw.count, "a command must end after it starts, inside the buffer")
                    let args = spans.suffix(n).map { s -> [UInt8] in
                        precondition(s.offset >= start && s.offset + s.count <= end, "spans must lie inside the command")
                        return Array(raw[s.offset..<s.offset + s.count])
                    }
                    if n > 0 { newEvents.append(.command(args)) }
                    start = end
                case .incomplete:
                    break loop
                case .error(let e):
                    newEvents.append(.error(e.message))
                    failedNow = true
                    break loop
                }
            }
        }
        self.parser = parser
        failed = failedNow
        events += newEvents
        buffer.removeFirst(min(start, buffer.count))
    }

    /// Parses `chunks` fed one after the other.
    static func events(_ chunks: [[UInt8]], limits: RESPLimits = RESPLimits(), authenticated: Bool = true) -> [Event] {
        var h = ParserHarness(limits: limits, authenticated: authenticated)
        for c in chunks { h.feed(c) }
        return h.events
    }

    static func events(_ text: String, authenticated: Bool = true) -> [Event] {
        events([Array(text.utf8)], authenticated: authenticated)
    }
}

extension ParserHarness.Event {
    static func args(_ a: String...) -> Self { .command(a.map { Array($0.utf8) }) }
}
