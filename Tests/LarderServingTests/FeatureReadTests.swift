import XCTest
import LarderFeatures
import LarderStore
@testable import LarderServing

/// The example repo's shape, small: one Int64 entity, a view with a 2 h ttl and a push source.
let definitionsYAML = """
entities:
  - {name: driver, join_keys: [driver_id], value_type: INT64}
file_sources:
  - {name: stats_source, path: data/stats.parquet, timestamp_field: event_timestamp}
push_sources:
  - {name: stats_push, batch_source: stats_source}
feature_views:
  - name: stats
    entities: [driver]
    ttl: 2h
    schema:
      - {name: driver_id, dtype: Int64}
      - {name: conv_rate, dtype: Float32}
      - {name: city, dtype: String}
      - {name: trips, dtype: Array(Int64)}
    source: stats_push
feature_services:
  - name: ranking
    features: [stats]
"""

func makeCatalog() throws -> ServingCatalog {
    let defs = try FeatureRepoLoader().parseDefinitions(files: [("definitions.yaml", definitionsYAML)], project: "demo")
    return try ServingCatalog(repo: FeatureRepo(directory: "/tmp", config: RepoConfig(project: "demo"), definitions: defs))
}

final class FeatureReadTests: XCTestCase {
    /// A stored hash as Feast writes it: the `_ts:stats` Timestamp and the Value protobufs.
    func storedHash(catalog: ServingCatalog, eventSeconds: Int64, conv: FeastValue, city: FeastValue) -> HashObject {
        let view = catalog.view(named: "stats")!
        let h = HashObject()
        _ = h.set(view.layout.timestampField, ProtoTimestamp(seconds: eventSeconds).encoded())
        _ = h.set(view.layout.featureFields[0], conv.encoded())
        _ = h.set(view.layout.featureFields[1], city.encoded())
        return h
    }

    func read(_ hash: HashObject?, _ catalog: ServingCatalog, enforce: Bool, now: Double) throws -> [FeatureCell] {
        let selection = try catalog.selection(refs: ["stats:conv_rate", "stats:city", "stats:trips"])
        var cells: [FeatureCell] = []
        try FeatureRead.read(hash: hash.map(HashView.init), group: selection.groups[0], options: ReadOptions(enforceTTL: enforce, now: now), into: &cells)
        return cells
    }

    func testFreshValuesArePresentTypedAndCarryTheEventTime() throws {
        let c = try makeCatalog()
        let h = storedHash(catalog: c, eventSeconds: 1_000_000, conv: .float(0.5), city: .string("Rome"))
        let cells = try read(h, c, enforce: true, now: 1_000_000 + 3600)
        XCTAssertEqual(cells.map(\.status), [.present, .present, .nullValue])
        XCTAssertEqual(cells[0].value, .float(0.5))
        XCTAssertEqual(cells[1].value, .string("Rome"))
        XCTAssertEqual(cells[2].value, .null, "a field that is not stored is null")
        XCTAssertEqual(cells[0].eventTime, ProtoTimestamp(seconds: 1_000_000))
    }

    func testValuesOlderThanTheTTLAreOutsideMaxAgeWithoutAValue() throws {
        let c = try makeCatalog()
        let h = storedHash(catalog: c, eventSeconds: 1_000_000, conv: .float(0.5), city: .string("Rome"))
        let cells = try read(h, c, enforce: true, now: 1_000_000 + 7201)
        XCTAssertEqual(cells.map(\.status), [.outsideMaxAge, .outsideMaxAge, .outsideMaxAge])
        XCTAssertEqual(cells.map(\.value), [.null, .null, .null])
        XCTAssertEqual(cells[0].eventTime, ProtoTimestamp(seconds: 1_000_000), "the event time still says how old it was")
    }

    func testTTLOptOutIsFeastsBehaviour() throws {
        let c = try makeCatalog()
        let h = storedHash(catalog: c, eventSeconds: 1_000_000, conv: .float(0.5), city: .null)
        let cells = try read(h, c, enforce: false, now: 1_000_000 + 999_999)
        XCTAssertEqual(cells.map(\.status), [.present, .present, .present], "Feast's Redis store says PRESENT even for nulls")
        XCTAssertEqual(cells[0].value, .float(0.5))
        XCTAssertEqual(cells[1].value, .null)
    }

    func testMissingEntityIsNotFoundOrFeastsEpochPresent() throws {
        let c = try makeCatalog()
        XCTAssertEqual(try read(nil, c, enforce: true, now: 0).map(\.status), [.notFound, .notFound, .notFound])
        let feast = try read(nil, c, enforce: false, now: 0)
        XCTAssertEqual(feast.map(\.status), [.present, .present, .present])
        XCTAssertEqual(feast[0].eventTime, ProtoTimestamp(seconds: 0))
    }

