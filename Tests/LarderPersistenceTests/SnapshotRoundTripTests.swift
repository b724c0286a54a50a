import Foundation
import XCTest
@testable import LarderPersistence
import LarderStore

/// Keyspaces written with StoreSnapshot + RDBFileWriter and read back are identical, including
/// expiries, binary keys, large hashes and hash field TTLs.
final class SnapshotRoundTripTests: XCTestCase {
    var dir: String!

    override func setUp() {
        dir = NSTemporaryDirectory() + "larder-rdb-\(UUID().uuidString)"
        try! FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }
    override func tearDown() { try? FileManager.default.removeItem(atPath: dir) }

    func save(_ dbs: [Keyspace], to path: String, now: Int64) throws {
        let w = try RDBFileWriter(path: path)
        var enc = RDBEncoder()
        enc.header(version: StoreSnapshot.requiredVersion(dbs))
        enc.aux("redis-ver", "7.0.0")
        for (i, db) in dbs.enumerated() where db.count > 0 {
            enc.selectDB(i)
            enc.resizeDB(keys: db.count, expires: db.expiresCount)
            StoreSnapshot.encode(db, into: &enc, now: now)
        }
        enc.eof()
        try w.write(enc.bytes)
        try w.commit()
    }

    func load(_ path: String, now: Int64) throws -> [Keyspace] {
        let dbs = (0..<16).map { _ in Keyspace() }
        _ = try RDBReader.read(path: path) { e in XCTAssertEqual(StoreSnapshot.insert(e, into: dbs[e.db], now: now), .inserted) }
        return dbs
    }

    func dump(_ db: Keyspace, now: Int64) -> [String: String] {
        var out: [String: String] = [:]
        db.forEachLive(now: now) { slot in
            let k = db.key(at: slot).map { String($0) }.joined(separator: ",")
            var v = "ttl=\(db.expireAt(slot)) "
            switch db.value(at: slot) {
            case .string(let s): v += "s:" + s.map { String($0) }.joined(separator: ",")
            case .hash(let h):
                var fs: [String] = []
                h.forEach { f, val in fs.append("\(Array(f)):\(Array(val)):\(h.fieldExpireAt(f) ?? 0)") }
                v += "h:" + fs.sorted().joined(separator: ";")
            case .list(let l):
                v += "l:" + l.elements.map { "\($0)" }.joined(separator: ";")
            case .set(let s):
                v += (s.isIntset ? "intset:" : "set:") + s.members.map { "\($0)" }.sorted().joined(separator: ";")
            case .zset(let z):
                var es: [String] = []
                z.forEach { m, sc in es.append("\(Array(m))=\(sc.bitPattern)") }
                v += (z.isPacked ? "zlp:" : "zsl:") + es.joined(separator: ";")
            }
            out[k] = v
        }
        return out
    }

