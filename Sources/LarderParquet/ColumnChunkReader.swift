// Walks the pages of one column chunk and collects its levels and non-null values.
// Assembly into rows (nulls, lists) happens afterwards in ColumnAssembly.swift, so a list
// split across pages needs no special state.

/// Resource limits against corrupt or hostile files (the fuzzer lowers them).
public struct ReadLimits: Sendable {
    /// Largest decompressed page accepted.
    public var maxPageBytes: Int
    /// Largest number of level entries (values incl. nulls) in one page.
    public var maxValuesPerPage: Int
    /// Largest number of level entries in one column chunk.
    public var maxValuesPerChunk: Int

    public init(maxPageBytes: Int = 1 << 30, maxValuesPerPage: Int = 1 << 26, maxValuesPerChunk: Int = 1 << 28) {
        self.maxPageBytes = maxPageBytes
        self.maxValuesPerPage = maxValuesPerPage
        self.maxValuesPerChunk = maxValuesPerChunk
    }
}

/// Reusable, manually managed byte buffer (decompression target). A class so that page
/// decoding can read from it while mutating the output arrays without exclusivity conflicts.
final class ScratchBuffer {
    private(set) var pointer: UnsafeMutableRawPointer
    private(set) var capacity: Int

    init() {
        capacity = 64
        pointer = UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: 16)
    }

    deinit { pointer.deallocate() }

    func ensure(_ n: Int) -> UnsafeMutableRawBufferPointer {
        if n > capacity {
            pointer.deallocate()
            capacity = max(n, capacity * 2)
            pointer = UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: 16)
        }
        return UnsafeMutableRawBufferPointer(start: pointer, count: n)
    }
}

/// Levels and dense values of one column chunk.
struct ChunkContents {
    var defLevels: [UInt8] = []
    var repLevels: [UInt8] = []
    var values = DenseValues()
    /// Number of level entries (rows for scalars).
    var levelCount = 0
}

/// Pages seen while reading a chunk (for the inspector and tests).
struct PageSummary {
    var type: Int32
    var encoding: Int32?
    var numValues: Int
}

struct ColumnChunkReader {
    let file: FileBytes
    let footerStart: Int
    let leaf: LeafColumn
    let limits: ReadLimits
    let decompressed = ScratchBuffer()
    let valuesScratch = ScratchBuffer()
    let indexScratch = ScratchBuffer()
    private(set) var pages: [PageSummary] = []

    init(file: FileBytes, footerStart: Int, leaf: LeafColumn, limits: ReadLimits) {
        self.file = file
        self.footerStart = footerStart
        self.leaf = leaf
        self.limits = limits
    }

