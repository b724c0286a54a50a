#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import LarderFeatures
import LarderServer
import LarderStore
import NIOCore

/// One /get-online-features request's working buffers: the parsed request, the typed entity
/// values, the keys, the shard's cells and the response text. Kept between requests (a free
/// list per loop thread, OnlineScratchPool) so a request allocates none of them. Measured with
/// the body scan and the byte-keyed plan cache of the same commit: 62.2 -> 8.8 mallocs and
/// 93,073 -> 60,044 instructions per 1 x 10 request under callgrind.
struct OnlineScratch {
    struct Task { var row: Int; var group: Int; var key: Range<Int> }

    var request = OnlineRequest()
    /// The JSONValue path's copy of the request's strings (OnlineRequest.fill).
    var text: [UInt8] = []
    /// The entity columns the selection uses, in request order: their join key (index into
    /// the selection's joinKeys); their values row by row, column after column, in `values`.
    var usedKeys: [Int] = []
    var values: [FeastValue] = []
    /// Per join key, the first used column that gives it.
    var columnOfKey: [Int] = []
    var keyValues: [FeastValue] = []
    var keys: [UInt8] = []
    var tasks: [Task] = []
    var shards: [Int] = []
    var block = FeatureRead.JSONBlock()
    /// Per (row, view), row-major: its first cell in `block` and its event time.
    var cellBase: [Int] = []
    var eventTimes: [ProtoTimestamp] = []
    var statusCounts: [Int] = []
    var ages: [Double] = []
    /// Each (row, view)'s event time as quoted RFC 3339 text, back to back (`timeEnds`).
    var times: [UInt8] = []
    var timeEnds: [Int] = []
    /// The last event time formatted by this scratch and its text: rows written in the same
    /// second as the previous request's are not formatted again.
    var lastTime = ProtoTimestamp(seconds: 0)
    var lastTimeText: [UInt8] = []
    /// The response: the entity columns' JSON (values through JSONWriter.feast) and their
    /// names, then the whole text through `raw`, copied once into `out` for the reply.
    var entityJSON: [UInt8] = []
    var entityNames: [UInt8] = []
    var raw = RawOut(capacity: 4096)
    var out: [UInt8] = []
    var error: ServingError?
    /// Whether the read's runOnShardHere call has returned (on the request's loop only).
    var returned = false

    init() {
        block.text.bytes.reserveCapacity(1024)
        keys.reserveCapacity(256)
        out.reserveCapacity(4096)
        times.reserveCapacity(256)
        JSONWriter.appendTimestamp(lastTime, to: &lastTimeText)
    }

    /// Frees what the arrays do not own (before deinitialize).
    func free() { raw.free() }
}

/// Bytes written through a cursor into memory of its own, grown when needed: a constant string
/// or a run of bytes is one memcpy. Measured reason: Array.append(contentsOf:) was ~90
/// instructions a call, 47 calls and 4,300 instructions of a 1 x 10 response under callgrind.
struct RawOut {
    private(set) var base: UnsafeMutableRawPointer
    private(set) var capacity: Int
    var count = 0

    init(capacity: Int) {
        base = .allocate(byteCount: capacity, alignment: 16)
        self.capacity = capacity
    }

    func free() { base.deallocate() }

    var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: base, count: count) }

    @inline(__always) mutating func ensure(_ n: Int) { if capacity - count < n { grow(n) } }

    @inline(never) mutating func grow(_ n: Int) {
        let c = max(2 * capacity, count + n)
        let p = UnsafeMutableRawPointer.allocate(byteCount: c, alignment: 16)
        p.copyMemory(from: base, byteCount: count)
        base.deallocate()
        base = p
        capacity = c
    }

    @inline(__always) mutating func put(_ s: StaticString) {
        let n = s.utf8CodeUnitCount
        ensure(n)
        (base + count).copyMemory(from: s.utf8Start, byteCount: n)
        count += n
    }

    @inline(__always) mutating func put(_ b: UnsafeRawBufferPointer) {
        guard let p = b.baseAddress, b.count > 0 else { return }
        ensure(b.count)
        (base + count).copyMemory(from: p, byteCount: b.count)
        count += b.count
    }

    @inline(__always) mutating func put(_ c: UInt8) {
        ensure(1)
        base.storeBytes(of: c, toByteOffset: count, as: UInt8.self)
        count += 1
    }
}

