import XCTest

/// CONFIG GET / SET / RESETSTAT with Redis 7.0's names, formats and errors, and limits that
/// take effect on the connections already open.
final class ConfigTests: XCTestCase {
    var server: TestServer!
    override func setUpWithError() throws { server = try TestServer(threads: 2) }
    override func tearDown() { server = nil }

    func testGetExactNamesAndPatterns() throws {
        let c = try server.client()
        XCTAssertEqual(try c.call("CONFIG", "GET", "maxclients"), .array([.bulk("maxclients"), .bulk("10000")]))
        XCTAssertEqual(try c.call("CONFIG", "GET", "Maxclients"), .array([.bulk("Maxclients"), .bulk("10000")]))
        XCTAssertEqual(try c.call("CONFIG", "GET", "save", "appendonly"),
                       .array([.bulk("save"), .bulk(""), .bulk("appendonly"), .bulk("no")]))
        XCTAssertEqual(try c.call("CONFIG", "GET", "proto*"), .array([.bulk("proto-max-bulk-len"), .bulk("536870912")]))
        XCTAssertEqual(try c.call("CONFIG", "GET", "port"), .array([.bulk("port"), .bulk(String(server.port))]))
        XCTAssertEqual(try c.call("CONFIG", "GET", "databases"), .array([.bulk("databases"), .bulk("16")]))
        XCTAssertEqual(try c.call("CONFIG", "GET", "nosuch"), .array([]))
        XCTAssertEqual(try c.call("CONFIG", "GET"), .error("ERR wrong number of arguments for 'config|get' command"))
        _ = try c.call("HELLO", "3")
        XCTAssertEqual(try c.call("CONFIG", "GET", "timeout"), .map([(.bulk("timeout"), .bulk("0"))]))
    }

    func failed(_ name: String, _ reason: String) -> Reply {
        .error("ERR CONFIG SET failed (possibly related to argument '\(name)') - \(reason)")
    }

    func testSetValidatesEverythingBeforeChangingAnything() throws {
        let c = try server.client()
        XCTAssertEqual(try c.call("CONFIG", "SET", "maxclients", "100", "timeout", "x"),
                       failed("timeout", "argument couldn't be parsed into an integer"))
        XCTAssertEqual(try c.call("CONFIG", "GET", "maxclients"), .array([.bulk("maxclients"), .bulk("10000")]))
        XCTAssertEqual(try c.call("CONFIG", "SET", "maxclients", "100", "timeout", "30"), .simple("OK"))
        XCTAssertEqual(try c.call("CONFIG", "GET", "maxclients"), .array([.bulk("maxclients"), .bulk("100")]))
        XCTAssertEqual(try c.call("CONFIG", "GET", "timeout"), .array([.bulk("timeout"), .bulk("30")]))
    }

