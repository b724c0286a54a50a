#if canImport(Glibc)
import Glibc
#endif

/// What the process uses, the one place it is read: INFO memory, MEMORY STATS, memory limits,
/// and the peak a materialization or historical run reports.
public enum ProcessMemory {
    /// Redis' used_memory is its allocator's count; glibc's mallinfo2 is not visible from
    /// Swift, so the resident size stands in for it.
    public static func allocatedBytes() -> Int { residentBytes() }

    /// Resident set size now, from /proc/self/statm (pages); 0 where it cannot be read.
    public static func residentBytes() -> Int {
        let fd = open("/proc/self/statm", O_RDONLY)
        guard fd >= 0 else { return 0 }
        defer { close(fd) }
        var buf = [UInt8](repeating: 0, count: 128)
        let n = buf.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        guard n > 0 else { return 0 }
        let fields = buf[0..<n].split(separator: UInt8(ascii: " "))
        guard fields.count > 1, let pages = Int(String(decoding: fields[1], as: UTF8.self)) else { return 0 }
        return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
    }

    /// The highest resident size so far (getrusage's ru_maxrss, KiB on Linux). After fork+exec
    /// this starts at the parent's size; materialization reports LarderOffline's `PeakMemory`
    /// (VmHWM, reset per view) instead.
    public static func peakResidentBytes() -> Int {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return usage.ru_maxrss * 1024
    }

    public static func totalSystemBytes() -> Int {
        Int(sysconf(Int32(_SC_PHYS_PAGES))) * Int(sysconf(Int32(_SC_PAGESIZE)))
    }
}