/// Each loop thread's free OnlineScratch buffers. A request takes one and gives it back on the
/// same thread once answered (its answer is written on its connection's loop); one waiting at
/// another shard keeps its own, so the list grows to the requests in flight on the thread.
/// Reached through a pthread key, as ReadScratch (a pointer's pointee has no exclusivity check).
enum OnlineScratchPool {
    private struct Free { var list: [UnsafeMutablePointer<OnlineScratch>] = [] }

    private static let threadKey: pthread_key_t = {
        var k = pthread_key_t()
        let rc = pthread_key_create(&k) { p in
            guard let p else { return }
            let free = p.assumingMemoryBound(to: Free.self)
            for s in free.pointee.list { s.pointee.free(); s.deinitialize(count: 1); s.deallocate() }
            free.deinitialize(count: 1)
            free.deallocate()
        }
        precondition(rc == 0, "pthread_key_create failed (\(rc)) for the HTTP read's scratch buffers")
        return k
    }()

    private static var free: UnsafeMutablePointer<Free> {
        if let p = pthread_getspecific(threadKey) { return p.assumingMemoryBound(to: Free.self) }
        let f = UnsafeMutablePointer<Free>.allocate(capacity: 1)
        f.initialize(to: Free())
        f.pointee.list.reserveCapacity(8)
        pthread_setspecific(threadKey, f)
        return f
    }

    static func take() -> UnsafeMutablePointer<OnlineScratch> {
        if let s = free.pointee.list.popLast() { return s }
        let s = UnsafeMutablePointer<OnlineScratch>.allocate(capacity: 1)
        s.initialize(to: OnlineScratch())
        return s
    }

    /// Back to the free list; a scratch grown by a very large request is dropped instead.
    static func give(_ s: UnsafeMutablePointer<OnlineScratch>) {
        let f = free
        if f.pointee.list.count >= 64 || s.pointee.out.capacity > 1 << 20 || s.pointee.keys.capacity > 1 << 20 {
            s.pointee.free()
            s.deinitialize(count: 1)
            s.deallocate()
            return
        }
        f.pointee.list.append(s)
    }
}


extension FeatureRead.JSONBlock {
    mutating func reset() {
        text.bytes.removeAll(keepingCapacity: true)
        ends.removeAll(keepingCapacity: true)
        statuses.removeAll(keepingCapacity: true)
        firstCell.removeAll(keepingCapacity: true)
        eventTimes.removeAll(keepingCapacity: true)
    }
}

extension HTTPFeatureAPI {
    // MARK: POST /get-online-features

    /// The read, from the body's bytes (valid during this call only: whatever the answer needs
    /// later is copied into the scratch first) to the answer.
    func getOnlineFeatures(body: UnsafeRawBufferPointer, loop: EventLoop, respond: @escaping (HTTPReply) -> Void) {
        let s = OnlineScratchPool.take()
        var handedOff = false
        defer { if !handedOff { OnlineScratchPool.give(s) } }
        do {
            if OnlineBodyScanner.scan(body, into: &s.pointee.request) {
                try read(s, source: body, loop: loop, respond: respond, handedOff: &handedOff)
            } else {
                // Left to JSONValue: its errors as before (json_invalid with the offset), or the
                // same request from its tree.
                let doc: JSONValue
                do { doc = try JSONValue.parse(Array(body)) } catch let e as JSONValue.ParseError {
                    respond(.invalidJSON(e)); return
                }
                guard case .object(let fields) = doc else {
                    respond(.invalidField("body", "Input should be a valid dictionary", type: "dict_type")); return
                }
                s.pointee.text.removeAll(keepingCapacity: true)
                s.pointee.request.fill(from: fields, text: &s.pointee.text)
                let text = s.pointee.text
                try text.withUnsafeBytes { try read(s, source: $0, loop: loop, respond: respond, handedOff: &handedOff) }
            }
        } catch let e as ServingError {
            respond(.feastError(e))
        } catch let e as FieldError {
            respond(.invalidField(e.field, e.message, type: e.type))
        } catch {
            respond(.serverError(error))
        }
    }

