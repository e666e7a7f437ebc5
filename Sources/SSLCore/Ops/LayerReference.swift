// The layers' ops in Double on row-major [Double]: bias, activations, batch normalisation and
// global average pooling here; convolution and pooling in LayerReference+Convolution.swift and
// LayerReference+Pooling.swift. The reference backend's arithmetic, and the ground truth of the
// finite-difference tests.
import Foundation

/// The ops of ``LayerOps`` in Double, each forward with its hand-derived backward (llm.c style).
///
/// Tensors are row-major `[Double]`; `(N, C, inner)` views a tensor `(N, C, …)` with
/// `inner` = the product of the trailing axes (1 for `(N, F)`, H·W for images).
public enum LayerReference {
    // MARK: - Bias

    /// `x[n, c, s] + bias[c]` over `(N, C, inner)`.
    public static func addBias(_ x: [Double], bias: [Double], n: Int, c: Int, inner: Int) -> [Double] {
        var y = x
        for i in 0..<y.count { y[i] += bias[i / inner % c] }
        return y
    }

    /// `Σ_{n,s} dY[n, c, s]`, `(C)`.
    public static func biasBackward(_ dY: [Double], n: Int, c: Int, inner: Int) -> [Double] {
        var dBias = [Double](repeating: 0, count: c)
        for i in 0..<dY.count { dBias[i / inner % c] += dY[i] }
        return dBias
    }

    // MARK: - Activations

    /// `max(x, 0)`; NaN stays NaN, as `torch.relu`.
    public static func relu(_ x: [Double]) -> [Double] { x.map { $0 < 0 ? 0 : $0 } }

    /// `dY · [x > 0]`.
    public static func reluBackward(_ x: [Double], _ dY: [Double]) -> [Double] {
        zip(x, dY).map { $0 > 0 ? $1 : 0 }
    }

    /// `x · Φ(x)`, Φ(x) = (1 + erf(x/√2))/2.
    public static func gelu(_ x: [Double]) -> [Double] { x.map { $0 * 0.5 * (1 + erf($0 / 2.0.squareRoot())) } }

    /// `dY · (Φ(x) + x · φ(x))`, φ(x) = exp(−x²/2)/√(2π).
    public static func geluBackward(_ x: [Double], _ dY: [Double]) -> [Double] {
        zip(x, dY).map { v, g in
            g * (0.5 * (1 + erf(v / 2.0.squareRoot())) + v * exp(-v * v / 2) / (2 * Double.pi).squareRoot())
        }
    }

    // MARK: - Batch normalisation

    /// What ``batchNorm(_:n:c:inner:gamma:beta:running:training:momentum:eps:)`` returns.
    public struct BatchNormOutput {
        /// γ · x̂ + β, `(N, C, inner)`.
        public let y: [Double]
        /// x̂, `(N, C, inner)`: what the backward rereads, with ``rstd``.
        public let normalized: [Double]
        /// The μ and rstd used, `(C)` each.
        public let mean: [Double], rstd: [Double]
        /// The updated running mean and variance in training, the given ones in evaluation.
        public let running: (mean: [Double], variance: [Double])?
    }

    /// Batch normalisation per channel over the M = N · inner values of each channel; see
    /// ``LayerOps/batchNormalization(_:gamma:beta:running:training:momentum:eps:)``. Two passes
    /// for the variance (no E[x²] − E[x]²). In evaluation `running` must be given.
    public static func batchNorm(_ x: [Double], n: Int, c: Int, inner: Int, gamma: [Double]?, beta: [Double]?,
                                 running: (mean: [Double], variance: [Double])?, training: Bool,
                                 momentum: Double, eps: Double) -> BatchNormOutput {
        let m = Double(n * inner)
        var mean = [Double](repeating: 0, count: c), variance = mean
        var updated = running
        if training {
            for i in 0..<x.count { mean[i / inner % c] += x[i] }
            mean = mean.map { $0 / m }
            for i in 0..<x.count {
                let d = x[i] - mean[i / inner % c]
                variance[i / inner % c] += d * d
            }
            variance = variance.map { $0 / m }
            if let r = running {
                // PyTorch keeps the unbiased variance: σ² · M/(M − 1).
                updated = ((0..<c).map { (1 - momentum) * r.mean[$0] + momentum * mean[$0] },
                           (0..<c).map { (1 - momentum) * r.variance[$0] + momentum * variance[$0] * m / (m - 1) })
            }
        } else {
            guard let r = running else { preconditionFailure("batch norm in evaluation needs running statistics") }
            (mean, variance) = (r.mean, r.variance)
        }
        let rstd = variance.map { 1 / ($0 + eps).squareRoot() }
        var normalized = x, y = x
        for i in 0..<x.count {
            let ch = i / inner % c
            normalized[i] = (x[i] - mean[ch]) * rstd[ch]
            y[i] = normalized[i] * (gamma?[ch] ?? 1) + (beta?[ch] ?? 0)
        }
        return BatchNormOutput(y: y, normalized: normalized, mean: mean, rstd: rstd, running: updated)
    }

