// Decoding of the values section of one page into dense (non-null only) typed arrays.
// One `DenseValues` holds the non-null values of a whole column chunk; only the array of
// the column's physical type is used.

struct DenseValues {
    var bools: [Bool] = []
    var i32: [Int32] = []
    /// INT64 values, and INT96 converted to nanoseconds.
    var i64: [Int64] = []
    var f32: [Float] = []
    var f64: [Double] = []
    var bytes = ByteArrayColumn()
    /// When set, fixed-width values (INT32/INT64/INT96/FLOAT/DOUBLE) go straight into this
    /// preallocated output instead of the arrays above.
    var sink: FixedSink?

    func count(_ physical: PhysicalType) -> Int {
        if let sink { return sink.count }
        switch physical {
        case .boolean: return bools.count
        case .int32: return i32.count
        case .int64, .int96: return i64.count
        case .float: return f32.count
        case .double: return f64.count
        case .byteArray, .fixedLenByteArray: return bytes.count
        }
    }

    mutating func reserve(_ physical: PhysicalType, _ n: Int) {
        switch physical {
        case .boolean: bools.reserveCapacity(n)
        case .int32: i32.reserveCapacity(n)
        case .int64, .int96: i64.reserveCapacity(n)
        case .float: f32.reserveCapacity(n)
        case .double: f64.reserveCapacity(n)
        case .byteArray, .fixedLenByteArray: bytes.offsets.reserveCapacity(n + 1)
        }
    }
}

/// Uninitialised output memory for the fixed-width values of one column chunk (the storage
/// of the final array, see `ParquetFile.readColumnChunk`), so each value is written once.
struct FixedSink {
    let base: UnsafeMutableRawPointer
    let capacity: Int
    var count = 0

    /// Typed pointer to the next `n` free slots, after checking they exist.
    @inline(__always)
    mutating func reserve<T>(_ n: Int, as: T.Type) throws -> UnsafeMutablePointer<T> {
        guard n <= capacity - count else {
            throw ParquetError(.badPage, "the pages hold more values than the column chunk declares (\(capacity))")
        }
        let p = (base + count * MemoryLayout<T>.stride).assumingMemoryBound(to: T.self)
        count += n
        return p
    }
}

/// Appends `n` fixed-width little-endian values from `src` (any alignment), writing each
/// destination slot once (no zero-fill, no temporary array).
@inline(__always)
func appendRaw<T: FixedWidthInteger>(_ array: inout [T], from src: UnsafeRawPointer, count n: Int) {
    guard n > 0 else { return }
    array.append(contentsOf: (0..<n).lazy.map { T(littleEndian: src.loadUnaligned(fromByteOffset: $0 &* MemoryLayout<T>.size, as: T.self)) })
}

private let julianEpochDay: Int64 = 2_440_588
private let nanosPerDay: Int64 = 86_400_000_000_000

/// Context for decoding one page's values.
struct ValueDecoder {
    let physical: PhysicalType
    let typeLength: Int

    // MARK: PLAIN

