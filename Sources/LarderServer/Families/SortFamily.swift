import Foundation
import LarderRESP
import LarderStore

/// SORT and SORT_RO (Redis' sort.c): sort the elements of a list or set numerically (strtod)
/// or byte-wise (ALPHA), by the elements themselves or by the values of other keys named by
/// a BY pattern (`weight_*`, `obj_*->field`), with LIMIT, GET patterns (`#` is the element)
/// and, for SORT, STORE into a list.
///
/// Keys named by BY/GET patterns may live on any shard: a call whose patterns look keys up
/// borrows every shard (`CommandSpec.namesUnlistedKeys`), so it reads them all at one instant,
/// as Redis does in its single thread; any other call is routed by its key and STORE key alone.
/// Redis refuses such patterns only in cluster mode, where keys live on other nodes; Larder's
/// shards are one node, so it accepts them as a standalone Redis does.
enum SortFamily {
    static let commands: [CommandSpec] = [
        CommandSpec("sort", arity: -2, flags: [.write, .denyoom], keys: .sortKeys, group: "generic",
                    namesUnlistedKeys: { lookupsByPattern($0, readonly: false) }, handler: sort),
        // COMMAND INFO shows both as movablekeys: Redis' key specs for the BY/GET patterns are
        // of unknown position (CommandDescription.withMovableKeys).
        CommandSpec("sort_ro", arity: -2, flags: [.readonly], keys: .one, group: "generic",
                    namesUnlistedKeys: { lookupsByPattern($0, readonly: true) }, handler: sortRO),
    ]

    /// Where the elements come from. Sorted sets, when they exist, are one more case here and
    /// in `load` (their natural order is by score, as a list's is by position).
    enum Source {
        case list(ListObject)
        case set(SetObject)
        case zset(ZSetObject)
        case none
    }

    struct Options {
        var desc = false, alpha = false
        var limitStart = 0, limitCount = -1
        var storeIndex: Int? = nil
        var byIndex: Int? = nil
        var dontSort = false
        var getIndexes: [Int] = []
    }

    enum ParseError: Error { case syntax, notInteger, byDenied, getDenied }

    /// Redis' option loop: the first bad option ends it with its error.
    static func parse(_ args: Arguments, readonly: Bool, fullKeyAccess: Bool = true) -> Result<Options, ParseError> {
        var o = Options()
        var j = 2
        while j < args.count {
            let left = args.count - j - 1
            if args.equalsKeyword(j, "ASC") {
                o.desc = false
            } else if args.equalsKeyword(j, "DESC") {
                o.desc = true
            } else if args.equalsKeyword(j, "ALPHA") {
                o.alpha = true
            } else if args.equalsKeyword(j, "LIMIT") && left >= 2 {
                guard let s = RESPParser.parseInteger(args[j + 1], from: 0, to: args[j + 1].count),
                      let c = RESPParser.parseInteger(args[j + 2], from: 0, to: args[j + 2].count) else { return .failure(.notInteger) }
                o.limitStart = s; o.limitCount = c
                j += 2
            } else if !readonly && args.equalsKeyword(j, "STORE") && left >= 1 {
                o.storeIndex = j + 1
                j += 1
            } else if args.equalsKeyword(j, "BY") && left >= 1 {
                o.byIndex = j + 1
                // A BY pattern without '*' names one constant key: nothing to sort by.
                if args[j + 1].firstIndex(of: UInt8(ascii: "*")) == nil { o.dontSort = true }
                else if !fullKeyAccess { return .failure(.byDenied) }
                j += 1
            } else if args.equalsKeyword(j, "GET") && left >= 1 {
                if !fullKeyAccess { return .failure(.getDenied) }
                o.getIndexes.append(j + 1)
                j += 1
            } else {
                return .failure(.syntax)
            }
            j += 1
        }
        return .success(o)
    }

    /// Whether the call reads keys its key positions do not list (a BY or GET pattern with '*').
    static func lookupsByPattern(_ args: Arguments, readonly: Bool) -> Bool {
        guard case .success(let o) = parse(args, readonly: readonly) else { return false }
        if let b = o.byIndex, !o.dontSort, args[b].contains(UInt8(ascii: "*")) { return true }
        return o.getIndexes.contains { args[$0].contains(UInt8(ascii: "*")) }
    }

