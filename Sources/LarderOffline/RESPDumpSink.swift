import Glibc
import LarderStore

/// `larder materialize --dump-resp FILE`: writes to FILE the command stream the RESP target
/// sends into an empty store (each HMGET answered "absent", so every entity is written), encoded
/// by the same `RESPCommandBuffer` functions, and connects to nothing. Replaying the file with
/// `redis-cli --pipe` times what the server alone needs to absorb a materialization: the floor
/// `bench/materialize/floor.sh` compares the real run against.
public final class RESPDumpSink: MaterializationSink {
    public let path: String
    private let fd: Int32
    private var buffer = RESPCommandBuffer()
    public private(set) var bytesWritten = 0

    public init(path: String) throws {
        self.path = path
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard fd >= 0 else { throw RESPClientError("--dump-resp \(path): cannot open: \(String(cString: strerror(errno)))") }
    }

    deinit { close(fd) }

    public func readField(_ field: [UInt8], keys: ArraySlice<[UInt8]>) throws -> [[UInt8]?] {
        buffer.appendReads(field, keys: keys)
        try flushIfLarge()
        return [[UInt8]?](repeating: nil, count: keys.count)
    }

    public func write(_ batch: HashWriteBatch) throws {
        buffer.appendWrites(batch)
        try flushIfLarge()
    }

    public func finish() throws { try flush() }

    private func flushIfLarge() throws { if buffer.count >= 1 << 20 { try flush() } }

    private func flush() throws {
        try buffer.bytes.withUnsafeBytes { raw in
            var done = 0
            while done < raw.count {
                let n = Glibc.write(fd, raw.baseAddress! + done, raw.count - done)
                if n < 0 && errno == EINTR { continue }
                guard n > 0 else { throw RESPClientError("--dump-resp \(path): cannot write: \(String(cString: strerror(errno)))") }
                done += n
            }
        }
        bytesWritten += buffer.count
        buffer.removeAll()
    }
}
