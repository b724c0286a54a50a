import Foundation
import XCTest
@testable import LarderPersistence
import LarderStore

func b(_ s: String) -> [UInt8] { Array(s.utf8) }

/// Reading Redis' own files: the fixture was written by redis-server 7.0.15 (SAVE) from
/// Fixtures/redis-7.0-mixed.gen.py, and holds every string and hash encoding 7.0 produces.
final class RDBReaderTests: XCTestCase {
    var fixture: String { Bundle.module.url(forResource: "Fixtures", withExtension: nil)!.appendingPathComponent("redis-7.0-mixed.rdb").path }

    func readAll(_ path: String) throws -> ([RDBEntry], RDBReadSummary) {
        var out: [RDBEntry] = []
        let s = try RDBReader.read(path: path) { out.append($0) }
        return (out, s)
    }

    func readAll(bytes: [UInt8]) throws -> [RDBEntry] {
        var out: [RDBEntry] = []
        _ = try bytes.withUnsafeBytes { try RDBReader.read(bytes: $0, file: "test.rdb") { out.append($0) } }
        return out
    }

    func testCRC64JonesCheckValue() {
        XCTAssertEqual(CRC64.checksum(b("123456789")), 0xe9c6_d914_c4b8_d9ca)
        // Incremental updates across the 8-byte stride give the same sum.
        var c = CRC64(); c.update(b("1234")); c.update(b("56789"))
        XCTAssertEqual(c.value, 0xe9c6_d914_c4b8_d9ca)
    }

    func testReadsRedis70File() throws {
        let (entries, summary) = try readAll(fixture)
        XCTAssertEqual(summary.version, 10)
        XCTAssertTrue(summary.checksumVerified)
        XCTAssertEqual(summary.keys, 14)
        XCTAssertEqual(summary.aux.first { $0.0 == "redis-ver" }?.1, b("7.0.15"))
        func entry(_ k: [UInt8], db: Int = 0) -> RDBEntry? { entries.first { $0.key == k && $0.db == db } }
        XCTAssertEqual(entry(b("str:plain"))?.value, .string(b("hello world")))
        XCTAssertEqual(entry(b("str:int8"))?.value, .string(b("100")))
        XCTAssertEqual(entry(b("str:int16"))?.value, .string(b("-30000")))
        XCTAssertEqual(entry(b("str:int32"))?.value, .string(b("2000000000")))
        XCTAssertEqual(entry(b("str:notcanon"))?.value, .string(b("007")))
        XCTAssertEqual(entry(b("str:lzf"))?.value, .string(b(String(repeating: "abcdefgh", count: 100))), "LZF-compressed")
        XCTAssertEqual(entry([98, 105, 110, 58, 0, 0xFF, 13, 10])?.value, .string([0, 1, 2, 0xFE]))
        let ctime = Int64(String(decoding: summary.aux.first { $0.0 == "ctime" }!.1, as: UTF8.self))!
        XCTAssertEqual(Double(entry(b("str:ttl"))!.expireAt - ctime * 1000), 3_600_000, accuracy: 2000)
        XCTAssertEqual(entry(b("str:plain"))?.expireAt, 0)

        guard case .hash(let small)? = entry(b("hash:small"))?.value else { return XCTFail("hash:small") }
        XCTAssertEqual(Dictionary(uniqueKeysWithValues: small.map { (String(decoding: $0.field, as: UTF8.self), String(decoding: $0.value, as: UTF8.self)) }),
                       ["a": "1", "b": "two", "n": "-5000", "big": "123456789012"], "listpack with integer elements")
        guard case .hash(let large)? = entry(b("hash:large"))?.value else { return XCTFail("hash:large") }
        XCTAssertEqual(large.count, 300, "hashtable encoding")
        XCTAssertTrue(large.contains(RDBHashField(field: b("f299"), value: b("v299v299v299"))))
        guard case .hash(let long)? = entry(b("hash:longval"))?.value else { return XCTFail() }
        XCTAssertTrue(long.contains(RDBHashField(field: b("x"), value: b(String(repeating: "y", count: 100)))))
        XCTAssertNotEqual(entry(b("hash:ttl"))?.expireAt, 0)
        XCTAssertEqual(entry(b("db3:key"), db: 3)?.value, .string(b("in db 3")))
        XCTAssertEqual(entry([100, 98, 51, 58, 0xFF, 104, 97, 115, 104], db: 3)?.value, .hash([RDBHashField(field: [0, 102], value: [1, 118])]))
    }

