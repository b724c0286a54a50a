#if canImport(Glibc)
import Glibc

@_silgen_name("mallopt") private func glibcMallopt(_ param: Int32, _ value: Int32) -> Int32
#endif

/// Process-wide allocator tuning for bulk columnar reads.
public enum ParquetMemory {
    /// Makes glibc keep freed large blocks for reuse instead of returning them to the kernel
    /// (mmap threshold 32 MiB, trim threshold 1 GiB). Streaming row groups allocates and frees
    /// the same column-sized arrays over and over; without this every row group page-faults
    /// its arrays in again (about 2x slower decoding). jemalloc/mimalloc, which pyarrow uses,
    /// behave like this by default. Call once at process start (CLI, server, benchmark);
    /// it is not done implicitly because it changes the whole process.
    @discardableResult
    public static func keepFreedMemoryForReuse() -> Bool {
        #if canImport(Glibc)
        let mTrimThreshold: Int32 = -1, mMmapThreshold: Int32 = -3  // <malloc.h>
        return glibcMallopt(mMmapThreshold, 32 << 20) == 1 && glibcMallopt(mTrimThreshold, 1 << 30) == 1
        #else
        return false
        #endif
    }
}
