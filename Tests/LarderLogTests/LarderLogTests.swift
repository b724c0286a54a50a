import Foundation
import Logging
import XCTest
@testable import LarderBuildInfo
@testable import LarderLog

final class LarderLogTests: XCTestCase {
    /// A logger whose lines land in `lines` (no process-wide bootstrap needed).
    private func capture(_ format: LarderLog.Format, level: Logger.Level = .info) -> (Logger, () -> [String]) {
        let box = LockedValue<[String]>([])
        let sink = LogSink { bytes in box.withLockedValue { $0.append(String(decoding: bytes, as: UTF8.self)) } }
        let logger = Logger(label: "larder.test") { LarderLogHandler(label: $0, format: format, level: level, sink: sink) }
        return (logger, { box.withLockedValue { $0 } })
    }

    private func parse(_ line: String) throws -> [String: Any] {
        XCTAssertTrue(line.hasSuffix("\n"), "a JSON log line ends with a newline")
        XCTAssertEqual(line.filter { $0 == "\n" }.count, 1, "exactly one line per event")
        return try XCTUnwrap(JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
    }

    func testJSONLineHasTheCollectorFieldsAndTypedMetadata() throws {
        let (log, lines) = capture(.json)
        log.warning("closing client \"x\"\nnext", metadata: ["port": .stringConvertible(6379), "bind": "0.0.0.0",
                                                          "pin": .stringConvertible(true), "time": "clash"])
        let object = try parse(try XCTUnwrap(lines().first))
        XCTAssertEqual(object["level"] as? String, "warning")
        XCTAssertEqual(object["logger"] as? String, "larder.test")
        XCTAssertEqual(object["message"] as? String, "closing client \"x\"\nnext")
        XCTAssertEqual(object["port"] as? Int, 6379, "numbers stay numbers")
        XCTAssertEqual(object["pin"] as? Bool, true)
        XCTAssertEqual(object["bind"] as? String, "0.0.0.0")
        XCTAssertEqual(object["meta.time"] as? String, "clash", "metadata never overwrites a reserved field")
        XCTAssertEqual(object["pid"] as? Int, Int(getpid()))
        let time = try XCTUnwrap(object["time"] as? String)
        XCTAssertNotNil(ISO8601DateFormatter.withFractionalSeconds.date(from: time), "time \(time) is ISO 8601 UTC")
    }

    func testSecretsAreRedactedInBothFormats() throws {
        for format in LarderLog.Format.allCases {
            let (log, lines) = capture(format)
            log.info("configuration", metadata: ["requirepass": "hunter2-secret", "password": "pw-123",
                                                 "nested": ["tls_key_password": "k-456", "ok": "visible"],
                                                 "auth": "password"])
            let line = try XCTUnwrap(lines().first)
            for secret in ["hunter2-secret", "pw-123", "k-456"] {
                XCTAssertFalse(line.contains(secret), "\(format): \(secret) leaked into \(line)")
            }
            XCTAssertTrue(line.contains("visible"))
            XCTAssertTrue(line.contains("<redacted>"))
            if format == .json { _ = try parse(line) }
        }
    }

    func testTextLineIsOneLineWithLogfmtMetadata() throws {
        let (log, lines) = capture(.text)
        log.notice("ready\nto accept", metadata: ["port": .stringConvertible(7000), "peer": "a b"])
        let line = try XCTUnwrap(lines().first)
        XCTAssertEqual(line.filter { $0 == "\n" }.count, 1)
        XCTAssertTrue(line.contains(" notice larder.test: ready to accept "), line)
        XCTAssertTrue(line.contains(" peer=\"a b\""), line)
        XCTAssertTrue(line.contains(" port=7000"), line)
    }

    func testLevelFilterAndRedisLevelNames() {
        let (log, lines) = capture(.json, level: .warning)
        log.info("dropped")
        log.error("kept")
        XCTAssertEqual(lines().count, 1)
        XCTAssertEqual(LarderLog.level(named: "verbose"), .info)
        XCTAssertEqual(LarderLog.level(named: "WARNING"), .warning)
        XCTAssertEqual(LarderLog.level(named: "debug"), .debug)
        XCTAssertNil(LarderLog.level(named: "loud"))
    }

    func testRateLimitCountsWhatItLeftOut() {
        let limit = LogRateLimit(seconds: 60)
        XCTAssertEqual(limit.allow(), 0)
        XCTAssertNil(limit.allow())
        XCTAssertNil(limit.allow())
        let fast = LogRateLimit(seconds: 0.001)
        XCTAssertEqual(fast.allow(), 0)
        XCTAssertNil(fast.allow())
        usleep(5000)
        XCTAssertEqual(fast.allow(), 1, "the next line reports the one suppressed event")
    }

    func testVersionLineNamesTheBuild() {
        let line = BuildInfo.versionLine
        XCTAssertTrue(line.hasPrefix("larder \(BuildInfo.version) (commit "), line)
        XCTAssertTrue(line.contains("debug") || line.contains("release"), line)
        XCTAssertFalse(BuildInfo.commit.isEmpty)
        // This test binary links the Swift runtime dynamically (swift test never links statically).
        XCTAssertTrue(BuildInfo.swiftRuntimeIsShared)
        XCTAssertTrue(line.contains("shared Swift runtime"), line)
    }
}

extension ISO8601DateFormatter {
    static let withFractionalSeconds: ISO8601DateFormatter = {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return f
    }()
}
