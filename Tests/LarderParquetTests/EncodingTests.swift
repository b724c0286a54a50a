import XCTest
@testable import LarderParquet

/// Low-level codecs: the writer's RLE/bit-packed encoder against the reader's decoder,
/// Thrift compact round trips and skipping, bit unpacking at every width.
final class EncodingTests: XCTestCase {
    private func decode(_ bytes: [UInt8], bw: Int, count: Int) throws -> [UInt32] {
        var out = [UInt32](repeating: 0, count: count)
        try bytes.withUnsafeBytes { raw in
            try out.withUnsafeMutableBufferPointer { buf in
                var dec = HybridDecoder(span: ByteSpan(raw), bitWidth: bw)
                try dec.decode(count: count, into: buf.baseAddress!)
            }
        }
        return out
    }

    func testHybridEncoderRoundTripsRunsAndLiteralsAtEveryWidth() throws {
        var rng: UInt64 = 7
        func next() -> UInt64 { rng = rng &* 6364136223846793005 &+ 1; return rng >> 33 }
        for bw in 1...32 {
            let maxValue = bw == 32 ? UInt64(UInt32.max) : (UInt64(1) << UInt64(bw)) - 1
            var values: [UInt32] = []
            while values.count < 1000 {
                let v = UInt32(next() % (maxValue + 1))
                let run = next() % 4 == 0 ? Int(next() % 40) + 1 : 1
                values += Array(repeating: v, count: run)
            }
            var enc = HybridEncoder(bitWidth: bw)
            let bytes = enc.encode(values)
            XCTAssertEqual(try decode(bytes, bw: bw, count: values.count), values, "bit width \(bw)")
        }
    }

    func testLevelDecoderCountsNonNullsAndRejectsLevelsAboveTheMaximum() throws {
        let levels: [UInt8] = [1, 1, 0, 1, 2, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0]
        var enc = HybridEncoder(bitWidth: 2)
        let bytes = enc.encode(levels)
        try bytes.withUnsafeBytes { raw in
            var out = [UInt8](repeating: 0, count: levels.count)
            try out.withUnsafeMutableBufferPointer { buf in
                var dec = HybridDecoder(span: ByteSpan(raw), bitWidth: 2)
                XCTAssertEqual(try dec.decodeLevels(count: levels.count, maxLevel: 2, into: buf.baseAddress!), 1)
            }
            XCTAssertEqual(out, levels)
            try out.withUnsafeMutableBufferPointer { buf in
                var dec = HybridDecoder(span: ByteSpan(raw), bitWidth: 2)
                XCTAssertThrowsError(try dec.decodeLevels(count: levels.count, maxLevel: 1, into: buf.baseAddress!)) {
                    XCTAssertEqual(($0 as? ParquetError)?.kind, .badPage)
                }
            }
        }
    }

    func testHybridDecoderReportsTruncatedData() {
        var enc = HybridEncoder(bitWidth: 3)
        let bytes = enc.encode([UInt8](repeating: 5, count: 3) + [1, 2, 3, 4, 5, 6, 7, 0])
        XCTAssertThrowsError(try decode(Array(bytes.dropLast()), bw: 3, count: 11)) {
            XCTAssertEqual(($0 as? ParquetError)?.kind, .badPage)
        }
        XCTAssertThrowsError(try decode(bytes, bw: 3, count: 100)) {
            XCTAssertEqual(($0 as? ParquetError)?.kind, .badPage)
        }
    }

    func testDeltaBinaryPackedSpecExample() throws {
        // Encodings.md example 2: 7, 5, 3, 1, 2, 3, 4, 5 (block 128, 4 miniblocks, min delta -2).
        var bytes: [UInt8] = [0x80, 0x01, 0x04, 0x08, 0x0e]  // block size, miniblocks, count, first=7
        bytes += [0x03]                                       // min delta -2 (zigzag 3)
        bytes += [0x02, 0x00, 0x00, 0x00]                     // widths: 2 bits for miniblock 0
        // deltas - min: 0, 0, 0, 3, 3, 3, 3 (+ padding to 32 values at 2 bits = 8 bytes)
        var packed = [UInt8](repeating: 0, count: 8)
        for (i, d) in [0, 0, 0, 3, 3, 3, 3].enumerated() { packed[i * 2 / 8] |= UInt8(d) << UInt8(i * 2 % 8) }
        bytes += packed
        var out: [Int64] = []
        let end = try bytes.withUnsafeBytes { try decodeDeltaBinaryPacked(ByteSpan($0), from: 0, maxCount: 100, into: &out) }
        XCTAssertEqual(out, [7, 5, 3, 1, 2, 3, 4, 5])
        XCTAssertEqual(end, bytes.count)
    }

    func testThriftRoundTripAndSkippingOfUnknownFields() throws {
        var w = ThriftWriter()
        w.i32(1, 3)                      // DATA_PAGE_V2
        w.i32(2, 1234)
        w.i32(3, 567)
        w.structField(8) { h in
            h.i32(1, 10); h.i32(2, 1); h.i32(3, 10); h.i32(4, 8); h.i32(5, 4); h.i32(6, 0)
            h.bool(7, false)
        }
        w.listHeader(20, .binary, count: 2)   // unknown field: a list, skipped
        w.varint(1); w.out.append(0x41); w.varint(0)
        w.structField(300) { h in h.string(1, "future"); h.i64(2, -5) }  // unknown, long-form id
        w.stop()
        let bytes = w.out
        let header = try bytes.withUnsafeBytes { raw -> PageHeader in
            var r = ThriftReader(span: ByteSpan(raw), errorKind: .badPageHeader, fileOffset: 0)
            return try PageHeader(reading: &r)
        }
        XCTAssertEqual(header.type, 3)
        XCTAssertEqual(header.uncompressedPageSize, 1234)
        XCTAssertEqual(header.compressedPageSize, 567)
        XCTAssertEqual(header.dataPageV2?.numNulls, 1)
        XCTAssertEqual(header.dataPageV2?.encoding, 8)
        XCTAssertEqual(header.dataPageV2?.isCompressed, false)
        // Every truncation is a typed error, never a crash.
        for n in 0..<bytes.count {
            XCTAssertThrowsError(try Array(bytes.prefix(n)).withUnsafeBytes { raw in
                var r = ThriftReader(span: ByteSpan(raw), errorKind: .badPageHeader, fileOffset: 0)
                _ = try PageHeader(reading: &r)
            }) { XCTAssertEqual(($0 as? ParquetError)?.kind, .badPageHeader) }
        }
    }

    func testCompressionCodecsRoundTrip() throws {
        let input = (0..<50_000).map { UInt8(truncatingIfNeeded: $0 * 7 / 3) }
        for c in ParquetCompression.allCases {
            let packed = try c.compress(input)
            var out = [UInt8](repeating: 0, count: input.count)
            try packed.withUnsafeBytes { src in
                try out.withUnsafeMutableBytes { try c.codec.decompress(ByteSpan(src), into: $0) }
            }
            XCTAssertEqual(out, input, "\(c)")
            var short = [UInt8](repeating: 0, count: input.count - 1)
            XCTAssertThrowsError(try packed.withUnsafeBytes { src in
                try short.withUnsafeMutableBytes { try c.codec.decompress(ByteSpan(src), into: $0) }
            }, "\(c) must insist on the declared size")
        }
    }
}