    /// Decodes `n` PLAIN values from `span` starting at `from`; returns the end position.
    @discardableResult
    func plain(_ span: ByteSpan, from: Int, count n: Int, into out: inout DenseValues) throws -> Int {
        let avail = span.count - from
        func need(_ bytes: Int) throws {
            guard bytes <= avail else {
                throw ParquetError(.badPage, "\(n) PLAIN \(physical) values need \(bytes) bytes, the page has \(avail)")
            }
        }
        switch physical {
        case .boolean:
            let bytes = (n + 7) / 8
            try need(bytes)
            let start = out.bools.count
            out.bools.reserveCapacity(start + n)
            let p = span.base + from
            for i in 0..<n { out.bools.append((p.load(fromByteOffset: i >> 3, as: UInt8.self) >> UInt8(i & 7)) & 1 == 1) }
            return from + bytes
        case .int32:
            try need(n * 4); try copyFixed(&out, from: span.base + from, count: n, width: 4); return from + n * 4
        case .float:
            try need(n * 4); try copyFixed(&out, from: span.base + from, count: n, width: 4); return from + n * 4
        case .int64:
            try need(n * 8); try copyFixed(&out, from: span.base + from, count: n, width: 8); return from + n * 8
        case .double:
            try need(n * 8); try copyFixed(&out, from: span.base + from, count: n, width: 8); return from + n * 8
        case .int96:
            try need(n * 12)
            var dst: UnsafeMutablePointer<Int64>?
            if out.sink != nil { dst = try out.sink!.reserve(n, as: Int64.self) } else { out.i64.reserveCapacity(out.i64.count + n) }
            for i in 0..<n {
                let p = span.base + from + 12 * i
                let nanos = Int64(littleEndian: p.loadUnaligned(as: Int64.self))
                let day = Int64(Int32(littleEndian: p.loadUnaligned(fromByteOffset: 8, as: Int32.self)))
                let (dayNanos, o1) = (day - julianEpochDay).multipliedReportingOverflow(by: nanosPerDay)
                let (v, o2) = dayNanos.addingReportingOverflow(nanos)
                guard !o1, !o2 else { throw ParquetError(.valueOutOfRange, "INT96 timestamp (Julian day \(day)) does not fit in Int64 nanoseconds") }
                if let dst { dst[i] = v } else { out.i64.append(v) }
            }
            return from + n * 12
        case .byteArray:
            var pos = from
            let end = span.count
            var offsets = out.bytes.offsets
            var bytes = out.bytes.bytes
            out.bytes = ByteArrayColumn()
            defer { out.bytes = ByteArrayColumn(offsets: offsets, bytes: bytes) }
            offsets.reserveCapacity(offsets.count + n)
            bytes.reserveCapacity(bytes.count + max(0, avail - 4 * n))
            for i in 0..<n {
                guard end - pos >= 4 else { throw ParquetError(.badPage, "BYTE_ARRAY value \(i) of \(n): length past the end of the page") }
                let len = Int(span.u32le(at: pos))
                pos += 4
                guard len <= end - pos else { throw ParquetError(.badPage, "BYTE_ARRAY value \(i) of \(n) claims \(len) bytes, \(end - pos) left") }
                bytes.append(contentsOf: UnsafeRawBufferPointer(start: span.base + pos, count: len))
                pos += len
                guard bytes.count <= Int(Int32.max) else { throw ParquetError(.valueOutOfRange, "more than 2 GiB of byte-array data in one column chunk") }
                offsets.append(Int32(bytes.count))
            }
            return pos
        case .fixedLenByteArray:
            let w = typeLength
            try need(n * w)
            for i in 0..<n {
                out.bytes.append(UnsafeRawBufferPointer(start: span.base + from + i * w, count: w))
            }
            guard out.bytes.bytes.count <= Int(Int32.max) else { throw ParquetError(.valueOutOfRange, "more than 2 GiB of byte-array data in one column chunk") }
            return from + n * w
        }
    }

    /// Copies `n` PLAIN fixed-width values (4 or 8 bytes) to the sink or the typed array.
    private func copyFixed(_ out: inout DenseValues, from src: UnsafeRawPointer, count n: Int, width: Int) throws {
        guard n > 0 else { return }
        if out.sink != nil {
            let dst = width == 4 ? UnsafeMutableRawPointer(try out.sink!.reserve(n, as: UInt32.self))
                                 : UnsafeMutableRawPointer(try out.sink!.reserve(n, as: UInt64.self))
            dst.copyMemory(from: src, byteCount: n * width)
            return
        }
        switch physical {
        case .int32: appendRaw(&out.i32, from: src, count: n)
        case .int64: appendRaw(&out.i64, from: src, count: n)
        case .float: out.f32.append(contentsOf: (0..<n).lazy.map { Float(bitPattern: UInt32(littleEndian: src.loadUnaligned(fromByteOffset: $0 &* 4, as: UInt32.self))) })
        case .double: out.f64.append(contentsOf: (0..<n).lazy.map { Double(bitPattern: UInt64(littleEndian: src.loadUnaligned(fromByteOffset: $0 &* 8, as: UInt64.self))) })
        default: break
        }
    }

