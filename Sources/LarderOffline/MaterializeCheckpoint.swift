import Foundation
import Glibc

/// File-level progress of one view's read, kept on disk so that a stopped (SIGTERM: a spot
/// node's notice) or killed run of a large view resumes after the files it had finished instead
/// of reading the whole window again.
///
/// What is saved is the state of the read after its first N files: the latest row of every
/// entity seen so far (`LatestRows`), N, and the rows read. A resumed read loads it and starts at
/// file N + 1, so the result is exactly that of an uninterrupted read (the latest-row rule does
/// not depend on where the read was cut). It is used only by a run over the same view, window,
/// worker share and source files (paths, sizes, modification times: the identity below); anything
/// else, or a damaged file, is ignored with a message and the view is read from its start.
///
/// When: after a file finishes, once `intervalSeconds` have passed since the last save (0: after
/// every file), when a stop is asked, and once the whole window is read (a kill while writing
/// then resumes at the writes, which are idempotent). Written to a temporary file and renamed,
/// so a kill leaves the previous checkpoint or the new one. Removed when the view is recorded.
public final class ReadCheckpoint {
    public let path: String
    let identity: [UInt8]
    public var intervalSeconds: Double
    /// Asked after each finished file with the number of files finished: true stops the read
    /// there (after saving), with `MaterializeStoppedInView`.
    public var shouldStop: (Int) -> Bool
    /// Messages for the operator (resumed, ignored checkpoint, stopped).
    public var log: (String) -> Void

    static let magic = Array("LARDERCK1\n".utf8)

    /// The checkpoint of `view` in `directory` (the state database's, under `checkpoints/`).
    public init(directory: String, project: String, view: String, start: Int64, end: Int64, files: [String],
                share: String = "", intervalSeconds: Double,
                shouldStop: @escaping (Int) -> Bool = { _ in false }, log: @escaping (String) -> Void = { _ in }) {
        let safe = (project + "." + view).map { $0.isLetter || $0.isNumber || $0 == "." || $0 == "_" || $0 == "-" ? $0 : "_" }
        path = (directory.hasSuffix("/") ? directory : directory + "/") + String(safe) + ".ckpt"
        var text = "project \(project)\nview \(view)\nwindow \(start) \(end)\nshare \(share)\n"
        for file in files {
            var st = stat()
            let known = stat(file, &st) == 0
            text += "file \(file) \(known ? Int(st.st_size) : -1) \(known ? Int(st.st_mtim.tv_sec) : -1).\(known ? Int(st.st_mtim.tv_nsec) : -1)\n"
        }
        identity = Array(text.utf8)
        self.intervalSeconds = intervalSeconds
        self.shouldStop = shouldStop
        self.log = log
    }

    /// The checkpoint's directory for a state database path.
    public static func directory(forState statePath: String) -> String {
        let parent = (statePath as NSString).deletingLastPathComponent
        return (parent.isEmpty ? "." : parent) + "/checkpoints"
    }

    // MARK: writing

    func save(_ latest: LatestRows, filesDone: Int, rowsRead: Int) throws {
        var out: [UInt8] = []
        out.reserveCapacity(64 + identity.count + latest.count * 64)
        out += Self.magic
        Self.put(UInt64(identity.count), &out)
        out += identity
        Self.put(UInt64(filesDone), &out)
        Self.put(UInt64(rowsRead), &out)
        Self.put(UInt64(latest.featureCount), &out)
        out.append(latest.isInt64Keyed ? 1 : 0)
        Self.put(UInt64(latest.count), &out)
        latest.forEachSlot { id, key, event, created, payload in
            if let id { Self.put(UInt64(bitPattern: id), &out) }
            Self.put(UInt64(key.count), &out); out += key
            Self.put(UInt64(bitPattern: event), &out)
            Self.put(UInt64(bitPattern: created), &out)
            Self.put(UInt64(payload.count), &out); out += payload
        }
        out += Self.magic  // the end mark: a file cut short is refused
        let dir = (path as NSString).deletingLastPathComponent
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let tmp = path + ".tmp-\(getpid())"
        guard FileManager.default.createFile(atPath: tmp, contents: Data(out), attributes: [.posixPermissions: 0o600]) else {
            throw MaterializeValueError("cannot write the checkpoint \(tmp): \(String(cString: strerror(errno)))")
        }
        let fd = open(tmp, O_RDONLY)
        if fd >= 0 { _ = fsync(fd); close(fd) }
        guard rename(tmp, path) == 0 else {
            unlink(tmp)
            throw MaterializeValueError("cannot rename the checkpoint to \(path): \(String(cString: strerror(errno)))")
        }
    }

