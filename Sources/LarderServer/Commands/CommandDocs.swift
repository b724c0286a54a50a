import LarderRESP

/// One argument of a command as COMMAND DOCS describes it (Redis' redisCommandArg).
struct CommandArgument: Equatable {
    var name = ""
    var type = "string"         // key, string, integer, double, pattern, unix-time, pure-token, oneof, block
    var token: String? = nil
    var keySpecIndex: Int? = nil
    var since: String? = nil
    var deprecatedSince: String? = nil
    var optional = false, multiple = false, multipleToken = false
    var children: [CommandArgument] = []

    /// Reads the catalog notation: arguments separated by spaces, each
    /// `[TOKEN=]name:type[#keySpecIndex][(children)][?][*][&][@since][!deprecatedSince]`,
    /// where `?` is optional, `*` multiple, `&` multiple_token, and %XX escapes a byte.
    /// Returns nil for text that does not follow the notation.
    static func parse(_ text: String) -> [CommandArgument]? {
        var p = NotationReader(Array(text.utf8))
        guard let list = p.list(), p.atEnd else { return nil }
        return list
    }

    /// Decodes the %XX escapes of the catalog notation.
    static func unescape(_ text: String) -> String {
        var r = NotationReader(Array(text.utf8))
        return r.word(until: []) ?? text
    }

    /// Writes this argument as a COMMAND DOCS map, fields in Redis' order.
    func write(_ out: ReplyWriter) {
        let isContainer = type == "oneof" || type == "block"
        let anyFlag = optional || multiple || multipleToken
        var fields = 2
        for present in [keySpecIndex != nil, token != nil, since != nil, deprecatedSince != nil, anyFlag, isContainer]
        where present { fields += 1 }
        out.mapHeader(fields)
        out.bulk("name" as StaticString); out.bulk(name)
        out.bulk("type" as StaticString); out.bulk(type)
        if let keySpecIndex { out.bulk("key_spec_index" as StaticString); out.integer(keySpecIndex) }
        if let token { out.bulk("token" as StaticString); out.bulk(token) }
        if let since { out.bulk("since" as StaticString); out.bulk(since) }
        if let deprecatedSince { out.bulk("deprecated_since" as StaticString); out.bulk(deprecatedSince) }
        if anyFlag {
            out.bulk("flags" as StaticString)
            let names = [(optional, "optional"), (multiple, "multiple"), (multipleToken, "multiple_token")]
                .filter { $0.0 }.map { $0.1 }
            out.arrayHeader(names.count)
            for n in names { out.simple(n) }
        }
        if isContainer {
            out.bulk("arguments" as StaticString)
            out.arrayHeader(children.count)
            for c in children { c.write(out) }
        }
    }
}

/// A cursor over the argument notation.
private struct NotationReader {
    let bytes: [UInt8]
    var i = 0
    init(_ bytes: [UInt8]) { self.bytes = bytes }

    var atEnd: Bool { i >= bytes.count }
    func peek() -> UInt8? { i < bytes.count ? bytes[i] : nil }

    /// Arguments up to the end or a closing parenthesis.
    mutating func list() -> [CommandArgument]? {
        var out: [CommandArgument] = []
        while let c = peek(), c != UInt8(ascii: ")") {
            if c == UInt8(ascii: " ") { i += 1; continue }
            guard let a = argument() else { return nil }
            out.append(a)
        }
        return out
    }

    /// Bytes up to one of `stops`, decoding %XX escapes.
    mutating func word(until stops: Set<UInt8>) -> String? {
        var w: [UInt8] = []
        while let c = peek(), !stops.contains(c) {
            if c == UInt8(ascii: "%") {
                guard i + 2 < bytes.count, let v = UInt8(String(decoding: bytes[i + 1...i + 2], as: UTF8.self), radix: 16) else { return nil }
                w.append(v); i += 3
            } else {
                w.append(c); i += 1
            }
        }
        return String(decoding: w, as: UTF8.self)
    }

    static let nameStops: Set<UInt8> = Set("=: ()".utf8)
    static let typeStops: Set<UInt8> = Set("#()?*&@! ".utf8)
    static let versionStops: Set<UInt8> = Set("?*&@!() ".utf8)

