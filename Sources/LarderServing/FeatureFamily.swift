import Foundation
import LarderFeatures
import LarderRESP
import LarderServer
import LarderStore

/// The feature command family (dotted names, as Redis modules name theirs):
///
///     FEATURES.GET (SERVICE name | REFS n view:feature...) [IGNORETTL | ENFORCETTL]
///                  ENTITIES k join_key... value...
///     FEATURES.PUSH (view | push_source) COLUMNS n column... VALUES value...
///     FEATURES.RELOAD
///
/// Their keys are computed from the definitions, not named by the arguments, so they route as
/// `.allShards`: every shard is held for the command (one hop per other shard, none with one
/// shard), and all of a request's rows are read in one client round trip.
public enum FeatureFamily {
    public static func commands(_ state: ServingState) -> [CommandSpec] {
        [
            CommandSpec("features.get", arity: -5, flags: [.readonly], route: .allShards, group: "features",
                        summary: "Returns typed feature values, a status per feature and the event time for entity rows.",
                        since: "1.0.0", handler: { ctx, args in get(&ctx, args, state) }),
            CommandSpec("features.push", arity: -6, flags: [.write, .denyoom], route: .allShards, group: "features",
                        summary: "Writes rows into a feature view or push source when newer than what is stored.",
                        since: "1.0.0", handler: { ctx, args in push(&ctx, args, state) }),
            CommandSpec("features.reload", arity: 1, flags: [.admin], group: "features",
                        summary: "Loads the feature definitions again; a failing load keeps the old ones.",
                        since: "1.0.0", handler: { ctx, _ in reload(&ctx, state) }),
        ]
    }

    // MARK: FEATURES.GET

    static func get(_ ctx: inout CommandContext, _ args: Arguments, _ state: ServingState) {
        // Taken once (ServingState.catalog is behind a lock): one lock per request, and one
        // definitions load for the whole read even if a reload lands meanwhile.
        let catalog = state.catalog
        let scratch = ReadScratch.current
        let plan: GetPlan
        if let hit = scratch.pointee.plans.lookup(args, catalog: catalog) {
            plan = hit
        } else {
            do { plan = try makePlan(args, catalog) } catch {
                ctx.out.error("ERR \(error)"); return
            }
            scratch.pointee.plans.insert(plan, args)
        }
        // The one check a cached plan leaves to each request: the number of entity values.
        let valueCount = args.count - plan.rowsAt
        guard valueCount > 0, valueCount % plan.k == 0 else {
            ctx.out.error("ERR ENTITIES has \(valueCount) values, not a positive multiple of its \(plan.k) join keys"); return
        }
        let options = ReadOptions(enforceTTL: plan.enforceTTL ?? state.enforceTTLByDefault, now: Double(ctx.now) / 1000)
        plan.keyPlan.withUnsafeBufferPointer { kp in
            // A view whose join keys are the given ones in order reads the row's values as they
            // are (no per-view array): the common case of one entity.
            read(ctx, args, state, catalog, plan.selection, options: options, rowsAt: plan.rowsAt, k: plan.k,
                 neededOf: kp.baseAddress!, positions: kp.baseAddress! + plan.k, identity: plan.identity)
        }
    }

    /// A refused FEATURES.GET prefix: the reply's message after `ERR `.
    struct PlanError: Error, CustomStringConvertible { let description: String }

