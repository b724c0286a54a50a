#if canImport(Glibc)
import Glibc
#endif
import Logging

/// swift-log handler writing Larder's two line formats (see `LarderLog.Format`).
public struct LarderLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level
    public let label: String
    let format: LarderLog.Format
    let sink: LogSink

    public init(label: String, format: LarderLog.Format, level: Logger.Level, sink: LogSink) {
        self.label = label
        self.format = format
        self.logLevel = level
        self.sink = sink
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var merged = metadata
        if let extra = event.metadata { merged.merge(extra) { $1 } }
        let line = format == .json
            ? Self.jsonLine(time: Self.timestamp(), level: event.level, label: label, message: "\(event.message)", metadata: merged)
            : Self.textLine(time: Self.timestamp(), level: event.level, label: label, message: "\(event.message)", metadata: merged)
        sink.emit(Array(line.utf8))
    }

    // MARK: formats

    /// Keys every JSON line has; metadata with one of these names is written as `meta.<name>`.
    static let reservedKeys: Set<String> = ["time", "level", "logger", "message", "pid", "source"]

    static func jsonLine(time: String, level: Logger.Level, label: String, message: String,
                         metadata: Logger.Metadata) -> String {
        var out = "{\"time\":\"\(time)\",\"level\":\"\(level.rawValue)\",\"logger\":"
        appendJSONString(label, to: &out)
        out += ",\"message\":"
        appendJSONString(message, to: &out)
        out += ",\"pid\":\(getpid())"
        for key in metadata.keys.sorted() {
            out += ","
            appendJSONString(reservedKeys.contains(key) ? "meta.\(key)" : key, to: &out)
            out += ":"
            appendJSON(LarderLog.isSecretKey(key) ? .string("<redacted>") : metadata[key]!, to: &out)
        }
        out += "}\n"
        return out
    }

    static func textLine(time: String, level: Logger.Level, label: String, message: String,
                         metadata: Logger.Metadata) -> String {
        var out = "\(time) \(level.rawValue) \(label): \(message.replacingNewlines())"
        for key in metadata.keys.sorted() {
            let value = LarderLog.isSecretKey(key) ? "<redacted>" : textValue(metadata[key]!)
            out += " \(key)=\(logfmtQuoted(value))"
        }
        out += "\n"
        return out
    }

    /// Like `description`, with secret keys of nested dictionaries redacted too.
    static func textValue(_ value: Logger.Metadata.Value) -> String {
        switch value {
        case .string(let s): return s
        case .stringConvertible(let v): return v.description
        case .array(let items): return "[" + items.map(textValue).joined(separator: ", ") + "]"
        case .dictionary(let dict):
            return "[" + dict.keys.sorted().map { key in
                "\(key): \(LarderLog.isSecretKey(key) ? "<redacted>" : textValue(dict[key]!))"
            }.joined(separator: ", ") + "]"
        }
    }

    static func appendJSON(_ value: Logger.Metadata.Value, to out: inout String) {
        switch value {
        case .string(let s):
            appendJSONString(s, to: &out)
        case .stringConvertible(let v):
            // Numbers and booleans stay numbers and booleans for the collector.
            switch v {
            case let b as Bool: out += b ? "true" : "false"
            case let i as Int: out += String(i)
            case let i as Int64: out += String(i)
            case let i as UInt64: out += String(i)
            case let d as Double where d.isFinite: out += "\(d)"
            default: appendJSONString(v.description, to: &out)
            }
        case .array(let items):
            out += "["
            for (i, item) in items.enumerated() {
                if i > 0 { out += "," }
                appendJSON(item, to: &out)
            }
            out += "]"
        case .dictionary(let dict):
            out += "{"
            for (i, key) in dict.keys.sorted().enumerated() {
                if i > 0 { out += "," }
                appendJSONString(key, to: &out)
                out += ":"
                appendJSON(LarderLog.isSecretKey(key) ? .string("<redacted>") : dict[key]!, to: &out)
            }
            out += "}"
        }
    }

    static func appendJSONString(_ s: String, to out: inout String) {
        out += "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if scalar.value < 0x20 || scalar.value == 0x7F {
                    let hex = String(scalar.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        out += "\""
    }

    /// logfmt: bare when the value has no space, quote or `=`; otherwise quoted with escapes.
    static func logfmtQuoted(_ value: String) -> String {
        let plain = !value.isEmpty && !value.unicodeScalars.contains {
            $0 == " " || $0 == "\"" || $0 == "=" || $0.value < 0x20 || $0 == "\\"
        }
        if plain { return value }
        var out = ""
        appendJSONString(value, to: &out)
        return out
    }

    /// UTC, millisecond precision: `2026-12-04T03:59:00.123Z`.
    static func timestamp() -> String {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        var seconds = ts.tv_sec
        var t = tm()
        gmtime_r(&seconds, &t)
        func two(_ v: Int32) -> String { v < 10 ? "0\(v)" : "\(v)" }
        let millis = Int(ts.tv_nsec / 1_000_000)
        let ms = millis < 10 ? "00\(millis)" : millis < 100 ? "0\(millis)" : "\(millis)"
        return "\(t.tm_year + 1900)-\(two(t.tm_mon + 1))-\(two(t.tm_mday))T\(two(t.tm_hour)):\(two(t.tm_min)):\(two(t.tm_sec)).\(ms)Z"
    }
}

extension String {
    /// A message stays on one line in the text format.
    func replacingNewlines() -> String {
        guard contains(where: { $0 == "\n" || $0 == "\r" }) else { return self }
        return String(map { $0 == "\n" || $0 == "\r" ? " " : $0 })
    }
}
