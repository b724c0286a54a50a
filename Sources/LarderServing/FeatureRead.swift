import Foundation
import LarderFeatures
import LarderRESP
import LarderStore

/// Feast's FieldStatus, with its protobuf numbers.
public enum FeatureStatus: Int, Sendable {
    case present = 1, nullValue = 2, notFound = 3, outsideMaxAge = 4

    public var name: String {
        switch self {
        case .present: return "PRESENT"
        case .nullValue: return "NULL_VALUE"
        case .notFound: return "NOT_FOUND"
        case .outsideMaxAge: return "OUTSIDE_MAX_AGE"
        }
    }

    /// The name in JSON quotes, as the HTTP response writes it.
    public var jsonName: StaticString {
        switch self {
        case .present: return "\"PRESENT\""
        case .nullValue: return "\"NULL_VALUE\""
        case .notFound: return "\"NOT_FOUND\""
        case .outsideMaxAge: return "\"OUTSIDE_MAX_AGE\""
        }
    }

    /// The name as a StaticString, so a reply writes it without building a String.
    public var staticName: StaticString {
        switch self {
        case .present: return "PRESENT"
        case .nullValue: return "NULL_VALUE"
        case .notFound: return "NOT_FOUND"
        case .outsideMaxAge: return "OUTSIDE_MAX_AGE"
        }
    }
}

/// One served feature value of one entity row.
public struct FeatureCell: Sendable {
    public var value: FeastValue
    public var status: FeatureStatus
    /// The view's event time for this row (`_ts:<view>`); zero when none is stored.
    public var eventTime: ProtoTimestamp
}

/// How a read treats ttl and statuses.
public struct ReadOptions: Sendable {
    /// true: Larder's statuses (NOT_FOUND, NULL_VALUE, OUTSIDE_MAX_AGE past the view's ttl,
    /// no value then). false: Feast 0.67's exact behaviour: no ttl check and every feature
    /// PRESENT (null values, epoch timestamps for a missing entity), as its Redis store does.
    public var enforceTTL: Bool
    /// The read's clock, in seconds since the epoch.
    public var now: Double

    public init(enforceTTL: Bool, now: Double = Date().timeIntervalSince1970) {
        self.enforceTTL = enforceTTL
        self.now = now
    }
}

/// The read path shared by FEATURES.GET and POST /get-online-features: entity key encoding,
/// one multi-field lookup per (row, view), value decoding and status rules.
public enum FeatureRead {
    /// The Redis key of one row for one view; `values` holds the row's value of each of the
    /// view's join keys, in the view's join key order.
    public static func key(view: ServingView, values: [FeastValue], project: String) throws -> [UInt8] {
        do {
            return try view.layout.keyEncoder.redisKey(values, project: project)
        } catch {
            throw ServingError(.badEntity, "entity key of feature view \(view.name): \(error)")
        }
    }

    /// Reads one view's selected features from the row's hash (nil: no such key) and appends
    /// one cell per selected feature to `cells`.
    public static func read(hash: HashView?, group: FeatureSelection.Group, options: ReadOptions,
                            into cells: inout [FeatureCell]) throws {
        let view = group.view
        let n = group.features.count
        guard let hash else {
            let status: FeatureStatus = options.enforceTTL ? .notFound : .present
            for _ in 0..<n { cells.append(FeatureCell(value: .null, status: status, eventTime: ProtoTimestamp(seconds: 0))) }
            return
        }
        // One pass over the hash for the features and the timestamp field (last, as in
        // Feast's HMGET); the field names are laid out back to back in the group.
        var raw = [[UInt8]?](repeating: nil, count: n + 1)
        group.fieldBytes.withUnsafeBytes { base in
            let starts = group.fieldStarts
            hash.lookupMany(n + 1, field: { UnsafeRawBufferPointer(rebasing: base[starts[$0]..<starts[$0 + 1]]) }) { i, v in
                raw[i] = v.map { Array($0) }
            }
        }
        var eventTime = ProtoTimestamp(seconds: 0)
        if let tsBytes = raw[n], !tsBytes.isEmpty {
            do { eventTime = try ProtoTimestamp.decode(tsBytes) } catch {
                throw ServingError(.badValue, "stored _ts:\(view.name) is not a protobuf Timestamp: \(error)")
            }
        }
        let hasTimestamp = raw[n] != nil
        if options.enforceTTL {
            if !hasTimestamp {
                for _ in 0..<n { cells.append(FeatureCell(value: .null, status: .notFound, eventTime: ProtoTimestamp(seconds: 0))) }
                return
            }
            if view.ttlSeconds > 0 {
                let age = options.now - (Double(eventTime.seconds) + Double(eventTime.nanos) / 1e9)
                if age > Double(view.ttlSeconds) {
                    for _ in 0..<n { cells.append(FeatureCell(value: .null, status: .outsideMaxAge, eventTime: eventTime)) }
                    return
                }
            }
        }
        for (i, f) in group.features.enumerated() {
            var value = FeastValue.null
            if let bytes = raw[i], !bytes.isEmpty {
                do { value = try FeastValue.decode(bytes) } catch {
                    throw ServingError(.badValue, "stored value of \(view.name):\(view.layout.featureNames[f]) cannot be decoded: \(error)")
                }
            }
            let status: FeatureStatus = !options.enforceTTL ? .present : (value.isNull ? .nullValue : .present)
            cells.append(FeatureCell(value: value, status: status, eventTime: eventTime))
        }
    }

