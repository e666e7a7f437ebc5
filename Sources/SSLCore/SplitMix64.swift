// The one seeded generator of the library, tests and benchmark.
import Foundation

/// SplitMix64 (Steele, Lea & Flood 2014): a tiny seeded generator with the same sequence on
/// every platform; the standard library's generator is seeded randomly and cannot be reproduced.
public struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in (0, 1].
    public mutating func unit() -> Double { Double((next() >> 11) + 1) * 0x1p-53 }

    /// Uniform in [-1, 1): the top 24 bits, exactly representable as a Float.
    public mutating func signedFloat() -> Float { Float(next() >> 40) * (2 / Float(1 << 24)) - 1 }

    /// Uniform in 0..<bound by the high word of next() · bound (bias below bound/2⁶⁴).
    public mutating func below(_ bound: Int) -> Int {
        Int(next().multipliedFullWidth(by: UInt64(bound)).high)
    }

    /// Standard normal by Box–Muller (the cosine branch).
    public mutating func gaussian() -> Double { (-2 * log(unit())).squareRoot() * cos(2 * .pi * unit()) }
}