    func testSetErrors() throws {
        let c = try server.client()
        XCTAssertEqual(try c.call("CONFIG", "SET", "maxclients", "abc"), failed("maxclients", "argument couldn't be parsed into an integer"))
        XCTAssertEqual(try c.call("CONFIG", "SET", "maxclients", "010"), failed("maxclients", "argument couldn't be parsed into an integer"))
        XCTAssertEqual(try c.call("CONFIG", "SET", "maxclients", "-1"), failed("maxclients", "argument must be between 1 and 4294967295 inclusive"))
        XCTAssertEqual(try c.call("CONFIG", "SET", "hz", "99999999999"), failed("hz", "argument must be between 0 and 2147483647 inclusive"))
        XCTAssertEqual(try c.call("CONFIG", "SET", "proto-max-bulk-len", "1"),
                       failed("proto-max-bulk-len", "argument must be between 1048576 and 9223372036854775807 inclusive"))
        XCTAssertEqual(try c.call("CONFIG", "SET", "proto-max-bulk-len", "abc"), failed("proto-max-bulk-len", "argument must be a memory value"))
        XCTAssertEqual(try c.call("CONFIG", "SET", "maxclients", "100", "maxclients", "200"), failed("maxclients", "duplicate parameter"))
        XCTAssertEqual(try c.call("CONFIG", "SET", "databases", "4"), failed("databases", "can't set immutable config"))
        XCTAssertEqual(try c.call("CONFIG", "SET", "port", "1"), failed("port", "Larder cannot change 'port' while it runs: restart with the new value"))
        XCTAssertEqual(try c.call("CONFIG", "SET", "daemonize", "no"), failed("daemonize", "can't set immutable config"))
        XCTAssertEqual(try c.call("CONFIG", "SET", "dbfilename", "x.rdb"), failed("dbfilename", "can't set protected config"))
        XCTAssertEqual(try c.call("CONFIG", "SET", "hash-max-listpack-entries", "512"),
                       failed("hash-max-listpack-entries", "Larder's packed hashes hold at most 128 entries"))
        XCTAssertEqual(try c.call("CONFIG", "SET", "appendonly", "maybe"), failed("appendonly", "argument must be 'yes' or 'no'"))
        XCTAssertEqual(try c.call("CONFIG", "SET", "nosuch", "1"), .error("ERR Unknown option or number of arguments for CONFIG SET - 'nosuch'"))
        XCTAssertEqual(try c.call("CONFIG", "SET", "maxclients"), .error("ERR wrong number of arguments for 'config|set' command"))
        XCTAssertEqual(try c.call("CONFIG", "SET", "a", "b", "c"), .error("ERR wrong number of arguments for 'config|set' command"))
        XCTAssertEqual(try c.call("CONFIG", "FOO"), .error("ERR unknown subcommand 'FOO'. Try CONFIG HELP."))
    }

    /// Redis' test suite (introspection.tcl, "CONFIG sanity") sets every setting CONFIG GET *
    /// lists to its own value, skipping Redis' immutable and protected ones: Larder accepts
    /// that for the settings Redis can change at run time and Larder cannot (port, bind, dir).
    func testEverySettingCanBeSetToItsOwnValueUnlessRedisRefusesIt() throws {
        let c = try server.client()
        guard case .array(let all) = try c.call("CONFIG", "GET", "*") else { return XCTFail("CONFIG GET *") }
        var names: [String] = []
        for i in stride(from: 0, to: all.count, by: 2) {
            guard case .bulk(let nameBytes) = all[i], case .bulk(let valueBytes) = all[i + 1] else { return XCTFail("\(all[i])") }
            let name = String(decoding: nameBytes, as: UTF8.self), value = String(decoding: valueBytes, as: UTF8.self)
            names.append(name)
            let reply = try c.call("CONFIG", "SET", name, value)
            switch name {
            // Immutable in Redis 7.0 too (its IMMUTABLE_CONFIG flag).
            case "databases", "daemonize", "aclfile", "appenddirname", "appendfilename", "enable-debug-command":
                XCTAssertEqual(reply, failed(name, "can't set immutable config"))
            case "dbfilename": XCTAssertEqual(reply, failed(name, "can't set protected config"))
            default: XCTAssertEqual(reply, .simple("OK"), "\(name) \(value)")
            }
        }
        for name in ["port", "bind", "dir", "hash-max-listpack-entries", "hash-max-ziplist-value", "daemonize"] {
            XCTAssertTrue(names.contains(name), name)
        }
        XCTAssertEqual(try c.call("CONFIG", "GET", "hash-max-ziplist-entries", "hash-max-listpack-value"),
                       .array([.bulk("hash-max-ziplist-entries"), .bulk("128"), .bulk("hash-max-listpack-value"), .bulk("64")]))
    }

