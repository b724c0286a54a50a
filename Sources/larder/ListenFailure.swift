import NIOCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The one line `serve` prints when it cannot open a port: the address and port and the
/// system's reason in words (`cannot listen on 127.0.0.1:6379: address already in use`),
/// not NIO's `bind(descriptor:ptr:bytes:): Address already in use) (errno: 98)`.
enum ListenFailure {
    static func message(host: String, port: Int, _ error: Error) -> String {
        let reason: String
        if let io = error as? IOError {
            reason = String(cString: strerror(io.errnoCode)).lowercased()
        } else {
            reason = "\(error)"
        }
        return "cannot listen on \(host):\(port): \(reason)"
    }
}
