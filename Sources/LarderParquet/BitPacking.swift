// Bit-level decoders: LSB-first bit unpacking, the RLE/bit-packed hybrid (levels, dictionary
// indices, RLE booleans), the deprecated MSB-first BIT_PACKED levels, and DELTA_BINARY_PACKED.
// All take a base pointer plus an explicit end and never read past it.

/// Reads `bw` bits (0...64) starting at bit `bitPos` of [base, base+byteCount), LSB-first.
@inline(__always)
func readBits(_ base: UnsafeRawPointer, byteCount: Int, bitPos: Int, bw: Int) -> UInt64 {
    let byte = bitPos >> 3
    let shift = UInt64(bitPos & 7)
    if byte + 8 <= byteCount {
        let lo = UInt64(littleEndian: base.loadUnaligned(fromByteOffset: byte, as: UInt64.self)) >> shift
        if Int(shift) + bw <= 64 {
            return bw == 64 ? lo : lo & ((1 << UInt64(bw)) &- 1)
        }
        // Spans 9 bytes: fetch the high part from the ninth byte (only for widths > 56).
        let extra = byte + 8 < byteCount ? UInt64(base.load(fromByteOffset: byte + 8, as: UInt8.self)) : 0
        let v = lo | (extra << (64 - shift))
        return bw == 64 ? v : v & ((1 << UInt64(bw)) &- 1)
    }
    // Near the end: copy what is left into a zeroed local (missing bytes read as zero;
    // callers have checked the lengths).
    var window: (UInt64, UInt64) = (0, 0)
    let avail = min(byteCount - byte, 16)
    if avail > 0 {
        withUnsafeMutableBytes(of: &window) { $0.baseAddress!.copyMemory(from: base + byte, byteCount: avail) }
    }
    let lo = UInt64(littleEndian: window.0) >> shift
    let v = shift == 0 ? lo : lo | (UInt64(littleEndian: window.1) << (64 - shift))
    return bw == 64 ? v : v & ((1 << UInt64(bw)) &- 1)
}

/// Unpacks `count` values of width `bw` (<= 32) from an LSB-first bit stream into `out`.
/// Common widths get their own copy of the loop (constant shifts and masks).
@inline(__always)
func unpackBits<T: FixedWidthInteger>(_ base: UnsafeRawPointer, byteCount: Int, bw: Int, count: Int,
                                      into out: UnsafeMutablePointer<T>) {
    switch bw {
    case 0: out.initialize(repeating: 0, count: count)
    case 1: unpackLoop(base, byteCount, 1, count, out)
    case 2: unpackLoop(base, byteCount, 2, count, out)
    case 3: unpackLoop(base, byteCount, 3, count, out)
    case 4: unpackLoop(base, byteCount, 4, count, out)
    case 5: unpackLoop(base, byteCount, 5, count, out)
    case 6: unpackLoop(base, byteCount, 6, count, out)
    case 7: unpackLoop(base, byteCount, 7, count, out)
    case 8: unpackLoop(base, byteCount, 8, count, out)
    case 9: unpackLoop(base, byteCount, 9, count, out)
    case 10: unpackLoop(base, byteCount, 10, count, out)
    case 11: unpackLoop(base, byteCount, 11, count, out)
    case 12: unpackLoop(base, byteCount, 12, count, out)
    case 13: unpackLoop(base, byteCount, 13, count, out)
    case 14: unpackLoop(base, byteCount, 14, count, out)
    case 15: unpackLoop(base, byteCount, 15, count, out)
    case 16: unpackLoop(base, byteCount, 16, count, out)
    case 17: unpackLoop(base, byteCount, 17, count, out)
    case 18: unpackLoop(base, byteCount, 18, count, out)
    default: unpackLoop(base, byteCount, bw, count, out)
    }
}

@inline(__always)
private func unpackLoop<T: FixedWidthInteger>(_ base: UnsafeRawPointer, _ byteCount: Int, _ bw: Int, _ count: Int,
                                              _ out: UnsafeMutablePointer<T>) {
    let mask = (UInt64(1) << UInt64(bw)) &- 1
    // Fast part: 8 values per step, each read from an 8-byte window inside the buffer.
    var i = 0
    let safeBytes = byteCount - 8
    while i + 8 <= count && ((i + 8) * bw) >> 3 <= safeBytes {
        let bit0 = i &* bw
        for k in 0..<8 {
            let bitPos = bit0 &+ k &* bw
            let w = UInt64(littleEndian: base.loadUnaligned(fromByteOffset: bitPos >> 3, as: UInt64.self))
            out[i &+ k] = T(truncatingIfNeeded: (w >> UInt64(bitPos & 7)) & mask)
        }
        i += 8
    }
    while i < count {
        out[i] = T(truncatingIfNeeded: readBits(base, byteCount: byteCount, bitPos: i * bw, bw: bw))
        i += 1
    }
}

