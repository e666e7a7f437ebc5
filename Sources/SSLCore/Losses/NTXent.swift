// SimCLR's NT-Xent loss: the protocol, its result, shape rules, and the Double reference with its
// hand-derived backward.
import Foundation

/// SimCLR's normalised-temperature cross-entropy (NT-Xent).
///
/// Chen, Kornblith, Norouzi, Hinton, *A Simple Framework for Contrastive Learning of Visual
/// Representations* (ICML 2020), following the official `google-research/simclr`,
/// `tf2/objective.py`, `add_contrastive_loss`. With the two views stacked,
///
///     z = normalize(concat(z1, z2))                  (2N, D), F.normalize with eps 1e-12
///     S_ij = ⟨z_i, z_j⟩ / T,  j ≠ i                  the diagonal is left out of the softmax
///     L = (1/2N) Σ_i [ log Σ_{j≠i} exp(S_ij) − S_i,p(i) ]
///
/// where p(i) is row i's partner: row i of z1 pairs with row i of z2 (p(i) = i ± N).
/// Default T = 0.1 (SimCLR's ImageNet setting).
///
/// Where the official code differs: it returns `mean(loss_a + loss_b)`, the *sum* of the two
/// directions' means, i.e. twice this value; this definition averages over all 2N rows (the
/// paper's 1/2N). It masks the diagonal by subtracting 1e9 from the logits, which is the same
/// exclusion in exact arithmetic; and it normalises with `tf.math.l2_normalize`
/// (x / sqrt(max(Σx², 1e-12))) where this uses F.normalize (x / max(‖x‖, 1e-12)), which differ
/// only for rows of norm below 1e-6.
///
/// ```swift
/// let r = try backend.ntXent(z1, z2, temperature: NTXentReference.defaultTemperature)
/// print(try backend.download(r.loss), r.dZ1.shape)   // [loss], [N, D]
/// ```
public protocol NTXentOps {
    /// The NT-Xent loss of two views and its gradients.
    /// - Parameters:
    ///   - z1: `(N, D)`, N ≥ 1, the first view's embeddings (raw, not normalised).
    ///   - z2: `(N, D)`, the second view's; row i is the positive of row i of `z1`.
    ///   - temperature: T > 0.
    ///   - algorithm: how a device schedules it (``NTXentAlgorithm``); the same values up to rounding.
    /// - Returns: the loss (shape `[]`) and dZ1, dZ2 `(N, D)` w.r.t. the raw inputs.
    func ntXent(_ z1: Tensor, _ z2: Tensor, temperature: Float, algorithm: NTXentAlgorithm) throws -> NTXentResult
}

extension NTXentOps {
    /// ``ntXent(_:_:temperature:algorithm:)`` with the ``NTXentAlgorithm/automatic`` choice.
    public func ntXent(_ z1: Tensor, _ z2: Tensor, temperature: Float) throws -> NTXentResult {
        try ntXent(z1, z2, temperature: temperature, algorithm: .automatic)
    }
}

/// How the OpenCL backend computes NT-Xent; both algorithms give the same loss and gradients up
/// to rounding, and the reference backend computes the definition whatever is asked.
///
/// For R = 2N stacked rows of D features both do about 6·R²·D flops when D ≤ 128 (forward
/// S = ẑẑᵀ, backward dS·ẑ and dSᵀ·ẑ, or the fused backward's recomputed S and W·ẑ).
/// ``gemm`` writes and rereads the R×R logits and their gradient (4·R² floats of traffic, R² of
/// memory: 256 MiB at N = 4096); ``fused`` keeps only 2 floats a row. The fused backward
/// recomputes S once per 128 columns of D, so above D = 256 its flops grow as D²: there the
/// GEMMs are the better use of the device, and R×R is no longer large next to the R×D inputs.
/// On a CPU device (PoCL) the fused kernels ran 3–4× slower than CLBlast's GEMMs (local memory
/// and barriers are emulated there, and R×R fits in host memory). No GPU has timed them yet, so
/// ``automatic`` keeps the GEMMs, the path CLBlast backs, wherever R×R fits one buffer.
public enum NTXentAlgorithm: String, CaseIterable, Sendable {
    /// ``gemm``, or ``fused`` where the R×R similarities exceed the device's largest buffer or
    /// the device's tuning file measured it faster (``TunedPaths/ntXent``).
    case automatic = "auto"
    /// Flash-attention style (Kernels/contrastive.cl, ntxent_fused_*): an online log-sum-exp
    /// over tiles of the logits in local memory, storing only each row's log-sum-exp and
    /// positive logit; the backward recomputes each tile's softmax from them.
    case fused
    /// CLBlast GEMMs for S = ẑẑᵀ and the gradient's dS·ẑ and dSᵀ·ẑ around one row kernel.
    case gemm

