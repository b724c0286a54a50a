import XCTest
import LarderStore
#if canImport(Glibc)
import Glibc
#endif

/// The packed read paths allocate nothing. Needs bench/hash-alloc/count.c preloaded (see
/// bench/hash-alloc/run.sh); skipped otherwise.
final class HashObjectAllocationTests: XCTestCase {
    func testPackedLookupManyGetAndForEachDoNotAllocate() throws {
        guard let sym = dlsym(nil, "larder_malloc_count") else { throw XCTSkip("malloc-counting shim not preloaded (bench/hash-alloc/run.sh)") }
        let counter = sym.assumingMemoryBound(to: Int.self)
        let h = HashObject()
        for i in 0..<10 { h.set(Array("f\(i)aa".utf8), Array("value\(i)".utf8)) }
        h.set(Array("_ts:view".utf8), Array("12345678".utf8))
        let fields = (0..<10).map { Array("f\($0)aa".utf8) } + [Array("_ts:view".utf8)]
        let joined = Array(fields.joined())
        var total = 0
        joined.withUnsafeBytes { all in
            var views: [UnsafeRawBufferPointer] = []
            var at = 0
            for f in fields { views.append(UnsafeRawBufferPointer(rebasing: all[at..<at + f.count])); at += f.count }
            views.withUnsafeBufferPointer { vp in
                h.lookupMany(vp.count, field: { vp[$0] }) { _, v in total &+= v?.count ?? 0 }
                let before = counter.pointee
                for _ in 0..<1000 {
                    h.lookupMany(vp.count, field: { vp[$0] }) { _, v in total &+= v?.count ?? 0 }
                    h.withValue(vp[3]) { total &+= $0?.count ?? 0 }
                    h.forEach { f, v in total &+= f.count + v.count }
                }
                let after = counter.pointee
                XCTAssertEqual(after - before, 0)
                XCTAssertGreaterThan(total, 0)
            }
        }
    }
}