@inline(__always)
func bitWidth(_ maxValue: Int) -> Int { maxValue == 0 ? 0 : Int.bitWidth - maxValue.leadingZeroBitCount }

/// RLE / bit-packed hybrid decoder over [base+pos, base+end).
struct HybridDecoder {
    let base: UnsafeRawPointer
    var pos: Int
    let end: Int
    let bw: Int

    init(span: ByteSpan, from: Int = 0, bitWidth: Int) {
        base = span.base
        pos = from
        end = span.count
        bw = bitWidth
    }

    private mutating func varint() throws -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            guard pos < end else { throw ParquetError(.badPage, "RLE run header runs past the end of the data") }
            let b = base.load(fromByteOffset: pos, as: UInt8.self)
            pos += 1
            result |= UInt64(b & 0x7f) << shift
            if b < 0x80 { return result }
            shift += 7
            guard shift < 64 else { throw ParquetError(.badPage, "RLE run header varint too long") }
        }
    }

    /// Decodes exactly `count` values into `out`. `maxValue` (if given) bounds every value.
    mutating func decode<T: FixedWidthInteger>(count: Int, into out: UnsafeMutablePointer<T>) throws {
        var done = 0
        let valueBytes = (bw + 7) / 8
        while done < count {
            guard pos < end else {
                throw ParquetError(.badPage, "RLE/bit-packed data exhausted after \(done) of \(count) values")
            }
            let header = try varint()
            if header & 1 == 0 {
                let run = header >> 1
                guard valueBytes <= end - pos else { throw ParquetError(.badPage, "RLE run value past the end of the data") }
                var v: UInt64 = 0
                for k in 0..<valueBytes {
                    v |= UInt64(base.load(fromByteOffset: pos + k, as: UInt8.self)) << UInt64(8 * k)
                }
                pos += valueBytes
                let n = Int(min(run, UInt64(count - done)))
                (out + done).initialize(repeating: T(truncatingIfNeeded: v), count: n)
                done += n
            } else {
                let groups = header >> 1
                guard groups <= UInt64(Int32.max) else { throw ParquetError(.badPage, "bit-packed run too long") }
                let bytes = Int(groups) * bw
                guard bytes <= end - pos else {
                    throw ParquetError(.badPage, "bit-packed run of \(Int(groups) * 8) values needs \(bytes) bytes, \(end - pos) left")
                }
                let n = min(Int(groups) * 8, count - done)
                unpackBits(base + pos, byteCount: bytes, bw: bw, count: n, into: out + done)
                pos += bytes
                done += n
            }
        }
    }
}

extension HybridDecoder {
    /// Decodes `count` levels into `out`, checks none exceeds `maxLevel`, and returns how
    /// many equal `maxLevel` (the non-null values). RLE runs are counted without a scan,
    /// so a page without nulls (one run) costs O(1) beyond the fill.
    mutating func decodeLevels(count: Int, maxLevel: Int, into out: UnsafeMutablePointer<UInt8>) throws -> Int {
        var done = 0
        var atMax = 0
        let top = UInt8(truncatingIfNeeded: maxLevel)
        let valueBytes = (bw + 7) / 8
        while done < count {
            guard pos < end else {
                throw ParquetError(.badPage, "RLE/bit-packed levels exhausted after \(done) of \(count) values")
            }
            var header: UInt64 = 0
            var shift: UInt64 = 0
            while true {
                guard pos < end, shift < 64 else { throw ParquetError(.badPage, "bad RLE run header") }
                let b = base.load(fromByteOffset: pos, as: UInt8.self)
                pos += 1
                header |= UInt64(b & 0x7f) << shift
                if b < 0x80 { break }
                shift += 7
            }
            if header & 1 == 0 {
                guard valueBytes <= end - pos else { throw ParquetError(.badPage, "RLE run value past the end of the data") }
                var v: UInt64 = 0
                for k in 0..<valueBytes { v |= UInt64(base.load(fromByteOffset: pos + k, as: UInt8.self)) << UInt64(8 * k) }
                pos += valueBytes
                guard v <= UInt64(maxLevel) else { throw ParquetError(.badPage, "level \(v) exceeds the column's maximum \(maxLevel)") }
                let n = Int(min(header >> 1, UInt64(count - done)))
                (out + done).initialize(repeating: UInt8(v), count: n)
                if v == UInt64(maxLevel) { atMax += n }
                done += n
            } else {
                let groups = header >> 1
                guard groups <= UInt64(Int32.max) else { throw ParquetError(.badPage, "bit-packed run too long") }
                let bytes = Int(groups) * bw
                guard bytes <= end - pos else { throw ParquetError(.badPage, "bit-packed levels past the end of the data") }
                let n = min(Int(groups) * 8, count - done)
                unpackBits(base + pos, byteCount: bytes, bw: bw, count: n, into: out + done)
                var bad = false
                for i in done..<(done + n) {
                    let l = out[i]
                    if l == top { atMax += 1 } else if l > top { bad = true }
                }
                if bad { throw ParquetError(.badPage, "a level exceeds the column's maximum \(maxLevel)") }
                pos += bytes
                done += n
            }
        }
        return atMax
    }
}

