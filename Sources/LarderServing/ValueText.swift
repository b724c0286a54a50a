import Foundation
import LarderFeatures

/// Typed values from the plain text a RESP client sends: join keys and pushed feature values
/// are typed by the definitions, not by the client.
public enum ValueText {
    /// `entityValue` from the argument's bytes in place: integers parsed as Int64(String) parses
    /// them (optional sign, digits, no overflow), strings made once. Measured reason: FEATURES.GET
    /// copied each entity argument into an Array and then a String to parse it. Anything the
    /// fast parse does not take (and every error) goes through the text path below.
    public static func entityValue(bytes b: UnsafeRawBufferPointer, type: FeastValueType, joinKey: String) throws -> FeastValue {
        switch type {
        case .string: return .string(String(decoding: b, as: UTF8.self))
        case .int64, .unixTimestamp:
            if let v = int64(b) { return type == .int64 ? .int64(v) : .unixTimestamp(v) }
        default: break
        }
        return try entityValue(Array(b), type: type, joinKey: joinKey)
    }

    static func int64(_ b: UnsafeRawBufferPointer) -> Int64? {
        guard !b.isEmpty, b.count <= 20 else { return nil }
        var at = 0
        let negative = b[0] == UInt8(ascii: "-")
        if negative || b[0] == UInt8(ascii: "+") { at = 1 }
        guard at < b.count else { return nil }
        var m: UInt64 = 0
        while at < b.count {
            let d = b[at] &- 48
            guard d < 10 else { return nil }
            let (x, o1) = m.multipliedReportingOverflow(by: 10)
            let (y, o2) = x.addingReportingOverflow(UInt64(d))
            guard !o1, !o2 else { return nil }
            m = y; at += 1
        }
        if negative { return m <= UInt64(Int64.max) + 1 ? Int64(truncatingIfNeeded: 0 &- m) : nil }
        return m <= UInt64(Int64.max) ? Int64(m) : nil
    }

    /// A join key value: INT64/INT32/UNIX_TIMESTAMP as decimal text, STRING as is, BYTES raw.
    public static func entityValue(_ text: [UInt8], type: FeastValueType, joinKey: String) throws -> FeastValue {
        switch type {
        case .string: return .string(String(decoding: text, as: UTF8.self))
        case .bytes: return .bytes(text)
        case .int64, .unixTimestamp, .int32:
            guard let v = Int64(String(decoding: text, as: UTF8.self)) else {
                throw ServingError(.badEntity, "join key \(joinKey) is \(type.protoName): '\(String(decoding: text, as: UTF8.self))' is not an integer")
            }
            if type == .int32 {
                guard let v32 = Int32(exactly: v) else {
                    throw ServingError(.badEntity, "join key \(joinKey) is INT32: \(v) is out of range")
                }
                return .int32(v32)
            }
            return type == .int64 ? .int64(v) : .unixTimestamp(v)
        default:
            throw ServingError(.badEntity, "join key \(joinKey) has type \(type.protoName), which cannot be an entity key")
        }
    }

    /// A feature value for a column of `type`: scalars as text (booleans true/false/1/0),
    /// arrays as a JSON array. Empty text is null for every type but String and Bytes.
    public static func featureValue(_ text: [UInt8], type: FeastType, name: String) throws -> FeastValue {
        let s = String(decoding: text, as: UTF8.self)
        switch type {
        case .scalar(let scalar):
            if s.isEmpty && scalar != .string && scalar != .bytes { return .null }
            if let v = scalarValue(s, scalar) { return v }
            throw ServingError(.badValue, "feature \(name) is \(type.name): '\(s)' is not a valid value")
        case .array(let scalar):
            if s.isEmpty { return .null }
            guard case .array(let items)? = try? JSONValue.parse(text) else {
                throw ServingError(.badValue, "feature \(name) is \(type.name): '\(s)' is not a JSON array")
            }
            return try JSONFeastValue.list(items, scalar, name: name)
        }
    }

    static func scalarValue(_ s: String, _ scalar: FeastScalarType) -> FeastValue? {
        switch scalar {
        case .string: return .string(s)
        case .bytes: return .bytes(Array(s.utf8))
        case .int64: return Int64(s).map { .int64($0) }
        case .int32: return Int32(s).map { .int32($0) }
        case .unixTimestamp: return Int64(s).map { .unixTimestamp($0) }
        case .float64: return Double(s).map { .double($0) }
        case .float32: return Float(s).map { .float($0) }
        case .bool:
            switch s.lowercased() {
            case "true", "1": return .bool(true)
            case "false", "0": return .bool(false)
            default: return nil
            }
        }
    }

