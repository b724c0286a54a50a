#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// Resolving a source path (file, directory or glob) to the data files it stands for,
// and telling their format from the file name.

/// File format of an offline source.
public enum TabularFormat: String, Sendable, CaseIterable {
    case parquet
    case csv

    /// The format a file name's extension says, if any (`.parquet`, `.pq`, `.parq`; `.csv`, `.tsv`).
    public static func detect(fileName: String) -> TabularFormat? {
        let lower = fileName.lowercased()
        if lower.hasSuffix(".parquet") || lower.hasSuffix(".pq") || lower.hasSuffix(".parq") { return .parquet }
        if lower.hasSuffix(".csv") || lower.hasSuffix(".tsv") { return .csv }
        return nil
    }
}

/// A source that cannot be opened as asked: nothing matches, formats disagree, schemas of
/// the files differ, a column is missing. Parquet and CSV errors pass through unchanged.
public struct TabularSourceError: Error, Equatable, CustomStringConvertible, Sendable {
    /// The path as given, or the file the problem is in.
    public var path: String
    public var message: String

    public init(path: String, _ message: String) {
        self.path = path
        self.message = message
    }

    public var description: String { "\(path): \(message)" }
}

enum SourceFiles {
    /// The data files `path` stands for, sorted, with their format. A directory is walked
    /// recursively (Hive-style partition folders), skipping names that start with `.` or
    /// `_` (`_SUCCESS`, `.crc`); a path with `*`, `?` or `[` is a glob.
    static func resolve(_ path: String, format explicit: TabularFormat?) throws -> (files: [String], format: TabularFormat) {
        var candidates: [String]
        var named = false  // the user named these files one by one (no filtering by extension)
        if path.contains(where: { "*?[".contains($0) }) {
            candidates = []
            for match in try glob(path) {
                if isDirectory(match) { candidates += walk(match) } else { candidates.append(match) }
            }
        } else if isDirectory(path) {
            candidates = walk(path)
        } else if access(path, F_OK) == 0 {
            candidates = [path]
            named = true
        } else {
            throw TabularSourceError(path: path, "no such file or directory")
        }

        let format: TabularFormat
        if let explicit {
            format = explicit
            if !named {
                // Keep files with this format's extension; if none has one, take every file
                // (writers such as Spark may name parts without an extension).
                let matching = candidates.filter { TabularFormat.detect(fileName: $0) == explicit }
                if !matching.isEmpty { candidates = matching }
            }
        } else {
            let formats = Set(candidates.compactMap { TabularFormat.detect(fileName: $0) })
            if formats.count > 1 {
                throw TabularSourceError(path: path, "holds both Parquet and CSV files; name the format explicitly")
            }
            guard let detected = formats.first else {
                if candidates.isEmpty { throw TabularSourceError(path: path, "no data files found") }
                throw TabularSourceError(path: path,
                    "cannot tell the format from the file name (expected .parquet, .pq, .parq, .csv or .tsv); name the format explicitly")
            }
            format = detected
            candidates = candidates.filter { TabularFormat.detect(fileName: $0) == detected }
        }
        if candidates.isEmpty { throw TabularSourceError(path: path, "no \(format.rawValue) files found") }
        return (candidates.sorted(), format)
    }

    static func isDirectory(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR
    }

    /// Regular files under `directory`, recursively, skipping hidden and `_` names. Each
    /// directory is entered once (by device and inode), so symbolic link cycles end.
    static func walk(_ directory: String) -> [String] {
        var visited = Set<DirectoryIdentity>()
        return walk(directory, visited: &visited)
    }

    private struct DirectoryIdentity: Hashable {
        let device: UInt64
        let inode: UInt64
    }

    private static func walk(_ directory: String, visited: inout Set<DirectoryIdentity>) -> [String] {
        var info = stat()
        guard stat(directory, &info) == 0,
              visited.insert(DirectoryIdentity(device: UInt64(info.st_dev), inode: UInt64(info.st_ino))).inserted,
              let handle = opendir(directory) else { return [] }
        defer { closedir(handle) }
        var found: [String] = []
        while let entry = readdir(handle) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw -> String in
                let bytes = raw.bindMemory(to: UInt8.self)
                let length = bytes.firstIndex(of: 0) ?? bytes.count
                return String(decoding: UnsafeBufferPointer(rebasing: bytes[0 ..< length]), as: UTF8.self)
            }
            if name.hasPrefix(".") || name.hasPrefix("_") { continue }
            let full = directory.hasSuffix("/") ? directory + name : directory + "/" + name
            if isDirectory(full) { found += walk(full, visited: &visited) } else { found.append(full) }
        }
        return found
    }

    static func glob(_ pattern: String) throws -> [String] {
        var result = glob_t()
        defer { globfree(&result) }
        #if canImport(Glibc)
        let status = Glibc.glob(pattern, 0, nil, &result)
        #else
        let status = Darwin.glob(pattern, 0, nil, &result)
        #endif
        if status == GLOB_NOMATCH { throw TabularSourceError(path: pattern, "the pattern matches no files") }
        guard status == 0 else { throw TabularSourceError(path: pattern, "cannot expand the pattern (glob error \(status))") }
        var paths: [String] = []
        for i in 0 ..< Int(result.gl_pathc) {
            if let cString = result.gl_pathv[i] { paths.append(String(cString: cString)) }
        }
        return paths
    }
}
