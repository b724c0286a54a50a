import Atomics
import Foundation
import LarderRESP
import NIOConcurrencyHelpers

/// One ACL LOG entry (Redis' ACLLogEntry).
struct ACLLogEntry {
    enum Reason: String { case command, key, channel, auth }
    enum Context: String { case toplevel, multi }
    var count: Int
    let reason: Reason
    let context: Context
    let object: String
    let username: String
    var createdAt: Int64     // ms since the epoch
    var clientInfo: String
}

/// Failure to load an ACL file: the message Redis gives (file:line: reason).
public struct ACLFileError: Error, CustomStringConvertible {
    public let description: String
}

/// The server's users (Redis' `Users` rax), the ACL log and the ACL file. Changes take the lock
/// and bump `epoch`; each connection compares its snapshot's epoch once per command (one relaxed
/// atomic load) and fetches a new `ACLPermissions` only after a change.
public final class ACLState: @unchecked Sendable {
    let index: ACLCommandIndex
    private let lock = NIOLock()
    private var users: [String: ACLUser]
    private var log: [ACLLogEntry] = []
    /// Bumped by every change of any user. An UnsafeAtomic: dispatch reads it per command.
    let epoch = UnsafeAtomic<Int>.create(0)
    deinit { epoch.destroy() }
    /// Redis' authRequired: the default user has passwords (not nopass) or is off.
    let defaultNeedsAuth = ManagedAtomic<Bool>(false)
    /// Redis' `acllog-max-len` (the setting's atomic: CONFIG SET applies at the next entry).
    let logMaxLength: ManagedAtomic<Int>
    /// Redis' `aclfile` (fixed at start; ACL LOAD / SAVE use it).
    public let aclFile: String?

    init(index: ACLCommandIndex, aclFile: String?, logMaxLength: ManagedAtomic<Int>) {
        self.index = index
        self.logMaxLength = logMaxLength
        self.aclFile = aclFile
        users = ["default": ACLUser.makeDefault(index: index)]
    }

    private func changed() {
        let d = users["default"]!
        defaultNeedsAuth.store(!d.nopass || !d.enabled, ordering: .relaxed)
        epoch.wrappingIncrement(ordering: .releasing)
    }

    // MARK: reading

    /// The default user has nopass off (AUTH <password> alone is then meaningful).
    var defaultNeedsPassword: Bool { lock.withLock { !(users["default"]?.nopass ?? true) } }

    func permissions(for name: String) -> ACLPermissions? {
        lock.withLock { users[name].map(ACLPermissions.init) }
    }

    var defaultPermissions: ACLPermissions { permissions(for: "default")! }

    func user(_ name: String) -> ACLUser? { lock.withLock { users[name] } }

    /// Users in Redis' order (its rax: byte order of the names).
    var sortedUsers: [ACLUser] {
        lock.withLock { users.values.sorted { Array($0.name.utf8).lexicographicallyPrecedes(Array($1.name.utf8)) } }
    }

    /// ACLCheckUserCredentials: the user exists, is on, and has nopass or this password.
    func checkCredentials(user name: String, password: [UInt8]) -> Bool {
        guard let u = user(name), u.enabled else { return false }
        if u.nopass { return true }
        let hashed = Array(SHA256.hex(password).utf8)
        var ok = false
        for p in u.passwords where Self.constantTimeEqual(Array(p.utf8), hashed) { ok = true }
        return ok
    }

