import LarderStore
import XCTest

/// `Keyspace.setHashFields` is HSET as one store operation: the HSET/HMSET commands and the
/// embedded bulk load both write hashes through it.
final class HashWriteTests: XCTestCase {
    /// Field/value pairs laid out as the protocol's argument spans: offset, count words.
    struct Pairs {
        var bytes: [UInt8] = []
        var words: [Int] = []
        init(_ pairs: [(String, String)]) {
            for (f, v) in pairs {
                words += [bytes.count, f.utf8.count]; bytes += Array(f.utf8)
                words += [bytes.count, v.utf8.count]; bytes += Array(v.utf8)
            }
            bytes.append(0)
        }
        func write(_ db: Keyspace, key: String, now: Int64 = 1) -> HashWriteResult {
            let stride = 2 * MemoryLayout<Int>.stride
            return bytes.withUnsafeBytes { b in
                words.withUnsafeBytes { w in
                    let fields = ByteSpans(base: b.baseAddress!, spans: w.baseAddress!, count: words.count / 4, spanStride: 2)
                    let values = ByteSpans(base: b.baseAddress!, spans: w.baseAddress! + stride, count: words.count / 4, spanStride: 2)
                    return Array(key.utf8).withUnsafeBytes {
                        db.setHashFields($0, hash: ByteHash.hash($0), fields: fields, values: values, now: now)
                    }
                }
            }
        }
    }

    func fields(_ db: Keyspace, _ key: String) -> [String: String]? {
        guard let slot = Array(key.utf8).withUnsafeBytes({ db.lookup($0, now: 1) }),
              case .hash(let h) = db.value(at: slot) else { return nil }
        var out: [String: String] = [:]
        h.forEach { f, v in out[String(decoding: f, as: UTF8.self)] = String(decoding: v, as: UTF8.self) }
        return out
    }

    func testCreatesTheHashAtAMissingKeyWithEveryPair() {
        let db = Keyspace()
        guard case .written(let added, _) = Pairs([("a", "1"), ("b", "2"), ("c", "")]).write(db, key: "h") else {
            return XCTFail("not written")
        }
        XCTAssertEqual(added, 3)
        XCTAssertEqual(fields(db, "h"), ["a": "1", "b": "2", "c": ""])
    }

    func testCountsOnlyNewFieldsAndOverwritesTheOthers() {
        let db = Keyspace()
        _ = Pairs([("a", "1"), ("b", "2")]).write(db, key: "h")
        guard case .written(let added, _) = Pairs([("b", "3"), ("d", "4"), ("d", "5")]).write(db, key: "h") else {
            return XCTFail("not written")
        }
        XCTAssertEqual(added, 1)
        XCTAssertEqual(fields(db, "h"), ["a": "1", "b": "3", "d": "5"])
    }

    func testAKeyOfAnotherTypeIsLeftAlone() {
        let db = Keyspace()
        db.set(Array("s".utf8), value: .string(Array("x".utf8)), now: 1)
        XCTAssertEqual(Pairs([("a", "1")]).write(db, key: "s"), .wrongType)
        XCTAssertEqual(db.count, 1)
        XCTAssertNil(fields(db, "s"))
    }

    func testMarksWatchersOfTheKeyDirty() {
        let db = Keyspace()
        let created = WatchFlag(), updated = WatchFlag(), other = WatchFlag()
        db.watch(Array("new".utf8), flag: created)
        db.watch(Array("old".utf8), flag: updated)
        db.watch(Array("else".utf8), flag: other)
        _ = Pairs([("a", "1")]).write(db, key: "old")
        updated.dirty = false
        _ = Pairs([("a", "1")]).write(db, key: "new")
        _ = Pairs([("a", "2")]).write(db, key: "old")
        XCTAssertTrue(created.dirty)
        XCTAssertTrue(updated.dirty)
        XCTAssertFalse(other.dirty)
    }

    func testAnExpiredKeyIsReplacedNotExtended() {
        let db = Keyspace()
        _ = Pairs([("old", "1")]).write(db, key: "h", now: 1)
        let slot = Array("h".utf8).withUnsafeBytes { db.lookup($0, now: 1) }!
        db.setExpire(slot: slot, 10)
        _ = Pairs([("new", "2")]).write(db, key: "h", now: 20)
        XCTAssertEqual(fields(db, "h"), ["new": "2"])
    }

    func testBatchRecordsAreReadInPlace() {
        var batch = HashWriteBatch(fields: [Array("_ts".utf8), Array("f".utf8)], ttlSeconds: nil)
        batch.append(key: Array("k0".utf8), values: [ArraySlice("t0".utf8), ArraySlice("v0".utf8)])
        batch.append(key: Array("k1".utf8), values: [ArraySlice("t1".utf8), ArraySlice([UInt8]())])
        batch.append(key: Array("k2".utf8), values: [ArraySlice("t2".utf8), ArraySlice("v2".utf8)])
        var seen: [String] = []
        batch.forEachRecord([2, 1]) { r, key, fields, values in
            let text = (0..<fields.count).map {
                String(decoding: fields[$0], as: UTF8.self) + "=" + String(decoding: values[$0], as: UTF8.self)
            }
            seen.append("\(r) \(String(decoding: key, as: UTF8.self)) \(text.joined(separator: ","))")
        }
        XCTAssertEqual(seen, ["2 k2 _ts=t2,f=v2", "1 k1 _ts=t1,f="])
    }
}
