/// DUMP / RESTORE payloads, as Redis' createDumpPayload / verifyDumpPayload: the value in RDB
/// form (type byte, then the value, as in a snapshot), the RDB version as 2 little-endian bytes,
/// then the CRC64 (Redis' Jones polynomial, as the snapshot's) of everything before it, little
/// endian. So a payload from redis-server 7.0 restores here and the reverse.
public enum DumpPayload {
    public enum Failure: Error, Equatable {
        /// Shorter than the footer, a version newer than this reader, or a checksum mismatch.
        case versionOrChecksum
        /// The value does not parse, is of a type Larder lacks, or is an empty collection.
        case badData
    }

    /// The payload of a value from `StoreSnapshot.dumpValue`.
    public static func wrap(_ value: [UInt8], version: Int) -> [UInt8] {
        var out = value
        out.reserveCapacity(value.count + 10)
        out.append(UInt8(version & 0xFF))
        out.append(UInt8((version >> 8) & 0xFF))
        let crc = CRC64.checksum(out)
        withUnsafeBytes(of: crc.littleEndian) { out += $0 }
        return out
    }

    /// The value a payload holds, checked as Redis checks it: footer first (version, then
    /// CRC), then the value's structure. Versions up to the newest this reader knows (12) are
    /// accepted, so a DUMP of a hash with field TTLs restores here (Redis 7.0 stops at 10).
    public static func value(_ payload: UnsafeRawBufferPointer) throws -> RDBValue {
        guard payload.count >= 10 else { throw Failure.versionOrChecksum }
        let footer = payload.count - 10
        let version = Int(payload[footer]) | Int(payload[footer + 1]) << 8
        guard version <= RDB.readableVersions.upperBound else { throw Failure.versionOrChecksum }
        let stored = UInt64(littleEndian: payload.loadUnaligned(fromByteOffset: payload.count - 8, as: UInt64.self))
        guard CRC64.checksum(UnsafeRawBufferPointer(rebasing: payload[0..<payload.count - 8])) == stored else {
            throw Failure.versionOrChecksum
        }
        // Over the whole payload, footer included, as Redis' rio buffer: a value whose lengths
        // run into the footer reads those bytes, as in Redis.
        var reader = RDBReader(bytes: payload, file: "DUMP payload")
        let value: RDBValue
        do {
            let type = try reader.byte("the value type")
            value = try reader.value(type: type, key: [], keyOffset: 0, typeOffset: 0)
        } catch {
            throw Failure.badData
        }
        // Redis' rdbLoadObject refuses an empty collection (RDB_LOAD_ERR_EMPTY_KEY).
        switch value {
        case .string: break
        case .hash(let f): if f.isEmpty { throw Failure.badData }
        case .list(let l): if l.isEmpty { throw Failure.badData }
        case .set(let m): if m.isEmpty { throw Failure.badData }
        case .zset(let members, _): if members.isEmpty { throw Failure.badData }
        }
        return value
    }
}

extension RDBEntry {
    /// A key to store from elsewhere than a snapshot file (RESTORE).
    public init(db: Int, key: [UInt8], expireAt: Int64, value: RDBValue) {
        self.db = db; self.key = key; self.expireAt = expireAt; self.value = value
    }
}
