// Feast-shaped keys, fields and values, laid out as Feast 0.67's Redis online store writes them
// (/work/shared/specs/feast-online-format.md, sections 2-4).
//
// Key: entity key serialization v3 for the single int64 join key `driver_id`, then the project
// name: u32 1 | u32 2 (STRING), u32 9, "driver_id" | u32 4 (INT64), u32 8, i64 LE | "driver_e2e"
// = 47 bytes. Key index i is driver_id 1001 + i, so index 0 is the spec's example key.
// Fields: murmur3_x86_32("<view>:<feature>", seed 0) as 4 bytes little-endian, computed here
// (checked against the spec's test vectors by Tests/conformance/test_larder_bench.py, which looks
// for conv_rate's 6160e3da in a preloaded hash), plus `_ts:<view>`.
// Values: serialized feast.types.Value protobufs of the view's real types (float, double, int64,
// int32, string, bool, int64 list, string list; 2-20 bytes); `_ts` is a google.protobuf.Timestamp,
// 0x08 + varint seconds.

/// murmur3_x86_32, as Feast (mmh3) computes it for field names.
func murmur3_32(_ data: [UInt8], seed: UInt32 = 0) -> UInt32 {
    let c1: UInt32 = 0xcc9e_2d51, c2: UInt32 = 0x1b87_3593
    func rotl(_ x: UInt32, _ r: UInt32) -> UInt32 { (x << r) | (x >> (32 - r)) }
    var h = seed
    let blocks = data.count / 4
    for b in 0..<blocks {
        let i = b * 4
        var k = UInt32(data[i]) | UInt32(data[i + 1]) << 8 | UInt32(data[i + 2]) << 16 | UInt32(data[i + 3]) << 24
        k = rotl(k &* c1, 15) &* c2
        h ^= k
        h = rotl(h, 13) &* 5 &+ 0xe654_6b64
    }
    let tail = blocks * 4
    var k: UInt32 = 0
    switch data.count & 3 {
    case 3: k ^= UInt32(data[tail + 2]) << 16; fallthrough
    case 2: k ^= UInt32(data[tail + 1]) << 8; fallthrough
    case 1:
        k ^= UInt32(data[tail])
        h ^= rotl(k &* c1, 15) &* c2
    default: break
    }
    h ^= UInt32(truncatingIfNeeded: data.count)
    h ^= h >> 16; h = h &* 0x85eb_ca6b
    h ^= h >> 13; h = h &* 0xc2b2_ae35
    h ^= h >> 16
    return h
}

func varint(_ v: UInt64) -> [UInt8] {
    var v = v, out: [UInt8] = []
    while v >= 0x80 { out.append(UInt8(v & 0x7f) | 0x80); v >>= 7 }
    out.append(UInt8(v))
    return out
}

private func le32(_ v: UInt32) -> [UInt8] { (0..<4).map { UInt8(truncatingIfNeeded: v >> (8 * $0)) } }
private func le64(_ v: UInt64) -> [UInt8] { (0..<8).map { UInt8(truncatingIfNeeded: v >> (8 * $0)) } }

/// A stateless 64-bit mix (SplitMix64's finalizer): deterministic values from (key, field, version).
@inline(__always) func mix64(_ x: UInt64) -> UInt64 {
    var z = x &+ 0x9E37_79B9_7F4A_7C15
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
}

struct FeastLayout {
    enum ValueKind { case float32, float64, int64, int32, string, bool, int64List, stringList }

    static let firstDriverId: Int64 = 1001
    static let baseSeconds: UInt64 = 1_736_024_400  // 2025-01-04T21:00:00Z, the spec's example

    let project: String
    let view: String
    let fieldNames: [[UInt8]]  // the 4-byte hashes, in schema order
    let featureNames: [String]
    let kinds: [ValueKind]
    let tsField: [UInt8]

    /// The real driver_hourly_stats features first; past 8, feature_9, feature_10, ...
    init(fields: Int, project: String = "driver_e2e", view: String = "driver_hourly_stats") {
        let known: [(String, ValueKind)] = [
            ("conv_rate", .float32), ("acc_rate", .float64), ("avg_daily_trips", .int64), ("rating", .int32),
            ("city", .string), ("is_active", .bool), ("recent_trips", .int64List), ("tags", .stringList),
        ]
        let cycle: [ValueKind] = [.float32, .float64, .int64, .string]
        var names: [[UInt8]] = [], kinds: [ValueKind] = [], texts: [String] = []
        for f in 0..<fields {
            let (name, kind) = f < known.count ? known[f] : ("feature_\(f + 1)", cycle[f % cycle.count])
            texts.append(name)
            names.append(le32(murmur3_32(Array("\(view):\(name)".utf8))))
            kinds.append(kind)
        }
        self.project = project
        self.view = view
        fieldNames = names
        featureNames = texts
        self.kinds = kinds
        tsField = Array("_ts:\(view)".utf8)
    }

