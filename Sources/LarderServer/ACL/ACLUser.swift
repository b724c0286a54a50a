import LarderRESP
import LarderStore

/// Why a rule was refused: Redis' ACLSetUserStringError texts.
public enum ACLRuleError: Error, Equatable {
    case unknownName, syntax, keysAfterAll, channelsAfterAll, noSuchPassword, badHash, firstArgOfSubcommand

    public var message: String {
        switch self {
        case .unknownName: return "Unknown command or category name in ACL"
        case .syntax: return "Syntax error"
        case .keysAfterAll: return "Adding a pattern after the * pattern (or the 'allkeys' flag) is not valid and does not have any effect. Try 'resetkeys' to start with an empty list of patterns"
        case .channelsAfterAll: return "Adding a pattern after the * pattern (or the 'allchannels' flag) is not valid and does not have any effect. Try 'resetchannels' to start with an empty list of channels"
        case .noSuchPassword: return "The password you are trying to remove from the user does not exist"
        case .badHash: return "The password hash must be exactly 64 characters and contain only lowercase hexadecimal characters"
        case .firstArgOfSubcommand: return "Allowing first-arg of a subcommand is not supported"
        }
    }
}

/// A key pattern and what it allows: `~p` both, `%R~p` reading, `%W~p` writing.
struct ACLKeyPattern: Equatable {
    var pattern: [UInt8]
    var read: Bool
    var write: Bool

    var described: String {
        let p = String(decoding: pattern, as: UTF8.self)
        if read && write { return "~" + p }
        return (read ? "%R~" : "%W~") + p
    }
}

/// One ACL user as Redis 7.0 keeps it (one root selector; Redis 7's extra "(...)" selectors are
/// not supported). A value: ACL SETUSER applies the rules to a copy and stores it only if all
/// of them are valid, as Redis does.
struct ACLUser {
    enum Sanitize { case unset, sanitize, skip }

    let name: String
    var enabled = false
    var nopass = false
    var sanitize = Sanitize.unset
    /// SHA-256 hex digests, in the order they were added.
    var passwords: [String] = []
    /// One bit per ACL id (`ACLCommandIndex`).
    var commands: [UInt64]
    /// Redis' SELECTOR_FLAG_ALLCOMMANDS: every command, checked without the bitmap.
    var allCommands = false
    /// Redis' reserved "future commands" bit: set only by +@all, so the description starts
    /// with +@all rather than -@all.
    var futureCommands = false
    /// `+cmd|firstarg` rules for commands not otherwise allowed (ACL id -> allowed first args).
    var firstArgs: [Int: [String]] = [:]
    var allKeys = false
    var keyPatterns: [ACLKeyPattern] = []
    /// Channel rules (`&pattern`, allchannels, resetchannels): enforced by ACLPermissions on PUBLISH and (P|S)SUBSCRIBE.
    var allChannels = false
    var channels: [String] = []

    init(name: String, index: ACLCommandIndex) {
        self.name = name
        self.commands = [UInt64](repeating: 0, count: index.wordCount)
    }

    /// The `default` user Redis creates: on, nopass, every key, channel and command.
    static func makeDefault(index: ACLCommandIndex) -> ACLUser {
        var u = ACLUser(name: "default", index: index)
        for op in ["+@all", "~*", "&*", "on", "nopass"] { try! u.apply(Array(op.utf8), index: index) }
        return u
    }

    // MARK: bits

    @inline(__always) func allows(_ id: Int) -> Bool { commands[id >> 6] & (1 << UInt64(id & 63)) != 0 }

    mutating func setBit(_ id: Int, _ on: Bool) {
        if on { commands[id >> 6] |= 1 << UInt64(id & 63) } else {
            commands[id >> 6] &= ~(1 << UInt64(id & 63))
            allCommands = false
        }
    }

    /// ACLChangeSelectorPerm: a command and all its subcommands.
    mutating func changePerm(_ id: Int, _ on: Bool, index: ACLCommandIndex) {
        setBit(id, on)
        firstArgs[id] = nil
        for c in index.entries[id].children { setBit(c, on) }
    }

    mutating func changeCategory(_ bit: UInt32, _ on: Bool, index: ACLCommandIndex) {
        for i in 0..<index.topLevelCount {
            let e = index.entries[i]
            if e.categories & bit != 0 { changePerm(i, on, index: index) }
            for c in e.children where index.entries[c].categories & bit != 0 { changePerm(c, on, index: index) }
        }
    }

    // MARK: rules

