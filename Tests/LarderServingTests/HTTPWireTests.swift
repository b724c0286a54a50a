import NIOCore
import XCTest
@testable import LarderServing

/// HTTPWire: the request head and chunked-body framing of the feature port, byte by byte.
/// (Tests/conformance/serving/test_http_wire.py checks the same over a socket.)
final class HTTPWireTests: XCTestCase {
    func head(_ text: String, limit: Int = 1024) throws -> (HTTPWire.Head, Int)? {
        let bytes = Array(text.utf8)
        let r = try bytes.withUnsafeBytes { try HTTPWire.parseHead($0, maxHeaderBytes: limit) }
        if case .head(let h, let n) = r { return (h, n) }
        return nil
    }

    func failure(_ text: String, limit: Int = 1024) -> Int? {
        do { _ = try head(text, limit: limit); return nil } catch let f as HTTPWire.Failure { return f.status } catch { return -1 }
    }

    func testHeadFieldsKeepAliveAndLength() throws {
        let text = "POST /get-online-features HTTP/1.1\r\nHost: x\r\ncontent-LENGTH:  12 \r\nExpect: 100-continue\r\n\r\n{\"a\": 1}"
        let (h, n) = try XCTUnwrap(head(text))
        XCTAssertEqual(h.method, "POST")
        XCTAssertEqual(h.target, "/get-online-features")
        XCTAssertEqual(h.contentLength, 12)
        XCTAssertTrue(h.keepAlive && h.expectContinue && !h.chunked)
        XCTAssertEqual(n, text.utf8.count - 8, "the head ends after the blank line")
        // HTTP/1.0 closes unless asked; 1.1 keeps alive unless told; a bare LF is accepted.
        XCTAssertFalse(try XCTUnwrap(head("GET /health HTTP/1.0\r\n\r\n")).0.keepAlive)
        XCTAssertTrue(try XCTUnwrap(head("GET /health HTTP/1.0\nConnection: Keep-Alive\n\n")).0.keepAlive)
        XCTAssertFalse(try XCTUnwrap(head("GET /health HTTP/1.1\r\nConnection: upgrade, close\r\n\r\n")).0.keepAlive)
        XCTAssertEqual(try XCTUnwrap(head("GET /metrics?x=1 HTTP/1.1\r\n\r\n")).0.target, "/metrics?x=1")
    }

    func testIncompleteHeadWaitsThenPastTheLimitIs431() throws {
        XCTAssertNil(try head("GET /health HTTP/1.1\r\nHost: x\r\n"))
        XCTAssertEqual(failure("GET /health HTTP/1.1\r\nX: " + String(repeating: "a", count: 2000), limit: 1024), 431)
        XCTAssertEqual(failure("GET /health HTTP/1.1\r\nX: " + String(repeating: "a", count: 2000) + "\r\n\r\n", limit: 1024), 431)
    }

    func testMalformedHeads() {
        for bad in ["GET\r\n\r\n", "GET  / HTTP/1.1\r\n\r\n", "G(T / HTTP/1.1\r\n\r\n", "GET / HTTP/1\r\n\r\n",
                    "GET / HTTP/1.1\r\nno colon\r\n\r\n", "GET / HTTP/1.1\r\nName : v\r\n\r\n",
                    "POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", "POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
                    "POST / HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n"] {
            XCTAssertEqual(failure(bad), 400, bad)
        }
        XCTAssertEqual(failure("GET / HTTP/2.0\r\n\r\n"), 505)
        XCTAssertEqual(failure("POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n"), 501)
        XCTAssertEqual(failure("POST / HTTP/1.1\r\nExpect: something\r\n\r\n"), 417)
    }

    func scan(_ text: String, limit: Int = 100) throws -> (length: Int, consumed: Int, body: String)? {
        let bytes = Array(text.utf8)
        return try bytes.withUnsafeBytes { b in
            guard case .body(let length, let consumed) = try HTTPWire.scanChunked(b, maxBodyBytes: limit) else { return nil }
            return (length, consumed, String(decoding: HTTPWire.decodeChunked(b, length: length), as: UTF8.self))
        }
    }

