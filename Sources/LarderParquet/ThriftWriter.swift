// Thrift compact protocol encoding for the footer and page headers the writer emits.

struct ThriftWriter {
    var out: [UInt8] = []
    private var lastID: [Int16] = [0]

    mutating func varint(_ v: UInt64) {
        var v = v
        while v >= 0x80 {
            out.append(UInt8(v & 0x7f) | 0x80)
            v >>= 7
        }
        out.append(UInt8(v))
    }

    mutating func zigzag(_ v: Int64) { varint(UInt64(bitPattern: (v << 1) ^ (v >> 63))) }

    mutating func fieldHeader(_ id: Int16, _ type: CompactType) {
        let delta = id - lastID[lastID.count - 1]
        if delta > 0 && delta <= 15 {
            out.append(UInt8(delta) << 4 | type.rawValue)
        } else {
            out.append(type.rawValue)
            zigzag(Int64(id))
        }
        lastID[lastID.count - 1] = id
    }

    mutating func i32(_ id: Int16, _ v: Int32) { fieldHeader(id, .i32); zigzag(Int64(v)) }
    mutating func i64(_ id: Int16, _ v: Int64) { fieldHeader(id, .i64); zigzag(v) }
    mutating func bool(_ id: Int16, _ v: Bool) { fieldHeader(id, v ? .boolTrue : .boolFalse) }

    mutating func binary(_ id: Int16, _ bytes: [UInt8]) {
        fieldHeader(id, .binary)
        varint(UInt64(bytes.count))
        out.append(contentsOf: bytes)
    }

    mutating func string(_ id: Int16, _ s: String) { binary(id, Array(s.utf8)) }

    /// Writes a nested struct field; `body` writes its fields.
    mutating func structField(_ id: Int16, _ body: (inout ThriftWriter) -> Void) {
        fieldHeader(id, .structure)
        structBody(body)
    }

    /// A struct as a list element (no field header).
    mutating func structBody(_ body: (inout ThriftWriter) -> Void) {
        lastID.append(0)
        body(&self)
        out.append(0)  // stop
        lastID.removeLast()
    }

    mutating func listHeader(_ id: Int16, _ elementType: CompactType, count: Int) {
        fieldHeader(id, .list)
        if count < 15 {
            out.append(UInt8(count) << 4 | elementType.rawValue)
        } else {
            out.append(0xf0 | elementType.rawValue)
            varint(UInt64(count))
        }
    }

    mutating func i32List(_ id: Int16, _ values: [Int32]) {
        listHeader(id, .i32, count: values.count)
        for v in values { zigzag(Int64(v)) }
    }

    mutating func stringList(_ id: Int16, _ values: [String]) {
        listHeader(id, .binary, count: values.count)
        for v in values {
            let b = Array(v.utf8)
            varint(UInt64(b.count))
            out.append(contentsOf: b)
        }
    }

    mutating func structList<T>(_ id: Int16, _ items: [T], _ body: (inout ThriftWriter, T) -> Void) {
        listHeader(id, .structure, count: items.count)
        for item in items { structBody { body(&$0, item) } }
    }

    /// Closes the top-level struct.
    mutating func stop() { out.append(0) }
}

/// RLE / bit-packed hybrid encoder (levels and dictionary indices).
struct HybridEncoder {
    let bw: Int
    var out: [UInt8] = []
    private var literals: [UInt32] = []

    init(bitWidth: Int) { bw = bitWidth }

    private mutating func varint(_ v: UInt64) {
        var v = v
        while v >= 0x80 { out.append(UInt8(v & 0x7f) | 0x80); v >>= 7 }
        out.append(UInt8(v))
    }

    /// Bit-packs the pending literals (padded with zeros to a multiple of 8 at the very end only).
    private mutating func flushLiterals() {
        guard !literals.isEmpty else { return }
        let groups = (literals.count + 7) / 8
        varint(UInt64(groups) << 1 | 1)
        var acc: UInt64 = 0
        var bits = 0
        for g in 0..<(groups * 8) {
            let v = g < literals.count ? UInt64(literals[g]) : 0
            acc |= v << UInt64(bits)
            bits += bw
            while bits >= 8 {
                out.append(UInt8(truncatingIfNeeded: acc))
                acc >>= 8
                bits -= 8
            }
        }
        if bits > 0 { out.append(UInt8(truncatingIfNeeded: acc)) }
        literals.removeAll(keepingCapacity: true)
    }

    private mutating func rleRun(_ value: UInt32, _ count: Int) {
        varint(UInt64(count) << 1)
        let bytes = (bw + 7) / 8
        for k in 0..<bytes { out.append(UInt8(truncatingIfNeeded: value >> UInt32(8 * k))) }
    }

    /// Encodes all `values`. Long runs become RLE runs; the rest is bit-packed in groups of 8.
    mutating func encode<C: RandomAccessCollection>(_ values: C) -> [UInt8] where C.Element: FixedWidthInteger, C.Index == Int {
        var i = values.startIndex
        let end = values.endIndex
        while i < end {
            let v = values[i]
            var j = i + 1
            while j < end && values[j] == v { j += 1 }
            let run = j - i
            if run >= 8 && literals.count % 8 == 0 {
                flushLiterals()
                rleRun(UInt32(truncatingIfNeeded: v), run)
                i = j
            } else {
                literals.append(UInt32(truncatingIfNeeded: v))
                i += 1
            }
        }
        flushLiterals()
        return out
    }
}
