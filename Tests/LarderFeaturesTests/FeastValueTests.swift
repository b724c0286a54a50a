import XCTest
@testable import LarderFeatures

final class FeastValueTests: XCTestCase {
    /// Every value case in golden.json: Swift encodes the same bytes as Python protobuf,
    /// and decodes them back to the same value.
    func testGoldenValuesMatchPythonProtobuf() throws {
        let golden = try GoldenVectors.load()
        XCTAssertGreaterThan(golden.values.count, 60)
        for c in golden.values {
            let value = c.value.feastValue
            XCTAssertEqual(hex(value.encoded()), c.hex, "\(value)")
            let decoded = try FeastValue.decode(bytes(hex: c.hex))
            XCTAssertTrue(decoded.isBitwiseEqual(to: value), "\(decoded) != \(value)")
        }
    }

    /// Feast's own type mapper: None and NaN scalars become the empty Value; NaN inside a
    /// float list stays; defaults (0, "", false, []) are still written.
    func testGoldenFeastConversions() throws {
        let golden = try GoldenVectors.load()
        for c in golden.feast_conversions {
            let value = c.value.feastValue
            XCTAssertEqual(hex(value.encoded()), c.hex, "\(c.value_type) \(c.input)")
        }
        XCTAssertEqual(FeastValue.float(.nan).normalizedLikeFeast, .null)
        XCTAssertEqual(FeastValue.double(.nan).normalizedLikeFeast, .null)
        XCTAssertEqual(FeastValue.double(0).normalizedLikeFeast, .double(0))
        let list = FeastValue.floatList([1.5, .nan]).normalizedLikeFeast
        XCTAssertTrue(list.isBitwiseEqual(to: .floatList([1.5, .nan])))
    }

    /// Examples from the spec's encoding table.
    func testSpecTableExamples() {
        let cases: [(FeastValue, String)] = [
            (.float(1.5), "350000c03f"),
            (.double(1.5), "29000000000000f83f"),
            (.int64(7), "2007"),
            (.int32(7), "1807"),
            (.bool(true), "3801"),
            (.bool(false), "3800"),
            (.string("Paris"), "12055061726973"),
            (.bytes([0, 1]), "0a020001"),
            (.unixTimestamp(1_736_024_400), "40d0c2e6bb06"),
            (.int64List([1, 2, 3]), "72050a03010203"),
            (.floatList([1.5, 2.5]), "82010a0a080000c03f00002040"),
            (.stringList(["a", "b"]), "62060a01610a0162"),
            (.stringList([]), "6200"),
            (.boolList([true, false]), "8a01040a020100"),
            (.unixTimestampList([1_736_024_400]), "9201070a05d0c2e6bb06"),
            (.null, ""),
        ]
        for (value, expected) in cases {
            XCTAssertEqual(hex(value.encoded()), expected, "\(value)")
        }
    }

    /// The 12 fields of driver 1001's hash from samples/redis_cli_hgetall_driver1001.txt.
    func testWorkedExampleHashDriver1001() throws {
        let stored: [(view: String, feature: String, field: String, value: String, expected: FeastValue)] = [
            ("driver_hourly_stats", "conv_rate", "6160e3da", "35e02d003f", .float(Float(bitPattern: 0x3f00_2de0))),
            ("driver_hourly_stats", "acc_rate", "fa5e58ad", "29fddafae93f6bc23f", .double(0.143898)),
            ("driver_hourly_stats", "avg_daily_trips", "18a5e5a3", "20cb07", .int64(971)),
            ("driver_hourly_stats", "rating", "2e429734", "1805", .int32(5)),
            ("driver_hourly_stats", "city", "154078e7", "12055061726973", .string("Paris")),
            ("driver_hourly_stats", "is_active", "75b62ad6", "3800", .bool(false)),
            ("driver_hourly_stats", "recent_trips", "a91fb425", "72090a0799da01fe66840e", .int64List([27929, 13182, 1796])),
            ("driver_hourly_stats", "tags", "f7a68595", "62060a01610a0162", .stringList(["a", "b"])),
            ("driver_push_stats", "conv_rate", "d243f4cf", "35e02d003f", .float(Float(bitPattern: 0x3f00_2de0))),
            ("driver_push_stats", "city", "ca1756da", "12055061726973", .string("Paris")),
        ]
        for s in stored {
            XCTAssertEqual(hex(FeastKeyEncoder.featureFieldName(view: s.view, feature: s.feature)), s.field)
            XCTAssertEqual(try FeastValue.decode(bytes(hex: s.value)), s.expected, s.feature)
            XCTAssertEqual(hex(s.expected.encoded()), s.value, s.feature)
        }
        let ts = try ProtoTimestamp.decode(bytes(hex: "08d0c2e6bb06"))
        XCTAssertEqual(ts, ProtoTimestamp(seconds: 1_736_024_400))
        XCTAssertEqual(hex(ts.encoded()), "08d0c2e6bb06")
    }

