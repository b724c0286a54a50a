import LarderRESP

/// Finds the keys of a call from Redis' key specs (the generated `RedisCommandDoc.keySpecs`,
/// "FLAGS begin_search find_keys [notes]" per spec), as Redis' getKeysUsingKeySpecs does: for
/// COMMAND GETKEYSANDFLAGS, which reports each key with its spec's flags (RW, OW, access,
/// insert, ...). Routing does not use it: it reads the family table's `KeyPositions`, which
/// `CommandDocsTests` checks against these specs.
enum KeySpecSearch {
    struct Found: Equatable {
        let position: Int
        let flags: [String]
    }

    /// `args`: the call itself, the command name at 0. nil when a spec cannot be followed
    /// (a keyword that is absent finds no keys, as in Redis; an impossible key count is nil).
    static func keys(command: String, specs: String, args: [[UInt8]]) -> [Found]? {
        guard var found = keys(specs: specs, args: args) else { return nil }
        // A spec flagged variable_flags has its flags decided by the call, as Redis' getkeys
        // procedure of that command decides them. SET: with GET it reads the old value.
        if command == "set", found.count == 1, found[0].flags.contains("variable_flags") {
            let reads = args.dropFirst(3).contains { $0.count == 3 && String(decoding: $0, as: UTF8.self).uppercased() == "GET" }
            found[0] = Found(position: found[0].position, flags: reads ? ["RW", "access", "update"] : ["OW", "update"])
        }
        return found
    }

    static func keys(specs: String, args: [[UInt8]]) -> [Found]? {
        var found: [Found] = []
        let argc = args.count
        for spec in specs.split(separator: "|") {
            let parts = spec.split(separator: " ").map(String.init)
            guard parts.count >= 3 else { continue }
            let flags = parts[0].split(separator: ",").map(String.init)
            guard let start = begin(parts[1], args: args) else { continue }
            let find = parts[2]
            if find.hasPrefix("range:") {
                let r = find.dropFirst(6).split(separator: ",").compactMap { Int($0) }
                guard r.count == 3 else { return nil }
                let (lastKey, step, limit) = (r[0], max(1, r[1]), r[2])
                var last: Int
                if lastKey >= 0 {
                    last = start + lastKey
                } else if limit <= 1 {
                    last = argc + lastKey
                } else {
                    // Redis: the keys run to the end, divided by limit.
                    last = start + ((argc - start) / limit) - 1
                }
                last = min(last, argc - 1)
                var i = start
                while i <= last { found.append(Found(position: i, flags: flags)); i += step }
            } else if find.hasPrefix("keynum:") {
                let r = find.dropFirst(7).split(separator: ",").compactMap { Int($0) }
                guard r.count == 3 else { return nil }
                let countIndex = start + r[0]
                guard countIndex < argc,
                      let n = args[countIndex].withUnsafeBytes({ RESPParser.parseInteger($0, from: 0, to: $0.count) }),
                      n >= 0 else { return nil }
                let first = start + r[1], step = max(1, r[2])
                guard first + (n - 1) * step < argc || n == 0 else { return nil }
                for k in 0..<n { found.append(Found(position: first + k * step, flags: flags)) }
            } else {
                return nil
            }
        }
        return found
    }

    /// begin_search: `index:N`, or `keyword:WORD,startfrom` (startfrom < 0 counts from the end
    /// and searches backward, as Redis); the position after the keyword.
    private static func begin(_ text: String, args: [[UInt8]]) -> Int? {
        if text.hasPrefix("index:") { return Int(text.dropFirst(6)) }
        guard text.hasPrefix("keyword:") else { return nil }
        let fields = text.dropFirst(8).split(separator: ",", omittingEmptySubsequences: false)
        guard fields.count == 2, let from = Int(fields[1]) else { return nil }
        let word = Array(CommandArgument.unescape(String(fields[0])).uppercased().utf8)
        let argc = args.count
        let indices: StrideTo<Int> = from >= 0
            ? stride(from: from, to: argc, by: 1)
            : stride(from: argc + from, to: 0, by: -1)
        for i in indices where i > 0 && i < argc && args[i].count == word.count {
            if zip(args[i], word).allSatisfy({ ($0 >= 97 && $0 <= 122 ? $0 - 32 : $0) == $1 }) { return i + 1 }
        }
        return nil
    }
}
