// libFuzzer target for RESPParser. Built with plain swiftc together with the LarderRESP
// sources (one module, so no import):
//   swiftc -O -sanitize=fuzzer,address -parse-as-library Sources/LarderRESP/*.swift \
//       Fuzz/resp/main.swift -o .build-fuzz/resp-fuzz
// Run with Fuzz/resp/run.sh SECONDS.
//
// The first input byte picks the parser options; the rest is the request stream. It is parsed
// once whole and once cut into pieces at points derived from the input, and checks that:
// every span lies inside its command and the buffer, every command ends after it starts, the
// parser never asks to keep more than it was given, and both ways give the same commands and
// errors.

enum FuzzEvent: Equatable {
    case command([[UInt8]])
    case error(String)
}

/// Feeds `chunks` the way the connection handler does and returns what the parser reported.
func parseStream(_ chunks: [ArraySlice<UInt8>], limits: RESPLimits, authenticated: Bool) -> [FuzzEvent] {
    var parser = RESPParser(limits: limits)
    parser.authenticated = authenticated
    var buffer: [UInt8] = []
    var events: [FuzzEvent] = []
    var spans: [ArgumentSpan] = []
    for chunk in chunks {
        buffer += chunk
        spans.removeAll(keepingCapacity: true)
        var start = 0
        var failed = false
        buffer.withUnsafeMutableBytes { raw in
            loop: while start < raw.count {
                let before = spans.count
                switch parser.parse(raw, start: start, into: &spans) {
                case .command(let n, let end):
                    precondition(n >= 0 && spans.count == before + n, "argument count must match the spans added")
                    precondition(end > start && end <= raw.count, "command end \(end) outside (\(start), \(raw.count)]")
                    var args: [[UInt8]] = []
                    for s in spans[before...] {
                        precondition(s.count >= 0 && s.offset >= start && s.offset + s.count <= end,
                                     "span \(s) outside command \(start)..<\(end)")
                        args.append(Array(raw[s.offset..<s.offset + s.count]))
                    }
                    if n > 0 { events.append(.command(args)) }
                    start = end
                case .incomplete:
                    precondition(spans.count == before, "an incomplete command must add no span")
                    break loop
                case .error(let e):
                    precondition(e.message.hasPrefix("Protocol error: "), "unexpected error text \(e.message)")
                    events.append(.error(e.message))
                    failed = true
                    break loop
                }
            }
        }
        if failed { return events }
        buffer.removeFirst(start)
    }
    return events
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size > 0 else { return 0 }
    let options = data[0]
    let input = Array(UnsafeBufferPointer(start: data + 1, count: size - 1))
    var limits = RESPLimits()
    if options & 1 != 0 { limits.maxBulkLength = 64 }
    if options & 2 != 0 { limits.maxMultibulkLength = 8 }
    if options & 4 != 0 { limits.maxInlineLength = 32 }
    let authenticated = options & 8 == 0

    // Cut points from a small generator seeded by the input, so a crash reproduces.
    var seed: UInt64 = 0x9E37_79B9_7F4A_7C15 &+ UInt64(size)
    for b in input.prefix(16) { seed = (seed ^ UInt64(b)) &* 0x100_0000_01B3 }
    var cuts: [Int] = []
    var at = 0
    while at < input.count {
        seed ^= seed << 13; seed ^= seed >> 7; seed ^= seed << 17
        at += 1 + Int(seed % UInt64(options & 16 != 0 ? 3 : 64))
        if at < input.count { cuts.append(at) }
    }
    var chunks: [ArraySlice<UInt8>] = []
    var prev = 0
    for c in cuts { chunks.append(input[prev..<c]); prev = c }
    chunks.append(input[prev...])

    let whole = parseStream([input[...]], limits: limits, authenticated: authenticated)
    let pieces = parseStream(chunks, limits: limits, authenticated: authenticated)
    // A line longer than the inline limit is an error only when it arrives without its newline,
    // so pieces may fail where the whole input does not (Redis behaves the same); compare only
    // when no such limit error occurred.
    let sizeErrors: Set<String> = ["Protocol error: too big inline request", "Protocol error: too big mbulk count string",
                                   "Protocol error: too big bulk count string"]
    let limitHit = (whole + pieces).contains { if case .error(let m) = $0 { return sizeErrors.contains(m) }; return false }
    if !limitHit {
        precondition(whole == pieces, "split parsing differs: whole \(whole) pieces \(pieces)")
    }
    return 0
}
