// Deterministic inputs: the same shape gives the same values on every machine and every run,
// so timings and errors of two devices describe the same data.
import SSLCore

/// A host matrix of uniform values in [-1, 1), the stream chosen by `seed`.
func randomMatrix(_ shape: [Int], seed: UInt64) -> HostInput {
    var generator = SplitMix64(seed: seed)
    let values = (0..<shape.reduce(1, *)).map { _ in generator.signedFloat() }
    return HostInput(values: values, shape: shape)
}

/// One input of a workload, before it is uploaded to a backend.
struct HostInput {
    let values: [Float]
    let shape: [Int]
}

extension Array where Element == HostInput {
    /// Each input as a tensor of its shape on `backend`.
    func upload(to backend: any Backend) throws -> [Tensor] {
        try map { try backend.upload($0.values, shape: $0.shape) }
    }
}
