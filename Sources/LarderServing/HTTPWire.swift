import NIOCore
#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif

/// HTTP/1.1 request framing and response heads for the feature port, on NIO's ByteBuffer.
/// Hand-written in place of NIOHTTP1 (measured reason: at 1 entity x 10 features, NIOHTTP1's
/// llhttp parse, header dictionaries, per-part boxing and response encoder were ~90,000 of the
/// 182,800 instructions of a whole /get-online-features request under callgrind). Only what the
/// feature API needs: the request line, four headers (Content-Length, Transfer-Encoding,
/// Connection, Expect), Content-Length and chunked bodies. Pure functions over bytes, no I/O.
enum HTTPWire {
    /// A parsed request head. `method` and `target` are the API's static strings for the known
    /// ones (no allocation), fresh strings otherwise.
    struct Head {
        var method: String
        var target: String
        var minorVersion: Int        // HTTP/1.x
        var keepAlive: Bool
        var contentLength: Int?      // nil: no Content-Length header
        var chunked: Bool
        var expectContinue: Bool
    }

    /// A request that cannot be served: answered with `status` and `{"detail": message}`, then
    /// the connection closes (its framing can no longer be trusted).
    struct Failure: Error {
        let status: Int
        let message: String
    }

    enum HeadResult {
        case head(Head, length: Int)   // the head's bytes, blank line included
        case needMore
    }

    /// Parses the head at the start of `bytes`. Lines end in CRLF (a bare LF is accepted, as
    /// llhttp does). Throws a Failure for a malformed head; `.needMore` while the blank line has
    /// not arrived, or a 431 Failure once `maxHeaderBytes` have arrived without it.
    static func parseHead(_ bytes: UnsafeRawBufferPointer, maxHeaderBytes: Int) throws -> HeadResult {
        let n = bytes.count
        var i = 0
        // RFC 9112 2.2: a server SHOULD ignore at least one empty line before the request line.
        while i < n, bytes[i] == 13 || bytes[i] == 10 { i += 1 }
        guard let lineEnd = findLF(bytes, from: i) else { return try incomplete(n, maxHeaderBytes) }
        let line = trimCR(bytes, i, lineEnd)
        // Request line: method SP target SP HTTP/1.x
        guard let sp1 = index(of: 32, in: bytes, line.lowerBound, line.upperBound), sp1 > line.lowerBound,
              let sp2 = index(of: 32, in: bytes, sp1 + 1, line.upperBound), sp2 > sp1 + 1 else {
            throw Failure(status: 400, message: "malformed request line (expected METHOD TARGET HTTP/1.1)")
        }
        for k in line.lowerBound..<sp1 where !isToken(bytes[k]) {
            throw Failure(status: 400, message: "malformed request line: bad character in the method")
        }
        for k in (sp1 + 1)..<sp2 where bytes[k] <= 32 || bytes[k] == 127 {
            throw Failure(status: 400, message: "malformed request line: bad character in the target")
        }
        let version = UnsafeRawBufferPointer(rebasing: bytes[(sp2 + 1)..<line.upperBound])
        guard version.count == 8, memcmp(version.baseAddress!, "HTTP/", 5) == 0, version[6] == UInt8(ascii: "."),
              version[5] >= 48, version[5] <= 57, version[7] >= 48, version[7] <= 57 else {
            throw Failure(status: 400, message: "malformed request line: no HTTP version")
        }
        guard version[5] == UInt8(ascii: "1") else {
            throw Failure(status: 505, message: "HTTP version \(Character(Unicode.Scalar(version[5]))).\(Character(Unicode.Scalar(version[7]))) is not supported (HTTP/1.0 and 1.1 are)")
        }
        let minor = Int(version[7] - 48)
        var head = Head(method: method(bytes, line.lowerBound, sp1), target: target(bytes, sp1 + 1, sp2),
                        minorVersion: minor, keepAlive: minor >= 1, contentLength: nil, chunked: false, expectContinue: false)
        var sawClose = false, sawKeepAlive = false
        i = lineEnd + 1
        while true {
            guard let end = findLF(bytes, from: i) else { return try incomplete(n, maxHeaderBytes) }
            let field = trimCR(bytes, i, end)
            i = end + 1
            if field.isEmpty { break }
            if i > maxHeaderBytes { throw tooLarge(maxHeaderBytes) }
            // The name's token characters up to the colon, in one pass.
            var colon = field.lowerBound
            while colon < field.upperBound, isToken(bytes[colon]) { colon += 1 }
            guard colon < field.upperBound, colon > field.lowerBound || bytes[colon] != 58 else {
                throw Failure(status: 400, message: "malformed header line (no name and colon)")
            }
            guard bytes[colon] == 58 else {
                // A character that is not a token's before the colon, such as whitespace, which
                // RFC 9112 5.1 says to reject; no colon at all is the other message.
                if index(of: 58, in: bytes, colon, field.upperBound) == nil {
                    throw Failure(status: 400, message: "malformed header line (no name and colon)")
                }
                throw Failure(status: 400, message: "malformed header name")
            }
            var vs = colon + 1, ve = field.upperBound
            while vs < ve, bytes[vs] == 32 || bytes[vs] == 9 { vs += 1 }
            while ve > vs, bytes[ve - 1] == 32 || bytes[ve - 1] == 9 { ve -= 1 }
            let name = UnsafeRawBufferPointer(rebasing: bytes[field.lowerBound..<colon])
            let value = UnsafeRawBufferPointer(rebasing: bytes[vs..<ve])
            if equalsLower(name, "content-length") {
                guard !value.isEmpty, value.count <= 18, value.allSatisfy({ $0 >= 48 && $0 <= 57 }) else {
                    throw Failure(status: 400, message: "bad Content-Length")
                }
                let len = value.reduce(0) { $0 * 10 + Int($1 - 48) }
                if let old = head.contentLength, old != len { throw Failure(status: 400, message: "conflicting Content-Length headers") }
                head.contentLength = len
            } else if equalsLower(name, "transfer-encoding") {
                guard equalsLower(value, "chunked") else {
                    throw Failure(status: 501, message: "Transfer-Encoding other than chunked is not supported")
                }
                head.chunked = true
            } else if equalsLower(name, "connection") {
                forEachToken(value) { t in
                    if equalsLower(t, "close") { sawClose = true } else if equalsLower(t, "keep-alive") { sawKeepAlive = true }
                }
            } else if equalsLower(name, "expect") {
                guard equalsLower(value, "100-continue") else { throw Failure(status: 417, message: "unsupported Expect header") }
                head.expectContinue = minor >= 1
            }
        }
        // RFC 9112 6.1: a request with both is a smuggling attempt or a broken proxy.
        if head.chunked && head.contentLength != nil {
            throw Failure(status: 400, message: "both Content-Length and Transfer-Encoding")
        }
        if sawClose { head.keepAlive = false } else if sawKeepAlive { head.keepAlive = true }
        return .head(head, length: i)
    }