    /// An event time: epoch seconds (with a fraction) or RFC 3339 (`2025-01-04T21:00:00Z`,
    /// fractional seconds and offsets allowed).
    public static func timestamp(_ s: String) -> ProtoTimestamp? {
        if let d = Decimal(string: s), s.first.map({ $0.isNumber || $0 == "-" }) == true, !s.contains("T") {
            let nanos = NSDecimalNumber(decimal: d * 1_000_000_000).int64Value
            return ProtoTimestamp(epochNanoseconds: nanos)
        }
        return RFC3339.parse(s)
    }
}

/// RFC 3339 timestamps as Feast's feature server writes them.
public enum RFC3339 {
    /// Feast's `_timestamp_to_str`: no fraction when nanos is 0, then 3, 6 or 9 digits.
    public static func format(_ ts: ProtoTimestamp) -> String {
        var out: [UInt8] = []
        append(ts, to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// `format` written into `out` digit by digit: String(format:) (Foundation's printf, several
    /// allocations) ran once per served value. With the integers below: /get-online-features
    /// 14.5M -> 2.5M instructions per 50-entity request under callgrind (bench/results/serving.md).
    public static func append(_ ts: ProtoTimestamp, to out: inout [UInt8]) {
        var t = time_t(ts.seconds)
        var tm = tm()
        gmtime_r(&t, &tm)
        func digits(_ v: Int, _ width: Int) {
            var d = 1
            for _ in 1..<width { d *= 10 }
            var v = v
            // Years past 9999 keep all their digits, as %04d does.
            while v / d >= 10 { d *= 10 }
            while d > 0 { out.append(UInt8(48 + (v / d) % 10)); v %= d; d /= 10 }
        }
        let year = Int(tm.tm_year) + 1900
        // %04d counts the sign in the width
        if year < 0 { out.append(45); digits(-year, 3) } else { digits(year, 4) }
        out.append(45)
        digits(Int(tm.tm_mon) + 1, 2); out.append(45)
        digits(Int(tm.tm_mday), 2); out.append(84)
        digits(Int(tm.tm_hour), 2); out.append(58)
        digits(Int(tm.tm_min), 2); out.append(58)
        digits(Int(tm.tm_sec), 2)
        let n = Int(ts.nanos)
        if n != 0 {
            out.append(46)
            if n % 1_000_000 == 0 { digits(n / 1_000_000, 3) } else if n % 1_000 == 0 { digits(n / 1_000, 6) } else { digits(n, 9) }
        }
        out.append(90)
    }

    public static func parse(_ s: String) -> ProtoTimestamp? {
        let b = Array(s.utf8)
        func num(_ from: Int, _ len: Int) -> Int? {
            guard from + len <= b.count else { return nil }
            var v = 0
            for i in from..<(from + len) {
                guard b[i] >= 48 && b[i] <= 57 else { return nil }
                v = v * 10 + Int(b[i] - 48)
            }
            return v
        }
        guard b.count >= 19, let y = num(0, 4), b[4] == 45, let mo = num(5, 2), b[7] == 45, let d = num(8, 2),
              b[10] == 84 || b[10] == 116 || b[10] == 32, let h = num(11, 2), b[13] == 58, let mi = num(14, 2),
              b[16] == 58, let sec = num(17, 2) else { return nil }
        var i = 19
        var nanos = 0
        if i < b.count && b[i] == 46 {
            i += 1
            var digits = 0
            while i < b.count && b[i] >= 48 && b[i] <= 57 {
                if digits < 9 { nanos = nanos * 10 + Int(b[i] - 48); digits += 1 }
                i += 1
            }
            while digits < 9 { nanos *= 10; digits += 1 }
        }
        var offset = 0
        if i < b.count {
            if b[i] == 90 || b[i] == 122 { i += 1 } else if b[i] == 43 || b[i] == 45, let oh = num(i + 1, 2), i + 3 < b.count, b[i + 3] == 58, let om = num(i + 4, 2) {
                offset = (oh * 3600 + om * 60) * (b[i] == 43 ? 1 : -1)
                i += 6
            } else { return nil }
        }
        guard i == b.count else { return nil }
        var tm = tm()
        tm.tm_year = Int32(y - 1900); tm.tm_mon = Int32(mo - 1); tm.tm_mday = Int32(d)
        tm.tm_hour = Int32(h); tm.tm_min = Int32(mi); tm.tm_sec = Int32(sec)
        let epoch = Int64(timegm(&tm)) - Int64(offset)
        return ProtoTimestamp(seconds: epoch, nanos: Int32(nanos))
    }
}