    mutating func argument() -> CommandArgument? {
        var a = CommandArgument()
        guard var first = word(until: Self.nameStops) else { return nil }
        if peek() == UInt8(ascii: "=") {
            i += 1
            a.token = first
            guard let n = word(until: Self.nameStops) else { return nil }
            first = n
        }
        a.name = first
        guard peek() == UInt8(ascii: ":") else { return nil }
        i += 1
        guard let t = word(until: Self.typeStops), !t.isEmpty else { return nil }
        a.type = t
        if peek() == UInt8(ascii: "#") {
            i += 1
            guard let n = word(until: Self.typeStops), let v = Int(n) else { return nil }
            a.keySpecIndex = v
        }
        if peek() == UInt8(ascii: "(") {
            i += 1
            guard let kids = list(), peek() == UInt8(ascii: ")") else { return nil }
            i += 1
            a.children = kids
        }
        while let c = peek() {
            switch c {
            case UInt8(ascii: "?"): a.optional = true; i += 1
            case UInt8(ascii: "*"): a.multiple = true; i += 1
            case UInt8(ascii: "&"): a.multipleToken = true; i += 1
            case UInt8(ascii: "@"): i += 1; a.since = word(until: Self.versionStops)
            case UInt8(ascii: "!"): i += 1; a.deprecatedSince = word(until: Self.versionStops)
            default: return a
            }
        }
        return a
    }
}

/// Redis' documentation of one command: the facts COMMAND INFO / DOCS report that do not change
/// what the command does. Generated into RedisCommandDocs.swift by scripts/gen-command-docs.py.
///
/// `keySpecs`: specs separated by " | ", each "FLAGS begin_search find_keys [notes]" with
/// begin_search `index:N` or `keyword:WORD,startfrom` and find_keys `range:lastkey,step,limit`
/// or `keynum:idx,firstkey,step`, and notes %XX-escaped.
/// `arguments`: the COMMAND DOCS argument tree in the notation CommandArgument.parse reads.
struct RedisCommandDoc {
    let summary: String
    let since: String
    let complexity: String
    let acl: String
    let tips: String
    let keySpecs: String
    let arguments: String
}

/// The generated table (`byName`, in RedisCommandDocs.swift), keyed "get", "client|list".
enum RedisCommandDocs {}

/// COMMAND INFO / DOCS for one command or subcommand: what the CommandSpec says, completed
/// with Redis' documentation (ACL categories, tips, key specs, argument docs) when Redis has it.
struct CommandDescription {
    let name: String            // "get", "client|list"
    let arity: Int
    let flags: CommandFlags
    let keys: KeyPositions
    let group: String
    let summary: String
    let since: String
    var subcommands: [CommandDescription] = []

    /// Summary and since are Redis' own when Redis documents the command, the family table's
    /// otherwise (`CommandDocsTests` checks that exactly one of the two exists).
    init(_ spec: CommandSpec) {
        name = spec.name; arity = spec.arity; keys = spec.keys
        flags = Self.withMovableKeys(spec.flags, name: spec.name, keys: spec.keys)
        group = spec.group
        let c = RedisCommandDocs.byName[spec.name]
        summary = c?.summary ?? spec.ownSummary ?? ""; since = c?.since ?? spec.ownSince ?? ""
        subcommands = (Subcommands.byContainer[spec.name] ?? []).map { CommandDescription(parent: spec, $0) }
    }

    init(parent: CommandSpec, _ sub: Subcommand) {
        name = "\(parent.name)|\(sub.name)"; arity = sub.arity; keys = sub.keys
        flags = Self.withMovableKeys(sub.flags, name: name, keys: sub.keys)
        group = parent.group
        let c = RedisCommandDocs.byName[name]
        summary = c?.summary ?? sub.ownSummary ?? ""; since = c?.since ?? sub.ownSince ?? ""
    }

    var catalog: RedisCommandDoc? { RedisCommandDocs.byName[name] }

    /// Redis' populateCommandMovableKeys: a command's keys are movable when one of its key
    /// specs does not start at a fixed index or does not end at a fixed range (a keyword, a
    /// key count), or when it finds its keys itself (a row flagged `.movableKeys`: SORT_RO).
    static func withMovableKeys(_ flags: CommandFlags, name: String, keys: KeyPositions) -> CommandFlags {
        var movable = flags.contains(.movableKeys) || keys.keyCountIndex > 0 || keys.sortStoreKey
        if let specs = RedisCommandDocs.byName[name]?.keySpecs, !specs.isEmpty {
            for spec in specs.split(separator: "|") {
                let parts = spec.split(separator: " ")
                guard parts.count >= 3 else { continue }
                if !parts[1].hasPrefix("index:") || !parts[2].hasPrefix("range:") { movable = true }
            }
        }
        return movable ? flags.union(.movableKeys) : flags
    }