    /// Lowering the packed-hash thresholds converts hashes written from then on, as in Redis
    /// (its tests force the table form with them). Process-wide: restored at the end.
    func testPackedHashThresholdsCanBeLowered() throws {
        let c = try server.client()
        defer {
            _ = try? c.call("CONFIG", "SET", "hash-max-listpack-entries", "128", "hash-max-listpack-value", "64")
        }
        XCTAssertEqual(try c.call("HSET", "before", "a", "1", "b", "2", "c", "3"), .integer(3))
        XCTAssertEqual(try c.call("CONFIG", "SET", "hash-max-ziplist-entries", "2"), .simple("OK"))
        XCTAssertEqual(try c.call("CONFIG", "GET", "hash-max-listpack-entries"), .array([.bulk("hash-max-listpack-entries"), .bulk("2")]))
        XCTAssertEqual(try c.call("HSET", "small", "a", "1", "b", "2"), .integer(2))
        XCTAssertEqual(try c.call("OBJECT", "ENCODING", "small"), .bulk("listpack"))
        XCTAssertEqual(try c.call("HSET", "small", "c", "3"), .integer(1))
        XCTAssertEqual(try c.call("OBJECT", "ENCODING", "small"), .bulk("hashtable"))
        XCTAssertEqual(try c.call("HMGET", "small", "a", "b", "c"), .array([.bulk("1"), .bulk("2"), .bulk("3")]))
        XCTAssertEqual(try c.call("CONFIG", "SET", "hash-max-listpack-entries", "128", "hash-max-listpack-value", "4"), .simple("OK"))
        XCTAssertEqual(try c.call("HSET", "values", "f", "12345"), .integer(1))
        XCTAssertEqual(try c.call("OBJECT", "ENCODING", "values"), .bulk("hashtable"), "a value over 4 bytes")
    }

    func testPersistenceProbesSucceed() throws {
        let c = try server.client()
        XCTAssertEqual(try c.call("CONFIG", "SET", "save", ""), .simple("OK"))
        XCTAssertEqual(try c.call("CONFIG", "SET", "appendonly", "no"), .simple("OK"))
    }

    func testMemoryUnitsAndHzClamp() throws {
        let c = try server.client()
        XCTAssertEqual(try c.call("CONFIG", "SET", "proto-max-bulk-len", "2mb"), .simple("OK"))
        XCTAssertEqual(try c.call("CONFIG", "GET", "proto-max-bulk-len"), .array([.bulk("proto-max-bulk-len"), .bulk("2097152")]))
        XCTAssertEqual(try c.call("CONFIG", "SET", "client-query-buffer-limit", "1GB"), .simple("OK"))
        XCTAssertEqual(try c.call("CONFIG", "GET", "client-query-buffer-limit"), .array([.bulk("client-query-buffer-limit"), .bulk("1073741824")]))
        XCTAssertEqual(try c.call("CONFIG", "SET", "hz", "1000"), .simple("OK"))
        XCTAssertEqual(try c.call("CONFIG", "GET", "hz"), .array([.bulk("hz"), .bulk("500")]))
        XCTAssertEqual(try c.call("CONFIG", "SET", "hz", "0"), .simple("OK"))
        XCTAssertEqual(try c.call("CONFIG", "GET", "hz"), .array([.bulk("hz"), .bulk("1")]))
    }

    func testProtoMaxBulkLenAppliesToOpenConnections() throws {
        let raw = try RawConnection(port: server.port)
        raw.command("PING")
        XCTAssertEqual(raw.receive(expecting: "+PONG\r\n"), "+PONG\r\n")
        let c = try server.client()
        XCTAssertEqual(try c.call("CONFIG", "SET", "proto-max-bulk-len", "1mb"), .simple("OK"))
        raw.send("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$2000000\r\n")
        let r = raw.receive(timeout: 1)
        XCTAssertEqual(r.text, "-ERR Protocol error: invalid bulk length\r\n")
        XCTAssertTrue(r.closed)
    }

    func testResetstat() throws {
        let c = try server.client()
        for _ in 0..<5 { _ = try c.call("PING") }
        XCTAssertEqual(try c.call("CONFIG", "RESETSTAT"), .simple("OK"))
        XCTAssertEqual(try c.call("CONFIG", "RESETSTAT", "x"), .error("ERR wrong number of arguments for 'config|resetstat' command"))
        let info = try c.call("INFO", "commandstats").string ?? ""
        XCTAssertFalse(info.contains("cmdstat_ping"), info)
        XCTAssertTrue(info.contains("cmdstat_config:calls=1,"), info)
    }
}
