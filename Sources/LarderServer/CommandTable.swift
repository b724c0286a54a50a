import LarderRESP

/// The declarative command table: every command's name, arity, flags, key positions, route
/// and handler, gathered from the command families. COMMAND, dispatch and cross-shard routing
/// all read it.
public final class CommandTable: @unchecked Sendable {
    public let specs: [CommandSpec]
    private let byName: [String: Int]

    public init(_ specs: [CommandSpec]) {
        var numbered = specs
        var index: [String: Int] = [:]
        for i in numbered.indices {
            numbered[i].id = i
            precondition(index[numbered[i].name] == nil, "duplicate command \(numbered[i].name)")
            index[numbered[i].name] = i
        }
        self.specs = numbered
        self.byName = index
    }

    public static let standard = CommandTable(
        ConnectionFamily.commands + ServerFamily.commands + TransactionFamily.commands +
        KeyFamily.commands + StringFamily.commands + HashFamily.commands + ClusterFamily.commands
    )

    public var count: Int { specs.count }

    /// Case-insensitive lookup of a command name straight from the request bytes. Names of up
    /// to 15 bytes become small Strings, which Swift stores inline: no allocation.
    @inline(__always)
    public func lookup(_ name: UnsafeRawBufferPointer) -> CommandSpec? {
        guard name.count > 0 && name.count <= 32 else { return nil }
        var lower = (UInt64(0), UInt64(0), UInt64(0), UInt64(0))
        let key: String = withUnsafeMutableBytes(of: &lower) { buf in
            for i in 0..<name.count {
                let c = name[i]
                buf[i] = (c >= 65 && c <= 90) ? c + 32 : c
            }
            return String(decoding: UnsafeRawBufferPointer(rebasing: buf[0..<name.count]), as: UTF8.self)
        }
        guard let i = byName[key] else { return nil }
        return specs[i]
    }

    public func lookup(_ name: String) -> CommandSpec? {
        byName[name.lowercased()].map { specs[$0] }
    }
}
