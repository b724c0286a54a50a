import Dispatch
import LarderFeatures
import LarderParquet

/// The Value bytes of the winning rows, written straight from the decoded column buffers into
/// an entity's payload (`u32 length` + bytes per feature, LatestRows' layout) in one exact-size
/// pass, for the scalar conversions a file source mostly needs: Int64 <- int64, Int32 <- int32,
/// Float64 <- double, Float32 <- float, Bool <- bool, String <- ASCII string. Everything else
/// (nulls, NaT, widening conversions, lists, non-ASCII strings) goes through ColumnValueEncoder,
/// so the bytes are the same by construction for the rest and by the unit test
/// `testRawEncodingMatchesColumnValueEncoder` for these.
///
/// Why: under callgrind (`--dump-resp` run of bench/materialize, 100,000 winners x 10 features)
/// `LatestRows.appendValue` + `ColumnValueEncoder.encode` cost 754 M of the run's 3.02 G
/// instructions: ~750 per value, in retains of the column arrays held by the enum, uniqueness
/// checks of `[UInt8].append` and the regrowth of every entity's payload from empty.
struct RawRowEncoder {
    private enum Kind {
        case int64(UnsafePointer<Int64>)
        case int32(UnsafePointer<Int32>)
        case double(UnsafePointer<Double>)
        case float(UnsafePointer<Float>)
        case bool(UnsafePointer<Bool>)
        case ascii(offsets: UnsafePointer<Int32>, bytes: UnsafePointer<UInt8>)
        case general
    }

    private let kinds: [Kind]
    /// Per feature: the null mask, nil when the column has none.
    private let validity: [UnsafePointer<Bool>?]
    private let encoders: [ColumnValueEncoder]
    /// Values of the general path for the row being encoded, and each one's end offset.
    private var scratch: [UInt8] = []
    private var scratchEnds: [Int]

    /// The pointers address the arrays of `encoders`' columns: valid while the batch holding
    /// those columns is alive (callers keep it alive with `withExtendedLifetime`; the arrays
    /// are native Swift arrays, contiguous and never mutated while the batch is read).
    init(encoders: [ColumnValueEncoder]) {
        self.encoders = encoders
        scratchEnds = [Int](repeating: 0, count: encoders.count)
        func base<T>(_ array: [T]) -> UnsafePointer<T>? { array.isEmpty ? nil : array.withUnsafeBufferPointer { $0.baseAddress } }
        kinds = encoders.map { encoder in
            guard case .scalar(let scalar) = encoder.type else { return .general }
            // An empty array has no storage to point at (a batch of no rows, a column of only
            // empty strings): those take the general path.
            switch (scalar, encoder.column.values) {
            case (.int64, .int64(let v)): return base(v).map { .int64($0) } ?? .general
            case (.int32, .int32(let v)): return base(v).map { .int32($0) } ?? .general
            case (.float64, .double(let v)): return base(v).map { .double($0) } ?? .general
            case (.float32, .float(let v)): return base(v).map { .float($0) } ?? .general
            case (.bool, .boolean(let v)): return base(v).map { .bool($0) } ?? .general
            case (.string, .byteArray(let v)):
                guard let offsets = base(v.offsets), let bytes = base(v.bytes) else { return .general }
                return .ascii(offsets: offsets, bytes: bytes)
            default: return .general
            }
        }
        // A column with a mask of no rows has no rows to encode either.
        validity = encoders.map { encoder in encoder.column.validity.flatMap { base($0) } }
    }

    /// Bytes of a protobuf varint.
    @inline(__always) private static func varintSize(_ value: UInt64) -> Int {
        var n = 1
        var v = value
        while v >= 0x80 { n += 1; v >>= 7 }
        return n
    }

    @inline(__always) private static func putVarint(_ value: UInt64, _ p: inout UnsafeMutablePointer<UInt8>) {
        var v = value
        while v >= 0x80 { p.pointee = UInt8(truncatingIfNeeded: v) | 0x80; p += 1; v >>= 7 }
        p.pointee = UInt8(truncatingIfNeeded: v); p += 1
    }

    @inline(__always) private static func putLength(_ length: Int, _ p: inout UnsafeMutablePointer<UInt8>) {
        p[0] = UInt8(truncatingIfNeeded: length); p[1] = UInt8(truncatingIfNeeded: length >> 8)
        p[2] = UInt8(truncatingIfNeeded: length >> 16); p[3] = UInt8(truncatingIfNeeded: length >> 24)
        p += 4
    }

    /// Size of feature `i`'s Value at `row` on the raw path; nil when it takes the general path.
    @inline(__always) private func rawSize(_ i: Int, row: Int) -> Int? {
        if let valid = validity[i], !valid[row] { return nil }
        switch kinds[i] {
        case .int64(let v): return 1 + RawRowEncoder.varintSize(UInt64(bitPattern: v[row]))
        case .int32(let v): return 1 + RawRowEncoder.varintSize(UInt64(bitPattern: Int64(v[row])))
        case .double(let v): return v[row].isNaN ? 0 : 9
        case .float(let v): return v[row].isNaN ? 0 : 5
        case .bool: return 2
        case .ascii(let offsets, let bytes):
            let start = Int(offsets[row]), end = Int(offsets[row + 1])
            // Non-ASCII text goes the general way: String(decoding:) repairs invalid UTF-8 there.
            for j in start ..< end where bytes[j] >= 0x80 { return nil }
            return 1 + RawRowEncoder.varintSize(UInt64(end - start)) + (end - start)
        case .general: return nil
        }
    }

    /// Replaces `slot`'s payload in `latest` with the Values of `row`.
    mutating func encode(row: Int, into latest: inout LatestRows, slot: Int) throws {
        try encode(row: row) { size, fill in latest.setPayload(slot: slot, size: size, fill) }
    }

