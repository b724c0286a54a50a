import Foundation

/// Constants of Redis' RDB format (src/rdb.h) that Larder reads or writes.
public enum RDB {
    /// The version Larder writes: Redis 7.0's, so Debian's redis-server 7.0 loads the file.
    public static let writeVersion = 10
    /// The version written when some hash has field TTLs (Redis 7.4's types 24/25 need it).
    public static let fieldTTLVersion = 12
    public static let readableVersions = 1...12
    public static let minReadVersion = 9

    enum Opcode {
        static let slotInfo: UInt8 = 244, function2: UInt8 = 245, functionPreGA: UInt8 = 246
        static let moduleAux: UInt8 = 247, idle: UInt8 = 248, freq: UInt8 = 249, aux: UInt8 = 250
        static let resizeDB: UInt8 = 251, expireTimeMs: UInt8 = 252, expireTime: UInt8 = 253
        static let selectDB: UInt8 = 254, eof: UInt8 = 255
    }

    /// Quicklist node containers (quicklist.h): one element as a plain string, or a listpack.
    static let quicklistPlain: UInt64 = 1, quicklistPacked: UInt64 = 2

    enum TypeCode {
        static let string: UInt8 = 0, list: UInt8 = 1, set: UInt8 = 2, zset: UInt8 = 3, hash: UInt8 = 4
        static let zset2: UInt8 = 5, modulePreGA: UInt8 = 6, module2: UInt8 = 7
        static let hashZipmap: UInt8 = 9, listZiplist: UInt8 = 10, setIntset: UInt8 = 11
        static let zsetZiplist: UInt8 = 12, hashZiplist: UInt8 = 13, listQuicklist: UInt8 = 14
        static let streamListpacks: UInt8 = 15, hashListpack: UInt8 = 16, zsetListpack: UInt8 = 17
        static let listQuicklist2: UInt8 = 18, streamListpacks2: UInt8 = 19, setListpack: UInt8 = 20
        static let streamListpacks3: UInt8 = 21, hashMetadataPreGA: UInt8 = 22, hashListpackExPreGA: UInt8 = 23
        static let hashMetadata: UInt8 = 24, hashListpackEx: UInt8 = 25
    }

    /// A score as Redis' d2string writes it into a listpack: "%.17g", "inf", "-inf", "nan".
    static func scoreText(_ v: Double) -> String {
        if v.isNaN { return "nan" }
        if v.isInfinite { return v > 0 ? "inf" : "-inf" }
        var buf = [CChar](repeating: 0, count: 64)
        _ = withVaList([v]) { vsnprintf(&buf, 64, "%.17g", $0) }
        return buf.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
    }

    /// The Redis type an RDB value type code stands for, for error messages.
    static func typeName(_ t: UInt8) -> String {
        switch t {
        case 0: return "string"
        case 1, 10, 14, 18: return "list"
        case 2, 11, 20: return "set"
        case 3, 5, 12, 17: return "zset"
        case 4, 9, 13, 16, 22, 23, 24, 25: return "hash"
        case 6, 7: return "module"
        case 15, 19, 21: return "stream"
        default: return "unknown type \(t)"
        }
    }
}

/// A snapshot that cannot be read: which file, where in it, and what was wrong.
public struct RDBError: Error, CustomStringConvertible, Equatable {
    public var file: String
    public var offset: Int
    public var message: String

    public init(file: String, offset: Int, message: String) {
        self.file = file; self.offset = offset; self.message = message
    }

    public var description: String { "\(file): at byte offset \(offset): \(message)" }
}
