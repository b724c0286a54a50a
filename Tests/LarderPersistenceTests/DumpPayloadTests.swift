@testable import LarderPersistence
import LarderStore
import XCTest

/// DUMP payloads: the footer (version, CRC64) is checked before the value, and the value is the
/// snapshot serializer's own encoding of the key's value, without the key.
final class DumpPayloadTests: XCTestCase {
    func value(_ payload: [UInt8]) -> Result<RDBValue, DumpPayload.Failure> {
        payload.withUnsafeBytes { p in
            do { return .success(try DumpPayload.value(p)) } catch let f as DumpPayload.Failure { return .failure(f) } catch { return .failure(.badData) }
        }
    }

    func testEveryTypeRoundTripsThroughTheSnapshotSerializer() {
        let db = Keyspace()
        let h = HashObject()
        for i in 0..<200 { _ = h.set(Array("f\(i)".utf8), Array("v\(i)".utf8)) }
        let intset = SetObject(), strings = SetObject()
        for m in ["1", "-7", "5000000000"] { _ = intset.add(Array(m.utf8)) }
        for m in ["a", "b", "1"] { _ = strings.add(Array(m.utf8)) }
        let values: [(String, StoredValue)] = [
            ("s", .string(Array("hello".utf8))), ("i", .string(Array("1234".utf8))),
            ("h", .hash(h)), ("l", .list(ListObject(elements: [[1, 2], [], Array("x".utf8)]))),
            ("is", .set(intset)), ("ss", .set(strings)),
        ]
        for (key, v) in values {
            let slot = db.set(Array(key.utf8), value: v, now: 0)
            let (bytes, version) = StoreSnapshot.dumpValue(db, slot)
            XCTAssertEqual(version, RDB.writeVersion)
            guard case .success(let back) = value(DumpPayload.wrap(bytes, version: version)) else { return XCTFail(key) }
            switch (v, back) {
            case (.string(let a), .string(let b)): XCTAssertEqual(a, b, key)
            case (.hash(let a), .hash(let b)): XCTAssertEqual(a.count, b.count, key)
            case (.list(let a), .list(let b)): XCTAssertEqual(a.elements, b, key)
            case (.set(let a), .set(let b)): XCTAssertEqual(Set(a.members), Set(b), key)
            default: XCTFail("\(key): came back as another type")
            }
        }
    }

    func testFooterIsCheckedBeforeTheValue() {
        let good = DumpPayload.wrap([0, 5] + Array("hello".utf8), version: 10)
        XCTAssertEqual(value(good), .success(.string(Array("hello".utf8))))
        var flipped = good
        flipped[2] ^= 1
        XCTAssertEqual(value(flipped), .failure(.versionOrChecksum), "a changed byte fails the CRC")
        XCTAssertEqual(value(DumpPayload.wrap([0, 5] + Array("hello".utf8), version: 13)), .failure(.versionOrChecksum),
                       "a version newer than the reader")
        XCTAssertEqual(value(Array(good.suffix(9))), .failure(.versionOrChecksum), "shorter than the footer")
        XCTAssertEqual(value(DumpPayload.wrap([0, 0x20, 104], version: 10)), .failure(.badData), "truncated value")
        XCTAssertEqual(value(DumpPayload.wrap([0, 5] + Array("hel".utf8), version: 10)), .success(.string(Array("hel\n\0".utf8))),
                       "a value reads into the footer, as Redis' reader does")
        XCTAssertEqual(value(DumpPayload.wrap([99, 0], version: 10)), .failure(.badData), "unknown type")
        XCTAssertEqual(value(DumpPayload.wrap([2, 0], version: 10)), .failure(.badData), "an empty set")
    }
}
