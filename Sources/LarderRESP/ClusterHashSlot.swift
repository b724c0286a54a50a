// Shared by the server (CLUSTER KEYSLOT, COUNTKEYSINSLOT) and the materializer's cluster
// client (LarderOffline), which both need the slot of a key and must agree with Redis.

/// Redis Cluster's key → slot function: CRC16 (XMODEM: polynomial 0x1021, initial value 0)
/// of the key, or of its hash tag (the bytes between the first `{` and the first `}` after
/// it, when that is not empty), modulo 16384.
public enum ClusterHashSlot {
    private static let table: [UInt16] = (0..<256).map { byte -> UInt16 in
        var crc = UInt16(byte) << 8
        for _ in 0..<8 { crc = (crc & 0x8000) != 0 ? (crc << 1) ^ 0x1021 : crc << 1 }
        return crc
    }

    public static func crc16(_ bytes: UnsafeRawBufferPointer) -> UInt16 {
        var crc: UInt16 = 0
        table.withUnsafeBufferPointer { t in
            for b in bytes { crc = (crc << 8) ^ t[Int((crc >> 8) ^ UInt16(b))] }
        }
        return crc
    }

    public static func slot(of key: UnsafeRawBufferPointer) -> Int {
        if let open = key.firstIndex(of: UInt8(ascii: "{")),
           let close = key[(open + 1)...].firstIndex(of: UInt8(ascii: "}")), close > open + 1 {
            return Int(crc16(UnsafeRawBufferPointer(rebasing: key[(open + 1)..<close])) & 0x3FFF)
        }
        return Int(crc16(key) & 0x3FFF)
    }

    public static func slot(of key: [UInt8]) -> Int { key.withUnsafeBytes { slot(of: $0) } }
}
