import XCTest
import LarderFeatures
@testable import LarderServing

/// POST /get-online-features' body read without a tree (OnlineBodyScanner) means what the
/// JSONValue tree of the same body means, and the scanner leaves to JSONValue every body it
/// does not read itself, malformed ones first.
final class OnlineRequestTests: XCTestCase {
    /// What a request says, as plain values, whichever way it was read.
    struct Meaning: Equatable {
        var entitiesIsObject: Bool
        var fullNames: OnlineRequest.Flag
        var enforceTTL: OnlineRequest.Flag
        var service: String?
        var featuresIsList: Bool
        var refs: [String]
        var columns: [String]
        var lists: [Bool]
        var values: [[String]]
        var kinds: [[OnlineRequest.Kind]]
    }

    func meaning(_ r: OnlineRequest, _ src: UnsafeRawBufferPointer) -> Meaning {
        func text(_ x: Range<Int>) -> String { String(decoding: UnsafeRawBufferPointer(rebasing: src[x]), as: UTF8.self) }
        func value(_ t: OnlineRequest.Token) -> String {
            // Other values compared by what they parse to: the scanner keeps their text as sent.
            guard t.kind == .other else { return text(t.range) }
            var w = JSONWriter()
            w.value(try! JSONValue.parse(Array(UnsafeRawBufferPointer(rebasing: src[t.range]))))
            return String(decoding: w.bytes, as: UTF8.self)
        }
        return Meaning(entitiesIsObject: r.entitiesIsObject, fullNames: r.fullNames, enforceTTL: r.enforceTTL,
                       service: r.service.map(text), featuresIsList: r.featuresIsList, refs: r.refs.map(text),
                       columns: r.columns.map { text($0.name) }, lists: r.columns.map(\.isList),
                       values: r.columns.map { c in c.values.map { value(r.tokens[$0]) } },
                       kinds: r.columns.map { c in c.values.map { r.tokens[$0].kind } })
    }

    /// The scanner's meaning, or nil when it leaves the body to JSONValue.
    func scanned(_ body: String) -> Meaning? {
        let bytes = Array(body.utf8)
        var r = OnlineRequest()
        return bytes.withUnsafeBytes { b in OnlineBodyScanner.scan(b, into: &r) ? meaning(r, b) : nil }
    }

    /// The tree's meaning, or nil when JSONValue refuses the body or it is not an object.
    func tree(_ body: String) -> Meaning? {
        guard case .object(let fields)? = try? JSONValue.parse(Array(body.utf8)) else { return nil }
        var r = OnlineRequest()
        var text: [UInt8] = []
        r.fill(from: fields, text: &text)
        return text.withUnsafeBytes { meaning(r, $0) }
    }

    let bodies = [
        #"{"features": ["v:a", "v:b"], "entities": {"driver_id": [1001, -2, 3e2, 1.5], "customer_id": ["C1", "é"]}}"#,
        #"{"feature_service": "svc", "entities": {"driver_id": [1]}, "full_feature_names": true, "enforce_ttl": false}"#,
        #" { "entities" : { "x" : [ null , true , [1, {"a": 2}] , {"b" : [] } ] , "y": 5, "z": {"w": 1} } , "features" : [ ] } "#,
        #"{"entities": {}, "features": ["a:b"], "features": ["c:d"], "entities": {"x": [1]}, "full_feature_names": 1}"#,
        #"{"entities": [1], "feature_service": 7, "features": ["a:b"], "enforce_ttl": null, "extra": {"deep": [[[[1]]]]}}"#,
        #"{}"#,
        #"{"entities": {"driver_id": []}, "features": ["v:a"]}"#,
    ]

    func testTheScannerMeansWhatTheTreeMeans() {
        for body in bodies {
            XCTAssertNotNil(scanned(body), body)
            XCTAssertEqual(scanned(body), tree(body), body)
        }
    }

    func testEscapesNonStringRefsAndMalformedBodiesAreLeftToJSONValue() {
        for body in [#"{"features": ["v:\u0061"], "entities": {"driver_id": [1]}}"#,
                     #"{"features": ["driver_hourly_stats:conv_\u0072ate"], "entities": {"driver_id": [1]}}"#,
                     "{\"features\": [\"driver_hourly_stats:conv_\u{1}rate\"], \"entities\": {\"driver_id\": [1]}}",
                     #"{"features": ["v:a", 1], "entities": {"driver_id": [1]}}"#,
                     #"{"features": ["#, #"[1]"#, #""x""#, "", " ", #"{"a": 01.}"#, #"{"a": 1.2.3}"#, #"{"a": -}"#,
                     #"{"a": 1} x"#, #"{"a" 1}"#, #"{"a": tru}"#, #"{"a": [1,]}"#, #"{"a": "\#u{01}"}"#] {
            XCTAssertNil(scanned(body), body)
        }
    }

