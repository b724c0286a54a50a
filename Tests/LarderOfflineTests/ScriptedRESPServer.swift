import Foundation
import Glibc

/// A loopback TCP server for client tests: each accepted connection follows the next step
/// of `script` (then the connection is closed when the step is done or the test stops).
final class ScriptedRESPServer: @unchecked Sendable {
    enum Step {
        /// Reads the first bytes the client sends, then closes the connection.
        case closeOnFirstCommand
        /// Reads the first bytes, replies with this text, then keeps reading and replying.
        case answer(String)
        /// Accepts and never reads or writes.
        case silent
    }

    let port: Int
    private let listener: Int32
    private let lock = NSLock()
    private var steps: [Step] = []
    private var open: [Int32] = []
    private var stopped = false

    var script: [Step] {
        get { lock.withLock { steps } }
        set { lock.withLock { steps = newValue } }
    }

    init() throws {
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        self.listener = listener
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &addr) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, length) == 0 && getsockname(listener, $0, &length) == 0 }
        }
        guard bound, listen(listener, 16) == 0 else { throw POSIXError(.EADDRINUSE) }
        port = Int(UInt16(bigEndian: addr.sin_port))
        let thread = Thread { [self] in acceptLoop() }
        thread.start()
    }

    private func acceptLoop() {
        while true {
            let client = accept(listener, nil, nil)
            if client < 0 { return }
            let step: Step? = lock.withLock {
                if stopped { return nil }
                open.append(client)
                return steps.isEmpty ? .silent : steps.removeFirst()
            }
            guard let step else { close(client); return }
            Thread { [self] in serve(client, step) }.start()
        }
    }

    private func serve(_ client: Int32, _ step: Step) {
        var buffer = [UInt8](repeating: 0, count: 65536)
        switch step {
        case .silent:
            return
        case .closeOnFirstCommand:
            _ = recv(client, &buffer, buffer.count, 0)
            shutdown(client, Int32(SHUT_RDWR))
        case .answer(let text):
            let reply = Array(text.utf8)
            while recv(client, &buffer, buffer.count, 0) > 0 {
                _ = send(client, reply, reply.count, Int32(MSG_NOSIGNAL))
            }
        }
    }

    func stop() {
        let toClose: [Int32] = lock.withLock {
            stopped = true
            defer { open.removeAll() }
            return open
        }
        for fd in toClose { shutdown(fd, Int32(SHUT_RDWR)); close(fd) }
        shutdown(listener, Int32(SHUT_RDWR))
        close(listener)
    }
}