    func testAHashWithoutThisViewsTimestampIsNotFound() throws {
        let c = try makeCatalog()
        let h = HashObject()
        _ = h.set(Array("_ts:other".utf8), ProtoTimestamp(seconds: 5).encoded())
        XCTAssertEqual(try read(h, c, enforce: true, now: 10).map(\.status), [.notFound, .notFound, .notFound])
    }

    func testUndecodableStoredValueIsAnErrorNamingTheFeature() throws {
        let c = try makeCatalog()
        let h = storedHash(catalog: c, eventSeconds: 1, conv: .float(0.5), city: .string("x"))
        _ = h.set(c.view(named: "stats")!.layout.featureFields[1], [0xff, 0xff])
        XCTAssertThrowsError(try read(h, c, enforce: true, now: 2)) { e in
            XCTAssertTrue("\(e)".contains("stats:city"), "\(e)")
        }
    }
}

final class ServingCatalogTests: XCTestCase {
    func testServiceSelectsItsViewsFeaturesAndJoinKeys() throws {
        let s = try makeCatalog().selection(service: "ranking")
        XCTAssertEqual(s.groups.count, 1)
        XCTAssertEqual(s.groups[0].features, [0, 1, 2])
        XCTAssertEqual(s.joinKeys.map(\.name), ["driver_id"])
        XCTAssertEqual(s.joinKeys.map(\.type), [.int64])
    }

    func testUnknownNamesAreErrorsNamingThemAsFeastDoes() throws {
        let c = try makeCatalog()
        XCTAssertThrowsError(try c.selection(refs: ["nope:x"])) { e in
            XCTAssertEqual((e as! ServingError).message, "Feature view nope does not exist in project demo")
            XCTAssertEqual((e as! ServingError).httpStatus, 404)
        }
        XCTAssertThrowsError(try c.selection(refs: ["stats:nope"])) { e in
            XCTAssertEqual((e as! ServingError).kind, .featureNotFound)
        }
        XCTAssertThrowsError(try c.selection(service: "nope")) { e in
            XCTAssertEqual((e as! ServingError).feastClass, "FeatureServiceNotFoundException")
        }
        XCTAssertThrowsError(try c.selection(refs: ["no_colon"]))
    }

    func testPushSourceFeedsItsViews() throws {
        let c = try makeCatalog()
        XCTAssertEqual(try PushRows.targetViews("stats_push", catalog: c).map(\.name), ["stats"])
        XCTAssertThrowsError(try PushRows.targetViews("nothing", catalog: c))
    }
}

final class FeatureWriteTests: XCTestCase {
    func testOnlyNewerRowsAreWrittenAndValuesAreFeastEncoded() throws {
        let c = try makeCatalog()
        let view = c.view(named: "stats")!
        let rows = try PushRows.encodeText(
            columns: ["driver_id", "event_timestamp", "conv_rate", "city", "trips"],
            rows: [["1001", "100", "0.5", "Rome", "[1,2]"].map { Array($0.utf8) },
                   ["1001", "50", "0.9", "Oslo", "[]"].map { Array($0.utf8) },
                   ["1001", "100", "0.7", "Pisa", "[]"].map { Array($0.utf8) }],
            view: view, project: "demo")
        let db = Keyspace()
        let outcomes = rows.map { FeatureWrite.write($0, view: view, keyTTLSeconds: nil, keyspace: db, nowMilliseconds: 1) }
        XCTAssertEqual(outcomes, [.written, .olderSkipped, .olderSkipped], "equal or older event times are skipped, as in Feast")
        let key = try FeatureRead.key(view: view, values: [.int64(1001)], project: "demo")
        let slot = try XCTUnwrap(key.withUnsafeBytes { db.lookup($0, now: 1) })
        guard case .hash(let h) = db.value(at: slot) else { return XCTFail("not a hash") }
        XCTAssertEqual(h.value(view.layout.featureFields[0]), FeastValue.float(0.5).encoded())
        XCTAssertEqual(h.value(view.layout.featureFields[1]), [0x12, 4] + Array("Rome".utf8))
        XCTAssertEqual(h.value(view.layout.featureFields[2]), FeastValue.int64List([1, 2]).encoded())
        XCTAssertEqual(h.value(view.layout.timestampField), [0x08, 100])
    }

