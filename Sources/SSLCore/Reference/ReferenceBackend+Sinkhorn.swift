// Reference Sinkhorn-Knopp: the same log-domain dual updates as Kernels/sinkhorn.cl, in Double.
import Foundation

extension ReferenceBackend {
    public func sinkhorn(_ scores: Tensor, epsilon: Float, iterations: Int) throws -> Tensor {
        let (bCount, kCount) = try Shapes.sinkhorn(scores.shape, epsilon: epsilon, iterations: iterations)
        let s = try values(scores, op: "sinkhorn").map(Double.init)
        let codes = SinkhornReference.codes(s, rows: bCount, cols: kCount, epsilon: Double(epsilon), iterations: iterations)
        return make(codes.map(Float.init), [bCount, kCount])
    }
}

/// The log-domain Sinkhorn-Knopp of `Kernels/sinkhorn.cl` in Double on `[Double]` (row-major),
/// shared by the reference backend's `sinkhorn` and the clustering objectives (SwAV, SeLA).
///
/// With `M = S/ε` (B×K) the plan is `exp(M_bk + α_k + β_b)`; one iteration updates the
/// prototype duals α (each prototype's mass becomes 1/K) and then the sample duals β (each
/// sample's mass becomes 1/B).
public enum SinkhornReference {
    /// α_k = −logsumexp_b(M_bk + β_b) − log K.
    static func updatePrototypes(_ m: [Double], rows: Int, cols: Int, beta: [Double], alpha: inout [Double]) {
        let logK = log(Double(cols))
        for k in 0..<cols { alpha[k] = -logSumExp((0..<rows).map { m[$0 * cols + k] + beta[$0] }) - logK }
    }

    /// β_b = −logsumexp_k(M_bk + α_k) − log B.
    static func updateSamples(_ m: [Double], rows: Int, cols: Int, alpha: [Double], beta: inout [Double]) {
        let logB = log(Double(rows))
        for b in 0..<rows { beta[b] = -logSumExp((0..<cols).map { m[b * cols + $0] + alpha[$0] }) - logB }
    }

    /// The plan `exp(M + α + β + logScale)` (B×K); `logScale = log B` gives SwAV's codes.
    static func plan(_ m: [Double], rows: Int, cols: Int, alpha: [Double], beta: [Double], logScale: Double) -> [Double] {
        var q = [Double](repeating: 0, count: rows * cols)
        for b in 0..<rows {
            for k in 0..<cols { q[b * cols + k] = exp(m[b * cols + k] + alpha[k] + beta[b] + logScale) }
        }
        return q
    }

    /// SwAV's codes of scores `(rows, cols)`: each row sums to 1 after the last sample update.
    ///
    /// The last sample update and the plan are one step: with t = M_b + α, β_b + log B = −lse(t),
    /// so row b of the codes is softmax(t). Computed so, from the same t, a row sums to 1 even
    /// where |S|/ε is so large (ε = 1e-17) that M + α keeps no digits below 1: adding β to the
    /// rounded M + α separately left rows summing to up to 12.
    public static func codes(_ scores: [Double], rows: Int, cols: Int, epsilon: Double, iterations: Int) -> [Double] {
        let m = scores.map { $0 / epsilon }
        var alpha = [Double](repeating: 0, count: cols), beta = [Double](repeating: 0, count: rows)
        for iteration in 0..<iterations {
            updatePrototypes(m, rows: rows, cols: cols, beta: beta, alpha: &alpha)
            if iteration < iterations - 1 { updateSamples(m, rows: rows, cols: cols, alpha: alpha, beta: &beta) }
        }
        var codes = [Double](repeating: 0, count: rows * cols)
        for b in 0..<rows {
            let t = (0..<cols).map { m[b * cols + $0] + alpha[$0] }, lse = logSumExp(t)
            for k in 0..<cols { codes[b * cols + k] = exp(t[k] - lse) }
        }
        return codes
    }
}

/// log Σ exp(xᵢ), max-subtracted.
func logSumExp(_ x: [Double]) -> Double {
    guard let top = x.max(), top > -.infinity else { return -.infinity }
    return top + log(x.reduce(0) { $0 + exp($1 - top) })
}