    /// FEATURES.GET's arguments up to the entity values, checked and resolved into a GetPlan
    /// (the selection through the catalog's selection cache); the errors name what is wrong.
    /// Run once per distinct prefix: later requests take the plan from GetPlanCache.
    static func makePlan(_ args: Arguments, _ catalog: ServingCatalog) throws -> GetPlan {
        var i = 1
        let selection: FeatureSelection
        if args.equalsKeyword(i, "SERVICE") {
            selection = try catalog.selectionCache.selection(kind: 1, args: args, range: (i + 1)..<(i + 2)) {
                try catalog.selection(service: args.string(i + 1))
            }
            i += 2
        } else if args.equalsKeyword(i, "REFS") {
            guard let n = ValueText.int64(args[i + 1]).map(Int.init), n > 0, n <= args.count, i + 2 + n <= args.count else {
                throw PlanError(description: "REFS needs a positive count followed by that many view:feature references")
            }
            let first = i + 2
            selection = try catalog.selectionCache.selection(kind: 2, args: args, range: first..<(first + n)) {
                try catalog.selection(refs: (0..<n).map { args.string(first + $0) })
            }
            i += 2 + n
        } else {
            throw PlanError(description: "FEATURES.GET expects SERVICE <name> or REFS <n> <view:feature>... first")
        }
        var enforceTTL: Bool? = nil
        if i < args.count && args.equalsKeyword(i, "IGNORETTL") { enforceTTL = false; i += 1 }
        else if i < args.count && args.equalsKeyword(i, "ENFORCETTL") { enforceTTL = true; i += 1 }
        guard i + 1 < args.count, args.equalsKeyword(i, "ENTITIES"), let k = ValueText.int64(args[i + 1]).map(Int.init), k > 0 else {
            throw PlanError(description: "FEATURES.GET expects ENTITIES <k> <join_key>... <value>... after the features")
        }
        i += 2
        guard k <= args.count, i + k <= args.count else { throw PlanError(description: "ENTITIES announces \(k) join keys but fewer follow") }
        let keysAt = i
        i += k
        let valueCount = args.count - i
        guard valueCount > 0, valueCount % k == 0 else {
            throw PlanError(description: "ENTITIES has \(valueCount) values, not a positive multiple of its \(k) join keys")
        }
        let needed = selection.joinKeys
        // neededOf: each given key's entry in `needed`; givenOf: the first given key of each needed one.
        var neededOf = [Int](repeating: -1, count: k)
        var givenOf = [Int](repeating: -1, count: needed.count)
        for j in 0..<k {
            let x = selection.joinKeyIndex(args[keysAt + j]) ?? -1
            neededOf[j] = x
            if x >= 0 && givenOf[x] < 0 { givenOf[x] = j }
        }
        if let missing = (0..<needed.count).first(where: { givenOf[$0] < 0 }) {
            let given = (0..<k).map { args.string(keysAt + $0) }
            throw PlanError(description: "join key \(needed[missing].name) is needed by the requested features but not given (given: \(given.joined(separator: ", ")))")
        }
        if let j = (0..<k).first(where: { neededOf[$0] < 0 }) {
            throw PlanError(description: "join key \(args.string(keysAt + j)) is not used by the requested features (used: \(needed.map(\.name).joined(separator: ", ")))")
        }
        var inOrder = k == needed.count
        for x in 0..<needed.count where givenOf[x] != x { inOrder = false }
        let positions = selection.groupKeyIndexes.map { givenOf[$0] }
        return GetPlan(catalog: catalog, selection: selection, enforceTTL: enforceTTL, rowsAt: i, k: k,
                       keyPlan: neededOf + positions, identity: inOrder ? selection.inOrderGroups : 0, args: args)
    }

