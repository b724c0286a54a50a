import CLarderSupport
#if canImport(Glibc)
import Glibc

@_silgen_name("mallopt") private func glibcMallopt(_ param: Int32, _ value: Int32) -> Int32
#endif
import Synchronization

/// What the process uses, the one place it is read: INFO memory, MEMORY STATS, memory limits,
/// and the peak a materialization or historical run reports (and records for `--plan`).
public enum ProcessMemory {
    /// Redis' used_memory: what the allocator has handed out (glibc's mallinfo2, through
    /// CLarderSupport: Swift's Glibc module does not export it). Walks malloc's arenas, so it is
    /// for INFO and MEMORY STATS, not for a per-command check. The resident size where it is 0.
    public static func allocatedBytes() -> Int {
        let inUse = Int(larder_malloc_in_use())
        return inUse > 0 ? inUse : residentBytes()
    }

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

    /// The highest resident size of the process's life: the kernel's VmHWM, kept across
    /// `resetPeak`. Not getrusage's ru_maxrss: after fork+exec that starts at the forking
    /// parent's size (a 140 MB Python test runner showed as a materialization's peak).
    /// Falls back to ru_maxrss where /proc is missing.
    public static func peakResidentBytes() -> Int {
        let peak = max(keptPeak.load(ordering: .relaxed), peakSinceResetBytes())
        if peak > 0 { return peak }
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return usage.ru_maxrss * 1024
    }

    /// The peak since the last `resetPeak` (VmHWM), so one materialized view's peak can be
    /// measured on its own.
    public static func peakSinceResetBytes() -> Int { statusField("VmHWM:") }

    /// Sets VmHWM back to the current resident size (writing 5 to /proc/self/clear_refs),
    /// remembering the peak so far for `peakResidentBytes`.
    public static func resetPeak() {
        let peak = peakSinceResetBytes()
        var kept = keptPeak.load(ordering: .relaxed)
        while peak > kept {
            let (exchanged, now) = keptPeak.compareExchange(expected: kept, desired: peak, ordering: .relaxed)
            if exchanged { break }
            kept = now
        }
        let fd = open("/proc/self/clear_refs", O_WRONLY)
        guard fd >= 0 else { return }
        _ = write(fd, "5", 1)
        close(fd)
    }

    private static let keptPeak = Atomic<Int>(0)

    /// Resident bytes holding no allocation (RSS - allocated) after the last trim, or the
    /// lowest seen since.
    private static let idleResidentAfterTrim = Atomic<Int>(0)

    /// Calls malloc_trim once the resident memory that holds no allocation has grown by
    /// `threshold` since the last call: glibc keeps the pages of freed chunks inside its heaps
    /// resident (jemalloc, Redis' allocator, purges them in the background), e.g. what 50
    /// pipelined connections' buffers used during a load. Measured after loading 1M 10-field
    /// hashes (bench/memory.sh): RSS 3.7 MB lower, the same allocated bytes. The check reads
    /// mallinfo2 and /proc (as INFO does): call it from a slow timer. True when it trimmed.
    @discardableResult
    public static func trimFreePagesIfGrown(by threshold: Int = 8 << 20) -> Bool {
        let idle = residentBytes() - allocatedBytes()
        let last = idleResidentAfterTrim.load(ordering: .relaxed)
        if idle < last { idleResidentAfterTrim.store(idle, ordering: .relaxed) }
        guard idle - last > threshold else { return false }
        #if canImport(Glibc)
        _ = larder_malloc_trim()
        #endif
        idleResidentAfterTrim.store(residentBytes() - allocatedBytes(), ordering: .relaxed)
        return true
    }

    /// The server's allocator setting, once at start-up: a fixed mmap threshold of 128 KiB
    /// (glibc's initial value). glibc otherwise raises the threshold to the size of any mmapped
    /// block that is freed (up to 32 MiB), after which the large transient buffers of
    /// pipelined connections (reads of many commands, replies) come from the heap between
    /// long-lived keys and leave holes there when freed. Measured (bench/memory.sh, 1M keys
    /// over 50 pipelined connections): RSS per 10-field hash 385 -> 348 B, the same peak; see
    /// bench/results/memory-hashes.md. Values are all far below 128 KiB, so they never mmap.
    @discardableResult
    public static func fixAllocatorThresholdsForServing() -> Bool {
        #if canImport(Glibc)
        let mMmapThreshold: Int32 = -3  // <malloc.h>
        return glibcMallopt(mMmapThreshold, 128 << 10) == 1
        #else
        return false
        #endif
    }

    public static func totalSystemBytes() -> Int {
        Int(sysconf(Int32(_SC_PHYS_PAGES))) * Int(sysconf(Int32(_SC_PAGESIZE)))
    }

    /// A `kB` field of /proc/self/status, in bytes; 0 where it cannot be read.
    private static func statusField(_ name: String) -> Int {
        // /proc files report size 0: read to the end by hand.
        let fd = open("/proc/self/status", O_RDONLY)
        guard fd >= 0 else { return 0 }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n <= 0 { break }
            bytes.append(contentsOf: chunk[0..<n])
        }
        let text = String(decoding: bytes, as: UTF8.self)
        for line in text.split(separator: "\n") where line.hasPrefix(name) {
            let digits = line.dropFirst(name.count).split(whereSeparator: { $0 == " " || $0 == "\t" }).first ?? ""
            return (Int(digits) ?? 0) * 1024
        }
        return 0
    }
}
