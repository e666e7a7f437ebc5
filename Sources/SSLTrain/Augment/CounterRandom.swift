// A counter-based random generator: draw k of a key is a pure function of (key, k), so every
// random number of a sample's views can be recomputed anywhere without replaying a sequence.

/// Random numbers addressed by a key and a counter, not drawn from a running state.
///
/// The key hashes (seed, epoch, global sample index, stream); draw `k` is the SplitMix64
/// finaliser (Steele, Lea, Flood 2014) of `key + (k + 1)·φ`, φ = 0x9E3779B97F4A7C15, which is
/// SplitMix64's k-th output for the state `key`. Because nothing depends on which other samples
/// were drawn before, a sample's augmentations are the same in any batch, on any rank, for any
/// world size, and each parameter can own a fixed counter slot.
///
/// ```swift
/// let random = CounterRandom(seed: 42, epoch: 3, index: 1017, stream: 0)
/// let u = random.uniform(7)            // in [0, 1)
/// ```
public struct CounterRandom: Equatable, Sendable {
    /// The hashed (seed, epoch, index, stream).
    public let key: UInt64

    static let golden: UInt64 = 0x9E37_79B9_7F4A_7C15

    /// - Parameters:
    ///   - seed: the run's seed.
    ///   - epoch: the epoch (any integer; negative values hash like their bit patterns).
    ///   - index: the global sample index in the data set, or any other identifier.
    ///   - stream: separates independent uses of one sample, e.g. its views.
    public init(seed: UInt64, epoch: Int, index: Int, stream: Int = 0) {
        var h = Self.mix(seed &+ Self.golden)
        for part in [epoch, index, stream] { h = Self.mix(h ^ Self.mix(UInt64(bitPattern: Int64(part)) &+ Self.golden)) }
        key = h
    }

    /// The SplitMix64 finaliser: a bijection of UInt64 with full avalanche.
    @inlinable
    public static func mix(_ value: UInt64) -> UInt64 {
        var z = value
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// 64 random bits at `counter`.
    public func bits(_ counter: UInt64) -> UInt64 { Self.mix(key &+ (counter &+ 1) &* Self.golden) }

    /// Uniform in [0, 1) with 53 random bits at `counter`.
    public func uniform(_ counter: UInt64) -> Double { Double(bits(counter) >> 11) * 0x1p-53 }

    /// Uniform in [range.lowerBound, range.upperBound) at `counter`, as `torch.empty(1).uniform_(a, b)`.
    public func uniform(_ counter: UInt64, in range: ClosedRange<Double>) -> Double {
        range.lowerBound + (range.upperBound - range.lowerBound) * uniform(counter)
    }

    /// An integer uniform in 0..<bound (bound ≥ 1) at `counter`: Lemire's multiply-high, whose
    /// bias is below bound/2⁶⁴.
    public func below(_ bound: Int, _ counter: UInt64) -> Int {
        precondition(bound >= 1, "CounterRandom.below needs a positive bound")
        return Int(bits(counter).multipliedFullWidth(by: UInt64(bound)).high)
    }

    /// True with probability `p` at `counter` (`torch.rand(1) < p`).
    public func bernoulli(_ p: Double, _ counter: UInt64) -> Bool { uniform(counter) < p }
}
