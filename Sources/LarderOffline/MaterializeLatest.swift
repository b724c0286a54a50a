import Dispatch

/// The latest row of each entity seen so far, with its features already encoded as
/// Feast Value bytes. Memory grows with the number of distinct entities, not with the
/// number of rows read: a newer row overwrites its entity's slot in place.
///
/// Ordering is Feast's: a row is newer when its event timestamp is later, or equal with a
/// later created timestamp (Feast sorts by both and keeps the first of each entity after
/// a descending sort). A row equal in both to the kept one does not replace it, so the
/// first such row in source order wins (Feast's stable descending sort keeps it too).
public struct LatestRows {
    /// Entity key (serialized, with the project suffix) -> slot.
    private var index = ByteKeyIndex()
    /// Single Int64 join key -> slot (`offer(int64Key:...)`); a table is fed through one
    /// of the two `offer` methods only.
    private var intIndex = Int64KeyIndex()
    private var intKeys: [[UInt8]] = []
    /// The Int64 join key of each slot (int-keyed tables), so a checkpoint can rebuild `intIndex`.
    private var intIDs: [Int64] = []
    /// Entity keys, by slot.
    public var keys: [[UInt8]] { intKeys.isEmpty ? index.keys : intKeys }
    public private(set) var eventNanos: [Int64] = []
    /// `Int64.min` when the source has no created column or the value is null.
    public private(set) var createdNanos: [Int64] = []
    /// Per entity: each feature's Value bytes, as `u32 length` then the bytes.
    public private(set) var payloads: [[UInt8]] = []
    public let featureCount: Int

    public init(featureCount: Int) {
        self.featureCount = featureCount
    }

    public var count: Int { eventNanos.count }

    /// Offers a row; returns the slot to (re)fill with `setPayload` when the row is newer
    /// than what the entity holds (or the entity is new), nil when it is not.
    public mutating func offer(key: [UInt8], eventNanos event: Int64, createdNanos created: Int64) -> Int? {
        let (slot, inserted) = index.findOrInsert(key)
        if !inserted { return replaceIfNewer(slot, eventNanos: event, createdNanos: created) }
        eventNanos.append(event)
        createdNanos.append(created)
        payloads.append([])
        return slot
    }

    /// The rule that decides which row an entity keeps: the later event timestamp, then the
    /// later created timestamp.
    @inline(__always)
    private mutating func replaceIfNewer(_ slot: Int, eventNanos event: Int64, createdNanos created: Int64) -> Int? {
        let keptEvent = eventNanos[slot], keptCreated = createdNanos[slot]
        guard event > keptEvent || (event == keptEvent && created > keptCreated) else { return nil }
        eventNanos[slot] = event
        createdNanos[slot] = created
        return slot
    }

    /// `offer` for a view keyed by one Int64: `key` builds the serialized key, called only
    /// for a new entity.
    mutating func offer(int64Key id: Int64, key: () -> [UInt8], eventNanos event: Int64, createdNanos created: Int64) -> Int? {
        let (slot, inserted) = intIndex.findOrInsert(id)
        if !inserted { return replaceIfNewer(slot, eventNanos: event, createdNanos: created) }
        intKeys.append(key())
        intIDs.append(id)
        eventNanos.append(event)
        createdNanos.append(created)
        payloads.append([])
        return slot
    }

    /// Replaces the slot's encoded features; `fill` appends them (use `appendValue`).
    public mutating func setPayload(slot: Int, _ fill: (inout [UInt8]) throws -> Void) rethrows {
        var payload = payloads[slot]
        payloads[slot] = []  // keep the buffer uniquely referenced so it is reused in place
        payload.removeAll(keepingCapacity: true)
        defer { payloads[slot] = payload }
        try fill(&payload)
    }

    /// Replaces the slot's encoded features with `size` bytes that `fill` writes in place (every
    /// byte). The payload's buffer is reused when large enough: growing each entity's payload
    /// from empty, value by value, cost ~4 reallocations per entity (~200 M instructions of the
    /// benchmark's 3.02 G under callgrind).
    mutating func setPayload(slot: Int, size: Int, _ fill: (UnsafeMutablePointer<UInt8>) -> Void) {
        var payload = payloads[slot]
        payloads[slot] = []  // keep the buffer uniquely referenced so it is reused in place
        LatestRows.refill(&payload, size: size, fill)
        payloads[slot] = payload
    }

