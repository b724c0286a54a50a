// Encodes one column of one row group into pages (dictionary page + v1 data pages) and
// computes its statistics.

/// How a Field is laid out in Parquet by the writer.
struct WriterLeaf {
    let field: Field
    let physical: PhysicalType
    let valueType: ColumnType
    let isList: Bool
    let maxDef: Int
    let maxRep: Int
    /// Lists: def below listDef = null list; == listDef empty list; == maxDef present element.
    let listDef: Int

    init(field: Field) throws {
        self.field = field
        var vt = field.type
        if case .list(let element) = field.type {
            if case .list = element {
                throw ParquetError(.unsupportedNested, "lists of lists cannot be written", column: field.name)
            }
            vt = element
            isList = true
            listDef = field.nullable ? 1 : 0
            maxDef = listDef + 2  // the element is always OPTIONAL
            maxRep = 1
        } else {
            isList = false
            listDef = 0
            maxDef = field.nullable || field.type == .null ? 1 : 0
            maxRep = 0
        }
        valueType = vt
        switch vt {
        case .boolean: physical = .boolean
        case .int32, .date, .null: physical = .int32
        case .int64, .timestamp: physical = .int64
        case .float: physical = .float
        case .double: physical = .double
        case .string, .binary: physical = .byteArray
        case .list: throw ParquetError(.unsupportedNested, "lists of lists cannot be written", column: field.name)
        }
    }
}

/// A written column chunk: its bytes (pages with headers) and what the footer needs.
struct EncodedChunk {
    var bytes: [UInt8] = []
    var dictionaryPageLength: Int?
    var numValues = 0
    var uncompressedSize = 0
    var encodings: [Int32] = []
    var statistics = Statistics()
}

struct ChunkWriter {
    let leaf: WriterLeaf
    let compression: ParquetCompression
    let useDictionary: Bool
    let maxRowsPerPage: Int

    func encode(_ column: ColumnData, rows: Int) throws -> EncodedChunk {
        guard column.count == rows else {
            throw ParquetError(.invalidArgument, "column has \(column.count) values, the batch has \(rows) rows", column: leaf.field.name)
        }
        // 1. Levels and dense (non-null) values.
        var defs: [UInt8] = []
        var reps: [UInt8] = []
        var dense = DenseValues()
        var pageBreaks: [(level: Int, value: Int)] = [(0, 0)]
        let pageRows = max(1, maxRowsPerPage)
        if leaf.isList {
            guard case .list(let list) = column.values else { throw typeError(column) }
            let elements = list.elements
            guard list.offsets.count == rows + 1, Int(list.offsets[rows]) <= elements.count else {
                throw ParquetError(.invalidArgument, "list offsets do not match the element column", column: leaf.field.name)
            }
            var valuesSoFar = 0
            for r in 0..<rows {
                if r > 0 && r % pageRows == 0 { pageBreaks.append((defs.count, valuesSoFar)) }
                if column.isNull(r) {
                    guard leaf.listDef > 0 else { throw nullInRequired() }
                    defs.append(0); reps.append(0)
                    continue
                }
                let a = Int(list.offsets[r]), b = Int(list.offsets[r + 1])
                guard a <= b else { throw ParquetError(.invalidArgument, "list offsets decrease at row \(r)", column: leaf.field.name) }
                if a == b { defs.append(UInt8(leaf.listDef)); reps.append(0); continue }
                for k in a..<b {
                    reps.append(k == a ? 0 : 1)
                    if elements.isNull(k) {
                        defs.append(UInt8(leaf.maxDef - 1))
                    } else {
                        defs.append(UInt8(leaf.maxDef))
                        valuesSoFar += 1
                    }
                }
            }
            try appendDense(elements, to: &dense)
        } else {
            if leaf.maxDef > 0 {
                defs.reserveCapacity(rows)
                var valuesSoFar = 0
                for r in 0..<rows {
                    if r > 0 && r % pageRows == 0 { pageBreaks.append((r, valuesSoFar)) }
                    let valid = !column.isNull(r)
                    defs.append(valid ? 1 : 0)
                    if valid { valuesSoFar += 1 }
                }
            } else {
                if column.nullCount > 0 { throw nullInRequired() }
                var r = pageRows
                while r < rows { pageBreaks.append((r, r)); r += pageRows }
            }
            try appendDense(column, to: &dense)
        }
        let levelCount = leaf.maxDef > 0 ? defs.count : rows
        let valueCount = dense.count(leaf.physical)
        pageBreaks.append((levelCount, valueCount))

        var chunk = EncodedChunk()
        chunk.numValues = levelCount
        chunk.statistics = ChunkWriter.statistics(dense, leaf: leaf, nullCount: levelCount - valueCount)

        // 2. Optional dictionary.
        var dictionary: (values: DenseValues, indices: [UInt32], count: Int)?
        if useDictionary && leaf.physical != .boolean && valueCount > 0 {
            dictionary = ChunkWriter.buildDictionary(dense, physical: leaf.physical)
        }
        if let dict = dictionary {
            let plain = ChunkWriter.plain(dict.values, physical: leaf.physical, range: 0..<dict.count)
            var header = ThriftWriter()
            let body = try compression.compress(plain)
            header.i32(1, PageType.dictionaryPage.rawValue)
            header.i32(2, Int32(plain.count))
            header.i32(3, Int32(body.count))
            header.structField(7) { h in
                h.i32(1, Int32(dict.count))
                h.i32(2, 0)  // PLAIN
            }
            header.stop()
            chunk.bytes += header.out
            chunk.bytes += body
            chunk.dictionaryPageLength = header.out.count + body.count
            chunk.uncompressedSize += header.out.count + plain.count
            chunk.encodings = [0, 3, 8]  // PLAIN (dictionary), RLE (levels), RLE_DICTIONARY
        } else {
            chunk.encodings = [0, 3]
        }

        // 3. Data pages.
        for p in 0..<(pageBreaks.count - 1) {
            let (l0, v0) = pageBreaks[p], (l1, v1) = pageBreaks[p + 1]
            if l1 == l0 && p > 0 { continue }
            var page: [UInt8] = []
            if leaf.maxRep > 0 { ChunkWriter.appendLevels(reps[l0..<l1], bitWidth: 1, to: &page) }
            if leaf.maxDef > 0 { ChunkWriter.appendLevels(defs[l0..<l1], bitWidth: bitWidth(leaf.maxDef), to: &page) }
            let encoding: Int32
            if let dict = dictionary {
                encoding = 8
                let bw = max(1, bitWidth(dict.count - 1))
                page.append(UInt8(bw))
                var enc = HybridEncoder(bitWidth: bw)
                page += enc.encode(dict.indices[v0..<v1])
            } else {
                encoding = 0
                page += ChunkWriter.plain(dense, physical: leaf.physical, range: v0..<v1)
            }
            let body = try compression.compress(page)
            var header = ThriftWriter()
            header.i32(1, PageType.dataPage.rawValue)
            header.i32(2, Int32(page.count))
            header.i32(3, Int32(body.count))
            header.structField(5) { h in
                h.i32(1, Int32(l1 - l0))
                h.i32(2, encoding)
                h.i32(3, 3)  // RLE definition levels
                h.i32(4, 3)  // RLE repetition levels
            }
            header.stop()
            chunk.bytes += header.out
            chunk.bytes += body
            chunk.uncompressedSize += header.out.count + page.count
        }
        return chunk
    }

