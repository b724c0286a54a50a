import Foundation

/// What `larder --version` prints: the release number, and which build of which code this is.
/// `commit`, `commitDate` and `treeHadChanges` are generated at build time by BuildInfoPlugin.
public enum BuildInfo {
    public static let version = "0.1.0"

    /// SwiftPM defines DEBUG in debug builds. How the Swift runtime is linked is read from the
    /// running process (a `--static-swift-stdlib` link reuses the release objects, so it cannot
    /// differ in a compile-time flag without recompiling everything).
    public static var configuration: String {
        #if DEBUG
        let mode = "debug"
        #else
        let mode = "release"
        #endif
        return "\(mode), \(swiftRuntimeIsShared ? "shared" : "static") Swift runtime"
    }

    /// True when libswiftCore.so is mapped into this process (a dynamically linked build).
    public static var swiftRuntimeIsShared: Bool {
        // /proc files report size 0, so read them to the end by hand.
        let fd = open("/proc/self/maps", O_RDONLY)
        guard fd >= 0 else { return true }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n <= 0 { break }
            bytes.append(contentsOf: chunk[0..<n])
        }
        return String(decoding: bytes, as: UTF8.self).contains("libswiftCore.so")
    }

    public static var compiler: String {
        #if compiler(>=6.3)
        return "Swift 6.3+"
        #elseif compiler(>=6.0)
        return "Swift 6.x"
        #else
        return "Swift 5.x"
        #endif
    }

    /// One line: `larder 0.1.0 (commit 5682427abcde 2026-12-04T03:00:00Z, release, Swift 6.3+)`.
    public static var versionLine: String {
        let changes = treeHadChanges ? " with uncommitted changes" : ""
        return "larder \(version) (commit \(commit)\(changes) \(commitDate), \(configuration), \(compiler))"
    }
}
