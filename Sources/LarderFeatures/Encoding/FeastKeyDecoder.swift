/// Parsing of v3 serialized entity keys (for `larder inspect` and tests). Whatever follows
/// the last value is returned as the suffix: for a Redis key, the project name.
public struct DecodedEntityKey: Equatable, Sendable {
    public var joinKeys: [String]
    public var values: [FeastValue]
    public var suffix: [UInt8]

    public var project: String? { String(validating: suffix, as: UTF8.self) }
}

extension FeastKeyEncoder {
    public static func decodeEntityKeyV3(_ bytes: [UInt8]) throws -> DecodedEntityKey {
        var offset = 0
        func u32(_ what: String) throws -> UInt32 {
            guard bytes.count - offset >= 4 else {
                throw FeastKeyError.malformedKey(offset: offset, reason: "truncated \(what)")
            }
            var v: UInt32 = 0
            for i in 0..<4 { v |= UInt32(bytes[offset + i]) << (8 * UInt32(i)) }
            offset += 4
            return v
        }
        func take(_ n: UInt32, _ what: String) throws -> ArraySlice<UInt8> {
            guard UInt32(bytes.count - offset) >= n else {
                throw FeastKeyError.malformedKey(offset: offset, reason: "\(what) runs past the end")
            }
            defer { offset += Int(n) }
            return bytes[offset..<(offset + Int(n))]
        }
        let count = try u32("join key count")
        // Every key needs at least 16 bytes (name and value headers), which bounds `count`.
        guard UInt64(count) * 16 <= UInt64(bytes.count) else {
            throw FeastKeyError.malformedKey(offset: 0, reason: "join key count \(count) is too large for \(bytes.count) bytes")
        }
        var names: [String] = []
        for _ in 0..<count {
            let start = offset
            let type = try u32("join key type")
            guard type == 2 else {
                throw FeastKeyError.malformedKey(offset: start, reason: "join key name type \(type) is not STRING (2)")
            }
            let length = try u32("join key length")
            guard let name = String(validating: try take(length, "join key name"), as: UTF8.self) else {
                throw FeastKeyError.malformedKey(offset: start, reason: "join key name is not UTF-8")
            }
            names.append(name)
        }
        var values: [FeastValue] = []
        for name in names {
            let start = offset
            let type = try u32("value type of \(name)")
            let length = try u32("value length of \(name)")
            let payload = try take(length, "value of \(name)")
            values.append(try decodeEntityValue(type: type, payload, joinKey: name, offset: start))
        }
        return DecodedEntityKey(joinKeys: names, values: values, suffix: Array(bytes[offset...]))
    }

    private static func decodeEntityValue(type: UInt32, _ payload: ArraySlice<UInt8>, joinKey: String,
                                          offset: Int) throws -> FeastValue {
        func littleEndian(_ width: Int) throws -> UInt64 {
            guard payload.count == width else {
                throw FeastKeyError.malformedKey(offset: offset, reason: "value of \(joinKey) has \(payload.count) bytes, expected \(width)")
            }
            var v: UInt64 = 0
            for (i, byte) in payload.enumerated() { v |= UInt64(byte) << (8 * UInt64(i)) }
            return v
        }
        switch type {
        case 1: return .bytes(Array(payload))
        case 2:
            guard let s = String(validating: payload, as: UTF8.self) else {
                throw FeastKeyError.malformedKey(offset: offset, reason: "value of \(joinKey) is not UTF-8")
            }
            return .string(s)
        case 3: return .int32(Int32(bitPattern: UInt32(try littleEndian(4))))
        case 4: return .int64(Int64(bitPattern: try littleEndian(8)))
        case 8: return .unixTimestamp(Int64(bitPattern: try littleEndian(8)))
        default:
            throw FeastKeyError.malformedKey(offset: offset, reason: "value type \(type) of \(joinKey) cannot be an entity key")
        }
    }
}
