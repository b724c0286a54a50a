/// Records to store as hash fields, all with the same field names: for each key, one
/// value per field (Feast: the `_ts:<view>` field first, then the features in schema
/// order). Values live in one flat buffer so a batch costs a handful of allocations.
public struct HashWriteBatch: Sendable {
    public let fields: [[UInt8]]
    public private(set) var keys: [[UInt8]] = []
    public private(set) var bytes: [UInt8] = []
    /// End offset in `bytes` of each value, `keys.count * fields.count` entries.
    public private(set) var valueEnds: [Int] = []
    /// Seconds after which each written key expires (EXPIRE after the HSET); nil = never.
    public let ttlSeconds: Int?

    public init(fields: [[UInt8]], ttlSeconds: Int?) {
        self.fields = fields
        self.ttlSeconds = ttlSeconds
    }

    public var count: Int { keys.count }
    public var isEmpty: Bool { keys.isEmpty }

    /// Adds a record; `values` must hold one value per field.
    public mutating func append<Values: Sequence>(key: [UInt8], values: Values) where Values.Element == ArraySlice<UInt8> {
        keys.append(key)
        for value in values {
            bytes.append(contentsOf: value)
            valueEnds.append(bytes.count)
        }
    }

    /// Adds a record whose first value is `first` and whose other values follow in `prefixed`,
    /// each as a little-endian u32 byte count then the bytes (the materializer's per-entity
    /// layout); `prefixed` must hold `fields.count - 1` values. Copied in bulk: the generic
    /// `append(key:values:)` fed slice by slice cost ~3,400 instructions per 11-field record
    /// under callgrind (345 M for the materialize benchmark's 100,000 records).
    public mutating func append(key: [UInt8], first: UnsafeRawBufferPointer, lengthPrefixed prefixed: UnsafeRawBufferPointer) {
        keys.append(key)
        // The values without their prefixes are at most this long: the bytes grow once, then
        // each value is one memcpy (`append(contentsOf:)` of a raw slice cost ~80 instructions a value).
        let old = bytes.count
        bytes.append(contentsOf: repeatElement(0, count: first.count + prefixed.count))
        var used = 0
        var values = 0
        let fieldCount = fields.count
        var ends = valueEnds
        valueEnds = []  // `ends` stays uniquely referenced, and `self` is not touched inside
        bytes.withUnsafeMutableBytes { out in
            let base = out.baseAddress.map { $0 + old }  // nil when every value is empty
            if first.count > 0 { base!.copyMemory(from: first.baseAddress!, byteCount: first.count) }
            used = first.count
            ends.append(old + used)
            values = 1
            var offset = 0
            while offset + 4 <= prefixed.count {
                let length = Int(prefixed[offset]) | Int(prefixed[offset + 1]) << 8 | Int(prefixed[offset + 2]) << 16 | Int(prefixed[offset + 3]) << 24
                precondition(offset + 4 + length <= prefixed.count, "length-prefixed value overruns its buffer")
                if length > 0 { (base! + used).copyMemory(from: prefixed.baseAddress! + offset + 4, byteCount: length) }
                used += length
                ends.append(old + used)
                offset += 4 + length
                values += 1
            }
            precondition(offset == prefixed.count && values == fieldCount, "record has \(values) values for \(fieldCount) fields")
        }
        valueEnds = ends
        bytes.removeLast(first.count + prefixed.count - used)
    }

    /// Runs `body` for each of `records` (indices) with the record's key, field names and values
    /// read in place (valid only inside `body`): how the embedded bulk load hands records to
    /// the store.
    public func forEachRecord(_ records: [Int], _ body: (_ record: Int, _ key: UnsafeRawBufferPointer, _ fields: ByteSpans, _ values: ByteSpans) -> Void) {
        let f = fields.count
        // Field names flattened once per batch, values addressed by (offset, count) words.
        var names: [UInt8] = []
        var nameSpans: [Int] = []
        for name in fields { nameSpans += [names.count, name.count]; names += name }
        if names.isEmpty { names.append(0) }
        var valueSpans = [Int](repeating: 0, count: 2 * f)
        names.withUnsafeBytes { nameBytes in
            nameSpans.withUnsafeBytes { nameSpanWords in
                let fieldSpans = ByteSpans(base: nameBytes.baseAddress!, spans: nameSpanWords.baseAddress!, count: f)
                bytes.withUnsafeBytes { valueBytes in
                    let valueBase = valueBytes.baseAddress ?? UnsafeRawPointer(nameBytes.baseAddress!)
                    for r in records {
                        for j in 0..<f {
                            let i = r * f + j
                            let start = i == 0 ? 0 : valueEnds[i - 1]
                            valueSpans[2 * j] = start
                            valueSpans[2 * j + 1] = valueEnds[i] - start
                        }
                        valueSpans.withUnsafeBytes { vs in
                            let values = ByteSpans(base: valueBase, spans: vs.baseAddress!, count: f)
                            keys[r].withUnsafeBytes { body(r, $0, fieldSpans, values) }
                        }
                    }
                }
            }
        }
    }

    public func value(record: Int, field: Int) -> ArraySlice<UInt8> {
        let i = record * fields.count + field
        let start = i == 0 ? 0 : valueEnds[i - 1]
        return bytes[start ..< valueEnds[i]]
    }

    /// Bytes of keys, field names and values: roughly what goes over the wire.
    public var payloadBytes: Int {
        keys.reduce(0) { $0 + $1.count } + bytes.count + fields.reduce(0) { $0 + $1.count } * keys.count
    }

    public mutating func removeAll() {
        keys.removeAll(keepingCapacity: true)
        bytes.removeAll(keepingCapacity: true)
        valueEnds.removeAll(keepingCapacity: true)
    }
}