    /// The STORE key's index for routing (Redis' sortGetKeys: it skips each option's
    /// arguments, so `GET store` is a GET pattern, not a STORE).
    static func storeKeyIndex(argc: Int, argument: (Int) -> UnsafeRawBufferPointer) -> Int? {
        var found: Int? = nil
        var j = 2
        func isWord(_ i: Int, _ w: StaticString) -> Bool {
            let a = argument(i)
            guard a.count == w.utf8CodeUnitCount else { return false }
            let p = w.utf8Start
            for k in 0..<a.count where (a[k] >= 97 && a[k] <= 122 ? a[k] - 32 : a[k]) != p[k] { return false }
            return true
        }
        while j < argc {
            if isWord(j, "LIMIT") { j += 2 }
            else if isWord(j, "GET") || isWord(j, "BY") { j += 1 }
            else if isWord(j, "STORE") { if j + 1 < argc { found = j + 1 }; j += 1 }
            j += 1
        }
        return found
    }

    static func sort(_ ctx: inout CommandContext, _ args: Arguments) { run(&ctx, args, readonly: false) }
    static func sortRO(_ ctx: inout CommandContext, _ args: Arguments) { run(&ctx, args, readonly: true) }

    /// One element being sorted: its bytes, and what it is compared by.
    struct Item {
        var element: [UInt8]
        var score = 0.0
        var byValue: [UInt8]? = nil
    }

    static func run(_ ctx: inout CommandContext, _ args: Arguments, readonly: Bool) {
        let fullKeyAccess = ctx.session?.acl.hasFullKeyAccess ?? true
        var o: Options
        switch parse(args, readonly: readonly, fullKeyAccess: fullKeyAccess) {
        case .success(let parsed): o = parsed
        case .failure(.syntax): ctx.syntaxError(); return
        case .failure(.notInteger): ctx.notInteger(); return
        case .failure(.byDenied):
            ctx.out.error("ERR BY option of SORT denied due to insufficient ACL permissions." as StaticString); return
        case .failure(.getDenied):
            ctx.out.error("ERR GET option of SORT denied due to insufficient ACL permissions." as StaticString); return
        }
        let source: Source
        let (db, _, slot) = ctx.lookup(args[1], read: true)
        if let slot {
            switch db.value(at: slot) {
            case .list(let l): source = .list(l)
            case .set(let s): source = .set(s)
            case .zset(let z): source = .zset(z)
            default: ctx.wrongType(); return
            }
        } else {
            source = .none
        }
        var sortBy = o.byIndex.map { args.bytes($0) }
        // A set has no order of its own: a stored result is sorted anyway, so it is the same
        // on every run (Redis does the same for STORE and scripts).
        if o.dontSort, case .set = source, o.storeIndex != nil {
            o.dontSort = false; o.alpha = true; sortBy = nil
        }
        var items = load(source)
        let length = items.count
        var start = min(max(o.limitStart, 0), length)
        let limitCount = min(max(o.limitCount, -1), length)
        var end = limitCount < 0 ? length - 1 : start + limitCount - 1
        if start >= length { start = length - 1; end = length - 2 }
        if end >= length { end = length - 1 }

        if o.dontSort {
            // Natural order; for a list, DESC walks it from the tail (Redis reads the range
            // from the other end).
            switch source {
            case .list, .zset: if o.desc { items.reverse() }
            case .set, .none: break
            }
        } else {
            var conversionError = false
            for k in items.indices {
                let byValue: [UInt8]?
                if let sortBy {
                    byValue = lookup(&ctx, pattern: sortBy, element: items[k].element)
                    guard byValue != nil else { continue }
                } else {
                    byValue = nil
                }
                if o.alpha {
                    if sortBy != nil { items[k].byValue = byValue }
                } else {
                    guard let score = strtodWhole(byValue ?? items[k].element) else { conversionError = true; continue }
                    items[k].score = score
                }
            }
            if conversionError {
                ctx.out.error("ERR One or more scores can't be converted into double" as StaticString); return
            }
            let desc = o.desc, alpha = o.alpha, byPattern = sortBy != nil
            items.sort { a, b in
                let c = compare(a, b, alpha: alpha, byPattern: byPattern)
                return desc ? c > 0 : c < 0
            }
        }

        let gets = o.getIndexes.map { args.bytes($0) }
        let outputLength = end >= start ? (gets.isEmpty ? 1 : gets.count) * (end - start + 1) : 0
        guard let storeIndex = o.storeIndex else {
            ctx.out.arrayHeader(outputLength)
            guard end >= start else { return }
            for k in start...end {
                if gets.isEmpty { ctx.out.bulk(items[k].element) }
                for g in gets {
                    if let v = lookup(&ctx, pattern: g, element: items[k].element) { ctx.out.bulk(v) } else { ctx.out.null() }
                }
            }
            return
        }
        let result = ListObject()
        if end >= start {
            for k in start...end {
                if gets.isEmpty { result.push(items[k].element, left: false) }
                for g in gets { result.push(lookup(&ctx, pattern: g, element: items[k].element) ?? [], left: false) }
            }
        }
        let storeKey = args[storeIndex]
        let (storeDB, storeHash, storeSlot) = ctx.lookup(storeKey)
        if outputLength > 0 {
            storeDB.set(storeKey, hash: storeHash, value: .list(result), expireAt: 0, now: ctx.now)
            ctx.signalListReady(storeKey, hash: storeHash)
        } else if let storeSlot {
            storeDB.remove(at: storeSlot)
        }
        ctx.out.integer(outputLength)
    }