    /// The batch-norm backward; see
    /// ``LayerOps/batchNormalizationBackward(_:normalized:rstd:gamma:training:dGamma:dBeta:)``.
    /// - Returns: dX `(N, C, inner)`, dγ and dβ `(C)` (computed whether or not there is affine).
    public static func batchNormBackward(_ dY: [Double], normalized: [Double], rstd: [Double], gamma: [Double]?,
                                         n: Int, c: Int, inner: Int, training: Bool)
        -> (dX: [Double], dGamma: [Double], dBeta: [Double]) {
        let m = Double(n * inner)
        var dBeta = [Double](repeating: 0, count: c), dGamma = dBeta
        for i in 0..<dY.count {
            dBeta[i / inner % c] += dY[i]
            dGamma[i / inner % c] += dY[i] * normalized[i]
        }
        var dX = dY
        for i in 0..<dY.count {
            let ch = i / inner % c
            let scale = (gamma?[ch] ?? 1) * rstd[ch]
            // Through μ: −mean(dy); through σ²: −x̂ · mean(dy · x̂). Constants in evaluation.
            dX[i] = training ? scale * (dY[i] - dBeta[ch] / m - normalized[i] * dGamma[ch] / m) : scale * dY[i]
        }
        return (dX, dGamma, dBeta)
    }

    // MARK: - Batch normalisation over a batch split across ranks

    /// One rank's per-channel mean and M2 = Σ (x − mean)² over its M_r = N · inner values; see
    /// ``LayerOps/batchNormalizationMoments(_:)``.
    public static func batchNormMoments(_ x: [Double], n: Int, c: Int, inner: Int) -> (mean: [Double], m2: [Double]) {
        var mean = [Double](repeating: 0, count: c), m2 = mean
        for i in 0..<x.count { mean[i / inner % c] += x[i] }
        mean = mean.map { $0 / Double(n * inner) }
        for i in 0..<x.count {
            let d = x[i] - mean[i / inner % c]
            m2[i / inner % c] += d * d
        }
        return (mean, m2)
    }

    /// x̂ = (x − mean) · rstd and y = γ · x̂ + β with given statistics; see
    /// ``LayerOps/batchNormalization(_:gamma:beta:mean:rstd:)``.
    public static func batchNorm(_ x: [Double], n: Int, c: Int, inner: Int, gamma: [Double]?, beta: [Double]?,
                                 mean: [Double], rstd: [Double]) -> (y: [Double], normalized: [Double]) {
        var normalized = x, y = x
        for i in 0..<x.count {
            let ch = i / inner % c
            normalized[i] = (x[i] - mean[ch]) * rstd[ch]
            y[i] = normalized[i] * (gamma?[ch] ?? 1) + (beta?[ch] ?? 0)
        }
        return (y, normalized)
    }

    /// Σ dy and Σ dy · x̂ per channel (dβ and dγ); see ``LayerOps/batchNormalizationBackwardSums(_:normalized:)``.
    public static func batchNormBackwardSums(_ dY: [Double], normalized: [Double], n: Int, c: Int,
                                             inner: Int) -> (dY: [Double], dYNormalized: [Double]) {
        var sumDY = [Double](repeating: 0, count: c), sumDYNormalized = sumDY
        for i in 0..<dY.count {
            sumDY[i / inner % c] += dY[i]
            sumDYNormalized[i / inner % c] += dY[i] * normalized[i]
        }
        return (sumDY, sumDYNormalized)
    }

    /// dx = γ · rstd · (dy − Σdy/M − x̂ · Σ(dy·x̂)/M) from the group's sums and count M; see
    /// ``LayerOps/batchNormalizationBackward(_:normalized:rstd:gamma:sums:count:)``.
    public static func batchNormBackward(_ dY: [Double], normalized: [Double], rstd: [Double], gamma: [Double]?,
                                         sums: (dY: [Double], dYNormalized: [Double]), count: Int,
                                         n: Int, c: Int, inner: Int) -> [Double] {
        let m = Double(count)
        var dX = dY
        for i in 0..<dY.count {
            let ch = i / inner % c
            dX[i] = (gamma?[ch] ?? 1) * rstd[ch] * (dY[i] - sums.dY[ch] / m - normalized[i] * sums.dYNormalized[ch] / m)
        }
        return dX
    }

    // MARK: - Global average pooling

    /// `(N·C, HW)` → `(N·C)`: the mean of each plane.
    public static func globalAvgPool(_ x: [Double], planes: Int, planeSize: Int) -> [Double] {
        (0..<planes).map { p in x[(p * planeSize)..<((p + 1) * planeSize)].reduce(0, +) / Double(planeSize) }
    }

    /// `dX[p, s] = dY[p] / HW`.
    public static func globalAvgPoolBackward(_ dY: [Double], planeSize: Int) -> [Double] {
        (0..<(dY.count * planeSize)).map { dY[$0 / planeSize] / Double(planeSize) }
    }
}