    /// Redis' ACL categories: the catalog's, or the ones Redis derives from the flags and group.
    var aclCategories: [String] {
        if let c = catalog { return c.acl.split(separator: " ").map(String.init) }
        var cats: [String] = []
        if group == "generic" { cats.append("@keyspace") }
        if flags.contains(.readonly) { cats.append("@read") }
        if flags.contains(.write) { cats.append("@write") }
        if group == "hash" { cats.append("@hash") }
        if group == "string" { cats.append("@string") }
        if flags.contains(.admin) { cats.append("@admin") }
        cats.append(flags.contains(.fast) ? "@fast" : "@slow")
        if flags.contains(.admin) { cats.append("@dangerous") }
        if group == "connection" { cats.append("@connection") }
        if group == "transactions" { cats.append("@transaction") }
        return cats
    }

    var tips: [String] { catalog.map { $0.tips.split(separator: " ").map(String.init) } ?? [] }

    /// COMMAND INFO's ten fields.
    func writeInfo(_ out: ReplyWriter) {
        out.arrayHeader(10)
        out.bulk(name)
        out.integer(arity)
        let f = flags.names
        out.setHeader(f.count); for n in f { out.simple(n) }
        out.integer(keys.first); out.integer(keys.last); out.integer(keys.step)
        let acl = aclCategories
        out.setHeader(acl.count); for c in acl { out.simple(c) }
        let t = tips
        out.setHeader(t.count); for x in t { out.bulk(x) }
        writeKeySpecs(out)
        out.setHeader(subcommands.count)
        for s in subcommands { s.writeInfo(out) }
    }

    func writeKeySpecs(_ out: ReplyWriter) {
        if let c = catalog {
            let specs = c.keySpecs.split(separator: "|").map { $0.split(separator: " ").map(String.init) }
                .filter { $0.count >= 3 }
            out.setHeader(specs.count)
            for s in specs {
                Self.writeKeySpec(out, flags: s[0].split(separator: ",").map(String.init), begin: s[1], find: s[2],
                                  notes: s.count > 3 ? CommandArgument.unescape(s[3]) : nil)
            }
        } else if keys.first > 0 {
            // Not a Redis command: one spec derived from the key positions.
            let flags = self.flags.contains(.write) ? ["RW", "update"] : ["RO", "access"]
            let last = keys.last < 0 ? keys.last : keys.last - keys.first
            out.setHeader(1)
            Self.writeKeySpec(out, flags: flags, begin: "index:\(keys.first)", find: "range:\(last),\(keys.step),0")
        } else {
            out.setHeader(0)
        }
    }

    static func writeKeySpec(_ out: ReplyWriter, flags: [String], begin: String, find: String, notes: String? = nil) {
        out.mapHeader(notes == nil ? 3 : 4)
        if let notes { out.bulk("notes" as StaticString); out.bulk(notes) }
        out.bulk("flags" as StaticString)
        out.setHeader(flags.count); for f in flags { out.simple(f) }
        func part(_ label: StaticString, _ text: String, _ fieldNames: [String: [String]]) {
            let pieces = text.split(separator: ":", maxSplits: 1).map(String.init)
            let type = pieces.first ?? "unknown"
            let values = pieces.count > 1 ? pieces[1].split(separator: ",").map(String.init) : []
            let names = fieldNames[type] ?? []
            out.bulk(label)
            out.mapHeader(2)
            out.bulk("type" as StaticString); out.bulk(type)
            out.bulk("spec" as StaticString)
            let n = min(names.count, values.count)
            out.mapHeader(n)
            for k in 0..<n {
                out.bulk(names[k])
                if let v = Int(values[k]) { out.integer(v) } else { out.bulk(values[k]) }
            }
        }
        part("begin_search", begin, ["index": ["index"], "keyword": ["keyword", "startfrom"]])
        part("find_keys", find, ["range": ["lastkey", "keystep", "limit"], "keynum": ["keynumidx", "firstkey", "keystep"]])
    }

    /// COMMAND DOCS' map for this command (the caller writes the name before it).
    func writeDocs(_ out: ReplyWriter) {
        let args = catalog.flatMap { CommandArgument.parse($0.arguments) } ?? []
        let complexity = catalog?.complexity ?? ""
        var fields = 3
        if !complexity.isEmpty { fields += 1 }
        if !args.isEmpty { fields += 1 }
        if !subcommands.isEmpty { fields += 1 }
        out.mapHeader(fields)
        out.bulk("summary" as StaticString); out.bulk(summary)
        out.bulk("since" as StaticString); out.bulk(since)
        out.bulk("group" as StaticString); out.bulk(group)
        if !complexity.isEmpty { out.bulk("complexity" as StaticString); out.bulk(complexity) }
        if !args.isEmpty {
            out.bulk("arguments" as StaticString)
            out.arrayHeader(args.count)
            for a in args { a.write(out) }
        }
        if !subcommands.isEmpty {
            out.bulk("subcommands" as StaticString)
            out.mapHeader(subcommands.count)
            for s in subcommands { out.bulk(s.name); s.writeDocs(out) }
        }
    }
}