    private func typeError(_ column: ColumnData) -> ParquetError {
        ParquetError(.invalidArgument, "column holds \(column.type) values, the schema says \(leaf.field.type)", column: leaf.field.name)
    }

    private func nullInRequired() -> ParquetError {
        ParquetError(.invalidArgument, "null value in a non-nullable column", column: leaf.field.name)
    }

    /// Appends the non-null values of `column` (scalar) to `dense`.
    private func appendDense(_ column: ColumnData, to dense: inout DenseValues) throws {
        func pick<T>(_ a: [T]) -> [T] {
            guard let validity = column.validity else { return a }
            var out: [T] = []
            out.reserveCapacity(a.count)
            for i in a.indices where validity[i] { out.append(a[i]) }
            return out
        }
        switch (leaf.physical, column.values) {
        case (.int32, .null): return
        case (.boolean, .boolean(let a)): dense.bools = pick(a)
        case (.int32, .int32(let a)): dense.i32 = pick(a)
        case (.int64, .int64(let a)): dense.i64 = pick(a)
        case (.float, .float(let a)): dense.f32 = pick(a)
        case (.double, .double(let a)): dense.f64 = pick(a)
        case (.byteArray, .byteArray(let b)):
            if column.validity == nil {
                dense.bytes = b
            } else {
                for i in 0..<b.count where !column.isNull(i) { dense.bytes.append(b.value(at: i)) }
            }
        default:
            throw typeError(column)
        }
    }

    private static func appendLevels(_ levels: ArraySlice<UInt8>, bitWidth bw: Int, to page: inout [UInt8]) {
        var enc = HybridEncoder(bitWidth: bw)
        let encoded = enc.encode(Array(levels))
        let n = UInt32(encoded.count)
        page += [UInt8(n & 0xff), UInt8(n >> 8 & 0xff), UInt8(n >> 16 & 0xff), UInt8(n >> 24)]
        page += encoded
    }

