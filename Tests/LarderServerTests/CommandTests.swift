import XCTest

/// COMMAND, COMMAND COUNT / LIST / INFO / DOCS / GETKEYS: generated from the command table,
/// completed with Redis 7.0's catalog, encoded as Redis encodes them.
final class CommandTests: XCTestCase {
    var server: TestServer!
    override func setUpWithError() throws { server = try TestServer(threads: 2) }
    override func tearDown() { server = nil }

    func testCountMatchesTheFullList() throws {
        let c = try server.client()
        guard case .integer(let n) = try c.call("COMMAND", "COUNT"), case .array(let all) = try c.call("COMMAND") else {
            return XCTFail("COUNT is an integer, COMMAND an array")
        }
        XCTAssertEqual(all.count, n)
        XCTAssertGreaterThan(n, 20)
    }

    func testInfoOfGetIsRedisWordForWord() throws {
        let raw = try RawConnection(port: server.port)
        raw.command("COMMAND", "INFO", "get")
        let expected = "*1\r\n*10\r\n$3\r\nget\r\n:2\r\n*2\r\n+readonly\r\n+fast\r\n:1\r\n:1\r\n:1\r\n*3\r\n+@read\r\n+@string\r\n+@fast\r\n*0\r\n*1\r\n*6\r\n$5\r\nflags\r\n*2\r\n+RO\r\n+access\r\n$12\r\nbegin_search\r\n*4\r\n$4\r\ntype\r\n$5\r\nindex\r\n$4\r\nspec\r\n*2\r\n$5\r\nindex\r\n:1\r\n$9\r\nfind_keys\r\n*4\r\n$4\r\ntype\r\n$5\r\nrange\r\n$4\r\nspec\r\n*6\r\n$7\r\nlastkey\r\n:0\r\n$7\r\nkeystep\r\n:1\r\n$5\r\nlimit\r\n:0\r\n*0\r\n"
        XCTAssertEqual(raw.receive(expecting: expected), expected)
        raw.command("HELLO", "3")
        _ = raw.receive(timeout: 0.3)
        raw.command("COMMAND", "INFO", "ping")
        let resp3 = "*1\r\n*10\r\n$4\r\nping\r\n:-1\r\n~1\r\n+fast\r\n:0\r\n:0\r\n:0\r\n~2\r\n+@fast\r\n+@connection\r\n~2\r\n$25\r\nrequest_policy:all_shards\r\n$29\r\nresponse_policy:all_succeeded\r\n~0\r\n~0\r\n"
        XCTAssertEqual(raw.receive(expecting: resp3), resp3)
    }

    func testInfoOfSubcommandsAndUnknownNames() throws {
        let c = try server.client()
        XCTAssertEqual(try c.call("COMMAND", "INFO", "client|id", "nosuch"), .array([
            .array([.bulk("client|id"), .integer(2), .array([.simple("noscript"), .simple("loading"), .simple("stale")]),
                    .integer(0), .integer(0), .integer(0), .array([.simple("@slow"), .simple("@connection")]),
                    .array([]), .array([]), .array([])]),
            .null,
        ]))
        guard case .array(let client) = try c.call("COMMAND", "INFO", "client"), case .array(let fields) = client[0],
              case .array(let subs) = fields[9] else { return XCTFail("CLIENT has subcommands") }
        XCTAssertTrue(subs.contains { if case .array(let s) = $0 { return s[0] == .bulk("client|kill") }; return false })
    }

    func testDocsOfSetHasRedisArguments() throws {
        let raw = try RawConnection(port: server.port)
        raw.command("COMMAND", "DOCS", "get")
        let expected = "*2\r\n$3\r\nget\r\n*10\r\n$7\r\nsummary\r\n$22\r\nGet the value of a key\r\n$5\r\nsince\r\n$5\r\n1.0.0\r\n$5\r\ngroup\r\n$6\r\nstring\r\n$10\r\ncomplexity\r\n$4\r\nO(1)\r\n$9\r\narguments\r\n*1\r\n*6\r\n$4\r\nname\r\n$3\r\nkey\r\n$4\r\ntype\r\n$3\r\nkey\r\n$14\r\nkey_spec_index\r\n:0\r\n"
        XCTAssertEqual(raw.receive(expecting: expected), expected)

        let c = try server.client()
        _ = try c.call("HELLO", "3")
        guard case .map(let docs) = try c.call("COMMAND", "DOCS", "set", "nosuch"), docs.count == 1,
              case .map(let set) = docs[0].1 else { return XCTFail("DOCS is a map of maps") }
        guard let args = set.first(where: { $0.0 == .bulk("arguments") })?.1, case .array(let list) = args else {
            return XCTFail("SET has arguments")
        }
        XCTAssertEqual(list.count, 5)  // key value condition get expiration
        XCTAssertEqual(list[2], .map([(.bulk("name"), .bulk("condition")), (.bulk("type"), .bulk("oneof")),
                                      (.bulk("since"), .bulk("2.6.12")), (.bulk("flags"), .array([.simple("optional")])),
                                      (.bulk("arguments"), .array([
                                        .map([(.bulk("name"), .bulk("nx")), (.bulk("type"), .bulk("pure-token")), (.bulk("token"), .bulk("NX"))]),
                                        .map([(.bulk("name"), .bulk("xx")), (.bulk("type"), .bulk("pure-token")), (.bulk("token"), .bulk("XX"))]),
                                      ]))]))
    }

    func testListWithFilters() throws {
        let c = try server.client()
        guard case .array(let all) = try c.call("COMMAND", "LIST") else { return XCTFail() }
        XCTAssertTrue(all.contains(.bulk("hmget")) && all.contains(.bulk("client|list")))
        guard case .array(let cl) = try c.call("COMMAND", "LIST", "FILTERBY", "PATTERN", "client|*") else { return XCTFail() }
        XCTAssertTrue(cl.allSatisfy { ($0.string ?? "").hasPrefix("client|") } && cl.count >= 8)
        guard case .array(let hash) = try c.call("COMMAND", "LIST", "FILTERBY", "ACLCAT", "hash") else { return XCTFail() }
        XCTAssertTrue(hash.contains(.bulk("hset")) && !hash.contains(.bulk("get")))
        XCTAssertEqual(try c.call("COMMAND", "LIST", "FILTERBY", "MODULE", "x"), .array([]))
        XCTAssertEqual(try c.call("COMMAND", "LIST", "x"), .error("ERR syntax error"))
    }

    func testGetkeys() throws {
        let c = try server.client()
        XCTAssertEqual(try c.call("COMMAND", "GETKEYS", "HMGET", "h", "f1", "f2"), .array([.bulk("h")]))
        XCTAssertEqual(try c.call("COMMAND", "GETKEYS", "DEL", "a", "b"), .array([.bulk("a"), .bulk("b")]))
        XCTAssertEqual(try c.call("COMMAND", "GETKEYS", "nosuch", "a"), .error("ERR Invalid command specified"))
        XCTAssertEqual(try c.call("COMMAND", "GETKEYS", "ping", "a"), .error("ERR The command has no key arguments"))
        XCTAssertEqual(try c.call("COMMAND", "GETKEYS", "get", "a", "b"), .error("ERR Invalid number of arguments specified for command"))
        XCTAssertEqual(try c.call("COMMAND", "GETKEYS", "get"), .error("ERR wrong number of arguments for 'command|getkeys' command"))
        XCTAssertEqual(try c.call("COMMAND", "FOO"), .error("ERR unknown subcommand 'FOO'. Try COMMAND HELP."))
    }
}