    func testFlippedByteIsACRCError() throws {
        var bytes = [UInt8](FileManager.default.contents(atPath: fixture)!)
        let at = bytes.firstRange(of: b("hello world"))!.lowerBound
        bytes[at] ^= 0x20
        XCTAssertThrowsError(try readAll(bytes: bytes)) { e in
            let err = e as! RDBError
            XCTAssertTrue(err.message.contains("CRC error"), err.description)
            XCTAssertEqual(err.offset, bytes.count - 8)
            XCTAssertTrue(err.description.hasPrefix("test.rdb: at byte offset"))
        }
    }

    func testTruncatedFileIsRefusedAtItsEnd() throws {
        let bytes = [UInt8](FileManager.default.contents(atPath: fixture)!)
        for cut in [bytes.count - 1, bytes.count - 9, bytes.count / 2, 20, 9] {
            XCTAssertThrowsError(try readAll(bytes: Array(bytes[0..<cut])), "cut at \(cut)") { e in
                let err = e as! RDBError
                XCTAssertTrue(err.message.contains("truncated"), err.description)
                XCTAssertLessThanOrEqual(err.offset, cut)
            }
        }
    }

    func testGarbageIsBadFileFormat() {
        XCTAssertThrowsError(try readAll(bytes: b("hello, this is not an rdb file"))) { e in
            XCTAssertTrue((e as! RDBError).message.contains("Bad file format"))
        }
    }

    func testOtherTypesAreRefusedNamingKeyAndType() throws {
        var enc = RDBEncoder()
        enc.header(version: 10)
        enc.selectDB(0)
        enc.bytes.append(RDB.TypeCode.streamListpacks)
        enc.string(b("mystream"))
        enc.string(Listpack.encode([b("a"), b("1")]))
        XCTAssertThrowsError(try readAll(bytes: sealed(enc))) { e in
            let err = e as! RDBError
            XCTAssertTrue(err.message.contains("'mystream'") && err.message.contains("type stream"), err.description)
            XCTAssertEqual(err.offset, 11)
        }
    }

    /// Sets in all three encodings Redis writes: plain (2), intset (11, here 4-byte wide) and
    /// Redis 7.2's listpack (20).
    func testReadsSetsInEveryEncoding() throws {
        var enc = RDBEncoder()
        enc.header(version: 11)
        enc.selectDB(0)
        enc.setEntry(key: UnsafeRawBufferPointer(start: nil, count: 0), members: [b("x"), b("y")], expireAt: 0)
        enc.intsetEntry(key: UnsafeRawBufferPointer(start: nil, count: 0), width: 4, values: [-70000, 3, 70000], expireAt: 0)
        enc.bytes.append(RDB.TypeCode.setListpack)
        enc.string(b("lp"))
        enc.string(Listpack.encode([b("a"), b("12")]))
        let entries = try readAll(bytes: sealed(enc))
        XCTAssertEqual(entries.map(\.value), [.set([b("x"), b("y")]), .set([b("-70000"), b("3"), b("70000")]),
                                               .set([b("a"), b("12")])])
    }

