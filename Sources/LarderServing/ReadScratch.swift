#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import LarderFeatures

/// FEATURES.GET's per-thread working buffers: a row's join-key values, a view's key values and
/// the row's Redis key, kept between requests so a request allocates none of them. Measured
/// reason: the three arrays (malloc, free and their release) were ~900 of the 35,600
/// instructions of a 1 x 10 request under callgrind.
///
/// Reached through a pointer kept in a pthread key (one per thread, never shared): a class's
/// stored `var`s would be checked for exclusive access on every use, a pointer's pointee is not.
struct ReadScratch {
    var rowValues: [FeastValue] = []
    var keyValues: [FeastValue] = []
    var key: [UInt8] = []
    /// This thread's FEATURES.GET request plans (GetPlanCache).
    var plans = GetPlanCache()
    /// A row key of a single-INT64-key view, built in place (up to `keyBufferSize` bytes).
    let keyBuffer = UnsafeMutableRawPointer.allocate(byteCount: ReadScratch.keyBufferSize, alignment: 16)
    static let keyBufferSize = 512

    private static let threadKey: pthread_key_t = {
        var k = pthread_key_t()
        let rc = pthread_key_create(&k) { p in
            guard let p else { return }
            let s = p.assumingMemoryBound(to: ReadScratch.self)
            s.pointee.keyBuffer.deallocate()
            s.deinitialize(count: 1)
            s.deallocate()
        }
        precondition(rc == 0, "pthread_key_create failed (\(rc)) for FEATURES.GET's scratch buffers")
        return k
    }()

    /// This thread's scratch, created on first use.
    static var current: UnsafeMutablePointer<ReadScratch> {
        let k = threadKey
        if let p = pthread_getspecific(k) { return p.assumingMemoryBound(to: ReadScratch.self) }
        let s = UnsafeMutablePointer<ReadScratch>.allocate(capacity: 1)
        s.initialize(to: ReadScratch())
        s.pointee.rowValues.reserveCapacity(4)
        s.pointee.keyValues.reserveCapacity(4)
        s.pointee.key.reserveCapacity(128)
        pthread_setspecific(k, s)
        return s
    }
}
