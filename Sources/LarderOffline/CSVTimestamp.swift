// Timestamp parsing straight from field bytes (no String, no Foundation formatter).
//
// ISO 8601 forms accepted (the shapes pandas, Spark, DuckDB and humans write):
//   2024-01-02                        date only (midnight)
//   2024-01-02T03:04:05               `T`, `t` or a space between date and time
//   2024-01-02T03:04                  seconds optional
//   2024-01-02T03:04:05.123456789     1-9 fraction digits (more are truncated), `.` or `,`
//   ...Z  ...+02:00  ...-0530  ...+02  zone; a space may precede it ("... 03:04:05 +00:00")
// Values are Int64 nanoseconds since the Unix epoch, like the shared column model. A value
// without a zone is a wall-clock time; it is stored as if it were UTC (the caller records
// in the column type whether a zone was present).
//
// Epoch integers (only for columns declared as timestamps) are seconds, milliseconds,
// microseconds or nanoseconds: the unit is configured, or else chosen per value by
// magnitude (|v| < 1e11 seconds, < 1e14 milliseconds, < 1e17 microseconds, else
// nanoseconds), which is unambiguous for instants between 1973 and 5138.

/// Unit of integer epoch timestamps in CSV columns declared as timestamps.
public enum CSVEpochUnit: String, Sendable, CaseIterable {
    case seconds, milliseconds, microseconds, nanoseconds

    var nanosecondsPerUnit: Int64 {
        switch self {
        case .seconds: return 1_000_000_000
        case .milliseconds: return 1_000_000
        case .microseconds: return 1_000
        case .nanoseconds: return 1
        }
    }

    /// The unit an integer of this magnitude most plausibly has.
    static func guess(forMagnitudeOf value: Int64) -> CSVEpochUnit {
        let magnitude = value.magnitude
        if magnitude < 100_000_000_000 { return .seconds }
        if magnitude < 100_000_000_000_000 { return .milliseconds }
        if magnitude < 100_000_000_000_000_000 { return .microseconds }
        return .nanoseconds
    }
}

/// Timestamps typed by people (command-line bounds, configs).
public enum TimestampText {
    /// Nanoseconds since the epoch of an ISO 8601 date or date-time (without a zone it is
    /// taken as UTC) or of integer epoch seconds; nil if it is neither.
    public static func nanoseconds(_ text: String) -> Int64? {
        var bytes = Array(text.utf8)
        bytes.append(0)  // never empty, so there is a base address
        return bytes.withUnsafeBufferPointer { buffer -> Int64? in
            guard let p = buffer.baseAddress else { return nil }
            let end = buffer.count - 1
            if let parsed = CSVTimestamp.parseISO8601(p, 0, end) { return parsed.nanoseconds }
            return CSVTimestamp.parseEpoch(p, 0, end, unit: .seconds)
        }
    }
}

enum CSVTimestamp {
    struct Parsed: Equatable {
        /// Nanoseconds since 1970-01-01T00:00:00Z (wall clock taken as UTC when no zone).
        var nanoseconds: Int64
        /// The text carried a zone (`Z` or an offset).
        var hasZone: Bool
    }

