import LarderStore

/// RESP commands encoded into one growable byte buffer: what `RESPClient` sends, what
/// `RESPTarget` keeps per in-flight batch (to resend it after a reconnect) and what
/// `--dump-resp` writes, so the three are the same bytes by construction.
public struct RESPCommandBuffer {
    public private(set) var bytes: [UInt8] = []

    public init() {}

    public var count: Int { bytes.count }
    public var isEmpty: Bool { bytes.isEmpty }

    public mutating func removeAll() { bytes.removeAll(keepingCapacity: true) }

    /// The `*N` header of a command whose N arguments follow through `appendArgument`.
    public mutating func appendHeader(count: Int) {
        bytes.append(UInt8(ascii: "*"))
        appendDecimal(count)
        bytes.append(13); bytes.append(10)
    }

    public mutating func appendArgument<Arg: Collection>(_ arg: Arg) where Arg.Element == UInt8 {
        bytes.append(UInt8(ascii: "$"))
        appendDecimal(arg.count)
        bytes.append(13); bytes.append(10)
        bytes.append(contentsOf: arg)
        bytes.append(13); bytes.append(10)
    }

    public mutating func append<Arg: Collection>(_ args: [Arg]) where Arg.Element == UInt8 {
        appendHeader(count: args.count)
        for arg in args { appendArgument(arg) }
    }

    /// Digits written in place, most significant first (no temporary array: this runs for
    /// every argument of every command).
    private mutating func appendDecimal(_ value: Int) {
        if value < 10 { bytes.append(UInt8(ascii: "0") + UInt8(value)); return }
        var digits = 0
        var v = value
        while v > 0 { digits += 1; v /= 10 }
        let end = bytes.count + digits
        bytes.append(contentsOf: repeatElement(0, count: digits))
        v = value
        var i = end - 1
        while v > 0 { bytes[i] = UInt8(ascii: "0") + UInt8(v % 10); v /= 10; i -= 1 }
    }

    /// Feast's read of the stored timestamps: one `HMGET key field` per key.
    public mutating func appendReads(_ field: [UInt8], keys: ArraySlice<[UInt8]>) {
        let command: StaticString = "HMGET"
        for key in keys {
            appendHeader(count: 3)
            appendArgument(UnsafeBufferPointer(start: command.utf8Start, count: command.utf8CodeUnitCount))
            appendArgument(key)
            appendArgument(field)
        }
    }

    /// Feast's write: one multi-field `HSET key f v ...` per record, plus `EXPIRE key ttl`
    /// when the batch has a TTL. Values are copied once, from the batch into this buffer.
    public mutating func appendWrites(_ batch: HashWriteBatch) {
        let hset: StaticString = "HSET", expire: StaticString = "EXPIRE"
        let ttlText = batch.ttlSeconds.map { Array(String($0).utf8) }
        // One growth for the whole batch: values plus ~16 bytes of framing per argument.
        bytes.reserveCapacity(bytes.count + batch.bytes.count + batch.count * (batch.fields.reduce(0) { $0 + $1.count + 32 } + 64))
        for record in 0 ..< batch.count {
            appendHeader(count: 2 + 2 * batch.fields.count)
            appendArgument(UnsafeBufferPointer(start: hset.utf8Start, count: hset.utf8CodeUnitCount))
            appendArgument(batch.keys[record])
            for (f, field) in batch.fields.enumerated() {
                appendArgument(field)
                appendArgument(batch.value(record: record, field: f))
            }
            if let ttlText {
                appendHeader(count: 3)
                appendArgument(UnsafeBufferPointer(start: expire.utf8Start, count: expire.utf8CodeUnitCount))
                appendArgument(batch.keys[record])
                appendArgument(ttlText)
            }
        }
    }
}
