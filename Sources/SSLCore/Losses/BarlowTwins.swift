// Barlow Twins (Zbontar et al. 2021): the loss on the batch-normalised cross-correlation of two
// views, its backend protocol, its result, its argument checks and its Double reference with the
// hand-derived backward pass.

/// Barlow Twins' redundancy-reduction loss and its gradients.
///
/// Zbontar, Jing, Misra, LeCun, Deny, "Barlow Twins: Self-Supervised Learning via Redundancy
/// Reduction", ICML 2021. Follows the official code, facebookresearch/barlowtwins `main.py`
/// (`BarlowTwins.forward`):
///
///     c = self.bn(z1).T @ self.bn(z2); c.div_(batch_size)
///     on_diag = torch.diagonal(c).add_(-1).pow_(2).sum()
///     off_diag = off_diagonal(c).pow_(2).sum()
///     loss = on_diag + self.args.lambd * off_diag
///
/// with `bn = BatchNorm1d(affine=False)` in training mode (batch statistics, biased variance,
/// eps 1e-5):
///
///     C = BN(z1)ᵀ BN(z2) / N                                   (D, D)
///     L = Σ_i (1 − C_ii)² + λ Σ_{i≠j} C_ij²                    λ = 0.0051 by default
///
/// Differences from the official code: it divides by the global `batch_size` and all-reduces `C`
/// over processes; here there is one process, so the divisor is N. Its in-place
/// `torch.diagonal(c).add_(-1)` overwrites `c`'s diagonal; ``BarlowTwinsResult/c`` is `C` itself.
/// When N < D the OpenCL backend skips C (``RedundancyForm/gram``): see ``BarlowTwinsReference/gramForward(z1:z2:n:d:lambda:eps:)``.
/// N ≥ 2 is required, as `BatchNorm1d` refuses one sample per channel in training.
///
/// ```swift
/// let r = try backend.barlowTwins(z1, z2, lambda: BarlowTwinsReference.defaultLambda,
///                                 eps: BarlowTwinsReference.defaultEps)
/// print(try backend.download(r.loss))
/// ```
public protocol BarlowTwinsOps {
    /// The Barlow Twins loss, the gradients of the loss and (on request) the cross-correlation matrix.
    ///
    /// - Parameters:
    ///   - z1: the first view's embeddings, `(N, D)`, N ≥ 2.
    ///   - z2: the second view's embeddings, `(N, D)`.
    ///   - lambda: the weight λ ≥ 0 of the off-diagonal (redundancy) term.
    ///   - eps: added to the batch variance before the square root (BatchNorm1d's 1e-5).
    ///   - form: through C (D×D) or the batch's Gram matrices (N×N); the same values up to
    ///     rounding (``RedundancyForm``).
    /// - Throws: ``SSLError`` when the shapes differ, N < 2, or λ or eps is negative or not finite.
    func barlowTwins(_ z1: Tensor, _ z2: Tensor, lambda: Float, eps: Float,
                     form: RedundancyForm) throws -> BarlowTwinsResult
}

extension BarlowTwinsOps {
    /// ``barlowTwins(_:_:lambda:eps:form:)`` in the ``RedundancyForm/automatic`` form.
    public func barlowTwins(_ z1: Tensor, _ z2: Tensor, lambda: Float, eps: Float) throws -> BarlowTwinsResult {
        try barlowTwins(z1, z2, lambda: lambda, eps: eps, form: .automatic)
    }
}

/// What ``BarlowTwinsOps/barlowTwins(_:_:lambda:eps:form:)`` returns.
public struct BarlowTwinsResult {
    /// The loss, a scalar (shape `[]`).
    public let loss: Tensor
    /// ∂L/∂z1, `(N, D)`.
    public let dZ1: Tensor
    /// ∂L/∂z2, `(N, D)`.
    public let dZ2: Tensor
    /// The form that computed them: ``RedundancyForm/gram`` or ``RedundancyForm/feature``.
    public let form: RedundancyForm
    private let correlation: LazyTensor

    /// The cross-correlation matrix `C = BN(z1)ᵀ BN(z2) / N`, `(D, D)`. The
    /// ``RedundancyForm/feature`` form computed it on the way; the ``RedundancyForm/gram`` form
    /// allocates it only when this is first read (one GEMM of the batch-normalised views the
    /// result keeps for it), and later reads return the same tensor.
    public var c: Tensor { get throws { try correlation.value() } }