    private func flag(_ f: OnlineRequest.Flag, _ name: String, default d: Bool) throws -> Bool {
        switch f {
        case .absent: return d
        case .yes: return true
        case .no: return false
        case .other: throw FieldError(field: name, message: "Input should be a valid boolean", type: "bool_type")
        }
    }

    /// Checks the request in the order Feast's server does (entities, flags, features, then
    /// the entity columns), builds the keys, and reads them on their shards.
    private func read(_ s: UnsafeMutablePointer<OnlineScratch>, source src: UnsafeRawBufferPointer, loop: EventLoop,
                      respond: @escaping (HTTPReply) -> Void, handedOff: inout Bool) throws {
        let catalog = serving.catalog
        guard s.pointee.request.entitiesIsObject else { throw FieldError(field: "entities", message: "Field required", type: "missing") }
        let fullNames = try flag(s.pointee.request.fullNames, "full_feature_names", default: false)
        // Larder's extension: the per-request opt-out of ttl enforcement (Feast's behaviour).
        let enforce = try flag(s.pointee.request.enforceTTL, "enforce_ttl", default: serving.enforceTTLByDefault)
        let service = s.pointee.request.service
        guard service != nil || s.pointee.request.featuresIsList else {
            throw ServingError(.badRequest, "the request names neither features nor a feature_service")
        }
        func text(_ r: Range<Int>) -> String { String(decoding: UnsafeRawBufferPointer(rebasing: src[r]), as: UTF8.self) }
        let plan = try catalog.httpPlans.plan(service: service, refs: s.pointee.request.refs, fullNames: fullNames, source: src) {
            let selection = try service.map { try catalog.selection(service: text($0)) }
                ?? catalog.selection(refs: s.pointee.request.refs.map(text))
            // Output names, checked for collisions as Feast's FeatureNameCollisionError.
            var names: [String] = []
            for g in selection.groups {
                for f in g.features {
                    let n = g.view.layout.featureNames[f]
                    names.append(fullNames ? "\(g.view.name)__\(n)" : n)
                }
            }
            if Set(names).count != names.count {
                let dup = names.first { n in names.filter { $0 == n }.count > 1 }!
                throw ServingError(.nameCollision, "Duplicate features named \(dup) found. To resolve this collision, either use the full feature name by setting 'full_feature_names=True', or ensure that the features in question have different names.")
            }
            return HTTPPlanCache.Plan(selection: selection, names: names)
        }
        let selection = plan.selection
        let needed = selection.joinKeys
        // The entity columns: unknown ones skipped (as Feast), the used ones typed by their join key.
        s.pointee.usedKeys.removeAll(keepingCapacity: true)
        s.pointee.values.removeAll(keepingCapacity: true)
        s.pointee.columnOfKey.removeAll(keepingCapacity: true)
        s.pointee.columnOfKey.append(contentsOf: repeatElement(-1, count: needed.count))
        var rows = -1
        for c in s.pointee.request.columns {
            guard let k = selection.joinKeyIndex(UnsafeRawBufferPointer(rebasing: src[c.name])) else { continue }
            guard c.isList else { throw ServingError(.badEntity, "entity column \(text(c.name)) is not a list") }
            if rows >= 0 && c.values.count != rows {
                throw ServingError(.badEntity, "entity column \(text(c.name)) has \(c.values.count) values, \(needed[s.pointee.usedKeys[0]].name) has \(rows)")
            }
            rows = c.values.count
            if s.pointee.columnOfKey[k] < 0 { s.pointee.columnOfKey[k] = s.pointee.usedKeys.count }
            s.pointee.usedKeys.append(k)
            for t in c.values {
                s.pointee.values.append(try Self.entityValue(s.pointee.request.tokens[t], src, type: needed[k].type, joinKey: needed[k].name))
            }
        }
        for (k, key) in needed.enumerated() where s.pointee.columnOfKey[k] < 0 {
            throw ServingError(.badEntity, "join key \(key.name) is needed by the requested features but missing from entities")
        }
        rows = max(rows, 0)
        // One read task per (row, view), row-major; its key built into one buffer.
        let groups = selection.groups
        let project = catalog.project
        let server = self.server
        s.pointee.keys.removeAll(keepingCapacity: true)
        s.pointee.tasks.removeAll(keepingCapacity: true)
        s.pointee.shards.removeAll(keepingCapacity: true)
        var oneShard = true
        for r in 0..<rows {
            var at = 0
            for (gi, g) in groups.enumerated() {
                let n = g.view.joinKeys.count
                s.pointee.keyValues.removeAll(keepingCapacity: true)
                for j in at..<(at + n) {
                    s.pointee.keyValues.append(s.pointee.values[s.pointee.columnOfKey[selection.groupKeyIndexes[j]] * rows + r])
                }
                at += n
                let start = s.pointee.keys.count
                do {
                    try g.view.layout.keyEncoder.append(values: s.pointee.keyValues, suffix: project, to: &s.pointee.keys)
                } catch {
                    throw ServingError(.badEntity, "entity key of feature view \(g.view.name): \(error)")
                }
                let shard = s.pointee.keys.withUnsafeBytes { server.shardIndex(ofKey: UnsafeRawBufferPointer(rebasing: $0[start...])) }
                if !s.pointee.shards.isEmpty && shard != s.pointee.shards[0] { oneShard = false }
                s.pointee.shards.append(shard)
                s.pointee.tasks.append(OnlineScratch.Task(row: r, group: gi, key: start..<s.pointee.keys.count))
            }
        }
        let options = ReadOptions(enforceTTL: enforce)
        handedOff = true
        s.pointee.error = nil
        s.pointee.block.reset()
        if s.pointee.tasks.isEmpty {
            finish(s, plan: plan, rows: rows, options: options, respond: respond)
        } else if oneShard {
            // Every key on one shard (every read with --threads 1, every 1-entity read): the
            // scratch's own block, read at once when the shard is this loop's.
            // `returned` is read and written on this loop's thread only (the shard's thread
            // tests inEventLoop first); set after the call, it may land in a scratch already back
            // on the free list, which the next take resets (a flag object was a malloc).
            s.pointee.returned = false
            server.runOnShardHere(s.pointee.shards[0]) { shard in
                s.pointee.error = Self.readTasks(shard, s, range: 0..<s.pointee.tasks.count, groups: groups, options: options,
                                                 into: &s.pointee.block)
                if loop.inEventLoop && !s.pointee.returned {
                    self.finish(s, plan: plan, rows: rows, options: options, respond: respond)
                } else {
                    loop.execute { self.finish(s, plan: plan, rows: rows, options: options, respond: respond) }
                }
            }
            s.pointee.returned = true
        } else {
            // Several shards: a block per shard, merged on this loop.
            let items = (0..<s.pointee.tasks.count).map { (shard: s.pointee.shards[$0], item: $0) }
            ShardGather.run(server: server, items: items, on: loop, work: { shard, list -> (tasks: [Int], block: FeatureRead.JSONBlock, error: ServingError?) in
                var block = FeatureRead.JSONBlock()
                var error: ServingError?
                for t in list where error == nil {
                    error = Self.readTasks(shard, s, range: t..<(t + 1), groups: groups, options: options, into: &block)
                }
                return (list, block, error)
            }, done: { results in
                let cellsPerRow = groups.count
                s.pointee.cellBase.removeAll(keepingCapacity: true)
                s.pointee.cellBase.append(contentsOf: repeatElement(0, count: rows * cellsPerRow))
                s.pointee.eventTimes.removeAll(keepingCapacity: true)
                s.pointee.eventTimes.append(contentsOf: repeatElement(ProtoTimestamp(seconds: 0), count: rows * cellsPerRow))
                for (_, p) in results {
                    if let e = p.error { s.pointee.error = e; break }
                    let textOffset = s.pointee.block.text.bytes.count, cellOffset = s.pointee.block.ends.count
                    s.pointee.block.text.bytes.append(contentsOf: p.block.text.bytes)
                    s.pointee.block.ends.append(contentsOf: p.block.ends.lazy.map { $0 + textOffset })
                    s.pointee.block.statuses.append(contentsOf: p.block.statuses)
                    for (ti, t) in p.tasks.enumerated() {
                        s.pointee.cellBase[t] = cellOffset + p.block.firstCell[ti]
                        s.pointee.eventTimes[t] = p.block.eventTimes[ti]
                    }
                }
                self.finish(s, plan: plan, rows: rows, options: options, respond: respond, merged: true)
            })
        }
    }

