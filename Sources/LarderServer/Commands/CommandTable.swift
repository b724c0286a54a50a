import LarderRESP

/// The declarative command table: every command's name, arity, flags, key positions, route
/// and handler, gathered from the command families. COMMAND, dispatch and cross-shard routing
/// all read it.
public final class CommandTable: @unchecked Sendable {
    public let specs: [CommandSpec]
    private let byName: [String: Int]

    /// Open-addressing index from the lower-cased name (up to 32 bytes, zero-padded into four
    /// words) to a position in `specs`: one multiply-xor hash and a compare of four words per
    /// probe, instead of building a String and SipHashing it for every command.
    /// Not the store's ProbeControl: this index is built once and never changes (no deletes,
    /// no tombstones, no growth), and its keys are four words compared in registers, not byte
    /// strings compared with memcmp; the dispatch profile is where this lookup had to be cheap.
    private var slots: [(name: NameWords, index: Int32)]
    private let slotMask: Int

    typealias NameWords = (UInt64, UInt64, UInt64, UInt64)

    public init(_ specs: [CommandSpec]) {
        var index: [String: Int] = [:]
        for (i, spec) in specs.enumerated() {
            spec.id = i
            precondition(index[spec.name] == nil, "duplicate command \(spec.name)")
            index[spec.name] = i
        }
        self.specs = specs
        self.byName = index
        var cap = 64
        while cap < specs.count * 4 { cap <<= 1 }
        slotMask = cap - 1
        slots = Array(repeating: ((0, 0, 0, 0), -1), count: cap)
        for (i, spec) in specs.enumerated() {
            let w = Array(spec.name.utf8).withUnsafeBytes { Self.words($0)! }
            var j = Self.slot(w) & slotMask
            while slots[j].index >= 0 { j = (j + 1) & slotMask }
            slots[j] = (w, Int32(i))
        }
    }

    /// The name lower-cased into four zero-padded words; nil when empty or longer than 32 bytes.
    @inline(__always)
    static func words(_ name: UnsafeRawBufferPointer) -> NameWords? {
        guard name.count > 0 && name.count <= 32 else { return nil }
        var w: NameWords = (0, 0, 0, 0)
        withUnsafeMutableBytes(of: &w) { buf in
            for i in 0..<name.count {
                let c = name[i]
                buf[i] = (c >= 65 && c <= 90) ? c + 32 : c
            }
        }
        return w
    }

    @inline(__always)
    static func slot(_ w: NameWords) -> Int {
        var h = (w.0 ^ (w.1 &* 0x9E37_79B9_7F4A_7C15) ^ (w.2 &* 0xC2B2_AE3D_27D4_EB4F) ^ (w.3 &* 0x1656_67B1_9E37_79F9))
        h = (h ^ (h >> 29)) &* 0xBF58_476D_1CE4_E5B9
        return Int(truncatingIfNeeded: h ^ (h >> 32))
    }

    public static let standard = CommandTable(
        ConnectionFamily.commands + ServerFamily.commands + TransactionFamily.commands +
        KeyFamily.commands + KeyFamily.dumpCommands + StringFamily.commands + HashFamily.commands + ListFamily.commands + SetFamily.commands +
        ZSetFamily.commands + SortFamily.commands + PubSubFamily.commands +
        ClusterFamily.commands + [SlowlogFamily.spec, LatencyFamily.spec, FunctionFamily.spec, ACLFamily.spec]
    )

    public var count: Int { specs.count }

    /// Case-insensitive lookup of a command name straight from the request bytes; allocates nothing.
    @inline(__always)
    public func lookup(_ name: UnsafeRawBufferPointer) -> CommandSpec? {
        guard let w = Self.words(name) else { return nil }
        var j = Self.slot(w) & slotMask
        return slots.withUnsafeBufferPointer { t in
            while true {
                let e = t[j]
                if e.index < 0 { return nil }
                if e.name == w { return specs[Int(e.index)] }
                j = (j + 1) & slotMask
            }
        }
    }

    public func lookup(_ name: String) -> CommandSpec? {
        byName[name.lowercased()].map { specs[$0] }
    }
}
