import XCTest
@testable import LarderOffline

/// The pieces around the engine: key indexes (dense ids, growth), target URLs and
/// Feast connection strings.
final class MaterializeSupportTests: XCTestCase {
    func testInt64KeyIndexGivesDenseIdsAcrossGrowth() {
        var index = Int64KeyIndex(capacity: 4)
        var ids: [Int64: Int] = [:]
        for k in stride(from: Int64(-5000), to: 5000, by: 3) {
            let (id, inserted) = index.findOrInsert(k)
            XCTAssertTrue(inserted)
            XCTAssertEqual(id, ids.count)
            ids[k] = id
        }
        for (k, id) in ids {
            let again = index.findOrInsert(k)
            XCTAssertEqual(again.id, id)
            XCTAssertFalse(again.inserted)
        }
        XCTAssertEqual(index.count, ids.count)
    }

    func testByteKeyIndexFindsEveryKeyAfterGrowth() {
        var index = ByteKeyIndex(capacity: 2)
        let keys = (0 ..< 3000).map { Array("key-\($0)".utf8) }
        for (i, key) in keys.enumerated() { XCTAssertEqual(index.findOrInsert(key).id, i) }
        for (i, key) in keys.enumerated() { XCTAssertEqual(index.find(key), i) }
        XCTAssertNil(index.find(Array("key-3000".utf8)))
        XCTAssertEqual(index.keys, keys)
    }

    func testTargetURLs() throws {
        XCTAssertEqual(try RESPEndpoint(url: "redis://127.0.0.1:6390"), RESPEndpoint(host: "127.0.0.1", port: 6390))
        XCTAssertEqual(try RESPEndpoint(url: "redis://:secret@db.local:7000/3"),
                       RESPEndpoint(host: "db.local", port: 7000, db: 3, password: "secret"))
        XCTAssertEqual(try RESPEndpoint(url: "redis://app:pw@h:1/0"),
                       RESPEndpoint(host: "h", port: 1, db: 0, username: "app", password: "pw"))
        XCTAssertThrowsError(try RESPEndpoint(url: "http://h:1"))
        // User info is percent-decoded: passwords holding @, : and %.
        XCTAssertEqual(try RESPEndpoint(url: "redis://a%40b:p%40ss%3Aw%25rd@h:1"),
                       RESPEndpoint(host: "h", port: 1, username: "a@b", password: "p@ss:w%rd"))
        XCTAssertEqual(try RESPEndpoint(url: "redis://:%C3%A9t%C3%A9@h:1").password, "été")
        XCTAssertThrowsError(try RESPEndpoint(url: "redis://:100%@h:1"))
        XCTAssertThrowsError(try RESPEndpoint(url: "redis://:%zz@h:1"))
        XCTAssertThrowsError(try RESPEndpoint(url: "redis://h:99999"))
    }

    func testFeastConnectionStrings() throws {
        XCTAssertEqual(try RESPEndpoint(connectionString: "127.0.0.1:6391,db=2,password=x,ssl=false"),
                       RESPEndpoint(host: "127.0.0.1", port: 6391, db: 2, password: "x"))
        XCTAssertEqual(try RESPEndpoint(connectionString: "a:1,b:2"), RESPEndpoint(host: "a", port: 1),
                       "only the first host is used, as Feast does for redis_type: redis")
    }
}