    /// Reads tasks `range` of the scratch on their shard (the caller's thread owns the shard).
    private static func readTasks(_ shard: Shard, _ s: UnsafeMutablePointer<OnlineScratch>, range: Range<Int>,
                                  groups: [FeatureSelection.Group], options: ReadOptions,
                                  into block: inout FeatureRead.JSONBlock) -> ServingError? {
        let db = shard.db(0)
        let now = Clock.nowMilliseconds()
        do {
            try s.pointee.keys.withUnsafeBytes { kb in
                for ti in range {
                    let t = s.pointee.tasks[ti]
                    let k = UnsafeRawBufferPointer(rebasing: kb[t.key])
                    let hash = db.lookupInternal(k, now: now).flatMap { db.hashView(at: $0) }
                    try FeatureRead.readJSON(hash: hash, group: groups[t.group], options: options, into: &block)
                }
            }
        } catch let e as ServingError { return e } catch { return ServingError(.badValue, "\(error)") }
        return nil
    }

    /// A join-key value typed by its column's type; an error worded as JSONFeastValue.entity's.
    static func entityValue(_ t: OnlineRequest.Token, _ src: UnsafeRawBufferPointer, type: FeastValueType, joinKey: String) throws -> FeastValue {
        let bytes = UnsafeRawBufferPointer(rebasing: src[t.range])
        switch (type, t.kind) {
        case (.int64, .number), (.int32, .number), (.unixTimestamp, .number):
            if let x = integer(bytes) {
                if type == .int64 { return .int64(x) }
                if type == .unixTimestamp { return .unixTimestamp(x) }
                if let y = Int32(exactly: x) { return .int32(y) }
            }
        case (.string, .string): return .string(String(decoding: bytes, as: UTF8.self))
        case (.bytes, .string): return .bytes(Array(String(decoding: bytes, as: UTF8.self).utf8))
        default: break
        }
        let v: JSONValue
        switch t.kind {
        case .string: v = .string(String(decoding: bytes, as: UTF8.self))
        case .number: v = .number(String(decoding: bytes, as: UTF8.self))
        case .other: v = (try? JSONValue.parse(Array(bytes))) ?? .null
        }
        return try JSONFeastValue.entity(v, type: type, joinKey: joinKey)
    }