    /// Replaces `payload` with the Values of `row` (its buffer reused when large enough).
    mutating func encode(row: Int, payload: inout [UInt8]) throws {
        try encode(row: row) { size, fill in LatestRows.refill(&payload, size: size, fill) }
    }

    /// Computes the size of `row`'s Values, then has `store` give `size` bytes for them to be written.
    private mutating func encode(row: Int, store: (Int, (UnsafeMutablePointer<UInt8>) -> Void) -> Void) throws {
        var size = 0
        scratch.removeAll(keepingCapacity: true)
        for i in kinds.indices {
            if let n = rawSize(i, row: row) {
                size += 4 + n
                scratchEnds[i] = -1
            } else {
                try encoders[i].encode(row: row, into: &scratch)
                scratchEnds[i] = scratch.count
                size += 4
            }
        }
        size += scratch.count
        let kinds = self.kinds, scratchEnds = self.scratchEnds
        scratch.withUnsafeBufferPointer { general in
            store(size) { start in
                var p = start
                var generalStart = 0
                for i in kinds.indices {
                    let end = scratchEnds[i]
                    if end >= 0 {
                        RawRowEncoder.putLength(end - generalStart, &p)
                        if end > generalStart {
                            p.update(from: general.baseAddress! + generalStart, count: end - generalStart)
                            p += end - generalStart
                        }
                        generalStart = end
                        continue
                    }
                    switch kinds[i] {
                    case .int64(let v):
                        let u = UInt64(bitPattern: v[row])
                        RawRowEncoder.putLength(1 + RawRowEncoder.varintSize(u), &p)
                        p.pointee = 4 << 3; p += 1  // int64_val, varint
                        RawRowEncoder.putVarint(u, &p)
                    case .int32(let v):
                        let u = UInt64(bitPattern: Int64(v[row]))
                        RawRowEncoder.putLength(1 + RawRowEncoder.varintSize(u), &p)
                        p.pointee = 3 << 3; p += 1  // int32_val, varint
                        RawRowEncoder.putVarint(u, &p)
                    case .double(let v):
                        let value = v[row]
                        if value.isNaN { RawRowEncoder.putLength(0, &p); break }  // Feast: NaN scalar -> null
                        RawRowEncoder.putLength(9, &p)
                        p.pointee = 5 << 3 | 1; p += 1  // double_val, fixed64
                        var bits = value.bitPattern
                        for _ in 0 ..< 8 { p.pointee = UInt8(truncatingIfNeeded: bits); p += 1; bits >>= 8 }
                    case .float(let v):
                        let value = v[row]
                        if value.isNaN { RawRowEncoder.putLength(0, &p); break }
                        RawRowEncoder.putLength(5, &p)
                        p.pointee = 6 << 3 | 5; p += 1  // float_val, fixed32
                        var bits = value.bitPattern
                        for _ in 0 ..< 4 { p.pointee = UInt8(truncatingIfNeeded: bits); p += 1; bits >>= 8 }
                    case .bool(let v):
                        RawRowEncoder.putLength(2, &p)
                        p[0] = 7 << 3; p[1] = v[row] ? 1 : 0; p += 2  // bool_val, varint
                    case .ascii(let offsets, let bytes):
                        let start = Int(offsets[row]), count = Int(offsets[row + 1]) - start
                        RawRowEncoder.putLength(1 + RawRowEncoder.varintSize(UInt64(count)) + count, &p)
                        p.pointee = 2 << 3 | 2; p += 1  // string_val, length-delimited
                        RawRowEncoder.putVarint(UInt64(count), &p)
                        if count > 0 { p.update(from: bytes + start, count: count); p += count }
                    case .general:
                        preconditionFailure("general values are taken from the scratch buffer")
                    }
                }
                precondition(p == start + size, "payload size computed wrong")
            }
        }
    }
}

extension LatestRows {
    /// Encodes each `slots[k]`'s payload from `rows[k]` of the batch `encoders` read, the slots
    /// split into contiguous parts run on `parts` threads (each with its own RawRowEncoder, each
    /// writing only its own slots). The first error of the first failing part is thrown: the one
    /// a single pass in `slots` order would meet first.
    ///
    /// Why parallel: the winning rows are spread over the batch (1M rows in the benchmark file),
    /// so nearly every value read is a cache miss; `RawRowEncoder.encode` was 11.5% of the
    /// client's CPU time under `perf record`, on one core while the server had only reads to do.
    mutating func encodePayloads(slots: [Int], rows: [Int], encoders: [ColumnValueEncoder], parts: Int,
                                 minimumSlots: Int = LatestRows.minimumSlotsPerPart) throws {
        let count = max(1, min(parts, slots.count / max(1, minimumSlots)))
        var errors = [Error?](repeating: nil, count: count)
        withPayloads { payloads in
            errors.withUnsafeMutableBufferPointer { errors in
                let errorBase = errors.baseAddress!
                func run(_ part: Int) {
                    var encoder = RawRowEncoder(encoders: encoders)
                    for k in slots.count * part / count ..< slots.count * (part + 1) / count {
                        do { try encoder.encode(row: rows[k], payload: &payloads[slots[k]]) } catch {
                            errorBase[part] = error
                            return
                        }
                    }
                }
                if count == 1 { run(0) } else { DispatchQueue.concurrentPerform(iterations: count, execute: run) }
            }
        }
        if let first = errors.lazy.compactMap({ $0 }).first { throw first }
    }

    /// Fewer slots than this are encoded on one thread (the hand-off would cost more).
    static let minimumSlotsPerPart = 8192
}
