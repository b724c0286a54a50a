// The workloads: which command each request is, and what --preload writes first.
//
// The redis-benchmark-shaped ones are byte-identical to bench/compare_redis_benchmark.sh:
// keys k:%012d (strings) and h:%012d (hashes with fields f1..f10), the same SET/HSET values,
// and the same preloaded data (so either tool can preload for the other).

enum Workload: String, CaseIterable {
    case get, set, hset1, hset10, hmget10, hgetall10
    case feastRead = "feast-read", feastWrite = "feast-write", feastHgetall = "feast-hgetall"
    case feastMix = "feast-mix"
    /// FEATURES.GET of the feast layout's view for --entities driver ids (Larder's command).
    case featuresGet = "features-get"

    enum Family: String { case strings, hashes, feast }

    /// What --preload writes for this workload.
    var family: Family {
        switch self {
        case .get, .set: return .strings
        case .hset1, .hset10, .hmget10, .hgetall10: return .hashes
        case .feastRead, .feastWrite, .feastHgetall, .feastMix, .featuresGet: return .feast
        }
    }

    var isFeast: Bool { family == .feast }
}

enum RedisLike {
    static let v16 = Array("vvvvvvvvvvvvvvvv".utf8)
    /// compare_redis_benchmark.sh's HVALS, field by field.
    static let hvals: [[UInt8]] = [
        "f1", "val01xxx", "f2", "value02xxxxxxxxx", "f3", "value03xxxxxxxxxxxxxxxxxx",
        "f4", "value04xxxxxxxxxxxxxxxxxxxxxxxxx", "f5", "val05xxx", "f6", "value06xxxxxxxxx",
        "f7", "value07xxxxxxxxxxxxxxxxxx", "f8", "value08xxxxxxxxxxxxxxxxxxxxxxxxx",
        "f9", "val09xxxxxxxxxxx", "f10", "value10xxxxxxxxxxxxxxxx",
    ].map { Array($0.utf8) }
    static let fieldNames: [[UInt8]] = (1...10).map { Array("f\($0)".utf8) }

    /// "<prefix>%0<width>d", as redis-benchmark's __rand_int__ (12 digits) and the preload's %015d.
    static func padded(_ prefix: String, _ n: Int, width: Int) -> [UInt8] {
        let digits = Array(String(n).utf8)
        return Array(prefix.utf8) + [UInt8](repeating: UInt8(ascii: "0"), count: max(0, width - digits.count)) + digits
    }
    static func stringKey(_ i: Int) -> [UInt8] { padded("k:", i, width: 12) }
    static func hashKey(_ i: Int) -> [UInt8] { padded("h:", i, width: 12) }

    static func command(_ w: Workload, key i: Int) -> [UInt8] {
        switch w {
        case .get: return formatCommand([Array("GET".utf8), stringKey(i)])
        case .set: return formatCommand([Array("SET".utf8), stringKey(i), v16])
        case .hset1: return formatCommand([Array("HSET".utf8), hashKey(i), Array("f1".utf8), v16])
        case .hset10: return formatCommand([Array("HSET".utf8), hashKey(i)] + hvals)
        case .hmget10: return formatCommand([Array("HMGET".utf8), hashKey(i)] + fieldNames)
        case .hgetall10: return formatCommand([Array("HGETALL".utf8), hashKey(i)])
        default: fatalError("\(w) is not a redis-benchmark workload")
        }
    }

    /// Preload, as the script's: SET k:%012d v%015d.
    static func preloadString(_ j: Int) -> [UInt8] {
        formatCommand([Array("SET".utf8), stringKey(j), padded("v", j, width: 15)])
    }

    /// Preload, as the script's: HSET h:%012d f1..f10, value f = ("v%d.%d." % (j, f)) padded
    /// with "x" (or cut) to 8 + (7j + 13f) % 25 bytes.
    static func preloadHash(_ j: Int) -> [UInt8] {
        var args: [[UInt8]] = [Array("HSET".utf8), hashKey(j)]
        for f in 1...10 {
            let n = 8 + (j * 7 + f * 13) % 25
            var v = Array("v\(j).\(f).".utf8)
            if v.count < n { v += [UInt8](repeating: UInt8(ascii: "x"), count: n - v.count) }
            args.append(Array("f\(f)".utf8))
            args.append(Array(v.prefix(n)))
        }
        return formatCommand(args)
    }
}

struct WorkloadSpec {
    let workload: Workload
    let keyspace: Int
    let feast: FeastLayout
    let readRatio: Double
    /// features-get: entity rows per request.
    var entities = 1

    /// `size` requests with keys from `picker`. feast-mix draws read or write per entry.
    func makePool(size: Int, picker: inout KeyPicker) -> CommandPool {
        var commands: [[UInt8]] = []
        commands.reserveCapacity(size)
        for e in 0..<size {
            let i = picker.next()
            switch workload {
            case .feastRead: commands.append(feast.readCommand(i))
            case .feastWrite: commands.append(feast.writeCommand(i, version: UInt64(e + 1)))
            case .feastHgetall: commands.append(feast.hgetallCommand(i))
            case .featuresGet:
                var rows = [i]
                for _ in 1..<max(entities, 1) { rows.append(picker.next()) }
                commands.append(feast.featuresGetCommand(rows))
            case .feastMix:
                commands.append(picker.nextDouble() < readRatio
                    ? feast.readCommand(i) : feast.writeCommand(i, version: UInt64(e + 1)))
            default: commands.append(RedisLike.command(workload, key: i))
            }
        }
        return CommandPool(commands: commands)
    }

    /// Command j of --preload: key j of the workload's family, each written exactly once.
    func preloadCommand(_ j: Int) -> [UInt8] {
        switch workload.family {
        case .strings: return RedisLike.preloadString(j)
        case .hashes: return RedisLike.preloadHash(j)
        case .feast: return feast.writeCommand(j, version: 0)
        }
    }
}