    /// Applies one rule (ACLSetUser), with Redis' error when it is not valid.
    mutating func apply(_ op: [UInt8], index: ACLCommandIndex) throws {
        if op.isEmpty { return }
        let text = String(decoding: op, as: UTF8.self)
        let lower = text.lowercased()
        switch lower {
        case "on": enabled = true; return
        case "off": enabled = false; return
        case "skip-sanitize-payload": sanitize = .skip; return
        case "sanitize-payload": sanitize = .sanitize; return
        case "nopass": nopass = true; passwords = []; return
        case "resetpass": nopass = false; passwords = []; return
        case "clearselectors": return
        case "reset":
            for r in ["resetpass", "resetkeys", "resetchannels", "off", "sanitize-payload", "-@all"] {
                try apply(Array(r.utf8), index: index)
            }
            return
        default: break
        }
        let first = op[0]
        if first == UInt8(ascii: ">") || first == UInt8(ascii: "#") {
            let hash: String
            if first == UInt8(ascii: ">") { hash = SHA256.hex(op[1...]) } else {
                guard Self.isPasswordHash(op[1...]) else { throw ACLRuleError.badHash }
                hash = String(decoding: op[1...], as: UTF8.self)
            }
            if !passwords.contains(hash) { passwords.append(hash) }
            nopass = false
            return
        }
        if first == UInt8(ascii: "<") || first == UInt8(ascii: "!") {
            let hash: String
            if first == UInt8(ascii: "<") { hash = SHA256.hex(op[1...]) } else {
                guard Self.isPasswordHash(op[1...]) else { throw ACLRuleError.badHash }
                hash = String(decoding: op[1...], as: UTF8.self)
            }
            guard let i = passwords.firstIndex(of: hash) else { throw ACLRuleError.noSuchPassword }
            passwords.remove(at: i)
            return
        }
        if first == UInt8(ascii: "(") && op.last == UInt8(ascii: ")") {
            // Redis 7 selectors: not supported by Larder (docs/security.md).
            throw ACLRuleError.syntax
        }
        try applySelectorRule(op, lower: lower, index: index)
    }

    /// ACLSetSelector: keys, channels and commands.
    private mutating func applySelectorRule(_ op: [UInt8], lower: String, index: ACLCommandIndex) throws {
        switch lower {
        case "allkeys", "~*": allKeys = true; keyPatterns = []; return
        case "resetkeys": allKeys = false; keyPatterns = []; return
        case "allchannels", "&*": allChannels = true; channels = []; return
        case "resetchannels": allChannels = false; channels = []; return
        case "allcommands", "+@all":
            for i in commands.indices { commands[i] = ~0 }
            allCommands = true; futureCommands = true; firstArgs = [:]
            return
        case "nocommands", "-@all":
            for i in commands.indices { commands[i] = 0 }
            allCommands = false; futureCommands = false; firstArgs = [:]
            return
        default: break
        }
        let first = op[0]
        if first == UInt8(ascii: "~") || first == UInt8(ascii: "%") {
            if allKeys { throw ACLRuleError.keysAfterAll }
            var read = false, write = false
            var offset = 1
            if first == UInt8(ascii: "%") {
                var closed = false
                while offset < op.count {
                    let c = op[offset] & ~0x20  // upper case for letters
                    if c == UInt8(ascii: "R") && !read { read = true }
                    else if c == UInt8(ascii: "W") && !write { write = true }
                    else if op[offset] == UInt8(ascii: "~") { offset += 1; closed = true; break }
                    else { throw ACLRuleError.syntax }
                    offset += 1
                }
                // "%R" without "~" runs off the end: Redis then takes an empty pattern.
                _ = closed
            } else {
                read = true; write = true
            }
            let pattern = Array(op[offset...])
            if Self.hasSpaces(pattern) { throw ACLRuleError.syntax }
            if let i = keyPatterns.firstIndex(where: { $0.pattern == pattern }) {
                keyPatterns[i].read = keyPatterns[i].read || read
                keyPatterns[i].write = keyPatterns[i].write || write
            } else {
                keyPatterns.append(ACLKeyPattern(pattern: pattern, read: read, write: write))
            }
            allKeys = false
            return
        }
        if first == UInt8(ascii: "&") {
            if allChannels { throw ACLRuleError.channelsAfterAll }
            let pattern = Array(op[1...])
            if Self.hasSpaces(pattern) { throw ACLRuleError.syntax }
            let p = String(decoding: pattern, as: UTF8.self)
            if !channels.contains(p) { channels.append(p) }
            return
        }
        let second = op.count > 1 ? op[1] : 0
        if (first == UInt8(ascii: "+") || first == UInt8(ascii: "-")) && second == UInt8(ascii: "@") {
            guard let bit = ACLCategory.bit(String(decoding: op[2...], as: UTF8.self)) else { throw ACLRuleError.unknownName }
            changeCategory(bit, first == UInt8(ascii: "+"), index: index)
            return
        }
        if first == UInt8(ascii: "+") {
            let name = String(decoding: op[1...], as: UTF8.self)
            guard let bar = name.lastIndex(of: "|") else {
                guard let id = index.id(named: name) else { throw ACLRuleError.unknownName }
                changePerm(id, true, index: index)
                return
            }
            let container = String(name[..<bar]), sub = String(name[name.index(after: bar)...])
            guard let cid = index.id(named: container) else { throw ACLRuleError.unknownName }
            if index.entries[cid].parent >= 0 { throw ACLRuleError.firstArgOfSubcommand }
            if sub.isEmpty { throw ACLRuleError.syntax }
            if !index.entries[cid].children.isEmpty {
                guard let id = index.id(named: name) else { throw ACLRuleError.unknownName }
                changePerm(id, true, index: index)
            } else {
                // A first argument of a command without subcommands (Redis deprecates it).
                var list = firstArgs[cid] ?? []
                if !list.contains(where: { $0.lowercased() == sub.lowercased() }) { list.append(sub) }
                firstArgs[cid] = list
            }
            return
        }
        if first == UInt8(ascii: "-") {
            guard let id = index.id(named: String(decoding: op[1...], as: UTF8.self)) else { throw ACLRuleError.unknownName }
            changePerm(id, false, index: index)
            return
        }
        throw ACLRuleError.syntax
    }

