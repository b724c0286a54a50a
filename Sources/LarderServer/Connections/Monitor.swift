import LarderRESP
import LarderStore
import NIOCore

/// MONITOR: every command, as Redis prints it, sent to each monitoring client.
enum Monitor {
    static func feed(_ spec: CommandSpec, _ args: Arguments, session: ClientSession, clients: ClientRegistry) {
        let us = Clock.nowMicroseconds()
        var line = "+\(us / 1_000_000).\(String(format6(us % 1_000_000))) [\(session.db) \(session.address)]"
        // The secrets Redis redacts (AUTH, HELLO AUTH, CONFIG SET requirepass), as in SLOWLOG.
        let redacted = Slowlog.redactedArguments(spec, args)
        for i in 0..<args.count {
            line += " "
            line += redacted.contains(i) ? "\"(redacted)\"" : represent(args[i])
        }
        line += "\r\n"
        let bytes = Array(line.utf8)
        for m in clients.currentMonitors where m !== session {
            m.transport?.writeFromAnyThread(bytes)
        }
    }

    static func format6(_ v: Int64) -> String {
        let s = String(v)
        return String(repeating: "0", count: max(0, 6 - s.count)) + s
    }

    /// Redis' sdscatrepr: quoted, with \\ \" \n \r \t \a \b escapes and \xhh for other
    /// non-printable bytes.
    static func represent(_ bytes: UnsafeRawBufferPointer) -> String {
        var s = "\""
        for c in bytes {
            switch c {
            case UInt8(ascii: "\\"): s += "\\\\"
            case UInt8(ascii: "\""): s += "\\\""
            case 0x0A: s += "\\n"
            case 0x0D: s += "\\r"
            case 0x09: s += "\\t"
            case 0x07: s += "\\a"
            case 0x08: s += "\\b"
            case 0x20...0x7E: s.unicodeScalars.append(Unicode.Scalar(c))
            default:
                let hex = Array("0123456789abcdef")
                s += "\\x"; s.append(hex[Int(c >> 4)]); s.append(hex[Int(c & 15)])
            }
        }
        return s + "\""
    }
}
