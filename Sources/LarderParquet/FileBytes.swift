#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The bytes of a whole Parquet file, either memory-mapped (read-only) or owned in memory.
/// Immutable after creation, so sharing it between decoding threads is safe.
final class FileBytes: @unchecked Sendable {
    let base: UnsafeRawPointer
    let count: Int
    private let isMapped: Bool

    /// Maps `path` read-only. An empty file gets a dummy 1-byte allocation so `base` is valid.
    init(path: String) throws {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else {
            throw ParquetError(.io, "cannot open: \(String(cString: strerror(errno)))", file: path)
        }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else {
            throw ParquetError(.io, "cannot stat: \(String(cString: strerror(errno)))", file: path)
        }
        if (st.st_mode & S_IFMT) == S_IFDIR {
            throw ParquetError(.io, "is a directory, not a file", file: path)
        }
        let size = Int(st.st_size)
        if size == 0 {
            let p = UnsafeMutableRawPointer.allocate(byteCount: 1, alignment: 8)
            base = UnsafeRawPointer(p)
            count = 0
            isMapped = false
            return
        }
        guard let p = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), p != MAP_FAILED else {
            throw ParquetError(.io, "cannot mmap: \(String(cString: strerror(errno)))", file: path)
        }
        base = UnsafeRawPointer(p)
        count = size
        isMapped = true
    }

    /// Copies `bytes` into an owned buffer (used for in-memory files and the fuzzer).
    init(copying bytes: UnsafeRawBufferPointer) {
        let p = UnsafeMutableRawPointer.allocate(byteCount: max(bytes.count, 1), alignment: 16)
        if let src = bytes.baseAddress, bytes.count > 0 { p.copyMemory(from: src, byteCount: bytes.count) }
        base = UnsafeRawPointer(p)
        count = bytes.count
        isMapped = false
    }

    deinit {
        if isMapped {
            munmap(UnsafeMutableRawPointer(mutating: base), count)
        } else {
            UnsafeMutableRawPointer(mutating: base).deallocate()
        }
    }

    func u32le(at offset: Int) -> UInt32 {
        UInt32(littleEndian: base.loadUnaligned(fromByteOffset: offset, as: UInt32.self))
    }
}

/// A bounds-checked view of a byte range (a page body, a footer). Not owning.
struct ByteSpan {
    let base: UnsafeRawPointer
    let count: Int

    init(base: UnsafeRawPointer, count: Int) {
        self.base = base
        self.count = count
    }

    init(_ buffer: UnsafeRawBufferPointer) {
        // A zero-length buffer may have a nil base; any non-dereferenced address works then.
        self.base = buffer.baseAddress ?? UnsafeRawPointer(bitPattern: 0x10)!
        self.count = buffer.count
    }

    /// Sub-span [from, from+length), checked.
    func slice(_ from: Int, _ length: Int, _ what: @autoclosure () -> String) throws -> ByteSpan {
        guard from >= 0, length >= 0, from <= count, length <= count - from else {
            throw ParquetError(.badPage, "\(what()) needs bytes [\(from), \(from &+ length)) but only \(count) are available")
        }
        return ByteSpan(base: base + from, count: length)
    }

    func u32le(at offset: Int) -> UInt32 {
        UInt32(littleEndian: base.loadUnaligned(fromByteOffset: offset, as: UInt32.self))
    }

    var rawBuffer: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: base, count: count) }
}
