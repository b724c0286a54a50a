import CSnappy
import CZlib
import CZstd

/// Compression codecs the writer can produce.
public enum ParquetCompression: String, Sendable, CaseIterable {
    case uncompressed, snappy, gzip, zstd

    var codec: Codec {
        switch self {
        case .uncompressed: return .uncompressed
        case .snappy: return .snappy
        case .gzip: return .gzip
        case .zstd: return .zstd
        }
    }

    func compress(_ input: [UInt8]) throws -> [UInt8] {
        switch self {
        case .uncompressed:
            return input
        case .snappy:
            var outLen = snappy_max_compressed_length(input.count)
            var out = [UInt8](repeating: 0, count: outLen)
            let rc = input.withUnsafeBufferPointer { src in
                out.withUnsafeMutableBufferPointer { dst in
                    snappy_compress(UnsafeRawPointer(src.baseAddress ?? UnsafePointer(bitPattern: 1)!).assumingMemoryBound(to: CChar.self),
                                    src.count,
                                    UnsafeMutableRawPointer(dst.baseAddress!).assumingMemoryBound(to: CChar.self), &outLen)
                }
            }
            guard rc == SNAPPY_OK else { throw ParquetError(.io, "snappy compression failed") }
            out.removeSubrange(outLen...)
            return out
        case .zstd:
            let bound = ZSTD_compressBound(input.count)
            var out = [UInt8](repeating: 0, count: bound)
            let n = input.withUnsafeBytes { src in
                out.withUnsafeMutableBytes { dst in
                    ZSTD_compress(dst.baseAddress, bound, src.baseAddress, src.count, 3)
                }
            }
            guard ZSTD_isError(n) == 0 else { throw ParquetError(.io, "zstd compression failed") }
            out.removeSubrange(n...)
            return out
        case .gzip:
            var zs = z_stream()
            guard deflateInit2_(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY,
                                ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
                throw ParquetError(.io, "zlib initialisation failed")
            }
            defer { deflateEnd(&zs) }
            let bound = Int(deflateBound(&zs, uLong(input.count))) + 32
            var out = [UInt8](repeating: 0, count: bound)
            var input = input
            let rc = input.withUnsafeMutableBufferPointer { src in
                out.withUnsafeMutableBufferPointer { dst -> Int32 in
                    zs.next_in = src.baseAddress
                    zs.avail_in = uInt(src.count)
                    zs.next_out = dst.baseAddress
                    zs.avail_out = uInt(dst.count)
                    return deflate(&zs, Z_FINISH)
                }
            }
            guard rc == Z_STREAM_END else { throw ParquetError(.io, "gzip compression failed (zlib code \(rc))") }
            out.removeSubrange(Int(zs.total_out)...)
            return out
        }
    }
}