    /// Compares without an early exit, so timing does not reveal how much of a guess matched.
    static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        var diff = UInt8(a.count == b.count ? 0 : 1)
        for i in 0..<max(a.count, b.count) {
            diff |= (i < a.count ? a[i] : 0) ^ (i < b.count ? b[i] : 0)
        }
        return diff == 0
    }

    // MARK: changing

    /// ACL SETUSER: every rule is applied to a copy; nothing changes unless all are valid.
    /// Throws the index of the bad rule and why.
    func setUser(_ name: String, rules: [[UInt8]]) throws -> Void {
        try lock.withLock {
            var u = users[name] ?? ACLUser(name: name, index: index)
            for (i, r) in rules.enumerated() {
                do { try u.apply(r, index: index) } catch let e as ACLRuleError { throw SetUserError(rule: i, error: e) }
            }
            users[name] = u
            changed()
        }
    }

    struct SetUserError: Error { let rule: Int; let error: ACLRuleError }

    /// Redis' ACLUpdateDefaultUserPassword (CONFIG SET requirepass, --requirepass).
    func setDefaultPassword(_ password: String?) {
        lock.withLock {
            var d = users["default"]!
            try! d.apply(Array("resetpass".utf8), index: index)
            try! d.apply(password.map { Array((">" + $0).utf8) } ?? Array("nopass".utf8), index: index)
            users["default"] = d
            changed()
        }
    }

    /// ACL DELUSER: the number of users removed. Their clients are closed by the caller.
    func deleteUsers(_ names: [String]) -> Int {
        lock.withLock {
            var n = 0
            for name in names where users.removeValue(forKey: name) != nil { n += 1 }
            if n > 0 { changed() }
            return n
        }
    }

    /// Replaces every user at once (ACL LOAD, start-up). The default user is kept as a user
    /// (created as Redis does when the file does not name it).
    func replaceUsers(_ new: [String: ACLUser]) {
        lock.withLock {
            users = new
            if users["default"] == nil { users["default"] = ACLUser.makeDefault(index: index) }
            changed()
        }
    }

    // MARK: ACL file

    /// Parses an ACL file as Redis' ACLLoadFromFile does (lines split on single spaces, each
    /// `user <name> rules...`), collecting every error as "file:line: reason. ".
    func parseFile(_ path: String) -> Result<[String: ACLUser], ACLFileError> {
        guard let data = FileManager.default.contents(atPath: path) else {
            let reason = String(cString: strerror(errno))
            return .failure(ACLFileError(description: "Error loading ACLs, opening file '\(path)': \(reason)"))
        }
        var errors = ""
        var loaded: [String: ACLUser] = [:]
        let lines = data.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
        for (i, raw) in lines.enumerated() {
            let line = Self.trim(Array(raw), " \t\r\n")
            if line.isEmpty { continue }
            let argv = line.split(separator: UInt8(ascii: " "), omittingEmptySubsequences: false).map(Array.init)
            let lineNumber = i + 1
            if argv.first.map({ String(decoding: $0, as: UTF8.self) }) != "user" || argv.count < 2 {
                errors += "\(path):\(lineNumber) should start with user keyword followed by the username. "
                continue
            }
            let name = String(decoding: argv[1], as: UTF8.self)
            if ACLUser.hasSpaces(argv[1]) {
                errors += "'\(path):\(lineNumber): username '\(name)' contains invalid characters. "
                continue
            }
            if loaded[name] != nil {
                errors += "WARNING: Duplicate user '\(name)' found on line \(lineNumber). "
                continue
            }
            var u = ACLUser(name: name, index: index)
            for rule in argv.dropFirst(2) {
                let op = Self.trim(rule, "\t\r\n")
                do { try u.apply(op, index: index) } catch let e as ACLRuleError {
                    errors += "\(path):\(lineNumber): Error in applying operation '\(String(decoding: op.prefix { $0 != 0 }, as: UTF8.self))': \(e.message). "
                } catch {}
            }
            loaded[name] = u
        }
        if !errors.isEmpty {
            return .failure(ACLFileError(description: errors + "WARNING: ACL errors detected, no change to the previously active ACL rules was performed"))
        }
        return .success(loaded)
    }

    static func trim(_ s: [UInt8], _ set: String) -> [UInt8] {
        let chars = Set(set.utf8)
        var a = 0, b = s.count
        while a < b && chars.contains(s[a]) { a += 1 }
        while b > a && chars.contains(s[b - 1]) { b -= 1 }
        return Array(s[a..<b])
    }

    /// ACL SAVE: one `user` line per user, written to a temporary file then renamed over the
    /// ACL file. Passwords are written as their hashes only.
    func save(to path: String) -> Bool {
        let text = sortedUsers.map { "user \($0.name) \($0.describe(index: index))\n" }.joined()
        let tmp = "\(path).tmp-\(getpid())-\(Int(Date().timeIntervalSince1970 * 1000))"
        guard FileManager.default.createFile(atPath: tmp, contents: Data(text.utf8),
                                             attributes: [.posixPermissions: 0o600]) else { return false }
        if rename(tmp, path) != 0 { unlink(tmp); return false }
        return true
    }

    // MARK: ACL LOG

    /// addACLLogEntry: an entry matching one of the 10 newest (same reason, context, object,
    /// user, within 60 s) is counted there instead; the log keeps `acllog-max-len` entries.
    func addLogEntry(reason: ACLLogEntry.Reason, context: ACLLogEntry.Context, object: String,
                     username: String, clientInfo: String, now: Int64) {
        lock.withLock {
            for i in 0..<min(10, log.count) {
                let e = log[i]
                if e.reason == reason && e.context == context && abs(e.createdAt - now) <= 60_000
                    && e.object == object && e.username == username {
                    var m = log.remove(at: i)
                    m.count += 1; m.createdAt = now; m.clientInfo = clientInfo
                    log.insert(m, at: 0)
                    return
                }
            }
            log.insert(ACLLogEntry(count: 1, reason: reason, context: context, object: object, username: username,
                                   createdAt: now, clientInfo: clientInfo), at: 0)
            let maxLength = max(0, logMaxLength.load(ordering: .relaxed))
            if log.count > maxLength { log.removeLast(log.count - maxLength) }
        }
    }

    var logEntries: [ACLLogEntry] { lock.withLock { log } }
    func resetLog() { lock.withLock { log.removeAll() } }
}