    /// Reads the chunk. Fixed-width values go to `sink` when given (capacity: the chunk's value count).
    ///
    /// With `selection`, a data page of a flat nullable column none of whose rows are selected
    /// is not decompressed nor decoded (see `fillSkipped` for what its rows read as).
    mutating func read(_ chunk: ColumnChunk, sink: FixedSink? = nil, selection: RowSelection? = nil) throws -> ChunkContents {
        if chunk.hasCryptoMetadata { throw ParquetError(.encrypted, "the column chunk is encrypted") }
        if let p = chunk.filePath, !p.isEmpty {
            throw ParquetError(.externalData, "the column chunk's data lives in another file ('\(p)'), which is not supported")
        }
        guard let meta = chunk.metaData else { throw ParquetError(.badFooter, "the column chunk has no ColumnMetaData") }
        guard meta.type == leaf.physical.rawValue else {
            throw ParquetError(.schemaMismatch, "the schema says \(leaf.physical), the column chunk says \(ParquetNames.physical(meta.type))")
        }
        var out = ChunkContents()
        out.values.sink = sink
        if meta.numValues == 0 { return out }
        guard meta.numValues > 0, meta.numValues <= Int64(limits.maxValuesPerChunk) else {
            throw ParquetError(.badFooter, "the column chunk claims \(meta.numValues) values")
        }
        let codec = try Codec.supported(meta.codec)
        var start = meta.dataPageOffset
        if let d = meta.dictionaryPageOffset, d > 0, d < start { start = d }
        let (end, overflow) = start.addingReportingOverflow(meta.totalCompressedSize)
        guard start >= 4, !overflow, meta.totalCompressedSize >= 0, end <= Int64(footerStart) else {
            throw ParquetError(.badFooter, "the column chunk's bytes [\(start), \(start &+ meta.totalCompressedSize)) lie outside the data area [4, \(footerStart))")
        }
        let chunkEnd = Int(end)
        var pos = Int(start)
        var dictionary: DenseValues?
        var dictionaryCount = 0
        var seen = 0
        let total = Int(meta.numValues)
        // The value count comes from the (untrusted) footer: reserve at most what the chunk's
        // bytes could plausibly hold; arrays still grow if RLE packs more.
        let reservation = min(total, max(1 << 20, chunkEnd - Int(start)))
        if leaf.maxDef > 0 { out.defLevels.reserveCapacity(reservation) }
        if leaf.maxRep > 0 { out.repLevels.reserveCapacity(reservation) }
        if sink == nil { out.values.reserve(leaf.physical, reservation) }

        while seen < total {
            guard pos < chunkEnd else {
                throw ParquetError(.badPage, "the column chunk ends after \(seen) of \(total) values", offset: pos)
            }
            let headerStart = pos
            var r = ThriftReader(span: ByteSpan(base: file.base + pos, count: chunkEnd - pos),
                                 errorKind: .badPageHeader, fileOffset: pos)
            let header: PageHeader
            do { header = try PageHeader(reading: &r) } catch let e as ParquetError {
                throw e.located(offset: headerStart)
            }
            let bodyStart = pos + r.pos
            let csize = Int(header.compressedPageSize), usize = Int(header.uncompressedPageSize)
            guard csize >= 0, usize >= 0, csize <= chunkEnd - bodyStart else {
                throw ParquetError(.badPageHeader, "page sizes (\(csize) stored, \(usize) uncompressed) do not fit in the column chunk", offset: headerStart)
            }
            guard usize <= limits.maxPageBytes else {
                throw ParquetError(.badPageHeader, "uncompressed page size \(usize) exceeds the limit of \(limits.maxPageBytes) bytes", offset: headerStart)
            }
            let body = ByteSpan(base: file.base + bodyStart, count: csize)
            pos = bodyStart + csize
            if let crc = header.crc, crc32Of(body) != UInt32(bitPattern: crc) {
                throw ParquetError(.crcMismatch, "page CRC-32 does not match its \(csize) bytes", offset: headerStart)
            }
            do {
                switch PageType(rawValue: header.type) {
                case .dictionaryPage:
                    guard let dh = header.dictionaryPage else { throw ParquetError(.badPageHeader, "dictionary page without its DictionaryPageHeader") }
                    guard dictionary == nil, seen == 0 else { throw ParquetError(.badPage, "dictionary page after data pages or duplicated") }
                    guard dh.encoding == 0 || dh.encoding == 2 else {
                        throw ParquetError(.unsupportedEncoding, "dictionary page encoding \(ParquetNames.encoding(dh.encoding))")
                    }
                    let n = Int(dh.numValues)
                    guard n >= 0, n <= max(usize, 1) * 8 else { throw ParquetError(.badPage, "dictionary page claims \(dh.numValues) values in \(usize) bytes") }
                    let data = try decompress(codec, body, usize)
                    var dict = DenseValues()
                    try ValueDecoder(physical: leaf.physical, typeLength: leaf.typeLength).plain(data, from: 0, count: n, into: &dict)
                    dictionary = dict
                    dictionaryCount = n
                    pages.append(PageSummary(type: header.type, encoding: dh.encoding, numValues: n))
                case .dataPage:
                    guard let dh = header.dataPage else { throw ParquetError(.badPageHeader, "data page without its DataPageHeader") }
                    let n = try pageValueCount(dh.numValues, seen: seen, total: total)
                    if skips(seen ..< seen + n, selection) {
                        try fillSkipped(n, into: &out)
                        seen += n
                        pages.append(PageSummary(type: header.type, encoding: dh.encoding, numValues: n))
                        break
                    }
                    let data = try decompress(codec, body, usize)
                    var p = 0
                    if leaf.maxRep > 0 {
                        p += try readV1Levels(data, from: p, encoding: dh.repetitionLevelEncoding, maxLevel: leaf.maxRep, count: n, into: &out.repLevels).bytes
                    }
                    var nonNull = n
                    if leaf.maxDef > 0 {
                        let (used, atMax) = try readV1Levels(data, from: p, encoding: dh.definitionLevelEncoding, maxLevel: leaf.maxDef, count: n, into: &out.defLevels)
                        p += used
                        nonNull = atMax
                    }
                    let values = try data.slice(p, data.count - p, "values")
                    try decodeValues(dh.encoding, values, nonNull: nonNull, dictionary: dictionary, dictionaryCount: dictionaryCount, into: &out.values)
                    seen += n
                    pages.append(PageSummary(type: header.type, encoding: dh.encoding, numValues: n))
                case .dataPageV2:
                    guard let dh = header.dataPageV2 else { throw ParquetError(.badPageHeader, "data page v2 without its DataPageHeaderV2") }
                    let n = try pageValueCount(dh.numValues, seen: seen, total: total)
                    if skips(seen ..< seen + n, selection) {
                        try fillSkipped(n, into: &out)
                        seen += n
                        pages.append(PageSummary(type: header.type, encoding: dh.encoding, numValues: n))
                        break
                    }
                    let repLen = Int(dh.repetitionLevelsByteLength), defLen = Int(dh.definitionLevelsByteLength)
                    guard repLen >= 0, defLen >= 0, repLen + defLen <= csize, repLen + defLen <= usize else {
                        throw ParquetError(.badPageHeader, "v2 level lengths (\(repLen) + \(defLen)) exceed the page")
                    }
                    if leaf.maxRep > 0 {
                        try readHybridLevels(try body.slice(0, repLen, "repetition levels"), maxLevel: leaf.maxRep, count: n, into: &out.repLevels)
                    }
                    var nonNull = n
                    if leaf.maxDef > 0 {
                        nonNull = try readHybridLevels(try body.slice(repLen, defLen, "definition levels"), maxLevel: leaf.maxDef, count: n, into: &out.defLevels)
                    }
                    guard Int(dh.numNulls) == n - nonNull else {
                        throw ParquetError(.badPage, "v2 header says \(dh.numNulls) nulls, the definition levels say \(n - nonNull)")
                    }
                    let stored = try body.slice(repLen + defLen, csize - repLen - defLen, "values")
                    let values: ByteSpan
                    if dh.isCompressed && codec != .uncompressed {
                        values = try decompress(codec, stored, usize - repLen - defLen, scratch: valuesScratch)
                    } else {
                        values = stored
                    }
                    try decodeValues(dh.encoding, values, nonNull: nonNull, dictionary: dictionary, dictionaryCount: dictionaryCount, into: &out.values)
                    seen += n
                    pages.append(PageSummary(type: header.type, encoding: dh.encoding, numValues: n))
                default:
                    // INDEX_PAGE and unknown page types carry no values: skip them.
                    pages.append(PageSummary(type: header.type, encoding: nil, numValues: 0))
                }
            } catch let e as ParquetError {
                throw e.located(offset: headerStart)
            }
        }
        out.levelCount = seen
        return out
    }