    /// `payload` replaced by `size` bytes that `fill` writes in place, in its buffer when large enough.
    static func refill(_ payload: inout [UInt8], size: Int, _ fill: (UnsafeMutablePointer<UInt8>) -> Void) {
        if payload.capacity >= size {
            payload.removeAll(keepingCapacity: true)
            payload.append(contentsOf: repeatElement(0, count: size))
            payload.withUnsafeMutableBufferPointer { if size > 0 { fill($0.baseAddress!) } }
        } else {
            payload = [UInt8](unsafeUninitializedCapacity: size) { buffer, initialized in
                if size > 0 { fill(buffer.baseAddress!) }
                initialized = size
            }
        }
    }

    /// The payloads, by slot, for writers on several threads (each writing its own slots).
    mutating func withPayloads<R>(_ body: (UnsafeMutableBufferPointer<[UInt8]>) throws -> R) rethrows -> R {
        try payloads.withUnsafeMutableBufferPointer { try body($0) }
    }

    /// Appends one Value, length first: `encode` appends the Value bytes.
    public static func appendValue(to payload: inout [UInt8], _ encode: (inout [UInt8]) throws -> Void) rethrows {
        let start = payload.count
        // Four single appends: `append(contentsOf: [0, 0, 0, 0])` built an array per value.
        payload.append(0); payload.append(0); payload.append(0); payload.append(0)
        try encode(&payload)
        let length = UInt32(payload.count - start - 4)
        payload[start] = UInt8(truncatingIfNeeded: length)
        payload[start + 1] = UInt8(truncatingIfNeeded: length >> 8)
        payload[start + 2] = UInt8(truncatingIfNeeded: length >> 16)
        payload[start + 3] = UInt8(truncatingIfNeeded: length >> 24)
    }

    /// Leaves `rows` empty and frees what it held on another thread.
    static func releaseInBackground(_ rows: inout LatestRows) {
        final class Box: @unchecked Sendable {
            var rows: LatestRows?
            init(_ rows: LatestRows) { self.rows = rows }
        }
        let box = Box(rows)
        rows = LatestRows(featureCount: rows.featureCount)
        // The box holds the only reference left: whichever of this thread and the block lets go
        // of the box last, the block has already dropped the table.
        DispatchQueue.global(qos: .utility).async { box.rows = nil }
    }

    /// Whether the table is keyed by single Int64 join keys (`offer(int64Key:...)`).
    var isInt64Keyed: Bool { !intKeys.isEmpty }

    /// Every slot's content, for a checkpoint: (Int64 join key or nil, key, event, created, payload).
    func forEachSlot(_ body: (Int64?, [UInt8], Int64, Int64, [UInt8]) throws -> Void) rethrows {
        let keys = self.keys
        for slot in 0 ..< count {
            try body(intIDs.isEmpty ? nil : intIDs[slot], keys[slot], eventNanos[slot], createdNanos[slot], payloads[slot])
        }
    }

    /// Adds a slot read back from a checkpoint, through the index the table was fed by.
    mutating func restoreSlot(int64Key id: Int64?, key: [UInt8], eventNanos event: Int64, createdNanos created: Int64, payload: [UInt8]) {
        if let id {
            _ = intIndex.findOrInsert(id)
            intKeys.append(key)
            intIDs.append(id)
        } else {
            _ = index.findOrInsert(key)
        }
        eventNanos.append(event)
        createdNanos.append(created)
        payloads.append(payload)
    }

    /// The Value bytes of each feature of a slot, in feature order.
    public func values(slot: Int) -> [ArraySlice<UInt8>] {
        var out: [ArraySlice<UInt8>] = []
        out.reserveCapacity(featureCount)
        let payload = payloads[slot]
        var i = 0
        while i + 4 <= payload.count {
            let length = Int(payload[i]) | Int(payload[i + 1]) << 8 | Int(payload[i + 2]) << 16 | Int(payload[i + 3]) << 24
            out.append(payload[i + 4 ..< i + 4 + length])
            i += 4 + length
        }
        return out
    }
}