    enum ChunkedResult {
        case body(length: Int, consumed: Int)   // decoded bytes, encoded bytes (trailers included)
        case needMore
    }

    /// Scans a chunked body at the start of `bytes` without copying: the decoded length and the
    /// encoded length once the last chunk and the trailers have arrived. Throws a 413 Failure as
    /// soon as the decoded length passes `maxBodyBytes`.
    static func scanChunked(_ bytes: UnsafeRawBufferPointer, maxBodyBytes: Int) throws -> ChunkedResult {
        var i = 0, total = 0
        while true {
            guard let end = findLF(bytes, from: i) else {
                if bytes.count - i > 1024 { throw Failure(status: 400, message: "malformed chunk size line") }
                return .needMore
            }
            let line = trimCR(bytes, i, end)
            var size = 0, k = line.lowerBound, digits = 0
            while k < line.upperBound, let d = hexDigit(bytes[k]) {
                size = size * 16 + d; digits += 1; k += 1
                if digits > 15 { throw Failure(status: 400, message: "chunk size too long") }
            }
            // Chunk extensions (`;name=value`) are allowed and ignored.
            guard digits > 0, k == line.upperBound || bytes[k] == 59 || bytes[k] == 32 || bytes[k] == 9 else {
                throw Failure(status: 400, message: "malformed chunk size line")
            }
            i = end + 1
            if size == 0 {
                // Trailer fields up to a blank line; ignored.
                while true {
                    guard let e = findLF(bytes, from: i) else { return .needMore }
                    let t = trimCR(bytes, i, e)
                    i = e + 1
                    if t.isEmpty { return .body(length: total, consumed: i) }
                }
            }
            total += size
            if total > maxBodyBytes { throw Failure(status: 413, message: bodyLimitMessage(maxBodyBytes)) }
            guard bytes.count >= i + size + 1 else { return .needMore }
            i += size
            if bytes[i] == 13 {
                guard bytes.count >= i + 2 else { return .needMore }
                i += 1
            }
            guard bytes[i] == 10 else { throw Failure(status: 400, message: "chunk data longer than its size") }
            i += 1
        }
    }