    // MARK: Dictionary

    /// Appends `dictionary[index]` for each index.
    func gather(_ dictionary: DenseValues, indices: UnsafeBufferPointer<UInt32>, into out: inout DenseValues) throws {
        let n = indices.count
        @inline(__always) func gatherInto<T>(_ dict: [T], _ sink: inout FixedSink) throws {
            let dst = try sink.reserve(n, as: T.self)
            dict.withUnsafeBufferPointer { d in
                let dp = d.baseAddress!
                for i in 0..<n { dst[i] = dp[Int(indices[i])] }
            }
        }
        if out.sink != nil {
            switch physical {
            case .int32: try gatherInto(dictionary.i32, &out.sink!)
            case .int64, .int96: try gatherInto(dictionary.i64, &out.sink!)
            case .float: try gatherInto(dictionary.f32, &out.sink!)
            case .double: try gatherInto(dictionary.f64, &out.sink!)
            default: break
            }
            return
        }
        @inline(__always) func gatherFixed<T>(_ dict: [T], _ dst: inout [T]) {
            // Indices were checked against the dictionary size by the caller.
            dict.withUnsafeBufferPointer { d in
                dst.append(contentsOf: indices.lazy.map { d[Int($0)] })
            }
        }
        switch physical {
        case .boolean: gatherFixed(dictionary.bools, &out.bools)
        case .int32: gatherFixed(dictionary.i32, &out.i32)
        case .int64, .int96: gatherFixed(dictionary.i64, &out.i64)
        case .float: gatherFixed(dictionary.f32, &out.f32)
        case .double: gatherFixed(dictionary.f64, &out.f64)
        case .byteArray, .fixedLenByteArray:
            let d = dictionary.bytes
            var total = 0
            for i in 0..<n {
                let k = Int(indices[i])
                total += Int(d.offsets[k + 1] - d.offsets[k])
            }
            out.bytes.bytes.reserveCapacity(out.bytes.bytes.count + total)
            out.bytes.offsets.reserveCapacity(out.bytes.offsets.count + n)
            d.bytes.withUnsafeBufferPointer { src in
                for i in 0..<n {
                    let k = Int(indices[i])
                    let a = Int(d.offsets[k]), b = Int(d.offsets[k + 1])
                    out.bytes.bytes.append(contentsOf: UnsafeBufferPointer(rebasing: src[a..<b]))
                    out.bytes.offsets.append(Int32(truncatingIfNeeded: out.bytes.bytes.count))
                }
            }
        }
    }

    // MARK: DELTA and BYTE_STREAM_SPLIT

    func deltaBinaryPacked(_ span: ByteSpan, count n: Int, into out: inout DenseValues) throws {
        var vals: [Int64] = []
        _ = try decodeDeltaBinaryPacked(span, from: 0, maxCount: n, into: &vals)
        guard vals.count == n else { throw ParquetError(.badPage, "DELTA_BINARY_PACKED holds \(vals.count) values, the page needs \(n)") }
        switch physical {
        case .int32:
            if out.sink != nil {
                let dst = try out.sink!.reserve(n, as: Int32.self)
                for i in 0..<n { dst[i] = Int32(truncatingIfNeeded: vals[i]) }
                return
            }
            out.i32.reserveCapacity(out.i32.count + n)
            for v in vals { out.i32.append(Int32(truncatingIfNeeded: v)) }
        case .int64:
            if out.sink != nil {
                let dst = try out.sink!.reserve(n, as: Int64.self)
                vals.withUnsafeBufferPointer { dst.update(from: $0.baseAddress!, count: n) }
                return
            }
            out.i64.append(contentsOf: vals)
        default:
            throw ParquetError(.unsupportedEncoding, "DELTA_BINARY_PACKED for \(physical)")
        }
    }