    static func plain(_ v: DenseValues, physical: PhysicalType, range: Range<Int>) -> [UInt8] {
        func raw<T>(_ a: [T]) -> [UInt8] {
            a[range].withUnsafeBytes { Array($0) }
        }
        switch physical {
        case .boolean:
            var out = [UInt8](repeating: 0, count: (range.count + 7) / 8)
            for (k, i) in range.enumerated() where v.bools[i] { out[k >> 3] |= 1 << UInt8(k & 7) }
            return out
        case .int32: return raw(v.i32)
        case .int64, .int96: return raw(v.i64)
        case .float: return raw(v.f32)
        case .double: return raw(v.f64)
        case .byteArray, .fixedLenByteArray:
            let b = v.bytes
            var out: [UInt8] = []
            out.reserveCapacity(Int(b.offsets[range.upperBound] - b.offsets[range.lowerBound]) + 4 * range.count)
            for i in range {
                let n = UInt32(b.offsets[i + 1] - b.offsets[i])
                out += [UInt8(n & 0xff), UInt8(n >> 8 & 0xff), UInt8(n >> 16 & 0xff), UInt8(n >> 24)]
                out += b.value(at: i)
            }
            return out
        }
    }

    /// Dictionary of distinct values, if it pays off (values repeat, dictionary <= 1 MiB).
    static func buildDictionary(_ dense: DenseValues, physical: PhysicalType) -> (values: DenseValues, indices: [UInt32], count: Int)? {
        let n = dense.count(physical)
        let maxEntries = max(1, n / 2)
        func fixed<T>(_ a: [T], key: (T) -> UInt64, size: Int) -> ([T], [UInt32])? {
            // Open addressing on the value bits (multiplicative hash): the dictionary is
            // capped at 1 MiB, so the table stays small and Swift's SipHash is avoided.
            let limit = min(maxEntries, (1 << 20) / size)
            var bits = 4
            while (1 << bits) < limit * 2 { bits += 1 }
            let mask = (1 << bits) - 1
            var keys = [UInt64](repeating: 0, count: 1 << bits)
            var slots = [Int32](repeating: -1, count: 1 << bits)
            var uniq: [T] = []
            var idx = [UInt32](repeating: 0, count: a.count)
            let ok = keys.withUnsafeMutableBufferPointer { kp in
                slots.withUnsafeMutableBufferPointer { sp in
                    idx.withUnsafeMutableBufferPointer { ip -> Bool in
                        for (j, x) in a.enumerated() {
                            let k = key(x)
                            var h = Int(truncatingIfNeeded: (k &* 0x9E37_79B9_7F4A_7C15) >> UInt64(64 - bits))
                            while true {
                                let slot = sp[h]
                                if slot < 0 {
                                    if uniq.count >= limit { return false }
                                    kp[h] = k
                                    sp[h] = Int32(uniq.count)
                                    ip[j] = UInt32(uniq.count)
                                    uniq.append(x)
                                    break
                                }
                                if kp[h] == k { ip[j] = UInt32(slot); break }
                                h = (h + 1) & mask
                            }
                        }
                        return true
                    }
                }
            }
            return ok ? (uniq, idx) : nil
        }
        var out = DenseValues()
        switch physical {
        case .int32:
            guard let (u, i) = fixed(dense.i32, key: { UInt64(UInt32(bitPattern: $0)) }, size: 4) else { return nil }
            out.i32 = u; return (out, i, u.count)
        case .int64, .int96:
            guard let (u, i) = fixed(dense.i64, key: { UInt64(bitPattern: $0) }, size: 8) else { return nil }
            out.i64 = u; return (out, i, u.count)
        case .float:
            guard let (u, i) = fixed(dense.f32, key: { UInt64($0.bitPattern) }, size: 4) else { return nil }
            out.f32 = u; return (out, i, u.count)
        case .double:
            guard let (u, i) = fixed(dense.f64, key: { $0.bitPattern }, size: 8) else { return nil }
            out.f64 = u; return (out, i, u.count)
        case .byteArray, .fixedLenByteArray:
            var map: [ArraySlice<UInt8>: UInt32] = [:]
            var idx: [UInt32] = []
            idx.reserveCapacity(n)
            var bytes = 0
            for i in 0..<n {
                let v = dense.bytes.value(at: i)
                if let k = map[v] { idx.append(k); continue }
                bytes += v.count + 4
                if out.bytes.count >= maxEntries || bytes > 1 << 20 { return nil }
                map[v] = UInt32(out.bytes.count)
                idx.append(UInt32(out.bytes.count))
                out.bytes.append(v)
            }
            return (out, idx, out.bytes.count)
        case .boolean:
            return nil
        }
    }
}
