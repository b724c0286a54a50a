// The event loop: every connection on one epoll instance, on one thread.
//
// Closed loop (no --rate): each connection sends `pipeline` requests, waits for all their
// replies, then sends the next batch. Latency = reply time - batch send time.
// Open loop (--rate R): request j is due at t0 + j/R and goes to connection j mod N when due,
// however many that connection already has in flight. A timerfd wakes the loop at the next due
// time. Latency = reply time - *intended* send time, so a slow server is charged for the requests
// it delayed too (no coordinated omission).
//
// The first `warmup` replies are not measured; the measured window runs from the warmup's last
// reply (or the start) to the last reply.
import CBenchSys
import CHiredis
import Glibc
import Histogram

struct EngineConfig {
    var pipeline = 1
    var rate: Double?  // requests/s over all connections: open loop
    var total = 0  // requests to send, warmup included (open loop: always finite)
    var warmup = 0
    var durationNs: UInt64?  // closed loop: send nothing new this long after measuring starts
    var stallTimeoutNs: UInt64 = 10_000_000_000  // give up after this long with no reply
}

struct RunResult {
    var measured = 0
    var elapsedNs: UInt64 = 0
    var histogram = Histogram<UInt64>(lowestDiscernibleValue: 1, highestTrackableValue: RunResult.maxLatencyNs,
                                      numberOfSignificantValueDigits: .three)
    var errors = 0
    var firstError: String?
    var nils = 0  // nil replies (GET/HGETALL misses; HMGET replies are arrays and never count)
    var sendLagMaxNs: UInt64 = 0  // open loop: how late the loop itself sent a request (client overload)
    var sendLagSumNs: UInt64 = 0

    static let maxLatencyNs: UInt64 = 3_600_000_000_000
}

final class Engine {
    private let conns: [Connection]
    private let source: RequestSource
    private let cfg: EngineConfig
    private let epfd: Int32
    private var timerfd: Int32 = -1
    private var armedFor: UInt64 = 0
    private let readBuf: UnsafeMutablePointer<UInt8>
    private let readCap = 64 * 1024
    private let feedChunk = 4096  // hiredis 0.14 memmoves its unread buffer every 1 KB parsed

    private var issued = 0, completed = 0
    private var t0: UInt64 = 0, measureStart: UInt64?, lastReply: UInt64 = 0, lastProgress: UInt64 = 0
    private var deadline: UInt64 = .max
    private var nextDue = 0  // open loop: index of the next scheduled request
    private var interval = 0.0
    private var dirty: [Connection] = []
    private(set) var result = RunResult()

    private static let timerTag = UInt64.max

    init(connections: [Connection], source: RequestSource, config: EngineConfig) throws {
        conns = connections
        self.source = source
        cfg = config
        epfd = epoll_create1(Int32(EPOLL_CLOEXEC))
        guard epfd >= 0 else { throw BenchError("epoll_create1: \(errnoText())") }
        readBuf = .allocate(capacity: readCap)
        for c in conns { try control(EPOLL_CTL_ADD, c.fd, EPOLLIN.rawValue, UInt64(c.index)) }
        if let rate = config.rate {
            interval = 1e9 / rate
            _ = bench_set_timer_slack_ns(1)
            timerfd = timerfd_create(CLOCK_MONOTONIC, Int32(TFD_NONBLOCK | TFD_CLOEXEC))
            guard timerfd >= 0 else { throw BenchError("timerfd_create: \(errnoText())") }
            try control(EPOLL_CTL_ADD, timerfd, EPOLLIN.rawValue, Self.timerTag)
        }
    }

    deinit {
        // Unregister the sockets: the preload's engine and the measured run's share the connections.
        for c in conns { epoll_ctl(epfd, EPOLL_CTL_DEL, c.fd, nil) }
        if timerfd >= 0 { close(timerfd) }
        close(epfd)
        readBuf.deallocate()
    }

    private func control(_ op: Int32, _ fd: Int32, _ events: UInt32, _ tag: UInt64) throws {
        var ev = epoll_event()
        ev.events = events
        ev.data.u64 = tag
        guard epoll_ctl(epfd, op, fd, &ev) == 0 else { throw BenchError("epoll_ctl: \(errnoText())") }
    }

    func run() throws -> RunResult {
        t0 = monotonicNanos()
        lastProgress = t0
        if cfg.warmup == 0 { startMeasuring(t0) }
        if cfg.rate == nil {
            for c in conns { try sendBatch(c, t0) }
        } else {
            try dispatchDue(t0)
        }
        var events = [epoll_event](repeating: epoll_event(), count: max(conns.count, 1) + 1)
        while !finished(monotonicNanos()) {
            let n = epoll_wait(epfd, &events, Int32(events.count), 100)
            if n < 0 {
                if errno == EINTR { continue }
                throw BenchError("epoll_wait: \(errnoText())")
            }
            for e in 0..<Int(n) {
                let tag = events[e].data.u64
                if tag == Self.timerTag {
                    var expirations: UInt64 = 0
                    _ = read(timerfd, &expirations, 8)
                    continue
                }
                let c = conns[Int(tag)]
                let ev = events[e].events
                if ev & (EPOLLIN.rawValue | EPOLLERR.rawValue | EPOLLHUP.rawValue) != 0 { try onReadable(c) }
                if ev & EPOLLOUT.rawValue != 0 { try flush(c) }
            }
            let now = monotonicNanos()
            if cfg.rate != nil { try dispatchDue(now) }
            if issued > completed && now - lastProgress > cfg.stallTimeoutNs {
                throw BenchError("no reply for \(Double(cfg.stallTimeoutNs) / 1e9) s with \(issued - completed) "
                    + "requests outstanding (--timeout)")
            }
        }
        if let start = measureStart, result.measured > 0 { result.elapsedNs = lastReply - start }
        return result
    }