    /// One shard's part of an HTTP read: per (row, view) task its cells' JSON value text back to
    /// back in `text`, each cell's end and status, and per task its first cell and event time.
    /// One block per shard instead of a [FeatureCell] (and a FeastValue per value) per task.
    struct JSONBlock {
        var text = JSONWriter()
        var ends: [Int] = []
        var statuses: [FeatureStatus] = []
        var firstCell: [Int] = []
        var eventTimes: [ProtoTimestamp] = []

        func cell(_ task: Int, _ feature: Int) -> Range<Int> {
            let c = firstCell[task] + feature
            return (c == 0 ? 0 : ends[c - 1])..<ends[c]
        }
    }

    /// `read(hash:group:options:into:)`'s rules, each value written as Feast's JSON into the
    /// block (ValueJSON from the hash's bytes; the full decoder for other shapes, so values and
    /// errors are unchanged).
    static func readJSON(hash: HashView?, group: FeatureSelection.Group, options: ReadOptions,
                         into block: inout JSONBlock) throws {
        let view = group.view
        let n = group.features.count
        block.firstCell.append(block.ends.count)
        func empty(_ status: FeatureStatus, _ ts: ProtoTimestamp) {
            for _ in 0..<n {
                block.text.raw("null" as StaticString)
                block.ends.append(block.text.bytes.count)
                block.statuses.append(status)
            }
            block.eventTimes.append(ts)
        }
        guard let hash else { empty(options.enforceTTL ? .notFound : .present, ProtoTimestamp(seconds: 0)); return }
        try withUnsafeTemporaryAllocation(of: UnsafeRawBufferPointer?.self, capacity: n + 1) { raw in
            let eventTime = try lookUpRow(hash, group, into: raw)
            if options.enforceTTL {
                if raw[n] == nil { empty(.notFound, ProtoTimestamp(seconds: 0)); return }
                if view.ttlSeconds > 0 {
                    let age = options.now - (Double(eventTime.seconds) + Double(eventTime.nanos) / 1e9)
                    if age > Double(view.ttlSeconds) { empty(.outsideMaxAge, eventTime); return }
                }
            }
            for (i, f) in group.features.enumerated() {
                var isNull = true
                if let bytes = raw[i], !bytes.isEmpty {
                    if let written = ValueJSON.writeScalar(bytes, &block.text) { isNull = written } else {
                        let value: FeastValue
                        do { value = try FeastValue.decode(Array(bytes)) } catch {
                            throw ServingError(.badValue, "stored value of \(view.name):\(view.layout.featureNames[f]) cannot be decoded: \(error)")
                        }
                        block.text.feast(value)
                        isNull = value.isNull
                    }
                } else {
                    block.text.raw("null" as StaticString)
                }
                block.ends.append(block.text.bytes.count)
                block.statuses.append(!options.enforceTTL ? .present : (isNull ? .nullValue : .present))
            }
            block.eventTimes.append(eventTime)
        }
    }