    /// Parses an ISO 8601 date or date-time in `p[start ..< end]`; nil if it is not one or
    /// does not fit Int64 nanoseconds (years 1677-2262).
    static func parseISO8601(_ p: UnsafePointer<UInt8>, _ start: Int, _ end: Int) -> Parsed? {
        var i = start
        @inline(__always) func number(_ count: Int) -> Int? {
            guard end - i >= count else { return nil }
            var value = 0
            for k in 0 ..< count {
                let d = Int(p[i + k]) &- 48
                guard d >= 0 && d < 10 else { return nil }
                value = value * 10 + d
            }
            i += count
            return value
        }
        @inline(__always) func expect(_ byte: UInt8) -> Bool {
            guard i < end && p[i] == byte else { return false }
            i += 1
            return true
        }

        guard let year = number(4), expect(UInt8(ascii: "-")),
              let month = number(2), expect(UInt8(ascii: "-")),
              let day = number(2) else { return nil }
        guard month >= 1 && month <= 12 && day >= 1 && day <= daysInMonth(year: year, month: month) else {
            return nil
        }
        let days = daysSinceEpoch(year: year, month: month, day: day)
        var secondOfDay = 0
        var fraction: Int64 = 0
        var offsetSeconds = 0
        var hasZone = false

        if i < end {
            let separator = p[i]
            guard separator == UInt8(ascii: "T") || separator == UInt8(ascii: "t")
                    || separator == UInt8(ascii: " ") else { return nil }
            i += 1
            guard let hour = number(2), expect(UInt8(ascii: ":")), let minute = number(2) else { return nil }
            var second = 0
            if expect(UInt8(ascii: ":")) {
                guard let s = number(2) else { return nil }
                second = s
                if i < end && (p[i] == UInt8(ascii: ".") || p[i] == UInt8(ascii: ",")) {
                    i += 1
                    var digitCount = 0
                    while i < end {
                        let d = Int64(p[i]) &- 48
                        guard d >= 0 && d < 10 else { break }
                        if digitCount < 9 { fraction = fraction * 10 + d }
                        digitCount += 1
                        i += 1
                    }
                    guard digitCount > 0 else { return nil }
                    var scale = digitCount
                    while scale < 9 { fraction *= 10; scale += 1 }
                }
            }
            guard hour <= 23 && minute <= 59 && second <= 59 else { return nil }
            secondOfDay = hour * 3600 + minute * 60 + second

            if i < end && p[i] == UInt8(ascii: " ") { i += 1 }
            if i < end {
                let zone = p[i]
                if zone == UInt8(ascii: "Z") || zone == UInt8(ascii: "z") {
                    i += 1
                    hasZone = true
                } else if zone == UInt8(ascii: "+") || zone == UInt8(ascii: "-") {
                    i += 1
                    guard let offsetHours = number(2) else { return nil }
                    var offsetMinutes = 0
                    if i < end {
                        _ = expect(UInt8(ascii: ":"))
                        guard let m = number(2) else { return nil }
                        offsetMinutes = m
                    }
                    guard offsetHours <= 23 && offsetMinutes <= 59 else { return nil }
                    offsetSeconds = (offsetHours * 3600 + offsetMinutes * 60) * (zone == UInt8(ascii: "-") ? -1 : 1)
                    hasZone = true
                }
            }
            guard i == end else { return nil }
        }

        let seconds = Int64(days) * 86_400 + Int64(secondOfDay - offsetSeconds)
        let (scaled, overflow1) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        let (total, overflow2) = scaled.addingReportingOverflow(fraction)
        guard !overflow1 && !overflow2 else { return nil }
        return Parsed(nanoseconds: total, hasZone: hasZone)
    }

    /// Parses a date-only `YYYY-MM-DD` as days since 1970-01-01.
    static func parseDate(_ p: UnsafePointer<UInt8>, _ start: Int, _ end: Int) -> Int32? {
        guard end - start == 10, let parsed = parseISO8601(p, start, end) else { return nil }
        return Int32(exactly: parsed.nanoseconds / 86_400_000_000_000)
    }

    /// Parses an integer epoch value in `unit` (or the unit guessed from its magnitude).
    static func parseEpoch(_ p: UnsafePointer<UInt8>, _ start: Int, _ end: Int, unit: CSVEpochUnit?) -> Int64? {
        guard let value = CSVScalar.parseInt64(p, start, end) else { return nil }
        let unit = unit ?? CSVEpochUnit.guess(forMagnitudeOf: value)
        let (nanoseconds, overflow) = value.multipliedReportingOverflow(by: unit.nanosecondsPerUnit)
        return overflow ? nil : nanoseconds
    }

    static func isLeapYear(_ year: Int) -> Bool {
        (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
    }

    static func daysInMonth(year: Int, month: Int) -> Int {
        switch month {
        case 2: return isLeapYear(year) ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    /// Days from 1970-01-01 to a proleptic Gregorian date (H. Hinnant's days_from_civil).
    static func daysSinceEpoch(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let monthFromMarch = (month + 9) % 12
        let dayOfYear = (153 * monthFromMarch + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }
}
