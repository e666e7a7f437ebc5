// SeLA: self-labelling by an equipartition constrained optimal transport (Asano et al. 2020).
import Foundation

/// SeLA, "Self-labelling via simultaneous clustering and representation learning" (Asano, Rupprecht
/// and Vedaldi, ICLR 2020), following yukimasano/self-label `sinkhornknopp.py` (`cpu_sk` →
/// `optimize_L_sk`) and `main.py`.
///
/// **Pseudo-labels** over the whole data set, logits `(N, K)`: with P = softmax(logits)ᵀ `(K, N)`,
///
///     P ← P^λ                                                            (λ = 25)
///     c = 1/N;  repeat:  r = (1/K) / (P c),  c_new = (1/N) / (rᵀ P)ᵀ,
///                        every 10th step (0, 10, 20, …): err = Σ_n |c_n / c_new,n − 1|;  c = c_new
///               until err ≤ 0.1 (the official `while err > 1e-1`), or `maxIterations` steps
///     plan = diag(r) P diag(c)  (its entries sum to 1; each sample's column sums to 1/N)
///     y_n  = argmax_k plan_kn   (lowest k on ties, as `np.nanargmax`)
///
/// Here the same steps run in the log domain: P^λ = exp(λ·log_softmax(logits)), so with
/// α = log r and β = log c each step is one pass of the Sinkhorn kernels of `Kernels/sinkhorn.cl`
/// (`sinkhorn(logSoftmax(logits), epsilon: 1/λ, …)`, whose duals are exactly these) and
/// c/c_new = exp(β − β_new). The plan is returned as `(N, K)` (the official `PS.T`).
///
/// **Objective**: cross-entropy of the logits on the labels, mean over the batch, and its
/// gradient (`nn.CrossEntropyLoss`, as DeepCluster; see ``PseudoLabelCrossEntropy``).
///
/// **Differences from the official code.** The official loop has no iteration cap; here
/// `maxIterations` bounds it (the statistic needs a host read every 10 steps, the one host
/// decision of this op). The official code runs in float64; the OpenCL backend runs in float32 in
/// the log domain, which stays finite where 0-underflow of P^λ would give NaN (`nansum`). Several
/// heads (`hc > 1`) are several calls.
public protocol SeLAOps {
    /// SeLA's pseudo-labels by Sinkhorn-Knopp with an equal-partition constraint.
    ///
    /// - Parameters:
    ///   - logits: `(N, K)`, the classifier's outputs over the whole data set.
    ///   - lambda: λ > 0, the power of the softmax (the paper's 25).
    ///   - maxIterations: ≥ 1, a cap on the Sinkhorn steps.
    func selaPseudoLabels(logits: Tensor, lambda: Float, maxIterations: Int) throws -> SeLALabels

    /// Cross-entropy of `logits` `(N, K)` on `labels` (N values in 0..<K), mean over the batch,
    /// and its gradient w.r.t. the logits.
    func selaLoss(logits: Tensor, labels: [Int]) throws -> CrossEntropyResult
}

extension SeLAOps {
    /// ``selaPseudoLabels(logits:lambda:maxIterations:)`` with λ = 25 and at most 1000 steps.
    public func selaPseudoLabels(logits: Tensor) throws -> SeLALabels {
        try selaPseudoLabels(logits: logits, lambda: SeLAReference.defaultLambda,
                             maxIterations: SeLAReference.defaultMaxIterations)
    }
}

/// What ``SeLAOps/selaPseudoLabels(logits:lambda:maxIterations:)`` returns.
public struct SeLALabels {
    /// The label of each sample, in 0..<K.
    public let labels: [Int]
    /// The transport plan `(N, K)`; each row sums to 1/N.
    public let plan: Tensor
    /// Sinkhorn steps taken (the official `_counter`).
    public let iterations: Int
    /// The last stopping statistic computed, Σ_n |c_n/c_new,n − 1| (the official `err`).
    public let error: Double
}

/// SeLA's pseudo-labels in Double on row-major `[Double]`: the reference backend's
/// implementation; also the shape rules both backends share.
public enum SeLAReference {
    public static let defaultLambda: Float = 25
    public static let defaultMaxIterations = 1000
    /// The official stopping rule: `while err > 1e-1`, err computed every 10th step.
    public static let tolerance = 0.1
    public static let checkEvery = 10

    static func validate(logits: [Int], lambda: Float, maxIterations: Int) throws -> (n: Int, k: Int) {
        let (n, k) = try Shapes.matrix(logits, op: "selaPseudoLabels", name: "logits")
        guard lambda > 0, lambda.isFinite else {
            throw SSLError.invalidArgument(op: "selaPseudoLabels", detail: "lambda must be a positive finite number, got \(lambda)")
        }
        guard maxIterations >= 1 else {
            throw SSLError.invalidArgument(op: "selaPseudoLabels", detail: "maxIterations must be at least 1, got \(maxIterations)")
        }
        return (n, k)
    }

    /// The official Sinkhorn-Knopp in the log domain; see ``SeLAOps`` for the steps.
    public static func pseudoLabels(logits: [Double], n: Int, k: Int, lambda: Double, maxIterations: Int)
        -> (labels: [Int], plan: [Double], iterations: Int, error: Double) {
        // M = λ·log_softmax(logits) = log P^λ, (N, K).
        var m = [Double](repeating: 0, count: n * k)
        for r in 0..<n {
            let row = Array(logits[(r * k)..<((r + 1) * k)])
            let lse = logSumExp(row)
            for j in 0..<k { m[r * k + j] = lambda * (row[j] - lse) }
        }
        var alpha = [Double](repeating: 0, count: k)                  // log r
        var beta = [Double](repeating: -log(Double(n)), count: n)     // log c, c = 1/N
        var iterations = 0, error = Double.infinity
        while iterations < maxIterations {
            let check = iterations % checkEvery == 0
            let old = beta
            SinkhornReference.updatePrototypes(m, rows: n, cols: k, beta: beta, alpha: &alpha)
            SinkhornReference.updateSamples(m, rows: n, cols: k, alpha: alpha, beta: &beta)
            iterations += 1
            if check {
                error = zip(old, beta).reduce(0.0) { $0 + abs(exp($1.0 - $1.1) - 1) }
                if error <= tolerance { break }
            }
        }
        let plan = SinkhornReference.plan(m, rows: n, cols: k, alpha: alpha, beta: beta, logScale: 0)
        let labels = (0..<n).map { r in
            (0..<k).reduce(0) { best, j in plan[r * k + j] > plan[r * k + best] ? j : best }
        }
        return (labels, plan, iterations, error)
    }
}