    func testBadValuesNameTheColumnAndRow() throws {
        let c = try makeCatalog()
        let view = c.view(named: "stats")!
        XCTAssertThrowsError(try PushRows.encodeText(columns: ["driver_id", "event_timestamp"], rows: [[Array("abc".utf8), Array("1".utf8)]],
                                                     view: view, project: "demo")) { e in
            XCTAssertTrue("\(e)".contains("driver_id"), "\(e)")
        }
        XCTAssertThrowsError(try PushRows.encodeText(columns: ["driver_id", "event_timestamp", "conv_rate"],
                                                     rows: [["1", "1", "fast"].map { Array($0.utf8) }], view: view, project: "demo")) { e in
            XCTAssertTrue("\(e)".contains("conv_rate"), "\(e)")
        }
        XCTAssertThrowsError(try PushRows.encodeText(columns: ["driver_id", "event_timestamp", "bogus"],
                                                     rows: [["1", "1", "x"].map { Array($0.utf8) }], view: view, project: "demo"))
        XCTAssertThrowsError(try PushRows.encodeText(columns: ["driver_id", "conv_rate"],
                                                     rows: [["1", "1"].map { Array($0.utf8) }], view: view, project: "demo")) { e in
            XCTAssertTrue("\(e)".contains("timestamp"), "\(e)")
        }
    }
}

final class JSONAndTimeTests: XCTestCase {
    func testJSONKeepsInt64ExactAndKeyOrder() throws {
        let v = try JSONValue.parse(Array(#"{"b": [9007199254740993, -1.5e3, "a\u00e9\n"], "a": {"x": null, "y": true}}"#.utf8))
        guard case .object(let pairs) = v else { return XCTFail() }
        XCTAssertEqual(pairs.map(\.0), ["b", "a"])
        XCTAssertEqual(v["b"], .array([.number("9007199254740993"), .number("-1.5e3"), .string("aé\n")]))
        var w = JSONWriter(); w.value(v)
        XCTAssertEqual(String(decoding: w.bytes, as: UTF8.self), #"{"b":[9007199254740993,-1.5e3,"aé\n"],"a":{"x":null,"y":true}}"#)
    }

    func testMalformedJSONSaysWhereAndWhat() {
        for bad in ["{", "{\"a\":}", "[1,]", "{\"a\":1} x", "\"abc", "tru"] {
            XCTAssertThrowsError(try JSONValue.parse(Array(bad.utf8)), bad)
        }
        XCTAssertThrowsError(try JSONValue.parse(Array("{\"a\": x}".utf8))) { e in
            XCTAssertEqual((e as! JSONValue.ParseError).offset, 6)
        }
    }

    func testFeastValuesAsFeastsJSON() {
        var w = JSONWriter()
        w.raw(91)
        for (i, v) in [FeastValue.float(0.1), .bytes([0, 1, 2]), .int64List([1, 2]), .double(.nan), .null, .bool(false)].enumerated() {
            if i > 0 { w.raw(44) }
            w.feast(v)
        }
        w.raw(93)
        XCTAssertEqual(String(decoding: w.bytes, as: UTF8.self), #"[0.10000000149011612,"AAEC",[1,2],"NaN",null,false]"#)
    }

    func testRFC3339AsFeastFormatsItAndParsesBack() {
        XCTAssertEqual(RFC3339.format(ProtoTimestamp(seconds: 0)), "1970-01-01T00:00:00Z")
        XCTAssertEqual(RFC3339.format(ProtoTimestamp(seconds: 1736024400)), "2025-01-04T21:00:00Z")
        XCTAssertEqual(RFC3339.format(ProtoTimestamp(seconds: 1736024400, nanos: 250_000_000)), "2025-01-04T21:00:00.250Z")
        XCTAssertEqual(RFC3339.format(ProtoTimestamp(seconds: 1736024400, nanos: 1_000)), "2025-01-04T21:00:00.000001Z")
        XCTAssertEqual(RFC3339.format(ProtoTimestamp(seconds: 1736024400, nanos: 7)), "2025-01-04T21:00:00.000000007Z")
        XCTAssertEqual(RFC3339.parse("2025-01-04T21:00:00.25Z"), ProtoTimestamp(seconds: 1736024400, nanos: 250_000_000))
        XCTAssertEqual(RFC3339.parse("2025-01-04T22:00:00+01:00"), ProtoTimestamp(seconds: 1736024400))
        XCTAssertNil(RFC3339.parse("2025-01-04"))
        XCTAssertEqual(ValueText.timestamp("1736024400.5"), ProtoTimestamp(seconds: 1736024400, nanos: 500_000_000))
    }
}
