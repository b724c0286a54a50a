/// Open-addressing hash table from byte-string keys to values, probed linearly. Lookups take
/// the raw key bytes and their precomputed hash, so a command never allocates to look a key up.
///
/// Memory: a slot is one control byte plus one pointer (9 bytes). Each key lives in a single
/// malloc'd *entry* that holds, in order:
///
///     [8-byte value word][varint (keyLength << 2 | inline << 1 | hasExpiry)]
///     [UInt32 access word, if not inline][Int64 expiry, if any][key bytes][string bytes, if inline]
///
/// The value word is a `StoredValue` (a retained reference), or, for an *inline* string of at
/// most `inlineStringLimit` bytes, its length (low 32 bits) and the key's access word (high
/// 32 bits), the bytes following the key (as Redis' embstr puts a short string in its object).
/// The access word is Redis' 24-bit `lru` field (LRU clock or LFU time + counter, KeyAccess):
/// an inline string keeps it in the value word's unused half (no byte more); a packed hash
/// stored without an entry keeps its 24 bits in its buffer's header, next to its key; other entries
/// (long strings, lists, sets, hashes with a TTL) carry 4 bytes more. So a short key with a
/// 16-byte string is one 48-byte malloc chunk, and a key without a TTL pays nothing for
/// expiry. A packed hash without a TTL needs no entry at all: it keeps its key in its own
/// buffer and the slot points straight at that buffer (a *bare* slot, `isBare`: the hash and
/// its key are one allocation), or at the `HashObject` owning it (`isObject`) once a command
/// needed the object (see `value(at:)`). The control byte is
/// `0x80 | hasExpiry << 6 | 6 hash bits` for a live slot, so the active sweep finds keys with
/// a TTL by reading control bytes only. Changing a TTL or an inline string's length
/// reallocates the entry (the slot keeps its position).
///
/// A class, not a struct: as a struct stored in `Keyspace`, every call copied it and retained
/// its arrays (a quarter of SET's CPU in `perf`).
final class KeyTable {
    /// Strings up to this length are stored inside the entry.
    static let inlineStringLimit = 64
    /// High bits of an inline string's 32-bit length: how Redis would have encoded it when
    /// that depends on the command that made it rather than on the bytes (OBJECT ENCODING).
    /// Any new value clears them (makeEntry and setString store a plain length).
    static let rawEncodingBit: UInt32 = 1 << 31, noIntEncodingBit: UInt32 = 1 << 30
    static let inlineLengthMask: UInt32 = (1 << 30) - 1

    /// Control bytes; the owner bit is "has a TTL".
    private var probe: ProbeControl
    private var entries: UnsafeMutablePointer<UnsafeMutableRawPointer?>

    init(capacity: Int = 16) {
        probe = ProbeControl(capacity: capacity)
        entries = .allocate(capacity: probe.capacity)
        entries.initialize(repeating: nil, count: probe.capacity)
    }

    var count: Int { probe.count }

    deinit {
        endSnapshot()
        freeAllEntries()
        entries.deallocate()
    }

    var capacity: Int { probe.capacity }

    // MARK: entries

    struct Header {
        let keyStart: Int, keyCount: Int, hasExpiry: Bool, isInline: Bool
        /// Where the UInt32 access word is (unaligned).
        let accessOffset: Int
        var inlineStart: Int { keyStart + keyCount }
    }

    @inline(__always) static func header(_ e: UnsafeMutableRawPointer) -> Header {
        var i = 8
        let v = Varint.read(e, &i)
        let hasExpiry = v & 1 == 1, isInline = v & 2 == 2
        let accessOffset = isInline ? 4 : i
        if !isInline { i += 4 }
        return Header(keyStart: hasExpiry ? i + 8 : i, keyCount: v >> 2, hasExpiry: hasExpiry, isInline: isInline,
                      accessOffset: accessOffset)
    }

    /// The access word of an entry, object or bare slot pointer.
    @inline(__always) private static func accessWord(_ e: UnsafeMutableRawPointer) -> UInt32 {
        if isBare(e) { return HashObject.accessWord(bare(e)) }
        if isObject(e) { return object(e).accessWord }
        return e.loadUnaligned(fromByteOffset: header(e).accessOffset, as: UInt32.self)
    }

