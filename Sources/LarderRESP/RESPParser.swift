/// Incremental parser of client requests: RESP multibulk (`*N\r\n$len\r\n...`) and inline
/// commands, following Redis' `processMultibulkBuffer` / `processInlineBuffer` rule for rule,
/// including their error texts.
///
/// The parser does not own bytes. It reads a caller's buffer and reports argument spans into
/// it, so arguments are never copied. A command whose bytes have not all arrived is resumed
/// on the next call: the caller keeps the bytes from the command's start and calls again with
/// more appended. Memory held for a partial command is proportional to what was received,
/// never to the lengths a client announces.
public struct RESPParser {
    public enum Outcome: Equatable {
        /// A whole command: `argumentCount` spans were appended; the next command starts at `end`.
        /// A count of 0 is an empty request (empty inline line, `*0`), which Redis ignores.
        case command(argumentCount: Int, end: Int)
        /// More bytes are needed; keep the bytes from `start` on and call again.
        case incomplete
        case error(RESPProtocolError)
    }

    public var limits: RESPLimits
    /// Before AUTH succeeds on a server with a password, tighter limits apply (as in Redis).
    public var authenticated: Bool = true

    // State of a multibulk command still arriving. Offsets are relative to the command's start
    // so the caller may move its bytes between calls.
    private var pendingArgumentCount = 0
    private var pendingSpans: [ArgumentSpan] = []
    private var resumeOffset = 0

    public init(limits: RESPLimits = RESPLimits()) { self.limits = limits }

    /// True while a multibulk command is partially received.
    public var isInsideCommand: Bool { pendingArgumentCount > 0 }

    /// Parses one request starting at `start`. Inline requests are unescaped in place, which is
    /// why the buffer is mutable: unescaping only ever shortens an argument.
    public mutating func parse(_ buffer: UnsafeMutableRawBufferPointer, start: Int,
                               into spans: inout [ArgumentSpan]) -> Outcome {
        guard start < buffer.count else { return .incomplete }
        if pendingArgumentCount == 0 && buffer[start] != UInt8(ascii: "*") {
            return parseInline(buffer, start: start, into: &spans)
        }
        return parseMultibulk(UnsafeRawBufferPointer(buffer), start: start, into: &spans)
    }

    private mutating func parseMultibulk(_ buf: UnsafeRawBufferPointer, start: Int,
                                         into spans: inout [ArgumentSpan]) -> Outcome {
        let end = buf.count
        var pos: Int
        // Arguments go straight into `spans`; `pendingSpans` holds them (relative to `start`) only
        // while the command waits for more bytes. Collecting every command in `pendingSpans`,
        // then copying and clearing it, cost ~120 user instructions per GET under callgrind
        // (bench/results/engine.md, stop 26).
        let first = spans.count
        if pendingArgumentCount == 0 {
            guard let cr = Self.find(UInt8(ascii: "\r"), in: buf, from: start + 1, to: end) else {
                if end - start > limits.maxInlineLength { return fail(.tooBigMultibulkCount) }
                return .incomplete
            }
            // Redis needs the byte after '\r' present and skips it without checking it is '\n'.
            if cr + 1 >= end { return .incomplete }
            guard let n = Self.parseInteger(buf, from: start + 1, to: cr), n <= Int(Int32.max),
                  n <= limits.maxMultibulkLength else { return fail(.invalidMultibulkLength) }
            if !authenticated && n > limits.unauthenticatedMaxMultibulk {
                return fail(.unauthenticatedMultibulk)
            }
            if n <= 0 { return .command(argumentCount: 0, end: cr + 2) }
            pendingArgumentCount = n
            pos = cr + 2
        } else {
            pos = start + resumeOffset
            for s in pendingSpans { spans.append(ArgumentSpan(offset: s.offset + start, count: s.count)) }
            pendingSpans.removeAll(keepingCapacity: pendingSpans.capacity <= 1024)
        }

        while spans.count - first < pendingArgumentCount {
            guard pos < end else { return suspend(start: start, at: pos, moving: &spans, from: first) }
            guard let cr = Self.find(UInt8(ascii: "\r"), in: buf, from: pos, to: end) else {
                if end - pos > limits.maxInlineLength { return fail(.tooBigBulkCount, dropping: &spans, from: first) }
                return suspend(start: start, at: pos, moving: &spans, from: first)
            }
            if buf[pos] != UInt8(ascii: "$") { return fail(.expectedDollar(got: buf[pos]), dropping: &spans, from: first) }
            if cr + 1 >= end { return suspend(start: start, at: pos, moving: &spans, from: first) }
            guard let length = Self.parseInteger(buf, from: pos + 1, to: cr), length >= 0,
                  length <= limits.maxBulkLength else { return fail(.invalidBulkLength, dropping: &spans, from: first) }
            if !authenticated && length > limits.unauthenticatedMaxBulk {
                return fail(.unauthenticatedBulk, dropping: &spans, from: first)
            }
            let dataStart = cr + 2
            // Redis skips the two bytes after the payload without checking they are CRLF.
            if end - dataStart < length + 2 { return suspend(start: start, at: pos, moving: &spans, from: first) }
            spans.append(ArgumentSpan(offset: dataStart, count: length))
            pos = dataStart + length + 2
        }

        pendingArgumentCount = 0
        resumeOffset = 0
        return .command(argumentCount: spans.count - first, end: pos)
    }

