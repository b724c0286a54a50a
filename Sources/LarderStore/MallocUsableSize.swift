// malloc's own idea of a block's size: the packed hash buffers grow into the slack malloc gives
// them, and KeyTable and HashObject count it in MEMORY USAGE.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

#if canImport(Glibc)
/// glibc's malloc_usable_size (declared in <malloc.h>, which the Glibc module leaves out).
@_silgen_name("malloc_usable_size") func larder_malloc_usable_size(_ p: UnsafeMutableRawPointer?) -> Int
#endif

/// The bytes usable in a malloc'd block (at least what was asked for).
@inline(__always) func usableSize(_ p: UnsafeMutableRawPointer) -> Int {
    #if canImport(Glibc)
    return larder_malloc_usable_size(p)
    #elseif canImport(Darwin)
    return malloc_size(p)
    #else
    return 0
    #endif
}