    /// Int64(text) for a JSON number's text, read in place: nil for a fraction, an exponent or
    /// an overflow.
    static func integer(_ b: UnsafeRawBufferPointer) -> Int64? {
        var k = 0, negative = false
        if b.count > 0 && b[0] == 45 { negative = true; k = 1 }
        guard k < b.count else { return nil }
        var v: Int64 = 0
        while k < b.count {
            let d = b[k] &- 48
            guard d <= 9 else { return nil }
            let (m, o1) = v.multipliedReportingOverflow(by: 10)
            let (a, o2) = negative ? m.subtractingReportingOverflow(Int64(d)) : m.addingReportingOverflow(Int64(d))
            guard !o1 && !o2 else { return nil }
            v = a
            k += 1
        }
        return v
    }

    /// On the request's loop: metrics, the response into the scratch, the answer; the scratch
    /// goes back to the free list.
    private func finish(_ s: UnsafeMutablePointer<OnlineScratch>, plan: HTTPPlanCache.Plan, rows: Int, options: ReadOptions,
                        respond: (HTTPReply) -> Void, merged: Bool = false) {
        defer { OnlineScratchPool.give(s) }
        if let e = s.pointee.error { respond(.feastError(e)); return }
        let groups = plan.selection.groups
        let cellsPerRow = groups.count
        if !merged {
            // One shard's block, its tasks row-major: each (row, view)'s first cell and time as read.
            swap(&s.pointee.cellBase, &s.pointee.block.firstCell)
            swap(&s.pointee.eventTimes, &s.pointee.block.eventTimes)
        }
        // Metrics: statuses per view, the served row's age per (row, view).
        s.pointee.statusCounts.removeAll(keepingCapacity: true)
        s.pointee.statusCounts.append(contentsOf: repeatElement(0, count: 4 * cellsPerRow))
        s.pointee.ages.removeAll(keepingCapacity: true)
        s.pointee.ages.append(contentsOf: repeatElement(.nan, count: rows * cellsPerRow))
        for rg in 0..<(rows * cellsPerRow) {
            let gi = rg % cellsPerRow
            let first = s.pointee.cellBase[rg]
            for c in first..<(first + groups[gi].features.count) {
                s.pointee.statusCounts[4 * gi + s.pointee.block.statuses[c].rawValue - 1] += 1
            }
            let st = s.pointee.block.statuses[first], ts = s.pointee.eventTimes[rg]
            if st == .present || st == .nullValue, ts.seconds != 0 || ts.nanos != 0 {
                s.pointee.ages[rg] = max(0, options.now - (Double(ts.seconds) + Double(ts.nanos) / 1e9))
            }
        }
        s.pointee.statusCounts.withUnsafeBufferPointer { sc in
            s.pointee.ages.withUnsafeBufferPointer { serving.metrics.recordRead(selection: plan.selection, rows: rows, statusCounts: sc, ages: $0) }
        }
        Self.writeResponse(s, plan: plan, rows: rows)
        if !merged {
            swap(&s.pointee.cellBase, &s.pointee.block.firstCell)
            swap(&s.pointee.eventTimes, &s.pointee.block.eventTimes)
        }
        respond(HTTPReply(status: 200, body: s.pointee.out))
    }