    static func isPasswordHash<C: Collection>(_ s: C) -> Bool where C.Element == UInt8 {
        s.count == 64 && s.allSatisfy { ($0 >= 48 && $0 <= 57) || ($0 >= 97 && $0 <= 102) }
    }

    /// Redis' ACLStringHasSpaces: isspace or NUL.
    static func hasSpaces<C: Collection>(_ s: C) -> Bool where C.Element == UInt8 {
        s.contains { $0 == 0 || $0 == 32 || ($0 >= 9 && $0 <= 13) }
    }

    // MARK: description (ACL LIST, ACL GETUSER, ACL SAVE)

    var flagNames: [String] {
        var f: [String] = [enabled ? "on" : "off"]
        if nopass { f.append("nopass") }
        switch sanitize {
        case .skip: f.append("skip-sanitize-payload")
        case .sanitize: f.append("sanitize-payload")
        case .unset: break
        }
        return f
    }

    /// ACLDescribeUser: the rules that recreate this user, as ACL LIST and ACL SAVE write them.
    func describe(index: ACLCommandIndex) -> String {
        var parts = flagNames
        parts += passwords.map { "#" + $0 }
        if allKeys { parts.append("~*") } else { parts += keyPatterns.map { $0.described } }
        if allChannels { parts.append("&*") } else { parts.append("resetchannels"); parts += channels.map { "&" + $0 } }
        parts.append(describeCommandRules(index: index))
        return parts.joined(separator: " ")
    }

    var keysDescription: String { allKeys ? "~*" : keyPatterns.map { $0.described }.joined(separator: " ") }
    var channelsDescription: String { allChannels ? "&*" : channels.map { "&" + $0 }.joined(separator: " ") }

    /// Redis 7.0's ACLDescribeSelectorCommandRules: start from +@all or -@all, add (or remove)
    /// the category that best explains the remaining bits, again and again, then name the single
    /// commands that still differ. Redis walks its command dictionary for that last part (an
    /// order that changes from run to run); Larder walks its table in order.
    func describeCommandRules(index: ACLCommandIndex) -> String {
        let additive = !futureCommands
        var rules = [additive ? "-@all" : "+@all"]
        var fake = ACLUser(name: "", index: index)
        try! fake.apply(Array((additive ? "-@all" : "+@all").utf8), index: index)
        var temp = self
        temp.firstArgs = [:]
        var applied = [Bool](repeating: false, count: ACLCategory.names.count)
        while true {
            var best = -1
            var minDiff = Int.max, maxSame = 0
            for (j, _) in ACLCategory.names.enumerated() where !applied[j] {
                let bit = UInt32(1) << UInt32(j)
                var on = 0, off = 0
                for (i, e) in index.entries.enumerated() where e.categories & bit != 0 {
                    if temp.allows(i) { on += 1 } else { off += 1 }
                }
                let diff = additive ? off : on, same = additive ? on : off
                if same > diff && (diff < minDiff || (diff == minDiff && same > maxSame)) {
                    best = j; minDiff = diff; maxSame = same
                }
            }
            if best < 0 { break }
            let bit = UInt32(1) << UInt32(best)
            fake.changeCategory(bit, additive, index: index)
            temp.changeCategory(bit, !additive, index: index)
            rules.append((additive ? "+@" : "-@") + ACLCategory.names[best])
            applied[best] = true
        }
        func singles(_ id: Int) {
            let userBit = allows(id)
            if userBit != fake.allows(id) {
                rules.append((userBit ? "+" : "-") + index.entries[id].fullName)
                fake.changePerm(id, userBit, index: index)
            }
            for c in index.entries[id].children { singles(c) }
            if !userBit, let args = firstArgs[id] {
                for a in args { rules.append("+" + index.entries[id].fullName + "|" + a) }
            }
        }
        for i in 0..<index.topLevelCount { singles(i) }
        return rules.joined(separator: " ")
    }
}
