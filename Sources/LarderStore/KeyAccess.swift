import Synchronization

/// Redis' per-key access metadata (the 24 bits of `robj.lru`, evict.c), kept in each key's
/// access word (KeyTable): under an LRU (or no) policy a 24-bit clock of seconds; under an LFU
/// policy 16 bits of minutes (the last decrement time) and an 8-bit logarithmic counter.
/// The mode and the LFU parameters are process-wide (CONFIG SET maxmemory-policy,
/// lfu-log-factor, lfu-decay-time): one relaxed load each when a key is accessed.
public enum KeyAccess {
    /// True under allkeys-lfu / volatile-lfu.
    public static let lfuMode = Atomic<Bool>(false)
    public static let lfuLogFactor = Atomic<Int>(10)
    public static let lfuDecayTime = Atomic<Int>(1)

    static let lruClockMax: UInt32 = (1 << 24) - 1
    /// A new key's counter (Redis' LFU_INIT_VAL), so a new key is not evicted at once.
    static let lfuInitialCounter: UInt32 = 5

    /// Redis' LRU_CLOCK: seconds, 24 bits (wraps every 194 days).
    @inline(__always) static func lruClock(_ nowMs: Int64) -> UInt32 { UInt32(truncatingIfNeeded: nowMs / 1000) & lruClockMax }
    @inline(__always) static func minutes(_ nowMs: Int64) -> UInt32 { UInt32(truncatingIfNeeded: nowMs / 60_000) & 0xFFFF }

    /// The word of a key created now.
    @inline(__always) public static func newKey(now: Int64) -> UInt32 {
        lfuMode.load(ordering: .relaxed) ? minutes(now) << 8 | lfuInitialCounter : lruClock(now)
    }

    /// The word after an access now (Redis' updateLFU / `lru = LRU_CLOCK()`).
    /// `random`: the caller's xorshift state (a keyspace's; one thread owns it), because the
    /// system generator costs a call into the C library per access.
    @inline(__always) public static func accessed(_ word: UInt32, now: Int64, random: inout UInt64) -> UInt32 {
        guard lfuMode.load(ordering: .relaxed) else { return lruClock(now) }
        let counter = logIncrement(decayedCounter(word, now: now), random: &random)
        return minutes(now) << 8 | counter
    }

    /// Milliseconds since the last access (Redis' estimateObjectIdleTime; LRU words).
    public static func idleMilliseconds(_ word: UInt32, now: Int64) -> Int64 {
        let clock = lruClock(now), lru = word & lruClockMax
        let seconds = clock >= lru ? clock - lru : clock + (lruClockMax - lru)
        return Int64(seconds) * 1000
    }

    /// The counter after the decay due since its last decrement time (Redis' LFUDecrAndReturn):
    /// one less per `lfu-decay-time` minutes elapsed.
    public static func decayedCounter(_ word: UInt32, now: Int64) -> UInt32 {
        let ldt = word >> 8, counter = word & 0xFF
        let nowMinutes = minutes(now)
        let elapsed = nowMinutes >= ldt ? nowMinutes - ldt : 65535 - ldt + nowMinutes
        let decay = lfuDecayTime.load(ordering: .relaxed)
        let periods = decay > 0 ? elapsed / UInt32(decay) : 0
        return periods > counter ? 0 : counter - periods
    }

    /// Redis' LFULogIncr: the counter grows with probability 1 / ((counter - 5) * factor + 1),
    /// so 255 stands for about a million accesses at the default factor 10.
    static func logIncrement(_ counter: UInt32, random: inout UInt64) -> UInt32 {
        if counter == 255 { return 255 }
        let base = counter > lfuInitialCounter ? Double(counter - lfuInitialCounter) : 0
        let p = 1.0 / (base * Double(lfuLogFactor.load(ordering: .relaxed)) + 1)
        random ^= random << 13; random ^= random >> 7; random ^= random << 17
        return Double(random >> 11) * 0x1p-53 < p ? counter + 1 : counter
    }
}
