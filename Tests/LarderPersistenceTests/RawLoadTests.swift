import Foundation
import XCTest
@testable import LarderPersistence
import LarderStore

/// The start-up load's fast path (the reader only delimits strings and plain hashes; the shard
/// decodes them from the file's bytes, `StoreSnapshot.insertRaw`) gives exactly the keyspace
/// the decoding path gives: same keys, values, TTLs and hash encodings, the same expired and
/// duplicate keys, and a malformed value is an error naming its offset.
final class RawLoadTests: XCTestCase {
    /// The round-trip tests' save and dump helpers (an instance only to call them).
    let round = SnapshotRoundTripTests(name: "helpers", testClosure: { _ in })

    /// Loads `bytes` into 16 keyspaces through the raw path (or only the decoding one); returns
    /// them and the count of each outcome.
    func load(_ bytes: [UInt8], raw: Bool, now: Int64) throws -> ([Keyspace], [StoreSnapshot.InsertResult: Int], rawEntries: Int) {
        let dbs = (0..<16).map { _ in Keyspace() }
        var outcomes: [StoreSnapshot.InsertResult: Int] = [:]
        var rawEntries = 0
        try bytes.withUnsafeBytes { file in
            let onRaw: ((RDBRawEntry) throws -> Void)? = raw ? { e in
                rawEntries += 1
                let key = UnsafeRawBufferPointer(start: file.baseAddress! + e.keyStart, count: e.keyCount)
                let r = try StoreSnapshot.insertRaw(e, file: file, path: "mem.rdb", hash: ByteHash.hash(key), into: dbs[e.db], now: now)
                outcomes[r, default: 0] += 1
            } : nil
            _ = try RDBReader.read(bytes: file, file: "mem.rdb", raw: onRaw) { e in
                outcomes[StoreSnapshot.insert(e, into: dbs[e.db], now: now), default: 0] += 1
            }
        }
        return (dbs, outcomes, rawEntries)
    }

    func encodings(_ db: Keyspace, now: Int64) -> [String: Bool] {
        var out: [String: Bool] = [:]
        db.forEachLive(now: now) { slot in
            if case .hash(let h) = db.value(at: slot) { out[db.key(at: slot).map { String($0) }.joined(separator: ",")] = h.isPacked }
        }
        return out
    }

    func testLarderSnapshotLoadsTheSameThroughTheRawPath() throws {
        let now: Int64 = 1_700_000_000_000
        let dbs = (0..<16).map { _ in Keyspace() }
        for i in 0..<3000 {
            let key = Array("k\(i)".utf8) + (i % 11 == 0 ? [0, 0xFF, 13, 10] : [])
            let db = dbs[i % 3 == 0 ? 0 : 7]
            let ttl: Int64 = i % 4 == 0 ? now + Int64(i) * 1000 : 0
            switch i % 6 {
            case 0: db.set(key, value: .string(Array(String(i * 7919 - 500_000).utf8)), expireAt: ttl, now: now)  // integer-encoded
            case 1: db.set(key, value: .string((0..<(i % 300)).map { UInt8(truncatingIfNeeded: $0 * i) }), expireAt: ttl, now: now)
            case 2, 3:
                // Feast-like: ~10 short fields (the one-copy packed path) ...
                let h = HashObject()
                for f in 0..<10 { _ = h.set(Array("f\(f)".utf8), (0..<(f * 5)).map { UInt8(truncatingIfNeeded: $0 &+ i) }) }
                db.set(key, value: .hash(h), expireAt: ttl, now: now)
            case 4:
                // ... values of 63, 64 and 65 bytes and 100 (a table), integer-looking fields and values.
                let h = HashObject()
                _ = h.set(Array("12345".utf8), Array("-77".utf8))
                _ = h.set(Array("v".utf8), [UInt8](repeating: 120, count: [63, 64, 65, 100][i % 4]))
                db.set(key, value: .hash(h), expireAt: ttl, now: now)
            default:
                // 128, 129 and 300 fields: packed at the limit, tables past it.
                let h = HashObject()
                for f in 0..<[128, 129, 300][i % 3] { _ = h.set(Array("field\(f)".utf8), Array("\(f)".utf8)) }
                db.set(key, value: .hash(h), expireAt: ttl, now: now)
            }
        }
        // Other types take the decoding path in the same file.
        dbs[0].set(Array("list".utf8), value: .list(ListObject(elements: [[1], [2, 3]])), now: now)
        let path = NSTemporaryDirectory() + "larder-raw-\(UUID().uuidString).rdb"
        defer { try? FileManager.default.removeItem(atPath: path) }
        try round.save(dbs, to: path, now: now)
        let bytes = Array(FileManager.default.contents(atPath: path)!)
        // Loaded later: keys whose TTL has passed by then are skipped by both paths.
        let later = now + 1_000_000
        let (viaRaw, rawOutcomes, rawEntries) = try load(bytes, raw: true, now: later)
        let (decoded, outcomes, _) = try load(bytes, raw: false, now: later)
        // k0's TTL is `now` itself: already expired when saved, so not in the file.
        XCTAssertEqual(rawEntries, 2999, "every string and hash in the file went through the raw path")
        XCTAssertEqual(rawOutcomes, outcomes)
        XCTAssertGreaterThan(outcomes[.expired] ?? 0, 0)
        for i in [0, 7] {
            XCTAssertEqual(round.dump(viaRaw[i], now: later), round.dump(decoded[i], now: later), "db \(i)")
            XCTAssertEqual(round.dump(viaRaw[i], now: later), round.dump(dbs[i], now: later), "db \(i)")
            XCTAssertEqual(encodings(viaRaw[i], now: later), encodings(decoded[i], now: later), "hash encodings, db \(i)")
            XCTAssertEqual(viaRaw[i].expiresCount, decoded[i].expiresCount)
        }
        let kinds = Set(encodings(viaRaw[7], now: later).values)
        XCTAssertEqual(kinds, [true, false], "db 7 has packed hashes and tables")
        // Loading twice into the same keyspaces reports every key as a duplicate.
        try bytes.withUnsafeBytes { file in
            _ = try RDBReader.read(bytes: file, file: "mem.rdb", raw: { e in
                let key = UnsafeRawBufferPointer(start: file.baseAddress! + e.keyStart, count: e.keyCount)
                let r = try StoreSnapshot.insertRaw(e, file: file, path: "mem.rdb", hash: ByteHash.hash(key), into: viaRaw[e.db], now: later)
                XCTAssertTrue(r == .duplicate || r == .expired)
            }) { _ in }
        }
    }

