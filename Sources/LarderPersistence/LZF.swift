/// LZF decompression (the format of Redis' lzf_d.c): a control byte below 32 starts a literal
/// run of ctrl+1 bytes; otherwise its top 3 bits are a back-reference length - 2 (7 = one
/// more length byte follows) and its low 5 bits with the next byte the distance - 1.
enum LZF {
    /// Decompresses `input` into exactly `expectedLength` bytes; nil when the data is malformed
    /// (a reference before the start, a run past either end) or the length differs.
    static func decompress(_ input: UnsafeRawBufferPointer, expectedLength: Int) -> [UInt8]? {
        if expectedLength == 0 { return input.isEmpty ? [] : nil }
        var out = [UInt8](repeating: 0, count: expectedLength)
        let ok: Bool = out.withUnsafeMutableBufferPointer { o in
            var ip = 0, op = 0
            let n = input.count
            while ip < n {
                let ctrl = Int(input[ip]); ip += 1
                if ctrl < 32 {
                    let run = ctrl + 1
                    if op + run > expectedLength || ip + run > n { return false }
                    for k in 0..<run { o[op + k] = input[ip + k] }
                    ip += run; op += run
                } else {
                    var len = ctrl >> 5
                    if len == 7 {
                        if ip >= n { return false }
                        len += Int(input[ip]); ip += 1
                    }
                    if ip >= n { return false }
                    let ref = op - ((ctrl & 0x1F) << 8) - Int(input[ip]) - 1
                    ip += 1
                    len += 2
                    if ref < 0 || op + len > expectedLength { return false }
                    for k in 0..<len { o[op + k] = o[ref + k] }   // may overlap: byte by byte
                    op += len
                }
            }
            return op == expectedLength
        }
        return ok ? out : nil
    }
}