    /// A command cut short: its arguments so far move from `spans` to `pendingSpans`, relative
    /// to its start (the caller may move the bytes before calling again).
    @inline(never)
    private mutating func suspend(start: Int, at pos: Int, moving spans: inout [ArgumentSpan], from first: Int) -> Outcome {
        for i in first..<spans.count { pendingSpans.append(ArgumentSpan(offset: spans[i].offset - start, count: spans[i].count)) }
        spans.removeSubrange(first...)
        return suspend(start: start, at: pos)
    }

    /// A protocol error inside a command: `spans` is left as it was before the command.
    @inline(never)
    private mutating func fail(_ error: RESPProtocolError, dropping spans: inout [ArgumentSpan], from first: Int) -> Outcome {
        spans.removeSubrange(first...)
        return fail(error)
    }

    private mutating func suspend(start: Int, at pos: Int) -> Outcome {
        resumeOffset = pos - start
        return .incomplete
    }

    private mutating func fail(_ error: RESPProtocolError) -> Outcome {
        pendingArgumentCount = 0
        pendingSpans.removeAll()
        resumeOffset = 0
        return .error(error)
    }

    /// Forget any partial command (after an error or a RESET of the connection).
    public mutating func reset() {
        pendingArgumentCount = 0
        pendingSpans.removeAll()
        resumeOffset = 0
    }

    // MARK: inline commands (Redis' sdssplitargs)

    private mutating func parseInline(_ buf: UnsafeMutableRawBufferPointer, start: Int,
                                      into spans: inout [ArgumentSpan]) -> Outcome {
        guard let nl = Self.find(UInt8(ascii: "\n"), in: UnsafeRawBufferPointer(buf), from: start, to: buf.count) else {
            if buf.count - start > limits.maxInlineLength { return fail(.tooBigInline) }
            return .incomplete
        }
        var lineEnd = nl
        if lineEnd > start && buf[lineEnd - 1] == UInt8(ascii: "\r") { lineEnd -= 1 }
        let before = spans.count
        guard Self.splitInline(buf, from: start, to: lineEnd, into: &spans) else {
            spans.removeSubrange(before...)
            return fail(.unbalancedQuotes)
        }
        return .command(argumentCount: spans.count - before, end: nl + 1)
    }

    @inline(__always) static func isSpace(_ c: UInt8) -> Bool {
        c == 0x20 || c == 0x09 || c == 0x0A || c == 0x0D || c == 0x0B || c == 0x0C
    }

    static func hexValue(_ c: UInt8) -> UInt8? {
        switch c {
        case 48...57: return c - 48
        case 97...102: return c - 87
        case 65...70: return c - 55
        default: return nil
        }
    }

