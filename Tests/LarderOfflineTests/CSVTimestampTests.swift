import XCTest
import LarderParquet
@testable import LarderOffline

/// Timestamp forms read from CSV, all to Int64 nanoseconds since the epoch.
final class CSVTimestampTests: XCTestCase {
    /// 2024-01-02T03:04:05Z
    let base: Int64 = 1_704_164_645 * 1_000_000_000

    func parse(_ text: String) -> CSVTimestamp.Parsed? {
        let bytes = Array(text.utf8)
        return bytes.withUnsafeBufferPointer { buffer in
            guard let p = buffer.baseAddress else { return nil }
            return CSVTimestamp.parseISO8601(p, 0, bytes.count)
        }
    }

    func testISO8601Forms() {
        let hour: Int64 = 3_600_000_000_000
        let cases: [(String, Int64, Bool)] = [
            ("2024-01-02T03:04:05Z", base, true),
            ("2024-01-02t03:04:05z", base, true),
            ("2024-01-02T03:04:05", base, false),
            ("2024-01-02 03:04:05", base, false),
            ("2024-01-02T03:04:05.5Z", base + 500_000_000, true),
            ("2024-01-02T03:04:05,25Z", base + 250_000_000, true),
            ("2024-01-02T03:04:05.123456Z", base + 123_456_000, true),
            ("2024-01-02T03:04:05.123456789Z", base + 123_456_789, true),
            ("2024-01-02T03:04:05.1234567891Z", base + 123_456_789, true),  // beyond ns: truncated
            ("2024-01-02T05:04:05+02:00", base, true),
            ("2024-01-02T05:04:05+0200", base, true),
            ("2024-01-02T05:04:05+02", base, true),
            ("2024-01-01T21:34:05-05:30", base, true),
            ("2024-01-02 03:04:05+00:00", base, true),
            ("2024-01-02 03:04:05.000000+00:00", base, true),
            ("2024-01-02 03:04:05 +00:00", base, true),
            ("2024-01-02T03:04", base - 5_000_000_000, false),
            ("2024-01-02", base - 3 * hour - 4 * 60_000_000_000 - 5_000_000_000, false),
            ("1970-01-01T00:00:00Z", 0, true),
            ("1969-12-31T23:59:59Z", -1_000_000_000, true),
            ("2024-02-29", 1_709_164_800 * 1_000_000_000, false),
            ("2000-03-01T00:00:00Z", 951_868_800 * 1_000_000_000, true),
        ]
        for (text, nanoseconds, hasZone) in cases {
            XCTAssertEqual(parse(text), CSVTimestamp.Parsed(nanoseconds: nanoseconds, hasZone: hasZone), text)
        }
    }

    func testInvalidTimestampsAreRejected() {
        for text in ["2023-02-29", "2024-13-01", "2024-00-10", "2024-01-32", "2024-01-02T24:00:00",
                     "2024-01-02T03:60:00", "2024-01-02T03:04:61", "2024-1-2", "2024-01-02T", "2024-01-02T03",
                     "2024-01-02T03:04:05.", "2024-01-02T03:04:05+2", "2024-01-02T03:04:05+02:0",
                     "2024-01-02T03:04:05Zjunk", "2024-01-02X03:04:05", "20240102", "2500-01-01", "1600-01-01",
                     ""] {
            XCTAssertNil(parse(text), text)
        }
    }

    func testEpochIntegersInDeclaredTimestampColumnsByMagnitude() throws {
        let text = "ts\n1704164645\n1704164645123\n1704164645123456\n1704164645123456789\n-86400\n\n"
        let batches = try readCSV(text, options: CSVOptions(columnTypes: ["ts": .timestamp(isAdjustedToUTC: true)]))
        XCTAssertEqual(values(batches, "ts"), [base, base + 123_000_000, base + 123_456_000, base + 123_456_789,
                                               -86_400_000_000_000].map { AnyHashable($0) })
    }

    func testEpochUnitCanBeDeclared() throws {
        var options = CSVOptions(columnTypes: ["ts": .timestamp(isAdjustedToUTC: true)])
        options.epochUnit = .milliseconds
        let batches = try readCSV("ts\n5\n1704164645000\n", options: options)
        XCTAssertEqual(values(batches, "ts"), [Int64(5_000_000), base].map { AnyHashable($0) })
    }

    func testEpochUnitPerColumn() throws {
        var options = CSVOptions(columnTypes: ["a": .timestamp(isAdjustedToUTC: true), "b": .timestamp(isAdjustedToUTC: true)])
        options.epochUnits = ["a": .microseconds]
        options.epochUnit = .seconds
        let batches = try readCSV("a,b\n-1,-1\n", options: options)
        XCTAssertEqual(values(batches, "a"), [Int64(-1_000)])
        XCTAssertEqual(values(batches, "b"), [Int64(-1_000_000_000)])
    }

    func testDeclaredTimestampColumnMixesISOAndEpochAndNulls() throws {
        // A blank line is skipped, so a lone null in a one-column file is written `""`.
        let text = "ts\n2024-01-02T03:04:05Z\n1704164645\n\"\"\n\"2024-01-02 03:04:05\"\n"
        let batches = try readCSV(text, options: CSVOptions(columnTypes: ["ts": .timestamp(isAdjustedToUTC: true)]))
        XCTAssertEqual(values(batches, "ts"), [base, base, nil, base])
    }

    func testDeclaredDateColumn() throws {
        let batches = try readCSV("d\n1970-01-02\n2024-01-02\n", options: CSVOptions(columnTypes: ["d": .date]))
        XCTAssertEqual(values(batches, "d"), [Int32(1), Int32(19_724)].map { AnyHashable($0) })
    }

    func testTimestampTextForCommandLineBounds() {
        XCTAssertEqual(TimestampText.nanoseconds("2024-01-02T05:04:05+02:00"), base)
        XCTAssertEqual(TimestampText.nanoseconds("2024-01-02 03:04:05"), base)
        XCTAssertEqual(TimestampText.nanoseconds("1704164645"), base)
        XCTAssertEqual(TimestampText.nanoseconds("0"), 0)
        XCTAssertNil(TimestampText.nanoseconds(""))
        XCTAssertNil(TimestampText.nanoseconds("yesterday"))
    }

    func testBadTimestampNamesLineAndColumn() {
        let error = csvError {
            _ = try readCSV("id,ts\n1,2024-01-02\n2,2024-02-30\n",
                            options: CSVOptions(columnTypes: ["ts": .timestamp(isAdjustedToUTC: true)]))
        }
        XCTAssertEqual(error?.description, "data.csv:3: column \"ts\": \"2024-02-30\" is not a timestamp")
    }
}