    func testRoundTrip() throws {
        let now: Int64 = 1_700_000_000_000
        let dbs = (0..<16).map { _ in Keyspace() }
        var rng = SystemRandomNumberGenerator()
        for i in 0..<2000 {
            let key = (0..<Int.random(in: 0...20, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) } + Array("k\(i)".utf8)
            let db = dbs[i % 3 == 0 ? 0 : (i % 3 == 1 ? 5 : 15)]
            let ttl: Int64 = i % 4 == 0 ? now + Int64(i) * 1000 : 0
            if i % 5 == 3 && i % 2 == 0 {
                // Sorted sets: packed ones (integer, fractional, infinite scores) and skiplists.
                let z = ZSetObject()
                for m in 0..<(i % 400 + 1) {
                    let score: Double = m % 17 == 0 ? (m % 2 == 0 ? .infinity : -.infinity) : (m % 3 == 0 ? Double(m) : Double(m) / 7 - 20)
                    z.set(Array("m\(m)-\(i)".utf8), score: score)
                }
                db.set(key, value: .zset(z), expireAt: ttl, now: now)
            } else if i % 5 == 1 {
                // Lists of 1 to ~3000 elements (several 8 KB nodes), and sets: intsets of each
                // width and hash tables.
                if i % 10 == 1 {
                    let l = ListObject(elements: (0..<(i % 3000)).map { Array("e\($0)-\(i)".utf8) } + [[], Array(String(i).utf8)])
                    db.set(key, value: .list(l), expireAt: ttl, now: now)
                } else {
                    let s = SetObject()
                    let scale: Int64 = [100, 100_000, 10_000_000_000][i % 3]
                    for m in 0..<(i % 700) { _ = s.add(Array(String(Int64(m) * scale - 3 * scale).utf8)) }
                    if i % 7 == 0 { _ = s.add(Array("str".utf8)) }
                    if s.count == 0 { _ = s.add(Array("only".utf8)) }
                    db.set(key, value: .set(s), expireAt: ttl, now: now)
                }
            } else if i % 2 == 0 {
                let value: [UInt8] = i % 10 == 0 ? Array(String(i * 7919 - 500_000).utf8) : (0..<Int.random(in: 0...300, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
                db.set(key, value: .string(value), expireAt: ttl, now: now)
            } else {
                let h = HashObject()
                for f in 0..<(i % 7 == 0 ? 200 : 5) { _ = h.set(Array("f\(f)".utf8), Array("value-\(i)-\(f)".utf8)) }
                db.set(key, value: .hash(h), expireAt: ttl, now: now)
            }
        }
        let path = dir + "/dump.rdb"
        try save(dbs, to: path, now: now)
        XCTAssertEqual(Array(FileManager.default.contents(atPath: path)!.prefix(9)), Array("REDIS0010".utf8), "no field TTLs: version 10")
        let loaded = try load(path, now: now)
        for i in 0..<16 { XCTAssertEqual(dump(loaded[i], now: now), dump(dbs[i], now: now), "db \(i)") }
        XCTAssertEqual(loaded[5].expiresCount, dbs[5].expiresCount)
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasPrefix("temp-") }
        XCTAssertEqual(leftovers, [], "the temporary file was renamed into place")
    }

    func testHashFieldTTLsNeedVersion12AndRoundTrip() throws {
        let now: Int64 = 1_700_000_000_000
        let dbs = (0..<16).map { _ in Keyspace() }
        let h = HashObject()
        _ = h.set(Array("a".utf8), Array("1".utf8))
        _ = h.set(Array("b".utf8), Array("2".utf8))
        _ = h.set(Array("c".utf8), Array("3".utf8))
        Array("a".utf8).withUnsafeBytes { h.setFieldExpiry($0, at: now + 10_000) }
        Array("c".utf8).withUnsafeBytes { h.setFieldExpiry($0, at: now + 99_000) }
        dbs[0].set(Array("fh".utf8), value: .hash(h), now: now)
        XCTAssertEqual(dbs[0].hashesWithFieldExpiry, 1)
        let path = dir + "/dump.rdb"
        try save(dbs, to: path, now: now)
        XCTAssertEqual(Array(FileManager.default.contents(atPath: path)!.prefix(9)), Array("REDIS0012".utf8))
        let loaded = try load(path, now: now)
        XCTAssertEqual(dump(loaded[0], now: now), dump(dbs[0], now: now))
        XCTAssertEqual(loaded[0].hashesWithFieldExpiry, 1, "field TTLs are indexed for the sweep")
        // Loaded after field a's expiry: a is gone, b and c stay.
        let later = try load(path, now: now + 20_000)
        XCTAssertEqual(later[0].count, 1)
        guard case .hash(let lh) = later[0].value(at: later[0].lookup(Array("fh".utf8).withUnsafeBytes { $0 }, now: now + 20_000)!) else { return XCTFail() }
        XCTAssertEqual(lh.count, 2)
    }

    func testExpiredKeysAreNotLoadedAndDuplicatesAreReported() throws {
        let db = Keyspace()
        let e = RDBEntry(db: 0, key: Array("k".utf8), expireAt: 1000, value: .string([1]))
        XCTAssertEqual(StoreSnapshot.insert(e, into: db, now: 2000), .expired)
        XCTAssertEqual(db.count, 0)
        var live = e; live.expireAt = 0
        XCTAssertEqual(StoreSnapshot.insert(live, into: db, now: 2000), .inserted)
        XCTAssertEqual(StoreSnapshot.insert(live, into: db, now: 2000), .duplicate)
    }

    func testAbortedWriteLeavesThePreviousSnapshot() throws {
        let path = dir + "/dump.rdb"
        let dbs = (0..<16).map { _ in Keyspace() }
        dbs[0].set(Array("old".utf8), value: .string(Array("1".utf8)), now: 0)
        try save(dbs, to: path, now: 0)
        let before = FileManager.default.contents(atPath: path)
        let w = try RDBFileWriter(path: path)
        try w.write(Array("REDIS0010 partial".utf8))
        w.abort()
        XCTAssertEqual(FileManager.default.contents(atPath: path), before)
        XCTAssertFalse(FileManager.default.fileExists(atPath: w.tempPath))
    }
}
