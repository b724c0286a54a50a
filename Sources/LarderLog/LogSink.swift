#if canImport(Glibc)
import Glibc
#endif

/// Where finished log lines go: standard error (one write(2) per line, under a lock so lines
/// from several threads never interleave), or a closure (tests).
public final class LogSink: @unchecked Sendable {
    private let lock = LockedValue(())
    private let writeLine: ([UInt8]) -> Void

    public init(_ writeLine: @escaping ([UInt8]) -> Void) { self.writeLine = writeLine }

    public static let standardError = LogSink { bytes in
        bytes.withUnsafeBytes { raw in
            var off = 0
            while off < raw.count {
                let n = write(2, raw.baseAddress! + off, raw.count - off)
                if n <= 0 { if n < 0 && errno == EINTR { continue }; return }
                off += n
            }
        }
    }

    func emit(_ line: [UInt8]) { lock.withLockedValue { _ in writeLine(line) } }
}
