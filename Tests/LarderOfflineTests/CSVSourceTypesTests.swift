import Foundation
import XCTest
import LarderFeatures
import LarderParquet
@testable import LarderOffline

/// CSV sources as a careless user writes them (issue 11, section 3): zero-padded ids stay
/// strings, a source can declare column types, and a value that does not parse is named with
/// its file, line, column and text.
final class CSVSourceTypesTests: XCTestCase {
    var directory: URL!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("larder-csvtypes-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDown() { try? FileManager.default.removeItem(at: directory) }

    /// A customer view over `stats.csv` (customer_id, ts, code, trips); the key's type is
    /// `keyType`, `columnTypes` are the source's declared ones.
    func repo(csv: String, keyType: FeastValueType = .string, columnTypes: [String: CSVColumnType]? = nil) throws -> FeatureRepo {
        try csv.write(to: directory.appendingPathComponent("stats.csv"), atomically: true, encoding: .utf8)
        let source = FileSource(name: "stats", path: "stats.csv", timestampField: "ts", columnTypes: columnTypes)
        let view = FeatureView(name: "v", entities: ["customer"],
                               features: [LarderFeatures.Field(name: "code", type: .string),
                                          LarderFeatures.Field(name: "trips", type: .int64)],
                               source: .file(source))
        let definitions = FeatureDefinitions(project: "test",
                                             entities: [Entity(name: "customer", joinKey: "customer_id", valueType: keyType)],
                                             dataSources: [.file(source)], featureViews: [view])
        return FeatureRepo(directory: directory.path, config: RepoConfig(project: "test"), definitions: definitions)
    }

    static let padded = """
        customer_id,ts,code,trips
        00123,2025-01-01T00:00:00Z,007,1
        00456,2025-01-01T00:00:00Z,010,2
        """

    func testZeroPaddedIdsOfAStringKeyStayStrings() throws {
        let repo = try repo(csv: Self.padded.replacingOccurrences(of: ",007,", with: ",a,").replacingOccurrences(of: ",010,", with: ",b,"))
        let source = try ViewSource(view: repo.definitions.featureViews[0], definitions: repo.definitions, repoDirectory: repo.directory)
        XCTAssertEqual(source.tabular.schema.first { $0.name == "customer_id" }?.type, .string,
                       "the key is declared STRING: read as text, not inferred as int64")
        let sink = MemorySink()
        _ = try Materializer(repo: repo).materialize(view: repo.definitions.featureViews[0], start: nanos("2024-01-01T00:00:00Z"),
                                                     end: nanos("2026-01-01T00:00:00Z"), into: sink)
        let key = try FeastKeyEncoder.redisKey([("customer_id", .string("00123"))], project: "test")
        XCTAssertNotNil(sink.hashes[key], "the key is the string 00123, zeros kept")
        XCTAssertEqual(sink.hashes.count, 2)
    }

    func testAFeatureColumnOfDigitsNeedsADeclaredType() throws {
        // `code` (007, 010) is inferred as int64: a String feature cannot take it...
        let inferred = try repo(csv: Self.padded)
        XCTAssertThrowsError(try ViewSource(view: inferred.definitions.featureViews[0], definitions: inferred.definitions,
                                            repoDirectory: inferred.directory)) { error in
            XCTAssertTrue("\(error)".contains("feature \"code\" is declared String but column \"code\" is int64"), "\(error)")
        }
        // ... until the source declares it.
        let declared = try repo(csv: Self.padded, columnTypes: ["code": .string])
        let sink = MemorySink()
        _ = try Materializer(repo: declared).materialize(view: declared.definitions.featureViews[0], start: nanos("2024-01-01T00:00:00Z"),
                                                         end: nanos("2026-01-01T00:00:00Z"), into: sink)
        let key = try FeastKeyEncoder.redisKey([("customer_id", .string("00123"))], project: "test")
        let field = FeastKeyEncoder.featureFieldName(view: "v", feature: "code")
        XCTAssertEqual(try sink.hashes[key]?[field].map(FeastValue.decode), .string("007"))
    }

    func testADeclaredTypeWinsOverTheKeyRule() throws {
        // An INT64 key: the inferred int64 column fits; declaring the column string makes it
        // a mismatch, reported as such (the declaration is what was read).
        let repo = try repo(csv: Self.padded, keyType: .int64, columnTypes: ["customer_id": .string, "code": .string])
        XCTAssertThrowsError(try ViewSource(view: repo.definitions.featureViews[0], definitions: repo.definitions,
                                            repoDirectory: repo.directory)) { error in
            XCTAssertTrue("\(error)".contains("join key \"customer_id\" is declared INT64 but column \"customer_id\" is string"), "\(error)")
        }
    }

    func testABadTimestampIsNamedWithFileLineColumnAndValue() throws {
        let csv = "customer_id,ts,code,trips\nA,2025-01-01T00:00:00Z,x,1\nB,yesterday,y,2\n"
        let repo = try repo(csv: csv, columnTypes: ["code": .string])
        XCTAssertThrowsError(try ViewSource(view: repo.definitions.featureViews[0], definitions: repo.definitions,
                                            repoDirectory: repo.directory)) { error in
            let path = self.directory.path + "/stats.csv"
            XCTAssertTrue("\(error)".contains("\(path):3: column \"ts\": \"yesterday\" is not a timestamp"), "\(error)")
        }
    }

    func testABadValueAfterTheInferredRowsIsNamed() throws {
        var rows = ["customer_id,ts,code,trips"]
        for i in 0 ..< 10_010 { rows.append("c\(i),2025-01-01T00:00:00Z,x,\(i)") }
        rows[10_005] = "c10004,2025-01-01T00:00:00Z,x,lots"
        let repo = try repo(csv: rows.joined(separator: "\n") + "\n")
        XCTAssertThrowsError(try Materializer(repo: repo).materialize(view: repo.definitions.featureViews[0], start: nanos("2024-01-01T00:00:00Z"),
                                                                      end: nanos("2026-01-01T00:00:00Z"), into: MemorySink())) { error in
            XCTAssertTrue("\(error)".hasSuffix("stats.csv:10006: column \"trips\": \"lots\" is not an int64"), "\(error)")
        }
    }

    func testEntityFileOfHistorical() throws {
        let repo = try repo(csv: Self.padded, columnTypes: ["code": .string])
        let entities = directory.appendingPathComponent("entities.csv").path
        try "customer_id,event_timestamp\n00123,2025-01-02T00:00:00Z\n00999,2025-01-02T00:00:00Z\n"
            .write(toFile: entities, atomically: true, encoding: .utf8)
        let retriever = HistoricalRetriever(repo: repo)
        let refs = try retriever.references("v:code")
        let source = try TabularSource(path: entities, csvOptions: retriever.entityCSVOptions(features: refs))
        XCTAssertEqual(source.schema.first?.type, .string)
        var codes: [String?] = []
        try retriever.retrieve(entities: source, features: refs, fullFeatureNames: false) { batch in
            guard case .byteArray(let values) = batch.columns[2].values else { return XCTFail("\(batch.columns[2].type)") }
            for row in 0 ..< batch.rowCount { codes.append(batch.columns[2].isNull(row) ? nil : values.string(at: row)) }
        }
        XCTAssertEqual(codes, ["007", nil])

        try "customer_id,event_timestamp\n00123,2025-01-02T00:00:00Z\n00999,soon\n".write(toFile: entities, atomically: true, encoding: .utf8)
        let bad = try TabularSource(path: entities, csvOptions: retriever.entityCSVOptions(features: refs))
        XCTAssertThrowsError(try retriever.retrieve(entities: bad, features: refs, fullFeatureNames: false) { _ in }) { error in
            XCTAssertEqual("\(error)", "\(entities):3: column \"event_timestamp\": \"soon\" is not a timestamp")
        }
    }
}
