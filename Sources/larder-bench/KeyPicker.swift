// Seeded random numbers and key-index distributions (uniform, Zipf).
import Glibc

/// xoshiro256** seeded through SplitMix64: fast, and the same sequence for the same --seed.
struct BenchRNG {
    private var s0: UInt64, s1: UInt64, s2: UInt64, s3: UInt64

    init(seed: UInt64) {
        var x = seed
        func splitmix() -> UInt64 {
            x &+= 0x9E37_79B9_7F4A_7C15
            var z = x
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        s0 = splitmix(); s1 = splitmix(); s2 = splitmix(); s3 = splitmix()
    }

    mutating func next() -> UInt64 {
        let result = ((s1 &* 5) << 7 | (s1 &* 5) >> 57) &* 9
        let t = s1 << 17
        s2 ^= s0; s3 ^= s1; s1 ^= s2; s0 ^= s3
        s2 ^= t
        s3 = (s3 << 45) | (s3 >> 19)
        return result
    }

    /// Uniform in [0, 1).
    mutating func nextDouble() -> Double { Double(next() >> 11) * 0x1.0p-53 }

    /// Uniform in [0, n) (Lemire's multiply-shift; the bias is below 2^-40 for any keyspace used here).
    mutating func next(below n: Int) -> Int {
        Int((UInt64(n).multipliedFullWidth(by: next())).high)
    }
}

/// Zipf over ranks 1...n with exponent s > 0, by rejection-inversion (Hörmann & Derflinger 1996,
/// as in Apache Commons' RejectionInversionZipfSampler): O(1) memory and time per sample.
/// P(rank k) is proportional to 1 / k^s.
struct ZipfSampler {
    let n: Double
    let exponent: Double
    private let hIntegralX1: Double
    private let hIntegralN: Double
    private let sSquash: Double

    init(n: Int, exponent: Double) {
        precondition(n >= 1 && exponent > 0)
        self.n = Double(n)
        self.exponent = exponent
        hIntegralX1 = Self.hIntegral(1.5, exponent) - 1.0
        hIntegralN = Self.hIntegral(Double(n) + 0.5, exponent)
        sSquash = 2.0 - Self.hIntegralInverse(Self.hIntegral(2.5, exponent) - Self.h(2.0, exponent), exponent)
    }

    /// A rank in 1...n.
    func sample(_ rng: inout BenchRNG) -> Int {
        while true {
            let u = hIntegralN + rng.nextDouble() * (hIntegralX1 - hIntegralN)
            let x = Self.hIntegralInverse(u, exponent)
            var k = (x + 0.5).rounded(.down)
            if k < 1 { k = 1 } else if k > n { k = n }
            if k - x <= sSquash || u >= Self.hIntegral(k + 0.5, exponent) - Self.h(k, exponent) {
                return Int(k)
            }
        }
    }

    // H(x) = integral of h(x) = x^-s, written so that s = 1 needs no special case.
    private static func hIntegral(_ x: Double, _ s: Double) -> Double {
        let logX = log(x)
        return helper2((1.0 - s) * logX) * logX
    }
    private static func h(_ x: Double, _ s: Double) -> Double { exp(-s * log(x)) }
    private static func hIntegralInverse(_ x: Double, _ s: Double) -> Double {
        var t = x * (1.0 - s)
        if t < -1.0 { t = -1.0 }  // rounding guard, as in the reference implementation
        return exp(helper1(t) * x)
    }
    /// log1p(x) / x, accurate near 0.
    private static func helper1(_ x: Double) -> Double {
        abs(x) > 1e-8 ? log1p(x) / x : 1.0 - x * (0.5 - x * (1.0 / 3.0 - 0.25 * x))
    }
    /// expm1(x) / x, accurate near 0.
    private static func helper2(_ x: Double) -> Double {
        abs(x) > 1e-8 ? expm1(x) / x : 1.0 + x * 0.5 * (1.0 + x * (1.0 / 3.0) * (1.0 + 0.25 * x))
    }
}

enum KeyDistribution: String, CaseIterable {
    case uniform, zipf
}

/// Picks key indexes in 0..<keyspace. With Zipf, rank 1 (the hottest) is key 0, rank 2 key 1, ...
/// The server hashes keys, so hot keys still spread over its shards.
struct KeyPicker {
    let keyspace: Int
    private var rng: BenchRNG
    private let zipf: ZipfSampler?

    init(keyspace: Int, distribution: KeyDistribution, zipfExponent: Double, seed: UInt64) {
        self.keyspace = keyspace
        rng = BenchRNG(seed: seed)
        zipf = distribution == .zipf ? ZipfSampler(n: keyspace, exponent: zipfExponent) : nil
    }

    mutating func next() -> Int {
        if let zipf { return zipf.sample(&rng) - 1 }
        return rng.next(below: keyspace)
    }

    mutating func nextDouble() -> Double { rng.nextDouble() }
}