    @inline(__always) private static func setAccessWord(_ e: UnsafeMutableRawPointer, _ w: UInt32) {
        if isBare(e) { HashObject.setAccessWord(bare(e), w); return }
        if isObject(e) { object(e).accessWord = w; return }
        e.storeBytes(of: w, toByteOffset: header(e).accessOffset, as: UInt32.self)
    }

    /// A new entry for `key`; with `inline` the value word holds its length and the bytes
    /// follow the key, otherwise the value word is left for the caller to initialize.
    static func makeEntry(_ key: UnsafeRawBufferPointer, expireAt: Int64, inline: UnsafeRawBufferPointer?) -> UnsafeMutableRawPointer {
        let hv = key.count << 2 | (inline != nil ? 2 : 0) | (expireAt != 0 ? 1 : 0)
        let size = 8 + Varint.size(hv) + (inline == nil ? 4 : 0) + (expireAt != 0 ? 8 : 0) + key.count + (inline?.count ?? 0)
        let e = malloc(size)!
        var i = 8
        Varint.write(e, &i, hv)
        if inline == nil { e.storeBytes(of: UInt32(0), toByteOffset: i, as: UInt32.self); i += 4 }
        if expireAt != 0 { e.storeBytes(of: expireAt, toByteOffset: i, as: Int64.self); i += 8 }
        if key.count > 0 { (e + i).copyMemory(from: key.baseAddress!, byteCount: key.count) }
        i += key.count
        if let inline {
            e.storeBytes(of: UInt64(inline.count), as: UInt64.self)
            if inline.count > 0 { (e + i).copyMemory(from: inline.baseAddress!, byteCount: inline.count) }
        }
        return e
    }

    /// A new entry holding `value` (inline when it is a short string).
    static func makeEntry(_ key: UnsafeRawBufferPointer, value: StoredValue, expireAt: Int64) -> UnsafeMutableRawPointer {
        if case .string(let s) = value, s.count <= inlineStringLimit {
            return s.withUnsafeBytes { makeEntry(key, expireAt: expireAt, inline: $0) }
        }
        let e = makeEntry(key, expireAt: expireAt, inline: nil)
        e.bindMemory(to: StoredValue.self, capacity: 1).initialize(to: value)
        return e
    }

    /// A slot pointer with the low bit set is a retained `HashObject` standing in for the
    /// entry: a packed hash stored without a TTL carries its own key (`embedKey`), which saves
    /// the entry's allocation. Any change other than to the hash's fields turns it back into a
    /// regular entry (`materialize`).
    @inline(__always) static func isObject(_ e: UnsafeMutableRawPointer) -> Bool { UInt(bitPattern: e) & 1 == 1 }

    @inline(__always) static func object(_ e: UnsafeMutableRawPointer) -> HashObject {
        Unmanaged<HashObject>.fromOpaque(UnsafeRawPointer(bitPattern: UInt(bitPattern: e) & ~1)!).takeUnretainedValue()
    }

    /// A slot pointer with bit 1 set is a *bare* packed hash: the keyed packed buffer itself
    /// (`HashObject.detachKeyedBuffer`), with no `HashObject` at all: a 10-field hash is one
    /// malloc chunk plus its slot. Reads go through `HashView`; HSET changes it in place
    /// (`updateHash`); anything else that needs the object gets one (`promote`).
    @inline(__always) static func isBare(_ e: UnsafeMutableRawPointer) -> Bool { UInt(bitPattern: e) & 2 == 2 }

    @inline(__always) static func bare(_ e: UnsafeMutableRawPointer) -> UnsafeMutableRawPointer {
        UnsafeMutableRawPointer(bitPattern: UInt(bitPattern: e) & ~2)!
    }

    /// No entry header: the slot holds a hash (object or bare) that carries its own key.
    @inline(__always) static func isHashSlot(_ e: UnsafeMutableRawPointer) -> Bool { UInt(bitPattern: e) & 3 != 0 }

    @inline(__always) private static func bareSlot(_ p: UnsafeMutableRawPointer) -> UnsafeMutableRawPointer {
        UnsafeMutableRawPointer(bitPattern: UInt(bitPattern: p) | 2)!
    }

