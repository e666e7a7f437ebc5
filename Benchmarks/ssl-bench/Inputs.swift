// Deterministic inputs: the same shape gives the same values on every machine and every run,
// so timings and errors of two devices describe the same data.

/// SplitMix64 (Steele, Lea & Flood 2014): tiny, fast, and good enough for benchmark data;
/// the standard library's generator is seeded randomly and cannot be reproduced.
struct SplitMix64 {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in [-1, 1): the top 24 bits, exactly representable as a Float.
    mutating func nextSigned() -> Float {
        Float(next() >> 40) * (2 / Float(1 << 24)) - 1
    }
}

/// A host matrix of uniform values in [-1, 1), the stream chosen by `seed`.
func randomMatrix(_ shape: [Int], seed: UInt64) -> HostInput {
    var generator = SplitMix64(seed: seed)
    let values = (0..<shape.reduce(1, *)).map { _ in generator.nextSigned() }
    return HostInput(values: values, shape: shape)
}

/// One input of a workload, before it is uploaded to a backend.
struct HostInput {
    let values: [Float]
    let shape: [Int]
}
