// libFuzzer target for the Parquet reader: footer/Thrift decoding, schema building, page
// walking, every value decoder and codec, statistics and the inspector.
// Build and run: Fuzz/parquet/run.sh SECONDS
//
// Input layout: a whole Parquet file. When the first byte is 0xFF the rest is instead fed
// straight to the low-level decoders (RLE hybrid, DELTA_BINARY_PACKED, Thrift page header).

let fuzzLimits = ReadLimits(maxPageBytes: 4 << 20, maxValuesPerPage: 1 << 18, maxValuesPerChunk: 1 << 20)

@_cdecl("LLVMFuzzerTestOneInput")
public func LLVMFuzzerTestOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = UnsafeRawBufferPointer(start: data, count: size)
    if size > 1 && data[0] == 0xFF {
        fuzzDecoders(UnsafeRawBufferPointer(rebasing: bytes[1...]))
        return 0
    }
    guard let file = try? ParquetFile(data: bytes, name: "fuzz-input", limits: fuzzLimits) else { return 0 }
    _ = ParquetInspector.describe(file)
    for g in 0..<file.rowGroupCount {
        for column in file.schema.columns {
            _ = file.statistics(rowGroup: g, column: column.name)
            _ = try? file.readRowGroup(g, columns: [column.name])
        }
        for leaf in 0..<file.schema.leaves.count { _ = try? file.pageSummaries(rowGroup: g, leaf: leaf) }
    }
    _ = file.rowGroups(timeColumn: file.schema.columns.first?.name ?? "", within: 0...Int64.max)
    return 0
}

private func fuzzDecoders(_ raw: UnsafeRawBufferPointer) {
    let span = ByteSpan(raw)
    guard span.count > 2 else { return }
    let bw = Int(raw[0] % 33)
    let count = Int(raw[1]) * 16
    var out = [UInt32](repeating: 0, count: count)
    out.withUnsafeMutableBufferPointer { buf in
        var dec = HybridDecoder(span: span, from: 2, bitWidth: bw)
        _ = try? dec.decode(count: count, into: buf.baseAddress!)
    }
    var values: [Int64] = []
    _ = try? decodeDeltaBinaryPacked(span, from: 0, maxCount: 1 << 16, into: &values)
    var r = ThriftReader(span: span, errorKind: .badPageHeader, fileOffset: 0)
    _ = try? PageHeader(reading: &r)
    for physical in [PhysicalType.int32, .int64, .byteArray, .float, .double, .boolean, .int96] {
        var dense = DenseValues()
        let d = ValueDecoder(physical: physical, typeLength: 0)
        _ = try? d.plain(span, from: 0, count: count, into: &dense)
        _ = try? d.deltaLengthByteArray(span, count: count, into: &dense)
        _ = try? d.deltaByteArray(span, count: count, into: &dense)
        _ = try? d.byteStreamSplit(span, count: count, into: &dense)
    }
}