    func key(_ index: Int) -> [UInt8] {
        var k = le32(1)
        k += le32(2) + le32(9) + Array("driver_id".utf8)
        k += le32(4) + le32(8) + le64(UInt64(bitPattern: Self.firstDriverId + Int64(index)))
        return k + Array(project.utf8)
    }

    func timestamp(seconds: UInt64) -> [UInt8] { [0x08] + varint(seconds) }

    /// Value protobuf for feature `f` of key `index`; `version` changes it for repeated writes.
    func value(index: Int, field f: Int, version: UInt64) -> [UInt8] {
        let r = mix64(UInt64(index) &* 0x1_0000_01B3 ^ UInt64(f) << 48 ^ version &* 0x9E37_79B9)
        switch kinds[f] {
        case .float32:  // field 6, fixed32
            return [0x35] + le32(Float(Double(r >> 11) * 0x1.0p-53).bitPattern)
        case .float64:  // field 5, fixed64
            return [0x29] + le64((Double(r >> 11) * 0x1.0p-53).bitPattern)
        case .int64:  // field 4, varint
            return [0x20] + varint(r % 5000)
        case .int32:  // field 3, varint
            return [0x18] + varint(1 + r % 5)
        case .string:  // field 2
            let cities = ["Paris", "Lisbon", "Berlin", "Madrid", "Amsterdam", "San Francisco"]
            let s = Array(cities[Int(r % UInt64(cities.count))].utf8)
            return [0x12, UInt8(s.count)] + s
        case .bool:  // field 7
            return [0x38, UInt8(r & 1)]
        case .int64List:  // field 14: Int64List { 1: packed repeated int64 }
            let packed = (0..<3).flatMap { varint((r >> (16 * UInt64($0))) & 0x7fff) }
            let list = [0x0a, UInt8(packed.count)] + packed
            return [0x72, UInt8(list.count)] + list
        case .stringList:  // field 12: StringList { 1: repeated string }
            let n = 1 + Int(r % 3)
            let list = (0..<n).flatMap { [0x0a, 0x01, UInt8(ascii: "a") + UInt8($0)] }
            return [0x62, UInt8(list.count)] + list
        }
    }

    /// HMGET key f1..fn _ts:view (Feast's online_read: values first, the timestamp last).
    func readCommand(_ index: Int) -> [UInt8] {
        formatCommand([Array("HMGET".utf8), key(index)] + fieldNames + [tsField])
    }

    /// HSET key _ts:view ts f1 v1 ... fn vn (Feast's online_write_batch order).
    func writeCommand(_ index: Int, version: UInt64) -> [UInt8] {
        var args: [[UInt8]] = [Array("HSET".utf8), key(index), tsField,
                               timestamp(seconds: Self.baseSeconds + version % 86_400)]
        for f in 0..<fieldNames.count {
            args.append(fieldNames[f])
            args.append(value(index: index, field: f, version: version))
        }
        return formatCommand(args)
    }

    /// FEATURES.GET REFS n view:f... IGNORETTL ENTITIES 1 driver_id id... (IGNORETTL: the
    /// preloaded event times are old, and `feast serve` does not enforce ttl either).
    func featuresGetCommand(_ indexes: [Int]) -> [UInt8] {
        var args: [[UInt8]] = [Array("FEATURES.GET".utf8), Array("REFS".utf8), Array(String(featureNames.count).utf8)]
        args += featureNames.map { Array("\(view):\($0)".utf8) }
        args += [Array("IGNORETTL".utf8), Array("ENTITIES".utf8), Array("1".utf8), Array("driver_id".utf8)]
        args += indexes.map { Array(String(Self.firstDriverId + Int64($0)).utf8) }
        return formatCommand(args)
    }

    func hgetallCommand(_ index: Int) -> [UInt8] { formatCommand([Array("HGETALL".utf8), key(index)]) }
}
