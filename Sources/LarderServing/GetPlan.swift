#if canImport(Glibc)
import Glibc
#endif
import LarderRESP

/// Everything FEATURES.GET derives from the arguments before its entity values (SERVICE/REFS,
/// IGNORETTL/ENFORCETTL, ENTITIES k and the join-key names): the selection, where the rows
/// start, and the join-key plan (`FeatureFamily.get`'s `neededOf` then `positions`).
/// Made once per distinct request prefix and catalog; immutable.
final class GetPlan {
    /// Held (not only compared) so a reloaded catalog's address cannot be reused under a plan.
    let catalog: ServingCatalog
    let selection: FeatureSelection
    /// IGNORETTL (false) / ENFORCETTL (true), nil for the server's default.
    let enforceTTL: Bool?
    /// Index of the first entity value; `k` values per row.
    let rowsAt: Int
    let k: Int
    /// k entries `neededOf` (given join key -> index in `selection.joinKeys`), then per group
    /// and view join key the given key's position.
    let keyPlan: [Int]
    let identity: Int
    /// The request's bytes from the start of argument 1 to the end of argument rowsAt - 1 (the
    /// RESP framing between them included), and each of those arguments' offset in them and
    /// length: a request matches when both are equal, whatever lies between its arguments.
    let key: [UInt8]
    let spans: [ArgumentSpan]

    /// False when the prefix spans more than `GetPlanCache.maxKeyBytes`: used once, not cached.
    let cacheable: Bool

    init(catalog: ServingCatalog, selection: FeatureSelection, enforceTTL: Bool?, rowsAt: Int, k: Int,
         keyPlan: [Int], identity: Int, args: Arguments) {
        self.catalog = catalog; self.selection = selection; self.enforceTTL = enforceTTL
        self.rowsAt = rowsAt; self.k = k; self.keyPlan = keyPlan; self.identity = identity
        var low = Int.max, high = 0
        for a in 1..<rowsAt {
            let s = args.span(a)
            low = min(low, s.offset); high = max(high, s.offset + s.count)
        }
        cacheable = rowsAt >= 2 && high - low <= GetPlanCache.maxKeyBytes
        if cacheable {
            key = Array(UnsafeRawBufferPointer(start: args.base + low, count: high - low))
            spans = (1..<rowsAt).map { ArgumentSpan(offset: args.span($0).offset - low, count: args.span($0).count) }
        } else {
            key = []; spans = []
        }
    }
}

/// A thread's recent GetPlans (in ReadScratch: no lock, no shared cache line), 16 slots by a
/// hash of arguments 1 to 3, the last plan of a slot wins. A hit compares the argument layout
/// and then the prefix's bytes with one memcmp. Measured reason: resolving the prefix per
/// request (keywords, the selection cache's hash and compare of each ref, its lock, the join
/// keys matched by name, the plan arrays) was ~2,300 of the ~20,300 instructions of a 1 x 10
/// request under callgrind (epoll); a hit is ~400.
struct GetPlanCache {
    static let maxKeyBytes = 64 * 1024
    private var slots = [GetPlan?](repeating: nil, count: 16)

    @inline(__always)
    static func slot(_ args: Arguments) -> Int {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for a in 1..<min(4, args.count) {
            let arg = args[a]
            h = foldShapeHash(h, arg)
        }
        return Int(truncatingIfNeeded: (h ^ (h >> 32)) & 15)
    }

    /// The plan of a request with these arguments and catalog, or nil.
    func lookup(_ args: Arguments, catalog: ServingCatalog) -> GetPlan? {
        guard args.count >= 2, let plan = slots[Self.slot(args)], plan.catalog === catalog, plan.rowsAt < args.count else { return nil }
        let matched = plan.spans.withUnsafeBufferPointer { sp in
            // Where this request's prefix would start: every argument must then sit where the
            // plan's did (so the range is inside this request's buffer) before the bytes compare.
            let low = args.span(1).offset &- sp[0].offset
            for a in 1..<plan.rowsAt {
                let s = args.span(a), t = sp[a - 1]
                if s.offset &- low != t.offset || s.count != t.count { return false }
            }
            return plan.key.withUnsafeBytes { k in
                k.count == 0 || memcmp(k.baseAddress!, args.base + low, k.count) == 0
            }
        }
        return matched ? plan : nil
    }

    mutating func insert(_ plan: GetPlan, _ args: Arguments) {
        if plan.cacheable { slots[Self.slot(args)] = plan }
    }
}
