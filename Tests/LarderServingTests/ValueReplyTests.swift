import Foundation
import XCTest
import LarderFeatures
import LarderRESP
import LarderStore
@testable import LarderServing

/// ValueReply writes stored Values without decoding them into FeastValue: its bytes must be
/// those of the full decoder followed by FeatureFamily.writeValue, in RESP2 and RESP3.
final class ValueReplyTests: XCTestCase {
    func reply(_ version: RESPVersion, _ body: (ReplyWriter) throws -> Void) rethrows -> [UInt8] {
        let out = ReplyWriter(version: version)
        try body(out)
        return Array(out.bytes)
    }

    func testScalarsAreWrittenAsTheFullDecoderWritesThem() throws {
        let values: [FeastValue] = [
            .int64(0), .int64(-1), .int64(Int64.max), .int64(Int64.min), .int32(-7), .int32(Int32.max),
            .unixTimestamp(1_700_000_000), .double(0.1), .double(-2.5e300), .double(.infinity), .float(0.5),
            .float(-3.25), .bool(true), .bool(false), .string(""), .string("Rome"), .bytes([]), .bytes([0, 255, 13, 10]),
            .string(String(repeating: "x", count: 300)),
            .int64List([1, -2, Int64.max]), .int32List([-7, 0, Int32.max]), .stringList(["a", "", "Rome"]),
            .doubleList([0.1, -2.5, .nan]),
        ]
        for v in values {
            let stored = v.encoded()
            for version in [RESPVersion.resp2, .resp3] {
                var handled: Bool?
                let fast = reply(version) { out in stored.withUnsafeBytes { handled = ValueReply.writeScalar($0, out) } }
                XCTAssertEqual(handled, false, "\(v) should take the direct path")
                let full = reply(version) { FeatureFamily.writeValue(try! FeastValue.decode(stored), $0) }
                XCTAssertEqual(fast, full, "\(v) in \(version)")
            }
        }
    }

    /// FEATURES.GET writes numbers and booleans in place (writeFixedScalar): the bytes must be
    /// writeScalar's through ReplyWriter, and every other shape must be left to writeScalar.
    func testFixedScalarsInPlaceAreWrittenAsWriteScalarWritesThem() {
        var g = SystemRandomNumberGenerator()
        var values: [FeastValue] = [
            .int64(0), .int64(-1), .int64(Int64.max), .int64(Int64.min), .int32(-7), .int32(Int32.max), .int32(Int32.min),
            .unixTimestamp(1_700_000_000), .unixTimestamp(-1), .bool(true), .bool(false),
            .double(0), .double(-0.0), .double(0.1), .double(1.5), .double(3), .double(-2.5e300), .double(5e-324),
            .double(.infinity), .double(-.infinity), .double(.nan), .double(1e-7), .double(123456789012345678),
            .float(0.5), .float(-3.25), .float(1e-7), .float(.greatestFiniteMagnitude),
        ]
        for _ in 0..<300 {
            values.append(.double(Double(bitPattern: g.next())))
            values.append(.double(Double(g.next() >> 11) * 0x1.0p-53))
            values.append(.float(Float(bitPattern: UInt32(truncatingIfNeeded: g.next() as UInt64))))
            values.append(.int64(Int64(bitPattern: g.next()) >> Int64.random(in: 0..<63, using: &g)))
        }
        let buffer = UnsafeMutablePointer<UInt8>.allocate(capacity: ValueReply.maxFixedReply)
        defer { buffer.deallocate() }
        for v in values {
            let stored = v.encoded()
            for version in [RESPVersion.resp2, .resp3] {
                let length = stored.withUnsafeBytes { ValueReply.writeFixedScalar($0, resp3: version == .resp3, to: buffer) }
                XCTAssertNotNil(length, "\(v) should be written in place")
                guard let length else { continue }
                XCTAssertLessThanOrEqual(length, ValueReply.maxFixedReply)
                let expected = reply(version) { out in _ = stored.withUnsafeBytes { ValueReply.writeScalar($0, out) } }
                XCTAssertEqual(Array(UnsafeBufferPointer(start: buffer, count: length)), expected, "\(v) in \(version)")
            }
        }
        let others: [[UInt8]] = [
            FeastValue.string("Rome").encoded(), FeastValue.bytes([1, 2]).encoded(), FeastValue.int64List([1]).encoded(),
            FeastValue.doubleList([0.5]).encoded(), [0x20, 0xff], [0x29, 1, 2, 3], [0x20, 1, 0x58, 1], [0x42], [0x98, 0x01, 0x00],
        ]
        for stored in others {
            XCTAssertNil(stored.withUnsafeBytes { ValueReply.writeFixedScalar($0, resp3: true, to: buffer) }, "\(stored)")
        }
    }