    func testGoldenTimestamps() throws {
        let golden = try GoldenVectors.load()
        for c in golden.timestamps {
            let ts = ProtoTimestamp(seconds: c.seconds, nanos: c.nanos)
            XCTAssertEqual(hex(ts.encoded()), c.hex, "\(c.seconds).\(c.nanos)")
            XCTAssertEqual(try ProtoTimestamp.decode(bytes(hex: c.hex)), ts)
        }
        XCTAssertEqual(ProtoTimestamp(epochNanoseconds: -1), ProtoTimestamp(seconds: -1, nanos: 999_999_999))
        XCTAssertEqual(ProtoTimestamp(epochNanoseconds: 1_736_024_400_000_000_123),
                       ProtoTimestamp(seconds: 1_736_024_400, nanos: 123))
    }

    /// proto3 parsers must accept repeated scalars unpacked too; Python writes them packed.
    func testDecodesUnpackedRepeatedScalars() throws {
        // int64_list_val { val: 1  val: 300 } written as two tagged varints.
        XCTAssertEqual(try FeastValue.decode(bytes(hex: "7205" + "0801" + "08ac02")), .int64List([1, 300]))
        // bool_list_val: unpacked then packed in the same message.
        XCTAssertEqual(try FeastValue.decode(bytes(hex: "8a0106" + "0801" + "0a020001")), .boolList([true, false, true]))
        // float_list_val: two unpacked fixed32 fields.
        XCTAssertEqual(try FeastValue.decode(bytes(hex: "82010a" + "0d0000c03f" + "0d00002040")), .floatList([1.5, 2.5]))
    }

    func testDecodeToleratesUnknownFieldsAndLastMemberWins() throws {
        // unknown field 9 (varint), then string_val, then int64_val: the last member wins.
        XCTAssertEqual(try FeastValue.decode(bytes(hex: "4801" + "120161" + "2007")), .int64(7))
        XCTAssertEqual(try FeastValue.decode(bytes(hex: "9801" + "00")), .null) // null_val = NULL
    }

    func testDecodeErrorsNameTheField() {
        func reason(_ hexString: String) -> ProtoDecodeError? {
            do {
                _ = try FeastValue.decode(bytes(hex: hexString))
                return nil
            } catch {
                return error as? ProtoDecodeError
            }
        }
        let truncatedString = reason("1205506172")
        XCTAssertEqual(truncatedString?.context, "feast.types.Value.string_val")
        XCTAssertEqual(truncatedString?.reason, .truncated)

        let wrongWire = reason("250000c03f") // field 4 (int64_val) with wire type 5
        XCTAssertEqual(wrongWire?.context, "feast.types.Value.int64_val")
        XCTAssertEqual(wrongWire?.reason, .wrongWireType(expected: "varint", found: 5))

        let map = reason("a20100") // map_val (20), which Larder does not model
        XCTAssertEqual(map?.reason, .unsupportedMember("map_val"))

        let badUTF8 = reason("1202c328")
        XCTAssertEqual(badUTF8?.reason, .invalidUTF8)

        let truncatedList = reason("72050a0301") // packed run says 3 bytes, only 1 present
        XCTAssertEqual(truncatedList?.reason, .truncated)

        let overlongVarint = reason("20ffffffffffffffffffff01")
        XCTAssertEqual(overlongVarint?.reason, .malformedVarint)

        let fieldZero = reason("0001")
        XCTAssertEqual(fieldZero?.reason, .invalidFieldNumber)

        XCTAssertTrue(truncatedString?.description.contains("string_val") ?? false)
    }

    func testEncodeIntoReusesCallerBuffer() {
        var buffer: [UInt8] = [0xaa]
        FeastValue.int64(971).encode(into: &buffer)
        FeastValue.string("x").encode(into: &buffer)
        XCTAssertEqual(hex(buffer), "aa" + "20cb07" + "120178")
    }

    func testLongStringUsesMultiByteLength() throws {
        let s = String(repeating: "é", count: 100) // 200 UTF-8 bytes
        let encoded = FeastValue.stringList([s]).encoded()
        XCTAssertEqual(hex(Array(encoded.prefix(5))), "62cb010ac8")
        XCTAssertEqual(try FeastValue.decode(encoded), .stringList([s]))
    }
}