    /// Redis 7.0's file (integer-encoded and LZF strings, listpack hashes, binary keys) loads
    /// identically both ways.
    func testRedisFileLoadsTheSameThroughTheRawPath() throws {
        let url = Bundle.module.url(forResource: "Fixtures", withExtension: nil)!.appendingPathComponent("redis-7.0-mixed.rdb")
        let bytes = Array(try Data(contentsOf: url))
        let now: Int64 = 0
        let (viaRaw, a, rawEntries) = try load(bytes, raw: true, now: now)
        let (decoded, b, _) = try load(bytes, raw: false, now: now)
        XCTAssertGreaterThan(rawEntries, 5)
        XCTAssertEqual(a, b)
        for i in 0..<16 { XCTAssertEqual(round.dump(viaRaw[i], now: now), round.dump(decoded[i], now: now), "db \(i)") }
    }

    /// Hand-made plain hashes: a repeated field (the last value wins, as the decoding path's
    /// HSET-like insert does) and integer-encoded fields; a bad string encoding inside a hash is
    /// refused by the reader at its offset before any shard sees it.
    func testRepeatedFieldsAndBadEncodings() throws {
        func file(_ body: [UInt8]) -> [UInt8] {
            var f = Array("REDIS0010".utf8) + [254, 0] + body + [255]
            f += withUnsafeBytes(of: UInt64(0)) { Array($0) }  // checksum disabled
            return f
        }
        let dup = file([4, 1, 104, 3, 1, 97, 1, 49, 1, 98, 1, 50, 1, 97, 1, 51])       // h: a=1 b=2 a=3
        let (viaRaw, a, n) = try load(dup, raw: true, now: 0)
        let (decoded, b, _) = try load(dup, raw: false, now: 0)
        XCTAssertEqual(n, 1); XCTAssertEqual(a, b)
        XCTAssertEqual(round.dump(viaRaw[0], now: 0), round.dump(decoded[0], now: 0))
        XCTAssertTrue(round.dump(viaRaw[0], now: 0).values.first!.contains("[97]:[51]"), "a=3: the last value wins")
        let ints = file([4, 1, 105, 2, 0xC0, 7, 0xC1, 0x10, 0x27, 0xC2, 1, 0, 0, 0, 1, 120])  // i: 7=10000 1=x
        let (r2, _, _) = try load(ints, raw: true, now: 0)
        let (d2, _, _) = try load(ints, raw: false, now: 0)
        XCTAssertEqual(round.dump(r2[0], now: 0), round.dump(d2[0], now: 0))
        let bad = file([4, 1, 104, 1, 1, 97, 0xC5, 0])  // string encoding 5 does not exist
        XCTAssertThrowsError(try load(bad, raw: true, now: 0)) { e in
            XCTAssertTrue("\(e)".contains("unknown string encoding 5"), "\(e)")
            XCTAssertEqual((e as? RDBError)?.offset, 17)
        }
        let truncated = Array(file([4, 1, 104, 2, 1, 97, 1, 49, 1, 98, 60, 50]).dropLast(9))
        XCTAssertThrowsError(try load(truncated, raw: true, now: 0)) { e in XCTAssertTrue("\(e)".contains("truncated"), "\(e)") }
    }
}