    /// The entity columns' event time.
    static let epochJSON: [UInt8] = { var b: [UInt8] = []; JSONWriter.appendTimestamp(ProtoTimestamp(seconds: 0), to: &b); return b }()

    /// Feast's column-major response into the scratch's `out`: `results` (entity columns first,
    /// then the features of each view in request order), then `metadata.feature_names`. Each
    /// (row, view)'s event time is formatted once, not once per feature (measured reason: RFC
    /// 3339 formatting per served value was 7M of the 33.7M instructions of a 100 x 50 request
    /// under callgrind), and not at all when it is the previous one's; the values are the
    /// shard's JSON text, copied through pointers (measured reason: indexing the blocks' arrays
    /// per value was 1.5M of 13.8M).
    static func writeResponse(_ s: UnsafeMutablePointer<OnlineScratch>, plan: HTTPPlanCache.Plan, rows: Int) {
        let groups = plan.selection.groups
        let cellsPerRow = groups.count
        s.pointee.times.removeAll(keepingCapacity: true)
        s.pointee.timeEnds.removeAll(keepingCapacity: true)
        var lastRange = 0..<0
        for rg in 0..<(rows * cellsPerRow) {
            let ts = s.pointee.eventTimes[rg]
            if rg > 0, s.pointee.eventTimes[rg - 1] == ts {
                s.pointee.times.append(contentsOf: s.pointee.times[lastRange])
            } else {
                let start = s.pointee.times.count
                if ts != s.pointee.lastTime {
                    s.pointee.lastTime = ts
                    s.pointee.lastTimeText.removeAll(keepingCapacity: true)
                    JSONWriter.appendTimestamp(ts, to: &s.pointee.lastTimeText)
                }
                s.pointee.times.append(contentsOf: s.pointee.lastTimeText)
                lastRange = start..<s.pointee.times.count
            }
            s.pointee.timeEnds.append(s.pointee.times.count)
        }
        // The entity columns (few values, any type) through JSONWriter; the rest through `raw`.
        let needed = plan.selection.joinKeys
        let used = s.pointee.usedKeys.count
        var w = JSONWriter(reusing: &s.pointee.entityJSON)
        w.raw("{\"results\":[" as StaticString)
        epochJSON.withUnsafeBytes { epoch in
            for u in 0..<used {
                if u > 0 { w.raw(44) }
                w.raw("{\"values\":[" as StaticString)
                for r in 0..<rows { if r > 0 { w.raw(44) }; w.feast(s.pointee.values[u * rows + r]) }
                w.raw("],\"statuses\":[" as StaticString)
                for r in 0..<rows { if r > 0 { w.raw(44) }; w.raw(FeatureStatus.present.jsonName) }
                w.raw("],\"event_timestamps\":[" as StaticString)
                for r in 0..<rows { if r > 0 { w.raw(44) }; w.raw(epoch) }
                w.raw("]}" as StaticString)
            }
        }
        swap(&w.bytes, &s.pointee.entityJSON)
        var names = JSONWriter(reusing: &s.pointee.entityNames)
        for u in 0..<used { if u > 0 { names.raw(44) }; names.string(needed[s.pointee.usedKeys[u]].name) }
        swap(&names.bytes, &s.pointee.entityNames)
        var o = s.pointee.raw
        o.count = 0
        s.pointee.entityJSON.withUnsafeBytes { o.put($0) }
        var first = used == 0
        s.pointee.block.text.bytes.withUnsafeBytes { text in
        s.pointee.block.ends.withUnsafeBufferPointer { ends in
        s.pointee.block.statuses.withUnsafeBufferPointer { statuses in
        s.pointee.times.withUnsafeBytes { timeText in
        s.pointee.timeEnds.withUnsafeBufferPointer { timeEnds in
        s.pointee.cellBase.withUnsafeBufferPointer { cellBase in
            for (gi, g) in groups.enumerated() {
                for fi in 0..<g.features.count {
                    // The constant pieces joined to their neighbours (the comma, the first status):
                    // two copies fewer per feature (measured reason: writeResponse 5,170 -> 5,060
                    // instructions per 1 x 10 request under callgrind).
                    o.put(first ? "{\"values\":[" as StaticString : ",{\"values\":[")
                    first = false
                    for r in 0..<rows {
                        if r > 0 { o.put(44) }
                        let c = cellBase[r * cellsPerRow + gi] + fi
                        o.put(UnsafeRawBufferPointer(rebasing: text[(c == 0 ? 0 : ends[c - 1])..<ends[c]]))
                    }
                    for r in 0..<rows {
                        let status = statuses[cellBase[r * cellsPerRow + gi] + fi]
                        if r > 0 { o.put(44); o.put(status.jsonName); continue }
                        switch status {
                        case .present: o.put("],\"statuses\":[\"PRESENT\"" as StaticString)
                        case .nullValue: o.put("],\"statuses\":[\"NULL_VALUE\"" as StaticString)
                        case .notFound: o.put("],\"statuses\":[\"NOT_FOUND\"" as StaticString)
                        case .outsideMaxAge: o.put("],\"statuses\":[\"OUTSIDE_MAX_AGE\"" as StaticString)
                        }
                    }
                    if rows == 0 { o.put("],\"statuses\":[" as StaticString) }
                    o.put("],\"event_timestamps\":[" as StaticString)
                    for r in 0..<rows {
                        if r > 0 { o.put(44) }
                        let rg = r * cellsPerRow + gi
                        o.put(UnsafeRawBufferPointer(rebasing: timeText[(rg == 0 ? 0 : timeEnds[rg - 1])..<timeEnds[rg]]))
                    }
                    o.put("]}" as StaticString)
                }
            }
        }}}}}}
        o.put("],\"metadata\":{\"feature_names\":[" as StaticString)
        s.pointee.entityNames.withUnsafeBytes { o.put($0) }
        // namesJSON is `,"name"...`: without its first comma when no entity column comes first.
        plan.namesJSON.withUnsafeBytes { n in
            o.put(used == 0 && n.count > 0 ? UnsafeRawBufferPointer(rebasing: n.dropFirst()) : n)
        }
        o.put("]}}" as StaticString)
        s.pointee.raw = o
        s.pointee.out.removeAll(keepingCapacity: true)
        s.pointee.out.append(contentsOf: o.bytes)
    }
}