    func testOtherShapesAreLeftToTheFullDecoder() {
        let others: [[UInt8]] = [
            FeastValue.int64List([]).encoded(), FeastValue.stringList([]).encoded(),   // empty lists
            FeastValue.floatList([1]).encoded(), FeastValue.boolList([true]).encoded(),  // two-byte tags
            FeastValue.stringList(["é"]).encoded(),
            [0x72, 4, 0x08, 1, 0x08, 2],                 // unpacked int64 list
            [0x72, 3, 0x0A, 2, 1],                       // packed run shorter than its length
            FeastValue.string("é").encoded(),            // non-ASCII: UTF-8 validation is the decoder's
            [0x20, 1, 0x20, 2],                          // two int64_val members: the last wins there
            [0x98, 0x01, 0x00],                          // null_val (two-byte tag)
            [0x20, 0xff],                                // truncated varint
            [0x12, 5, 0x41],                             // string shorter than its length
            [0x29, 1, 2, 3],                             // short double
            [0x20, 1, 0x58, 1],                          // unknown field after the member
            [0x42],                                      // one byte
        ]
        for stored in others {
            var handled: Bool? = true
            let written = reply(.resp3) { out in stored.withUnsafeBytes { handled = ValueReply.writeScalar($0, out) } }
            XCTAssertNil(handled, "\(stored)")
            XCTAssertEqual(written, [], "nothing is written before the full decoder takes over")
            var w = JSONWriter()
            XCTAssertNil(stored.withUnsafeBytes { ValueJSON.writeScalar($0, &w) }, "\(stored)")
            XCTAssertEqual(w.bytes, [])
        }
    }

    /// The HTTP twin: ValueJSON's text must be JSONWriter.feast's of the fully decoded value.
    func testJSONValuesAreWrittenAsTheFullDecoderWritesThem() throws {
        let values: [FeastValue] = [
            .int64(0), .int64(-1), .int64(Int64.max), .int64(Int64.min), .int32(-7), .unixTimestamp(1_700_000_000),
            .double(0.1), .double(-2.5e300), .double(.infinity), .double(.nan), .float(0.5), .float(-3.25), .float(1e-7),
            .bool(true), .bool(false), .string(""), .string("Rome"), .string("a\"b\\c\n\u{1}"), .bytes([]),
            .bytes([0, 255, 13, 10]), .bytes([1]), .bytes([1, 2]), .bytes(Array(0...255)),
            .int64List([1, -2, Int64.max]), .int32List([-7, 0]), .stringList(["a", "", "x\"y"]), .doubleList([0.1, .infinity]),
        ]
        for v in values {
            let stored = v.encoded()
            var fast = JSONWriter()
            let handled = stored.withUnsafeBytes { ValueJSON.writeScalar($0, &fast) }
            XCTAssertEqual(handled, false, "\(v) should take the direct path")
            var full = JSONWriter()
            full.feast(try FeastValue.decode(stored))
            XCTAssertEqual(String(decoding: fast.bytes, as: UTF8.self), String(decoding: full.bytes, as: UTF8.self), "\(v)")
        }
        // base64 against Foundation's
        var g = SystemRandomNumberGenerator()
        for n in 0..<40 {
            let b = (0..<n).map { _ in UInt8.random(in: 0...255, using: &g) }
            var w = JSONWriter()
            b.withUnsafeBytes { w.base64String($0) }
            XCTAssertEqual(String(decoding: w.bytes, as: UTF8.self), "\"\(Data(b).base64EncodedString())\"")
        }
    }

    func testTimestampsOfSecondsAndNanos() throws {
        for ts in [ProtoTimestamp(seconds: 0), ProtoTimestamp(seconds: 1_700_000_000), ProtoTimestamp(seconds: 5, nanos: 999_999_999),
                   ProtoTimestamp(seconds: -5, nanos: 1)] {
            let stored = ts.encoded()
            XCTAssertEqual(stored.withUnsafeBytes { ValueReply.timestamp($0) }, ts)
            XCTAssertEqual(try ProtoTimestamp.decode(stored), ts)
        }
        XCTAssertNil(([0x18, 1] as [UInt8]).withUnsafeBytes { ValueReply.timestamp($0) }, "unknown fields go to the full decoder")
    }

