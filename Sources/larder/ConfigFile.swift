import Foundation
import LarderServer

/// `larder serve CONFIGFILE`: a Redis-style configuration file. Each line is `name value...`
/// (blank lines and lines starting with `#` are skipped), values may be quoted as Redis'
/// sdssplitargs reads them ("double quotes" with \n \r \t \b \a \\ \" \xHH escapes, 'single
/// quotes' with \'), and `include PATH` reads another file in place (a relative PATH is read
/// from the working directory, as Redis does). Every name is the long name of a `serve` option
/// (`port 6379` is `--port 6379`; a flag takes `yes` or `no`), so the file and the command line
/// have one set of names, and the command line wins over the file.
enum ConfigFile {
    struct Entry {
        let name: String
        let values: [String]
        let file: String
        let line: Int
    }

    /// A refused file: where and why, printed as `FILE:LINE: reason`.
    struct Failure: Error, CustomStringConvertible {
        let file: String
        let line: Int?
        let reason: String
        var description: String { line.map { "\(file):\($0): \(reason)" } ?? "\(file): \(reason)" }
    }

    static let maxIncludeDepth = 16

    /// The entries of `path` and of the files it includes, in order.
    static func read(_ path: String, depth: Int = 0, from: (file: String, line: Int)? = nil) throws -> [Entry] {
        guard depth <= maxIncludeDepth else {
            throw Failure(file: from?.file ?? path, line: from?.line,
                          reason: "include nested deeper than \(maxIncludeDepth) files (an include loop?)")
        }
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
            if let from { throw Failure(file: from.file, line: from.line, reason: "cannot read the included file \(path)") }
            throw Failure(file: path, line: nil, reason: "cannot read the configuration file")
        }
        var entries: [Entry] = []
        var lineNumber = 0
        for raw in text.split(separator: "\n", omittingEmptySubsequences: false) {
            lineNumber += 1
            let line = raw.trimmingCharacters(in: .whitespacesAndNewlines)
            if line.isEmpty || line.hasPrefix("#") { continue }
            guard let words = splitArguments(line) else {
                throw Failure(file: path, line: lineNumber, reason: "unbalanced quotes in: \(line)")
            }
            guard let first = words.first else { continue }
            let name = first.lowercased()
            let values = Array(words.dropFirst())
            if name == "include" {
                guard values.count == 1 else {
                    throw Failure(file: path, line: lineNumber, reason: "include takes one file name")
                }
                entries += try read(values[0], depth: depth + 1, from: (path, lineNumber))
                continue
            }
            entries.append(Entry(name: name, values: values, file: path, line: lineNumber))
        }
        return entries
    }

    /// Redis' sdssplitargs (ConfigText, shared with CONFIG REWRITE).
    static func splitArguments(_ line: String) -> [String]? { ConfigText.splitArguments(line) }

    /// The command-line form of `entries`. Each entry is checked on its own by `check` (which
    /// parses the `serve` options), so a bad name or value is reported with its file and line.
    /// A setting with no `serve` option but known to CONFIG SET (`hz`, `slowlog-log-slower-than`,
    /// `hash-max-listpack-entries`, ...) is checked by `runtime` instead (nil: not a setting;
    /// a failure: the reason its value is refused) and returned in `runtime`, applied before
    /// the server starts.
    static func arguments(_ entries: [Entry], check: ([String]) -> String?,
                          runtime: (String, String) -> Result<RuntimeSetting, RuntimeSettingRefusal>? = { _, _ in nil })
    throws -> (argv: [String], runtime: [RuntimeSetting]) {
        var argv: [String] = []
        var runtimeSettings: [RuntimeSetting] = []
        for e in entries {
            var attempts = [["--\(e.name)"] + e.values]
            // Redis directives whose value is several words (`save 3600 1 300 100`) are one
            // option value here.
            if e.values.count > 1 { attempts.append(["--\(e.name)", e.values.joined(separator: " ")]) }
            if e.values.count == 1 {
                switch e.values[0].lowercased() {
                case "yes": attempts.append(["--\(e.name)"])
                case "no": attempts.append(["--no-\(e.name)"])
                default: break
                }
            }
            var firstError: String? = nil
            var accepted: [String]? = nil
            for a in attempts {
                if let error = check(a) { firstError = firstError ?? error } else { accepted = a; break }
            }
            guard let accepted else {
                let error = firstError ?? "invalid"
                if error.contains("Unknown option"), let setting = runtime(e.name, e.values.joined(separator: " ")) {
                    switch setting {
                    case .success(let s): runtimeSettings.append(s); continue
                    case .failure(let refusal):
                        throw Failure(file: e.file, line: e.line, reason: "invalid value for '\(e.name)': \(refusal.reason)")
                    }
                }
                if error.contains("Unknown option") {
                    throw Failure(file: e.file, line: e.line, reason: "unknown setting '\(e.name)'")
                }
                throw Failure(file: e.file, line: e.line, reason: "invalid value for '\(e.name)': \(error)")
            }
            argv += accepted
        }
        return (argv, runtimeSettings)
    }
}