/// Deprecated BIT_PACKED levels (v1 pages of very old writers): MSB-first, no header.
/// Returns the number of bytes consumed.
func decodeLegacyBitPacked(_ span: ByteSpan, from: Int, bw: Int, count: Int,
                           into out: UnsafeMutablePointer<UInt8>) throws -> Int {
    let bytes = (count * bw + 7) / 8
    guard bytes <= span.count - from else { throw ParquetError(.badPage, "BIT_PACKED levels past the end of the page") }
    for i in 0..<count {
        var v = 0
        for b in 0..<bw {
            let bit = i * bw + b
            let byte = span.base.load(fromByteOffset: from + bit / 8, as: UInt8.self)
            v = (v << 1) | Int((byte >> UInt8(7 - bit % 8)) & 1)
        }
        out[i] = UInt8(truncatingIfNeeded: v)
    }
    return bytes
}

/// DELTA_BINARY_PACKED. Values are produced in wrapping 64-bit arithmetic; INT32 callers
/// truncate, which is exact because the wire arithmetic is modular (and DuckDB writes 33-bit
/// INT32 miniblocks). Returns the byte position just after the encoded run.
func decodeDeltaBinaryPacked(_ span: ByteSpan, from: Int, maxCount: Int,
                             into out: inout [Int64]) throws -> Int {
    var r = ThriftReader(span: span, errorKind: .badPage, fileOffset: 0)
    r.pos = from
    let blockSize = try r.varint()
    let miniblocks = try r.varint()
    let total = try r.varint()
    let first = try r.zigzag()
    guard blockSize > 0, blockSize % 128 == 0, blockSize <= 1 << 20, miniblocks > 0,
          blockSize % miniblocks == 0, (blockSize / miniblocks) % 32 == 0 else {
        throw ParquetError(.badPage, "bad DELTA_BINARY_PACKED header (block size \(blockSize), \(miniblocks) miniblocks)")
    }
    guard total <= UInt64(maxCount) else {
        throw ParquetError(.badPage, "DELTA_BINARY_PACKED claims \(total) values, the page holds at most \(maxCount)")
    }
    let count = Int(total)
    let perMini = Int(blockSize / miniblocks)
    let nMini = Int(miniblocks)
    out.reserveCapacity(out.count + count)
    if count == 0 { return r.pos }
    out.append(first)
    var last = first
    var produced = 1
    var widths = [Int](repeating: 0, count: nMini)
    while produced < count {
        let minDelta = try r.zigzag()
        guard nMini <= span.count - r.pos else { throw ParquetError(.badPage, "DELTA_BINARY_PACKED bit widths past the end of the page") }
        for m in 0..<nMini { widths[m] = Int(span.base.load(fromByteOffset: r.pos + m, as: UInt8.self)) }
        r.pos += nMini
        for m in 0..<nMini where produced < count {
            let w = widths[m]
            guard w <= 64 else { throw ParquetError(.badPage, "DELTA_BINARY_PACKED miniblock bit width \(w) > 64") }
            let bytes = perMini * w / 8
            guard bytes <= span.count - r.pos else {
                throw ParquetError(.badPage, "DELTA_BINARY_PACKED miniblock needs \(bytes) bytes, \(span.count - r.pos) left")
            }
            let n = min(perMini, count - produced)
            let p = span.base + r.pos
            var bitPos = 0
            for _ in 0..<n {
                let d = w == 0 ? 0 : readBits(p, byteCount: bytes, bitPos: bitPos, bw: w)
                bitPos += w
                last = last &+ minDelta &+ Int64(bitPattern: d)
                out.append(last)
            }
            produced += n
            r.pos += bytes
        }
    }
    return r.pos
}
