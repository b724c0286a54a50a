#if canImport(Glibc)
import Glibc
#endif

/// Redis' long double text conversions (`string2ld` and `ld2string(..., LD_STR_HUMAN)`):
/// HINCRBYFLOAT computes in 80-bit long double and prints "%.17Lf" without trailing zeros, so
/// 0.1 + 0.2 gives "0.3" and 1e308 + 1e308 stays finite.
enum LongDoubleText {
    #if arch(x86_64) || arch(i386)
    typealias Value = Float80
    #else
    typealias Value = Double
    #endif

    /// Parses like `string2ld`: no leading space, nothing after the number, no NaN, no
    /// overflow to infinity (an explicit "inf" is accepted; callers reject it).
    static func parse(_ bytes: UnsafeRawBufferPointer) -> Value? {
        if bytes.count == 0 || bytes.count >= 5 * 1024 { return nil }
        if isSpaceByte(bytes[0]) { return nil }
        return withUnsafeTemporaryAllocation(of: CChar.self, capacity: bytes.count + 1) { buf -> Value? in
            for i in 0..<bytes.count { buf[i] = CChar(bitPattern: bytes[i]) }
            buf[bytes.count] = 0
            var end: UnsafeMutablePointer<CChar>? = nil
            errno = 0
            #if arch(x86_64) || arch(i386)
            let v = strtold(buf.baseAddress!, &end)
            let huge = Value.infinity
            #else
            let v = strtod(buf.baseAddress!, &end)
            let huge = Value.infinity
            #endif
            // The whole argument must be consumed; a NUL inside it must not end the number early.
            guard let end, end == buf.baseAddress! + bytes.count else { return nil }
            if errno == ERANGE && (v == huge || v == -huge || v == 0) { return nil }
            if errno == EINVAL || v.isNaN { return nil }
            return v
        }
    }

    static func parse(_ s: String) -> Value? {
        var s = s
        return s.withUTF8 { parse(UnsafeRawBufferPointer($0)) }
    }

    @inline(__always) static func isSpaceByte(_ c: UInt8) -> Bool { c == 32 || (c >= 9 && c <= 13) }

    /// "%.17Lf", then trailing zeros (and a bare '.') removed; "-0" becomes "0".
    static func format(_ v: Value) -> [UInt8] {
        var buf = [CChar](repeating: 0, count: 5 * 1024 + 32)
        #if arch(x86_64) || arch(i386)
        let n = withVaList([v]) { vsnprintf(&buf, buf.count, "%.17Lf", $0) }
        #else
        let n = withVaList([v]) { vsnprintf(&buf, buf.count, "%.17f", $0) }
        #endif
        var len = Int(max(0, min(n, Int32(buf.count - 1))))
        if buf[0..<len].contains(CChar(UInt8(ascii: "."))) {
            while len > 0 && buf[len - 1] == CChar(UInt8(ascii: "0")) { len -= 1 }
            if len > 0 && buf[len - 1] == CChar(UInt8(ascii: ".")) { len -= 1 }
        }
        if len == 2 && buf[0] == CChar(UInt8(ascii: "-")) && buf[1] == CChar(UInt8(ascii: "0")) {
            return [UInt8(ascii: "0")]
        }
        return buf[0..<len].map { UInt8(bitPattern: $0) }
    }
}