    @inline(__always) private static func objectSlot(_ h: HashObject) -> UnsafeMutableRawPointer {
        UnsafeMutableRawPointer(bitPattern: UInt(bitPattern: Unmanaged.passRetained(h).toOpaque()) | 1)!
    }

    /// Gives a bare slot a `HashObject` owning its buffer (a 32-byte chunk from now on), for
    /// the callers that need the object itself; nothing else changes.
    private func promote(_ i: Int) {
        let e = entries[i]!
        guard Self.isBare(e) else { return }
        entries[i] = Self.objectSlot(HashObject(adopting: Self.bare(e)))
    }

    @inline(__always) private static func keyBytes(_ e: UnsafeMutableRawPointer) -> UnsafeRawBufferPointer {
        if isBare(e) { return HashObject.embeddedKey(bare(e)) }
        if isObject(e) { return object(e).embeddedKey }
        let h = header(e)
        return UnsafeRawBufferPointer(start: e + h.keyStart, count: h.keyCount)
    }

    private static func freeEntry(_ e: UnsafeMutableRawPointer) {
        if isBare(e) { free(bare(e)); return }
        if isObject(e) { Unmanaged.passUnretained(object(e)).release(); return }
        if !header(e).isInline { e.assumingMemoryBound(to: StoredValue.self).deinitialize(count: 1) }
        free(e)
    }

    /// Turns a hash-as-entry slot into a regular entry (before its value or TTL changes).
    private func materialize(_ i: Int) {
        promote(i)
        let e = entries[i]!
        guard Self.isObject(e) else { return }
        let h = Self.object(e)
        entries[i] = Self.makeEntry(h.embeddedKey, value: .hash(h), expireAt: 0)
        Self.setAccessWord(entries[i]!, h.accessWord)
        Unmanaged.passUnretained(h).release()   // the new entry's value holds it now
    }

    private func freeAllEntries() {
        for i in 0..<capacity where probe.isOccupied(i) {
            Self.freeEntry(entries[i]!)
            entries[i] = nil
        }
    }

    // MARK: slot accessors

    /// The key of a live slot, valid until the slot changes.
    @inline(__always) func keyBytes(at i: Int) -> UnsafeRawBufferPointer { Self.keyBytes(entries[i]!) }

    /// A copy of the key of a live slot.
    func key(at i: Int) -> [UInt8] { Array(keyBytes(at: i)) }

    @inline(__always) func isInlineString(at i: Int) -> Bool {
        let e = entries[i]!
        return !Self.isHashSlot(e) && Self.header(e).isInline
    }