    func testChunkedBodies() throws {
        let body = "5;ext=1\r\nhello\r\nA\r\n, world!!!\r\n0\r\nTrailer: x\r\n\r\nNEXT"
        let r = try XCTUnwrap(scan(body))
        XCTAssertEqual(r.body, "hello, world!!!")
        XCTAssertEqual(r.length, 15)
        XCTAssertEqual(r.consumed, body.utf8.count - 4, "up to the next request")
        // Every prefix short of the end waits for more (prefixes of bytes: "\r\n" is one Character).
        for n in 0..<(body.utf8.count - 4) {
            XCTAssertNil(try scan(String(decoding: Array(body.utf8.prefix(n)), as: UTF8.self)), "prefix \(n)")
        }
        XCTAssertThrowsError(try scan("zz\r\n")) { XCTAssertEqual(($0 as? HTTPWire.Failure)?.status, 400) }
        XCTAssertThrowsError(try scan("3\r\nabcd\r\n0\r\n\r\n")) { XCTAssertEqual(($0 as? HTTPWire.Failure)?.status, 400) }
        XCTAssertThrowsError(try scan("65\r\n", limit: 100)) { XCTAssertEqual(($0 as? HTTPWire.Failure)?.status, 413) }
    }

    func testResponseHead() {
        var out = ByteBufferAllocator().buffer(capacity: 64)
        HTTPWire.writeHead(status: 422, contentType: "application/json", contentLength: 1234, minorVersion: 1, keepAlive: true, into: &out)
        XCTAssertEqual(out.readString(length: out.readableBytes),
                       "HTTP/1.1 422 Unprocessable Entity\r\ncontent-type: application/json\r\ncontent-length: 1234\r\n\r\n")
        HTTPWire.writeHead(status: 200, contentType: "text/plain", contentLength: 0, minorVersion: 0, keepAlive: true, into: &out)
        XCTAssertEqual(out.readString(length: out.readableBytes),
                       "HTTP/1.0 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 0\r\nconnection: keep-alive\r\n\r\n")
        HTTPWire.writeHead(status: 413, contentType: "application/json", contentLength: 7, minorVersion: 1, keepAlive: false, into: &out)
        XCTAssertEqual(out.readString(length: out.readableBytes),
                       "HTTP/1.1 413 Payload Too Large\r\ncontent-type: application/json\r\ncontent-length: 7\r\nconnection: close\r\n\r\n")
    }

    /// The feature read's answer head, put together on the stack, is the general one's text.
    func testJSONOKHeadForEveryVersionAndLength() {
        var out = ByteBufferAllocator().buffer(capacity: 64)
        for (minor, keepAlive, tail) in [(1, true, ""), (1, false, "\r\nconnection: close"), (0, true, "\r\nconnection: keep-alive"),
                                         (0, false, "\r\nconnection: close")] {
            for length in [0, 7, 10, 1234, 99_999_999, Int.max] {
                HTTPWire.writeHead(status: 200, contentType: "application/json", contentLength: length, minorVersion: minor,
                                   keepAlive: keepAlive, into: &out)
                XCTAssertEqual(out.readString(length: out.readableBytes),
                               "HTTP/1.\(minor) 200 OK\r\ncontent-type: application/json\r\ncontent-length: \(length)\(tail)\r\n\r\n")
            }
        }
    }

    func testHeaderNamesAreTokensUpToTheColon() throws {
        let (h, _) = try XCTUnwrap(head("GET /health HTTP/1.1\r\nX-a!#$%&'*+-.^_`|~9: v\r\nConnection: close\r\n\r\n"))
        XCTAssertFalse(h.keepAlive)
        for (bad, message) in [("GET / HTTP/1.1\r\nno colon\r\n\r\n", "malformed header line (no name and colon)"),
                               ("GET / HTTP/1.1\r\n: v\r\n\r\n", "malformed header line (no name and colon)"),
                               ("GET / HTTP/1.1\r\nName : v\r\n\r\n", "malformed header name"),
                               ("GET / HTTP/1.1\r\nNa(me: v\r\n\r\n", "malformed header name"),
                               ("GET / HTTP/1.1\r\nNamé: v\r\n\r\n", "malformed header name")] {
            XCTAssertThrowsError(try head(bad)) { XCTAssertEqual(($0 as? HTTPWire.Failure)?.message, message, bad) }
        }
    }
}