    /// The rows of a skipped page: present (definition level at its maximum) with the type's zero
    /// value (0, false, empty), so a column with no nulls stays dense. Reading them as nulls
    /// instead built a null mask and scattered every column (under callgrind: ~280 M instructions
    /// for the 10 feature columns of the 1M-row materialize benchmark, more than the decoding the
    /// skip saved on the pages read). Fixed-length byte arrays, which have no zero value of the
    /// right length here, read as nulls.
    private func fillSkipped(_ n: Int, into out: inout ChunkContents) throws {
        if leaf.physical == .fixedLenByteArray {
            out.defLevels.append(contentsOf: repeatElement(0, count: n))
            return
        }
        out.defLevels.append(contentsOf: repeatElement(UInt8(leaf.maxDef), count: n))
        if out.values.sink != nil {
            let bytes: UnsafeMutableRawPointer
            switch leaf.physical {
            case .int32: bytes = UnsafeMutableRawPointer(try out.values.sink!.reserve(n, as: Int32.self))
            case .float: bytes = UnsafeMutableRawPointer(try out.values.sink!.reserve(n, as: Float.self))
            case .double: bytes = UnsafeMutableRawPointer(try out.values.sink!.reserve(n, as: Double.self))
            default: bytes = UnsafeMutableRawPointer(try out.values.sink!.reserve(n, as: Int64.self))
            }
            bytes.initializeMemory(as: UInt8.self, repeating: 0, count: n * (leaf.physical == .int32 || leaf.physical == .float ? 4 : 8))
            return
        }
        switch leaf.physical {
        case .boolean: out.values.bools.append(contentsOf: repeatElement(false, count: n))
        case .int32: out.values.i32.append(contentsOf: repeatElement(0, count: n))
        case .int64, .int96: out.values.i64.append(contentsOf: repeatElement(0, count: n))
        case .float: out.values.f32.append(contentsOf: repeatElement(0, count: n))
        case .double: out.values.f64.append(contentsOf: repeatElement(0, count: n))
        case .byteArray, .fixedLenByteArray:
            let end = out.values.bytes.offsets[out.values.bytes.offsets.count - 1]
            out.values.bytes.offsets.append(contentsOf: repeatElement(end, count: n))
        }
    }