    /// Splits a line into arguments with Redis' quoting rules, unescaping in place.
    static func splitInline(_ buf: UnsafeMutableRawBufferPointer, from: Int, to end: Int,
                            into spans: inout [ArgumentSpan]) -> Bool {
        var p = from
        while true {
            while p < end && isSpace(buf[p]) { p += 1 }
            if p >= end { return true }
            let argStart = p
            var w = p  // write cursor: never ahead of the read cursor
            var inDouble = false, inSingle = false, done = false
            while !done {
                if inDouble {
                    if p >= end { return false }
                    let c = buf[p]
                    if c == UInt8(ascii: "\\") && p + 3 < end && buf[p + 1] == UInt8(ascii: "x"),
                       let h = hexValue(buf[p + 2]), let l = hexValue(buf[p + 3]) {
                        buf[w] = h << 4 | l; w += 1; p += 4
                    } else if c == UInt8(ascii: "\\") && p + 1 < end {
                        let e = buf[p + 1]
                        let out: UInt8
                        switch e {
                        case UInt8(ascii: "n"): out = 0x0A
                        case UInt8(ascii: "r"): out = 0x0D
                        case UInt8(ascii: "t"): out = 0x09
                        case UInt8(ascii: "b"): out = 0x08
                        case UInt8(ascii: "a"): out = 0x07
                        default: out = e
                        }
                        buf[w] = out; w += 1; p += 2
                    } else if c == UInt8(ascii: "\"") {
                        // A closing quote must be followed by a space or the end.
                        if p + 1 < end && !isSpace(buf[p + 1]) { return false }
                        p += 1; done = true
                    } else {
                        buf[w] = c; w += 1; p += 1
                    }
                } else if inSingle {
                    if p >= end { return false }
                    let c = buf[p]
                    if c == UInt8(ascii: "\\") && p + 1 < end && buf[p + 1] == UInt8(ascii: "'") {
                        buf[w] = UInt8(ascii: "'"); w += 1; p += 2
                    } else if c == UInt8(ascii: "'") {
                        if p + 1 < end && !isSpace(buf[p + 1]) { return false }
                        p += 1; done = true
                    } else {
                        buf[w] = c; w += 1; p += 1
                    }
                } else {
                    if p >= end { done = true; break }
                    let c = buf[p]
                    if isSpace(c) { done = true }
                    else if c == UInt8(ascii: "\"") { inDouble = true; p += 1 }
                    else if c == UInt8(ascii: "'") { inSingle = true; p += 1 }
                    else { buf[w] = c; w += 1; p += 1 }
                }
            }
            spans.append(ArgumentSpan(offset: argStart, count: w - argStart))
        }
    }

    // MARK: helpers

    @inline(__always)
    static func find(_ byte: UInt8, in buf: UnsafeRawBufferPointer, from: Int, to end: Int) -> Int? {
        guard from < end, let base = buf.baseAddress else { return nil }
        // The '\r' after a count or a length is a few bytes on: looked for here first, since a
        // call to memchr for those cost ~18 user instructions each, three per GET (engine.md,
        // stop 26). Longer scans (inline requests) still go to memchr.
        let near = min(end, from &+ 8)
        var i = from
        while i < near {
            if base.load(fromByteOffset: i, as: UInt8.self) == byte { return i }
            i &+= 1
        }
        guard i < end, let hit = memchr(base + i, Int32(byte), end - i) else { return nil }
        return UnsafeRawPointer(hit) - base
    }

    /// Redis' string2ll: optional '-', no '+', no leading zeros, no spaces, fits in Int64.
    public static func parseInteger(_ buf: UnsafeRawBufferPointer, from: Int, to end: Int) -> Int? {
        let len = end - from
        if len <= 0 || len > 20 { return nil }
        // Every request has one count and a length per argument, nearly all short and positive:
        // up to 18 digits cannot overflow, so those skip the overflow checks below (~30 user
        // instructions per call under callgrind; engine.md, stop 26).
        let lead = buf[from]
        if len <= 18 && lead >= 49 && lead <= 57 {
            var v = Int(lead &- 48)
            var p = from + 1
            while p < end {
                let d = buf[p] &- 48
                guard d < 10 else { return nil }
                v = v &* 10 &+ Int(d)
                p += 1
            }
            return v
        }
        var p = from
        var negative = false
        if buf[p] == UInt8(ascii: "-") {
            negative = true; p += 1
            if p == end { return nil }
        }
        let first = buf[p]
        if first == UInt8(ascii: "0") { return (p + 1 == end && !negative) ? 0 : nil }
        guard first >= 49 && first <= 57 else { return nil }
        var v: UInt64 = 0
        while p < end {
            let c = buf[p]
            guard c >= 48 && c <= 57 else { return nil }
            let (m, o1) = v.multipliedReportingOverflow(by: 10)
            let (a, o2) = m.addingReportingOverflow(UInt64(c - 48))
            if o1 || o2 { return nil }
            v = a; p += 1
        }
        if negative {
            if v > UInt64(Int64.max) + 1 { return nil }
            return v == UInt64(Int64.max) + 1 ? Int.min : -Int(v)
        }
        if v > UInt64(Int64.max) { return nil }
        return Int(v)
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