    /// ``automatic`` resolved for `rows` = 2N stacked rows on a device whose largest buffer is
    /// `maxAllocationBytes`: `preferred` (a device's measured choice, ``TunedPaths/ntXent``)
    /// wherever the similarities fit, else fused.
    public func resolved(rows: Int, maxAllocationBytes: Int, preferred: NTXentAlgorithm = .gemm) -> NTXentAlgorithm {
        guard self == .automatic else { return self }
        let (square, overflow) = rows.multipliedReportingOverflow(by: rows)
        return !overflow && square <= maxAllocationBytes / 4 && preferred != .fused ? .gemm : .fused
    }
}

/// What ``NTXentOps/ntXent(_:_:temperature:algorithm:)`` returns.
public struct NTXentResult {
    /// The mean loss over the 2N rows, a scalar (shape `[]`).
    public let loss: Tensor
    /// dL/dz1, `(N, D)`.
    public let dZ1: Tensor
    /// dL/dz2, `(N, D)`.
    public let dZ2: Tensor
    /// What computed them: ``NTXentAlgorithm/fused`` or ``NTXentAlgorithm/gemm`` on a device,
    /// ``NTXentAlgorithm/automatic`` on the reference backend (the definition).
    public let algorithm: NTXentAlgorithm
}

/// NT-Xent in Double on row-major `[Double]`: the reference backend's implementation and the
/// finite-difference ground truth.
public enum NTXentReference {
    /// SimCLR's temperature for ImageNet.
    public static let defaultTemperature: Float = 0.1

    /// What ``backward(_:)`` rereads.
    public struct Cache {
        /// The sizes (N, D) and T of the forward call.
        public let n: Int, d: Int, temperature: Double
        /// concat(z1, z2), `(2N, D)`, for the normalisation's backward.
        public let z: [Double]
        /// normalize(z), `(2N, D)`.
        public let zHat: [Double]
        /// Softmax over j ≠ i of row i's logits, `(2N, 2N)`, 0 on the diagonal.
        public let probabilities: [Double]
    }

    /// The shape rules of both backends: returns (N, D).
    static func validate(_ z1: [Int], _ z2: [Int], temperature: Float) throws -> (n: Int, d: Int) {
        let (n, d) = try Shapes.matrix(z1, op: "ntXent", name: "z1")
        _ = try Shapes.matrix(z2, op: "ntXent", name: "z2")
        try Shapes.same(z1, z2, op: "ntXent", names: ("z1", "z2"))
        try ContrastiveRules.temperature(temperature, op: "ntXent")
        return (n, d)
    }

    /// Row i's positive: the same sample in the other view.
    @inline(__always)
    static func partner(_ i: Int, n: Int) -> Int { i < n ? i + n : i - n }

    /// - Parameters: z1, z2: `(N, D)` row-major.
    public static func forward(z1: [Double], z2: [Double], n: Int, d: Int,
                               temperature: Double) -> (loss: Double, cache: Cache) {
        let rows = 2 * n
        let z = z1 + z2
        let zHat = L2Normalize.forward(z, rows: rows, cols: d, eps: Double(ContrastiveRules.normalizeEps))
        var probabilities = [Double](repeating: 0, count: rows * rows)
        var loss = 0.0
        for i in 0..<rows {
            var logits = [Double](repeating: -.infinity, count: rows)  // −∞ on the diagonal: excluded
            for j in 0..<rows where j != i { logits[j] = rowDot(zHat, i, zHat, j, d) / temperature }
            let lse = logSumExp(logits)
            loss += lse - logits[partner(i, n: n)]
            for j in 0..<rows where j != i { probabilities[i * rows + j] = exp(logits[j] - lse) }
        }
        return (loss / Double(rows), Cache(n: n, d: d, temperature: temperature, z: z, zHat: zHat,
                                           probabilities: probabilities))
    }

    /// - Returns: dZ1, dZ2 `(N, D)`.
    public static func backward(_ cache: Cache) -> (dZ1: [Double], dZ2: [Double]) {
        let n = cache.n, d = cache.d, rows = 2 * n
        // dL/dS_ij = (p_ij − [j = p(i)]) / 2N, 0 on the diagonal.
        var dS = cache.probabilities
        for i in 0..<rows {
            dS[i * rows + partner(i, n: n)] -= 1
            for j in 0..<rows { dS[i * rows + j] /= Double(rows) }
        }
        // S = ẑẑᵀ/T, so dẑ_i = (1/T) Σ_j (dS_ij + dS_ji) ẑ_j: row i appears as query and as key.
        var dZHat = [Double](repeating: 0, count: rows * d)
        for i in 0..<rows {
            for j in 0..<rows {
                let w = (dS[i * rows + j] + dS[j * rows + i]) / cache.temperature
                if w == 0 { continue }
                for c in 0..<d { dZHat[i * d + c] += w * cache.zHat[j * d + c] }
            }
        }
        // Through the normalisation: dz = (dẑ − ẑ⟨ẑ, dẑ⟩) / ‖z‖.
        let dZ = L2Normalize.backward(x: cache.z, dY: dZHat, rows: rows, cols: d,
                                      eps: Double(ContrastiveRules.normalizeEps))
        return (Array(dZ[0..<(n * d)]), Array(dZ[(n * d)...]))
    }
}