    func deltaLengthByteArray(_ span: ByteSpan, count n: Int, into out: inout DenseValues) throws {
        var lengths: [Int64] = []
        var pos = try decodeDeltaBinaryPacked(span, from: 0, maxCount: n, into: &lengths)
        guard lengths.count == n else { throw ParquetError(.badPage, "DELTA_LENGTH_BYTE_ARRAY holds \(lengths.count) lengths, the page needs \(n)") }
        for (i, l) in lengths.enumerated() {
            let len = Int(Int32(truncatingIfNeeded: l))
            guard len >= 0, len <= span.count - pos else {
                throw ParquetError(.badPage, "DELTA_LENGTH_BYTE_ARRAY value \(i) claims \(len) bytes, \(span.count - pos) left")
            }
            out.bytes.append(UnsafeRawBufferPointer(start: span.base + pos, count: len))
            pos += len
        }
        guard out.bytes.bytes.count <= Int(Int32.max) else { throw ParquetError(.valueOutOfRange, "more than 2 GiB of byte-array data in one column chunk") }
    }

    func deltaByteArray(_ span: ByteSpan, count n: Int, into out: inout DenseValues) throws {
        var prefixes: [Int64] = []
        var suffixes: [Int64] = []
        var pos = try decodeDeltaBinaryPacked(span, from: 0, maxCount: n, into: &prefixes)
        pos = try decodeDeltaBinaryPacked(span, from: pos, maxCount: n, into: &suffixes)
        guard prefixes.count == n, suffixes.count == n else {
            throw ParquetError(.badPage, "DELTA_BYTE_ARRAY holds \(prefixes.count) prefixes and \(suffixes.count) suffixes, the page needs \(n)")
        }
        var previous: [UInt8] = []
        var current: [UInt8] = []
        for i in 0..<n {
            let pl = Int(Int32(truncatingIfNeeded: prefixes[i]))
            let sl = Int(Int32(truncatingIfNeeded: suffixes[i]))
            guard pl >= 0, pl <= previous.count else { throw ParquetError(.badPage, "DELTA_BYTE_ARRAY value \(i): prefix \(pl) longer than the previous value") }
            guard sl >= 0, sl <= span.count - pos else { throw ParquetError(.badPage, "DELTA_BYTE_ARRAY value \(i): suffix of \(sl) bytes past the end of the page") }
            current.removeAll(keepingCapacity: true)
            current.append(contentsOf: previous[0..<pl])
            current.append(contentsOf: UnsafeRawBufferPointer(start: span.base + pos, count: sl))
            pos += sl
            out.bytes.append(current)
            swap(&previous, &current)
        }
        guard out.bytes.bytes.count <= Int(Int32.max) else { throw ParquetError(.valueOutOfRange, "more than 2 GiB of byte-array data in one column chunk") }
    }

    func byteStreamSplit(_ span: ByteSpan, count n: Int, into out: inout DenseValues) throws {
        let k: Int
        switch physical {
        case .int32, .float: k = 4
        case .int64, .double: k = 8
        case .fixedLenByteArray: k = typeLength
        default: throw ParquetError(.unsupportedEncoding, "BYTE_STREAM_SPLIT for \(physical)")
        }
        guard k * n <= span.count else { throw ParquetError(.badPage, "BYTE_STREAM_SPLIT needs \(k * n) bytes, the page has \(span.count)") }
        var joined = [UInt8](repeating: 0, count: k * n)
        joined.withUnsafeMutableBufferPointer { dst in
            let src = span.base.assumingMemoryBound(to: UInt8.self)
            for j in 0..<k {
                let stream = src + j * n
                for i in 0..<n { dst[i * k + j] = stream[i] }
            }
        }
        _ = try joined.withUnsafeBytes { try plain(ByteSpan($0), from: 0, count: n, into: &out) }
    }
}
