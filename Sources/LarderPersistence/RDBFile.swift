import Foundation

/// Writes a snapshot crash-safely: into `temp-<pid>-<n>.rdb` next to the target, checksummed
/// as it goes; `commit` appends the CRC64, fsyncs the file, renames it over the target and
/// fsyncs the directory, so after a crash at any point the target is either the previous
/// complete snapshot or the new complete one.
public final class RDBFileWriter {
    public let path: String
    public let tempPath: String
    private var fd: Int32
    private var crc = CRC64()
    public private(set) var bytesWritten = 0
    nonisolated(unsafe) private static var sequence = 0
    private static let sequenceLock = NSLock()

    public init(path: String) throws {
        self.path = path
        let dir = (path as NSString).deletingLastPathComponent
        let n: Int = Self.sequenceLock.withLock { Self.sequence += 1; return Self.sequence }
        tempPath = (dir.isEmpty ? "." : dir) + "/temp-\(getpid())-\(n).rdb"
        fd = open(tempPath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        if fd < 0 {
            throw RDBError(file: tempPath, offset: 0, message: "cannot create the temporary snapshot file: \(String(cString: strerror(errno)))")
        }
    }

    deinit { if fd >= 0 { abort() } }

    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        crc.update(bytes)
        var off = 0
        while off < bytes.count {
            let n = Foundation.write(fd, bytes.baseAddress! + off, bytes.count - off)
            if n < 0 {
                if errno == EINTR { continue }
                throw RDBError(file: tempPath, offset: bytesWritten + off, message: "write failed: \(String(cString: strerror(errno)))")
            }
            off += n
        }
        bytesWritten += bytes.count
    }

    public func write(_ bytes: [UInt8]) throws { try bytes.withUnsafeBytes { try write($0) } }

    /// Appends the checksum (the caller has written EOF), makes the file durable and moves it
    /// into place. `checksum` false: a file of commands (an AOF base without the RDB preamble),
    /// which ends with its last command.
    public func commit(checksum: Bool = true) throws {
        if checksum {
            let sum = crc.value.littleEndian
            try withUnsafeBytes(of: sum) { p in
                let n = Foundation.write(fd, p.baseAddress!, 8)
                if n != 8 { throw RDBError(file: tempPath, offset: bytesWritten, message: "write failed: \(String(cString: strerror(errno)))") }
            }
            bytesWritten += 8
        }
        if fsync(fd) != 0 { let e = errno; abort(); throw RDBError(file: tempPath, offset: 0, message: "fsync failed: \(String(cString: strerror(e)))") }
        close(fd); fd = -1
        if rename(tempPath, path) != 0 {
            let e = errno; unlink(tempPath)
            throw RDBError(file: path, offset: 0, message: "cannot rename \(tempPath) to it: \(String(cString: strerror(e)))")
        }
        let dir = (path as NSString).deletingLastPathComponent
        let dfd = open(dir.isEmpty ? "." : dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if dfd >= 0 { fsync(dfd); close(dfd) }
    }

    /// Drops the temporary file (a failed or cancelled snapshot).
    public func abort() {
        if fd >= 0 { close(fd); fd = -1 }
        unlink(tempPath)
    }
}