    /// Sorted sets in the four encodings: Redis 7.0's listpack (17) and ZSET_2 (5, binary
    /// scores) as larder writes them, the text-score ZSET (3, with its 253/254/255 bytes for
    /// nan/+inf/-inf) and Redis <= 6.2's ziplist (12), built by hand.
    func testReadsSortedSetsInEveryEncoding() throws {
        let none = UnsafeRawBufferPointer(start: nil, count: 0)
        var enc = RDBEncoder()
        enc.header(version: 10)
        enc.selectDB(0)
        enc.zsetListpackEntry(key: none, entries: [(b("a"), -1.5), (b("b"), 7), (b("c"), .infinity)], expireAt: 0)
        enc.zsetEntry(key: none, entries: [(b("x"), 0.1), (b("y"), 1e300)], expireAt: 0)
        enc.bytes.append(RDB.TypeCode.zset)
        enc.string(b("text"))
        enc.length(3)
        enc.string(b("p")); enc.bytes.append(4); enc.bytes += b("2.25")
        enc.string(b("q")); enc.bytes.append(254)
        enc.string(b("r")); enc.bytes.append(255)
        var entries = try readAll(bytes: sealed(enc))
        XCTAssertEqual(entries.map(\.value), [
            .zset(members: [b("a"), b("b"), b("c")], scores: [-1.5, 7, .infinity]),
            .zset(members: [b("y"), b("x")], scores: [1e300, 0.1]),     // ZSET_2: greatest first
            .zset(members: [b("p"), b("q"), b("r")], scores: [2.25, .infinity, -.infinity]),
        ])

        // Ziplist: member "m" (6-bit string), score "3.5" (string), member "n", score 12 (int8).
        var zl: [UInt8] = []
        var prev = 0
        func entry(_ body: [UInt8]) { let e: [UInt8] = [UInt8(prev)] + body; zl += e; prev = e.count }
        entry([0x01] + b("m")); entry([0x03] + b("3.5")); entry([0x01] + b("n")); entry([0xFE, 12])
        var z: [UInt8] = withUnsafeBytes(of: UInt32(11 + zl.count).littleEndian) { Array($0) }
        z += withUnsafeBytes(of: UInt32(0).littleEndian) { Array($0) }
        z += withUnsafeBytes(of: UInt16(4).littleEndian) { Array($0) }
        z += zl + [0xFF]
        var v9 = RDBEncoder()
        v9.header(version: 9)
        v9.selectDB(0)
        v9.bytes.append(RDB.TypeCode.zsetZiplist)
        v9.string(b("zz"))
        v9.length(UInt64(z.count)); v9.bytes += z
        entries = try readAll(bytes: sealed(v9))
        XCTAssertEqual(entries.first?.value, .zset(members: [b("m"), b("n")], scores: [3.5, 12]))

        // A NaN score is refused, naming the key.
        var bad = RDBEncoder()
        bad.header(version: 10)
        bad.selectDB(0)
        bad.bytes.append(RDB.TypeCode.zset)
        bad.string(b("nanset")); bad.length(1); bad.string(b("m")); bad.bytes.append(253)
        XCTAssertThrowsError(try readAll(bytes: sealed(bad))) { e in
            XCTAssertTrue((e as! RDBError).message.contains("nanset"), "\(e)")
        }
    }

    /// Lists: Redis 7's quicklist of listpacks (18, one plain node), Redis 6's quicklist of
    /// ziplists (14) in an RDB 9 file, and the plain form (1).
    func testReadsListsInEveryEncoding() throws {
        var enc = RDBEncoder()
        enc.header(version: 10)
        enc.selectDB(0)
        enc.listEntry(key: UnsafeRawBufferPointer(start: nil, count: 0), nodes: [[b("a"), b("-5")], [b("b")]], expireAt: 0)
        enc.bytes.append(RDB.TypeCode.listQuicklist2)
        enc.string(b("plain"))
        enc.length(2)
        enc.length(1); enc.string(b("one big element"))
        enc.length(2); enc.string(Listpack.encode([b("tail")]))
        enc.bytes.append(RDB.TypeCode.list)
        enc.string(b("old"))
        enc.length(2); enc.string(b("p")); enc.string(b("q"))
        var entries = try readAll(bytes: sealed(enc))
        XCTAssertEqual(entries.map(\.value), [.list([b("a"), b("-5"), b("b")]), .list([b("one big element"), b("tail")]),
                                               .list([b("p"), b("q")])])

        // Ziplist node: [zlbytes][zltail][zllen] entries [0xFF]; entries [prevlen][encoding][data].
        let body: [UInt8] = [0x00, 0x02] + b("hi") + [0x04, 0xFE, 0x85]   // "hi", int8 -123
        var z: [UInt8] = withUnsafeBytes(of: UInt32(11 + body.count).littleEndian) { Array($0) }
        z += withUnsafeBytes(of: UInt32(0).littleEndian) { Array($0) }
        z += withUnsafeBytes(of: UInt16(2).littleEndian) { Array($0) }
        z += body + [0xFF]
        var v9 = RDBEncoder()
        v9.header(version: 9)
        v9.selectDB(0)
        v9.bytes.append(RDB.TypeCode.listQuicklist)
        v9.string(b("zl"))
        v9.length(1)
        v9.length(UInt64(z.count)); v9.bytes += z
        entries = try readAll(bytes: sealed(v9))
        XCTAssertEqual(entries.first?.value, .list([b("hi"), b("-123")]))
    }

