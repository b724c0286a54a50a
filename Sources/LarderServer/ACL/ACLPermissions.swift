import LarderRESP
import LarderStore

/// What a command was refused for (Redis' ACL_DENIED_*), with the argument at fault.
enum ACLDenial {
    case command
    case key(Int)
    case channel(Int)
}

/// An immutable snapshot of one user's permissions, held by each connection authenticated as
/// that user and replaced when the ACL changes (`ACLState.epoch`). The dispatch path reads it
/// without a lock: `unrestricted` (every command, every key) skips everything else, otherwise
/// one bit test per command and, only for users with key patterns, one glob per key.
final class ACLPermissions {
    let userName: String
    let unrestricted: Bool
    private let allCommands: Bool
    private let commands: [UInt64]
    private let firstArgs: [Int: [String]]
    private let allKeys: Bool
    /// Every key, read and write (Redis' ACLUserCheckCmdWithUnrestrictedKeyAccess): SORT's
    /// BY and GET patterns may name any key, so they need it.
    var hasFullKeyAccess: Bool { allKeys }
    private let keyPatterns: [ACLKeyPattern]
    private let allChannels: Bool
    private let channelPatterns: [[UInt8]]

    init(_ user: ACLUser) {
        userName = user.name
        allCommands = user.allCommands
        commands = user.commands
        firstArgs = user.firstArgs
        allKeys = user.allKeys
        keyPatterns = user.keyPatterns
        allChannels = user.allChannels
        channelPatterns = user.channels.map { Array($0.utf8) }
        unrestricted = user.allCommands && user.allKeys && user.allChannels
    }

    /// Redis' ACLSelectorCheckCmd for a call of ACL id `id` (no-auth commands always pass).
    func check(id: Int, noAuth: Bool, args: Arguments, index: ACLCommandIndex) -> ACLDenial? {
        if !allCommands && !noAuth && commands[id >> 6] & (1 << UInt64(id & 63)) == 0 {
            guard args.count >= 2, let allowed = firstArgs[id] else { return .command }
            let at = index.entries[id].parent >= 0 ? 2 : 1
            guard at < args.count else { return .command }
            let given = args.string(at).lowercased()
            if !allowed.contains(where: { $0.lowercased() == given }) { return .command }
        }
        if !allKeys {
            for ks in index.entries[id].keySpecs {
                var read = ks.read
                if ks.readsOnlyWithGet {
                    read = false
                    for i in 3..<max(3, args.count) where args.equalsKeyword(i, "GET") { read = true }
                }
                let last = ks.lastKey >= 0 ? ks.begin + ks.lastKey : args.count + ks.lastKey
                var i = ks.begin
                while i <= last && i < args.count {
                    if !keyAllowed(args[i], read: read, write: ks.write) { return .key(i) }
                    i += ks.step
                }
            }
        }
        if !allChannels, let denied = channelDenial(index.entries[id].fullName, args) { return denied }
        return nil
    }

    /// Redis 7.0's channel check (ACLCheckAllUserCommandPerm with getChannelsFromCommand):
    /// PUBLISH/SPUBLISH's channel and every (S)SUBSCRIBE channel must match one of the user's
    /// `&` patterns; a PSUBSCRIBE pattern must equal one literally. Unsubscribing is never refused.
    private func channelDenial(_ name: String, _ args: Arguments) -> ACLDenial? {
        let range: Range<Int>
        var literal = false
        switch name {
        case "publish", "spublish": range = 1..<min(2, args.count)
        case "subscribe", "ssubscribe": range = 1..<args.count
        case "psubscribe": range = 1..<args.count; literal = true
        default: return nil
        }
        for i in range {
            let channel = args[i]
            let allowed = channelPatterns.contains { p in
                literal ? p.elementsEqual(channel) : p.withUnsafeBytes { Glob.match($0, channel) }
            }
            if !allowed { return .channel(i) }
        }
        return nil
    }

    /// ACLSelectorCheckKey: a pattern must allow everything the command does with the key.
    func keyAllowed(_ key: UnsafeRawBufferPointer, read: Bool, write: Bool) -> Bool {
        if allKeys { return true }
        for p in keyPatterns {
            if (read && !p.read) || (write && !p.write) { continue }
            if p.pattern.withUnsafeBytes({ Glob.match($0, key) }) { return true }
        }
        return false
    }
}
