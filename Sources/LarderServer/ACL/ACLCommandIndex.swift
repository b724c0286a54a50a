import LarderRESP

/// Redis 7.0's ACL categories, in its order (acl.c ACLCommandCategories): ACL CAT lists them so,
/// and the rule describer (`ACLUser.describeCommandRules`) tries them so.
enum ACLCategory {
    static let names = ["keyspace", "read", "write", "set", "sortedset", "list", "hash", "string", "bitmap",
                        "hyperloglog", "geo", "stream", "pubsub", "admin", "fast", "slow", "blocking", "dangerous",
                        "connection", "transaction", "scripting"]

    /// The bit of a category name (any case), nil for an unknown name.
    static func bit(_ name: String) -> UInt32? {
        let lower = name.lowercased()
        return names.firstIndex(of: lower).map { UInt32(1) << UInt32($0) }
    }
}

/// Where a command's keys are and what it does with them, for `%R~` / `%W~` patterns: Redis'
/// key spec flags (ACCESS reads; INSERT, UPDATE, DELETE write).
struct ACLKeySpec {
    let begin: Int          // argument index of the first key
    let lastKey: Int        // relative to begin; -1 = the last argument, -2 the one before...
    let step: Int
    let read: Bool
    let write: Bool
    /// SET's spec has `variable_flags`: Redis' setGetKeys reads the key only with a GET
    /// argument (RW ACCESS UPDATE), otherwise it only writes it (OW UPDATE).
    var readsOnlyWithGet = false
}

/// One command or subcommand as ACL sees it. Its position in `ACLCommandIndex.entries` is its
/// ACL id (the bit in a user's command bitmap): a top-level command's id is its table index
/// (`CommandSpec.id`), subcommands follow all top-level commands.
struct ACLCommandEntry {
    let fullName: String        // "get", "client|list"
    let categories: UInt32
    let parent: Int             // -1 for a top-level command
    var children: [Int]
    let keySpecs: [ACLKeySpec]
    let noAuth: Bool
}

/// Every command's ACL facts, built once from the command table: categories come from the same
/// place COMMAND INFO reads them (`CommandDescription.aclCategories`: Redis' generated docs, or
/// the family row's flags and group for Larder's own commands).
public final class ACLCommandIndex: @unchecked Sendable {
    let entries: [ACLCommandEntry]
    /// Per top-level command id: the ACL id of its first subcommand (-1 when it has none).
    let subcommandBase: [Int]
    private let byName: [String: Int]
    let topLevelCount: Int

    init(_ table: CommandTable) {
        var entries: [ACLCommandEntry] = []
        var base = [Int](repeating: -1, count: table.count)
        var next = table.count
        var subs: [(parent: Int, desc: CommandDescription, noAuth: Bool)] = []
        for spec in table.specs {
            let d = CommandDescription(spec)
            if !d.subcommands.isEmpty {
                base[spec.id] = next
                for s in d.subcommands { subs.append((spec.id, s, s.flags.contains(.noAuth))); next += 1 }
            }
        }
        for spec in table.specs {
            let d = CommandDescription(spec)
            let children = base[spec.id] < 0 ? [] : Array(base[spec.id]..<(base[spec.id] + d.subcommands.count))
            entries.append(ACLCommandEntry(fullName: spec.name, categories: Self.bits(d.aclCategories), parent: -1,
                                           children: children, keySpecs: Self.keySpecs(d), noAuth: spec.flags.contains(.noAuth)))
        }
        for s in subs {
            entries.append(ACLCommandEntry(fullName: s.desc.name, categories: Self.bits(s.desc.aclCategories), parent: s.parent,
                                           children: [], keySpecs: Self.keySpecs(s.desc), noAuth: s.noAuth))
        }
        var names: [String: Int] = [:]
        for (i, e) in entries.enumerated() { names[e.fullName] = i }
        self.entries = entries
        self.subcommandBase = base
        self.byName = names
        self.topLevelCount = table.count
    }

    var count: Int { entries.count }
    /// 64-bit words in a user's command bitmap.
    var wordCount: Int { (entries.count + 63) / 64 }

    /// A command or "container|subcommand" by name, any case.
    func id(named name: String) -> Int? { byName[name.lowercased()] }

    /// The ACL id a call runs under: the subcommand's when the command is a container and the
    /// subcommand is known, the command's otherwise.
    @inline(__always) func id(spec: CommandSpec, subcommandIndex: Int) -> Int {
        let b = subcommandBase[spec.id]
        return b >= 0 && subcommandIndex >= 0 ? b + subcommandIndex : spec.id
    }

    /// Names of the commands in a category, in table order (ACL CAT <category>).
    func names(inCategory bit: UInt32) -> [String] {
        var out: [String] = []
        for i in 0..<topLevelCount {
            let e = entries[i]
            if e.categories & bit != 0 { out.append(e.fullName) }
            for c in e.children where entries[c].categories & bit != 0 { out.append(entries[c].fullName) }
        }
        return out
    }

    static func bits(_ categories: [String]) -> UInt32 {
        var b: UInt32 = 0
        for c in categories where c.hasPrefix("@") { b |= ACLCategory.bit(String(c.dropFirst())) ?? 0 }
        return b
    }

    /// Redis' key specs of a command (the generated docs), or for Larder's own commands one
    /// spec over its key positions: read for a read-only command, write for a write command.
    static func keySpecs(_ d: CommandDescription) -> [ACLKeySpec] {
        if let c = d.catalog, !c.keySpecs.isEmpty {
            var out: [ACLKeySpec] = []
            for spec in c.keySpecs.split(separator: "|") {
                let parts = spec.split(separator: " ").map(String.init)
                guard parts.count >= 3 else { continue }
                let flags = Set(parts[0].split(separator: ",").map { $0.lowercased() })
                // SPUBLISH/SSUBSCRIBE's channels: key specs for cluster slots, not keys (Redis' ACL skips them).
                if flags.contains("not_key") { continue }
                let read = flags.contains("access")
                let write = flags.contains("insert") || flags.contains("update") || flags.contains("delete")
                if parts[1].hasPrefix("index:"), parts[2].hasPrefix("range:"),
                   let begin = Int(parts[1].dropFirst(6)) {
                    let r = parts[2].dropFirst(6).split(separator: ",").compactMap { Int($0) }
                    if r.count >= 2 {
                        out.append(ACLKeySpec(begin: begin, lastKey: r[0], step: max(r[1], 1), read: read, write: write,
                                              readsOnlyWithGet: flags.contains("variable_flags") && d.name == "set"))
                        continue
                    }
                }
                // Other search kinds (keyword, keynum): the routing key positions, read and write.
                if d.keys.first > 0 {
                    out.append(ACLKeySpec(begin: d.keys.first, lastKey: d.keys.last < 0 ? d.keys.last : d.keys.last - d.keys.first,
                                          step: max(d.keys.step, 1), read: true, write: true))
                }
            }
            return out
        }
        guard d.keys.first > 0 else { return [] }
        let write = d.flags.contains(.write)
        return [ACLKeySpec(begin: d.keys.first, lastKey: d.keys.last < 0 ? d.keys.last : d.keys.last - d.keys.first,
                           step: max(d.keys.step, 1), read: !write, write: write)]
    }
}