    /// Whether the page of `rows` can be skipped: a flat (one level entry per row) nullable
    /// column, so its rows can read as nulls, and none of them selected.
    private func skips(_ rows: Range<Int>, _ selection: RowSelection?) -> Bool {
        guard let selection, leaf.maxRep == 0, leaf.maxDef > 0 else { return false }
        return !selection.intersects(rows)
    }

    private func pageValueCount(_ raw: Int32, seen: Int, total: Int) throws -> Int {
        let n = Int(raw)
        guard n >= 0, n <= limits.maxValuesPerPage else { throw ParquetError(.badPageHeader, "data page claims \(raw) values") }
        guard n <= total - seen else {
            throw ParquetError(.badPage, "data page of \(n) values overruns the chunk's \(total) values (\(seen) already read)")
        }
        return n
    }

    private func decompress(_ codec: Codec, _ body: ByteSpan, _ usize: Int, scratch: ScratchBuffer? = nil) throws -> ByteSpan {
        if codec == .uncompressed {
            guard body.count == usize else {
                throw ParquetError(.badPage, "uncompressed page has \(body.count) bytes, its header says \(usize)")
            }
            return body
        }
        let dst = (scratch ?? decompressed).ensure(usize)
        try codec.decompress(body, into: dst)
        return ByteSpan(UnsafeRawBufferPointer(dst))
    }

    /// v1 level section: RLE with a u32 length prefix, or legacy BIT_PACKED. Returns bytes used.
    private func readV1Levels(_ data: ByteSpan, from: Int, encoding: Int32, maxLevel: Int, count: Int,
                              into levels: inout [UInt8]) throws -> (bytes: Int, atMax: Int) {
        switch encoding {
        case 3:
            guard data.count - from >= 4 else { throw ParquetError(.badPage, "level length prefix past the end of the page") }
            let len = Int(data.u32le(at: from))
            let section = try data.slice(from + 4, len, "levels")
            let atMax = try readHybridLevels(section, maxLevel: maxLevel, count: count, into: &levels)
            return (4 + len, atMax)
        case 4:
            let old = levels.count
            levels.append(contentsOf: repeatElement(0, count: count))
            let used = try levels.withUnsafeMutableBufferPointer { buf in
                try decodeLegacyBitPacked(data, from: from, bw: bitWidth(maxLevel), count: count, into: buf.baseAddress! + old)
            }
            let top = UInt8(maxLevel)
            var atMax = 0
            for i in old..<levels.count {
                if levels[i] > top { throw ParquetError(.badPage, "a level exceeds the column's maximum \(maxLevel)") }
                if levels[i] == top { atMax += 1 }
            }
            return (used, atMax)
        default:
            throw ParquetError(.unsupportedEncoding, "level encoding \(ParquetNames.encoding(encoding))")
        }
    }

