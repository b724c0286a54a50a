/// A read-only view of the hash at a slot: either its `HashObject` or, for a *bare* slot (a
/// packed hash whose slot points straight at its buffer, see KeyTable), the buffer itself. Reads
/// through it allocate nothing and never turn a bare slot into an object (which
/// `Keyspace.value(at:)` does, for callers that need a `HashObject`). Valid until the slot
/// changes: a command reads through it and lets it go.
public struct HashView {
    let object: HashObject?
    let bare: UnsafeMutableRawPointer?

    public init(_ object: HashObject) { self.object = object; bare = nil }
    init(bare: UnsafeMutableRawPointer) { object = nil; self.bare = bare }

    public var count: Int { object?.count ?? HashObject.packedCount(bare) }

    /// Calls `body` with a view of `field`'s value (nil when absent), valid inside `body` only.
    @inline(__always)
    public func withValue<R>(_ field: UnsafeRawBufferPointer, _ body: (UnsafeRawBufferPointer?) -> R) -> R {
        if let o = object { return o.withValue(field, body) }
        return HashObject.withPackedValue(HashObject.packedBytes(bare), field, body)
    }

    /// A copy of `field`'s value, if present.
    public func value(_ field: UnsafeRawBufferPointer) -> [UInt8]? { withValue(field) { $0.map { Array($0) } } }

    public func contains(_ field: UnsafeRawBufferPointer) -> Bool { withValue(field) { $0 != nil } }

    /// Every (field, value) pair, in storage order.
    @inline(__always)
    public func forEach(_ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) -> Void) {
        if let o = object { o.forEach(body); return }
        HashObject.forEachPackedEntry(HashObject.packedBytes(bare), body)
    }

    /// `HashObject.lookupMany`: `count` fields in one pass, nil for a missing one.
    @inline(__always)
    public func lookupMany(_ count: Int, field: (Int) -> UnsafeRawBufferPointer,
                           body: (Int, UnsafeRawBufferPointer?) -> Void) {
        if let o = object { o.lookupMany(count, field: field, body: body); return }
        guard count > 0 else { return }
        if count > 64 {
            for i in 0..<count { withValue(field(i)) { body(i, $0) } }
            return
        }
        HashObject.lookupManyPacked(HashObject.packedBytes(bare), count, field: field, body: body)
    }

    /// `HashObject.packedEntries`: the packed entries as stored (a bare hash is always packed),
    /// or nil for a table hash.
    public var packedEntries: UnsafeRawBufferPointer? {
        if let o = object { return o.packedEntries }
        return HashObject.packedBytes(bare)
    }

    /// Field TTLs: a bare hash has none.
    public var hasFieldExpiry: Bool { object?.hasFieldExpiry ?? false }
    public func fieldExpireAt(_ field: UnsafeRawBufferPointer) -> Int64? { object?.fieldExpireAt(field) }
    public var isPacked: Bool { object?.isPacked ?? true }
}