    /// Copies the data of a chunked body that scanChunked accepted.
    static func decodeChunked(_ bytes: UnsafeRawBufferPointer, length: Int) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(length)
        var i = 0
        while true {
            let end = findLF(bytes, from: i)!
            var size = 0, k = i
            while let d = hexDigit(bytes[k]) { size = size * 16 + d; k += 1 }
            i = end + 1
            if size == 0 { return out }
            out.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[i..<(i + size)]))
            i += size
            i += bytes[i] == 13 ? 2 : 1
        }
    }

    static func bodyLimitMessage(_ limit: Int) -> String {
        "request body larger than the limit of \(limit) bytes (--http-max-body)"
    }

    /// Appends a response head: status line, content-type, content-length, and connection when
    /// it differs from the version's default. The header names and order are NIOHTTP1's as it was
    /// configured before.
    static func writeHead(status: Int, contentType: String, contentLength: Int, minorVersion: Int, keepAlive: Bool,
                          into out: inout ByteBuffer) {
        if status == 200 && contentType == "application/json" {
            writeJSONOKHead(contentLength: contentLength, minorVersion: minorVersion, keepAlive: keepAlive, into: &out)
            return
        }
        out.writeStaticString(minorVersion == 0 ? "HTTP/1.0 " : "HTTP/1.1 ")
        switch status {
        case 200: out.writeStaticString("200 OK")
        case 422: out.writeStaticString("422 Unprocessable Entity")
        case 404: out.writeStaticString("404 Not Found")
        default:
            writeDecimal(status, into: &out)
            out.writeInteger(UInt8(32))
            out.writeStaticString(reason(status))
        }
        if contentType == "application/json" {
            out.writeStaticString("\r\ncontent-type: application/json\r\ncontent-length: ")
        } else {
            out.writeStaticString("\r\ncontent-type: ")
            out.writeString(contentType)
            out.writeStaticString("\r\ncontent-length: ")
        }
        writeDecimal(contentLength, into: &out)
        if !keepAlive {
            out.writeStaticString("\r\nconnection: close\r\n\r\n")
        } else if minorVersion == 0 {
            out.writeStaticString("\r\nconnection: keep-alive\r\n\r\n")
        } else {
            out.writeStaticString("\r\n\r\n")
        }
    }

    /// writeHead's bytes for a 200 JSON answer, put together on the stack and written at once
    /// (measured reason: five ByteBuffer writes were ~1,400 of a 1 x 10 request's 53,000
    /// instructions under callgrind).
    static func writeJSONOKHead(contentLength: Int, minorVersion: Int, keepAlive: Bool, into out: inout ByteBuffer) {
        var buffer = (UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0),
                      UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0))   // 128 bytes: 112 at most
        withUnsafeMutableBytes(of: &buffer) { b in
            var at = 0
            func put(_ s: StaticString) {
                (b.baseAddress! + at).copyMemory(from: s.utf8Start, byteCount: s.utf8CodeUnitCount)
                at += s.utf8CodeUnitCount
            }
            put(minorVersion == 0 ? "HTTP/1.0 200 OK\r\ncontent-type: application/json\r\ncontent-length: "
                                  : "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: ")
            var digits = 0, v = max(0, contentLength)
            repeat { digits += 1; v /= 10 } while v > 0
            v = max(0, contentLength)
            for k in stride(from: at + digits - 1, through: at, by: -1) { b[k] = UInt8(48 + v % 10); v /= 10 }
            at += digits
            if !keepAlive { put("\r\nconnection: close\r\n\r\n") } else if minorVersion == 0 { put("\r\nconnection: keep-alive\r\n\r\n") } else { put("\r\n\r\n") }
            out.writeBytes(UnsafeRawBufferPointer(rebasing: b[..<at]))
        }
    }

    static func reason(_ status: Int) -> StaticString {
        switch status {
        case 200: return "OK"
        case 202: return "Accepted"
        case 400: return "Bad Request"
        case 404: return "Not Found"
        case 405: return "Method Not Allowed"
        case 409: return "Conflict"
        case 413: return "Payload Too Large"
        case 417: return "Expectation Failed"
        case 422: return "Unprocessable Entity"
        case 431: return "Request Header Fields Too Large"
        case 500: return "Internal Server Error"
        case 501: return "Not Implemented"
        case 503: return "Service Unavailable"
        case 505: return "HTTP Version Not Supported"
        default: return "Status"
        }
    }

    static func writeDecimal(_ value: Int, into out: inout ByteBuffer) {
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)   // 24 bytes of stack, no allocation
        var v = max(0, value), n = 0
        withUnsafeMutableBytes(of: &digits) { d in
            repeat { d[23 - n] = UInt8(48 + v % 10); v /= 10; n += 1 } while v > 0
            out.writeBytes(UnsafeRawBufferPointer(rebasing: d[(24 - n)...]))
        }
    }

    // MARK: bytes

    private static func incomplete(_ n: Int, _ limit: Int) throws -> HeadResult {
        if n > limit { throw tooLarge(limit) }
        return .needMore
    }

    private static func tooLarge(_ limit: Int) -> Failure {
        Failure(status: 431, message: "request head larger than the limit of \(limit) bytes")
    }

    static func findLF(_ b: UnsafeRawBufferPointer, from: Int) -> Int? {
        guard from < b.count, let base = b.baseAddress else { return nil }
        guard let p = memchr(base + from, 10, b.count - from) else { return nil }
        return base.distance(to: UnsafeRawPointer(p))
    }

    private static func trimCR(_ b: UnsafeRawBufferPointer, _ start: Int, _ lf: Int) -> Range<Int> {
        lf > start && b[lf - 1] == 13 ? start..<(lf - 1) : start..<lf
    }

    private static func index(of byte: UInt8, in b: UnsafeRawBufferPointer, _ from: Int, _ to: Int) -> Int? {
        var k = from
        while k < to { if b[k] == byte { return k }; k += 1 }
        return nil
    }

    private static func hexDigit(_ c: UInt8) -> Int? {
        switch c {
        case 48...57: return Int(c - 48)
        case 97...102: return Int(c - 87)
        case 65...70: return Int(c - 55)
        default: return nil
        }
    }

    /// RFC 9110 5.6.2 token characters.
    /// A bit per ASCII character (measured reason: with the names scanned up to the colon in one
    /// pass and the version compared by memcmp, parseHead went from 2,690 to 2,100 instructions
    /// per 1 x 10 request under callgrind).
    @inline(__always) private static func isToken(_ c: UInt8) -> Bool {
        // 0-63: ! # $ % & ' * + - . and the digits; 64-127: letters ^ _ ` | ~
        let low: UInt64 = 0x03FF_6CFA_0000_0000, high: UInt64 = 0x57FF_FFFF_C7FF_FFFE
        return c < 64 ? (low >> UInt64(c)) & 1 != 0 : c < 128 && (high >> UInt64(c - 64)) & 1 != 0
    }

    /// ASCII case-insensitive equality with a lower-case literal.
    static func equalsLower(_ b: UnsafeRawBufferPointer, _ lower: StaticString) -> Bool {
        guard b.count == lower.utf8CodeUnitCount else { return false }
        let l = lower.utf8Start
        // OR 0x20 lower-cases a letter and keeps '-' and digits; the header names and values
        // compared here have nothing else.
        for k in 0..<b.count where b[k] | 0x20 != l[k] { return false }
        return true
    }

    private static func forEachToken(_ b: UnsafeRawBufferPointer, _ body: (UnsafeRawBufferPointer) -> Void) {
        var s = 0
        for k in 0...b.count where k == b.count || b[k] == 44 {
            var ts = s, te = k
            while ts < te, b[ts] == 32 || b[ts] == 9 { ts += 1 }
            while te > ts, b[te - 1] == 32 || b[te - 1] == 9 { te -= 1 }
            if te > ts { body(UnsafeRawBufferPointer(rebasing: b[ts..<te])) }
            s = k + 1
        }
    }

    /// The API's routes and methods as static strings: a known request allocates no String.
    /// Each with its bytes, compared with memcmp (measured reason: the UTF8View's elementsEqual
    /// was ~1,300 of a 1 x 10 request's 60,000 instructions under callgrind).
    private static let knownTargets: [(String, [UInt8])] = HTTPFeatureAPI.endpoints.map { ($0, Array($0.utf8)) }

    private static func method(_ b: UnsafeRawBufferPointer, _ s: Int, _ e: Int) -> String {
        let m = UnsafeRawBufferPointer(rebasing: b[s..<e])
        if m.count == 4 && memcmp(m.baseAddress!, "POST", 4) == 0 { return "POST" }
        if m.count == 3 && memcmp(m.baseAddress!, "GET", 3) == 0 { return "GET" }
        return String(decoding: m, as: UTF8.self)
    }

    private static func target(_ b: UnsafeRawBufferPointer, _ s: Int, _ e: Int) -> String {
        let t = UnsafeRawBufferPointer(rebasing: b[s..<e])
        for (k, u) in knownTargets where u.count == t.count && memcmp(u, t.baseAddress!, t.count) == 0 { return k }
        return String(decoding: t, as: UTF8.self)
    }
}