    /// The elements in their natural order (a list's, a set's iteration order).
    static func load(_ source: Source) -> [Item] {
        var items: [Item] = []
        switch source {
        case .list(let l):
            items.reserveCapacity(l.count)
            l.forEach { items.append(Item(element: Array($0))) }
        case .set(let s):
            items.reserveCapacity(s.count)
            s.forEach { items.append(Item(element: $0)) }
        case .zset(let z):
            // Score order (Redis' sortCommand reads a sorted set's range in order).
            items.reserveCapacity(z.count)
            z.forEach { m, _ in items.append(Item(element: Array(m))) }
        case .none:
            break
        }
        return items
    }

    /// Redis' sortCompare: numeric by score then by the element's bytes; ALPHA by the BY value
    /// (a missing one first) or by the element's bytes. Byte order is what Redis' strcoll gives
    /// in the C locale, the one it runs in unless LC_COLLATE says otherwise.
    static func compare(_ a: Item, _ b: Item, alpha: Bool, byPattern: Bool) -> Int {
        if !alpha {
            if a.score > b.score { return 1 }
            if a.score < b.score { return -1 }
            return bytesCompare(a.element, b.element)
        }
        if byPattern {
            switch (a.byValue, b.byValue) {
            case (nil, nil): return 0
            case (nil, _): return -1
            case (_, nil): return 1
            case (let x?, let y?): return bytesCompare(x, y)
            }
        }
        return bytesCompare(a.element, b.element)
    }

    static func bytesCompare(_ a: [UInt8], _ b: [UInt8]) -> Int {
        let n = min(a.count, b.count)
        for i in 0..<n where a[i] != b[i] { return a[i] < b[i] ? -1 : 1 }
        return a.count == b.count ? 0 : (a.count < b.count ? -1 : 1)
    }

    /// strtod over the value, as Redis: nil when bytes remain after the number, on overflow,
    /// and for NaN. An empty value is 0, and a NUL ends the text, as for Redis' strtod.
    static func strtodWhole(_ bytes: [UInt8]) -> Double? {
        var text = bytes
        text.append(0)
        return text.withUnsafeBufferPointer { p -> Double? in
            let start = UnsafeRawPointer(p.baseAddress!).assumingMemoryBound(to: CChar.self)
            var end: UnsafeMutablePointer<CChar>? = nil
            errno = 0
            let v = strtod(start, &end)
            guard let end, end.pointee == 0, errno != ERANGE, !v.isNaN else { return nil }
            return v
        }
    }

    /// Redis' lookupKeyByPattern: `#` is the element; otherwise the first '*' is replaced by the
    /// element, and `->field` after it (with a non-empty field) reads a hash field. A pattern
    /// without '*', a missing key or one of another type gives nil.
    static func lookup(_ ctx: inout CommandContext, pattern: [UInt8], element: [UInt8]) -> [UInt8]? {
        if pattern == [UInt8(ascii: "#")] { return element }
        guard let star = pattern.firstIndex(of: UInt8(ascii: "*")) else { return nil }
        var keyEnd = pattern.count
        var field: [UInt8]? = nil
        if pattern.count >= star + 3 {
            for i in (star + 1)..<(pattern.count - 1) where pattern[i] == UInt8(ascii: "-") && pattern[i + 1] == UInt8(ascii: ">") {
                if i + 2 < pattern.count { field = Array(pattern[(i + 2)...]); keyEnd = i }
                break
            }
        }
        let key = Array(pattern[..<star]) + element + Array(pattern[(star + 1)..<keyEnd])
        return key.withUnsafeBytes { k -> [UInt8]? in
            let (db, _, slot) = ctx.lookup(k, read: true)
            guard let slot else { return nil }
            switch db.value(at: slot) {
            case .string(let s): return field == nil ? s : nil
            case .hash(let h): return field.flatMap { h.value($0) }
            default: return nil
            }
        }
    }
}
