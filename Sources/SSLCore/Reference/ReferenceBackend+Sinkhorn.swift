// Reference Sinkhorn-Knopp: the same log-domain dual updates as Kernels/sinkhorn.cl, in Double.
import Foundation

extension ReferenceBackend {
    public func sinkhorn(_ scores: Tensor, epsilon: Float, iterations: Int) throws -> Tensor {
        let (bCount, kCount) = try Shapes.sinkhorn(scores.shape, epsilon: epsilon, iterations: iterations)
        let s = try values(scores, op: "sinkhorn")
        let invEps = 1 / Double(epsilon)
        let logK = log(Double(kCount)), logB = log(Double(bCount))
        var alpha = [Double](repeating: 0, count: kCount)
        var beta = [Double](repeating: 0, count: bCount)
        @inline(__always) func m(_ b: Int, _ k: Int) -> Double { Double(s[b * kCount + k]) * invEps }
        for _ in 0..<iterations {
            // Rows of Q = exp(S/ε)ᵀ, i.e. prototypes: each sums to 1/K.
            for k in 0..<kCount {
                alpha[k] = -logSumExp((0..<bCount).map { m($0, k) + beta[$0] }) - logK
            }
            // Columns of Q, i.e. samples: each sums to 1/B.
            for b in 0..<bCount {
                beta[b] = -logSumExp((0..<kCount).map { m(b, $0) + alpha[$0] }) - logB
            }
        }
        var codes = [Float](repeating: 0, count: bCount * kCount)
        for b in 0..<bCount {
            for k in 0..<kCount { codes[b * kCount + k] = Float(exp(m(b, k) + alpha[k] + beta[b] + logB)) }
        }
        return make(codes, [bCount, kCount])
    }
}

/// log Σ exp(xᵢ), max-subtracted.
func logSumExp(_ x: [Double]) -> Double {
    guard let top = x.max(), top > -.infinity else { return -.infinity }
    return top + log(x.reduce(0) { $0 + exp($1 - top) })
}