    init(loss: Tensor, dZ1: Tensor, dZ2: Tensor, form: RedundancyForm, c: LazyTensor) {
        (self.loss, self.dZ1, self.dZ2, self.form, self.correlation) = (loss, dZ1, dZ2, form, c)
    }
}

/// The Barlow Twins loss in Double on row-major `[Double]`: the reference backend's arithmetic
/// and the ground truth of the finite-difference tests.
///
/// Backward, by hand (llm.c style: the forward's ``Cache`` holds what the backward rereads):
///
///     dC_ii = 2 (C_ii − 1),   dC_ij = 2 λ C_ij  (i ≠ j)             (loss term)
///     dY1 = Y2 dCᵀ / N,       dY2 = Y1 dC / N                        (C = Y1ᵀ Y2 / N)
///     dz = rstd · (dY − mean_n(dY) − Y · mean_n(dY ⊙ Y))  per column  (batch norm, biased var)
///
/// Here mean_n(dY) is zero, since dY1 and dY2 are combinations of Y2's and Y1's zero-mean columns;
/// ``batchNormBackward(y:rstd:dY:n:d:)`` keeps the term so that it holds for any dY.
public enum BarlowTwinsReference {
    /// The paper's λ.
    public static let defaultLambda: Float = 0.0051
    /// `BatchNorm1d`'s eps.
    public static let defaultEps: Float = 1e-5

    /// The argument checks both backends run before computing anything, so they throw the same
    /// errors for the same inputs. Returns (N, D).
    static func validate(_ z1: [Int], _ z2: [Int], lambda: Float, eps: Float) throws -> (n: Int, d: Int) {
        let op = "barlowTwins"
        let (n, d) = try Shapes.matrix(z1, op: op, name: "z1")
        _ = try Shapes.matrix(z2, op: op, name: "z2")
        try Shapes.same(z1, z2, op: op, names: ("z1", "z2"))
        guard n >= 2 else {
            throw SSLError.invalidArgument(
                op: op, detail: "batch norm needs a batch of at least 2 samples, got batch size N = \(n)")
        }
        guard lambda >= 0, lambda.isFinite else {
            throw SSLError.invalidArgument(op: op, detail: "lambda must be a non-negative finite number, got \(lambda)")
        }
        try Shapes.validEps(eps, op: op)
        return (n, d)
    }

    /// What ``backward(_:dLoss:)`` rereads from ``forward(z1:z2:n:d:lambda:eps:)``.
    public struct Cache {
        /// The batch N, the features D and λ of the forward call.
        public let n: Int, d: Int, lambda: Double
        /// BN(z1), BN(z2): `(N, D)`.
        public let y1: [Double], y2: [Double]
        /// 1/sqrt(var + eps) of z1's and z2's columns: `(D)`.
        public let rstd1: [Double], rstd2: [Double]
        /// `(D, D)`.
        public let c: [Double]
    }

    /// - Parameters: z1, z2: `(N, D)` row-major.
    /// - Returns: the loss and the cache (which holds `C`).
    public static func forward(z1: [Double], z2: [Double], n: Int, d: Int, lambda: Double,
                               eps: Double) -> (loss: Double, cache: Cache) {
        let (y1, rstd1) = batchNorm(z1, n: n, d: d, eps: eps)
        let (y2, rstd2) = batchNorm(z2, n: n, d: d, eps: eps)
        var c = [Double](repeating: 0, count: d * d)
        for r in 0..<n {
            for i in 0..<d {
                let a = y1[r * d + i]
                for j in 0..<d { c[i * d + j] += a * y2[r * d + j] }
            }
        }
        var onDiagonal = 0.0, offDiagonal = 0.0
        for i in 0..<d {
            for j in 0..<d {
                c[i * d + j] /= Double(n)
                let v = c[i * d + j]
                if i == j { onDiagonal += (1 - v) * (1 - v) } else { offDiagonal += v * v }
            }
        }
        let cache = Cache(n: n, d: d, lambda: lambda, y1: y1, y2: y2, rstd1: rstd1, rstd2: rstd2, c: c)
        return (onDiagonal + lambda * offDiagonal, cache)
    }