    /// A ziplist-encoded hash (RDB type 13, Redis <= 6.2) in an RDB 9 file, built by hand:
    /// one string field and one integer of each ziplist integer encoding.
    func testReadsZiplistHashInVersion9File() throws {
        var zl: [UInt8] = []
        var prev = 0
        func entry(_ body: [UInt8]) {
            let e: [UInt8] = [UInt8(prev)] + body
            zl += e; prev = e.count
        }
        entry([0x01] + b("f"))                                   // 6-bit string
        entry([0xF1 + 7])                                        // 4-bit immediate: 7
        entry([0x02] + b("g2"))
        entry([0xFE, 0x85])                                      // int8: -123
        entry([0x01] + b("h"))
        entry([0xC0] + withUnsafeBytes(of: Int16(-2000).littleEndian) { Array($0) })
        entry([0x01] + b("i"))
        entry([0xF0, 0x40, 0x42, 0x0F])                          // int24: 1000000
        entry([0x01] + b("j"))
        entry([0xE0] + withUnsafeBytes(of: Int64(-9_000_000_000).littleEndian) { Array($0) })
        let body = zl
        var z: [UInt8] = withUnsafeBytes(of: UInt32(11 + body.count).littleEndian) { Array($0) }
        z += withUnsafeBytes(of: UInt32(0).littleEndian) { Array($0) }
        z += withUnsafeBytes(of: UInt16(10).littleEndian) { Array($0) }
        z += body + [0xFF]
        var enc = RDBEncoder()
        enc.header(version: 9)
        enc.selectDB(0)
        enc.bytes.append(RDB.TypeCode.hashZiplist)
        enc.string(b("zh"))
        enc.length(UInt64(z.count)); enc.bytes += z
        let entries = try readAll(bytes: sealed(enc))
        XCTAssertEqual(entries.first?.value, .hash([
            RDBHashField(field: b("f"), value: b("7")), RDBHashField(field: b("g2"), value: b("-123")),
            RDBHashField(field: b("h"), value: b("-2000")), RDBHashField(field: b("i"), value: b("1000000")),
            RDBHashField(field: b("j"), value: b("-9000000000")),
        ]))
    }

    /// Redis 7.4's listpack-with-TTL hash (type 25): [min expiry][listpack of field, value, ttl].
    func testReadsListpackWithFieldTTLs() throws {
        var enc = RDBEncoder()
        enc.header(version: 12)
        enc.selectDB(0)
        enc.bytes.append(RDB.TypeCode.hashListpackEx)
        enc.string(b("lpex"))
        withUnsafeBytes(of: Int64(5_000_000_000_000).littleEndian) { enc.bytes += $0 }
        enc.string(Listpack.encode([b("a"), b("1"), b("0"), b("b"), b(String(repeating: "x", count: 70)), b("5000000000000")]))
        let entries = try readAll(bytes: sealed(enc))
        XCTAssertEqual(entries.first?.value, .hash([
            RDBHashField(field: b("a"), value: b("1"), expireAt: 0),
            RDBHashField(field: b("b"), value: b(String(repeating: "x", count: 70)), expireAt: 5_000_000_000_000),
        ]))
    }

    func testListpackRoundTripsEveryElementEncoding() throws {
        let elements: [[UInt8]] = [b("0"), b("127"), b("128"), b("-1"), b("4095"), b("-4096"), b("32767"), b("-32768"),
                                   b("8388607"), b("-8388608"), b("2147483647"), b("-2147483648"), b("9223372036854775807"),
                                   b("-9223372036854775808"), b("01"), b(""), b(String(repeating: "s", count: 63)),
                                   b(String(repeating: "m", count: 200)), b(String(repeating: "l", count: 5000)),
                                   b(String(repeating: "q", count: 16380))]
        let lp = Listpack.encode(elements)
        XCTAssertEqual(try lp.withUnsafeBytes { try Listpack.elements($0) }, elements)
        var bad = lp; bad[bad.count - 3] ^= 0x01   // a back-length byte
        XCTAssertThrowsError(try bad.withUnsafeBytes { try Listpack.elements($0) })
    }

    func testLZFCorruptionIsReported() throws {
        var enc = RDBEncoder()
        enc.header(version: 10)
        enc.selectDB(0)
        enc.bytes.append(RDB.TypeCode.string)
        enc.string(b("k"))
        enc.bytes += [0xC3, 3, 10, 0x20, 0x00, 0x00]            // a back-reference before the start
        XCTAssertThrowsError(try readAll(bytes: sealed(enc))) { e in
            XCTAssertTrue((e as! RDBError).message.contains("LZF"), "\(e)")
        }
    }

    /// EOF and the CRC64 of everything before it.
    func sealed(_ enc: RDBEncoder) -> [UInt8] {
        var e = enc
        e.eof()
        let sum = CRC64.checksum(e.bytes)
        return e.bytes + withUnsafeBytes(of: sum.littleEndian) { Array($0) }
    }
}
