import XCTest
@testable import LarderFeatures

final class Murmur3Tests: XCTestCase {
    /// The spec's table of murmur3 vectors (checked against hashes stored by real Feast).
    func testSpecVectors() {
        let vectors: [(String, UInt32, String)] = [
            ("", 0x0000_0000, "00000000"),
            ("hello", 0x248b_fa47, "47fa8b24"),
            ("driver_hourly_stats:conv_rate", 0xdae3_6061, "6160e3da"),
            ("driver_hourly_stats:acc_rate", 0xad58_5efa, "fa5e58ad"),
            ("driver_hourly_stats:avg_daily_trips", 0xa3e5_a518, "18a5e5a3"),
            ("driver_hourly_stats:rating", 0x3497_422e, "2e429734"),
            ("driver_hourly_stats:city", 0xe778_4015, "154078e7"),
            ("driver_hourly_stats:is_active", 0xd62a_b675, "75b62ad6"),
            ("driver_hourly_stats:recent_trips", 0x25b4_1fa9, "a91fb425"),
            ("driver_hourly_stats:tags", 0x9585_a6f7, "f7a68595"),
            ("driver_push_stats:conv_rate", 0xcff4_43d2, "d243f4cf"),
            ("driver_push_stats:city", 0xda56_17ca, "ca1756da"),
        ]
        for (input, hash, field) in vectors {
            XCTAssertEqual(Murmur3.hash32(input), hash, input)
            if let colon = input.firstIndex(of: ":") {
                let view = String(input[..<colon]), feature = String(input[input.index(after: colon)...])
                XCTAssertEqual(hex(FeastKeyEncoder.featureFieldName(view: view, feature: feature)), field, input)
            }
        }
    }

    /// Every tail length (0–3 leftover bytes), non-ASCII input and long input, against mmh3.
    func testGoldenVectorsFromMmh3() throws {
        let golden = try GoldenVectors.load()
        XCTAssertGreaterThan(golden.murmur3.count, 10)
        for c in golden.murmur3 {
            XCTAssertEqual(Murmur3.hash32(c.input), c.hash, c.input)
            let h = Murmur3.hash32(c.input)
            XCTAssertEqual(hex([UInt8(h & 0xff), UInt8(h >> 8 & 0xff), UInt8(h >> 16 & 0xff), UInt8(h >> 24)]), c.field_hex)
        }
    }
}

final class FeastKeyEncoderTests: XCTestCase {
    func testWorkedExampleDriver1001() throws {
        let key = try FeastKeyEncoder.redisKey([("driver_id", .int64(1001))], project: "driver_e2e")
        XCTAssertEqual(key.count, 47)
        XCTAssertEqual(hex(key), "0100000002000000090000006472697665725f69640400000008000000e9030000000000006472697665725f653265")
    }

    func testMultiKeyExampleIsSortedByName() throws {
        let key = try FeastKeyEncoder.entityKey([("driver_id", .int64(1001)), ("customer_id", .string("c7"))])
        let expected = "02000000" + "02000000" + "0b000000" + hex(Array("customer_id".utf8))
            + "02000000" + "09000000" + hex(Array("driver_id".utf8))
            + "02000000" + "02000000" + hex(Array("c7".utf8))
            + "04000000" + "08000000" + "e903000000000000"
        XCTAssertEqual(hex(key), expected)
    }

    func testVersion2Example() throws {
        let key = try FeastKeyEncoder.entityKey([("driver_id", .int64(1001))], version: .v2)
        XCTAssertEqual(hex(key), "02000000" + hex(Array("driver_id".utf8)) + "04000000" + "08000000" + "e903000000000000")
    }

    func testGoldenEntityKeysFromFeast() throws {
        let golden = try GoldenVectors.load()
        XCTAssertEqual(golden.entity_keys.count, 20)
        for c in golden.entity_keys {
            let version = try XCTUnwrap(EntityKeySerializationVersion(rawValue: c.version))
            let encoder = FeastEntityKeyEncoder(joinKeys: c.join_keys, version: version)
            let values = c.values.map(\.feastValue)
            XCTAssertEqual(hex(try encoder.entityKey(values)), c.hex, "\(c.join_keys) v\(c.version)")
            XCTAssertEqual(hex(try encoder.redisKey(values, project: "driver_e2e")), c.redis_key_hex)
            if version == .v3 {
                // The decoder gives the keys back in serialization (sorted) order.
                let decoded = try FeastKeyEncoder.decodeEntityKeyV3(bytes(hex: c.redis_key_hex))
                XCTAssertEqual(decoded.project, "driver_e2e")
                XCTAssertEqual(Set(decoded.joinKeys), Set(c.join_keys))
                for (name, value) in zip(decoded.joinKeys, decoded.values) {
                    let index = try XCTUnwrap(c.join_keys.firstIndex(of: name))
                    XCTAssertEqual(value, values[index])
                }
            }
        }
    }

