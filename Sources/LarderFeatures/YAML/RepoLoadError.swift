import Yams

/// A problem in a feature repo, located as precisely as the YAML allows: the file (relative
/// to the repo), the line, the object (`feature_view 'driver_hourly_stats'`) and the key
/// (`schema[2].dtype`).
public struct RepoLoadError: Error, Equatable, CustomStringConvertible, Sendable {
    public enum Kind: Equatable, Sendable {
        case missingFile
        case unreadableFile(String)
        case yamlSyntax(String)
        case wrongType(expected: String, found: String)
        case missingKey
        case unknownKey(allowed: [String])
        case duplicateName(kind: String, name: String, firstDefinedIn: String)
        case unknownReference(kind: String, name: String, known: [String])
        case unknownFeature(view: String, feature: String)
        case badTypeName(String)
        case invalidValue(String)
    }

    public var file: String
    public var line: Int?
    /// 1-based column (in characters) of the value the error is about, when known.
    public var column: Int?
    public var object: String?
    public var key: String?
    public var kind: Kind
    /// The text of `line` in `file`, filled by the loader, for `rendered`.
    public var sourceLine: String?

    public init(file: String, line: Int? = nil, column: Int? = nil, object: String? = nil, key: String? = nil, kind: Kind) {
        self.file = file
        self.line = line
        self.column = column
        self.object = object
        self.key = key
        self.kind = kind
    }

    /// A YAML syntax error at the position libyaml reports, with its problem as the message
    /// (the snippet Yams appends is left out: `rendered` shows the line and a caret).
    static func yamlSyntax(_ error: Error, file: String) -> RepoLoadError {
        guard let yaml = error as? YamlError else { return RepoLoadError(file: file, kind: .yamlSyntax("\(error)")) }
        switch yaml {
        case .scanner(let context, let problem, let mark, _), .parser(let context, let problem, let mark, _),
             .composer(let context, let problem, let mark, _):
            var text = problem
            if let context { text += " (\(context.text) at line \(context.mark.line), column \(context.mark.column))" }
            return RepoLoadError(file: file, line: mark.line, column: mark.column, kind: .yamlSyntax(text))
        default:
            return RepoLoadError(file: file, kind: .yamlSyntax("\(error)"))
        }
    }

    /// Sets `sourceLine` from the file's text.
    mutating func attachSource(_ text: String) {
        guard let line, line >= 1 else { return }
        var current = 1
        var start = text.startIndex
        while current < line {
            guard let newline = text[start...].firstIndex(of: "\n") else { return }
            start = text.index(after: newline)
            current += 1
        }
        let end = text[start...].firstIndex(of: "\n") ?? text.endIndex
        var lineText = String(text[start ..< end])
        if lineText.hasSuffix("\r") { lineText.removeLast() }
        sourceLine = lineText
    }

    /// The error for a terminal: `file:line:column: ...`, then the source line and a caret
    /// under the column (when both are known).
    public var rendered: String {
        var location = file
        if let line { location += ":\(line)" }
        if line != nil, let column { location += ":\(column)" }
        var parts = [location]
        if let object { parts.append(object) }
        if let key { parts.append("key '\(key)'") }
        var text = parts.joined(separator: ": ") + ": " + message
        if let sourceLine {
            text += "\n    " + sourceLine
            if let column, column >= 1 {
                // Tabs stay tabs so the caret lines up whatever the tab width.
                let pad = sourceLine.prefix(column - 1).map { $0 == "\t" ? "\t" : " " }.joined()
                text += "\n    " + pad + "^"
            }
        }
        return text
    }

    public var message: String {
        switch kind {
        case .missingFile: return "file not found"
        case .unreadableFile(let reason): return "cannot read file: \(reason)"
        case .yamlSyntax(let detail): return "invalid YAML: \(detail)"
        case let .wrongType(expected, found): return "expected \(expected), found \(found)"
        case .missingKey: return "required key is missing"
        case .unknownKey(let allowed): return "unknown key (allowed: \(allowed.joined(separator: ", ")))"
        case let .duplicateName(kind, name, first):
            return "duplicate \(kind) name '\(name)' (first defined in \(first))"
        case let .unknownReference(kind, name, known):
            let list = known.isEmpty ? "none defined" : "defined: \(known.joined(separator: ", "))"
            return "unknown \(kind) '\(name)' (\(list))"
        case let .unknownFeature(view, feature): return "feature view '\(view)' has no feature '\(feature)'"
        case .badTypeName(let name):
            return "unknown type '\(name)' (expected one of \(FeastType.allNames.joined(separator: ", ")))"
        case .invalidValue(let detail): return detail
        }
    }

    public var description: String {
        var location = file
        if let line { location += ":\(line)" }
        var parts = [location]
        if let object { parts.append(object) }
        if let key { parts.append("key '\(key)'") }
        return parts.joined(separator: ": ") + ": " + message
    }
}

/// Every problem found while loading a repo (loading goes on after an error so that one run
/// reports them all).
public struct RepoLoadFailure: Error, CustomStringConvertible, Sendable {
    public var errors: [RepoLoadError]

    public init(errors: [RepoLoadError]) { self.errors = errors }

    public var description: String {
        "feature repo has \(errors.count) error\(errors.count == 1 ? "" : "s"):\n"
            + errors.map { "  " + $0.description }.joined(separator: "\n")
    }

    /// One error per line (`file:line:column: ...`), each followed by its source line and a
    /// caret under the column.
    public var rendered: String {
        "feature repo has \(errors.count) error\(errors.count == 1 ? "" : "s"):\n"
            + errors.map(\.rendered).joined(separator: "\n")
    }

    /// The errors with their source lines attached, from the files' texts by name.
    /// Errors are put in reading order: files in the order they first appear, then by line
    /// and column (an error without a line first).
    func attachingSources(_ texts: [String: String]) -> RepoLoadFailure {
        var fileOrder: [String: Int] = [:]
        for e in errors where fileOrder[e.file] == nil { fileOrder[e.file] = fileOrder.count }
        let ordered = errors.enumerated().sorted { a, b in
            let ka = (fileOrder[a.element.file] ?? 0, a.element.line ?? 0, a.element.column ?? 0, a.offset)
            let kb = (fileOrder[b.element.file] ?? 0, b.element.line ?? 0, b.element.column ?? 0, b.offset)
            return ka < kb
        }.map(\.element)
        return RepoLoadFailure(errors: ordered.map { error in
            var e = error
            if let text = texts[e.file] { e.attachSource(text) }
            return e
        })
    }
}