    /// The bytes of an inline string, valid until the slot changes.
    @inline(__always) private func inlineBytes(_ e: UnsafeMutableRawPointer, _ h: Header) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: e + h.inlineStart, count: Int(e.load(as: UInt32.self) & Self.inlineLengthMask))
    }

    /// The encoding bits of an inline string (0 for any other value): rawEncodingBit, noIntEncodingBit.
    func stringEncodingBits(at i: Int) -> UInt32 {
        let e = entries[i]!
        guard !Self.isHashSlot(e), Self.header(e).isInline else { return 0 }
        return e.load(as: UInt32.self) & ~Self.inlineLengthMask
    }

    /// Sets encoding bits on an inline string, after the change that made it (a longer string
    /// needs none: Redis encodes anything over 44 bytes "raw" whatever made it).
    func addStringEncodingBits(at i: Int, _ bits: UInt32) {
        let e = entries[i]!
        guard !Self.isHashSlot(e), Self.header(e).isInline else { return }
        e.storeBytes(of: e.load(as: UInt32.self) | bits, as: UInt32.self)
    }

    /// The value of a live slot (an inline string is copied out). A bare hash gets its
    /// `HashObject` here (`promote`): readers that can do without one use `hashView(at:)`.
    func value(at i: Int) -> StoredValue {
        promote(i)
        let e = entries[i]!
        if Self.isObject(e) { return .hash(Self.object(e)) }
        let h = Self.header(e)
        if h.isInline { return .string(Array(inlineBytes(e, h))) }
        return e.assumingMemoryBound(to: StoredValue.self).pointee
    }

    /// Calls `body` with the bytes of the string at a live slot, without a copy; nil (and no
    /// call) when the value is not a string.
    @inline(__always)
    func withString<R>(at i: Int, _ body: (UnsafeRawBufferPointer) -> R) -> R? {
        let e = entries[i]!
        if Self.isHashSlot(e) { return nil }
        let h = Self.header(e)
        if h.isInline { return body(inlineBytes(e, h)) }
        guard case .string(let s) = e.assumingMemoryBound(to: StoredValue.self).pointee else { return nil }
        return s.withUnsafeBytes(body)
    }

    /// The `HashObject` at a live slot, nil when the value is not a hash or is a bare hash
    /// (which has no field TTLs, the callers' concern). No copy, no allocation.
    @inline(__always) func hashObject(at i: Int) -> HashObject? {
        let e = entries[i]!
        if Self.isBare(e) { return nil }
        if Self.isObject(e) { return Self.object(e) }
        if Self.header(e).isInline { return nil }
        if case .hash(let h) = e.assumingMemoryBound(to: StoredValue.self).pointee { return h }
        return nil
    }

    /// A read view of the hash at a live slot, nil when the value is not a hash. Leaves a bare
    /// slot bare (no allocation).
    @inline(__always) func hashView(at i: Int) -> HashView? {
        let e = entries[i]!
        if Self.isBare(e) { return HashView(bare: Self.bare(e)) }
        return hashObject(at: i).map { HashView($0) }
    }

    /// Runs `body` on the hash at a live slot (nil when it is not a hash), for a change to its
    /// fields. A bare slot lends its buffer to a short-lived `HashObject` and gets the buffer
    /// back afterwards if it is still only a keyed packed buffer (it may have moved or grown);
    /// otherwise (table form, field TTLs) the slot keeps the object. The caller calls
    /// `willChange` first, as for any change.
    func updateHash<R>(at i: Int, _ body: (HashObject?) -> R) -> R {
        let e = entries[i]!
        guard Self.isBare(e) else { return body(hashObject(at: i)) }
        let h = HashObject(adopting: Self.bare(e))
        let r = body(h)
        if let p = h.detachKeyedBuffer() { entries[i] = Self.bareSlot(p) } else { entries[i] = Self.objectSlot(h) }
        return r
    }

    /// Heap bytes of a bare hash's buffer (MEMORY USAGE), nil for any other slot.
    func bareHashBytes(at i: Int) -> Int? {
        let e = entries[i]!
        return Self.isBare(e) ? mallocSize(Self.bare(e)) : nil
    }

    @inline(__always) func isString(at i: Int) -> Bool {
        let e = entries[i]!
        if Self.isHashSlot(e) { return false }
        if Self.header(e).isInline { return true }
        if case .string = e.assumingMemoryBound(to: StoredValue.self).pointee { return true }
        return false
    }

    func typeName(at i: Int) -> StaticString {
        if Self.isHashSlot(entries[i]!) { return "hash" }
        return isString(at: i) ? "string" : value(at: i).typeName
    }

    /// Replaces the value of a live slot (keeping key and expiry).
    func setValue(at i: Int, _ value: StoredValue) {
        willChange(i)
        materialize(i)
        let e = entries[i]!
        let h = Self.header(e)
        if case .string(let s) = value, s.count <= Self.inlineStringLimit {
            s.withUnsafeBytes { setString(at: i, $0) }
            return
        }
        if h.isInline {
            let n = Self.makeEntry(UnsafeRawBufferPointer(start: e + h.keyStart, count: h.keyCount), value: value,
                                   expireAt: h.hasExpiry ? e.loadUnaligned(fromByteOffset: h.keyStart - 8, as: Int64.self) : 0)
            Self.setAccessWord(n, Self.accessWord(e))
            free(e)
            entries[i] = n
        } else {
            e.assumingMemoryBound(to: StoredValue.self).pointee = value
        }
    }

    /// Replaces the value of a live slot with a string (inline when short enough).
    func setString(at i: Int, _ bytes: UnsafeRawBufferPointer) {
        willChange(i)
        materialize(i)
        let e = entries[i]!
        let h = Self.header(e)
        if bytes.count > Self.inlineStringLimit { setValue(at: i, .string(Array(bytes))); return }
        if h.isInline && Int(e.load(as: UInt32.self) & Self.inlineLengthMask) == bytes.count {
            if bytes.count > 0 { (e + h.inlineStart).copyMemory(from: bytes.baseAddress!, byteCount: bytes.count) }
            e.storeBytes(of: UInt32(bytes.count), as: UInt32.self)  // a new value: no encoding bits
            return
        }
        let n = Self.makeEntry(UnsafeRawBufferPointer(start: e + h.keyStart, count: h.keyCount),
                               expireAt: h.hasExpiry ? e.loadUnaligned(fromByteOffset: h.keyStart - 8, as: Int64.self) : 0,
                               inline: bytes)
        Self.setAccessWord(n, Self.accessWord(e))
        if !h.isInline { e.assumingMemoryBound(to: StoredValue.self).deinitialize(count: 1) }
        free(e)
        entries[i] = n
    }

    /// Changes the value of a live slot in place. A referenced value is handed over directly
    /// (so a uniquely referenced string can grow without a copy); an inline string is copied
    /// out and stored back.
    func updateValue<R>(at i: Int, _ body: (inout StoredValue) -> R) -> R {
        willChange(i)
        materialize(i)
        let e = entries[i]!
        if !Self.header(e).isInline { return body(&e.assumingMemoryBound(to: StoredValue.self).pointee) }
        var v = value(at: i)
        let r = body(&v)
        setValue(at: i, v)
        return r
    }

    @inline(__always) func hasExpiry(_ i: Int) -> Bool { probe.ownerBit(i) }

    /// The key's access word (LRU clock or LFU data, see KeyAccess). Not part of the value: a
    /// change to it is not a change a snapshot must see first.
    @inline(__always) func accessWord(at i: Int) -> UInt32 { Self.accessWord(entries[i]!) }
    @inline(__always) func setAccessWord(at i: Int, _ w: UInt32) { Self.setAccessWord(entries[i]!, w) }

    /// The absolute expiry of a live slot (unix ms), 0 when it has none.
    @inline(__always) func expireAt(_ i: Int) -> Int64 {
        guard hasExpiry(i) else { return 0 }
        return entries[i]!.loadUnaligned(fromByteOffset: Self.header(entries[i]!).keyStart - 8, as: Int64.self)
    }

    /// Sets or clears (0) the expiry of a live slot.
    func setExpire(_ i: Int, _ expireAt: Int64) {
        if expireAt == 0 && !hasExpiry(i) { return }
        willChange(i)
        materialize(i)
        let e = entries[i]!
        let h = Self.header(e)
        if h.hasExpiry && expireAt != 0 {
            e.storeBytes(of: expireAt, toByteOffset: h.keyStart - 8, as: Int64.self)
            return
        }
        if !h.hasExpiry && expireAt == 0 { return }
        let n = Self.makeEntry(UnsafeRawBufferPointer(start: e + h.keyStart, count: h.keyCount), expireAt: expireAt,
                               inline: h.isInline ? inlineBytes(e, h) : nil)
        if !h.isInline { n.copyMemory(from: e, byteCount: 8) }   // moves the value (bitwise-takable)
        else { n.storeBytes(of: e.load(as: UInt32.self), as: UInt32.self) }  // length with its encoding bits
        Self.setAccessWord(n, Self.accessWord(e))
        free(e)
        entries[i] = n
        probe.setOwnerBit(i, expireAt != 0)
    }

    // MARK: operations

    func find(_ key: UnsafeRawBufferPointer, hash: UInt64) -> Int? {
        probe.find(hash: hash) { i in
            let k = Self.keyBytes(entries[i]!)
            return k.count == key.count && (k.count == 0 || memcmp(k.baseAddress!, key.baseAddress!, k.count) == 0)
        }
    }

    /// Inserts a key known to be absent; returns its slot.
    /// `adoptingHash`: the caller hands a hash value over for good (it keeps no reference it
    /// will use), so a keyed packed one can be stored bare, its buffer taken out of the object.
    func insert(_ key: UnsafeRawBufferPointer, hash: UInt64, value: StoredValue, expireAt: Int64,
                adoptingHash: Bool = false) -> Int {
        if expireAt == 0, case .hash(let h) = value, h.embedKey(key) {
            if adoptingHash, let p = h.detachKeyedBuffer() { return insert(entry: Self.bareSlot(p), hash: hash, hasExpiry: false) }
            return insert(entry: Self.objectSlot(h), hash: hash, hasExpiry: false)
        }
        return insert(entry: Self.makeEntry(key, value: value, expireAt: expireAt), hash: hash, hasExpiry: expireAt != 0)
    }

    /// Inserts a key known to be absent with a string value; returns its slot.
    func insertString(_ key: UnsafeRawBufferPointer, hash: UInt64, bytes: UnsafeRawBufferPointer, expireAt: Int64) -> Int {
        if bytes.count > Self.inlineStringLimit { return insert(key, hash: hash, value: .string(Array(bytes)), expireAt: expireAt) }
        return insert(entry: Self.makeEntry(key, expireAt: expireAt, inline: bytes), hash: hash, hasExpiry: expireAt != 0)
    }

    func insert(_ key: [UInt8], hash: UInt64, value: StoredValue, expireAt: Int64) -> Int {
        key.withUnsafeBytes { insert($0, hash: hash, value: value, expireAt: expireAt) }
    }

    /// Grows the table once so that `count` keys fit without a resize.
    func reserve(_ count: Int) {
        var c = capacity
        while (count + 1) * 4 > c * 3 { c *= 2 }
        if c > capacity { resize(c) }
    }

    private func insert(entry: UnsafeMutableRawPointer, hash: UInt64, hasExpiry: Bool) -> Int {
        if probe.isFull { resize(probe.grownCapacity) }
        let i = probe.claim(hash: hash, ownerBit: hasExpiry)
        entries[i] = entry
        if i >= snapshotCursor { markHandled(i) }   // born after the snapshot began: not in it
        return i
    }

    func remove(at i: Int) {
        willChange(i)
        Self.freeEntry(entries[i]!)
        entries[i] = nil
        probe.release(i)
    }

    func removeAll() {
        // A running snapshot writes what it still owes from this table first (a pause as long
        // as encoding the rest of this database; FLUSHDB/FLUSHALL only).
        if snapshotHandled != nil { while !snapshotStep(maxKeys: .max) {} }
        freeAllEntries()
        entries.deallocate()
        probe = ProbeControl(capacity: 16)
        entries = .allocate(capacity: 16)
        entries.initialize(repeating: nil, count: 16)
    }

    /// Rehashes into `newCapacity` slots; the entries themselves are not copied.
    private func resize(_ newCapacity: Int) {
        let old = probe, oldEntries = entries
        probe = ProbeControl(capacity: newCapacity)
        entries = .allocate(capacity: newCapacity)
        entries.initialize(repeating: nil, count: newCapacity)
        // During a snapshot the keys it still owes move with their entries: the new table
        // starts with every slot handled except theirs, and the walk starts over at slot 0.
        let oldCursor = snapshotCursor, oldHandled = snapshotHandled
        let newHandled = oldHandled.map { _ in Self.allocateBits(newCapacity, set: true) }
        for i in 0..<old.capacity where old.isOccupied(i) {
            let e = oldEntries[i]!
            let j = probe.claim(hash: ByteHash.hash(Self.keyBytes(e)), ownerBit: old.ownerBit(i))
            entries[j] = e
            if let oldHandled, let newHandled, i >= oldCursor && !Self.bit(oldHandled, i) {
                newHandled[j >> 6] &= ~(1 << UInt64(j & 63))
            }
        }
        oldEntries.deallocate()
        if let oldHandled {
            oldHandled.deallocate()
            snapshotHandled = newHandled
            snapshotCursor = 0
        }
    }

    // MARK: point-in-time snapshot

    // A snapshot writes every key as it was when the snapshot began, while the table keeps
    // changing: a walk visits the slots in order from `snapshotCursor`, and any change to a
    // key the walk has not reached yet writes that key first (`willChange`). A key is owed
    // when its slot is at or after the cursor and not marked in `snapshotHandled` (a bit per
    // slot: written before a change, or filled after the snapshot began). Deleting a key never
    // moves another (linear probing with tombstones), an insert lands in a free slot and is
    // marked, and a resize carries the owed marks to the new slots (`resize`). Memory: one bit
    // per slot, 256 KiB for a 2M-slot table, whatever the write load.

    /// The first slot a running snapshot may still owe; Int.max while none runs, so a change
    /// pays one compare of its slot against it.
    private(set) var snapshotCursor = Int.max
    private var snapshotHandled: UnsafeMutablePointer<UInt64>? = nil
    /// Writes the key at a live slot into the snapshot (must not change the table).
    private var snapshotWrite: ((Int) -> Void)? = nil

    var isSnapshotting: Bool { snapshotHandled != nil }

    private static func allocateBits(_ slots: Int, set: Bool) -> UnsafeMutablePointer<UInt64> {
        let words = (slots + 63) / 64
        let p = UnsafeMutablePointer<UInt64>.allocate(capacity: words)
        p.initialize(repeating: set ? ~0 : 0, count: words)
        return p
    }

    @inline(__always) private static func bit(_ bits: UnsafeMutablePointer<UInt64>, _ i: Int) -> Bool {
        bits[i >> 6] & (1 << UInt64(i & 63)) != 0
    }

    @inline(__always) private func markHandled(_ i: Int) {
        snapshotHandled?[i >> 6] |= 1 << UInt64(i & 63)
    }

    /// Called before any change to the key at slot `i` (value, TTL, hash fields, removal).
    @inline(__always) func willChange(_ i: Int) {
        if i >= snapshotCursor { writeBeforeChange(i) }
    }

    @inline(never) private func writeBeforeChange(_ i: Int) {
        guard let bits = snapshotHandled, !Self.bit(bits, i) else { return }
        markHandled(i)
        if probe.isOccupied(i) { snapshotWrite!(i) }
    }

    /// Starts a snapshot of the table as it is now; `write` gets each key's slot once, before
    /// the key changes or when the walk reaches it.
    func beginSnapshot(_ write: @escaping (Int) -> Void) {
        endSnapshot()
        snapshotHandled = Self.allocateBits(capacity, set: false)
        snapshotWrite = write
        snapshotCursor = 0
    }

    /// Walks on from the cursor, writing at most `maxKeys` owed keys (and scanning at most
    /// 64 slots per key allowed). True when the whole table is written (the snapshot is over).
    func snapshotStep(maxKeys: Int) -> Bool {
        guard let bits = snapshotHandled else { return true }
        let cap = capacity
        let slotBudget = maxKeys > cap ? cap : maxKeys * 64
        var i = snapshotCursor, written = 0, scanned = 0
        while i < cap && written < maxKeys && scanned < slotBudget {
            if probe.isOccupied(i) && !Self.bit(bits, i) { snapshotWrite!(i); written += 1 }
            i += 1
            scanned += 1
        }
        snapshotCursor = i
        if i >= cap { endSnapshot(); return true }
        return false
    }

    /// Stops a snapshot (finished or abandoned).
    func endSnapshot() {
        snapshotHandled?.deallocate()
        snapshotHandled = nil
        snapshotWrite = nil
        snapshotCursor = .max
    }

    /// Occupied slot at or after `from`, if any.
    func nextOccupied(from: Int) -> Int? {
        var i = from
        while i < capacity {
            if probe.isOccupied(i) { return i }
            i += 1
        }
        return nil
    }

    @inline(__always) func isOccupied(_ i: Int) -> Bool { probe.isOccupied(i) }

    /// Every occupied slot whose key's home bucket (hash & mask) is `home`. Linear probing puts
    /// such a key in the run of non-empty slots that starts at `home` (tombstones keep runs
    /// intact), and the load limit guarantees the run ends at an empty slot.
    func forEachSlot(homeBucket home: Int, _ body: (Int) -> Void) {
        probe.forEachSlot(homeBucket: home, hashAt: { ByteHash.hash(keyBytes(at: $0)) }, body)
    }

    /// Redis' dictScan cursor step over home buckets (see ProbeControl.nextCursor).
    func nextCursor(after cursor: UInt64) -> UInt64 { probe.nextCursor(after: cursor) }

    /// Heap bytes of the slot arrays.
    var slotBytes: Int { capacity * 9 }

    /// Heap bytes of one entry (the malloc chunk), not counting the value's own storage.
    func entryBytes(at i: Int) -> Int { Self.isHashSlot(entries[i]!) ? 0 : mallocSize(entries[i]!) }
}

@inline(__always) func mallocSize(_ p: UnsafeMutableRawPointer) -> Int {
    #if canImport(Glibc)
    return usableSize(p) + 8   // glibc's chunk header
    #else
    return usableSize(p)
    #endif
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
