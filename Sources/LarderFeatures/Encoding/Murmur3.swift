/// MurmurHash3, x86 32-bit variant (Austin Appleby's `MurmurHash3_x86_32`).
///
/// Feast names Redis hash fields with `mmh3.hash("<view>:<feature>", seed=0, signed=False)`,
/// so this must match that implementation bit for bit.
public enum Murmur3 {
    public static func hash32<Bytes: Sequence>(_ bytes: Bytes, seed: UInt32 = 0) -> UInt32 where Bytes.Element == UInt8 {
        let c1: UInt32 = 0xcc9e_2d51
        let c2: UInt32 = 0x1b87_3593
        var h = seed
        var length: UInt32 = 0
        // Blocks of 4 bytes are read little-endian; `pending` collects the current block.
        var pending: UInt32 = 0
        var pendingCount = 0
        for byte in bytes {
            pending |= UInt32(byte) << (8 * UInt32(pendingCount))
            pendingCount += 1
            length &+= 1
            if pendingCount == 4 {
                var k = pending
                k &*= c1
                k = (k << 15) | (k >> 17)
                k &*= c2
                h ^= k
                h = (h << 13) | (h >> 19)
                h = h &* 5 &+ 0xe654_6b64
                pending = 0
                pendingCount = 0
            }
        }
        if pendingCount > 0 {
            var k = pending
            k &*= c1
            k = (k << 15) | (k >> 17)
            k &*= c2
            h ^= k
        }
        h ^= length
        h ^= h >> 16
        h &*= 0x85eb_ca6b
        h ^= h >> 13
        h &*= 0xc2b2_ae35
        h ^= h >> 16
        return h
    }

    public static func hash32(_ string: String, seed: UInt32 = 0) -> UInt32 {
        hash32(string.utf8, seed: seed)
    }
}