    /// dL/dC for `L = Σ_i (1 − C_ii)² + λ Σ_{i≠j} C_ij²`, `(D, D)`.
    public static func lossBackward(c: [Double], d: Int, lambda: Double) -> [Double] {
        var dC = c
        for i in 0..<d {
            for j in 0..<d { dC[i * d + j] = i == j ? 2 * (c[i * d + j] - 1) : 2 * lambda * c[i * d + j] }
        }
        return dC
    }

    /// Through `C = Y1ᵀ Y2 / N`: `dY1 = Y2 dCᵀ / N`, `dY2 = Y1 dC / N`, each `(N, D)`.
    public static func correlationBackward(_ cache: Cache, dC: [Double]) -> (dY1: [Double], dY2: [Double]) {
        let n = cache.n, d = cache.d
        var dY1 = [Double](repeating: 0, count: n * d), dY2 = dY1
        for r in 0..<n {
            for i in 0..<d {
                var g1 = 0.0, g2 = 0.0
                for j in 0..<d {
                    g1 += cache.y2[r * d + j] * dC[i * d + j]  // (Y2 dCᵀ)_ri
                    g2 += cache.y1[r * d + j] * dC[j * d + i]  // (Y1 dC)_ri
                }
                dY1[r * d + i] = g1 / Double(n)
                dY2[r * d + i] = g2 / Double(n)
            }
        }
        return (dY1, dY2)
    }

    /// The gradients of `dLoss · L` with respect to z1 and z2, each `(N, D)`.
    public static func backward(_ cache: Cache, dLoss: Double = 1) -> (dZ1: [Double], dZ2: [Double]) {
        let dC = lossBackward(c: cache.c, d: cache.d, lambda: cache.lambda).map { $0 * dLoss }
        let (dY1, dY2) = correlationBackward(cache, dC: dC)
        return (batchNormBackward(y: cache.y1, rstd: cache.rstd1, dY: dY1, n: cache.n, d: cache.d),
                batchNormBackward(y: cache.y2, rstd: cache.rstd2, dY: dY2, n: cache.n, d: cache.d))
    }

    // MARK: - The Gram form: the same loss and gradients without C

    /// What ``gramBackward(_:dLoss:)`` rereads from ``gramForward(z1:z2:n:d:lambda:eps:)``.
    public struct GramCache {
        /// The batch N, the features D and λ of the forward call.
        public let n: Int, d: Int, lambda: Double
        /// BN(z1), BN(z2): `(N, D)`.
        public let y1: [Double], y2: [Double]
        /// 1/sqrt(var + eps) of z1's and z2's columns: `(D)`.
        public let rstd1: [Double], rstd2: [Double]
        /// G1 = Y1 Y1ᵀ, G2 = Y2 Y2ᵀ: `(N, N)`.
        public let g1: [Double], g2: [Double]
        /// C's diagonal, c_i = ⟨Y1[:, i], Y2[:, i]⟩ / N: `(D)`.
        public let diagonal: [Double]
    }

    /// The loss through the N×N Gram matrices G_k = Y_k Y_kᵀ, never forming C (D×D):
    ///
    ///     Σ_{i≠j} C_ij² = ‖Y1ᵀY2‖²_F / N² − Σ_i c_i² = ⟨G1, G2⟩_F / N² − Σ_i c_i²
    ///     L = Σ_i [(1 − c_i)² − λ c_i²] + λ ⟨G1, G2⟩_F / N²
    ///
    /// with c_i = C_ii an O(N·D) column dot product. Equal to ``forward(z1:z2:n:d:lambda:eps:)``'s
    /// loss in exact arithmetic; O(N²·D) work instead of O(N·D²).
    public static func gramForward(z1: [Double], z2: [Double], n: Int, d: Int, lambda: Double,
                                   eps: Double) -> (loss: Double, cache: GramCache) {
        let (y1, rstd1) = batchNorm(z1, n: n, d: d, eps: eps)
        let (y2, rstd2) = batchNorm(z2, n: n, d: d, eps: eps)
        let g1 = gram(y1, n: n, d: d), g2 = gram(y2, n: n, d: d)
        var diagonal = [Double](repeating: 0, count: d)
        for r in 0..<n { for i in 0..<d { diagonal[i] += y1[r * d + i] * y2[r * d + i] / Double(n) } }
        let diagonalTerms = diagonal.reduce(0) { $0 + (1 - $1) * (1 - $1) - lambda * $1 * $1 }
        let squaredNorm = zip(g1, g2).reduce(0) { $0 + $1.0 * $1.1 } / Double(n * n)  // ‖C‖²_F
        let cache = GramCache(n: n, d: d, lambda: lambda, y1: y1, y2: y2, rstd1: rstd1, rstd2: rstd2,
                              g1: g1, g2: g2, diagonal: diagonal)
        return (diagonalTerms + lambda * squaredNorm, cache)
    }

