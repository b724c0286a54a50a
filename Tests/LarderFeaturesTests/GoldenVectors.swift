import Foundation
@testable import LarderFeatures

/// golden.json, produced by Fixtures/make_golden.py with the real Feast 0.67 / protobuf.
struct GoldenVectors: Decodable {
    struct Generator: Decodable { let feast: String; let protobuf: String; let mmh3: String }
    struct MurmurCase: Decodable { let input: String; let hash: UInt32; let field_hex: String }
    struct EntityKeyCase: Decodable {
        let version: Int; let join_keys: [String]; let values: [GoldenValue]
        let hex: String; let redis_key_hex: String
    }
    struct PrefixCase: Decodable { let join_keys: [String]; let hex: String }
    struct TimestampCase: Decodable { let seconds: Int64; let nanos: Int32; let hex: String }
    struct ValueCase: Decodable { let value: GoldenValue; let hex: String }
    struct ConversionCase: Decodable { let value_type: String; let input: String; let value: GoldenValue; let hex: String }

    let generator: Generator
    let murmur3: [MurmurCase]
    let entity_keys: [EntityKeyCase]
    let delete_prefixes: [PrefixCase]
    let timestamps: [TimestampCase]
    let values: [ValueCase]
    let feast_conversions: [ConversionCase]

    static func load() throws -> GoldenVectors {
        try JSONDecoder().decode(GoldenVectors.self, from: Fixtures.data("golden.json"))
    }
}

/// A Value as described in golden.json: `kind`, plus `value` or (floats) `bits`.
struct GoldenValue: Decodable {
    let feastValue: FeastValue

    private enum Keys: String, CodingKey { case kind, value, bits }

    init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: Keys.self)
        let kind = try c.decode(String.self, forKey: .kind)
        func f32(_ s: String) -> Float { Float(bitPattern: UInt32(s, radix: 16)!) }
        func f64(_ s: String) -> Double { Double(bitPattern: UInt64(s, radix: 16)!) }
        switch kind {
        case "null": feastValue = .null
        case "bytes": feastValue = .bytes(bytes(hex: try c.decode(String.self, forKey: .value)))
        case "string": feastValue = .string(try c.decode(String.self, forKey: .value))
        case "int32": feastValue = .int32(try c.decode(Int32.self, forKey: .value))
        case "int64": feastValue = .int64(try c.decode(Int64.self, forKey: .value))
        case "unix_timestamp": feastValue = .unixTimestamp(try c.decode(Int64.self, forKey: .value))
        case "bool": feastValue = .bool(try c.decode(Bool.self, forKey: .value))
        case "float": feastValue = .float(f32(try c.decode(String.self, forKey: .bits)))
        case "double": feastValue = .double(f64(try c.decode(String.self, forKey: .bits)))
        case "bytes_list": feastValue = .bytesList(try c.decode([String].self, forKey: .value).map { bytes(hex: $0) })
        case "string_list": feastValue = .stringList(try c.decode([String].self, forKey: .value))
        case "int32_list": feastValue = .int32List(try c.decode([Int32].self, forKey: .value))
        case "int64_list": feastValue = .int64List(try c.decode([Int64].self, forKey: .value))
        case "unix_timestamp_list": feastValue = .unixTimestampList(try c.decode([Int64].self, forKey: .value))
        case "bool_list": feastValue = .boolList(try c.decode([Bool].self, forKey: .value))
        case "float_list": feastValue = .floatList(try c.decode([String].self, forKey: .bits).map(f32))
        case "double_list": feastValue = .doubleList(try c.decode([String].self, forKey: .bits).map(f64))
        default:
            throw DecodingError.dataCorruptedError(forKey: .kind, in: c, debugDescription: "unknown kind \(kind)")
        }
    }
}