    /// FEATURES.GET's rows from argument `rowsAt` on, `k` values each, once the request is checked.
    static func read(_ ctx: CommandContext, _ args: Arguments, _ state: ServingState, _ catalog: ServingCatalog, _ selection: FeatureSelection,
                     options: ReadOptions, rowsAt i: Int, k: Int, neededOf: UnsafePointer<Int>,
                     positions: UnsafePointer<Int>, identity: Int) {
        let needed = selection.joinKeys
        let groups = selection.groups
        let groupCount = groups.count
        let rows = (args.count - i) / k
        let scratch = ReadScratch.current
        let out = ctx.out
        // The reply is written as the rows are read, straight from the hashes' bytes; an error
        // in row 7 truncates it back to this mark, so no half-written reply goes out.
        let mark = out.count
        let failure: String? = withUnsafeTemporaryAllocation(of: Int.self, capacity: groupCount * 4) { statusCounts in
            statusCounts.initialize(repeating: 0)
            return withUnsafeTemporaryAllocation(of: Double.self, capacity: rows * groupCount) { ages in
                do {
                    out.arrayHeader(rows)
                    // One INT64 join key (Feast's usual entity): its value is parsed straight
                    // into `single` and the row's FeastValue array is made only if a view needs
                    // the general key encoder (measured reason: the array's reset and append; the
                    // handler went from 8,211 to 7,986 instructions at 1 x 10, callgrind).
                    let singleInt64 = k == 1 && needed[neededOf[0]].type == .int64
                    for r in 0..<rows {
                        let single = singleInt64 ? ValueText.int64(args[i + r]) : nil
                        @inline(__always) func rowValues() throws {
                            scratch.pointee.rowValues.removeAll(keepingCapacity: true)
                            for j in 0..<k {
                                let x = needed[neededOf[j]]
                                scratch.pointee.rowValues.append(try ValueText.entityValue(bytes: args[i + r * k + j], type: x.type, joinKey: x.name))
                            }
                        }
                        // Every value is checked (and its error thrown) before the row is written.
                        if single == nil { try rowValues() }
                        out.mapHeader(selection.featureCount)
                        var p = 0
                        for gi in 0..<groupCount {
                            let g = groups[gi]
                            let keyCount = g.view.joinKeys.count
                            var int64Value = single
                            if keyCount == 1 && single == nil, case .int64(let v) = scratch.pointee.rowValues[positions[p]] { int64Value = v }
                            let hash: HashView?
                            if keyCount == 1, let prefix = g.view.int64KeyPrefix, let v = int64Value,
                               let key = int64Key(scratch.pointee.keyBuffer, prefix, v, catalog.projectBytes) {
                                let (db, _, slot) = ctx.lookup(key)
                                hash = slot.flatMap { db.hashView(at: $0) }
                            } else {
                                if single != nil { try rowValues() }
                                scratch.pointee.key.removeAll(keepingCapacity: true)
                                do {
                                    if gi < Int.bitWidth && identity & (1 << gi) != 0 {
                                        try g.view.layout.keyEncoder.append(values: scratch.pointee.rowValues, suffix: catalog.project, to: &scratch.pointee.key)
                                    } else {
                                        scratch.pointee.keyValues.removeAll(keepingCapacity: true)
                                        for x in 0..<keyCount { scratch.pointee.keyValues.append(scratch.pointee.rowValues[positions[p + x]]) }
                                        try g.view.layout.keyEncoder.append(values: scratch.pointee.keyValues, suffix: catalog.project, to: &scratch.pointee.key)
                                    }
                                } catch {
                                    throw ServingError(.badEntity, "entity key of feature view \(g.view.name): \(error)")
                                }
                                hash = scratch.pointee.key.withUnsafeBytes { kb in
                                    let (db, _, slot) = ctx.lookup(kb)
                                    guard let slot else { return nil }
                                    return db.hashView(at: slot)
                                }
                            }
                            p += keyCount
                            let read = try FeatureRead.write(hash: hash, group: g, options: options, out: out,
                                                             statusCounts: statusCounts.baseAddress! + 4 * gi)
                            ages[r * groupCount + gi] = read.age ?? .nan
                        }
                    }
                } catch {
                    return "ERR \(error)"
                }
                state.metrics.recordRead(selection: selection, rows: rows,
                                         statusCounts: UnsafeBufferPointer(statusCounts),
                                         ages: UnsafeBufferPointer(ages))
                return nil
            }
        }
        if let failure {
            out.truncate(to: mark)
            ctx.out.error(failure)
        }
    }

    /// The row key of a single-INT64-key view (`prefix`, the value's 8 little-endian bytes, the
    /// project) written into this thread's key buffer; nil when it does not fit. Measured
    /// reason: three appends to a scratch array (its uniqueness and capacity checks) were ~280
    /// of a 1 x 10 request's instructions; a stack buffer filled in a closure copied the
    /// CommandContext it captured (~285 more).
    @inline(__always)
    static func int64Key(_ buffer: UnsafeMutableRawPointer, _ prefix: [UInt8], _ v: Int64, _ project: [UInt8]) -> UnsafeRawBufferPointer? {
        let total = prefix.count + 8 + project.count
        guard total <= ReadScratch.keyBufferSize else { return nil }
        prefix.withUnsafeBytes { if $0.count > 0 { buffer.copyMemory(from: $0.baseAddress!, byteCount: $0.count) } }
        (buffer + prefix.count).storeBytes(of: v.littleEndian, as: Int64.self)
        project.withUnsafeBytes { if $0.count > 0 { (buffer + prefix.count + 8).copyMemory(from: $0.baseAddress!, byteCount: $0.count) } }
        return UnsafeRawBufferPointer(start: buffer, count: total)
    }

