import Foundation
import LarderTLS
import LarderStore
import LarderParquet
import LarderFeatures
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

    func testTLSTargets() throws {
        // rediss:// turns TLS on with verification; redis-py's ssl_* names come as query parameters.
        let url = try RESPEndpoint(url: "rediss://:pw@h:6380/2?ssl_ca_certs=/c/ca.pem&ssl_certfile=/c/me.pem&ssl_keyfile=/c/me.key")
        XCTAssertEqual(url.address, "h:6380")
        XCTAssertEqual(url.db, 2)
        XCTAssertEqual(url.password, "pw")
        XCTAssertEqual(url.tls, TLSConfiguration(certFile: "/c/me.pem", keyFile: "/c/me.key", caCertFile: "/c/ca.pem"))
        XCTAssertEqual(url.description, "rediss://h:6380/2")
        XCTAssertEqual(try RESPEndpoint(url: "rediss://h:1?ssl_cert_reqs=none").tls?.verifyPeer, TLSClientAuth.no)
        XCTAssertEqual(try RESPEndpoint(url: "rediss://h:1?ssl_check_hostname=false").tls?.verifyHostname, false)
        XCTAssertNil(try RESPEndpoint(url: "redis://h:1").tls)
        XCTAssertThrowsError(try RESPEndpoint(url: "rediss://h:1?sslcacerts=x"), "a misspelt option is refused, not ignored")
        XCTAssertThrowsError(try RESPEndpoint(url: "rediss://h:1?ssl_cert_reqs=maybe"))
        // Feast: ssl=true (JSON true) with the same names; without ssl=true they do nothing, as in redis-py.
        let feast = try RESPEndpoint(connectionString: "h:6380,ssl=true,ssl_ca_certs=/c/ca.pem,ssl_cert_reqs=required,db=1")
        XCTAssertEqual(feast.tls, TLSConfiguration(caCertFile: "/c/ca.pem"))
        XCTAssertEqual(feast.db, 1)
        XCTAssertNil(try RESPEndpoint(connectionString: "h:1,ssl_ca_certs=/c/ca.pem").tls)
        XCTAssertThrowsError(try RESPEndpoint(connectionString: "h:1,ssl=maybe"))
    }

    func testFeastConnectionStrings() throws {
        XCTAssertEqual(try RESPEndpoint(connectionString: "127.0.0.1:6391,db=2,password=x,ssl=false"),
                       RESPEndpoint(host: "127.0.0.1", port: 6391, db: 2, password: "x"))
        let two = try RESPEndpoint(connectionString: "a:1,b:2")
        XCTAssertEqual(two.address, "a:1", "only the first host is used, as Feast does for redis_type: redis")
        XCTAssertEqual(two.hosts, [.init(host: "a", port: 1), .init(host: "b", port: 2)], "all of them are the sentinels")
        // Feast splits on ',' and the first '=' and does not percent-decode: the password is as written.
        XCTAssertEqual(try RESPEndpoint(connectionString: "h:1,password=p@ss:w%rd=x").password, "p@ss:w%rd=x")
        XCTAssertEqual(try RESPEndpoint(connectionString: "h:1,password=p%40ss").password, "p%40ss")
        // Values are JSON when they parse as JSON (Feast's json.loads): a quoted string is unquoted.
        XCTAssertEqual(try RESPEndpoint(connectionString: #"h:1,password="a b\"c""#).password, #"a b"c"#)
        XCTAssertEqual(try RESPEndpoint(connectionString: #"h:1,password="unterminated"#).password, #""unterminated"#)
        // redis-py's socket timeouts, which Feast passes through.
        let timed = try RESPEndpoint(connectionString: "h:1,socket_timeout=2.5,socket_connect_timeout=1")
        XCTAssertEqual(timed.socketTimeout, 2.5)
        XCTAssertEqual(timed.socketConnectTimeout, 1)
        XCTAssertThrowsError(try RESPEndpoint(connectionString: "h:1,socket_timeout=0"))
        XCTAssertThrowsError(try RESPEndpoint(connectionString: "h:1,socket_timeout=soon"))
        XCTAssertEqual(try RESPEndpoint(connectionString: "[::1]:7000").host, "::1")
        XCTAssertEqual(try RESPEndpoint(connectionString: "[::1]:7000").address, "[::1]:7000")
    }

    /// A server that accepts and then closes the connection (during the first batch): the
    /// target reconnects with backoff and sends the batch again, then gives up with a message
    /// naming the target and what it was doing.
    func testTargetReconnectsAfterADropAndGivesUpAfterTheAttempts() throws {
        let server = try ScriptedRESPServer()
        defer { server.stop() }
        // Connection 1: closes on the first command. Connection 2: answers HMGET with [nil].
        server.script = [.closeOnFirstCommand, .answer("*1\r\n$-1\r\n")]
        var options = RESPClientOptions(connectTimeoutSeconds: 2, timeoutSeconds: 2, reconnectAttempts: 2, backoffSeconds: 0.01)
        let target = try RESPTarget(endpoint: RESPEndpoint(host: "127.0.0.1", port: server.port), options: options)
        var told: [String] = []
        target.onReconnect = { told.append($0) }
        XCTAssertEqual(try target.readField(Array("_ts:v".utf8), keys: [Array("k".utf8)][...]), [nil])
        XCTAssertEqual(told.count, 1)
        XCTAssertTrue(told[0].contains("127.0.0.1:\(server.port)") && told[0].contains("connection closed by the server")
                      && told[0].contains("attempt 1 of 2"), told[0])

        // Every connection closes: two reconnects, then a clear error.
        server.script = Array(repeating: .closeOnFirstCommand, count: 5)
        options.reconnectAttempts = 2
        let failing = try RESPTarget(endpoint: RESPEndpoint(host: "127.0.0.1", port: server.port), options: options)
        XCTAssertThrowsError(try failing.readField(Array("_ts:v".utf8), keys: [Array("k".utf8)][...])) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains("127.0.0.1:\(server.port)") && text.contains("gave up after 2 reconnect attempts"), text)
        }
    }

    /// A timeout is not retried: the error names the target and the timeout, at once.
    func testTargetTimeoutIsNotRetried() throws {
        let server = try ScriptedRESPServer()
        defer { server.stop() }
        server.script = [.silent, .silent]
        let options = RESPClientOptions(connectTimeoutSeconds: 1, timeoutSeconds: 0.3, reconnectAttempts: 3, backoffSeconds: 0.01)
        let target = try RESPTarget(endpoint: RESPEndpoint(host: "127.0.0.1", port: server.port), options: options)
        var told: [String] = []
        target.onReconnect = { told.append($0) }
        let began = MonotonicClock.now()
        XCTAssertThrowsError(try target.readField(Array("_ts:v".utf8), keys: [Array("k".utf8)][...])) { error in
            XCTAssertTrue("\(error)".contains("no reply within 0.3 s (read timeout)"), "\(error)")
        }
        XCTAssertTrue(told.isEmpty)
        XCTAssertLessThan(MonotonicClock.now() - began, 2)
    }

    /// The one-pass encoder (sizes computed first, values copied once) gives exactly the bytes
    /// of encoding each command argument by argument, for values around the decimal-length
    /// boundaries, an empty value, and with and without a TTL.
    func testBatchEncodingEqualsArgumentByArgumentEncoding() {
        let fields = [Array("_ts:v".utf8), Array("f".utf8), Array(String(repeating: "n", count: 12).utf8)]
        for ttl in [nil, 86_400] as [Int?] {
            var batch = HashWriteBatch(fields: fields, ttlSeconds: ttl)
            for (r, sizes) in [[0, 9, 10], [99, 100, 1000], [1, 5, 12_345]].enumerated() {
                let values = sizes.enumerated().map { ArraySlice([UInt8](repeating: UInt8(65 + $0.offset + r), count: $0.element)) }
                batch.append(key: Array("key\(r)".utf8) + [0, 13, 10], values: values)
            }
            var fast = RESPCommandBuffer()
            fast.appendWrites(batch)
            var slow = RESPCommandBuffer()
            for r in 0 ..< batch.count {
                var args: [[UInt8]] = [Array("HSET".utf8), batch.keys[r]]
                for f in fields.indices { args += [fields[f], Array(batch.value(record: r, field: f))] }
                slow.append(args)
                if let ttl { slow.append([Array("EXPIRE".utf8), batch.keys[r], Array(String(ttl).utf8)]) }
            }
            XCTAssertEqual(fast.bytes, slow.bytes, "ttl \(String(describing: ttl))")
        }
        var reads = RESPCommandBuffer()
        let keys = [Array("a".utf8), [UInt8](repeating: 7, count: 10)]
        reads.appendReads(Array("_ts:v".utf8), keys: keys[...])
        var slowReads = RESPCommandBuffer()
        for key in keys { slowReads.append([Array("HMGET".utf8), key, Array("_ts:v".utf8)]) }
        XCTAssertEqual(reads.bytes, slowReads.bytes)
    }

    /// Deferred columns read for some rows of the last batch equal a plain read at those rows,
    /// through a time filter that drops rows inside a Parquet row group (rows are mapped back to
    /// the row group's), over several row groups and files, and for CSV (read with the batch).
    func testDeferredColumnsEqualAPlainReadAtTheAskedRows() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("larder-deferred-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let n = 700
        let fields = [Field(name: "id", type: .int64), Field(name: "ts", type: .timestamp(isAdjustedToUTC: true)),
                      Field(name: "f", type: .double), Field(name: "g", type: .int64)]
        func part(_ k: Int) -> ColumnBatch {
            ColumnBatch(fields: fields, columns: [
                ColumnData(type: .int64, values: .int64((0 ..< n).map { Int64($0 % 50) })),
                ColumnData(type: .timestamp(isAdjustedToUTC: true), values: .int64((0 ..< n).map { Int64(($0 * 7919 + k) % 1000) })),
                ColumnData(type: .double, values: .double((0 ..< n).map { Double($0 + k) / 8 })),
                ColumnData(type: .int64, values: .int64((0 ..< n).map { Int64($0 * 3 + k) }), validity: (0 ..< n).map { $0 % 5 != 0 }),
            ], rowCount: n)
        }
        for k in 0 ..< 2 {
            try ParquetWriter.write([part(k)], to: dir.appendingPathComponent("p\(k).parquet").path,
                                    options: ParquetWriterOptions(maxRowsPerRowGroup: 300, maxRowsPerPage: 40))
        }
        var csv = "id,ts,f,g\n"
        for r in 0 ..< 200 { csv += "\(r % 9),\(1_700_000_000 + r * 37 % 500),\(Double(r) / 4),\(r % 3 == 0 ? "" : String(r))\n" }
        try csv.write(to: dir.appendingPathComponent("c.csv"), atomically: true, encoding: .utf8)
        var csvOptions = CSVOptions()
        csvOptions.columnTypes["ts"] = .timestamp(isAdjustedToUTC: true)
        let sources = [(try TabularSource(path: dir.path + "/*.parquet"), TimeFilter(column: "ts", range: 250 ... 800)),
                       (try TabularSource(path: dir.appendingPathComponent("c.csv").path, csvOptions: csvOptions),
                        TimeFilter(column: "ts", range: 1_700_000_100_000_000_000 ... 1_700_000_400_000_000_000))]
        for (source, filter) in sources {
            let plain = try source.readAll(columns: ["id", "f", "g"], timeFilter: filter)
            XCTAssertGreaterThanOrEqual(plain.count, source.format == .parquet ? 6 : 1, source.path)
            XCTAssertTrue(plain.allSatisfy { $0.rowCount > 0 && $0.rowCount < 300 }, "the filter keeps part of each batch")
            var deferred = try source.batches(columns: ["id"], deferred: ["f", "g"], timeFilter: filter)
            var b = 0
            while let batch = try deferred.next() {
                XCTAssertEqual(batch.columns.count, 1)
                XCTAssertEqual(batch.rowCount, plain[b].rowCount)
                let rows = Array(stride(from: batch.rowCount - 1, through: 0, by: -13))
                let columns = try deferred.deferredColumns(rows: rows)
                XCTAssertEqual(columns.count, 2)
                for (c, name) in ["f", "g"].enumerated() {
                    let want = try XCTUnwrap(plain[b][name])
                    for r in rows {
                        XCTAssertEqual(columns[c].isNull(r), want.isNull(r), "\(source.path) batch \(b) \(name) row \(r)")
                        switch (columns[c].values, want.values) {
                        case (.double(let x), .double(let y)): XCTAssertEqual(x[r], y[r], "\(source.path) batch \(b) row \(r)")
                        case (.int64(let x), .int64(let y)): if !want.isNull(r) { XCTAssertEqual(x[r], y[r], "\(source.path) batch \(b) row \(r)") }
                        default: XCTFail("\(name): \(columns[c].type) vs \(want.type)")
                        }
                    }
                }
                b += 1
            }
            XCTAssertEqual(b, plain.count)
        }
    }

    /// The bulk append of a length-prefixed payload makes the same batch as the value-by-value
    /// append, empty values (an epoch timestamp, a null feature) included.
    func testLengthPrefixedAppendEqualsValueAppend() {
        let fields = [Array("_ts:v".utf8), Array("a".utf8), Array("b".utf8), Array("c".utf8)]
        var bulk = HashWriteBatch(fields: fields, ttlSeconds: nil)
        var single = HashWriteBatch(fields: fields, ttlSeconds: nil)
        for (r, values) in [[[], [], [], []], [[1, 2], [], [3], Array(repeating: 9, count: 300)], [[], [4], [5, 6], []]].enumerated() {
            var prefixed: [UInt8] = []
            for value in values.dropFirst() {
                LatestRows.appendValue(to: &prefixed) { $0 += value.map { UInt8($0) } }
            }
            let first = values[0].map { UInt8($0) }
            first.withUnsafeBytes { f in prefixed.withUnsafeBytes { bulk.append(key: [UInt8(r)], first: f, lengthPrefixed: $0) } }
            single.append(key: [UInt8(r)], values: values.map { ArraySlice($0.map { UInt8($0) }) })
        }
        XCTAssertEqual(bulk.keys, single.keys)
        XCTAssertEqual(bulk.bytes, single.bytes)
        XCTAssertEqual(bulk.valueEnds, single.valueEnds)
    }

    /// The raw path writes the same payload as ColumnValueEncoder value by value, for the
    /// conversions it takes (negative varints, NaN, bools, ASCII text) and those it hands back
    /// (nulls, NaT, widening, non-ASCII and invalid UTF-8 text, lists), and reuses a payload.
    func testRawEncodingMatchesColumnValueEncoder() throws {
        var text = ByteArrayColumn()
        let strings: [[UInt8]] = [Array("Paris".utf8), [], Array("Zürich".utf8), [0xff, 0x41], Array(String(repeating: "x", count: 200).utf8), Array("a".utf8)]
        for s in strings { text.append(s) }
        let n = strings.count
        let ints: [Int64] = [0, -1, 127, 128, Int64.min, Int64.max]
        let columns: [(ColumnData, FeastType)] = [
            (ColumnData(type: .int64, values: .int64(ints)), .scalar(.int64)),
            (ColumnData(type: .int64, values: .int64(ints), validity: [true, false, true, true, false, true]), .scalar(.int64)),
            (ColumnData(type: .int32, values: .int32([0, -1, 300, Int32.min, Int32.max, 5])), .scalar(.int32)),
            (ColumnData(type: .int32, values: .int32([0, -1, 300, Int32.min, Int32.max, 5])), .scalar(.int64)),
            (ColumnData(type: .double, values: .double([0, -0.0, .nan, .infinity, 1e300, 0.1])), .scalar(.float64)),
            (ColumnData(type: .float, values: .float([0, -0.0, .nan, .infinity, 3.5, 0.1])), .scalar(.float32)),
            (ColumnData(type: .float, values: .float([0, -0.0, .nan, .infinity, 3.5, 0.1])), .scalar(.float64)),
            (ColumnData(type: .boolean, values: .boolean([true, false, true, false, true, true])), .scalar(.bool)),
            (ColumnData(type: .string, values: .byteArray(text)), .scalar(.string)),
            (ColumnData(type: .string, values: .byteArray(text), validity: [false, true, true, true, true, false]), .scalar(.string)),
            (ColumnData(type: .timestamp(isAdjustedToUTC: true), values: .int64(ints.map { $0 / 2 }),
                        validity: [true, false, true, true, true, true]), .scalar(.unixTimestamp)),
            (ColumnData(type: .list(.int64), values: .list(ListColumn(offsets: [0, 1, 1, 3, 3, 3, 6],
                                                                       elements: ColumnData(type: .int64, values: .int64(ints))))), .array(.int64)),
        ]
        let encoders = try columns.enumerated().map { try ColumnValueEncoder(column: $0.element.0, type: $0.element.1, name: "c\($0.offset)") }
        var raw = RawRowEncoder(encoders: encoders)
        var latest = LatestRows(featureCount: encoders.count)
        for row in 0 ..< n {
            var expected: [UInt8] = []
            for encoder in encoders {
                try LatestRows.appendValue(to: &expected) { try encoder.encode(row: row, into: &$0) }
            }
            let slot = try XCTUnwrap(latest.offer(key: [UInt8(row)], eventNanos: 1, createdNanos: 0))
            try raw.encode(row: row, into: &latest, slot: slot)
            XCTAssertEqual(latest.payloads[slot], expected, "row \(row)")
            // Re-encoding a slot (a later batch's winner) reuses or replaces its payload.
            try raw.encode(row: (row + 1) % n, into: &latest, slot: 0)
            var again: [UInt8] = []
            for encoder in encoders {
                try LatestRows.appendValue(to: &again) { try encoder.encode(row: (row + 1) % n, into: &$0) }
            }
            XCTAssertEqual(latest.payloads[0], again, "slot 0 after row \(row)")
        }
    }
}