    /// FEATURES.GET's direct read against the cell-building read it replaced.
    func testDirectReadMatchesTheCellRead() throws {
        let c = try makeCatalog()
        let selection = try c.selection(refs: ["stats:conv_rate", "stats:city", "stats:trips"])
        let view = c.view(named: "stats")!
        let h = HashObject()
        _ = h.set(view.layout.timestampField, ProtoTimestamp(seconds: 1_000_000, nanos: 250_000_000).encoded())
        _ = h.set(view.layout.featureFields[0], FeastValue.float(0.5).encoded())
        _ = h.set(view.layout.featureFields[1], FeastValue.string("Rome").encoded())
        _ = h.set(view.layout.featureFields[2], FeastValue.int64List([3, 4]).encoded())
        let empty = HashObject()
        _ = empty.set(Array("_ts:other".utf8), ProtoTimestamp(seconds: 5).encoded())
        for hash in [h, nil, empty] {
            for (enforce, now) in [(true, 1_000_100.0), (true, 1_999_999.0), (false, 1_999_999.0)] {
                let options = ReadOptions(enforceTTL: enforce, now: now)
                for version in [RESPVersion.resp2, .resp3] {
                    var counts = [Int](repeating: 0, count: 4)
                    let direct = try reply(version) { out in
                        _ = try counts.withUnsafeMutableBufferPointer {
                            try FeatureRead.write(hash: hash.map(HashView.init), group: selection.groups[0], options: options, out: out, statusCounts: $0.baseAddress!)
                        }
                    }
                    var cells: [FeatureCell] = []
                    try FeatureRead.read(hash: hash.map(HashView.init), group: selection.groups[0], options: options, into: &cells)
                    let viaCells = reply(version) { out in
                        for (i, x) in cells.enumerated() {
                            out.bulk("stats:" + view.layout.featureNames[selection.groups[0].features[i]])
                            out.arrayHeader(3)
                            FeatureFamily.writeValue(x.value, out)
                            out.simple(x.status.name)
                            out.integer(Int(x.eventTime.seconds) * 1000 + Int(x.eventTime.nanos) / 1_000_000)
                        }
                    }
                    XCTAssertEqual(direct, viaCells, "hash \(hash == nil ? "nil" : "set") enforce \(enforce) now \(now) \(version)")
                    // The HTTP read: the same cells as JSON text, statuses and event time.
                    var block = FeatureRead.JSONBlock()
                    try FeatureRead.readJSON(hash: hash.map(HashView.init), group: selection.groups[0], options: options, into: &block)
                    XCTAssertEqual(block.statuses, cells.map(\.status))
                    XCTAssertEqual(block.eventTimes, [cells[0].eventTime])
                    for (i, x) in cells.enumerated() {
                        var w = JSONWriter()
                        w.feast(x.value)
                        XCTAssertEqual(Array(block.text.bytes[block.cell(0, i)]), w.bytes)
                    }
                    var expected = [Int](repeating: 0, count: 4)
                    for x in cells { expected[x.status.rawValue - 1] += 1 }
                    XCTAssertEqual(counts, expected)
                }
            }
        }
    }

    /// RFC3339.append against the String(format:) text it replaced.
    func testTimestampTextIsThePrintfText() {
        func reference(_ ts: ProtoTimestamp) -> String {
            var t = time_t(ts.seconds)
            var tm = tm()
            gmtime_r(&t, &tm)
            let base = String(format: "%04d-%02d-%02dT%02d:%02d:%02d", Int(tm.tm_year) + 1900, Int(tm.tm_mon) + 1,
                              Int(tm.tm_mday), Int(tm.tm_hour), Int(tm.tm_min), Int(tm.tm_sec))
            let n = Int(ts.nanos)
            if n == 0 { return base + "Z" }
            if n % 1_000_000 == 0 { return base + String(format: ".%03dZ", n / 1_000_000) }
            if n % 1_000 == 0 { return base + String(format: ".%06dZ", n / 1_000) }
            return base + String(format: ".%09dZ", n)
        }
        var stamps = [ProtoTimestamp(seconds: 0), ProtoTimestamp(seconds: 1_736_028_000), ProtoTimestamp(seconds: 59, nanos: 5_000_000),
                      ProtoTimestamp(seconds: 86_399, nanos: 123_000), ProtoTimestamp(seconds: 1, nanos: 7),
                      ProtoTimestamp(seconds: -1), ProtoTimestamp(seconds: 253_402_300_799), ProtoTimestamp(seconds: 253_402_300_800)]
        var x: UInt64 = 0x9E37_79B9_7F4A_7C15
        for _ in 0..<300 {
            x = x &* 6364136223846793005 &+ 1442695040888963407
            stamps.append(ProtoTimestamp(seconds: Int64(x >> 34), nanos: Int32((x >> 3) % 1_000_000_000)))
        }
        for ts in stamps { XCTAssertEqual(RFC3339.format(ts), reference(ts), "\(ts)") }
    }

    func testJSONIntegersAreDecimal() {
        for v: Int64 in [0, 7, -7, 10, 99, 100, 1_000_000, Int64.max, Int64.min, -9_007_199_254_740_993] {
            var w = JSONWriter()
            w.integer(v)
            XCTAssertEqual(String(decoding: w.bytes, as: UTF8.self), "\(v)")
        }
    }
}