    func testDeletePrefixAndScanPattern() throws {
        let golden = try GoldenVectors.load()
        for c in golden.delete_prefixes {
            XCTAssertEqual(hex(FeastKeyEncoder.deletePrefix(joinKeys: c.join_keys)), c.hex, "\(c.join_keys)")
        }
        XCTAssertEqual(hex(FeastKeyEncoder.deleteScanPattern(joinKeys: ["driver_id"], project: "driver_e2e")),
                       "0100000002000000090000006472697665725f6964" + "2a" + hex(Array("driver_e2e".utf8)))
    }

    func testTimestampFieldName() {
        XCTAssertEqual(FeastKeyEncoder.timestampFieldName(view: "driver_hourly_stats"), Array("_ts:driver_hourly_stats".utf8))
    }

    func testRejectsValuesThatCannotBeEntityKeys() {
        for value: FeastValue in [.float(1), .double(1), .bool(true), .int64List([1]), .null] {
            XCTAssertThrowsError(try FeastKeyEncoder.entityKey([("k", value)])) { error in
                guard case FeastKeyError.unsupportedEntityValue(joinKey: "k", _) = error else {
                    return XCTFail("unexpected \(error)")
                }
            }
        }
        let encoder = FeastEntityKeyEncoder(joinKeys: ["a", "b"])
        XCTAssertThrowsError(try encoder.entityKey([.int64(1)])) { error in
            XCTAssertEqual(error as? FeastKeyError, .joinKeyCountMismatch(joinKeys: 2, values: 1))
        }
    }

    func testDecoderRejectsMalformedKeys() {
        let good = bytes(hex: "0100000002000000090000006472697665725f69640400000008000000e903000000000000")
        for cut in [0, 3, 10, 25, 30, good.count - 1] {
            XCTAssertThrowsError(try FeastKeyEncoder.decodeEntityKeyV3(Array(good[..<cut])), "cut at \(cut)")
        }
        var wrongWidth = good
        wrongWidth[25] = 4 // INT64 with a 4-byte length
        XCTAssertThrowsError(try FeastKeyEncoder.decodeEntityKeyV3(wrongWidth))
        XCTAssertThrowsError(try FeastKeyEncoder.decodeEntityKeyV3(bytes(hex: "ffffffff")))
    }
}

final class FeastOnlineLayoutTests: XCTestCase {
    func testDriverHourlyStatsLayoutMatchesTheStoredHash() throws {
        let defs = DriverRepoModel.definitions
        let view = try XCTUnwrap(defs.featureView(named: "driver_hourly_stats"))
        let layout = try XCTUnwrap(FeastOnlineLayout(view: view, in: defs))
        // The field order of Feast's HSET (schema order), from the spec's worked example.
        XCTAssertEqual(layout.featureFields.map(hex),
                       ["6160e3da", "fa5e58ad", "18a5e5a3", "2e429734", "154078e7", "75b62ad6", "a91fb425", "f7a68595"])
        XCTAssertEqual(layout.timestampField, Array("_ts:driver_hourly_stats".utf8))
        XCTAssertEqual(layout.field(forFeature: "city").map(hex), "154078e7")
        XCTAssertNil(layout.field(forFeature: "nope"))
        XCTAssertEqual(hex(try layout.keyEncoder.redisKey([.int64(1001)], project: "driver_e2e")),
                       "0100000002000000090000006472697665725f69640400000008000000e9030000000000006472697665725f653265")
    }

    func testValuesFitTheirTypes() {
        XCTAssertTrue(FeastValue.int64List([1]).fits(.array(.int64)))
        XCTAssertTrue(FeastValue.null.fits(.string))
        XCTAssertFalse(FeastValue.int32(1).fits(.int64))
        XCTAssertTrue(FeastValue.float(1).fits(.float32))
        XCTAssertTrue(FeastValue.double(1).fits(.float64))
    }
}