    // MARK: sending

    private func mayIssue(_ now: UInt64) -> Bool { issued < cfg.total && now < deadline }

    private func finished(_ now: UInt64) -> Bool { completed == issued && !(cfg.rate == nil ? mayIssue(now) : nextDue < cfg.total) }

    private func sendBatch(_ c: Connection, _ now: UInt64) throws {
        var k = 0
        while k < cfg.pipeline && mayIssue(now) {
            source.appendNext(to: c.out)
            c.inflight.push(now)
            issued += 1; k += 1
        }
        if k > 0 { lastProgress = now; try flush(c) }
    }

    /// Open loop: hand every request that is due by `now` to its connection, then arm the timer.
    private func dispatchDue(_ now: UInt64) throws {
        while nextDue < cfg.total {
            let due = t0 + UInt64(Double(nextDue) * interval)
            if due > now {
                if due != armedFor { try armTimer(due) }
                break
            }
            let c = conns[nextDue % conns.count]
            let lag = now - due
            result.sendLagSumNs &+= lag
            if lag > result.sendLagMaxNs { result.sendLagMaxNs = lag }
            source.appendNext(to: c.out)
            if c.inflight.isEmpty { lastProgress = now }
            c.inflight.push(due)
            if !c.dirty { c.dirty = true; dirty.append(c) }
            nextDue += 1; issued += 1
        }
        for c in dirty { c.dirty = false; try flush(c) }
        dirty.removeAll(keepingCapacity: true)
    }

    private func armTimer(_ at: UInt64) throws {
        var spec = itimerspec()
        spec.it_value.tv_sec = Int(at / 1_000_000_000)
        spec.it_value.tv_nsec = Int(at % 1_000_000_000)
        guard timerfd_settime(timerfd, Int32(TFD_TIMER_ABSTIME), &spec, nil) == 0 else {
            throw BenchError("timerfd_settime: \(errnoText())")
        }
        armedFor = at
    }

    private func flush(_ c: Connection) throws {
        let done = try c.flush()
        if done == c.writeArmed {  // state changed: (un)subscribe EPOLLOUT
            c.writeArmed = !done
            try control(EPOLL_CTL_MOD, c.fd, EPOLLIN.rawValue | (done ? 0 : EPOLLOUT.rawValue), UInt64(c.index))
        }
    }

    // MARK: receiving

    private func onReadable(_ c: Connection) throws {
        var now: UInt64 = 0
        while true {
            let n = read(c.fd, readBuf, readCap)
            if n > 0 {
                now = monotonicNanos()
                var off = 0
                while off < n {
                    let len = min(feedChunk, n - off)
                    guard redisReaderFeed(c.reader, UnsafeRawPointer(readBuf + off).assumingMemoryBound(to: CChar.self),
                                          len) == REDIS_OK else {
                        throw BenchError("connection \(c.index): reply reader: \(c.readerError)")
                    }
                    try drainReplies(c, now)
                    off += len
                }
                if n < readCap { break }
            } else if n == 0 || errno == ECONNRESET {
                throw BenchError("connection \(c.index) closed by the server\(n == 0 ? "" : " (reset)") with "
                    + "\(c.inflight.count) replies outstanding (\(completed) replies received in all)")
            } else if errno == EINTR {
                continue
            } else if errno == EAGAIN || errno == EWOULDBLOCK {
                break
            } else {
                throw BenchError("connection \(c.index): read failed: \(errnoText())")
            }
        }
        if cfg.rate == nil && c.inflight.isEmpty && now != 0 { try sendBatch(c, now) }
    }

    private func drainReplies(_ c: Connection, _ now: UInt64) throws {
        while true {
            var obj: UnsafeMutableRawPointer?
            guard redisReaderGetReply(c.reader, &obj) == REDIS_OK else {
                throw BenchError("connection \(c.index): protocol error: \(c.readerError)")
            }
            guard let obj else { return }
            let reply = obj.assumingMemoryBound(to: redisReply.self)
            let type = reply.pointee.type
            if type == REDIS_REPLY_ERROR {
                result.errors += 1
                if result.firstError == nil {
                    result.firstError = reply.pointee.str.map {
                        String(decoding: UnsafeRawBufferPointer(start: $0, count: Int(reply.pointee.len)), as: UTF8.self)
                    } ?? "?"
                }
            } else if type == REDIS_REPLY_NIL {
                result.nils += 1
            }
            freeReplyObject(obj)
            guard let sent = c.inflight.pop() else {
                throw BenchError("connection \(c.index): a reply arrived with no request in flight")
            }
            completed += 1
            lastProgress = now
            if measureStart != nil {
                _ = result.histogram.record(min(now &- sent, RunResult.maxLatencyNs))
                result.measured += 1
                lastReply = now
            } else if completed == cfg.warmup {
                startMeasuring(now)
            }
        }
    }

    private func startMeasuring(_ now: UInt64) {
        measureStart = now
        lastReply = now
        if let d = cfg.durationNs, cfg.rate == nil { deadline = now + d }
    }
}
