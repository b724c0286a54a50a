import Foundation

/// The file descriptor of each TCP connection of this process, found as `ss -p` finds it:
/// /proc/net/tcp and tcp6 map (local, remote) address pairs to socket inodes, /proc/self/fd maps
/// inodes to descriptors. SwiftNIO does not expose a channel's descriptor and CLIENT LIST needs
/// it (`fd=`); CLIENT LIST is an admin command, so each call reads the tables once: O(sockets).
enum SocketDescriptors {
    /// Endpoints as `ClientSession.describe` writes them: "ip:port".
    struct Connection: Hashable {
        let local: String
        let remote: String
    }

    static func byConnection() -> [Connection: Int] {
        var inodes: [UInt64: Connection] = [:]
        for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
            guard let text = readWhole(table) else { continue }
            for line in text.split(separator: "\n").dropFirst() {
                let f = line.split(separator: " ", omittingEmptySubsequences: true)
                guard f.count > 9, let inode = UInt64(f[9]), inode != 0,
                      let local = endpoint(f[1]), let remote = endpoint(f[2]) else { continue }
                inodes[inode] = Connection(local: local, remote: remote)
            }
        }
        var result: [Connection: Int] = [:]
        guard let fds = try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd") else { return result }
        for name in fds {
            guard let fd = Int(name), let target = link("/proc/self/fd/\(name)"),
                  target.hasPrefix("socket:["), let inode = UInt64(target.dropFirst(8).dropLast()),
                  let connection = inodes[inode] else { continue }
            result[connection] = fd
        }
        return result
    }

    /// A /proc file to its end: they report size 0 and hand out one page per read, so a single
    /// read (String(contentsOfFile:)) stops at the first 4 KB, about 27 sockets (measured: the
    /// connection was missing as soon as the machine had more sockets than that).
    static func readWhole(_ path: String) -> String? {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n <= 0 { break }
            bytes.append(contentsOf: chunk[0..<n])
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// readlink(2) of a /proc/self/fd entry ("socket:[inode]").
    static func link(_ path: String) -> String? {
        var buffer = [CChar](repeating: 0, count: 256)
        let n = readlink(path, &buffer, buffer.count - 1)
        guard n > 0 else { return nil }
        buffer[n] = 0
        return String(cString: buffer)
    }

    /// "0100007F:1F90" (IPv4) or 32 hex digits + ":port" (IPv6), each 32-bit word in host
    /// (little-endian) order, as the kernel prints them.
    static func endpoint(_ text: Substring) -> String? {
        let parts = text.split(separator: ":")
        guard parts.count == 2, let port = UInt16(parts[1], radix: 16) else { return nil }
        let hex = parts[0]
        var bytes: [UInt8] = []
        var i = hex.startIndex
        while i < hex.endIndex {
            let j = hex.index(i, offsetBy: 8, limitedBy: hex.endIndex) ?? hex.endIndex
            guard let word = UInt32(hex[i..<j], radix: 16) else { return nil }
            bytes += [UInt8(word & 0xFF), UInt8(word >> 8 & 0xFF), UInt8(word >> 16 & 0xFF), UInt8(word >> 24)]
            i = j
        }
        var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        let family = bytes.count == 4 ? AF_INET : AF_INET6
        guard bytes.count == 4 || bytes.count == 16,
              inet_ntop(family, bytes, &buffer, socklen_t(buffer.count)) != nil else { return nil }
        return "\(String(cString: buffer)):\(port)"
    }
}