    /// Never accepts what JSONValue refuses, and means the same when it accepts: every
    /// truncation and many one-byte changes of the bodies above.
    func testNoMutationIsAcceptedThatJSONValueRefuses() {
        var checked = 0
        for body in bodies {
            let bytes = Array(body.utf8)
            var variants: [[UInt8]] = (0..<bytes.count).map { Array(bytes[..<$0]) }
            for i in bytes.indices {
                for c in Array(#"{}[],:"-.e1 \tnx"#.utf8) { var v = bytes; v[i] = c; variants.append(v) }
            }
            for v in variants {
                let text = String(decoding: v, as: UTF8.self)
                guard v.elementsEqual(text.utf8) else { continue }
                if let s = scanned(text) {
                    XCTAssertEqual(s, tree(text), text)
                    checked += 1
                }
            }
        }
        XCTAssertGreaterThan(checked, 100)
    }

    func testIntegersAreReadAsInt64ReadsTheirText() {
        for text in ["0", "-0", "7", "-12", "9223372036854775807", "-9223372036854775808", "9223372036854775808",
                     "-9223372036854775809", "1.0", "1e3", "-", "", "0123", "99999999999999999999"] {
            let mine = Array(text.utf8).withUnsafeBytes { HTTPFeatureAPI.integer($0) }
            XCTAssertEqual(mine, Int64(text), text)
        }
    }

    func testEntityValuesAreTypedAndBadOnesWordedAsBefore() throws {
        let body = Array(#"[1001, "C1", 2.5, null, 4294967296]"#.utf8)
        try body.withUnsafeBytes { b in
            func token(_ from: Int, _ to: Int, _ kind: OnlineRequest.Kind) -> OnlineRequest.Token { .init(kind: kind, range: from..<to) }
            XCTAssertEqual(try HTTPFeatureAPI.entityValue(token(1, 5, .number), b, type: .int64, joinKey: "k"), .int64(1001))
            XCTAssertEqual(try HTTPFeatureAPI.entityValue(token(8, 10, .string), b, type: .string, joinKey: "k"), .string("C1"))
            XCTAssertEqual(try HTTPFeatureAPI.entityValue(token(8, 10, .string), b, type: .bytes, joinKey: "k"), .bytes(Array("C1".utf8)))
            for (t, type) in [(token(13, 16, .number), FeastValueType.int64), (token(18, 22, .other), .string),
                              (token(24, 34, .number), .int32), (token(8, 10, .string), .int64)] {
                let v = try JSONValue.parse(Array(UnsafeRawBufferPointer(rebasing: b[t.kind == .string ? (t.range.lowerBound - 1)..<(t.range.upperBound + 1) : t.range])))
                var expected = ""
                XCTAssertThrowsError(try JSONFeastValue.entity(v, type: type, joinKey: "k")) { expected = ($0 as! ServingError).message }
                XCTAssertThrowsError(try HTTPFeatureAPI.entityValue(t, b, type: type, joinKey: "k")) {
                    XCTAssertEqual(($0 as! ServingError).message, expected)
                }
            }
        }
    }

    func testPlansAreCachedByTheRequestsBytes() throws {
        let cache = HTTPPlanCache()
        let catalog = try makeCatalog()
        var resolved = 0
        func plan(_ body: String, service: Bool = false, fullNames: Bool = false) throws -> HTTPPlanCache.Plan {
            var r = OnlineRequest()
            let bytes = Array(body.utf8)
            return try bytes.withUnsafeBytes { b in
                XCTAssertTrue(OnlineBodyScanner.scan(b, into: &r))
                return try cache.plan(service: r.service, refs: r.refs, fullNames: fullNames, source: b) {
                    resolved += 1
                    let refs = r.refs.map { String(decoding: UnsafeRawBufferPointer(rebasing: b[$0]), as: UTF8.self) }
                    let selection = try r.service != nil ? catalog.selection(service: "ranking") : catalog.selection(refs: refs)
                    return HTTPPlanCache.Plan(selection: selection, names: refs)
                }
            }
        }
        let a = try plan(#"{"features": ["stats:conv_rate", "stats:city"]}"#)
        XCTAssertEqual(try plan(#"{ "features" : [ "stats:conv_rate","stats:city" ] }"#).names, a.names)
        XCTAssertEqual(resolved, 1, "the same refs in another body: cached")
        XCTAssertEqual(try plan(#"{"features": ["stats:city", "stats:conv_rate"]}"#).names, ["stats:city", "stats:conv_rate"])
        _ = try plan(#"{"features": ["stats:conv_rate", "stats:city"]}"#, fullNames: true)
        _ = try plan(#"{"feature_service": "ranking"}"#)
        XCTAssertEqual(resolved, 4, "order, full_feature_names and service make other plans")
        XCTAssertThrowsError(try plan(#"{"features": ["stats:nope"]}"#))
        XCTAssertThrowsError(try plan(#"{"features": ["stats:nope"]}"#))
        XCTAssertEqual(resolved, 6, "errors are not cached")
    }
}