    /// A value in its native RESP type: RESP3 doubles and booleans, integers, bulk strings,
    /// arrays; ReplyWriter turns doubles into bulk strings and booleans into 1/0 for RESP2.
    static func writeValue(_ v: FeastValue, _ out: ReplyWriter) {
        switch v {
        case .null: out.null()
        case .bytes(let b): out.bulk(b)
        case .string(let s): out.bulk(s)
        case .int32(let x): out.integer(Int(x))
        case .int64(let x): out.integer(Int(x))
        case .unixTimestamp(let x): out.integer(Int(x))
        case .double(let x): out.double(x)
        case .float(let x): out.double(Double(x))
        case .bool(let b): out.boolean(b)
        case .bytesList(let xs): out.arrayHeader(xs.count); for x in xs { out.bulk(x) }
        case .stringList(let xs): out.arrayHeader(xs.count); for x in xs { out.bulk(x) }
        case .int32List(let xs): out.arrayHeader(xs.count); for x in xs { out.integer(Int(x)) }
        case .int64List(let xs): out.arrayHeader(xs.count); for x in xs { out.integer(Int(x)) }
        case .unixTimestampList(let xs): out.arrayHeader(xs.count); for x in xs { out.integer(Int(x)) }
        case .doubleList(let xs): out.arrayHeader(xs.count); for x in xs { out.double(x) }
        case .floatList(let xs): out.arrayHeader(xs.count); for x in xs { out.double(Double(x)) }
        case .boolList(let xs): out.arrayHeader(xs.count); for x in xs { out.boolean(x) }
        }
    }

    // MARK: FEATURES.PUSH

    static func push(_ ctx: inout CommandContext, _ args: Arguments, _ state: ServingState) {
        let catalog = state.catalog
        let target = args.string(1)
        guard args.equalsKeyword(2, "COLUMNS"), let n = Int(args.string(3)), n > 0, 4 + n < args.count,
              args.equalsKeyword(4 + n, "VALUES") else {
            ctx.out.error("ERR FEATURES.PUSH expects <view|push_source> COLUMNS <n> <column>... VALUES <value>..."); return
        }
        let columns = (0..<n).map { args.string(4 + $0) }
        let first = 5 + n
        let valueCount = args.count - first
        guard valueCount > 0, valueCount % n == 0 else {
            ctx.out.error("ERR VALUES has \(valueCount) values, not a positive multiple of its \(n) columns"); return
        }
        let rows = valueCount / n
        let table = (0..<rows).map { r in (0..<n).map { Array(args[first + r * n + $0]) } }
        do {
            let views = try PushRows.targetViews(target, catalog: catalog)
            var encoded: [(ServingView, [EncodedRow])] = []
            for v in views {
                encoded.append((v, try PushRows.encodeText(columns: columns, rows: table, view: v, project: catalog.project)))
            }
            var written = 0
            for (v, rowsOfView) in encoded {
                var writtenHere = 0
                defer {
                    state.metrics.recordWrite(view: v.name, written: writtenHere, skipped: rowsOfView.count - writtenHere,
                                              pushSource: v.name == target ? nil : target)
                }
                for row in rowsOfView {
                    let keyspace = row.key.withUnsafeBytes { ctx.db(for: $0).db }
                    switch FeatureWrite.write(row, view: v, keyTTLSeconds: catalog.keyTTLSeconds, keyspace: keyspace, nowMilliseconds: ctx.now) {
                    case .written:
                        written += 1; writtenHere += 1
                        FeatureWrite.propagate(row, view: v, keyTTLSeconds: catalog.keyTTLSeconds, nowMilliseconds: ctx.now,
                                               db: ctx.dbIndex, server: ctx.server)
                    case .olderSkipped: break
                    case .wrongType: ctx.wrongType(); return
                    }
                }
            }
            ctx.out.integer(written)
        } catch {
            ctx.out.error("ERR \(error)")
        }
    }

    // MARK: FEATURES.RELOAD

    static func reload(_ ctx: inout CommandContext, _ state: ServingState) {
        switch state.reload() {
        case .success: ctx.out.ok()
        case .failure(let error):
            ctx.out.error("ERR reload failed, the previous definitions keep serving: \(String(describing: error).replacingOccurrences(of: "\n", with: "; "))")
        }
    }
}