    public func remove() { unlink(path) }

    // MARK: reading

    struct Restored {
        var latest: LatestRows
        var filesDone: Int
        var rowsRead: Int
    }

    /// The saved read, or nil (no file, another run's, or damaged: said through `log`).
    func load(featureCount: Int) -> Restored? {
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        let bytes = [UInt8](data)
        do {
            return try Self.decode(bytes, identity: identity, featureCount: featureCount)
        } catch let reason as CheckpointMismatch {
            log("checkpoint \(path) ignored (\(reason.reason)): the view is read from its start")
            return nil
        } catch {
            log("checkpoint \(path) ignored (\(error)): the view is read from its start")
            return nil
        }
    }

    struct CheckpointMismatch: Error { let reason: String }

    static func decode(_ b: [UInt8], identity: [UInt8], featureCount: Int) throws -> Restored {
        var i = 0
        func bytes(_ n: Int) throws -> ArraySlice<UInt8> {
            guard n >= 0, i + n <= b.count else { throw CheckpointMismatch(reason: "cut short at byte \(i)") }
            defer { i += n }
            return b[i ..< i + n]
        }
        func u64() throws -> UInt64 {
            let s = try bytes(8)
            return s.reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        }
        func count(_ what: String, max: Int) throws -> Int {
            let v = try u64()
            guard v <= UInt64(max) else { throw CheckpointMismatch(reason: "\(what) \(v) at byte \(i - 8) is impossible") }
            return Int(v)
        }
        guard Array(try bytes(magic.count)) == magic else { throw CheckpointMismatch(reason: "not a Larder checkpoint") }
        let identityLength = try count("header length", max: b.count)
        guard Array(try bytes(identityLength)) == identity else {
            throw CheckpointMismatch(reason: "made by a run over another window, worker share or version of the source files")
        }
        let filesDone = try count("files", max: Int(Int32.max))
        let rowsRead = try count("rows", max: Int.max)
        guard try count("features", max: Int(Int32.max)) == featureCount else {
            throw CheckpointMismatch(reason: "made for another number of features")
        }
        let intKeyed = try bytes(1).first! == 1
        let entities = try count("entities", max: b.count)
        var latest = LatestRows(featureCount: featureCount)
        for _ in 0 ..< entities {
            let id: Int64? = intKeyed ? Int64(bitPattern: try u64()) : nil
            let key = Array(try bytes(try count("key length", max: b.count)))
            let event = Int64(bitPattern: try u64())
            let created = Int64(bitPattern: try u64())
            let payload = Array(try bytes(try count("payload length", max: b.count)))
            // The writes copy a payload in bulk and trap on a malformed one: checked here.
            guard Self.holdsValues(payload, count: featureCount) else {
                throw CheckpointMismatch(reason: "a payload ending at byte \(i) does not hold \(featureCount) length-prefixed values")
            }
            latest.restoreSlot(int64Key: id, key: key, eventNanos: event, createdNanos: created, payload: payload)
        }
        guard Array(try bytes(magic.count)) == magic, i == b.count else { throw CheckpointMismatch(reason: "no end mark") }
        return Restored(latest: latest, filesDone: filesDone, rowsRead: rowsRead)
    }

    /// Whether `payload` is exactly `count` values, each a u32 little-endian length then its bytes.
    static func holdsValues(_ payload: [UInt8], count: Int) -> Bool {
        var offset = 0, values = 0
        while offset + 4 <= payload.count {
            let length = Int(payload[offset]) | Int(payload[offset + 1]) << 8 | Int(payload[offset + 2]) << 16 | Int(payload[offset + 3]) << 24
            offset += 4 + length
            values += 1
        }
        return offset == payload.count && values == count
    }

    static func put(_ v: UInt64, _ out: inout [UInt8]) {
        var v = v
        for _ in 0 ..< 8 { out.append(UInt8(truncatingIfNeeded: v)); v >>= 8 }
    }
}

/// A read stopped at a file boundary (SIGTERM): its checkpoint holds the finished files.
public struct MaterializeStoppedInView: Error, CustomStringConvertible {
    public var view: String
    public var filesDone: Int
    public var files: Int
    public var checkpoint: String
    public var description: String {
        "stopped by a signal in view \(view) after \(filesDone) of \(files) file(s); they are kept in \(checkpoint) and the next run over the same window starts after them"
    }
}