    /// The backward of the Gram form. ``lossBackward(c:d:lambda:)``'s dC is 2λ C + diag(δ) with
    /// δ_i = 2 (c_i − 1) − 2λ c_i, and C = Y1ᵀY2/N, so through ``correlationBackward(_:dC:)``
    ///
    ///     dY1 = Y2 dCᵀ / N = (2λ/N²) G2 Y1 + Y2 diag(δ) / N      (Y2 Cᵀ = Y2 Y2ᵀ Y1 / N)
    ///     dY2 = Y1 dC / N  = (2λ/N²) G1 Y2 + Y1 diag(δ) / N
    ///
    /// (the gradient of ‖Y1ᵀY2‖²_F = ⟨G1, G2⟩ with respect to Y1 is 2 G2 Y1), then the same
    /// batch-norm backward.
    public static func gramBackward(_ cache: GramCache, dLoss: Double = 1) -> (dZ1: [Double], dZ2: [Double]) {
        let n = cache.n, d = cache.d
        let offDiagonalScale = dLoss * 2 * cache.lambda / Double(n * n)
        let delta = cache.diagonal.map { dLoss * (2 * ($0 - 1) - 2 * cache.lambda * $0) / Double(n) }
        var dY1 = [Double](repeating: 0, count: n * d), dY2 = dY1
        for r in 0..<n {
            for i in 0..<d {
                var g2y1 = 0.0, g1y2 = 0.0
                for m in 0..<n {
                    g2y1 += cache.g2[r * n + m] * cache.y1[m * d + i]
                    g1y2 += cache.g1[r * n + m] * cache.y2[m * d + i]
                }
                dY1[r * d + i] = offDiagonalScale * g2y1 + delta[i] * cache.y2[r * d + i]
                dY2[r * d + i] = offDiagonalScale * g1y2 + delta[i] * cache.y1[r * d + i]
            }
        }
        return (batchNormBackward(y: cache.y1, rstd: cache.rstd1, dY: dY1, n: n, d: d),
                batchNormBackward(y: cache.y2, rstd: cache.rstd2, dY: dY2, n: n, d: d))
    }

    /// X Xᵀ for X `(N, D)` row-major: `(N, N)`.
    static func gram(_ x: [Double], n: Int, d: Int) -> [Double] {
        var g = [Double](repeating: 0, count: n * n)
        for r in 0..<n { for m in 0..<n { g[r * n + m] = rowDot(x, r, x, m, d) } }
        return g
    }

    /// Batch normalisation in training mode: `y = (x − mean) · rstd`, `rstd = 1/sqrt(var + eps)`
    /// with the biased variance, per column of `x` `(N, D)`; two passes (no E[x²] − E[x]²).
    /// The affine-free case of ``LayerReference/batchNorm(_:n:c:inner:gamma:beta:running:training:momentum:eps:)``.
    public static func batchNorm(_ x: [Double], n: Int, d: Int, eps: Double) -> (y: [Double], rstd: [Double]) {
        let r = LayerReference.batchNorm(x, n: n, c: d, inner: 1, gamma: nil, beta: nil, running: nil,
                                         training: true, momentum: 0, eps: eps)
        return (r.normalized, r.rstd)
    }

    /// The batch-norm backward, training mode, biased variance: per column,
    /// `dx = rstd · (dy − mean_n(dy) − y · mean_n(dy ⊙ y))`. The two means are the gradients
    /// through the batch mean and the batch variance. The affine-free case of
    /// ``LayerReference/batchNormBackward(_:normalized:rstd:gamma:n:c:inner:training:)``.
    public static func batchNormBackward(y: [Double], rstd: [Double], dY: [Double], n: Int, d: Int) -> [Double] {
        LayerReference.batchNormBackward(dY, normalized: y, rstd: rstd, gamma: nil, n: n, c: d, inner: 1, training: true).dX
    }
}
