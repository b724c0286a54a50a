/// `google.protobuf.Timestamp` (also the layout of `Duration`): 1 seconds int64, 2 nanos int32.
/// Proto3 leaves out zero fields, so a whole-second time is `08 <varint seconds>` and the
/// epoch itself is zero bytes.
public struct ProtoTimestamp: Equatable, Hashable, Comparable, Codable, Sendable {
    public var seconds: Int64
    public var nanos: Int32

    public init(seconds: Int64, nanos: Int32 = 0) {
        self.seconds = seconds
        self.nanos = nanos
    }

    /// From nanoseconds since the epoch; nanos is kept in 0..<1e9 as protobuf requires.
    public init(epochNanoseconds: Int64) {
        let (q, r) = epochNanoseconds.quotientAndRemainder(dividingBy: 1_000_000_000)
        if r < 0 {
            self.init(seconds: q - 1, nanos: Int32(r + 1_000_000_000))
        } else {
            self.init(seconds: q, nanos: Int32(r))
        }
    }

    public static func < (a: ProtoTimestamp, b: ProtoTimestamp) -> Bool {
        (a.seconds, a.nanos) < (b.seconds, b.nanos)
    }

    public func encoded() -> [UInt8] {
        var out: [UInt8] = []
        encode(into: &out)
        return out
    }

    public func encode(into out: inout [UInt8]) {
        if seconds != 0 {
            ProtoWriter.appendTag(field: 1, wireType: .varint, to: &out)
            ProtoWriter.appendSignedVarint(seconds, to: &out)
        }
        if nanos != 0 {
            ProtoWriter.appendTag(field: 2, wireType: .varint, to: &out)
            ProtoWriter.appendSignedVarint(Int64(nanos), to: &out)
        }
    }

    public static func decode(_ bytes: [UInt8], message: String = "google.protobuf.Timestamp") throws -> ProtoTimestamp {
        var reader = ProtoReader(bytes, message: message)
        return try decode(from: &reader)
    }

    public static func decode(from reader: inout ProtoReader) throws -> ProtoTimestamp {
        var ts = ProtoTimestamp(seconds: 0)
        while !reader.isAtEnd {
            let tag = try reader.readTag()
            switch tag.field {
            case 1:
                try reader.expect(tag, .varint, field: "seconds")
                ts.seconds = Int64(bitPattern: try reader.readVarint(field: "seconds"))
            case 2:
                try reader.expect(tag, .varint, field: "nanos")
                ts.nanos = Int32(truncatingIfNeeded: try reader.readVarint(field: "nanos"))
            default:
                try reader.skip(tag)
            }
        }
        return ts
    }
}
