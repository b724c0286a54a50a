import XCTest
import LarderRESP
@testable import LarderServer

/// The ACL rule parser (ACLUser.apply), the rule describer, and the permission check, without a
/// server; the end-to-end behaviour is compared with redis-server in
/// Tests/conformance/security/test_acl.py.
final class ACLTests: XCTestCase {
    let index = ACLCommandIndex(CommandTable.standard)

    func user(_ rules: String...) throws -> ACLUser {
        var u = ACLUser(name: "u", index: index)
        for r in rules { try u.apply(Array(r.utf8), index: index) }
        return u
    }

    func ruleError(_ rules: String...) -> ACLRuleError? {
        var u = ACLUser(name: "u", index: index)
        do { for r in rules { try u.apply(Array(r.utf8), index: index) } } catch let e as ACLRuleError { return e } catch {}
        return nil
    }

    func testSHA256MatchesTheStandardVectors() {
        XCTAssertEqual(SHA256.hex([UInt8]()), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        XCTAssertEqual(SHA256.hex(Array("abc".utf8)), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        XCTAssertEqual(SHA256.hex(Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8)),
                       "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        // Two blocks of padding (56..63 bytes) and a long message.
        XCTAssertEqual(SHA256.hex([UInt8](repeating: 0x61, count: 1_000_000)),
                       "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    func testPasswordsAreKeptAsHashesOnly() throws {
        var u = try user(">secret", ">secret", ">other")
        XCTAssertEqual(u.passwords, [SHA256.hex(Array("secret".utf8)), SHA256.hex(Array("other".utf8))])
        XCTAssertFalse(u.describe(index: index).contains("secret"))
        try u.apply(Array("<secret".utf8), index: index)
        XCTAssertEqual(u.passwords, [SHA256.hex(Array("other".utf8))])
        try u.apply(Array("nopass".utf8), index: index)
        XCTAssertTrue(u.nopass); XCTAssertEqual(u.passwords, [])
        try u.apply(Array(("#" + String(repeating: "ab", count: 32)).utf8), index: index)
        XCTAssertFalse(u.nopass)
        XCTAssertEqual(ruleError("#" + String(repeating: "AB", count: 32)), .badHash)
        XCTAssertEqual(ruleError("#abc"), .badHash)
        XCTAssertEqual(ruleError("<never-added"), .noSuchPassword)
        XCTAssertEqual(ruleError("!" + String(repeating: "0", count: 64)), .noSuchPassword)
    }

    func testSyntaxErrorsNameRedisReasons() {
        XCTAssertEqual(ruleError("foo"), .syntax)
        XCTAssertEqual(ruleError("+nosuch"), .unknownName)
        XCTAssertEqual(ruleError("-nosuch"), .unknownName)
        XCTAssertEqual(ruleError("+@nosuch"), .unknownName)
        XCTAssertEqual(ruleError("+client|nosuch"), .unknownName)
        XCTAssertEqual(ruleError("+client|list|x"), .firstArgOfSubcommand)
        XCTAssertEqual(ruleError("+get|"), .syntax)
        XCTAssertEqual(ruleError("~*", "~a"), .keysAfterAll)
        XCTAssertEqual(ruleError("allchannels", "&a"), .channelsAfterAll)
        XCTAssertEqual(ruleError("%X~a"), .syntax)
        XCTAssertEqual(ruleError("%RR~a"), .syntax)
        XCTAssertEqual(ruleError("~a b"), .syntax)
        XCTAssertEqual(ruleError("(~a +get)"), .syntax)  // selectors: not supported
        XCTAssertNil(ruleError("", "ON", "Off", "+GET", "+@READ", "%rw~x", "%W~y", "resetkeys"))
    }

    func testRulesAreDescribedAsRedisDoes() throws {
        func described(_ rules: String...) throws -> String {
            var u = ACLUser(name: "t", index: index)
            for r in ["reset"] + rules { try u.apply(Array(r.utf8), index: index) }
            return u.describe(index: index)
        }
        XCTAssertEqual(try described("+@read", "-@read"), "off sanitize-payload resetchannels -@all")
        XCTAssertEqual(try described("+@read", "-get"), "off sanitize-payload resetchannels -@all +@read -get")
        XCTAssertEqual(try described("+get", "+@read"), "off sanitize-payload resetchannels -@all +@read")
        XCTAssertEqual(try described("+@all", "-get", "+get"), "off sanitize-payload resetchannels +@all")
        XCTAssertEqual(try described("allcommands", "-@dangerous"), "off sanitize-payload resetchannels +@all -@dangerous")
        XCTAssertEqual(try described("on", ">p", "~a:*", "%R~b:*", "%W~c:*", "%W~b:*", "&ch", "+get"),
                       "on sanitize-payload #\(SHA256.hex(Array("p".utf8))) ~a:* ~b:* %W~c:* resetchannels &ch -@all +get")
        XCTAssertEqual(ACLUser.makeDefault(index: index).describe(index: index), "on nopass ~* &* +@all")
        XCTAssertEqual(try described("+select|0"), "off sanitize-payload resetchannels -@all +select|0")
    }

    /// Each category rule sets exactly the commands COMMAND INFO lists in that category.
    func testCategoriesComeFromTheCommandTable() throws {
        let u = try user("+@hash")
        for (id, e) in index.entries.enumerated() {
            XCTAssertEqual(u.allows(id), e.categories & ACLCategory.bit("hash")! != 0, e.fullName)
        }
        let get = CommandDescription(CommandTable.standard.lookup("get")!)
        XCTAssertEqual(get.aclCategories, ["@read", "@string", "@fast"])
        XCTAssertNotNil(index.id(named: "client|list"))
        XCTAssertNotNil(index.id(named: "acl|setuser"))
        XCTAssertTrue(index.names(inCategory: ACLCategory.bit("read")!).contains("hexpiretime"))
    }

    func check(_ u: ACLUser, _ words: String...) -> ACLDenial? {
        let spec = CommandTable.standard.lookup(words[0])!
        return ConnectionHandler.withArguments(words.map { Array($0.utf8) }) { args in
            let sub = spec.subcommands.isEmpty ? -1 : ConnectionHandler.subcommandIndex(spec, args)
            let id = index.id(spec: spec, subcommandIndex: sub)
            return ACLPermissions(u).check(id: id, noAuth: spec.flags.contains(.noAuth), args: args, index: index)
        }
    }

    func describeDenial(_ d: ACLDenial?) -> String {
        switch d {
        case nil: return "ok"
        case .command?: return "command"
        case .key(let i)?: return "key \(i)"
        case .channel(let i)?: return "channel \(i)"
        }
    }

    func testPermissionCheck() throws {
        let ro = try user("on", "~feast:*", "%R~ro:*", "%W~wo:*", "+@read", "+set", "+mset", "+client|list")
        XCTAssertEqual(describeDenial(check(ro, "get", "feast:1")), "ok")
        XCTAssertEqual(describeDenial(check(ro, "get", "zz")), "key 1")
        XCTAssertEqual(describeDenial(check(ro, "hset", "feast:1", "f", "v")), "command")
        XCTAssertEqual(describeDenial(check(ro, "set", "ro:1", "v")), "key 1")
        XCTAssertEqual(describeDenial(check(ro, "set", "wo:1", "v")), "ok")       // OW: write only
        XCTAssertEqual(describeDenial(check(ro, "set", "wo:1", "v", "GET")), "key 1")  // GET reads it too
        XCTAssertEqual(describeDenial(check(ro, "get", "ro:1")), "ok")
        XCTAssertEqual(describeDenial(check(ro, "mset", "feast:1", "a", "ro:1", "b")), "key 3")
        XCTAssertEqual(describeDenial(check(ro, "client", "list")), "ok")
        XCTAssertEqual(describeDenial(check(ro, "client", "kill", "1")), "command")
        XCTAssertEqual(describeDenial(check(ro, "auth", "x", "y")), "ok")  // no_auth commands always pass
        // EXISTS neither reads nor writes the value (no ACCESS/UPDATE flag): any pattern that
        // matches will do, a %W~ one too; a key no pattern matches is still refused.
        XCTAssertEqual(describeDenial(check(ro, "exists", "wo:1")), "ok")
        XCTAssertEqual(describeDenial(check(ro, "exists", "anything")), "key 1")
        XCTAssertFalse(ACLPermissions(ro).unrestricted)
        XCTAssertTrue(ACLPermissions(ACLUser.makeDefault(index: index)).unrestricted)

        let firstArg = try user("+select|0")
        XCTAssertEqual(describeDenial(check(firstArg, "select", "0")), "ok")
        XCTAssertEqual(describeDenial(check(firstArg, "select", "1")), "command")
    }

    func testACLFileParsingReportsEveryBadLine() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("acl-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("users.acl").path
        let state = ACLState(index: index, aclFile: file, logMaxLength: .init(128))
        try "user alice on #\(SHA256.hex(Array("pw".utf8))) ~feast:* +@read\n\nuser default on nopass ~* &* +@all\n"
            .write(toFile: file, atomically: true, encoding: .utf8)
        guard case .success(let users) = state.parseFile(file) else { return XCTFail("valid file refused") }
        XCTAssertEqual(Set(users.keys), ["alice", "default"])
        try "user ok on\nusr typo\nuser bad +nosuch\nuser ok off\n".write(toFile: file, atomically: true, encoding: .utf8)
        guard case .failure(let e) = state.parseFile(file) else { return XCTFail("bad file accepted") }
        XCTAssertEqual(e.description, "\(file):2 should start with user keyword followed by the username. "
                       + "\(file):3: Error in applying operation '+nosuch': Unknown command or category name in ACL. "
                       + "WARNING: Duplicate user 'ok' found on line 4. "
                       + "WARNING: ACL errors detected, no change to the previously active ACL rules was performed")
    }

    func testTheLogGroupsRepeatsAndIsCapped() {
        let state = ACLState(index: index, aclFile: nil, logMaxLength: .init(3))
        // Five users in turn over a log of three: each entry is evicted before it repeats.
        for i in 0..<100 {
            state.addLogEntry(reason: .auth, context: .toplevel, object: "AUTH", username: "u\(i % 5)", clientInfo: "", now: 1000)
        }
        XCTAssertEqual(state.logEntries.map { $0.username }, ["u4", "u3", "u2"])
        XCTAssertEqual(state.logEntries.map { $0.count }, [1, 1, 1])
        state.resetLog()
        // Three users in turn: every repeat is counted in its entry, which moves to the front.
        for i in 0..<100 {
            state.addLogEntry(reason: .auth, context: .toplevel, object: "AUTH", username: "u\(i % 3)", clientInfo: "", now: 1000)
        }
        let log = state.logEntries
        XCTAssertEqual(log.count, 3)
        XCTAssertEqual(log.map { $0.username }, ["u0", "u2", "u1"])
        XCTAssertEqual(log.map { $0.count }, [34, 33, 33])
        // Over 60 s apart: a new entry.
        state.addLogEntry(reason: .auth, context: .toplevel, object: "AUTH", username: "u4", clientInfo: "", now: 70_000)
        XCTAssertEqual(state.logEntries.first?.count, 1)
    }
}
