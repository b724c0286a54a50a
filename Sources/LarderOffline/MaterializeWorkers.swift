/// One worker's share of the entities when `larder materialize --workers N` runs as N
/// processes (a Kubernetes Indexed Job): worker `index` takes the entities whose serialized
/// entity key (Feast's bytes, without the project suffix) hashes to `index` modulo `count`.
/// The share depends on the key alone, so every entity — all of its rows, and therefore its
/// latest row — belongs to exactly one worker whatever the files, their order or row groups,
/// and the union of the N workers' writes is what one run writes.
public struct WorkerShare: Equatable, Sendable, CustomStringConvertible {
    public let count: Int
    public let index: Int

    public init(count: Int, index: Int) throws {
        guard count >= 1 else { throw MaterializeValueError("--workers must be 1 or more (got \(count))") }
        guard (0 ..< count).contains(index) else {
            throw MaterializeValueError("worker index \(index) is outside 0..\(count - 1) (--workers \(count))")
        }
        self.count = count
        self.index = index
    }

    /// True when the entity with this serialized key is this worker's.
    @inline(__always)
    public func owns<Bytes: Collection>(entityKey: Bytes) -> Bool where Bytes.Element == UInt8 {
        Int(WorkerShare.hash(entityKey) % UInt64(count)) == index
    }

    /// FNV-1a 64 of the bytes, then murmur3's fmix64 so that the low bits (the modulo) mix
    /// every byte. Fixed forever: changing it would move entities between workers of
    /// different versions running the same job.
    public static func hash<Bytes: Collection>(_ bytes: Bytes) -> UInt64 where Bytes.Element == UInt8 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in bytes { h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01b3 }
        h ^= h >> 33
        h = h &* 0xff51_afd7_ed55_8ccd
        h ^= h >> 33
        h = h &* 0xc4ce_b9fe_1a85_ec53
        h ^= h >> 33
        return h
    }

    /// The state database's name for this worker's record of a view (`view#worker 1/3`).
    public func stateName(of view: String) -> String { "\(view)#worker \(index)/\(count)" }

    /// The state names of every worker of the job, index 0 first.
    public func allStateNames(of view: String) -> [String] { (0 ..< count).map { "\(view)#worker \($0)/\(count)" } }

    public var description: String { "worker \(index) of \(count)" }
}
