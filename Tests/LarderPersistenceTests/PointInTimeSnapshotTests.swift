import Foundation
import XCTest
@testable import LarderPersistence
@testable import LarderStore

/// A snapshot taken while the keyspaces keep changing (Keyspace.beginSnapshot / snapshotStep,
/// the mechanism under BGSAVE): between small walk steps, keys are written, overwritten,
/// deleted, renamed, given TTLs that then pass (lazy and active expiry), hash fields set,
/// deleted and expired, databases flushed, and enough keys inserted to make the tables grow.
/// The file read back must equal a model copy taken at the start, exactly, for every seed.
final class PointInTimeSnapshotTests: XCTestCase {
    /// A small deterministic generator (SplitMix64), so a failing seed can be replayed.
    struct SeededGenerator: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    static let dbCount = 3

    /// Every live key of `db` at `now` as text (value, TTL, hash fields with their TTLs).
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
            default:
                XCTFail("the scenario writes strings and hashes only")
            }
            out[k] = v
        }
        return out
    }

    func testSnapshotIsThePointInTimeImageWhileKeysChange() throws {
        var grew = 0
        for seed in UInt64(1)...8 {
            let started = Date()
            if try runScenario(seed: seed) { grew += 1 }
            print("seed \(seed): \(String(format: "%.2f", Date().timeIntervalSince(started))) s")
        }
        XCTAssertGreaterThan(grew, 0, "some table grew while its snapshot ran")
    }

    /// Returns whether a table grew while its snapshot ran.
    func runScenario(seed: UInt64) throws -> Bool {
        var rng = SeededGenerator(state: seed)
        let now0: Int64 = 1_700_000_000_000
        let dbs = (0..<Self.dbCount).map { _ in Keyspace() }
        func key(_ n: Int) -> [UInt8] { Array("key:\(n)".utf8) + (n % 7 == 0 ? [0, 255, UInt8(n & 0xFF)] : []) }
        func randomBytes(_ max: Int) -> [UInt8] {
            (0..<Int.random(in: 0...max, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
        }
        func fill(_ db: Keyspace, _ n: Int, now: Int64) {
            switch Int.random(in: 0..<4, using: &rng) {
            case 0:  // string, sometimes long (not inline), sometimes with a TTL
                let v = randomBytes(Bool.random(using: &rng) ? 20 : 200)
                let ttl: Int64 = Int.random(in: 0..<3, using: &rng) == 0 ? now + Int64.random(in: 1...5000, using: &rng) : 0
                _ = key(n).withUnsafeBytes { k in v.withUnsafeBytes { db.setString(k, hash: ByteHash.hash(k), bytes: $0, expireAt: ttl, now: now) } }
            case 1, 2:  // small (packed) or large (table) hash, some fields with TTLs
                let h = HashObject()
                for f in 0..<(Int.random(in: 0..<8, using: &rng) > 0 ? 3 : 140) { _ = h.set(Array("f\(f)".utf8), randomBytes(12)) }
                if Int.random(in: 0..<3, using: &rng) == 0 {
                    Array("f0".utf8).withUnsafeBytes { h.setFieldExpiry($0, at: now + Int64.random(in: 1...5000, using: &rng)) }
                }
                let ttl: Int64 = Int.random(in: 0..<4, using: &rng) == 0 ? now + Int64.random(in: 1...5000, using: &rng) : 0
                db.set(key(n), value: .hash(h), expireAt: ttl, now: now)
                if h.hasFieldExpiry { key(n).withUnsafeBytes { db.trackFieldExpiry($0, h) } }
            default:
                db.set(key(n), value: .string(Array("\(n)".utf8)), now: now)  // integer-like string
            }
        }
        let keySpace = 1500
        for db in dbs { for n in 0..<Int.random(in: 150...700, using: &rng) { fill(db, Int.random(in: 0..<keySpace, using: &rng), now: now0); _ = n } }

        // The image at the cut.
        let model = dbs.map { dump($0, now: now0) }

        // The snapshot: each database writes into one encoder, each key prefixed by its SELECTDB.
        let capacities = dbs.map { $0.table.capacity }
        var grew = false
        var enc = RDBEncoder()
        enc.header(version: StoreSnapshot.requiredVersion(dbs))
        var written = 0
        for (d, db) in dbs.enumerated() {
            db.beginSnapshot { [unowned db] slot in
                let at = db.expireAt(slot)
                if at != 0 && at <= now0 { return }  // expired at the cut: not in the image
                enc.selectDB(d)
                StoreSnapshot.encodeSlot(db, slot, into: &enc)
                written += 1
            }
        }

        var now = now0
        var changes = 0
        while dbs.contains(where: { $0.isSnapshotting }) {
            for _ in 0..<Int.random(in: 0...12, using: &rng) {
                now += Int64.random(in: 0...40, using: &rng)
                let db = dbs[Int.random(in: 0..<dbs.count, using: &rng)]
                let n = Int.random(in: 0..<keySpace, using: &rng)
                let k = key(n)
                changes += 1
                switch Int.random(in: 0..<100, using: &rng) {
                case 0..<20: fill(db, n, now: now)                              // write or overwrite
                case 20..<32:                                                   // DEL
                    if let s = k.withUnsafeBytes({ db.lookup($0, now: now) }) { db.remove(at: s) }
                case 32..<40:                                                   // EXPIRE / PERSIST
                    if let s = k.withUnsafeBytes({ db.lookup($0, now: now) }) {
                        db.setExpire(slot: s, Bool.random(using: &rng) ? 0 : now + Int64.random(in: 1...300, using: &rng))
                    }
                case 40..<55:                                                   // HSET / HDEL / HEXPIRE on a hash
                    if let s = k.withUnsafeBytes({ db.lookup($0, now: now) }), case .hash(let h) = db.value(at: s) {
                        db.willChange(s)
                        let f = Array("f\(Int.random(in: 0..<160, using: &rng))".utf8)
                        switch Int.random(in: 0..<3, using: &rng) {
                        case 0: _ = h.set(f, randomBytes(12))
                        case 1: _ = h.remove(f); if h.count == 0 { db.remove(at: s) }
                        default:
                            let at = now + Int64.random(in: 1...300, using: &rng)
                            f.withUnsafeBytes { fb in if h.contains(fb) { h.setFieldExpiry(fb, at: at) } }
                            if h.hasFieldExpiry { k.withUnsafeBytes { db.trackFieldExpiry($0, h) } }
                        }
                    }
                case 55..<62:                                                   // HSET through the store
                    let f: [UInt8] = Array("g\(Int.random(in: 0..<4, using: &rng))".utf8), v = randomBytes(8)
                    // One field/value pair as ByteSpans (offset, count) over a buffer holding both.
                    let both = f + v, spans = [0, f.count, f.count, v.count]
                    both.withUnsafeBytes { b in
                        spans.withUnsafeBytes { sp in
                            let fs = ByteSpans(base: b.baseAddress!, spans: sp.baseAddress!, count: 1, spanStride: 2)
                            let vs = ByteSpans(base: b.baseAddress!, spans: sp.baseAddress! + 2 * MemoryLayout<Int>.stride, count: 1, spanStride: 2)
                            _ = k.withUnsafeBytes { db.setHashFields($0, hash: ByteHash.hash($0), fields: fs, values: vs, now: now) }
                        }
                    }
                case 62..<70:                                                   // RENAME to another key
                    if let s = k.withUnsafeBytes({ db.lookup($0, now: now) }) {
                        let value = db.value(at: s), at = db.expireAt(s)
                        db.remove(at: s)
                        let target = key(Int.random(in: 0..<keySpace, using: &rng))
                        db.set(target, value: value, expireAt: at, now: now)
                    }
                case 70..<78:                                                   // reads: lazy expiry
                    _ = k.withUnsafeBytes { db.lookup($0, now: now) }
                case 78..<84: db.sweepExpired(now: now, budget: 50)             // active expiry
                case 84..<88: db.sweepExpiredHashFields(now: now, budget: 20)
                case 88..<90:                                                   // a burst of new keys: the table grows
                    for m in 0..<Int.random(in: 100...400, using: &rng) { fill(db, keySpace + Int(now % 100_000) * 2000 + m, now: now) }
                case 90: if Int.random(in: 0..<8, using: &rng) == 0 { db.removeAll() }   // FLUSHDB
                default:                                                        // SCAN (expires fields/keys on the way)
                    var cursor: UInt64 = UInt64.random(in: 0...1000, using: &rng)
                    for _ in 0..<4 { cursor = db.scanBucket(cursor: cursor, now: now) { _ in } }
                }
            }
            for (d, db) in dbs.enumerated() where db.isSnapshotting {
                if db.table.capacity > capacities[d] { grew = true }
                _ = db.snapshotStep(maxKeys: Int.random(in: 1...12, using: &rng))
            }
        }
        enc.eof()
        let file = enc.bytes + withUnsafeBytes(of: CRC64.checksum(enc.bytes).littleEndian) { Array($0) }

        let loaded = (0..<16).map { _ in Keyspace() }
        var duplicates = 0
        _ = try file.withUnsafeBytes {
            try RDBReader.read(bytes: $0, file: "snapshot-\(seed).rdb") { e in
                if StoreSnapshot.insert(e, into: loaded[e.db], now: now0) == .duplicate { duplicates += 1 }
            }
        }
        XCTAssertEqual(duplicates, 0, "seed \(seed): a key was written twice")
        XCTAssertGreaterThan(changes, 100, "seed \(seed)")
        XCTAssertEqual(written, model.reduce(0) { $0 + $1.count }, "seed \(seed): keys written")
        for d in 0..<Self.dbCount {
            let got = dump(loaded[d], now: now0)
            XCTAssertEqual(got.count, model[d].count, "seed \(seed) db \(d)")
            for (k, v) in model[d] where got[k] != v {
                XCTFail("seed \(seed) db \(d) key \(k): \(got[k] ?? "missing") instead of \(v)"); break
            }
        }
        return grew
    }

    /// While no snapshot runs the hook changes nothing, and a finished snapshot leaves none running.
    func testNoSnapshotNoHook() {
        let db = Keyspace()
        db.set(Array("a".utf8), value: .string([1]), now: 0)
        XCTAssertFalse(db.isSnapshotting)
        var calls = 0
        db.beginSnapshot { _ in calls += 1 }
        XCTAssertTrue(db.isSnapshotting)
        if let s = Array("a".utf8).withUnsafeBytes({ db.lookup($0, now: 0) }) { db.remove(at: s) }
        XCTAssertEqual(calls, 1)   // written before its deletion
        XCTAssertTrue(db.snapshotStep(maxKeys: 10))
        XCTAssertEqual(calls, 1)   // not again by the walk
        XCTAssertFalse(db.isSnapshotting)
        db.set(Array("b".utf8), value: .string([1]), now: 0)
        if let s = Array("b".utf8).withUnsafeBytes({ db.lookup($0, now: 0) }) { db.remove(at: s) }
        XCTAssertEqual(calls, 1)
    }
}