    /// Appends `count` levels; returns how many equal `maxLevel`.
    @discardableResult
    private func readHybridLevels(_ section: ByteSpan, maxLevel: Int, count: Int, into levels: inout [UInt8]) throws -> Int {
        let old = levels.count
        levels.append(contentsOf: repeatElement(0, count: count))
        return try levels.withUnsafeMutableBufferPointer { buf in
            var dec = HybridDecoder(span: section, bitWidth: bitWidth(maxLevel))
            return try dec.decodeLevels(count: count, maxLevel: maxLevel, into: buf.baseAddress! + old)
        }
    }

    private func decodeValues(_ encoding: Int32, _ data: ByteSpan, nonNull: Int, dictionary: DenseValues?,
                              dictionaryCount: Int, into out: inout DenseValues) throws {
        // All-null pages (pyarrow's null type) store nothing, not even the index bit width.
        if nonNull == 0 { return }
        let decoder = ValueDecoder(physical: leaf.physical, typeLength: leaf.typeLength)
        switch encoding {
        case 0:
            try decoder.plain(data, from: 0, count: nonNull, into: &out)
        case 2, 8:
            guard let dictionary else {
                throw ParquetError(.badPage, "dictionary-encoded page (\(ParquetNames.encoding(encoding))) without a dictionary page before it")
            }
            guard data.count >= 1 else { throw ParquetError(.badPage, "dictionary page data lacks its bit width byte") }
            let bw = Int(data.base.load(as: UInt8.self))
            guard bw <= 32 else { throw ParquetError(.badPage, "dictionary index bit width \(bw) > 32") }
            let indexBytes = indexScratch.ensure(nonNull * 4)
            let indices = indexBytes.baseAddress!.bindMemory(to: UInt32.self, capacity: nonNull)
            var dec = HybridDecoder(span: data, from: 1, bitWidth: bw)
            try dec.decode(count: nonNull, into: indices)
            var maxIndex: UInt32 = 0
            for i in 0..<nonNull { maxIndex = max(maxIndex, indices[i]) }
            guard Int(maxIndex) < dictionaryCount else {
                throw ParquetError(.badPage, "dictionary index \(maxIndex) out of range (dictionary has \(dictionaryCount) entries)")
            }
            try decoder.gather(dictionary, indices: UnsafeBufferPointer(start: indices, count: nonNull), into: &out)
        case 3:
            guard leaf.physical == .boolean else { throw ParquetError(.unsupportedEncoding, "RLE values for \(leaf.physical)") }
            guard data.count >= 4 else { throw ParquetError(.badPage, "RLE boolean length prefix past the end of the page") }
            let section = try data.slice(4, Int(data.u32le(at: 0)), "RLE booleans")
            let old = out.bools.count
            out.bools.append(contentsOf: repeatElement(false, count: nonNull))
            var tmp = [UInt8](repeating: 0, count: nonNull)
            try tmp.withUnsafeMutableBufferPointer { buf in
                var dec = HybridDecoder(span: section, bitWidth: 1)
                try dec.decode(count: nonNull, into: buf.baseAddress!)
            }
            for i in 0..<nonNull { out.bools[old + i] = tmp[i] != 0 }
        case 5:
            try decoder.deltaBinaryPacked(data, count: nonNull, into: &out)
        case 6:
            guard leaf.physical == .byteArray else { throw ParquetError(.unsupportedEncoding, "DELTA_LENGTH_BYTE_ARRAY for \(leaf.physical)") }
            try decoder.deltaLengthByteArray(data, count: nonNull, into: &out)
        case 7:
            guard leaf.physical == .byteArray || leaf.physical == .fixedLenByteArray else {
                throw ParquetError(.unsupportedEncoding, "DELTA_BYTE_ARRAY for \(leaf.physical)")
            }
            try decoder.deltaByteArray(data, count: nonNull, into: &out)
        case 9:
            try decoder.byteStreamSplit(data, count: nonNull, into: &out)
        default:
            throw ParquetError(.unsupportedEncoding, "value encoding \(ParquetNames.encoding(encoding)) is not supported")
        }
    }
}