    /// One pass over the row's hash for the group's features and its `_ts:<view>` field (last,
    /// as in Feast's HMGET) into `raw` (n + 1 slots, the hash's own bytes), and the row's event
    /// time (zero when the field is missing or empty). Shared by the HTTP and RESP reads.
    @inline(__always)
    static func lookUpRow(_ hash: HashView, _ group: FeatureSelection.Group,
                          into raw: UnsafeMutableBufferPointer<UnsafeRawBufferPointer?>) throws -> ProtoTimestamp {
        let n = group.features.count
        FieldIndex.lookUp(hash, group, into: raw)
        guard let tsBytes = raw[n], !tsBytes.isEmpty else { return ProtoTimestamp(seconds: 0) }
        if let ts = ValueReply.timestamp(tsBytes) { return ts }
        do { return try ProtoTimestamp.decode(Array(tsBytes)) } catch {
            throw ServingError(.badValue, "stored _ts:\(group.view.name) is not a protobuf Timestamp: \(error)")
        }
    }

    /// What a direct read tells the metrics: the age of the served row, when one was served.
    public struct Served { public var age: Double? }

    /// FEATURES.GET's read: the same rules as `read(hash:group:options:into:)`, but each cell
    /// (name, then [value, status, event time ms]) goes straight into `out`, values from the
    /// hash's bytes (ValueReply), and statuses are counted into `statusCounts[rawValue - 1]`.
    /// Measured reason: the cell array and FeastValue decoding allocated per value; with the
    /// other changes of the same commit FEATURES.GET went from 1974 to 785 mallocs per 50-entity
    /// request under callgrind (bench/results/serving.md).
    public static func write(hash: HashView?, group: FeatureSelection.Group, options: ReadOptions,
                             out: ReplyWriter, statusCounts: UnsafeMutablePointer<Int>) throws -> Served {
        let view = group.view
        let n = group.features.count
        guard let hash else {
            writeEmpty(group, options.enforceTTL ? .notFound : .present, eventMillis: 0, out, statusCounts)
            return Served(age: nil)
        }
        return try withUnsafeTemporaryAllocation(of: UnsafeRawBufferPointer?.self, capacity: n + 1) { raw in
            // The hash is not modified while the command runs (it holds every shard), so the
            // value bytes it hands out stay valid until the reply is written.
            let eventTime = try lookUpRow(hash, group, into: raw)
            let eventMillis = Int(eventTime.seconds) * 1000 + Int(eventTime.nanos) / 1_000_000
            if options.enforceTTL {
                if raw[n] == nil {
                    writeEmpty(group, .notFound, eventMillis: 0, out, statusCounts)
                    return Served(age: nil)
                }
                if view.ttlSeconds > 0 {
                    let age = options.now - (Double(eventTime.seconds) + Double(eventTime.nanos) / 1e9)
                    if age > Double(view.ttlSeconds) {
                        writeEmpty(group, .outsideMaxAge, eventMillis: eventMillis, out, statusCounts)
                        return Served(age: nil)
                    }
                }
            }
            // The row's status and event time (`+PRESENT\r\n:<ms>\r\n`, and the NULL_VALUE one) are
            // formatted once per (row, view) and copied per feature, like each feature's map key
            // and array header (Group.replyHeads): one copy each instead of a bulk header, an
            // array header and a simple string built per feature (measured reason: the names'
            // bulks and the statuses' simple strings were 1,240 of the 38,995 instructions of a
            // 1 x 10 request under callgrind; the 20 copies that replace them are 560).
            var tails = (UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0),
                         UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0))
            return try withUnsafeMutableBytes(of: &tails) { t in
                let presentTail = UnsafeRawBufferPointer(start: t.baseAddress!, count: statusTail(.present, eventMillis, t.baseAddress!))
                var nullTail = presentTail
                if options.enforceTTL {
                    // "+NULL_VALUE\r\n" then the time digits already written after "+PRESENT\r\n"
                    let name = "+NULL_VALUE\r\n" as StaticString, skip = "+PRESENT\r\n".utf8.count
                    let p = t.baseAddress! + 48
                    p.copyMemory(from: name.utf8Start, byteCount: name.utf8CodeUnitCount)
                    (p + name.utf8CodeUnitCount).copyMemory(from: t.baseAddress! + skip, byteCount: presentTail.count - skip)
                    nullTail = UnsafeRawBufferPointer(start: p, count: name.utf8CodeUnitCount + presentTail.count - skip)
                }
                var nulls = 0
                try group.replyHeads.withUnsafeBytes { heads in
                    try group.replyHeadStarts.withUnsafeBufferPointer { hs in
                        // Each cell's tail goes out with the next cell's head.
                        var tail = UnsafeRawBufferPointer(start: nil, count: 0)
                        let resp3 = out.version == .resp3
                        for i in 0..<n {
                            let head = UnsafeRawBufferPointer(rebasing: heads[hs[i]..<hs[i + 1]])
                            var isNull = true
                            if let bytes = raw[i], !bytes.isEmpty {
                                // The previous tail, this head and a number or boolean value in
                                // one reserved run (measured reason: an append call and a
                                // ReplyWriter call per value; the handler went from 8,618 to
                                // 8,211 instructions per 1 x 10 request, callgrind, epoll).
                                let p = out.tail(reserving: tail.count + head.count + ValueReply.maxFixedReply)
                                if tail.count > 0 { UnsafeMutableRawPointer(p).copyMemory(from: tail.baseAddress!, byteCount: tail.count) }
                                UnsafeMutableRawPointer(p + tail.count).copyMemory(from: head.baseAddress!, byteCount: head.count)
                                let at = tail.count + head.count
                                if let length = ValueReply.writeFixedScalar(bytes, resp3: resp3, to: p + at) {
                                    out.advance(at + length)
                                    isNull = false
                                } else {
                                    out.advance(at)
                                    if let written = ValueReply.writeScalar(bytes, out) { isNull = written } else {
                                        let value: FeastValue
                                        do { value = try FeastValue.decode(Array(bytes)) } catch {
                                            throw ServingError(.badValue, "stored value of \(view.name):\(view.layout.featureNames[group.features[i]]) cannot be decoded: \(error)")
                                        }
                                        FeatureFamily.writeValue(value, out)
                                        isNull = value.isNull
                                    }
                                }
                            } else {
                                out.append(tail, head)
                                out.null()
                            }
                            if isNull { nulls += 1 }
                            tail = isNull ? nullTail : presentTail
                        }
                        out.append(tail)
                    }
                }
                if options.enforceTTL {
                    statusCounts[FeatureStatus.present.rawValue - 1] += n - nulls
                    statusCounts[FeatureStatus.nullValue.rawValue - 1] += nulls
                } else {
                    statusCounts[FeatureStatus.present.rawValue - 1] += n
                }
                // Every status here is PRESENT or NULL_VALUE: the row was served.
                let servedAge = eventTime.seconds != 0 || eventTime.nanos != 0
                return Served(age: servedAge ? max(0, options.now - (Double(eventTime.seconds) + Double(eventTime.nanos) / 1e9)) : nil)
            }
        }
    }

    /// `+<status>\r\n:<millis>\r\n` into `p` (48 bytes); returns its length.
    static func statusTail(_ status: FeatureStatus, _ millis: Int, _ p: UnsafeMutableRawPointer) -> Int {
        let name = status.staticName
        p.storeBytes(of: UInt8(ascii: "+"), as: UInt8.self)
        (p + 1).copyMemory(from: name.utf8Start, byteCount: name.utf8CodeUnitCount)
        var at = 1 + name.utf8CodeUnitCount
        p.storeBytes(of: 13, toByteOffset: at, as: UInt8.self)
        p.storeBytes(of: 10, toByteOffset: at + 1, as: UInt8.self)
        at += 2
        return at + integerReply(millis, UnsafeMutableRawBufferPointer(start: p + at, count: 48 - at))
    }

    /// `:<v>\r\n`, a RESP integer, into `p` (32 bytes); returns its length.
    static func integerReply(_ v: Int, _ p: UnsafeMutableRawBufferPointer) -> Int {
        let d = p.baseAddress!.assumingMemoryBound(to: UInt8.self)
        d[0] = UInt8(ascii: ":")
        let n = RESPNumberFormat.writeDecimal(v, to: d + 1)
        d[n + 1] = 13; d[n + 2] = 10
        return n + 3
    }

    /// Every selected feature of a group without a value: null, `status`, the given time.
    static func writeEmpty(_ group: FeatureSelection.Group, _ status: FeatureStatus, eventMillis: Int,
                           _ out: ReplyWriter, _ statusCounts: UnsafeMutablePointer<Int>) {
        var tail = (UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0))
        withUnsafeMutableBytes(of: &tail) { t in
            let tailBytes = UnsafeRawBufferPointer(start: t.baseAddress!, count: statusTail(status, eventMillis, t.baseAddress!))
            group.replyHeads.withUnsafeBytes { heads in
                let hs = group.replyHeadStarts
                for i in 0..<group.features.count {
                    out.append(UnsafeRawBufferPointer(rebasing: heads[hs[i]..<hs[i + 1]]))
                    out.null()
                    out.append(tailBytes)
                }
            }
        }
        statusCounts[status.rawValue - 1] += group.features.count
    }
}
