import CLZ4
import CSnappy
import CZlib
import CZstd

/// Page compression codecs (ColumnMetaData.codec).
enum Codec: Int32 {
    case uncompressed = 0, snappy = 1, gzip = 2, lzo = 3, brotli = 4, lz4Hadoop = 5, zstd = 6, lz4Raw = 7

    static func supported(_ raw: Int32) throws -> Codec {
        guard let c = Codec(rawValue: raw) else {
            throw ParquetError(.unsupportedCodec, "unknown compression codec #\(raw)")
        }
        switch c {
        case .lzo, .brotli, .lz4Hadoop:
            throw ParquetError(.unsupportedCodec, "compression codec \(ParquetNames.codec(raw)) is not supported (supported: UNCOMPRESSED, SNAPPY, GZIP, ZSTD, LZ4_RAW)")
        default: return c
        }
    }

    /// Decompresses `src` into exactly `dst.count` bytes; anything else is `badPage`.
    func decompress(_ src: ByteSpan, into dst: UnsafeMutableRawBufferPointer) throws {
        let expected = dst.count
        guard let out = dst.baseAddress else {
            if self == .uncompressed || expected == 0 { return }
            throw ParquetError(.badPage, "no output buffer")
        }
        switch self {
        case .uncompressed:
            guard src.count == expected else {
                throw ParquetError(.badPage, "uncompressed page has \(src.count) bytes, header says \(expected)")
            }
            out.copyMemory(from: src.base, byteCount: expected)
        case .snappy:
            let input = src.base.assumingMemoryBound(to: CChar.self)
            var declared = 0
            guard snappy_uncompressed_length(input, src.count, &declared) == SNAPPY_OK, declared == expected else {
                throw ParquetError(.badPage, "snappy data declares \(declared) bytes (or is corrupt), page header says \(expected)")
            }
            var outLen = expected
            guard snappy_uncompress(input, src.count, out.assumingMemoryBound(to: CChar.self), &outLen) == SNAPPY_OK,
                  outLen == expected else {
                throw ParquetError(.badPage, "corrupt snappy data")
            }
        case .zstd:
            let n = ZSTD_decompress(out, expected, src.base, src.count)
            if ZSTD_isError(n) != 0 {
                throw ParquetError(.badPage, "corrupt zstd data: \(String(cString: ZSTD_getErrorName(n)))")
            }
            guard n == expected else { throw ParquetError(.badPage, "zstd produced \(n) bytes, page header says \(expected)") }
        case .lz4Raw:
            guard src.count <= Int(Int32.max), expected <= Int(Int32.max) else {
                throw ParquetError(.badPage, "LZ4 page too large")
            }
            let n = LZ4_decompress_safe(src.base.assumingMemoryBound(to: CChar.self),
                                        out.assumingMemoryBound(to: CChar.self), Int32(src.count), Int32(expected))
            guard n == Int32(expected) else {
                throw ParquetError(.badPage, n < 0 ? "corrupt LZ4_RAW data" : "LZ4_RAW produced \(n) bytes, page header says \(expected)")
            }
        case .gzip:
            try gunzip(src, into: out, expected: expected)
        case .lzo, .brotli, .lz4Hadoop:
            throw ParquetError(.unsupportedCodec, "compression codec \(ParquetNames.codec(rawValue))")
        }
    }

    /// RFC 1952 gzip, possibly several members back to back.
    private func gunzip(_ src: ByteSpan, into out: UnsafeMutableRawPointer, expected: Int) throws {
        var zs = z_stream()
        guard src.count <= Int(UInt32.max), expected <= Int(UInt32.max) else { throw ParquetError(.badPage, "gzip page too large") }
        guard inflateInit2_(&zs, 16 + MAX_WBITS, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            throw ParquetError(.badPage, "zlib initialisation failed")
        }
        defer { inflateEnd(&zs) }
        zs.next_in = UnsafeMutablePointer(mutating: src.base.assumingMemoryBound(to: Bytef.self))
        zs.avail_in = uInt(src.count)
        zs.next_out = out.assumingMemoryBound(to: Bytef.self)
        zs.avail_out = uInt(expected)
        while true {
            let rc = inflate(&zs, Z_FINISH)
            if rc == Z_STREAM_END {
                if zs.avail_in > 0 && zs.avail_out > 0 {
                    guard inflateReset(&zs) == Z_OK else { throw ParquetError(.badPage, "zlib reset failed") }
                    continue
                }
                break
            }
            if rc == Z_BUF_ERROR && zs.avail_out == 0 {
                throw ParquetError(.badPage, "gzip data decompresses to more than the \(expected) bytes the page header declares")
            }
            if rc != Z_OK {
                throw ParquetError(.badPage, "corrupt gzip data (zlib code \(rc))")
            }
        }
        let produced = expected - Int(zs.avail_out)
        guard produced == expected else {
            throw ParquetError(.badPage, "gzip produced \(produced) bytes, page header says \(expected)")
        }
    }
}

/// CRC-32 (zlib polynomial) of a page body as stored.
func crc32Of(_ span: ByteSpan) -> UInt32 {
    var crc: uLong = crc32(0, nil, 0)
    var p = span.base.assumingMemoryBound(to: Bytef.self)
    var left = span.count
    while left > 0 {
        let n = min(left, 1 << 30)
        crc = crc32(crc, p, uInt(n))
        p += n
        left -= n
    }
    return UInt32(truncatingIfNeeded: crc)
}
